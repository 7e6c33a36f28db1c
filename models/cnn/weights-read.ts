// Reading a saved CNN's header and weights without TensorFlow.js (the daemon's online learning reads the live
// version's weights on the main thread, where tfjs is never loaded). The writer is weights-io.ts `saveCnn`.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ParseError } from '../../engine/types/errors.ts';
import { cnnConfig, type CnnConfig } from './config.ts';

/** One named weight tensor as plain floats (CnnModel.weights() order; save/load, ONNX export). */
export interface NamedWeights { readonly name: string; readonly shape: readonly number[]; readonly data: Float32Array }

/** The format the header names. */
export const CNN_WEIGHTS_FORMAT = 'cobalt.cnn.weights';
/** The header version this build reads and writes. */
export const CNN_WEIGHTS_FORMAT_VERSION = 1;
/** File names inside a CNN weight directory. */
export const CNN_FILES = { meta: 'cnn.json', weights: 'cnn.weights.bin' } as const;

/** The JSON header of a saved CNN. */
export interface CnnWeightsMeta {
  readonly format: typeof CNN_WEIGHTS_FORMAT;
  readonly formatVersion: number;
  /** The model version the caller assigned (e.g. a checkpoint id). */
  readonly version: string;
  readonly config: CnnConfig;
  readonly trainedSteps: number;
  readonly tensors: readonly { name: string; shape: number[]; offset: number; length: number }[];
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
  if (meta.format !== CNN_WEIGHTS_FORMAT) throw new ParseError(`${file}: format '${String(meta.format)}' is not '${CNN_WEIGHTS_FORMAT}'`);
  if (meta.formatVersion !== CNN_WEIGHTS_FORMAT_VERSION) throw new ParseError(`${file}: format version ${meta.formatVersion} is not supported (this build reads ${CNN_WEIGHTS_FORMAT_VERSION})`);
  return meta;
}

/** Reads a CNN saved by `saveCnn`: its validated config, weights and header. */
export async function readCnnWeights(dir: string): Promise<{ config: CnnConfig; weights: NamedWeights[]; meta: CnnWeightsMeta }> {
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
  return { config: cnnConfig(meta.config), weights, meta };
}
