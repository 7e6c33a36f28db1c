// Spot positions, cash and PnL, exact in bigint. Holdings of the base asset are kept in 1e-9 units (`base9`)
// besides the traded lots, because a fee charged in the base asset leaves less than whole lots to sell.
import { divRound, FIXED_ONE, FIXED_SCALE } from '../../engine/types/decimal.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import { notional, type Instrument } from '../../engine/types/instrument.ts';
import type { Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { Fill } from '../../engine/messages/orders.ts';
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
