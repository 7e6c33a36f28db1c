// Models shipped with the repository, for a first run without training: the system loads one when the configured
// checkpoint directory has none. How each was produced and how to regenerate it: models/bundled/README.md.
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
