// Regression (issue 5): the inference history stores whole BaseDataInputs (9,190 floats), and the pipeline used to
// drop every pair whose input length was not the CNN's 5,450, so online learning never trained the engine's CNN.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import { ModelRegistry, type ModelRunner } from '../../actors/orchestrator/registry.ts';
import { BDI_LENGTH } from '../../engine/market/base-data-input.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BUNDLED_CNN_DIR } from '../../models/bundled/index.ts';
import { CheckpointStore } from '../../models/checkpoints.ts';
import { CNN_INPUT_SIZE, selectCnnInput } from '../../models/cnn/bdi-adapter.ts';
import { cnnConfig } from '../../models/cnn/config.ts';
import { loadCnn } from '../../models/cnn/weights-io.ts';
import type { LabelledPrediction } from '../../models/online/outcome-evaluator.ts';
import { cnnTrainingRow, TrainingPipeline, workerTrainer, type CandidateTrainer, type LiveCnn } from '../../models/online/pipeline.ts';
import { initTfBackend } from '../../models/tf-backend.ts';
import { DECISION_LAG_MS, replayBaseDataInputs } from '../../models/train/bdi-dataset.ts';
import type { TrainTask, TrainTaskResult } from '../../models/train/worker-task.ts';

const MIN = 60_000;
const HORIZON = 15;
let pairs: LabelledPrediction[];
let live: LiveCnn;
let root: string;

// Stored predictions as the inference history holds them: the BaseDataInput a DataProvider packed from the real ETH
// 1m klines at each minute (replayed as the engine's stream), labelled by the sign of the next 15 minutes' move.
beforeAll(async () => {
  const archive = new KlinesArchive(['data/klines']);
  const from = Date.parse('2024-08-08T02:00:00Z'), n = 180;
  const grid = archive.all('ETH/USDT', '1m').filter((c) => c.openTime + MIN <= from + (n + HORIZON + 1) * MIN);
  const decisionMs = Float64Array.from({ length: n }, (_, k) => from + k * MIN + DECISION_LAG_MS);
  const closeAt = (t: number): number => grid.find((c) => c.openTime + MIN === t)!.close;
  pairs = [];
  await replayBaseDataInputs(archive, 'ETH/USDT', grid, decisionMs, 60, (bdi, d) => {
    const t0 = decisionMs[d]! - DECISION_LAG_MS, t1 = t0 + HORIZON * MIN;
    const label = closeAt(t1) > closeAt(t0) ? 0 : 1;
    pairs.push({ model: 'cnn', version: 'v0', symbol: 'ETH/USDT', ts: decisionMs[d]!, predicted: 'HOLD', realised: label === 0 ? 'BUY' : 'SELL', label, t0Ms: t0 - MIN, t1Ms: t1 - MIN, input: bdi.slice() });
  });
  await initTfBackend();
  const { model } = await loadCnn(BUNDLED_CNN_DIR);
  live = { version: 'bundled', config: model.config, weights: model.weights() };
  model.dispose();
  root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-bdi-'));
}, 120_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

function pipeline(trainer: CandidateTrainer, dir: string): TrainingPipeline {
  const clock = new SimulatedClock(1_000);
  const registry = new ModelRegistry();
  const runner: ModelRunner = async (_x, ctx) => ({ model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action: 'HOLD', probabilities: [0, 0, 1], confidence: 1 });
  registry.register('cnn', { version: 'bundled', run: runner }, clock.now());
  return new TrainingPipeline({
    model: 'cnn', registry, checkpoints: new CheckpointStore({ root: path.join(root, dir), clock }), trainer, clock, live,
    runnerFor: () => runner, steps: 3, batch: 16, minTrain: 50,
  });
}

describe('online TrainingPipeline on stored BaseDataInputs', () => {
  it('trains the engine CNN on the selectCnnInput columns of the stored inputs, and skips inputs of other lengths', async () => {
    let task: Omit<TrainTask, 'kind'> | undefined;
    const fig = { n: 54, accuracy: 0.5, logLoss: 0.7 };
    const stub: CandidateTrainer = {
      train: async (t): Promise<TrainTaskResult> => {
        task = t;
        return { weights: [], live: fig, candidate: fig, candidateProbs: new Float32Array(), candidateHidden: new Float32Array(), losses: [], backend: 'stub' };
      },
      save: async () => { throw new Error('not promoted: never saved'); },
      close: async () => {},
    };
    const foreign = { ...pairs[0]!, ts: pairs[0]!.ts + 1, input: new Float32Array(600) };
    const run = await pipeline(stub, 'stub').runOnce([...pairs].reverse().concat(foreign));

    expect(pairs[0]!.input!.length).toBe(BDI_LENGTH);
    expect(run.heldOutPairs).toBe(54); // 30 % of the 180 BaseDataInput pairs; the 600-float input is not counted
    expect(run.trainPairs + run.purged).toBe(126);
    expect(task!.train.x.length).toBe(run.trainPairs * CNN_INPUT_SIZE);
    expect(task!.heldOut.x.length).toBe(54 * CNN_INPUT_SIZE);
    // Rows in time order, each the adapter's columns of its stored input.
    expect(task!.train.x.subarray(0, CNN_INPUT_SIZE)).toEqual(selectCnnInput(pairs[0]!.input!));
    expect(task!.heldOut.x.subarray(53 * CNN_INPUT_SIZE)).toEqual(selectCnnInput(pairs[179]!.input!));
    expect(Array.from(task!.heldOut.y)).toEqual(pairs.slice(126).map((p) => p.label));
    expect(run.promoted).toBe(false);
  }, 60_000);

  it('leaves a BaseDataInput-length input out for a CNN that does not take the engine input', () => {
    const klineCnn = cnnConfig({ seqLen: 60, features: 10, tailLen: 0 });
    expect(cnnTrainingRow(pairs[0]!.input, klineCnn)).toBeUndefined();
    expect(cnnTrainingRow(new Float32Array(600), klineCnn)?.length).toBe(600);
    expect(cnnTrainingRow(pairs[0]!.input, live.config)).toEqual(selectCnnInput(pairs[0]!.input!));
  });

  it('fine-tunes the bundled CNN in the worker thread on them and scores it on the held-out pairs', async () => {
    const trainer = workerTrainer();
    try {
      const run = await pipeline(trainer, 'worker').runOnce(pairs);
      expect(run.reason).not.toMatch(/not enough pairs/);
      expect(run.live!.n).toBe(54);
      expect(run.candidate!.n).toBe(54);
      // Three Adam steps moved the weights: the held-out loss changed.
      expect(run.candidate!.logLoss).not.toBe(run.live!.logLoss);
    } finally {
      await trainer.close();
    }
  }, 120_000);
});
