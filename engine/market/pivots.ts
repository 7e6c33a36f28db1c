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

/** The pivots of every level as bar indices, oldest first: `highs[k]` and `lows[k]` are level k + 1's. */
export interface PivotIndices {
  readonly highs: readonly (readonly number[])[];
  readonly lows: readonly (readonly number[])[];
}

/**
 * Returns `levels` levels of swing pivots as bar indices, from bars 0..n−1 given as high and low columns.
 * Level 1: bar i is a swing high when its high is strictly above the `strength` bars before it and at or above
 * the `strength` bars after it (so in a run of equal highs only the first counts); lows mirror this. The last
 * `strength` bars cannot be pivots yet: they lack confirmation.
 * Level n > 1: a level-(n−1) high is a level-n high when it is strictly above the previous level-(n−1) high and
 * at or above the next one; lows mirror this. The first and last pivot of a level never rise further.
 * Columns, not candles: the input assembler keeps them per bar, and candles of several shapes made every
 * comparison a megamorphic property read (~100 µs for 300 bars in the engine, ~5 µs on one shape).
 */
export function pivotIndices(high: ArrayLike<number>, low: ArrayLike<number>, n: number, levels = 5, strength = 2): PivotIndices {
  if (!Number.isInteger(strength) || strength < 1) throw new RangeError(`pivot strength ${strength} must be a positive integer`);
  let h: number[] = [];
  let l: number[] = [];
  for (let i = strength; i < n - strength; i++) {
    const hi = high[i]!;
    const lo = low[i]!;
    let isHigh = true;
    let isLow = true;
    for (let j = i - strength; j <= i + strength && (isHigh || isLow); j++) {
      if (j === i) continue;
      if (j < i ? high[j]! >= hi : high[j]! > hi) isHigh = false;
      if (j < i ? low[j]! <= lo : low[j]! < lo) isLow = false;
    }
    if (isHigh) h.push(i);
    if (isLow) l.push(i);
  }
  const highs: number[][] = [];
  const lows: number[][] = [];
  for (let level = 1; level <= levels; level++) {
    if (level > 1) {
      h = promote(h, high, true);
      l = promote(l, low, false);
    }
    highs.push(h);
    lows.push(l);
  }
  return { highs, lows };
}

function promote(prev: readonly number[], price: ArrayLike<number>, isHigh: boolean): number[] {
  const out: number[] = [];
  for (let k = 1; k < prev.length - 1; k++) {
    const p = price[prev[k]!]!;
    const a = price[prev[k - 1]!]!;
    const b = price[prev[k + 1]!]!;
    if (isHigh ? p > a && p >= b : p < a && p <= b) out.push(prev[k]!);
  }
  return out;
}

/** Returns `levels` levels of swing pivots (the rules: `pivotIndices`). */
export function williamsPivots(candles: ArrayLike<Candle>, opts: PivotOptions = {}): PivotLevel[] {
  const n = candles.length;
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    high[i] = candles[i]!.high;
    low[i] = candles[i]!.low;
  }
  const idx = pivotIndices(high, low, n, opts.levels ?? 5, opts.strength ?? 2);
  const pivot = (kind: PivotKind, level: number, i: number): Pivot =>
    ({ kind, level, index: i, time: candles[i]!.openTime, price: kind === 'high' ? high[i]! : low[i]! });
  return idx.highs.map((hs, k) => {
    const highs = hs.map((i) => pivot('high', k + 1, i));
    const lows = idx.lows[k]!.map((i) => pivot('low', k + 1, i));
    return { level: k + 1, highs, lows, trend: trendOf(highs, lows) };
  });
}

/** Returns up for higher highs and higher lows, down for lower highs and lower lows, else sideways. */
export function trendOf(highs: readonly Pivot[], lows: readonly Pivot[]): Trend {
  if (highs.length < 2 || lows.length < 2) return 'unknown';
  return trendFrom(highs[highs.length - 1]!.price - highs[highs.length - 2]!.price, lows[lows.length - 1]!.price - lows[lows.length - 2]!.price);
}

/** `trendOf` from pivot indices into the high and low columns. */
export function trendOfIndices(highs: readonly number[], lows: readonly number[], high: ArrayLike<number>, low: ArrayLike<number>): Trend {
  if (highs.length < 2 || lows.length < 2) return 'unknown';
  return trendFrom(high[highs[highs.length - 1]!]! - high[highs[highs.length - 2]!]!, low[lows[lows.length - 1]!]! - low[lows[lows.length - 2]!]!);
}

function trendFrom(hh: number, hl: number): Trend {
  if (hh > 0 && hl > 0) return 'up';
  if (hh < 0 && hl < 0) return 'down';
  return 'sideways';
}
