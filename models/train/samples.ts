// What the CNN trainer (cnn.ts) needs from a dataset, whatever builds the features: kline windows (dataset.ts) or
// BaseDataInput rows replayed through the DataProvider (bdi-dataset.ts).
import type { CnnInputSpec } from '../cnn/bdi-adapter.ts';
import type { HistoryReport } from './history-dataset.ts';

/** Labelled samples on one bar grid (the primary series' bars); t0/t1 are bar indices, ascending t0. */
export interface CnnSamples {
  /** Decision bar, resolution bar and class of each sample. */
  readonly t0: Int32Array;
  readonly t1: Int32Array;
  readonly label: Uint8Array;
  /** Open time of every bar of the grid. */
  readonly openTimeMs: Float64Array;
  /** Close of every bar of the grid (the direction baseline reads it). */
  readonly close: ArrayLike<number>;
  /** The model's input: [seqLen, features] + tailLen, and its kind (recorded in the checkpoint). */
  readonly input: CnnInputSpec;
  /** The symbol the labels and the primary series come from, when known (recorded in the checkpoint's input). */
  readonly symbol?: string;
  /** Samples left out because a bar they read (features, σ, horizon) lies across a hole in the open times. */
  readonly gapDropped: number;
  /** Class counts [BUY, SELL, HOLD] over all samples, and same-bar ambiguous labels. */
  readonly balance: { readonly counts: [number, number, number]; readonly ambiguous: number };
  /** Earliest grid bar the features of sample i read (for data spans). */
  firstBar(i: number): number;
  /** Writes the input row of sample i at `out[offset…]` (input.size floats). */
  write(i: number, out: Float32Array, offset: number): void;
  /** Names of the series the features come from, primary first (report). */
  readonly series: readonly string[];
  /** Malformed CSV rows skipped, and bars dropped by alignment (report). */
  readonly skippedRows: number;
  readonly unmatchedBars: number;
  /** History input only: what became of the records read (the summary reports it). */
  readonly history?: HistoryReport;
  /** How the features were built, written into train-report.json. */
  readonly describe: Readonly<Record<string, unknown>>;
}

/** Returns the input rows of samples `idx` as one row-major [idx.length, input.size] batch. */
export function sampleBatch(ds: CnnSamples, idx: ArrayLike<number>): Float32Array {
  const size = ds.input.size;
  const out = new Float32Array(idx.length * size);
  for (let k = 0; k < idx.length; k++) ds.write(idx[k]!, out, k * size);
  return out;
}

/** Returns the labels of samples `idx`. */
export function sampleLabels(ds: CnnSamples, idx: ArrayLike<number>): Uint8Array {
  return Uint8Array.from({ length: idx.length }, (_, k) => ds.label[idx[k]!]!);
}
