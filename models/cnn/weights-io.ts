import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ParseError } from '../../engine/types/errors.ts';
import { cnnConfig, type CnnConfig } from './config.ts';
import { CnnModel, type NamedWeights } from './model.ts';

// Our own weight format, because tf.loadLayersModel('file://') needs tfjs-node: a JSON header naming
// each tensor's shape and offset, and one little-endian float32 blob.
const FORMAT = 'cobalt.cnn.weights';
const FORMAT_VERSION = 1;
/** File names inside a CNN weight directory. */
export const CNN_FILES = { meta: 'cnn.json', weights: 'cnn.weights.bin' } as const;

/** The JSON header of a saved CNN. */
export interface CnnWeightsMeta {
  readonly format: typeof FORMAT;
  readonly formatVersion: number;
  /** The model version the caller assigned (e.g. a checkpoint id). */
  readonly version: string;
  readonly config: CnnConfig;
  readonly trainedSteps: number;
  readonly tensors: readonly { name: string; shape: number[]; offset: number; length: number }[];
}

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
  const meta: CnnWeightsMeta = { format: FORMAT, formatVersion: FORMAT_VERSION, version, config: model.config, trainedSteps: model.trainedSteps, tensors };
  await mkdir(dir, { recursive: true });
  // Weights first, header last and renamed into place: a reader never sees a header without its weights.
  await writeFile(path.join(dir, CNN_FILES.weights), blob);
  const tmp = path.join(dir, `${CNN_FILES.meta}.tmp`);
  await writeFile(tmp, JSON.stringify(meta, null, 1));
  await rename(tmp, path.join(dir, CNN_FILES.meta));
  return meta;
}

/** Reads a CNN header from `dir`, checking the format and version. */
export async function readCnnMeta(dir: string): Promise<CnnWeightsMeta> {
  const file = path.join(dir, CNN_FILES.meta);
  let meta: CnnWeightsMeta;
  try {
    meta = JSON.parse(await readFile(file, 'utf8')) as CnnWeightsMeta;
  } catch (err) {
    throw new ParseError(`CNN weights header ${file} could not be read`, { cause: err });
  }
  if (meta.format !== FORMAT) throw new ParseError(`${file}: format '${String(meta.format)}' is not '${FORMAT}'`);
  if (meta.formatVersion !== FORMAT_VERSION) throw new ParseError(`${file}: format version ${meta.formatVersion} is not supported (this build reads ${FORMAT_VERSION})`);
  return meta;
}

/** Loads a CNN saved by `saveCnn`; the tfjs backend must be initialised first. */
export async function loadCnn(dir: string): Promise<{ model: CnnModel; meta: CnnWeightsMeta }> {
  const meta = await readCnnMeta(dir);
  const file = path.join(dir, CNN_FILES.weights);
  const blob = await readFile(file);
  const total = meta.tensors.reduce((n, t) => n + t.length, 0);
  if (blob.length !== total * 4) throw new ParseError(`${file}: ${blob.length} bytes, header describes ${total * 4}`);
  const weights: NamedWeights[] = meta.tensors.map((t) => {
    const data = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) data[i] = blob.readFloatLE((t.offset + i) * 4);
    return { name: t.name, shape: t.shape, data };
  });
  return { model: new CnnModel(cnnConfig(meta.config), weights), meta };
}
