// A compact, JSON-ready view of a BaseDataInput and the series behind it (for `cobalt input` and the dashboard).
import { BDI_PIVOT_LEVELS, BDI_FRAMES, type BaseDataInput } from '../../engine/market/base-data-input.ts';
import type { CobSnapshot } from '../../engine/market/cob.ts';
import { williamsPivots } from '../../engine/market/pivots.ts';
import type { Timeframe } from '../../engine/types/time.ts';
import { TIMEFRAMES } from './logic.ts';
import type { DataProvider } from './provider.ts';

/** What `summarizeInput` returns. */
export interface InputSummary {
  readonly ts: number;
  readonly time: string;
  /** Bars kept per symbol and timeframe. */
  readonly series: Record<string, Record<Timeframe, number>>;
  readonly completeness: number;
  readonly quality: BaseDataInput['validation']['quality'];
  readonly canInfer: boolean;
  readonly reasons: readonly string[];
  /** Frames present in each series' 300-frame window. */
  readonly frames: BaseDataInput['validation']['frames'];
  /** The primary symbol's COB buckets, or null without a snapshot. */
  readonly buckets: { bucketSize: number; range: number; count: number; nonEmptyBid: number; nonEmptyAsk: number; mid: number; spreadBps: number } | null;
  /** Time-weighted means of the near imbalance, keyed by window ('1s', '5s', …); null without a snapshot. */
  readonly imbalanceMA: Record<string, number | null> | null;
  /** Swing pivots (highs + lows) per Williams level over the primary 1m window the input encodes. */
  readonly pivots: Record<string, number>;
  readonly featureLength: number;
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

function cobBuckets(cob: CobSnapshot): NonNullable<InputSummary['buckets']> {
  return {
    bucketSize: cob.bucketSize, range: cob.range, count: cob.bidBuckets.length,
    nonEmptyBid: cob.bidBuckets.filter((x) => x > 0).length, nonEmptyAsk: cob.askBuckets.filter((x) => x > 0).length,
    mid: cob.mid, spreadBps: cob.spreadBps,
  };
}

/** Returns the summary of `bdi` as assembled by `dp` (series lengths read from `dp` now). */
export function summarizeInput(dp: DataProvider, bdi: BaseDataInput): InputSummary {
  const v = bdi.validation;
  const series: InputSummary['series'] = {};
  for (const s of dp.symbols) series[s] = Object.fromEntries(TIMEFRAMES.map((tf) => [tf, dp.series(s, tf).length])) as Record<Timeframe, number>;
  const src = dp.inputSources();
  const cob = src.cob;
  const imbalanceMA = cob === undefined ? null : Object.fromEntries(cob.maWindowsMs.map((w, i) => [`${w / 1_000}s`, finite(cob.imbalanceMa[i] ?? NaN)]));
  const m1 = dp.series(dp.primary, '1m').tail(BDI_FRAMES);
  const pivots = Object.fromEntries(williamsPivots(m1, { levels: BDI_PIVOT_LEVELS }).map((l) => [String(l.level), l.highs.length + l.lows.length]));
  return {
    ts: bdi.ts, time: new Date(bdi.ts).toISOString(), series, completeness: v.completeness, quality: v.quality, canInfer: v.canInfer,
    reasons: v.reasons, frames: v.frames, buckets: cob === undefined ? null : cobBuckets(cob), imbalanceMA, pivots, featureLength: bdi.data.length,
  };
}
