// The cost basis of a long spot position, by average cost: a buy adds its gross notional; a sell releases the share
// of the cost that the lots it closes carried (all of it when it closes the position), and lots sold beyond the
// position close nothing. The RiskManager's portfolio (the reference of stop-loss and take-profit) and the executor's
// stored position keep it by this one function, so a live start can take the stored figure as the RiskManager's cost
// instead of re-reading every fill, and both agree to the 1e-9 unit while no fee is paid in the base asset. Such fees
// leave fewer lots held than traded: after a sell the RiskManager keeps only the whole lots held, with their share of
// the cost (costOfLots), and a live start makes the same cut to the stored figure (app/system.ts storedRiskPosition).
import { divRound } from '../types/decimal.ts';
import type { Money } from '../types/money.ts';

/** Open lots and their cost in quote Money. */
export interface OpenCost {
  readonly lots: number;
  readonly cost: Money;
}

/** What a fill did to an OpenCost: the new one, the lots it closed and the cost it released. */
export interface CostStep extends OpenCost {
  readonly closed: number;
  readonly released: Money;
}

/** Returns `prev` after a fill of `lots` on `side` whose gross notional is `gross`. */
export function costAfterFill(prev: OpenCost, side: 'buy' | 'sell', lots: number, gross: Money): CostStep {
  if (side === 'buy') return { lots: prev.lots + lots, cost: (prev.cost + gross) as Money, closed: 0, released: 0n as Money };
  const closed = Math.min(lots, prev.lots);
  const released = (closed === prev.lots ? prev.cost : divRound(prev.cost * BigInt(closed), BigInt(prev.lots))) as Money;
  return { lots: prev.lots - closed, cost: (prev.cost - released) as Money, closed, released };
}

/**
 * Returns the cost of `lots` of `open`'s lots, a share by count (all of it when they are all its lots). Cutting a
 * position to the whole lots its base holds (a buy's base-asset fee leaves fewer) keeps this share.
 */
export function costOfLots(open: OpenCost, lots: number): Money {
  return (lots === open.lots || open.lots <= 0 ? open.cost : divRound(open.cost * BigInt(lots), BigInt(open.lots))) as Money;
}
