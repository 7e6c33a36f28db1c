/** Milliseconds since the Unix epoch (may carry a fraction); every timestamp in messages uses it. */
export type TsMs = number;

/** Returns nanoseconds (as in the recordings' `<receive_ts_ns>`) converted to fractional milliseconds. */
export function nsToMs(ns: bigint): TsMs {
  return Number(ns / 1000n) / 1000;
}

/** Candle timeframes the engine keeps. */
export type Timeframe = '1s' | '1m' | '1h' | '1d';

/** Returns the length of a timeframe in milliseconds. */
export function timeframeMs(tf: Timeframe): number {
  switch (tf) {
    case '1s': return 1_000;
    case '1m': return 60_000;
    case '1h': return 3_600_000;
    case '1d': return 86_400_000;
  }
}
