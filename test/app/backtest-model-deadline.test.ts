// A backtest's models have no deadline: the driver waits for them after every line while the simulated clock stands
// still, so the answers, and the decisions, depend on the data, config and seed only.
import { describe, expect, it } from 'vitest';
import { BacktestModelStuckError, runBacktest } from '../../app/backtest.ts';
import type { System } from '../../app/system.ts';
import { createInferencePool } from '../../engine/infer/pool.ts';
import { bundledCnnCheckpoint } from '../../models/bundled/index.ts';
import { testConfig } from '../e2e/helpers.ts';

const cnnOnnx = bundledCnnCheckpoint()!.onnxPath;

/** Records every decision and counts the outputs of each model. */
function recorder(decisions: string[], outputs: Record<string, number>, also?: (sys: System, model: string) => void): (sys: System) => void {
  return (sys) => {
    sys.bus.subscribe('signal.decision', (m) => void decisions.push(`${m.ts}:${m.action}`));
    sys.bus.subscribe('signal.modelOutput', (m) => {
      outputs[m.output.model] = (outputs[m.output.model] ?? 0) + 1;
      also?.(sys, m.output.model);
    });
  };
}

describe('a backtest\'s model deadline', () => {
  // Realism review, finding 2: the coordinator's deadline ran on the simulated clock. A tick that became ready inside a
  // clock timer (the 10 Hz COB snapshot) started its models inside clock.set(), which went on to the next recorded line
  // before any answer: 62-90 ms later on two ticks of the bundled recording, so at models.timeoutMs 50 the instant
  // momentum rule "did not answer" there.
  it('does not fail a model because the recording\'s next line is more than timeoutMs after its tick', async () => {
    const decisions: string[] = [];
    const outputs: Record<string, number> = {};
    await runBacktest(testConfig({ models: { timeoutMs: 50 } }), { seed: 3, maxSpanMs: 200_000, onSystem: recorder(decisions, outputs) });
    expect(decisions.length).toBeGreaterThan(20);
    expect(outputs.momentum).toBe(decisions.length);
  }, 60_000);

  // Realism review, finding 1: the backtest's inference pool timed out on the wall clock (models.timeoutMs), so a main
  // thread held up past it (a GC pause, a busy host) turned the CNN's answer into a timeout and the blend decided
  // without it: the same seed, a different decision.
  it('waits for the CNN through a main-thread stall longer than timeoutMs: every decision as without the stall', async () => {
    const config = testConfig({ models: { timeoutMs: 200 } });
    const opts = { seed: 4, maxSpanMs: 150_000, models: { cnnOnnx } };
    const calm: string[] = [];
    const calmOutputs: Record<string, number> = {};
    await runBacktest(config, { ...opts, onSystem: recorder(calm, calmOutputs) });
    const stalled: string[] = [];
    const stalledOutputs: Record<string, number> = {};
    let momentum = 0;
    // On the 20th tick, once the momentum rule answered and while the CNN's request is with its worker, the main thread
    // is held up for 400 ms in the next callback it runs (as by a GC pause or any other work queued on it).
    const stall = (_: System, model: string): void => {
      if (model !== 'momentum' || ++momentum !== 20) return;
      setImmediate(() => {
        const until = performance.now() + 400;
        while (performance.now() < until) { /* held up */ }
      });
    };
    const r = await runBacktest(config, { ...opts, onSystem: recorder(stalled, stalledOutputs, stall) });
    expect(r.summary.models).toContain('cnn@override');
    expect(momentum).toBeGreaterThan(20);
    expect(stalledOutputs.cnn).toBe(stalled.length);
    expect(stalled).toEqual(calm);
    expect(calmOutputs.cnn).toBe(calm.length);
  }, 120_000);

  // ... and a worker that never answers fails the run, naming the model, rather than leaving the CNN out of decisions.
  // Through a caller's pool made with a deadline of its own (200 ms, as the reviewer's repro's 1000 ms): the backtest
  // asks it for none, so only the stuck bound (300 ms) ends the wait.
  it('fails with BacktestModelStuckError when an inference worker hangs past the pool\'s stuck bound', async () => {
    const pool = await createInferencePool({ models: { cnn: cnnOnnx }, threads: 1, timeoutMs: 200, stuckMs: 300, testHooks: true });
    const decisions: string[] = [];
    let momentum = 0;
    try {
      const run = runBacktest(testConfig(), {
        seed: 4, maxSpanMs: 150_000, models: { cnnOnnx, cnnPool: pool },
        onSystem: recorder(decisions, {}, (_, model) => {
          if (model === 'momentum' && ++momentum === 20) pool.injectFault('hang');
        }),
      });
      await expect(run).rejects.toThrow(BacktestModelStuckError);
      await expect(run).rejects.toThrow(/^backtest stopped at 2024-08-0\dT[\d:.]+Z \(recorded time\): inference of cnn: no answer from its worker after [\d.]+ s of wall time \(stuckMs 300\)/);
      // It stopped at the tick whose CNN request hung (the fault takes the next batch: the 21st tick's).
      expect(decisions.length).toBe(21);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
