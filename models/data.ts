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
