import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { purgeAndEmbargo, walkForwardFolds, type Fold, type LabelIntervals } from '../../models/walk-forward.ts';
import { tripleBarrierLabels } from '../../models/labels/triple-barrier.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import { realCandles } from './helpers.ts';

function checkFold(f: Fold, iv: LabelIntervals, embargo: number): void {
  const testSet = new Set(f.test);
  for (const i of f.train) {
    expect(testSet.has(i)).toBe(false);
    // Disjoint from [testStart, testEnd + embargo].
    expect(iv.t1[i] < f.testStart || iv.t0[i] > f.testEnd + embargo).toBe(true);
  }
}

describe('walk-forward with purge and embargo', () => {
  const c = realCandles('BTC', 0, 6000);
  const labels = tripleBarrierLabels(c, { volWindow: 60, horizon: 60, ptMult: 2, slMult: 2 });

  it.each(['expanding', 'rolling'] as const)('%s folds on real labels: ordered, purged, disjoint from test', (mode) => {
    const folds = walkForwardFolds(labels, { folds: 5, testSize: 800, minTrainSize: 1500, mode, trainSize: 1500, embargo: 30 });
    expect(folds).toHaveLength(5);
    for (let k = 0; k < folds.length; k++) {
      const f = folds[k];
      checkFold(f, labels, 30);
      // Purging actually removed the samples whose label ran into the test window.
      expect(f.purged).toBeGreaterThan(0);
      expect(f.train.length).toBeGreaterThan(0);
      if (k > 0) expect(f.testStart).toBeGreaterThan(folds[k - 1].testEnd - 60); // consecutive blocks move forward
      if (k > 0) expect(f.test[0]).toBe(folds[k - 1].test[f.test.length - 1] + 1);
      if (mode === 'rolling') expect(f.train.length + f.purged).toBe(1500);
      else expect(f.train.length + f.purged).toBe(1500 + k * 800);
    }
  });

  it('holds the disjointness invariant for random intervals and settings', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 40 })), { minLength: 60, maxLength: 300 }),
      fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 25 }), fc.boolean(),
      (steps, folds, embargo, rolling) => {
        let t = 0;
        const t0: number[] = [], t1: number[] = [];
        for (const [dt, len] of steps) { t += dt; t0.push(t); t1.push(t + len); }
        const testSize = Math.floor(steps.length / (folds + 2));
        const fs = walkForwardFolds({ t0, t1 }, { folds, testSize, minTrainSize: testSize, mode: rolling ? 'rolling' : 'expanding', trainSize: 2 * testSize, embargo });
        for (const f of fs) {
          const test = new Set(f.test);
          for (const i of f.train) {
            if (test.has(i)) return false;
            if (!(t1[i] < f.testStart || t0[i] > f.testEnd + embargo)) return false;
          }
        }
        return true;
      },
    ), { numRuns: 200 });
  });

  it('embargo drops training samples that start just after the test window', () => {
    const iv = { t0: [0, 10, 20, 31, 36, 50], t1: [5, 19, 25, 33, 40, 55] };
    // Test window [20, 25]; candidates everything else; embargo 10 → (25, 35] is embargoed.
    const r = purgeAndEmbargo([0, 1, 3, 4, 5], iv, 20, 25, 10);
    expect(Array.from(r.train)).toEqual([0, 1, 4, 5]);
    expect(r.embargoed).toBe(1);
    const r2 = purgeAndEmbargo([0, 1, 3, 4, 5], iv, 18, 25, 10);
    expect(Array.from(r2.train)).toEqual([0, 4, 5]); // sample 1 ends at 19 ≥ 18: purged
    expect(r2.purged).toBe(1);
  });

  it('rejects unsorted samples, t1 < t0 and too few samples', () => {
    const o = { folds: 1, testSize: 1, minTrainSize: 1, mode: 'expanding' as const, embargo: 0 };
    expect(() => walkForwardFolds({ t0: [2, 1], t1: [3, 3] }, o)).toThrow(InputValidationError);
    expect(() => walkForwardFolds({ t0: [1, 2], t1: [0, 3] }, o)).toThrow(InputValidationError);
    expect(() => walkForwardFolds({ t0: [1], t1: [2] }, o)).toThrow(InputValidationError);
    expect(() => walkForwardFolds({ t0: [1, 2], t1: [2, 3] }, { ...o, mode: 'rolling' })).toThrow(InputValidationError);
  });
});
