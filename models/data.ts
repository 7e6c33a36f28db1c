import type { Candle } from '../engine/messages/market.ts';
import { loadKlinesCsv } from '../engine/market/klines-csv.ts';

// Columnar view of the bundled klines for labels, features and training environments. Parsing and
// validation are engine/market/klines-csv.ts's; this file only lays the candles out as typed arrays.

/** Columnar OHLCV series; index i is one bar, in open-time order. */
export type Candles = {
  readonly openTimeMs: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
  /** Rows the CSV reader skipped as malformed. */
  readonly skipped: number;
};

/** Returns candles as columns. */
export function toColumns(candles: readonly Candle[], skipped = 0): Candles {
  const n = candles.length;
  const c: Candles = {
    openTimeMs: new Float64Array(n), open: new Float64Array(n), high: new Float64Array(n),
    low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n), skipped,
  };
  for (let i = 0; i < n; i++) {
    const k = candles[i];
    c.openTimeMs[i] = k.openTime; c.open[i] = k.open; c.high[i] = k.high; c.low[i] = k.low; c.close[i] = k.close; c.volume[i] = k.volume;
  }
  return c;
}

/** Returns the candles of a kline CSV (optionally gzipped) as columns; malformed rows are counted in `skipped`. */
export function loadCandlesCsv(path: string): Candles {
  const file = loadKlinesCsv(path);
  return toColumns(file.candles, file.errors.length);
}

/** Returns bars [from, to) of a series as a new series. */
export function sliceCandles(c: Candles, from: number, to: number): Candles {
  return {
    openTimeMs: c.openTimeMs.slice(from, to), open: c.open.slice(from, to), high: c.high.slice(from, to),
    low: c.low.slice(from, to), close: c.close.slice(from, to), volume: c.volume.slice(from, to), skipped: 0,
  };
}

/** Returns the bar length of a series in ms: the smallest step between consecutive open times (NaN under 2 bars). */
export function barStepMs(openTimeMs: ArrayLike<number>): number {
  let step = Infinity;
  for (let i = 1; i < openTimeMs.length; i++) {
    const d = openTimeMs[i]! - openTimeMs[i - 1]!;
    if (d > 0 && d < step) step = d;
  }
  return Number.isFinite(step) ? step : NaN;
}

/**
 * Returns, per bar, the index of the first bar of the gap-free run holding it (open times `stepMs` apart), so bars
 * a..b (a ≤ b) are contiguous exactly when `runStart[b] <= a`. Labels and σ count bars, not time: a window read
 * across a hole would take the jump over it for one bar's move.
 */
export function runStarts(openTimeMs: ArrayLike<number>, stepMs: number): Int32Array {
  const out = new Int32Array(openTimeMs.length);
  for (let i = 1; i < openTimeMs.length; i++) out[i] = openTimeMs[i]! - openTimeMs[i - 1]! === stepMs ? out[i - 1]! : i;
  return out;
}
