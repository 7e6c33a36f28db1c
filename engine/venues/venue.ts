// The order side of a venue: what the TradingExecutor needs from the paper venue, the ccxt venues (Binance, MEXC)
// and test stubs. Prices and sizes stay integer ticks and lots; each adapter converts to the venue's decimal strings
// exactly at its boundary. A business outcome (rejected, unknown order) is a value; a failed call throws
// VenueCallError, whose `kind` tells the caller whether the order may have reached the venue.
import type { Fill, OrderStatus, Side, TimeInForce, VenueOrderType } from '../messages/orders.ts';
import { EngineError } from '../types/errors.ts';
import type { ClientOrderId, VenueOrderId } from '../types/ids.ts';
import type { Instrument, VenueId } from '../types/instrument.ts';
import type { Money } from '../types/money.ts';
import type { Lots, Ticks } from '../types/price.ts';
import type { TsMs } from '../types/time.ts';

/** An order as the executor sends it; `clientOrderId` makes a resubmission idempotent. */
export interface VenueOrderRequest {
  readonly clientOrderId: ClientOrderId;
  readonly symbol: string;
  readonly side: Side;
  readonly orderType: VenueOrderType;
  readonly lots: Lots;
  /** Required for limit and stop-loss-limit orders. */
  readonly price?: Ticks;
  /** Required for stop-loss-limit orders: the trade price at (or through) which the order starts working. */
  readonly stopPrice?: Ticks;
  readonly timeInForce: TimeInForce;
}

/** The venue's answer to a submission. */
export type SubmitResult =
  | { readonly status: 'accepted'; readonly venueOrderId: VenueOrderId; readonly ts: TsMs }
  | { readonly status: 'rejected'; readonly code: string; readonly message: string };

/** The venue's answer to a cancel: done, or the venue no longer has it open (filled, cancelled or never seen). */
export type CancelResult = { readonly status: 'cancelled'; readonly ts: TsMs } | { readonly status: 'notOpen' };

/** The order a replace cancels: by its client id, and by the venue's id where known. */
export interface ReplacedOrderRef {
  readonly clientOrderId: ClientOrderId;
  readonly venueOrderId?: VenueOrderId | undefined;
}

/**
 * The venue's answer to a replace (cancel one order and place another in one request, Binance cancelReplace with
 * STOP_ON_FAILURE): both done (`placed`: the new order's submission answer); the cancel failed, so nothing was placed
 * (`notOpen`: the old order was no longer open, it filled or was closed; else it may still be open); or the cancel was
 * done and the new order refused (`code`/`message` as a submission's rejection carries them).
 */
export type ReplaceResult =
  | { readonly status: 'replaced'; readonly cancelledTs: TsMs; readonly placed: Extract<SubmitResult, { status: 'accepted' }> }
  | { readonly status: 'cancelFailed'; readonly notOpen: boolean; readonly code: string; readonly message: string }
  | { readonly status: 'newRejected'; readonly cancelledTs: TsMs; readonly code: string; readonly message: string };

/** One order as the venue reports it. */
export interface VenueOrder {
  readonly clientOrderId: ClientOrderId;
  readonly venueOrderId: VenueOrderId;
  readonly symbol: string;
  readonly side: Side;
  readonly orderType: VenueOrderType;
  readonly timeInForce: TimeInForce;
  readonly price?: Ticks;
  /** A stop-loss-limit order's trigger price. */
  readonly stopPrice?: Ticks;
  readonly lots: Lots;
  readonly filledLots: Lots;
  /** new | partiallyFilled are open; the rest are final. */
  readonly status: OrderStatus;
  readonly ts: TsMs;
}

/** One asset balance in 1e-9 fixed point. */
export interface VenueBalance {
  readonly asset: string;
  readonly free: Money;
  readonly locked: Money;
}

/**
 * One of our executions as the venue's trade history reports it. Venues that only know their own order id
 * (Binance myTrades) leave `clientOrderId` out; the executor maps `venueOrderId` back to its order.
 */
export type VenueTrade = Omit<Fill, 'clientOrderId'> & {
  readonly clientOrderId?: ClientOrderId;
  /**
   * Set by a reader that took the trade out of the trade history's order (by its order id, fetchOrderTrades): booking
   * it leaves the symbol's trade cursor where it is, which would otherwise pass earlier trades of other orders that a
   * lagging history has not shown yet (ExecStore.commit). Never stored.
   */
  readonly outOfSequence?: true;
};

/** What a venue pushes: a fill, or an order that reached a final state without (more) fills. */
export type VenueEvent =
  | { readonly kind: 'fill'; readonly fill: Fill }
  | { readonly kind: 'closed'; readonly clientOrderId: ClientOrderId; readonly venueOrderId: VenueOrderId; readonly status: 'cancelled' | 'expired'; readonly ts: TsMs };

/** The order side of a venue. */
export interface ExecutionVenue {
  readonly id: VenueId;
  /** True when fills and closes arrive through `onEvent`; false when the executor must poll (no user stream). */
  readonly pushesEvents: boolean;
  /**
   * After a submission whose outcome is unknown, how long until the venue can no longer accept it (Binance drops a
   * request older than its `recvWindow`): a query after that is final.
   */
  readonly submitSettleMs: number;
  /** The symbols (unified `BTC/USDT`) this venue trades. */
  readonly symbols: readonly string[];
  submit(req: VenueOrderRequest): Promise<SubmitResult>;
  cancel(symbol: string, clientOrderId: ClientOrderId, venueOrderId?: VenueOrderId): Promise<CancelResult>;
  /**
   * Cancels `old` and places `req` in one request (absent where the venue has no such request: MEXC, paper). Throws
   * VenueCallError as `submit` does: `rejected` when the venue refused the request before acting (the old order is
   * untouched, the new one not placed); `rateLimited`/`banned` when it was not processed; `unknown` when either half
   * may have happened (the caller must query both orders).
   */
  replace?(symbol: string, old: ReplacedOrderRef, req: VenueOrderRequest): Promise<ReplaceResult>;
  /** Returns the order with this client id, or undefined when the venue has never seen it. */
  fetchOrder(symbol: string, clientOrderId: ClientOrderId): Promise<VenueOrder | undefined>;
  fetchOpenOrders(symbol?: string): Promise<VenueOrder[]>;
  fetchBalances(): Promise<VenueBalance[]>;
  /** Returns our trades on `symbol` after `sinceTradeId` (exclusive; all retained trades when absent), oldest first. */
  fetchMyTrades(symbol: string, sinceTradeId?: string): Promise<VenueTrade[]>;
  /**
   * True when one fetchMyTrades answer holds every trade after the cursor (MEXC's adapter reads by time until it has
   * them all), so a caller asks for no next page. Absent or false: an answer may be one page of several (Binance: 1000).
   */
  readonly myTradesComplete?: boolean;
  /**
   * Returns every trade of the order with venue id `venueOrderId` on `symbol` that the venue lists, oldest first,
   * selected by that id (Binance's and MEXC's myTrades take `orderId`). Reconciliation reads it for an order the venue
   * reports with more filled than the trade history showed. Absent where a venue cannot select trades by order.
   */
  fetchOrderTrades?(symbol: string, venueOrderId: VenueOrderId): Promise<VenueTrade[]>;
  /** Registers a listener for pushed events; returns a function that removes it. */
  onEvent(fn: (e: VenueEvent) => void): () => void;
  /**
   * True when the venue takes stop-loss-limit orders (Binance STOP_LOSS_LIMIT) that rest at it untriggered; false
   * where it has none (MEXC spot) or does not model them (paper); absent where it does not say (a wrapper).
   */
  readonly supportsStopOrders?: boolean;
  /** The increments this venue trades `symbol` with, where it has its own (a live venue's, read from it at start). */
  instrument?(symbol: string): Instrument | undefined;
}

/**
 * How a failed venue call should be treated:
 * - `rejected`: the venue refused it for good (no retry); for a submit the order does not exist there.
 * - `rateLimited`: refused before processing (HTTP 429); send nothing until `retryAfterMs` has passed.
 * - `banned`: HTTP 418, the IP is banned; send nothing until `retryAfterMs` has passed, and say so.
 * - `unknown`: timeout, network failure, 5xx or an unreadable answer: the call may or may not have taken effect.
 */
export type VenueErrorKind = 'rejected' | 'rateLimited' | 'banned' | 'unknown';

/** A failed venue call, classified; `code` is stable and greppable (INSUFFICIENT_FUNDS, REQUEST_TIMEOUT, …). */
export class VenueCallError extends EngineError {
  readonly code: string;
  constructor(
    readonly kind: VenueErrorKind,
    code: string,
    message: string,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
  }
}

/** Returns `err` as a VenueCallError; anything unclassified counts as an unknown outcome. */
export function asVenueCallError(err: unknown): VenueCallError {
  if (err instanceof VenueCallError) return err;
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new VenueCallError('unknown', 'VENUE_ERROR', msg, undefined, { cause: err });
}
