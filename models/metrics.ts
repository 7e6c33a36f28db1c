import { InputValidationError } from '../engine/types/errors.ts';

function sameLength(a: ArrayLike<unknown>, b: ArrayLike<unknown>, what: string): void {
  if (a.length !== b.length) throw new InputValidationError(`${what}: ${a.length} predictions but ${b.length} labels`);
  if (a.length === 0) throw new InputValidationError(`${what}: no samples`);
}

/** Returns the fraction of predictions equal to their label. */
export function accuracy(pred: ArrayLike<number>, actual: ArrayLike<number>): number {
  sameLength(pred, actual, 'accuracy');
  let hit = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === actual[i]) hit++;
  return hit / pred.length;
}

/**
 * Returns the mean negative log-likelihood of the true class; `probs` is row-major [n, k].
 * Probabilities are clipped to [eps, 1 − eps] so one confident miss costs −ln(eps), not Infinity.
 */
export function logLoss(probs: ArrayLike<number>, actual: ArrayLike<number>, k: number, eps = 1e-15): number {
  if (probs.length !== actual.length * k) throw new InputValidationError(`logLoss: ${probs.length} probabilities for ${actual.length} labels × ${k} classes`);
  if (actual.length === 0) throw new InputValidationError('logLoss: no samples');
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    const c = actual[i];
    if (!Number.isInteger(c) || c < 0 || c >= k) throw new InputValidationError(`logLoss: label ${c} at ${i} is not a class in 0..${k - 1}`);
    const p = Math.min(1 - eps, Math.max(eps, probs[i * k + c]));
    sum -= Math.log(p);
  }
  return sum / actual.length;
}

/** Returns the k×k confusion matrix; m[actual][pred] counts samples. */
export function confusionMatrix(pred: ArrayLike<number>, actual: ArrayLike<number>, k: number): number[][] {
  sameLength(pred, actual, 'confusionMatrix');
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < pred.length; i++) {
    const a = actual[i], p = pred[i];
    if (a < 0 || a >= k || p < 0 || p >= k) throw new InputValidationError(`confusionMatrix: class out of 0..${k - 1} at ${i} (actual ${a}, pred ${p})`);
    m[a][p]++;
  }
  return m;
}

/** Returns the index of the largest value in row r of a row-major [n, k] matrix (first on ties). */
export function argmaxRow(values: ArrayLike<number>, r: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (values[r * k + j] > values[r * k + best]) best = j;
  return best;
}
