// A caller's inference pool (ModelOverrides.cnnPool): backtests run through it decide and trade exactly as a backtest
// that starts its own pool, and stopping them leaves the pool open for the next one (bench/loop's settled CNN runs).
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../app/backtest.ts';
import type { System } from '../../app/system.ts';
import { createInferencePool } from '../../engine/infer/pool.ts';
import { bundledCnnCheckpoint } from '../../models/bundled/index.ts';
import { testConfig } from './helpers.ts';

const cnnOnnx = bundledCnnCheckpoint()!.onnxPath;

function decisions(into: string[]): (sys: System) => void {
  return (sys) => sys.bus.subscribe('signal.decision', (m) => void into.push(JSON.stringify(m)));
}

describe('a backtest through the caller\'s inference pool', () => {
  it('decides and trades as one with its own pool, and leaves the pool open after it stops', async () => {
    const config = testConfig();
    const own: string[] = [];
    const first: string[] = [];
    const second: string[] = [];
    const base = await runBacktest(config, { seed: 4, maxSpanMs: 400_000, models: { cnnOnnx }, onSystem: decisions(own) });
    const pool = await createInferencePool({ models: { cnn: cnnOnnx }, threads: config.models.poolThreads, timeoutMs: config.models.timeoutMs });
    try {
      const a = await runBacktest(config, { seed: 4, maxSpanMs: 400_000, models: { cnnOnnx, cnnPool: pool }, onSystem: decisions(first) });
      const b = await runBacktest(config, { seed: 4, maxSpanMs: 400_000, models: { cnnOnnx, cnnPool: pool }, onSystem: decisions(second) });
      expect(base.summary.models).toContain('cnn@override');
      expect(own.length).toBeGreaterThan(200);
      expect(first).toEqual(own);
      expect(second).toEqual(own);
      expect(a.fills).toEqual(base.fills);
      expect(b.fills).toEqual(base.fills);
      // Every decision of both runs went through this pool, which still serves requests.
      expect(pool.stats().models.cnn!.requests).toBe(2 * own.length);
      const r = await pool.infer('cnn', new Float32Array(5450), [1, 5450]);
      expect(r.outputs.probs!.length).toBe(3);
    } finally {
      await pool.close();
    }
  });

  it('refuses a pool without the ONNX file it serves', async () => {
    const pool = await createInferencePool({ models: { cnn: cnnOnnx }, threads: 1 });
    try {
      await expect(runBacktest(testConfig(), { maxSpanMs: 1_000, models: { cnnPool: pool } })).rejects.toThrow('needs the ONNX file it serves');
    } finally {
      await pool.close();
    }
  });
});
