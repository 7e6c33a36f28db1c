// Task H3 item 6: stuck().requests is derived from the per-model stuck counters: it is their sum over every model,
// as the separate pool-wide counter it replaced was.
import { describe, expect, it } from 'vitest';
import { createInferencePool, InferenceStuckError } from '../../../engine/infer/pool.ts';
import { bundledCnnCheckpoint } from '../../../models/bundled/index.ts';

const cnn = bundledCnnCheckpoint()!;
const size = cnn.meta.input!.size;

describe('inference pool stuck count', () => {
  it('counts the stuck requests of every model, and names the last one', async () => {
    const pool = await createInferencePool({ models: { cnn: cnn.onnxPath, 'cnn-parent': cnn.onnxPath }, threads: 1, timeoutMs: Number.POSITIVE_INFINITY, stuckMs: 200, testHooks: true });
    try {
      pool.injectFault('hang');
      // Two requests issued together share the hung batch: both are stuck.
      const both = [pool.infer('cnn', new Float32Array(size), [1, size]), pool.infer('cnn', new Float32Array(size), [1, size])];
      for (const p of both) await expect(p).rejects.toThrow(InferenceStuckError);
      pool.injectFault('hang');
      await expect(pool.infer('cnn-parent', new Float32Array(size), [1, size])).rejects.toThrow(InferenceStuckError);
      const { models } = pool.stats();
      const stuck = pool.stuck();
      expect([models.cnn!.stuck, models['cnn-parent']!.stuck, stuck.requests]).toEqual([2, 1, 3]);
      expect(stuck.last?.message).toMatch(/^inference of cnn-parent: no answer from its worker/);
    } finally {
      await pool.close();
    }
  });
});
