import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CnnModel } from './model.ts';
import { CNN_FILES, CNN_WEIGHTS_FORMAT, CNN_WEIGHTS_FORMAT_VERSION, readCnnMeta, readCnnWeights, type CnnWeightsMeta } from './weights-read.ts';

// Our own weight format, because tf.loadLayersModel('file://') needs tfjs-node: a JSON header naming each tensor's
// shape and offset, and one little-endian float32 blob. Reading it needs no tfjs (weights-read.ts).
export { CNN_FILES, readCnnMeta, type CnnWeightsMeta };

/** Writes a CNN's config and weights into `dir` (created if missing); returns the header written. */
export async function saveCnn(model: CnnModel, dir: string, version: string): Promise<CnnWeightsMeta> {
  const weights = model.weights();
  const total = weights.reduce((n, w) => n + w.data.length, 0);
  const blob = Buffer.alloc(total * 4);
  const tensors: CnnWeightsMeta['tensors'][number][] = [];
  let offset = 0;
  for (const w of weights) {
    for (let i = 0; i < w.data.length; i++) blob.writeFloatLE(w.data[i], (offset + i) * 4);
    tensors.push({ name: w.name, shape: [...w.shape], offset, length: w.data.length });
    offset += w.data.length;
  }
  const meta: CnnWeightsMeta = { format: CNN_WEIGHTS_FORMAT, formatVersion: CNN_WEIGHTS_FORMAT_VERSION, version, config: model.config, trainedSteps: model.trainedSteps, tensors };
  await mkdir(dir, { recursive: true });
  // Weights first, header last and renamed into place: a reader never sees a header without its weights.
  await writeFile(path.join(dir, CNN_FILES.weights), blob);
  const tmp = path.join(dir, `${CNN_FILES.meta}.tmp`);
  await writeFile(tmp, JSON.stringify(meta, null, 1));
  await rename(tmp, path.join(dir, CNN_FILES.meta));
  return meta;
}

/** Loads a CNN saved by `saveCnn`; the tfjs backend must be initialised first. */
export async function loadCnn(dir: string): Promise<{ model: CnnModel; meta: CnnWeightsMeta }> {
  const { config, weights, meta } = await readCnnWeights(dir);
  return { model: new CnnModel(config, weights), meta };
}
