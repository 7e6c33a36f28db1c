// Untriggered stop-loss-limit orders of the simulator (Binance STOP_LOSS_LIMIT). One rests outside the matching
// engine with its funds locked (a sell locks its base asset, as Binance does, so a later sell of the same quantity is
// refused for insufficient balance until it is cancelled) and is listed as NEW with isWorking false. A recorded print
// at or through its stop price (a sell: at or below; a buy: at or above; Binance triggers on the last trade price)
// triggers it: it enters the matching engine under the same order id as a limit order at its price, keeping its lock,
// and from then on rests, fills and is listed like any other order.
import type { SimOrder } from '../../market/matching.ts';
import type { Side, TimeInForce } from '../../messages/orders.ts';
import type { Money } from '../../types/money.ts';
import type { Lots, Ticks } from '../../types/price.ts';
import type { TsMs } from '../../types/time.ts';
import type { SimAccount } from './accounts.ts';

/** A stop-loss-limit order not triggered yet (or cancelled before it was). */
export interface PendingStop {
  readonly id: number;
  readonly account: SimAccount;
  /** The venue symbol (ETHUSDT). */
  readonly symbol: string;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly lots: Lots;
  readonly price: Ticks;
  readonly stopPrice: Ticks;
  readonly timeInForce: TimeInForce;
  readonly submittedAt: TsMs;
  status: 'pending' | 'cancelled';
  updatedAt: TsMs;
}

/** Returns true when a print at `price` triggers `s`. */
export function stopTriggered(s: Pick<PendingStop, 'side' | 'stopPrice'>, price: Ticks): boolean {
  return s.side === 'sell' ? price <= s.stopPrice : price >= s.stopPrice;
}

/** Returns the order view of an untriggered stop: status pending (Binance NEW, not working) or cancelled. */
export function pendingStopView(s: PendingStop): SimOrder {
  return {
    id: s.id, owner: s.account.id, clientOrderId: s.clientOrderId, side: s.side, type: 'limit', timeInForce: s.timeInForce, price: s.price,
    lots: s.lots, filledLots: 0 as Lots, cumQuote: 0n as Money, status: s.status, submittedAt: s.submittedAt, activeAt: s.submittedAt,
    updatedAt: s.updatedAt, queueAhead: 0 as Lots,
  };
}
