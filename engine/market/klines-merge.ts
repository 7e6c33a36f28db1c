// Merging fetched klines into a series already on disk, and finding the holes of a series. Pure: `cobalt klines fetch`
// (engine/commands/klines.ts) does the I/O. A hole is never filled in here: a bar the venue did not send stays missing.
import type { Candle } from '../messages/market.ts';

/** What `mergeKlines` made: the merged series (oldest first, one bar per open time) and how it came about. */
export interface KlinesMerge {
  readonly candles: Candle[];
  /** Fetched bars whose open time the series did not have. */
  readonly added: number;
  /** Fetched bars that replaced a stored bar of the same open time with other values (the venue's answer wins). */
  readonly replaced: number;
  /** Fetched bars equal to the stored bar of their open time. */
  readonly unchanged: number;
}

/** A run of missing bars: the last bar before it, the first bar after it (open times, ms) and how many bars are missing. */
export interface KlinesGap {
  readonly afterMs: number;
  readonly beforeMs: number;
  readonly missing: number;
}

const sameBar = (a: Candle, b: Candle): boolean =>
  a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close && a.volume === b.volume;

// Only what a kline file holds: a venue's extra fields (trade count) would make two equal rows look different.
const fileBar = (c: Candle): Candle => ({ openTime: c.openTime, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume, closed: true });

/**
 * Returns `stored` and `fetched` (each oldest first, open times strictly increasing; throws a RangeError naming the
 * first that is not) as one series: a fetched bar replaces the stored bar of its open time.
 */
export function mergeKlines(stored: readonly Candle[], fetched: readonly Candle[]): KlinesMerge {
  assertIncreasing(stored, 'stored klines');
  assertIncreasing(fetched, 'fetched klines');
  const candles: Candle[] = [];
  let added = 0;
  let replaced = 0;
  let unchanged = 0;
  let i = 0;
  for (const f of fetched) {
    while (i < stored.length && stored[i]!.openTime < f.openTime) candles.push(stored[i++]!);
    const old = i < stored.length && stored[i]!.openTime === f.openTime ? stored[i++] : undefined;
    if (old === undefined) added++;
    else if (sameBar(old, f)) unchanged++;
    else replaced++;
    candles.push(fileBar(f));
  }
  while (i < stored.length) candles.push(stored[i++]!);
  return { candles, added, replaced, unchanged };
}

/** Returns the holes of `candles` (oldest first) on a grid of `stepMs`: consecutive bars further apart than one step. */
export function findGaps(candles: readonly Candle[], stepMs: number): KlinesGap[] {
  const gaps: KlinesGap[] = [];
  for (let k = 1; k < candles.length; k++) {
    const a = candles[k - 1]!.openTime;
    const b = candles[k]!.openTime;
    if (b - a > stepMs) gaps.push({ afterMs: a, beforeMs: b, missing: Math.round((b - a) / stepMs) - 1 });
  }
  return gaps;
}

/** The missing bars of a series split at the edges of a span: those inside it, and those outside it. */
export interface SpanGaps {
  readonly inSpan: KlinesGap[];
  readonly outside: KlinesGap[];
}

/**
 * Returns the missing bars of `candles` (oldest first, on a grid of `stepMs`, at least one opening in the span) in
 * runs, split at the edges of the span [fromMs, untilMs) (fromMs on the grid): a run inside the span is bounded by
 * the span's edge where no bar bounds it (before the first bar, after the last), and is counted even when no bar
 * follows it; a run outside it is only one between two bars.
 */
export function spanGaps(candles: readonly Candle[], stepMs: number, fromMs: number, untilMs: number): SpanGaps {
  const lastInSpan = Math.ceil(untilMs / stepMs) * stepMs - stepMs;
  const inSpan: KlinesGap[] = [];
  const outside: KlinesGap[] = [];
  // The run of missing bars opening at first..last (inclusive), when there is one.
  const run = (first: number, last: number, to: KlinesGap[]): void => {
    if (last >= first) to.push({ afterMs: first - stepMs, beforeMs: last + stepMs, missing: Math.round((last - first) / stepMs) + 1 });
  };
  const split = (first: number, last: number): void => {
    run(first, Math.min(last, fromMs - stepMs), outside);
    run(Math.max(first, fromMs), Math.min(last, lastInSpan), inSpan);
    run(Math.max(first, lastInSpan + stepMs), last, outside);
  };
  if (candles.length === 0) return { inSpan, outside };
  // The edges: the span's bars before the first bar and after the last were asked for as much as those between.
  run(fromMs, Math.min(candles[0]!.openTime - stepMs, lastInSpan), inSpan);
  for (const g of findGaps(candles, stepMs)) split(g.afterMs + stepMs, g.beforeMs - stepMs);
  run(Math.max(candles[candles.length - 1]!.openTime + stepMs, fromMs), lastInSpan, inSpan);
  return { inSpan, outside };
}

function assertIncreasing(candles: readonly Candle[], what: string): void {
  for (let k = 1; k < candles.length; k++) {
    if (!(candles[k]!.openTime > candles[k - 1]!.openTime)) {
      throw new RangeError(`${what}: bar ${k} opens at ${new Date(candles[k]!.openTime).toISOString()}, not after the bar before it`);
    }
  }
}
