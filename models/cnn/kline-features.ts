import { InputValidationError } from '../../engine/types/errors.ts';

/** Columnar OHLCV arrays, index = bar (models/data.ts `Candles` fits). */
export interface OhlcvColumns {
  readonly open: ArrayLike<number>;
  readonly high: ArrayLike<number>;
  readonly low: ArrayLike<number>;
  readonly close: ArrayLike<number>;
  readonly volume: ArrayLike<number>;
}

/** Features per bar per series written by `klineWindow`. */
export const KLINE_FEATURES_PER_SERIES = 5;

/**
 * Returns a [seqLen, 5 * series.length] row-major window ending at bar `end` (exclusive) of index-aligned series:
 * per series, open/high/low/close as log returns against the previous close (in percent) and log volume
 * standardised over the window. A simple stand-in for BaseDataInput's series part in tests and benchmarks.
 */
export function klineWindow(series: readonly OhlcvColumns[], end: number, seqLen: number): Float32Array {
  if (end - seqLen < 1) throw new InputValidationError(`klineWindow: need ${seqLen + 1} bars before ${end}, have ${end}`);
  for (const s of series) if (s.close.length < end) throw new InputValidationError(`klineWindow: series has ${s.close.length} bars, window ends at ${end}`);
  const f = KLINE_FEATURES_PER_SERIES * series.length;
  const out = new Float32Array(seqLen * f);
  series.forEach((s, k) => {
    let mean = 0;
    for (let t = end - seqLen; t < end; t++) mean += Math.log1p(s.volume[t]);
    mean /= seqLen;
    let varSum = 0;
    for (let t = end - seqLen; t < end; t++) varSum += (Math.log1p(s.volume[t]) - mean) ** 2;
    const sd = Math.sqrt(varSum / seqLen) || 1;
    for (let r = 0; r < seqLen; r++) {
      const t = end - seqLen + r;
      const prev = s.close[t - 1];
      const o = r * f + k * KLINE_FEATURES_PER_SERIES;
      out[o] = 100 * Math.log(s.open[t] / prev);
      out[o + 1] = 100 * Math.log(s.high[t] / prev);
      out[o + 2] = 100 * Math.log(s.low[t] / prev);
      out[o + 3] = 100 * Math.log(s.close[t] / prev);
      out[o + 4] = (Math.log1p(s.volume[t]) - mean) / sd;
    }
  });
  return out;
}

/** Returns the last `n` close-to-close log returns (percent) before bar `end` (exclusive). */
export function closeReturns(s: OhlcvColumns, end: number, n: number): Float32Array {
  if (end - n < 1) throw new InputValidationError(`closeReturns: need ${n + 1} bars before ${end}`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 100 * Math.log(s.close[end - n + i] / s.close[end - n + i - 1]);
  return out;
}
