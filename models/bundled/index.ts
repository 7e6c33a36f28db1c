// Models shipped with the repository (a CNN and a DQN), for a first run without training: the system loads one when
// the configured checkpoint directory has no usable one. How each was produced and how to regenerate it: models/bundled/README.md.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckpointMeta } from '../checkpoints.ts';
import type { CnnInputSpec } from '../cnn/bdi-adapter.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Folder of the bundled CNN checkpoint (cnn.onnx, cnn.json, cnn.weights.bin, checkpoint.json, train-report.json). */
export const BUNDLED_CNN_DIR = path.join(HERE, 'cnn');

/** A bundled CNN: its ONNX file for the inference pool and its checkpoint metadata (with the input it takes). */
export interface BundledCnn {
  readonly onnxPath: string;
  readonly meta: CheckpointMeta & { readonly input?: CnnInputSpec };
  readonly dir: string;
}

/**
 * Returns the bundled CNN checkpoint, or undefined when its files are missing. Pass `meta` to the CNN agent
 * (`cnnRunner({ pool, checkpoint: meta })`): it checks the recorded input against what the agent feeds.
 */
export function bundledCnnCheckpoint(dir: string = BUNDLED_CNN_DIR): BundledCnn | undefined {
  const onnxPath = path.join(dir, 'cnn.onnx');
  const metaPath = path.join(dir, 'checkpoint.json');
  if (!existsSync(onnxPath) || !existsSync(metaPath)) return undefined;
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as BundledCnn['meta'];
  return { onnxPath, meta, dir };
}

/** Folder of the bundled DQN checkpoint (meta.json + weights.bin of models/dqn/io.ts, checkpoint.json, train-report.json). */
export const BUNDLED_DQN_DIR = path.join(HERE, 'dqn');

/** A bundled DQN: its folder (`loadDqn(dir)`) and its checkpoint metadata, whose `input` describes its state. */
export interface BundledDqn {
  readonly dir: string;
  readonly meta: CheckpointMeta;
}

/**
 * Returns the bundled DQN checkpoint, or undefined when its files are missing. Check `meta.input` with
 * `dqnInputMismatch` (models/train/dqn-state.ts) and build its state with `dqnStateBuilder(dqnStateOf(meta.input))`.
 */
export function bundledDqnCheckpoint(dir: string = BUNDLED_DQN_DIR): BundledDqn | undefined {
  const metaPath = path.join(dir, 'checkpoint.json');
  if (!existsSync(metaPath) || !existsSync(path.join(dir, 'meta.json')) || !existsSync(path.join(dir, 'weights.bin'))) return undefined;
  return { dir, meta: JSON.parse(readFileSync(metaPath, 'utf8')) as CheckpointMeta };
}
