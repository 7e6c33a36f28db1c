import { InputValidationError } from '../engine/types/errors.ts';
import { BUY, HOLD, NUM_CLASSES, SELL } from './labels/triple-barrier.ts';
import type { LabelIntervals } from './walk-forward.ts';

/** A baseline's output for the test samples: hard classes and row-major [n, NUM_CLASSES] probabilities. */
export type BaselinePrediction = { readonly pred: Uint8Array; readonly probs: Float64Array };

/** Returns class frequencies over the given training indices (Laplace-smoothed so none is zero). */
export function classPrior(labels: ArrayLike<number>, train: ArrayLike<number>): Float64Array {
  const counts = new Float64Array(NUM_CLASSES).fill(1);
  for (let k = 0; k < train.length; k++) counts[labels[train[k]]]++;
  const total = train.length + NUM_CLASSES;
  return counts.map((c) => c / total);
}

/**
 * Majority class: predicts, for every test sample, the most frequent class of the training fold,
 * with the training frequencies as its probabilities.
 */
export function majorityBaseline(labels: ArrayLike<number>, train: ArrayLike<number>, test: ArrayLike<number>): BaselinePrediction {
  if (train.length === 0) throw new InputValidationError('majority baseline needs at least one training sample');
  const prior = classPrior(labels, train);
  let best = 0;
  for (let c = 1; c < NUM_CLASSES; c++) if (prior[c] > prior[best]) best = c;
  const pred = new Uint8Array(test.length).fill(best);
  const probs = new Float64Array(test.length * NUM_CLASSES);
  for (let i = 0; i < test.length; i++) probs.set(prior, i * NUM_CLASSES);
  return { pred, probs };
}

/**
 * Label persistence: for a test sample starting at bar t, predicts the label of the most recently
 * *resolved* sample, the one with the largest t1 ≤ t (ties: the later t0). A label still open at t
 * (t1 > t) is unknown at decision time and is never used. Samples with nothing resolved before them
 * get `fallback`. Probabilities put `confidence` on the predicted class and share the rest equally.
 */
export function persistenceBaseline(
  labels: ArrayLike<number>, iv: LabelIntervals, test: ArrayLike<number>, fallback: number = HOLD, confidence = 0.5,
): BaselinePrediction {
  const n = labels.length;
  // Samples ordered by resolution time, so a pointer walk finds the latest resolved label for each t.
  const byT1 = Array.from({ length: n }, (_, i) => i).sort((a, b) => iv.t1[a] - iv.t1[b] || iv.t0[a] - iv.t0[b]);
  const order = Array.from(test).sort((a, b) => iv.t0[a] - iv.t0[b]);
  const pred = new Uint8Array(test.length);
  const byIndex = new Map<number, number>();
  let p = -1;
  for (const i of order) {
    const t = iv.t0[i];
    while (p + 1 < n && iv.t1[byT1[p + 1]] <= t) p++;
    byIndex.set(i, p >= 0 ? labels[byT1[p]] : fallback);
  }
  for (let k = 0; k < test.length; k++) pred[k] = byIndex.get(test[k]) as number;
  return { pred, probs: oneHotSoft(pred, confidence) };
}

/**
 * Direction persistence: predicts BUY if bar t closed above bar t − 1, SELL if below, HOLD if equal
 * (or t = 0). Reads only closes up to t.
 */
export function directionBaseline(close: ArrayLike<number>, iv: LabelIntervals, test: ArrayLike<number>, confidence = 0.5): BaselinePrediction {
  const pred = new Uint8Array(test.length);
  for (let k = 0; k < test.length; k++) {
    const t = iv.t0[test[k]];
    pred[k] = t === 0 || close[t] === close[t - 1] ? HOLD : close[t] > close[t - 1] ? BUY : SELL;
  }
  return { pred, probs: oneHotSoft(pred, confidence) };
}

function oneHotSoft(pred: Uint8Array, confidence: number): Float64Array {
  if (!(confidence > 0 && confidence < 1)) throw new InputValidationError(`confidence must be in (0, 1), got ${confidence}`);
  const rest = (1 - confidence) / (NUM_CLASSES - 1);
  const probs = new Float64Array(pred.length * NUM_CLASSES).fill(rest);
  for (let i = 0; i < pred.length; i++) probs[i * NUM_CLASSES + pred[i]] = confidence;
  return probs;
}
