import type { ClientOrderId, IntentId, VenueOrderId } from '../types/ids.ts';
import type { Money } from '../types/money.ts';
import type { Lots, Ticks } from '../types/price.ts';
import type { TsMs } from '../types/time.ts';
import type { VenueId } from '../types/instrument.ts';

export type Side = 'buy' | 'sell';
export type OrderType = 'limit' | 'market';
export type TimeInForce = 'GTC' | 'IOC' | 'FOK';
/**
 * What a venue order can be: an intent's type, or a stop-loss-limit (Binance STOP_LOSS_LIMIT), which rests at the
 * venue untriggered until a trade prints at or through its `stopPrice`, then works as a limit order at its `price`.
 * Only the executor's protective stops use it (config execution.protectiveStop).
 */
export type VenueOrderType = OrderType | 'stopLossLimit';

/**
 * Starts the client order id of every protective stop the executor places (and its intent id): a restarted engine
 * knows such an order at the venue as its own, never as a stranger's.
 */
export const PROTECTIVE_STOP_PREFIX = 'pstop-';

/** Returns true when `clientOrderId` names one of the executor's protective stops. */
export const isProtectiveStopId = (clientOrderId: string): boolean => clientOrderId.startsWith(PROTECTIVE_STOP_PREFIX);

/** What a strategy wants; still in integer ticks/lots, never floats. `price` is absent for market orders. */
export interface OrderIntent {
  readonly id: IntentId;
  readonly symbol: string;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly lots: Lots;
  readonly price?: Ticks;
  /** Only on the executor's protective stops (orderType 'limit'): the trigger price of the stop-loss-limit order. */
  readonly stopPrice?: Ticks;
  readonly timeInForce: TimeInForce;
  /** true for orders that only close or shrink a position (stop-loss, take-profit, reducing state). */
  readonly reduceOnly: boolean;
  readonly reason: string;
  readonly ts: TsMs;
}

/** Order lifecycle states (Nautilus-like). */
export type OrderStatus = 'new' | 'submitted' | 'accepted' | 'partiallyFilled' | 'filled' | 'cancelled' | 'rejected' | 'expired';

const FINAL: ReadonlySet<OrderStatus> = new Set(['filled', 'cancelled', 'rejected', 'expired']);

/** Returns true when no more events can change an order in status `s` (a late fill still books, status unchanged). */
export const isFinalStatus = (s: OrderStatus): boolean => FINAL.has(s);

/** One execution. */
export interface Fill {
  readonly clientOrderId: ClientOrderId;
  readonly venueOrderId: VenueOrderId;
  readonly tradeId: string;
  readonly venue: VenueId;
  readonly symbol: string;
  readonly side: Side;
  readonly price: Ticks;
  readonly lots: Lots;
  readonly fee: Money;
  readonly feeAsset: string;
  readonly liquidity: 'maker' | 'taker';
  readonly ts: TsMs;
}

export interface SubmitOrder { readonly type: 'exec.submitOrder'; readonly intent: OrderIntent; readonly clientOrderId: ClientOrderId }
export interface CancelOrder { readonly type: 'exec.cancelOrder'; readonly clientOrderId: ClientOrderId; readonly reason: string }
export interface OrderSubmitted { readonly type: 'exec.orderSubmitted'; readonly clientOrderId: ClientOrderId; readonly intentId: IntentId; readonly ts: TsMs }
export interface OrderAccepted { readonly type: 'exec.orderAccepted'; readonly clientOrderId: ClientOrderId; readonly venueOrderId: VenueOrderId; readonly ts: TsMs }
export interface OrderPartiallyFilled { readonly type: 'exec.orderPartiallyFilled'; readonly fill: Fill; readonly leavesLots: Lots; readonly ts: TsMs }
export interface OrderFilled { readonly type: 'exec.orderFilled'; readonly fill: Fill; readonly ts: TsMs }
export interface OrderCancelled { readonly type: 'exec.orderCancelled'; readonly clientOrderId: ClientOrderId; readonly reason: string; readonly ts: TsMs }
export interface OrderRejected { readonly type: 'exec.orderRejected'; readonly clientOrderId: ClientOrderId; readonly code: string; readonly message: string; readonly ts: TsMs }
export interface OrderExpired { readonly type: 'exec.orderExpired'; readonly clientOrderId: ClientOrderId; readonly ts: TsMs }
/**
 * A cancel the executor was asked for (exec.cancelOrder, a halt round) is not known to have happened: it failed every
 * attempt (a timeout may still have cancelled it), the venue said the order was not open while it still lists it open,
 * or the venue no longer trades its symbol. The order stays open here (its end, if it comes, is published as usual);
 * `reason` starts with the cause's code (CANCEL_FAILED, CANCEL_NOT_OPEN_BUT_OPEN, UNTRADED_SYMBOL).
 */
export interface CancelRejected { readonly type: 'exec.cancelRejected'; readonly clientOrderId: ClientOrderId; readonly reason: string; readonly ts: TsMs }

/** Commands to the executor. */
export type ExecCommand = SubmitOrder | CancelOrder;
/** Events from the executor; handled before queued market data. */
export type ExecEvent = OrderSubmitted | OrderAccepted | OrderPartiallyFilled | OrderFilled | OrderCancelled | OrderRejected | OrderExpired | CancelRejected;
