// Position sizing in whole lots, rounded down. Money stays bigint; the only float is the volatility input, turned
// into a 1e-9 fixed-point fraction once. Every bound is the largest lot count whose value, as `notional` rounds it,
// passes the check checkIntent (logic.ts) makes: a per-lot value rounded to 1e-9 would be off by up to half a unit
// per lot when tick and lot decimals add up to more than 9 (MEXC micro-caps), and zero below 1e-9.
import { FIXED_SCALE } from '../../engine/types/decimal.ts';
import { notional, type Instrument } from '../../engine/types/instrument.ts';
import type { Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { RiskLimits } from '../../engine/messages/risk.ts';
import { buyNeeds } from './logic.ts';

/** What bounds a size: order and position caps, the lots already held, and (for buys) cash and exposure. */
export interface SizingCaps {
  readonly maxOrderNotional: Money;
  readonly maxPositionNotional: Money;
  readonly maxOrderLots?: Lots;
  readonly maxPositionLots?: Lots;
  readonly currentLots: Lots;
  /** Cash a buy's notional plus its fee reserve must fit in (INSUFFICIENT_BALANCE); absent: not bounded. */
  readonly cash?: Money;
  /** The fee reserve checkIntent adds to a buy's notional, in bps of it; default 0. */
  readonly feeReserveBps?: number;
  /** Value a buy may add before exposure passes maxExposure (EXPOSURE_LIMIT); absent: not bounded. */
  readonly exposureRoom?: Money;
}

/** The account a buy is sized against: quote cash, and every holding valued at its mark (positions.ts `exposure`). */
export interface SizingAccount {
  readonly cash: Money;
  readonly exposure: Money;
}

/**
 * Returns the sizing caps of `symbol` under `limits` with `currentLots` already held; with `account`, also the cash
 * and exposure room that checkIntent holds a buy to.
 */
export function capsFor(limits: RiskLimits, symbol: string, currentLots: Lots, account?: SizingAccount): SizingCaps {
  const s = limits.symbols[symbol];
  return {
    maxOrderNotional: limits.maxOrderNotional,
    maxPositionNotional: limits.maxPositionNotional,
    maxOrderLots: s?.maxOrderLots,
    maxPositionLots: s?.maxPositionLots,
    currentLots,
    feeReserveBps: limits.feeReserveBps,
    cash: account?.cash,
    exposureRoom: account ? ((limits.maxExposure - account.exposure) as Money) : undefined,
  };
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const MAX_LOTS = BigInt(Number.MAX_SAFE_INTEGER);
const BPS = 10_000n;
// `wanted` of a size that only its budget bounds; past a safe integer, so a budget worth that many lots still sizes 0.
const UNBOUNDED = MAX_LOTS + 1n;

/**
 * Returns the largest n ≥ 0 with notional(n) ≤ cap (0 for a negative cap): exact from the unrounded product, then
 * checked against `notional` itself. Beyond a safe integer the estimate is returned as it is: no order carries that.
 */
function lotsWithin(inst: Instrument, price: Ticks, cap: bigint): bigint {
  if (cap < 0n) return 0n;
  const raw = BigInt(price) * inst.tickSize.mantissa * inst.lotSize.mantissa;
  const scale = inst.tickSize.scale + inst.lotSize.scale;
  let n: bigint;
  if (scale <= FIXED_SCALE) {
    n = cap / (raw * 10n ** BigInt(FIXED_SCALE - scale));
  } else {
    // notional rounds n·raw / d half away from zero: ≤ cap exactly when 2·n·raw < 2·d·cap + d.
    const d = 10n ** BigInt(scale - FIXED_SCALE);
    n = (2n * d * cap + d - 1n) / (2n * raw);
  }
  if (n > MAX_LOTS) return n;
  while (n > 0n && notional(inst, price, Number(n) as Lots) > cap) n--;
  while (n < MAX_LOTS && notional(inst, price, Number(n + 1n) as Lots) <= cap) n++;
  return n;
}

/**
 * Returns the largest lots ≤ `wanted` whose notional is at most `budget` and that pass every cap (each order-value
 * cap folded into one bound, so one exact division serves them all), or 0 under the instrument's min notional.
 */
function sizeWithin(inst: Instrument, price: Ticks, wanted: bigint, budget: bigint, caps: SizingCaps): Lots {
  let value = min(budget, caps.maxOrderNotional);
  if (caps.exposureRoom !== undefined) value = min(value, caps.exposureRoom);
  const bps = caps.feeReserveBps ?? 0;
  // value + ceil(value·bps / 10 000) ≤ cash exactly when value ≤ cash·10 000 / (10 000 + bps)
  if (caps.cash !== undefined) value = min(value, (caps.cash * BPS) / (BPS + BigInt(bps)));
  let n = min(wanted, lotsWithin(inst, price, value));
  if (caps.maxOrderLots !== undefined) n = min(n, BigInt(caps.maxOrderLots));
  if (caps.maxPositionLots !== undefined) n = min(n, BigInt(caps.maxPositionLots - caps.currentLots));
  // checkIntent values the position after the fill as one notional, not as the held lots' value plus the order's.
  n = min(n, lotsWithin(inst, price, caps.maxPositionNotional) - BigInt(caps.currentLots));
  if (n <= 0n || n > MAX_LOTS) return 0 as Lots;
  let lots = Number(n) as Lots;
  let v = notional(inst, price, lots);
  // The cash test of checkIntent itself (buyNeeds), so the two cannot drift apart.
  if (caps.cash !== undefined) while (lots > 0 && buyNeeds(v, bps) > caps.cash) v = notional(inst, price, --lots as Lots);
  return lots <= 0 || v < inst.minNotional ? (0 as Lots) : lots;
}

/**
 * Returns the next piece of `wanted` whole lots (a close worked off over several orders) cut to every cap, or 0 when it
 * is below the instrument's min notional. A cut never leaves a rest worth less than the min notional when two pieces
 * can both clear it: no order could sell such a rest (NOTIONAL_BELOW_MIN), and the position would stay open for good.
 */
export function capLots(inst: Instrument, price: Ticks, wanted: bigint, caps: SizingCaps): Lots {
  if (price <= 0 || wanted <= 0n) return 0 as Lots;
  const lots = sizeWithin(inst, price, wanted, caps.maxOrderNotional, caps);
  return lots > 0 ? leavingNoDust(inst, price, wanted, lots) : lots;
}

/**
 * Returns `lots`, the capped piece of `wanted`, or a smaller piece when the rest after `lots` would fall below the min
 * notional: half of `wanted` (rounded up, so at most `lots`), which leaves the next piece the most room above the
 * minimum for the price to move. With less than two minimums' worth wanted no two pieces clear it: `lots` then goes
 * as it is, and what it leaves is dust (the largest part of the position that can still be sold is sold).
 */
function leavingNoDust(inst: Instrument, price: Ticks, wanted: bigint, lots: Lots): Lots {
  const rest = wanted - BigInt(lots);
  if (rest <= 0n || rest > MAX_LOTS || notional(inst, price, Number(rest) as Lots) >= inst.minNotional) return lots;
  const half = (wanted + 1n) / 2n;
  const other = wanted - half;
  // half ≤ lots: `lots` clears the minimum and the rest does not, so rest < lots and wanted < 2 · lots.
  if (half > BigInt(lots) || notional(inst, price, Number(other) as Lots) < inst.minNotional) return lots;
  return Number(half) as Lots;
}

/** Returns lots worth `fractionBps` of `equity` at `price`, capped and rounded down. */
export function fixedFractionLots(inst: Instrument, equity: Money, fractionBps: number, price: Ticks, caps: SizingCaps): Lots {
  if (equity <= 0n || fractionBps <= 0 || price <= 0) return 0 as Lots;
  const budget = (equity * BigInt(fractionBps)) / BPS;
  return sizeWithin(inst, price, UNBOUNDED, budget, caps);
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
  return sizeWithin(inst, price, UNBOUNDED, target, caps);
}
