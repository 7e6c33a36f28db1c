// Supervised dataset for the CNN: kline-feature windows ending at a decision bar t0, labelled by the triple
// barrier on the primary series. A sample's features read bars [t0 − window + 1, t0] (closes up to t0 are known at
// the decision), its label reads bars (t0, t1]. Samples are built lazily: 43k windows of 60×10 floats would be 100 MB.
// A sample is kept only if every bar it reads (feature window, volatility window, full horizon) is gap-free in open
// time, the rule the online evaluator applies to live predictions (models/online/outcome-evaluator.ts).
import path from 'node:path';
import { InputValidationError } from '../../engine/types/errors.ts';
import { KLINE_FEATURES_PER_SERIES, klineWindow } from '../cnn/kline-features.ts';
import { barStepMs, loadCandlesCsv, runStarts, sliceCandles, type Candles } from '../data.ts';
import { classCounts, tripleBarrierLabels, type TripleBarrierLabels, type TripleBarrierOptions } from '../labels/triple-barrier.ts';
import { sampleBatch, sampleLabels, type CnnSamples } from './samples.ts';

/** Input kind of the kline-window model (recorded in its checkpoint; the engine's CNN agent refuses it). */
export const KLINE_INPUT_KIND = 'klines-v1';

/** Index-aligned series: bar i of every series opened at `openTimeMs[i]`; series[0] is the primary (labelled) one. */
export interface AlignedSeries {
  readonly names: readonly string[];
  readonly series: readonly Candles[];
  readonly openTimeMs: Float64Array;
  /** Bars dropped from each input because another series had no bar at that time. */
  readonly unmatched: number;
  /** Malformed CSV rows skipped, summed over the files. */
  readonly skipped: number;
}

/** Returns the symbol a kline file name encodes (`…_ETH_USDT-1m…` or `…_ETHUSDT_1d…` → `ETH/USDT`), if any. */
export function symbolOfFile(file: string): string | undefined {
  const m = /(?:^|[_-])([A-Z0-9]{2,10})_?(USDT|USDC|BUSD|USD|BTC|EUR)(?=[-_.])/.exec(path.basename(file));
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/**
 * Loads kline files and keeps only the open times present in all of them (an inner join), so bar i means the same
 * minute everywhere. The file whose name encodes `symbol` becomes the primary series; without `symbol`, the first file.
 */
export function loadAlignedKlines(files: readonly string[], symbol?: string): AlignedSeries {
  if (files.length === 0) throw new InputValidationError('no kline files given (--data)');
  let order = [...files];
  if (symbol !== undefined) {
    const want = symbol.toUpperCase().replace(/[^A-Z0-9]/g, '');
    const k = order.findIndex((f) => (symbolOfFile(f) ?? '').replace('/', '') === want);
    if (k < 0) throw new InputValidationError(`--symbol ${symbol}: none of the --data files is named for it (${files.map((f) => path.basename(f)).join(', ')})`);
    order = [order[k]!, ...order.filter((_, i) => i !== k)];
  }
  const loaded = order.map((f) => loadCandlesCsv(f));
  loaded.forEach((c, i) => {
    if (c.close.length < 2) throw new InputValidationError(`${order[i]} holds ${c.close.length} usable bars`);
  });
  // Times present in every series, ascending.
  let common = new Set(loaded[0]!.openTimeMs);
  for (const c of loaded.slice(1)) {
    const s = new Set(c.openTimeMs);
    common = new Set([...common].filter((t) => s.has(t)));
  }
  const times = Float64Array.from([...common].sort((a, b) => a - b));
  if (times.length < 2) throw new InputValidationError(`the --data files share ${times.length} bar times: they must cover the same period at the same timeframe`);
  let unmatched = 0;
  const series = loaded.map((c) => {
    unmatched += c.openTimeMs.length - times.length;
    const idx = new Map<number, number>();
    c.openTimeMs.forEach((t, i) => idx.set(t, i));
    const first = idx.get(times[0]!)!;
    // Fast path: a gap-free series aligns as one slice.
    if (idx.get(times[times.length - 1]!)! - first === times.length - 1) return sliceCandles(c, first, first + times.length);
    const pick = (a: Float64Array): Float64Array => Float64Array.from(times, (t) => a[idx.get(t)!]!);
    return { openTimeMs: pick(c.openTimeMs), open: pick(c.open), high: pick(c.high), low: pick(c.low), close: pick(c.close), volume: pick(c.volume), skipped: 0 };
  });
  return {
    names: order.map((f) => symbolOfFile(f) ?? path.basename(f)), series, openTimeMs: times, unmatched,
    skipped: loaded.reduce((n, c) => n + c.skipped, 0),
  };
}

/** How samples are cut and labelled. */
export interface CnnDatasetOptions {
  /** Bars per feature window (the CNN's seqLen). */
  readonly window: number;
  /** Keep every `stride`-th labelled bar (consecutive windows overlap almost entirely). */
  readonly stride: number;
  readonly labels: TripleBarrierOptions;
  /** No sample decides before this time (ms): a decision is made at its bar t0's close. */
  readonly fromMs?: number;
}

/** Labelled kline-window samples over aligned series; features are built on demand. */
export interface CnnDataset extends CnnSamples {
  readonly aligned: AlignedSeries;
  readonly options: CnnDatasetOptions;
  /** Features per bar: 5 per series. */
  readonly features: number;
}

/**
 * Returns the samples: every `stride`-th triple-barrier label whose decision bar has a full feature window, decides
 * at or after `fromMs`, and reads no bar across a hole in the open times (those are counted in `gapDropped`).
 */
export function buildCnnDataset(aligned: AlignedSeries, options: CnnDatasetOptions): CnnDataset {
  const { window, stride } = options;
  if (!Number.isInteger(window) || window < 2) throw new InputValidationError(`window must be an integer ≥ 2, got ${window}`);
  if (!Number.isInteger(stride) || stride < 1) throw new InputValidationError(`stride must be a positive integer, got ${stride}`);
  const primary = aligned.series[0]!;
  const all: TripleBarrierLabels = tripleBarrierLabels(primary, options.labels);
  const step = barStepMs(aligned.openTimeMs);
  const run = runStarts(aligned.openTimeMs, step);
  const from = options.fromMs ?? -Infinity;
  // klineWindow(end = t0 + 1) needs bar t0 − window as the previous close of its first bar; σ reads t0 − volWindow.
  const back = Math.max(window, options.labels.volWindow);
  const keep: number[] = [];
  let gapDropped = 0;
  for (let k = 0; k < all.t0.length; k++) {
    const t = all.t0[k]!;
    if (t < window || (t - window) % stride !== 0 || aligned.openTimeMs[t]! + step < from) continue;
    if (run[t + options.labels.horizon]! > t - back) gapDropped++;
    else keep.push(k);
  }
  if (keep.length === 0) {
    throw new InputValidationError(`no labelled bar has a full ${window}-bar window${options.fromMs !== undefined ? ` deciding at or after ${new Date(from).toISOString()}` : ''}`
      + ` and no gap in its bars: ${primary.close.length} bars (${gapDropped} samples dropped at gaps)`);
  }
  const t0 = Int32Array.from(keep, (k) => all.t0[k]!);
  const t1 = Int32Array.from(keep, (k) => all.t1[k]!);
  const label = Uint8Array.from(keep, (k) => all.label[k]!);
  let ambiguous = 0;
  // `ambiguous` of the labeller counts every bar; recount on the kept ones (HOLD resolved before the time barrier).
  for (let i = 0; i < t0.length; i++) if (label[i] === 2 && t1[i]! < t0[i]! + options.labels.horizon) ambiguous++;
  const features = KLINE_FEATURES_PER_SERIES * aligned.series.length;
  const input = { kind: KLINE_INPUT_KIND, seqLen: window, features, tailLen: 0, size: window * features };
  // A name is a symbol only when the file name encoded one (symbolOfFile); else it is the file's name.
  const symbol = /^[A-Z0-9]+\/[A-Z0-9]+$/.test(aligned.names[0]!) ? aligned.names[0]! : undefined;
  return {
    aligned, options, t0, t1, label, features, input, gapDropped, ...(symbol !== undefined ? { symbol } : {}),
    openTimeMs: aligned.openTimeMs, close: primary.close,
    balance: { counts: classCounts(label), ambiguous },
    firstBar: (i) => t0[i]! - window,
    write(i, out, offset) {
      out.set(klineWindow(aligned.series, t0[i]! + 1, window), offset);
    },
    series: aligned.names, skippedRows: aligned.skipped, unmatchedBars: aligned.unmatched,
    describe: { kind: 'klines', input, series: aligned.names, window, featuresPerBar: features },
  };
}

/** Returns the features of samples `idx` as one row-major [idx.length, window·features] batch. */
export const batchFeatures: (ds: CnnSamples, idx: ArrayLike<number>) => Float32Array = sampleBatch;

/** Returns the labels of samples `idx`. */
export const batchLabels: (ds: CnnSamples, idx: ArrayLike<number>) => Uint8Array = sampleLabels;
