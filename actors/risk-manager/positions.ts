// Spot positions, cash and PnL, exact in bigint. Holdings of the base asset are kept in 1e-9 units (`base9`)
// besides the traded lots, because a fee charged in the base asset leaves less than whole lots to sell.
import { divRound, FIXED_ONE, FIXED_SCALE } from '../../engine/types/decimal.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import { notional, type Instrument } from '../../engine/types/instrument.ts';
import type { Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { Fill, Side } from '../../engine/messages/orders.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { costAfterFill, costOfLots } from '../../engine/market/average-cost.ts';

/** One symbol's spot position. Realised PnL is gross; fees are kept apart (net = realised - fees). */
export interface Position {
  /** Open lots: bought less sold, and after a sell at most the whole lots `base9` holds; never negative. */
  readonly lots: Lots;
  /** Base asset held, in 1e-9 base units (traded lots less fees paid in the base asset). */
  readonly base9: bigint;
  /** Cost of the open lots in quote Money; average entry = cost / lots. */
  readonly cost: Money;
  readonly realised: Money;
  /** Fees paid, valued in quote Money (a base-asset fee at the fill price). */
  readonly fees: Money;
  /**
   * A stop-loss / take-profit exit went out for this position; re-armed when the position grows or goes flat (a sell
   * leaving less than one whole lot held counts as flat), or when that exit ends without closing it (logic.ts).
   */
  readonly exitFired: boolean;
}

/** Cash in the quote currency plus every position; plain data so it snapshots as it is. */
export interface Portfolio {
  readonly quote: string;
  readonly cash: Money;
  readonly positions: Readonly<Record<string, Position>>;
  /** Fees in assets that are neither base nor quote (e.g. BNB), raw 1e-9 units per asset; not in equity. */
  readonly otherFees: Readonly<Record<string, bigint>>;
  /** Sell fills larger than the position (state out of sync with the venue): lots counted, not applied as shorts. */
  readonly oversoldLots: number;
}

/** An empty position. */
export const FLAT: Position = { lots: 0 as Lots, base9: 0n, cost: 0n as Money, realised: 0n as Money, fees: 0n as Money, exitFired: false };

/** Returns a portfolio holding only `cash` of `quote`. */
export function emptyPortfolio(quote: string, cash: Money): Portfolio {
  return { quote, cash, positions: {}, otherFees: {}, oversoldLots: 0 };
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** Returns one lot of `inst` in 1e-9 base units; throws when the lot size has more than 9 decimals. */
export function lot9(inst: Instrument): bigint {
  if (inst.lotSize.scale > FIXED_SCALE) throw new ConfigError(`lot size of ${inst.symbol} has more than ${FIXED_SCALE} decimals`);
  return inst.lotSize.mantissa * pow10(FIXED_SCALE - inst.lotSize.scale);
}

/** Returns the quote value of `base9` base units at `price`, rounded half away from zero at 1e-9. */
export function valueOfBase9(inst: Instrument, base9: bigint, price: Ticks): Money {
  // base9 * 1e-9 * price * tick, expressed in 1e-9 quote units
  return divRound(base9 * BigInt(price) * inst.tickSize.mantissa, pow10(inst.tickSize.scale)) as Money;
}

/** Returns how many whole lots of the position can be sold (bounded by both traded lots and base holdings). */
export function sellableLots(inst: Instrument, p: Position): Lots {
  const byHolding = Number(p.base9 / lot9(inst));
  return Math.max(0, Math.min(p.lots, byHolding)) as Lots;
}

/** Returns the portfolio after one fill (full or partial), exact in bigint. */
export function applyFill(pf: Portfolio, inst: Instrument, fill: Fill): Portfolio {
  const prev = pf.positions[fill.symbol] ?? FLAT;
  const gross = notional(inst, fill.price, fill.lots);
  const lotUnits = lot9(inst);
  let { lots, base9, cost, realised } = prev;
  let exitFired = prev.exitFired;
  let cash = pf.cash;
  let oversold = pf.oversoldLots;
  const step = costAfterFill({ lots, cost }, fill.side, fill.lots, gross);
  if (fill.side === 'buy') {
    lots = step.lots as Lots;
    base9 += BigInt(fill.lots) * lotUnits;
    cost = step.cost;
    cash = (cash - gross) as Money;
    exitFired = false; // a larger position has a new average entry: arm its exits again
  } else {
    const { closed, released } = step;
    if (fill.lots > lots) oversold += fill.lots - lots;
    const closedProceeds = closed === fill.lots ? gross : notional(inst, fill.price, closed as Lots);
    realised = (realised + closedProceeds - released) as Money;
    cost = step.cost;
    lots = step.lots as Lots;
    base9 -= BigInt(fill.lots) * lotUnits;
    if (base9 < 0n) base9 = 0n;
    cash = (cash + gross) as Money;
    if (lots === 0) exitFired = false;
  }
  let fees = prev.fees;
  let otherFees = pf.otherFees;
  if (fill.feeAsset === pf.quote) {
    cash = (cash - fill.fee) as Money;
    fees = (fees + fill.fee) as Money;
  } else if (fill.feeAsset === inst.base) {
    base9 -= fill.fee;
    fees = (fees + valueOfBase9(inst, fill.fee, fill.price)) as Money;
  } else if (fill.fee !== 0n) {
    otherFees = { ...otherFees, [fill.feeAsset]: (otherFees[fill.feeAsset] ?? 0n) + fill.fee };
  }
  if (fill.side === 'sell') {
    // Base-asset fees on buys leave `lots` above the whole lots held, and only those can be sold: without this the
    // rest would stay open forever, growing by the fee every round trip, and count in position limits, sizing caps and
    // the stop/take-profit reference. The lots not held leave with their share of the cost, unrealised: that base went
    // to fees, which `fees` already counts. Buys keep the lots they bought; sellableLots bounds what can be sold.
    const held = base9 > 0n ? Number(base9 / lotUnits) : 0;
    if (lots > held) {
      cost = costOfLots({ lots, cost }, held);
      lots = held as Lots;
      if (lots === 0) exitFired = false;
    }
  }
  const next: Position = { lots, base9, cost, realised, fees, exitFired };
  return { ...pf, cash, otherFees, oversoldLots: oversold, positions: { ...pf.positions, [fill.symbol]: next } };
}

/** Returns the unrealised PnL of a position at `mark` (value of the open lots less their cost). */
export function unrealised(inst: Instrument, p: Position, mark: Ticks): Money {
  return (notional(inst, mark, p.lots) - p.cost) as Money;
}

/** Returns the value of a position's holdings at the mark, or its cost when no mark is known yet. */
export function holdingValue(inst: Instrument, p: Position, mark: Ticks | undefined): Money {
  return mark === undefined ? p.cost : valueOfBase9(inst, p.base9, mark);
}

/** Returns cash plus every holding at its last mark (cost when unmarked). */
export function equity(pf: Portfolio, instruments: Readonly<Record<string, Instrument>>, marks: Readonly<Record<string, Ticks>>): Money {
  let e: bigint = pf.cash;
  for (const sym in pf.positions) {
    const p = pf.positions[sym];
    const inst = instruments[sym];
    if (p.base9 === 0n || !inst) continue;
    e += holdingValue(inst, p, marks[sym]);
  }
  return e as Money;
}

/** Returns the sum over symbols of holding values at the last marks: gross exposure (spot is long only). */
export function exposure(pf: Portfolio, instruments: Readonly<Record<string, Instrument>>, marks: Readonly<Record<string, Ticks>>): Money {
  return (equity(pf, instruments, marks) - pf.cash) as Money;
}

/** Returns the average entry price of a position in quote Money per one base unit (display; exact to 1e-9). */
export function averageEntry(inst: Instrument, p: Position): Money {
  if (p.lots === 0) return 0n as Money;
  return divRound(p.cost * FIXED_ONE, BigInt(p.lots) * lot9(inst)) as Money;
}

/**
 * An order the RiskManager approved (a strategy's or its own exit) that has not ended: what is left of it counts as
 * if filled. Buys count toward position lots, position value, exposure and cash (with the fee reserve); sells take
 * their lots from what else may be sold.
 */
export interface OpenOrder {
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
  /** One of risk's own exits: never cancelled to free lots for another exit (logic.ts freeHeldLots). */
  readonly exit?: true;
  /** Risk asked the executor to cancel it to free its lots for an exit (logic.ts freeHeldLots). */
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
  /** The executor's last exec.cancelRejected for it (logic.ts onCancelRejected), named by the next held-lots alert. */
  readonly refused?: { readonly reason: string; readonly at: TsMs };
  /** CANCEL_FAILED answers so far: the next ask comes flattenBackoffMs(failures) after the last, not at a longer backoff. */
  readonly failures?: number;
  /** CANCEL_NOT_OPEN_BUT_OPEN answers so far: a second one gives up. */
  readonly notOpen?: number;
  /** Why the engine can never cancel it (the rejection): asked no more; its lots wait for a cancel at the venue by hand. */
  readonly gaveUp?: string;
}

/** Open orders by client order id. */
export type OpenOrders = Readonly<Record<string, OpenOrder>>;

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
  for (const cid in orders) {
    const o = orders[cid];
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

/**
 * Returns `orders` after `lots` of order `cid` filled (`complete`: the fill that ends it) or, with `lots` undefined,
 * after it ended without one. Orders not open are left as they are.
 */
export function settleOpenOrder(orders: OpenOrders, cid: string, lots: Lots | undefined, complete: boolean): OpenOrders {
  const o = orders[cid];
  if (o === undefined) return orders;
  const left = lots === undefined ? 0 : o.lots - lots;
  return withOrder(orders, cid, complete || left <= 0 ? undefined : { ...o, lots: left as Lots, seen: true });
}

/** Returns a copy of `orders` to change in place (a dictionary, as withOrder's). */
export function copyOpenOrders(orders: OpenOrders): Record<string, OpenOrder> {
  const out = Object.create(null) as Record<string, OpenOrder>;
  for (const k in orders) out[k] = orders[k]!;
  return out;
}

/**
 * Returns a copy of `orders` with order `cid` set to `o`, or removed when `o` is undefined. The copy has no prototype,
 * so V8 keeps it a dictionary: its keys are client order ids, new with every order, and a literal's spread built a
 * new hidden class for each (~10 µs of an approval's tick in bench/loop.ts, the shape tree growing for ever).
 */
export function withOrder(orders: OpenOrders, cid: string, o: OpenOrder | undefined): OpenOrders {
  if (o === undefined && !(cid in orders)) return copyOpenOrders(orders);
  const out = Object.create(null) as Record<string, OpenOrder>;
  // In place: the orders keep their approval order (cancels are asked in it).
  for (const k in orders) {
    if (k !== cid) out[k] = orders[k]!;
    else if (o !== undefined) out[k] = o;
  }
  if (o !== undefined && !(cid in orders)) out[cid] = o;
  return out;
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
 * Returns the open orders a start takes over, by client order id: as seen, since the executor already works each one
 * and reports its fills and end. Open orders are not stored, so without them an order resting at the venue across a
 * restart would count only as it fills. A market order (no price: its answer was outstanding) gets price 0: it is
 * valued at the mark (openPrice), as an exit sent with no mark is. Orders of symbols that are not among `instruments` decide nothing
 * (openTotals skips them) and are left out, and so are those with nothing left.
 */
export function startOpenOrders(orders: Readonly<Record<string, StartOpenOrder>>, instruments: Readonly<Record<string, Instrument>>): OpenOrders {
  const out = Object.create(null) as Record<string, OpenOrder>;
  for (const [cid, o] of Object.entries(orders)) {
    if (!Number.isSafeInteger(o.lots)) throw new ConfigError(`open order ${cid} at start has lots ${o.lots}; lots are integers`);
    if (instruments[o.symbol] === undefined || o.lots <= 0) continue;
    out[cid] = { symbol: o.symbol, side: o.side, lots: o.lots, price: o.price ?? (0 as Ticks), since: 0 as TsMs, seen: true };
  }
  return out;
}

/** Returns `orders` without those that stopped counting at `nowMs` (openOrderLive). */
export function pruneOpenOrders(orders: OpenOrders, nowMs: TsMs): OpenOrders {
  let out: Record<string, OpenOrder> | undefined;
  for (const cid in orders) {
    if (openOrderLive(orders[cid], nowMs)) continue;
    out ??= copyOpenOrders(orders);
    delete out[cid];
  }
  return out ?? orders;
}
