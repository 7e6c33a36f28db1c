import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry, type ModelRunner } from '../../actors/orchestrator/registry.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { CheckpointStore } from '../../models/checkpoints.ts';
import { CnnModel } from '../../models/cnn/model.ts';
import type { LabelledPrediction } from '../../models/online/outcome-evaluator.ts';
import { TrainingPipeline, workerTrainer, type CandidateTrainer, type LiveCnn } from '../../models/online/pipeline.ts';
import { decidePromotion } from '../../models/online/promotion.ts';
import { initTfBackend } from '../../models/tf-backend.ts';
import { batchFeatures, buildCnnDataset, loadAlignedKlines } from '../../models/train/dataset.ts';

const WINDOW = 16;
let pairs: LabelledPrediction[];
let live: LiveCnn;
let trainer: CandidateTrainer;
let root: string;

// (input, outcome) pairs as the evaluator would hand them over: kline windows of real ETH+BTC 1m bars, triple-barrier labels.
beforeAll(async () => {
  await initTfBackend();
  const a = loadAlignedKlines(['data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz', 'data/klines/mintanam-ftrade_BTC_USDT-1m.csv.gz'], 'ETH/USDT');
  const ds = buildCnnDataset(a, { window: WINDOW, stride: 7, labels: { volWindow: 30, horizon: 15, ptMult: 2, slMult: 2 } });
  const idx = Int32Array.from({ length: 700 }, (_, k) => k);
  const x = batchFeatures(ds, idx);
  const size = WINDOW * ds.features;
  pairs = Array.from(idx, (i) => ({
    model: 'cnn', version: 'v0', symbol: 'ETH/USDT', ts: a.openTimeMs[ds.t0[i]!]! + 60_000, predicted: 'HOLD', realised: 'HOLD',
    label: ds.label[i] as 0 | 1 | 2, t0Ms: a.openTimeMs[ds.t0[i]!]!, t1Ms: a.openTimeMs[ds.t1[i]!]!, input: x.slice(i * size, (i + 1) * size),
  }));
  const m = new CnnModel({ seqLen: WINDOW, features: ds.features, tailLen: 0, channels: 4, hidden: 8, seed: 3 });
  live = { version: 'v0', config: m.config, weights: m.weights() };
  m.dispose();
  trainer = workerTrainer();
  root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-'));
}, 60_000);

afterAll(async () => {
  await trainer?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function setup(steps: number) {
  const clock = new SimulatedClock(1_000);
  const registry = new ModelRegistry();
  const runner = (tag: string): ModelRunner => async (_x, ctx) => ({ model: ctx.model, version: tag, symbol: ctx.symbol, ts: ctx.ts, action: 'HOLD', probabilities: [0, 0, 1], confidence: 1 });
  registry.register('cnn', { version: 'v0', run: runner('v0') }, clock.now());
  const checkpoints = new CheckpointStore({ root: path.join(root, `s${steps}`), clock });
  const pipeline = new TrainingPipeline({
    model: 'cnn', registry, checkpoints, trainer, clock, live, runnerFor: (cp) => runner(cp.version),
    steps, batch: 32, learningRate: 0.02, minTrain: 100,
  });
  return { registry, checkpoints, pipeline };
}

describe('online TrainingPipeline (candidate trained in a worker thread)', () => {
  it('promotes a candidate that beats the live model on held-out pairs, and rollback restores the previous version', async () => {
    const { registry, checkpoints, pipeline } = setup(60);
    const run = await pipeline.runOnce(pairs);
    expect(run.heldOutPairs).toBe(210);
    // Purge: no training pair's outcome reaches the first held-out decision bar.
    const cut = [...pairs].sort((a, b) => a.t0Ms - b.t0Ms)[pairs.length - 210]!.t0Ms;
    expect(run.trainPairs + run.purged).toBe(490);
    expect(run.trainPairs).toBe(pairs.filter((p) => p.t0Ms < cut && p.t1Ms < cut).length);
    expect(run.candidate!.logLoss).toBeLessThan(run.live!.logLoss);
    expect(run.promoted).toBe(true);
    expect(run.parityMaxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(registry.active('cnn')!.version).toBe(run.version);
    expect(pipeline.live.version).toBe(run.version);
    expect(existsSync(path.join(run.checkpointDir!, 'cnn.onnx'))).toBe(true);
    expect((await checkpoints.best('cnn'))!.meta.metric).toEqual({ name: 'heldOutLogLoss', value: run.candidate!.logLoss, higherIsBetter: false });

    expect(pipeline.rollback()).toBe('v0');
    expect(registry.active('cnn')!.version).toBe('v0');
    expect(pipeline.live).toBe(live);
  }, 120_000);

  it('keeps the live version when the candidate is no better', async () => {
    const { registry, checkpoints, pipeline } = setup(0); // no training: the candidate is the live model itself
    const run = await pipeline.runOnce(pairs);
    expect(run.candidate!.logLoss).toBeCloseTo(run.live!.logLoss, 6);
    expect(run.promoted).toBe(false);
    expect(registry.active('cnn')!.version).toBe('v0');
    expect(registry.list()[0]!.versions).toEqual(['v0']);
    expect(await checkpoints.list('cnn')).toEqual([]);
    expect(() => pipeline.rollback()).toThrow(/no earlier version/);
  }, 120_000);

  it.each([
    ['better loss and accuracy', { n: 100, logLoss: 0.9, accuracy: 0.5 }, { n: 100, logLoss: 0.8, accuracy: 0.55 }, true],
    ['loss gain within the margin', { n: 100, logLoss: 0.9, accuracy: 0.5 }, { n: 100, logLoss: 0.8995, accuracy: 0.6 }, false],
    ['better loss, worse accuracy', { n: 100, logLoss: 0.9, accuracy: 0.5 }, { n: 100, logLoss: 0.8, accuracy: 0.45 }, false],
    ['too few held-out pairs', { n: 20, logLoss: 0.9, accuracy: 0.5 }, { n: 20, logLoss: 0.5, accuracy: 0.9 }, false],
  ])('decides promotion: %s', (_name, liveFig, candFig, promote) => {
    expect(decidePromotion(liveFig, candFig).promote).toBe(promote);
  });
});
