// Pure decisions of the DataProvider: which bars are missing, how fetched bars merge into a series, and which
// rolled-up bars are whole.
import { CandleSeries, type Hole, type RolledCandle } from '../../engine/market/candles.ts';
import type { Candle } from '../../engine/messages/market.ts';
import { timeframeMs, type Timeframe, type TsMs } from '../../engine/types/time.ts';

/** Every timeframe kept, finest first. */
export const TIMEFRAMES: readonly Timeframe[] = ['1s', '1m', '1h', '1d'];
/** Timeframes loaded and backfilled from klines (1s exists only from trades: MEXC and the CSVs have none). */
export const KLINE_TIMEFRAMES: readonly Timeframe[] = ['1m', '1h', '1d'];
/** The next coarser timeframe a closed bar rolls up into. */
export const COARSER: Readonly<Partial<Record<Timeframe, Timeframe>>> = { '1s': '1m', '1m': '1h', '1h': '1d' };

/** Returns the open time of the newest bar of `tf` that has closed at least `graceMs` before `now`. */
export function lastClosedOpen(tf: Timeframe, now: TsMs, graceMs: number): TsMs {
  const ms = timeframeMs(tf);
  return Math.floor((now - graceMs) / ms) * ms - ms;
}

/**
 * Returns the runs of bars a series lacks: holes between its bars, the bars after its newest one up to the last
 * bar closed `graceMs` ago, and (when empty) the whole window; only bars inside the newest `capacity` slots count.
 */
export function gapsToFill(series: CandleSeries, now: TsMs, graceMs: number): Hole[] {
  const ms = timeframeMs(series.timeframe);
  const end = lastClosedOpen(series.timeframe, now, graceMs);
  const windowStart = end - (series.capacity - 1) * ms;
  const gaps: Hole[] = [];
  const clip = (from: number, count: number): void => {
    const lo = Math.max(from, windowStart);
    const hi = Math.min(from + (count - 1) * ms, end);
    if (hi >= lo) gaps.push({ from: lo, count: Math.round((hi - lo) / ms) + 1 });
  };
  const last = series.last();
  if (last === undefined) {
    clip(windowStart, series.capacity);
    return gaps;
  }
  for (const h of series.holes()) clip(h.from, h.count);
  if (last.openTime < end) clip(last.openTime + ms, Math.round((end - last.openTime) / ms));
  return gaps;
}

/**
 * Returns the bars a non-empty series lacks before its oldest one, inside the window `gapsToFill` uses, or undefined.
 * `gapsToFill` leaves them out (a venue may have no older bars: asking every pass would repeat a request that returns
 * nothing); the load at start asks once, so that a series restored short (the candles cache of a run that began
 * minutes before it stopped) still gets its history.
 */
export function leadGap(series: CandleSeries, now: TsMs, graceMs: number): Hole | undefined {
  const first = series.get(0);
  if (first === undefined) return undefined;
  const ms = timeframeMs(series.timeframe);
  const windowStart = lastClosedOpen(series.timeframe, now, graceMs) - (series.capacity - 1) * ms;
  return first.openTime > windowStart ? { from: windowStart, count: Math.round((first.openTime - windowStart) / ms) } : undefined;
}

/** Returns `gap` cut into requests of at most `maxBars` bars each. */
export function splitGap(gap: Hole, tf: Timeframe, maxBars: number): Hole[] {
  const ms = timeframeMs(tf);
  const out: Hole[] = [];
  for (let done = 0; done < gap.count; done += maxBars) out.push({ from: gap.from + done * ms, count: Math.min(maxBars, gap.count - done) });
  return out;
}

/**
 * Merges closed bars into a series in time order, keeping the newest `capacity`; a bar whose open time the series
 * already holds replaces it. Returns how many bars were new. Appends stay O(1); an insert rebuilds the ring.
 */
export function mergeCandles(series: CandleSeries, incoming: readonly Candle[]): number {
  if (incoming.length === 0) return 0;
  const ms = timeframeMs(series.timeframe);
  const sorted = [...incoming].filter((c) => c.openTime % ms === 0).sort((a, b) => a.openTime - b.openTime);
  const last = series.last();
  if (last === undefined || sorted[0]!.openTime > last.openTime) {
    series.pushAll(sorted);
    return sorted.length;
  }
  const byTime = new Map<number, Candle>();
  for (let i = 0; i < series.length; i++) {
    const c = series.get(i)!;
    byTime.set(c.openTime, c);
  }
  let added = 0;
  for (const c of sorted) {
    if (!byTime.has(c.openTime)) added++;
    byTime.set(c.openTime, c);
  }
  const all = [...byTime.values()].sort((a, b) => a.openTime - b.openTime);
  series.clear();
  series.pushAll(all.slice(-series.capacity));
  return added;
}

/** Returns true when a rolled-up bar holds every finer bar of its period (parts = coarse / fine). */
export function isWholeRollup(c: RolledCandle, coarse: Timeframe, fine: Timeframe): boolean {
  return c.parts === timeframeMs(coarse) / timeframeMs(fine);
}

/** Returns a rolled-up bar as a plain closed Candle (without the `parts` count). */
export function plainCandle(c: RolledCandle): Candle {
  const { parts: _parts, ...rest } = c;
  return { ...rest, closed: true };
}

/** Returns the bars of `candles` that are closed at `now` and fall inside `gap`. */
export function closedInGap(candles: readonly Candle[], tf: Timeframe, gap: Hole, now: TsMs): Candle[] {
  const ms = timeframeMs(tf);
  const end = gap.from + gap.count * ms;
  return candles
    .filter((c) => c.openTime >= gap.from && c.openTime < end && c.openTime + ms <= now)
    .map((c) => (c.closed ? c : { ...c, closed: true }));
}
