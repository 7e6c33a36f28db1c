// Position sizing in whole lots, rounded down. Money stays bigint; the only float is the volatility input, turned
// into a 1e-9 fixed-point fraction once.
import { notional, type Instrument } from '../../engine/types/instrument.ts';
import type { Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { RiskLimits } from '../../engine/messages/risk.ts';

/** What bounds a size: order and position caps, and the lots already held. */
export interface SizingCaps {
  readonly maxOrderNotional: Money;
  readonly maxPositionNotional: Money;
  readonly maxOrderLots?: Lots;
  readonly maxPositionLots?: Lots;
  readonly currentLots: Lots;
}

/** Returns the sizing caps of `symbol` under `limits` with `currentLots` already held. */
export function capsFor(limits: RiskLimits, symbol: string, currentLots: Lots): SizingCaps {
  const s = limits.symbols[symbol];
  return {
    maxOrderNotional: limits.maxOrderNotional,
    maxPositionNotional: limits.maxPositionNotional,
    maxOrderLots: s?.maxOrderLots,
    maxPositionLots: s?.maxPositionLots,
    currentLots,
  };
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** Returns `lots` (whole lots wanted) cut to every cap, or 0 when the result is below the instrument's min notional. */
export function capLots(inst: Instrument, price: Ticks, wanted: bigint, caps: SizingCaps): Lots {
  if (price <= 0 || wanted <= 0n) return 0 as Lots;
  const perLot = notional(inst, price, 1 as Lots);
  if (perLot <= 0n) return 0 as Lots;
  let n = min(wanted, caps.maxOrderNotional / perLot);
  if (caps.maxOrderLots !== undefined) n = min(n, BigInt(caps.maxOrderLots));
  if (caps.maxPositionLots !== undefined) n = min(n, BigInt(caps.maxPositionLots - caps.currentLots));
  const room = caps.maxPositionNotional - notional(inst, price, caps.currentLots);
  n = min(n, room > 0n ? room / perLot : 0n);
  if (n <= 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) return 0 as Lots;
  const lots = Number(n) as Lots;
  return notional(inst, price, lots) < inst.minNotional ? (0 as Lots) : lots;
}

/** Returns lots worth `fractionBps` of `equity` at `price`, capped and rounded down. */
export function fixedFractionLots(inst: Instrument, equity: Money, fractionBps: number, price: Ticks, caps: SizingCaps): Lots {
  if (equity <= 0n || fractionBps <= 0 || price <= 0) return 0 as Lots;
  const budget = (equity * BigInt(fractionBps)) / 10_000n;
  return capLots(inst, price, budget / notional(inst, price, 1 as Lots), caps);
}

/**
 * Returns lots such that a move of `volatility` (a fraction of price, e.g. 0.012 for 1.2% per holding horizon) loses
 * about `riskPerTrade`: notional = risk / volatility, capped and rounded down. Non-finite or non-positive volatility gives 0.
 */
export function volatilityScaledLots(inst: Instrument, riskPerTrade: Money, price: Ticks, volatility: number, caps: SizingCaps): Lots {
  if (!Number.isFinite(volatility) || riskPerTrade <= 0n || price <= 0) return 0 as Lots;
  const vol9 = BigInt(Math.round(volatility * 1e9));
  if (vol9 <= 0n) return 0 as Lots;
  const target = (riskPerTrade * 1_000_000_000n) / vol9;
  return capLots(inst, price, target / notional(inst, price, 1 as Lots), caps);
}
