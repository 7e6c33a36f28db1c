// Williams market structure: swing pivots found recursively, level 1 from bars, level n from level n−1 pivots.
import type { Candle } from '../messages/market.ts';
import type { TsMs } from '../types/time.ts';

/** Whether a pivot is a swing high or a swing low. */
export type PivotKind = 'high' | 'low';

/** One swing point; `index` is the bar index in the input candles. */
export interface Pivot {
  readonly kind: PivotKind;
  readonly level: number;
  readonly index: number;
  readonly time: TsMs;
  readonly price: number;
}

/** Trend of one level from its last two highs and last two lows. */
export type Trend = 'up' | 'down' | 'sideways' | 'unknown';

/** The pivots of one level, oldest first, and its trend. */
export interface PivotLevel {
  readonly level: number;
  readonly highs: readonly Pivot[];
  readonly lows: readonly Pivot[];
  readonly trend: Trend;
}

/** Options of `williamsPivots`. */
export interface PivotOptions {
  /** Number of levels (default 5). */
  readonly levels?: number;
  /** Bars on each side a level-1 pivot must dominate (default 2). */
  readonly strength?: number;
}

/**
 * Returns `levels` levels of swing pivots.
 * Level 1: bar i is a swing high when its high is strictly above the `strength` bars before it and at or above
 * the `strength` bars after it (so in a run of equal highs only the first counts); lows mirror this. The last
 * `strength` bars cannot be pivots yet: they lack confirmation.
 * Level n > 1: a level-(n−1) high is a level-n high when it is strictly above the previous level-(n−1) high and
 * at or above the next one; lows mirror this. The first and last pivot of a level never rise further.
 */
export function williamsPivots(candles: ArrayLike<Candle>, opts: PivotOptions = {}): PivotLevel[] {
  const levels = opts.levels ?? 5;
  const n = opts.strength ?? 2;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`pivot strength ${n} must be a positive integer`);
  const highs: Pivot[] = [];
  const lows: Pivot[] = [];
  for (let i = n; i < candles.length - n; i++) {
    const c = candles[i]!;
    let isHigh = true;
    let isLow = true;
    for (let j = i - n; j <= i + n && (isHigh || isLow); j++) {
      if (j === i) continue;
      const o = candles[j]!;
      if (j < i ? o.high >= c.high : o.high > c.high) isHigh = false;
      if (j < i ? o.low <= c.low : o.low < c.low) isLow = false;
    }
    if (isHigh) highs.push({ kind: 'high', level: 1, index: i, time: c.openTime, price: c.high });
    if (isLow) lows.push({ kind: 'low', level: 1, index: i, time: c.openTime, price: c.low });
  }
  const out: PivotLevel[] = [];
  let h = highs;
  let l = lows;
  for (let level = 1; level <= levels; level++) {
    if (level > 1) {
      h = promote(h, level, 'high');
      l = promote(l, level, 'low');
    }
    out.push({ level, highs: h, lows: l, trend: trendOf(h, l) });
  }
  return out;
}

function promote(prev: readonly Pivot[], level: number, kind: PivotKind): Pivot[] {
  const out: Pivot[] = [];
  for (let k = 1; k < prev.length - 1; k++) {
    const p = prev[k]!.price;
    const a = prev[k - 1]!.price;
    const b = prev[k + 1]!.price;
    if (kind === 'high' ? p > a && p >= b : p < a && p <= b) out.push({ ...prev[k]!, level });
  }
  return out;
}

/** Returns up for higher highs and higher lows, down for lower highs and lower lows, else sideways. */
export function trendOf(highs: readonly Pivot[], lows: readonly Pivot[]): Trend {
  if (highs.length < 2 || lows.length < 2) return 'unknown';
  const hh = highs[highs.length - 1]!.price - highs[highs.length - 2]!.price;
  const hl = lows[lows.length - 1]!.price - lows[lows.length - 2]!.price;
  if (hh > 0 && hl > 0) return 'up';
  if (hh < 0 && hl < 0) return 'down';
  return 'sideways';
}
