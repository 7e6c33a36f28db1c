// Review finding (online 3): nothing bounded an online training run: a trainer thread that never answered kept the
// learner's job busy for ever. Each pipeline run now has a wall-time deadline (a simulated clock here): at it the
// worker task is aborted (piscina terminates its thread), the run fails, and a late answer promotes nothing.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelRegistry, type ModelRunner } from '../../../actors/orchestrator/registry.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { CheckpointStore } from '../../../models/checkpoints.ts';
import { cnnConfig } from '../../../models/cnn/config.ts';
import type { DqnFineTuneResult } from '../../../models/online/dqn-finetune.ts';
import type { LabelledPrediction } from '../../../models/online/outcome-evaluator.ts';
import { OnlineRunTimeoutError, TrainingPipeline, workerTrainer, type CandidateTrainer } from '../../../models/online/pipeline.ts';
import type { TrainTaskResult } from '../../../models/train/worker-task.ts';
import { decisions, dqnPipeline, liveParams, winning } from './dqn-fixture.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-deadline-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const settle = async (): Promise<void> => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };

describe('online pipeline run deadline', () => {
  it('fails a DQN run whose trainer does not answer in runTimeoutMs, aborts its task, and promotes nothing from the late answer', async () => {
    const wall = new SimulatedClock(0);
    let answer: (r: DqnFineTuneResult) => void = () => {};
    let signal: AbortSignal | undefined;
    const trainer = { train: (_spec: unknown, s?: AbortSignal) => { signal = s; return new Promise<DqnFineTuneResult>((resolve) => { answer = resolve; }); }, close: async () => {} };
    const { p, registry, root: dir } = dqnPipeline(trainer, { runTimeoutMs: 60_000, timers: wall }, path.join(root, 'dqn'));
    const run = p.runOnce(decisions(400));
    const failed = expect(run).rejects.toThrow(OnlineRunTimeoutError);
    await settle();
    expect(signal?.aborted).toBe(false);
    wall.advance(60_000);
    await failed;
    await expect(run).rejects.toThrow(/^the online dqn run did not finish within 1 min of wall time: its worker task was aborted/);
    expect(signal?.aborted).toBe(true);
    answer(winning(liveParams.slice()));
    await settle();
    expect(registry.list()[0]!.versions).toEqual(['v000001']);
    expect(existsSync(path.join(dir, 'dqn'))).toBe(false);
  });

  it('fails a CNN run whose trainer does not answer in runTimeoutMs, and promotes nothing from the late answer', async () => {
    const clock = new SimulatedClock(1_700_000_000_000);
    const wall = new SimulatedClock(0);
    const registry = new ModelRegistry();
    const runner: ModelRunner = async (_x, c) => ({ model: c.model, version: c.version, symbol: c.symbol, ts: c.ts, action: 'HOLD', probabilities: [0, 0, 1], confidence: 1 });
    registry.register('cnn', { version: 'base', run: runner }, clock.now());
    const config = cnnConfig({ seqLen: 16, features: 2, tailLen: 0 });
    const pairs: LabelledPrediction[] = Array.from({ length: 200 }, (_, i) => {
      const t0 = 1_600_000_000_000 + i * 60_000;
      return { model: 'cnn', version: 'base', symbol: 'ETH/USDT', ts: t0 + 70_000, predicted: 'HOLD', realised: 'HOLD', label: (i % 3) as 0 | 1 | 2, t0Ms: t0, t1Ms: t0 + 300_000, input: new Float32Array(32) };
    });
    let answer: (r: TrainTaskResult) => void = () => {};
    let signal: AbortSignal | undefined;
    const saved: string[] = [];
    const trainer: CandidateTrainer = {
      train: (_t, s) => { signal = s; return new Promise((resolve) => { answer = resolve; }); },
      save: async (t) => { saved.push(t.dir); }, close: async () => {},
    };
    const pipeline = new TrainingPipeline({
      model: 'cnn', registry, checkpoints: new CheckpointStore({ root: path.join(root, 'cnn'), clock }), trainer, clock, live: { version: 'base', config, weights: [] },
      runnerFor: () => runner, minTrain: 50, rankBy: 'promotedAt', runTimeoutMs: 120_000, timers: wall,
    });
    const run = pipeline.runOnce(pairs);
    const failed = expect(run).rejects.toThrow(/^the online cnn run did not finish within 2 min of wall time/);
    await settle();
    wall.advance(120_000);
    await failed;
    expect(signal?.aborted).toBe(true);
    answer({ weights: [], live: { n: 60, accuracy: 0, logLoss: 2 }, candidate: { n: 60, accuracy: 1, logLoss: 0.1 }, candidateProbs: new Float32Array(0), candidateHidden: new Float32Array(0), losses: [], backend: 'x' });
    await settle();
    expect(saved).toEqual([]);
    expect(registry.list()[0]!.versions).toEqual(['base']);
    expect(existsSync(path.join(root, 'cnn', 'cnn'))).toBe(false);
  });

  it('workerTrainer hands the signal to its worker pool: an aborted task is not run', async () => {
    const t = workerTrainer();
    try {
      const err = await t.save({ config: cnnConfig({ seqLen: 16, features: 2, tailLen: 0 }), weights: [], dir: '', version: 'none' }, AbortSignal.abort()).then(() => undefined, (e: unknown) => e);
      expect((err as Error | undefined)?.name).toBe('AbortError');
    } finally {
      await t.close();
    }
  }, 60_000);
});
