import { describe, expect, it } from 'vitest';
import { accuracy, confusionMatrix, logLoss } from '../../models/metrics.ts';
import { directionBaseline, majorityBaseline, persistenceBaseline } from '../../models/baselines.ts';
import { BUY, HOLD, SELL, tripleBarrierLabels } from '../../models/labels/triple-barrier.ts';
import { walkForwardFolds } from '../../models/walk-forward.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import { realCandles } from './helpers.ts';

describe('metrics', () => {
  it('accuracy counts exact matches', () => {
    expect(accuracy([0, 1, 2, 2], [0, 1, 1, 2])).toBe(0.75);
    expect(() => accuracy([0], [0, 1])).toThrow(InputValidationError);
  });

  it('log loss matches hand values and clips certain misses', () => {
    expect(logLoss([0.5, 0.5, 0.25, 0.75], [0, 1], 2)).toBeCloseTo((-Math.log(0.5) - Math.log(0.75)) / 2, 12);
    expect(logLoss([1, 0, 0], [1], 3)).toBeCloseTo(-Math.log(1e-15), 6);
    expect(logLoss([1, 0, 0], [1], 3, 1e-3)).toBeCloseTo(-Math.log(1e-3), 12);
    expect(() => logLoss([1, 0, 0], [3], 3)).toThrow(InputValidationError);
  });

  it('confusion matrix is indexed [actual][pred]', () => {
    expect(confusionMatrix([0, 1, 2, 2, 0], [0, 1, 1, 2, 2], 3)).toEqual([[1, 0, 0], [0, 1, 1], [1, 0, 1]]);
  });
});

describe('baselines', () => {
  it('majority predicts the training fold’s most frequent class with its frequencies', () => {
    const labels = [BUY, SELL, SELL, HOLD, BUY, BUY, BUY];
    const r = majorityBaseline(labels, [0, 1, 2, 3], [4, 5, 6]); // training: 1 BUY, 2 SELL, 1 HOLD
    expect(Array.from(r.pred)).toEqual([SELL, SELL, SELL]);
    expect(Array.from(r.probs.slice(0, 3))).toEqual([2 / 7, 3 / 7, 2 / 7]); // Laplace +1 each
    expect(accuracy(r.pred, [BUY, BUY, BUY])).toBe(0);
  });

  it('persistence uses only labels resolved by the test sample’s start', () => {
    // Sample 0 resolves at bar 3, sample 1 at bar 9, sample 2 at 6, sample 3 at 8.
    const iv = { t0: [0, 2, 4, 6], t1: [3, 9, 6, 8] };
    const labels = [BUY, SELL, HOLD, SELL];
    const r = persistenceBaseline(labels, iv, [1, 2, 3], HOLD);
    // At t=2 nothing resolved yet → fallback; at t=4 sample 0 (t1 3); at t=6 sample 2 (t1 6), not sample 1 (still open).
    expect(Array.from(r.pred)).toEqual([HOLD, BUY, HOLD]);
    const row = Array.from(r.probs.slice(3, 6));
    expect(row).toEqual([0.5, 0.25, 0.25]);
  });

  it('direction persistence follows the sign of the last close-to-close move', () => {
    const close = [10, 11, 11, 9, 12];
    const iv = { t0: [0, 1, 2, 3, 4], t1: [1, 2, 3, 4, 4] };
    expect(Array.from(directionBaseline(close, iv, [0, 1, 2, 3, 4]).pred)).toEqual([HOLD, BUY, HOLD, SELL, BUY]);
  });

  it('runs over real walk-forward folds with sane metrics', () => {
    const c = realCandles('ETH', 0, 5000);
    const l = tripleBarrierLabels(c, { volWindow: 60, horizon: 30, ptMult: 1.5, slMult: 1.5 });
    const [fold] = walkForwardFolds(l, { folds: 1, testSize: 1000, minTrainSize: 3000, mode: 'expanding', embargo: 30 });
    const actual = Array.from(fold.test, (i) => l.label[i]);
    for (const b of [majorityBaseline(l.label, fold.train, fold.test), persistenceBaseline(l.label, l, fold.test)]) {
      const acc = accuracy(b.pred, actual);
      expect(acc).toBeGreaterThan(0.2);
      expect(acc).toBeLessThan(0.8);
      expect(logLoss(b.probs, actual, 3)).toBeGreaterThan(0.5);
    }
  });
});
