import { InputValidationError } from '../engine/types/errors.ts';

/** Label intervals of the samples, ascending t0; sample i spans bars [t0[i], t1[i]]. */
export type LabelIntervals = { readonly t0: ArrayLike<number>; readonly t1: ArrayLike<number> };

export type WalkForwardOptions = {
  /** Number of test folds. */
  folds: number;
  /** Samples per test fold. */
  testSize: number;
  /** Samples before the first test fold that are only ever training data. */
  minTrainSize: number;
  /** expanding: train on everything before the test fold; rolling: only the last `trainSize` samples. */
  mode: 'expanding' | 'rolling';
  /** Candidate training samples per fold in rolling mode (before purging). */
  trainSize?: number;
  /** Bars after the test window in which no training sample may start. */
  embargo: number;
};

/** One walk-forward fold: sample indices, ascending, plus what was removed and why. */
export type Fold = {
  readonly train: Int32Array;
  readonly test: Int32Array;
  /** First bar of the test window: the smallest test t0. */
  readonly testStart: number;
  /** Last bar of the test window: the largest test t1 (labels reach past their t0). */
  readonly testEnd: number;
  /** Training candidates dropped because their [t0, t1] overlaps [testStart, testEnd]. */
  readonly purged: number;
  /** Training candidates dropped because they start within `embargo` bars after testEnd. */
  readonly embargoed: number;
};

/**
 * Returns training indices from `candidates` whose label interval is disjoint from the test window
 * [testStart, testEnd] (purge) and that do not start in (testEnd, testEnd + embargo] (embargo).
 * Both together: every kept [t0, t1] is disjoint from [testStart, testEnd + embargo].
 */
export function purgeAndEmbargo(
  candidates: ArrayLike<number>, iv: LabelIntervals, testStart: number, testEnd: number, embargo: number,
): { train: Int32Array; purged: number; embargoed: number } {
  const keep: number[] = [];
  let purged = 0, embargoed = 0;
  for (let k = 0; k < candidates.length; k++) {
    const i = candidates[k];
    const a = iv.t0[i], b = iv.t1[i];
    if (a <= testEnd && b >= testStart) purged++;
    else if (a > testEnd && a <= testEnd + embargo) embargoed++;
    else keep.push(i);
  }
  return { train: Int32Array.from(keep), purged, embargoed };
}

/**
 * Returns walk-forward folds in time order: test folds are consecutive blocks of `testSize` samples
 * after the first `minTrainSize`; each trains only on samples before its test block (expanding or
 * rolling), purged and embargoed against the test window. Training never includes a test sample.
 */
export function walkForwardFolds(iv: LabelIntervals, opts: WalkForwardOptions): Fold[] {
  const n = iv.t0.length;
  const { folds, testSize, minTrainSize, mode, embargo } = opts;
  if (iv.t1.length !== n) throw new InputValidationError(`t0 has ${n} samples but t1 has ${iv.t1.length}`);
  for (const [k, v] of Object.entries({ folds, testSize, minTrainSize, embargo })) {
    if (!Number.isInteger(v) || v < (k === 'embargo' || k === 'minTrainSize' ? 0 : 1)) throw new InputValidationError(`walk-forward ${k} must be a non-negative integer (folds, testSize ≥ 1), got ${v}`);
  }
  if (mode === 'rolling' && !(Number.isInteger(opts.trainSize) && (opts.trainSize as number) >= 1)) {
    throw new InputValidationError(`rolling walk-forward needs trainSize ≥ 1, got ${opts.trainSize}`);
  }
  if (minTrainSize + folds * testSize > n) {
    throw new InputValidationError(`walk-forward needs ${minTrainSize} + ${folds}×${testSize} samples, only ${n} given`);
  }
  for (let i = 0; i < n; i++) {
    if (iv.t1[i] < iv.t0[i]) throw new InputValidationError(`sample ${i} ends (t1 ${iv.t1[i]}) before it starts (t0 ${iv.t0[i]})`);
    if (i > 0 && iv.t0[i] < iv.t0[i - 1]) throw new InputValidationError(`samples must be in time order: t0[${i}] = ${iv.t0[i]} < t0[${i - 1}] = ${iv.t0[i - 1]}`);
  }
  const out: Fold[] = [];
  for (let f = 0; f < folds; f++) {
    const from = minTrainSize + f * testSize;
    const to = from + testSize;
    const test = new Int32Array(testSize);
    let testEnd = -Infinity;
    for (let i = from; i < to; i++) { test[i - from] = i; testEnd = Math.max(testEnd, iv.t1[i]); }
    const testStart = iv.t0[from];
    const lo = mode === 'rolling' ? Math.max(0, from - (opts.trainSize as number)) : 0;
    const candidates = new Int32Array(from - lo);
    for (let i = lo; i < from; i++) candidates[i - lo] = i;
    const { train, purged, embargoed } = purgeAndEmbargo(candidates, iv, testStart, testEnd, embargo);
    out.push({ train, test, testStart, testEnd, purged, embargoed });
  }
  return out;
}
