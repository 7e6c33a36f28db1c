// Review finding (online 4): TrainingPipeline kept every promoted version's weights in its `known` map for the life of
// the daemon (the DQN pipeline trims its own). It now keeps those of the active version and of the one a rollback goes
// to; an older version that becomes active again is read back through `load`. Tiny CNN, real worker and ONNX export.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry, type ModelRunner } from '../../../actors/orchestrator/registry.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { CheckpointStore } from '../../../models/checkpoints.ts';
import type { LabelledPrediction } from '../../../models/online/outcome-evaluator.ts';
import { TrainingPipeline, workerTrainer, type CandidateTrainer, type LiveCnn } from '../../../models/online/pipeline.ts';
import { tinyCnnAndPairs } from './tiny-cnn-fixture.ts';

let live: LiveCnn;
let pairs: LabelledPrediction[];
let worker: CandidateTrainer;
const root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-known-'));

beforeAll(async () => {
  ({ live, pairs } = await tinyCnnAndPairs());
  worker = workerTrainer();
}, 60_000);

afterAll(async () => {
  await worker?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('online TrainingPipeline weights it keeps', () => {
  it('holds the weights of the active version and the rollback target only, over many promotions', async () => {
    const clock = new SimulatedClock(1_700_000_000_000);
    const registry = new ModelRegistry();
    const runner: ModelRunner = async (_x, c) => ({ model: c.model, version: c.version, symbol: c.symbol, ts: c.ts, action: 'HOLD', probabilities: [0, 0, 1], confidence: 1 });
    registry.register('cnn', { version: 'base', run: runner }, clock.now());
    // The live figure is made worse so that every run promotes: the gate is not under test.
    const trainer: CandidateTrainer = { ...worker, train: async (t) => { const r = await worker.train(t); return { ...r, live: { ...r.live, logLoss: r.live.logLoss + 1, accuracy: 0 } }; } };
    const loads: string[] = [];
    const pipeline = new TrainingPipeline({
      model: 'cnn', registry, checkpoints: new CheckpointStore({ root, clock }), trainer, clock, live, versionPrefix: 'online-', rankBy: 'promotedAt',
      runnerFor: () => runner, steps: 2, batch: 16, minTrain: 50, load: async (v) => { loads.push(v); return undefined; },
    });
    const known = (): string[] => [...(pipeline as unknown as { known: Map<string, LiveCnn> }).known.keys()].sort();
    for (let i = 1; i <= 4; i++) {
      clock.advance(3_600_000);
      expect(await pipeline.runOnce(pairs)).toMatchObject({ promoted: true, version: `online-v00000${i}` });
    }
    expect(known()).toEqual(['online-v000003', 'online-v000004']);
    // One rollback step is still served from memory.
    expect(pipeline.rollback()).toBe('online-v000003');
    expect(pipeline.live.version).toBe('online-v000003');
    expect(loads).toEqual([]);
  }, 120_000);
});
