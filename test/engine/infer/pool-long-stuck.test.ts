// CLI review finding 1: the stuck guard is a plain setTimeout of stuckMs (default 10 × timeoutMs). Past 2^31−1 ms Node
// warns (TimeoutOverflowWarning) and fires it after 1 ms: with models.timeoutMs 300000000 every CNN run was declared
// hung at once and its worker retired. A guard that long now waits ~24.8 days, the longest a timer takes: a run taking
// the 'slow' fault's 1.5 s answers.
import { afterEach, describe, expect, it } from 'vitest';
import { createInferencePool } from '../../../engine/infer/pool.ts';
import { bundledCnnCheckpoint } from '../../../models/bundled/index.ts';

const cnn = bundledCnnCheckpoint()!;
const size = cnn.meta.input!.size;
const warnings: string[] = [];
const onWarning = (w: Error): void => void warnings.push(w.name);
afterEach(() => {
  process.off('warning', onWarning);
  warnings.length = 0;
});

describe('inference pool with a stuck guard past the timer limit', () => {
  it.each([
    ['timeoutMs 300000000 (stuckMs 10 × it)', { timeoutMs: 300_000_000 }],
    ['stuckMs 3000000000, no deadline', { timeoutMs: Number.POSITIVE_INFINITY, stuckMs: 3_000_000_000 }],
  ])('answers a slow run rather than declaring it hung (%s)', async (_what, opts) => {
    process.on('warning', onWarning);
    const pool = await createInferencePool({ models: { cnn: cnn.onnxPath }, threads: 1, testHooks: true, ...opts });
    try {
      pool.injectFault('slow');
      const out = await pool.infer('cnn', new Float32Array(size), [1, size]);

      expect(Object.keys(out).length).toBeGreaterThan(0);
      expect(pool.stuck().requests).toBe(0);
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      await pool.close();
    }
  }, 60_000);
});
