// Review finding: without a deadline (timeoutMs Infinity, a backtest) the stuck guard was armed only at dispatch, so
// a request queued while every thread was held by a retired worker (hung inside session.run, never terminated) waited
// with no bound at all: a run that never ended hung the backtest for ever. Such a queued request now fails after
// stuckMs of wall time with InferenceStuckError, and the pool serves the right answers once the worker is back.
import { describe, expect, it } from 'vitest';
import { createInferencePool, InferenceStuckError } from '../../../engine/infer/pool.ts';
import { createLogger, setLogger } from '../../../engine/log.ts';
import { bundledCnnCheckpoint } from '../../../models/bundled/index.ts';

setLogger(createLogger({ level: 'silent' }));
const cnn = bundledCnnCheckpoint()!;
const size = cnn.meta.input!.size;
// Handled from the start: the two queued requests fail in separate timer callbacks.
const outcome = (p: Promise<unknown>): Promise<unknown> => p.then((r) => r, (e: unknown) => e);
const input = (k: number): Float32Array => Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.01 * k) * 0.5);

describe('inference pool with every thread retired', () => {
  it('fails requests queued behind a retired worker after stuckMs, and answers the right ones once it is back', async () => {
    // The 'slow' fault holds its worker inside session.run for 1.5 s, well past stuckMs.
    const pool = await createInferencePool({ models: { cnn: cnn.onnxPath }, threads: 1, timeoutMs: Number.POSITIVE_INFINITY, stuckMs: 250, testHooks: true });
    try {
      const want1 = (await pool.infer('cnn', input(1), [1, size])).outputs.probs;
      const want2 = (await pool.infer('cnn', input(2), [1, size])).outputs.probs;
      expect(Array.from(want1)).not.toEqual(Array.from(want2));
      pool.injectFault('slow');
      const a = pool.infer('cnn', input(1), [1, size]);
      await new Promise((r) => setImmediate(r));
      // Queued while the worker is still healthy, then behind it once it is retired.
      const early = outcome(pool.infer('cnn', input(1), [1, size]));
      await expect(a).rejects.toThrow(InferenceStuckError);
      expect(pool.stats().retiredWorkers).toBe(1);
      // Queued after the retirement.
      const late = outcome(pool.infer('cnn', input(1), [1, size]));
      for (const e of [await early, await late]) {
        expect(e).toBeInstanceOf(InferenceStuckError);
        expect((e as Error).message).toMatch(/^inference of cnn: queued 250 ms of wall time \(stuckMs\) while every worker is retired/);
      }
      // Both failed while the retired run still held the only thread: they never reached a worker.
      const s = pool.stats();
      expect([s.inFlightBatches, s.queued, s.models.cnn.batches, s.models.cnn.stuck, pool.stuck().requests]).toEqual([1, 0, 3, 3, 3]);
      // Once out of its run the worker serves again, each request its own answer.
      while (pool.stats().inFlightBatches > 0) await new Promise((r) => setTimeout(r, 10));
      const [r2, r1] = await Promise.all([pool.infer('cnn', input(2), [1, size]), pool.infer('cnn', input(1), [1, size])]);
      expect(Array.from(r2.outputs.probs)).toEqual(Array.from(want2));
      expect(Array.from(r1.outputs.probs)).toEqual(Array.from(want1));
      expect([pool.stats().workerDeaths, pool.stats().poolErrors, pool.stuck().requests]).toEqual([0, 0, 3]);
    } finally {
      await pool.close();
    }
  });

  it('leaves requests queued behind a retired worker alone while another thread serves them', async () => {
    const pool = await createInferencePool({ models: { cnn: cnn.onnxPath }, threads: 2, timeoutMs: Number.POSITIVE_INFINITY, stuckMs: 250, testHooks: true });
    try {
      const want = (await pool.infer('cnn', input(3), [1, size])).outputs.probs;
      pool.injectFault('slow');
      await expect(pool.infer('cnn', input(3), [1, size])).rejects.toThrow(InferenceStuckError);
      expect(pool.stats().retiredWorkers).toBe(1);
      for (let i = 0; i < 4; i++) expect(Array.from((await pool.infer('cnn', input(3), [1, size])).outputs.probs)).toEqual(Array.from(want));
      expect(pool.stuck().requests).toBe(1);
    } finally {
      await pool.close();
    }
  });
});
