// Training jobs run inside a worker thread (models/train/worker.mjs), off the engine's event loop:
// `train` fine-tunes a copy of the live CNN on (input, outcome) pairs and scores live and candidate on held-out
// pairs; `save` writes a CNN's weights and ONNX export into a checkpoint directory; `dqn` fine-tunes a copy of the live
// DQN on its own recent decisions and scores live and candidate on the held-out ones (models/online/dqn-finetune.ts).
import path from 'node:path';
import type { CnnConfig } from '../cnn/config.ts';
import { CnnModel, type NamedWeights } from '../cnn/model.ts';
import { writeCnnOnnx } from '../cnn/onnx-export.ts';
import { saveCnn } from '../cnn/weights-io.ts';
import { Rng } from '../dqn/rng.ts';
import { fineTuneDqn, type DqnFineTuneResult, type DqnFineTuneSpec } from '../online/dqn-finetune.ts';
import { initTfBackend } from '../tf-backend.ts';
import { classFigures, type ClassFigures } from './report.ts';

/** Row-major samples: `x` is [n, inputSize], `y` the class of each row. */
export interface Rows { readonly x: Float32Array; readonly y: Uint8Array }

/** Fine-tune a copy of `weights` for `steps` minibatches of `train`, then score before/after on `heldOut`. */
export interface TrainTask {
  readonly kind: 'train';
  readonly config: CnnConfig;
  readonly weights: readonly NamedWeights[];
  readonly train: Rows;
  readonly heldOut: Rows;
  readonly steps: number;
  readonly batch: number;
  readonly learningRate: number;
  readonly seed: number;
}

/** What a train task returns. */
export interface TrainTaskResult {
  readonly weights: NamedWeights[];
  readonly live: ClassFigures;
  readonly candidate: ClassFigures;
  /** The candidate's held-out probabilities and hidden vectors (for the ONNX parity check). */
  readonly candidateProbs: Float32Array;
  readonly candidateHidden: Float32Array;
  readonly losses: number[];
  readonly backend: string;
}

/** Write a CNN's weights (saveCnn) and `cnn.onnx` into `dir`. */
export interface SaveTask {
  readonly kind: 'save';
  readonly config: CnnConfig;
  readonly weights: readonly NamedWeights[];
  readonly dir: string;
  readonly version: string;
}

/** Fine-tune a copy of the live DQN (models/online/dqn-finetune.ts); plain JS, no tfjs. */
export interface DqnTrainTask extends DqnFineTuneSpec {
  readonly kind: 'dqn';
}

/** Runs one task. */
export async function handle(task: TrainTask | SaveTask | DqnTrainTask): Promise<TrainTaskResult | { saved: string } | DqnFineTuneResult> {
  if (task.kind === 'dqn') return fineTuneDqn(task);
  const backend = await initTfBackend();
  if (task.kind === 'save') {
    const m = new CnnModel(task.config, task.weights);
    try {
      await saveCnn(m, task.dir, task.version);
      await writeCnnOnnx(path.join(task.dir, 'cnn.onnx'), m.config, m.weights(), task.version);
    } finally {
      m.dispose();
    }
    return { saved: task.dir };
  }
  const size = task.train.x.length / Math.max(1, task.train.y.length);
  const model = new CnnModel({ ...task.config, learningRate: task.learningRate }, task.weights);
  try {
    const live = score(model, task.heldOut);
    const rng = new Rng(task.seed);
    const n = task.train.y.length;
    const losses: number[] = [];
    for (let s = 0; s < task.steps && n > 0; s++) {
      const b = Math.min(task.batch, n);
      const x = new Float32Array(b * size);
      const y = new Uint8Array(b);
      for (let k = 0; k < b; k++) {
        const i = rng.int(n);
        x.set(task.train.x.subarray(i * size, (i + 1) * size), k * size);
        y[k] = task.train.y[i]!;
      }
      losses.push(model.trainStep(x, y));
    }
    const out = model.predict(task.heldOut.x, task.heldOut.y.length);
    return {
      weights: model.weights(), live, candidate: classFigures(out.probs, task.heldOut.y),
      candidateProbs: out.probs, candidateHidden: out.hidden, losses, backend: backend.backend,
    };
  } finally {
    model.dispose();
  }
}

function score(model: CnnModel, rows: Rows): ClassFigures {
  return classFigures(model.predict(rows.x, rows.y.length).probs, rows.y);
}
