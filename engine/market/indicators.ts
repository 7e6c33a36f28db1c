// Array-based technical indicators over Float64 series. Each returns an array as long as its input, NaN where
// the indicator is not yet defined (warm-up), so index i always refers to bar i.

type Series = ArrayLike<number>;

function nanArray(n: number): Float64Array {
  return new Float64Array(n).fill(NaN);
}

function checkPeriod(period: number, name: string): void {
  if (!Number.isInteger(period) || period < 1) throw new RangeError(`${name} period ${period} must be a positive integer`);
}

/** Returns simple returns x[i]/x[i−1] − 1 (NaN at 0). */
export function returns(x: Series): Float64Array {
  const out = nanArray(x.length);
  for (let i = 1; i < x.length; i++) out[i] = x[i]! / x[i - 1]! - 1;
  return out;
}

/** Returns log returns ln(x[i]/x[i−1]) (NaN at 0). */
export function logReturns(x: Series): Float64Array {
  const out = nanArray(x.length);
  for (let i = 1; i < x.length; i++) out[i] = Math.log(x[i]! / x[i - 1]!);
  return out;
}

/**
 * Returns the rolling sample standard deviation (n − 1) of log returns over `window` returns, not annualised;
 * defined from index `window`.
 */
export function rollingVolatility(closes: Series, window: number): Float64Array {
  checkPeriod(window, 'volatility');
  if (window < 2) throw new RangeError('volatility window must be at least 2 returns');
  const r = logReturns(closes);
  const out = nanArray(closes.length);
  let sum = 0;
  let sumSq = 0;
  for (let i = 1; i < closes.length; i++) {
    sum += r[i]!;
    sumSq += r[i]! * r[i]!;
    if (i > window) {
      sum -= r[i - window]!;
      sumSq -= r[i - window]! * r[i - window]!;
    }
    if (i >= window) out[i] = Math.sqrt(Math.max(0, (sumSq - (sum * sum) / window) / (window - 1)));
  }
  return out;
}

/** Returns the simple moving average over `period` (defined from index period − 1). */
export function sma(x: Series, period: number): Float64Array {
  checkPeriod(period, 'SMA');
  const out = nanArray(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    sum += x[i]!;
    if (i >= period) sum -= x[i - period]!;
    if (i >= period - 1) out[i] = sum / period;
  }
  return out;
}

/**
 * Returns the exponential moving average with α = 2/(period+1), seeded with the SMA of the first `period`
 * values (StockCharts and TA-Lib convention); NaN inputs before the first defined value are skipped.
 */
export function ema(x: Series, period: number): Float64Array {
  checkPeriod(period, 'EMA');
  const out = nanArray(x.length);
  const k = 2 / (period + 1);
  let start = 0;
  while (start < x.length && Number.isNaN(x[start]!)) start++;
  if (start + period > x.length) return out;
  let v = 0;
  for (let i = start; i < start + period; i++) v += x[i]!;
  v /= period;
  out[start + period - 1] = v;
  for (let i = start + period; i < x.length; i++) {
    v = x[i]! * k + v * (1 - k);
    out[i] = v;
  }
  return out;
}

/**
 * Returns Wilder's RSI: the first average gain/loss is the mean of the first `period` changes, then
 * avg = (prev·(period−1) + current)/period. Defined from index `period`; 100 when there are no losses, 50 flat.
 */
export function rsi(closes: Series, period = 14): Float64Array {
  checkPeriod(period, 'RSI');
  const out = nanArray(closes.length);
  if (closes.length <= period) return out;
  let gain = 0;
  let loss = 0;
  for (let i = 1; i <= period; i++) {
    const d = closes[i]! - closes[i - 1]!;
    if (d > 0) gain += d;
    else loss -= d;
  }
  gain /= period;
  loss /= period;
  const value = (g: number, l: number) => (l === 0 ? (g === 0 ? 50 : 100) : 100 - 100 / (1 + g / l));
  out[period] = value(gain, loss);
  for (let i = period + 1; i < closes.length; i++) {
    const d = closes[i]! - closes[i - 1]!;
    gain = (gain * (period - 1) + (d > 0 ? d : 0)) / period;
    loss = (loss * (period - 1) + (d < 0 ? -d : 0)) / period;
    out[i] = value(gain, loss);
  }
  return out;
}

/** MACD line, signal line and histogram. */
export interface Macd {
  readonly macd: Float64Array;
  readonly signal: Float64Array;
  readonly histogram: Float64Array;
}

/** Returns MACD = EMA(fast) − EMA(slow), its EMA(signal) and the histogram (defaults 12/26/9). */
export function macd(closes: Series, fast = 12, slow = 26, signalPeriod = 9): Macd {
  if (fast >= slow) throw new RangeError(`MACD fast period ${fast} must be below slow period ${slow}`);
  const f = ema(closes, fast);
  const s = ema(closes, slow);
  const line = nanArray(closes.length);
  for (let i = 0; i < closes.length; i++) line[i] = f[i]! - s[i]!;
  const signal = ema(line, signalPeriod);
  const histogram = nanArray(closes.length);
  for (let i = 0; i < closes.length; i++) histogram[i] = line[i]! - signal[i]!;
  return { macd: line, signal, histogram };
}

/** Bollinger bands: middle SMA and the bands `k` population standard deviations away. */
export interface Bollinger {
  readonly middle: Float64Array;
  readonly upper: Float64Array;
  readonly lower: Float64Array;
}

/** Returns Bollinger bands (default 20, 2) with the population standard deviation, as Bollinger defines them. */
export function bollinger(closes: Series, period = 20, k = 2): Bollinger {
  checkPeriod(period, 'Bollinger');
  const middle = sma(closes, period);
  const upper = nanArray(closes.length);
  const lower = nanArray(closes.length);
  for (let i = period - 1; i < closes.length; i++) {
    const m = middle[i]!;
    let ss = 0;
    for (let j = i - period + 1; j <= i; j++) ss += (closes[j]! - m) ** 2;
    const sd = Math.sqrt(ss / period);
    upper[i] = m + k * sd;
    lower[i] = m - k * sd;
  }
  return { middle, upper, lower };
}

/** Returns the true range: bar 0 is high − low, later bars also reach the previous close. */
export function trueRange(high: Series, low: Series, close: Series): Float64Array {
  const out = new Float64Array(high.length);
  for (let i = 0; i < high.length; i++) {
    const hl = high[i]! - low[i]!;
    out[i] = i === 0 ? hl : Math.max(hl, Math.abs(high[i]! - close[i - 1]!), Math.abs(low[i]! - close[i - 1]!));
  }
  return out;
}

/** Returns Wilder's ATR: the mean of the first `period` true ranges, then (prev·(period−1) + TR)/period. */
export function atr(high: Series, low: Series, close: Series, period = 14): Float64Array {
  checkPeriod(period, 'ATR');
  if (high.length !== low.length || high.length !== close.length) throw new RangeError('ATR needs high, low and close of equal length');
  const tr = trueRange(high, low, close);
  const out = nanArray(tr.length);
  if (tr.length < period) return out;
  let v = 0;
  for (let i = 0; i < period; i++) v += tr[i]!;
  v /= period;
  out[period - 1] = v;
  for (let i = period; i < tr.length; i++) {
    v = (v * (period - 1) + tr[i]!) / period;
    out[i] = v;
  }
  return out;
}

/**
 * Returns the volume-weighted average of the typical price (high+low+close)/3, cumulative from bar 0, or over
 * the last `window` bars when given. NaN while the volume so far is zero.
 */
export function vwap(high: Series, low: Series, close: Series, volume: Series, window?: number): Float64Array {
  if (window !== undefined) checkPeriod(window, 'VWAP');
  const out = nanArray(close.length);
  let pv = 0;
  let v = 0;
  for (let i = 0; i < close.length; i++) {
    pv += ((high[i]! + low[i]! + close[i]!) / 3) * volume[i]!;
    v += volume[i]!;
    if (window !== undefined && i >= window) {
      const j = i - window;
      pv -= ((high[j]! + low[j]! + close[j]!) / 3) * volume[j]!;
      v -= volume[j]!;
    }
    out[i] = v > 0 ? pv / v : NaN;
  }
  return out;
}
