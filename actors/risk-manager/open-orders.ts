// Orders the RiskManager approved (a strategy's or its own exit) that have not ended: what is left of each counts as if
// filled. Buys count toward position lots, position value, exposure and cash (with the fee reserve); sells take their
// lots from what else may be sold.
//
// They are kept as a short array in approval order, not a dictionary by client order id: an approval is on the tick's
// path (risk.intent -> verdict), and keying it by client id cost that path a SHA-256 of the intent id (clientOrderIdFor)
// plus a dictionary-mode copy, ~17 µs of a backtest tick's ~30 µs RiskManager step in bench/loop.ts. An approval now
// records its intent id; the client id is filled in when the executor names it (exec.orderSubmitted carries both) and
// is computed from the intent id only for an answer about an order the executor has not named yet, once per record
// (derivedCids): the ids module keeps only the last 64, and a backlog of more would hash on every answer.
import { ConfigError } from '../../engine/types/errors.ts';
import { clientOrderIdFor, type ClientOrderId } from '../../engine/types/ids.ts';
import { notional, type Instrument } from '../../engine/types/instrument.ts';
import type { Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { Side } from '../../engine/messages/orders.ts';
import type { TsMs } from '../../engine/types/time.ts';

/** An approved order that has not ended. */
export interface OpenOrder {
  /**
   * The client order id once known: an order taken over at a start, or one the executor took up; undefined for an
   * approval the executor has not named yet (openOrderCid derives it from `intentId`).
   */
  readonly cid: ClientOrderId | undefined;
  /** The approved intent's id; undefined for an order taken over at a start (its client id is known). */
  readonly intentId: string | undefined;
  readonly symbol: string;
  readonly side: Side;
  /** Lots not filled yet. */
  readonly lots: Lots;
  /**
   * The limit price, or the mark at approval for a market order; 0: at the mark (a market order taken over at a
   * start, whose answer was outstanding, or an exit sent with no mark), valued at the symbol's mark (openTotals).
   */
  readonly price: Ticks;
  readonly since: TsMs;
  /** The executor took it up (exec.orderSubmitted or a fill); until then it expires (openOrderLive). */
  readonly seen: boolean;
  /** One of risk's own exits: never cancelled to free lots for another exit (held-sells.ts freeHeldLots). */
  readonly exit?: true;
  /** Risk asked the executor to cancel it to free its lots for an exit (held-sells.ts freeHeldLots). */
  readonly cancelAsked?: CancelAsk;
}

/**
 * A cancel risk asked for an open strategy sell, until the sell ends: asked again after a backoff while it holds the
 * lots (a venue can refuse a cancel, or keep the order open after answering one), never stored.
 */
export interface CancelAsk {
  /** When it was first asked. */
  readonly since: TsMs;
  /** How many times it was asked. */
  readonly asks: number;
  /** Asked again no sooner than this. */
  readonly retryAt: TsMs;
  /** What asked it first: 'stop-loss' or 'flatten'. */
  readonly by: string;
  /** The executor's last exec.cancelRejected for it (held-sells.ts onCancelRejected), named by the next held-lots alert. */
  readonly refused?: { readonly reason: string; readonly at: TsMs };
  /** CANCEL_FAILED answers so far: the next ask comes flattenBackoffMs(failures) after the last, not at a longer backoff. */
  readonly failures?: number;
  /** CANCEL_NOT_OPEN_BUT_OPEN answers so far: a second one gives up. */
  readonly notOpen?: number;
  /** Why the engine can never cancel it (the rejection): asked no more; its lots wait for a cancel at the venue by hand. */
  readonly gaveUp?: string;
}

/** Open orders in approval order (cancels are asked in it); never stored. */
export type OpenOrders = readonly OpenOrder[];

/**
 * An approval the executor does not take up within this time stops counting. The executor answers every approval
 * with exec.orderSubmitted or exec.orderRejected once its serial queue reaches it (a 429 wait comes after the
 * submit); one that never reaches it (the executor down and restarting, an intent id it has seen before, which it
 * drops without a word) would otherwise reserve until the risk child restarts.
 */
export const OPEN_ORDER_UNSEEN_MS = 120_000;

/** True while `o` counts: taken up by the executor, or approved less than OPEN_ORDER_UNSEEN_MS ago. */
export function openOrderLive(o: OpenOrder, nowMs: TsMs): boolean {
  return o.seen || nowMs - o.since < OPEN_ORDER_UNSEEN_MS;
}

const derivedCids = new WeakMap<OpenOrder, ClientOrderId>();

/** The client order id of `o`: the one the executor named, or the one it will give the approved intent. */
export function openOrderCid(o: OpenOrder): ClientOrderId {
  if (o.cid !== undefined) return o.cid;
  let cid = derivedCids.get(o);
  if (cid === undefined) {
    // One of the two is always set: approvals carry the intent id, orders taken over at a start their client id.
    cid = clientOrderIdFor(o.intentId!);
    derivedCids.set(o, cid);
  }
  return cid;
}

// The shape of clientOrderIdFor's ids: other ids (protective stops, adopted orders) can never be an approval's.
const DERIVED_CID = /^cb[A-Za-z0-9_-]{24}$/;

/** Returns the position of order `cid` in `orders`, or -1. */
export function openOrderIndex(orders: OpenOrders, cid: ClientOrderId): number {
  for (let i = 0; i < orders.length; i++) if (orders[i].cid === cid) return i;
  if (!DERIVED_CID.test(cid)) return -1;
  // Only approvals the executor has not named yet are left to match by their derived id.
  for (let i = 0; i < orders.length; i++) {
    const o = orders[i];
    if (o.cid === undefined && openOrderCid(o) === cid) return i;
  }
  return -1;
}

/** Returns open order `cid`, or undefined when it is not open. */
export function openOrderOf(orders: OpenOrders, cid: ClientOrderId): OpenOrder | undefined {
  const i = openOrderIndex(orders, cid);
  return i < 0 ? undefined : orders[i];
}

/**
 * Returns `orders` with approval `o` (of intent `o.intentId`) added, less those that stopped counting at `nowMs`
 * (openOrderLive) and any earlier record of the same order: one copy, and no hashing unless orders taken over at a
 * start (known by client id only) are still open.
 */
export function withApproval(orders: OpenOrders, o: OpenOrder, nowMs: TsMs): OpenOrders {
  const out: OpenOrder[] = [];
  let cid: ClientOrderId | undefined;
  for (let i = 0; i < orders.length; i++) {
    const x = orders[i];
    if (!openOrderLive(x, nowMs)) continue;
    if (x.intentId !== undefined ? x.intentId === o.intentId : x.cid === (cid ??= openOrderCid(o))) continue;
    out.push(x);
  }
  out.push(o);
  return out;
}

/** Returns `orders` with the order at `i` replaced by `o`, or removed when `o` is undefined. */
export function withOrderAt(orders: OpenOrders, i: number, o: OpenOrder | undefined): OpenOrders {
  const out = orders.slice();
  if (o === undefined) out.splice(i, 1);
  else out[i] = o;
  return out;
}

/**
 * Returns `orders` after `lots` of order `cid` filled (`complete`: the fill that ends it) or, with `lots` undefined,
 * after it ended without one. Orders not open are left as they are.
 */
export function settleOpenOrder(orders: OpenOrders, cid: ClientOrderId, lots: Lots | undefined, complete: boolean): OpenOrders {
  const i = openOrderIndex(orders, cid);
  if (i < 0) return orders;
  const o = orders[i];
  const left = lots === undefined ? 0 : o.lots - lots;
  return withOrderAt(orders, i, complete || left <= 0 ? undefined : { ...o, cid, lots: left as Lots, seen: true });
}

/** Returns the position of the order an exec.orderSubmitted of `cid` (intent `intentId`) names in `orders`, or -1. */
export function submittedIndex(orders: OpenOrders, cid: ClientOrderId, intentId: string | undefined): number {
  // The message names the intent: no client id to derive for the approval it answers.
  const i = intentId === undefined ? -1 : orders.findIndex((o) => o.intentId === intentId);
  return i >= 0 ? i : openOrderIndex(orders, cid);
}

/** Returns `orders` with order `cid` marked taken up by the executor (exec.orderSubmitted of intent `intentId`). */
export function seenOpenOrder(orders: OpenOrders, cid: ClientOrderId, intentId: string | undefined): OpenOrders {
  const i = submittedIndex(orders, cid, intentId);
  if (i < 0 || orders[i].seen) return orders;
  return withOrderAt(orders, i, { ...orders[i], cid, seen: true });
}

/** What the live open orders of one symbol add up to. */
export interface OpenTotals {
  readonly buyLots: Lots;
  /** Buys valued at their order prices. */
  readonly buyValue: Money;
  readonly sellLots: Lots;
}

/**
 * Returns the open buys and sells of `symbol` (every symbol when undefined) that count at `nowMs`. A buy at price 0
 * (at the mark) is valued at `marks`, and at nothing only while its symbol has no mark yet.
 */
export function openTotals(
  orders: OpenOrders, instruments: Readonly<Record<string, Instrument>>, symbol: string | undefined, nowMs: TsMs, marks: Readonly<Record<string, Ticks>>,
): OpenTotals {
  let buyLots = 0;
  let buyValue = 0n;
  let sellLots = 0;
  for (let i = 0; i < orders.length; i++) {
    const o = orders[i];
    if ((symbol !== undefined && o.symbol !== symbol) || !openOrderLive(o, nowMs)) continue;
    const inst = instruments[o.symbol];
    if (inst === undefined) continue;
    if (o.side === 'sell') sellLots += o.lots;
    else {
      buyLots += o.lots;
      buyValue += notional(inst, openPrice(o, marks), o.lots);
    }
  }
  return { buyLots: buyLots as Lots, buyValue: buyValue as Money, sellLots: sellLots as Lots };
}

/** The price `o` is valued at: its own, or the mark for one at price 0 (0 while there is none). */
export function openPrice(o: OpenOrder, marks: Readonly<Record<string, Ticks>>): Ticks {
  return o.price > 0 ? o.price : (marks[o.symbol] ?? (0 as Ticks));
}

/** An order the executor still works when a RiskManager starts (RiskInput.openOrders): what is left of it. */
export interface StartOpenOrder {
  readonly symbol: string;
  readonly side: Side;
  /** Lots not filled yet. */
  readonly lots: Lots;
  /** The limit price; absent for a market order. */
  readonly price?: Ticks;
}

/**
 * Returns the open orders a start takes over from those given by client order id: as seen, since the executor
 * already works each one and reports its fills and end. Open orders are not stored, so without them an order resting
 * at the venue across a restart would count only as it fills. A market order (no price: its answer was outstanding)
 * gets price 0: it is valued at the mark (openPrice), as an exit sent with no mark is. Orders of symbols that are not
 * among `instruments` decide nothing (openTotals skips them) and are left out, and so are those with nothing left.
 */
export function startOpenOrders(orders: Readonly<Record<string, StartOpenOrder>>, instruments: Readonly<Record<string, Instrument>>): OpenOrders {
  const out: OpenOrder[] = [];
  for (const [cid, o] of Object.entries(orders)) {
    if (!Number.isSafeInteger(o.lots)) throw new ConfigError(`open order ${cid} at start has lots ${o.lots}; lots are integers`);
    if (instruments[o.symbol] === undefined || o.lots <= 0) continue;
    out.push({
      cid: cid as ClientOrderId, intentId: undefined, symbol: o.symbol, side: o.side, lots: o.lots, price: o.price ?? (0 as Ticks), since: 0 as TsMs, seen: true,
    });
  }
  return out;
}
