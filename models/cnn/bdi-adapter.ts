// The CNN's view of the BaseDataInput: the part of the packed input that can be rebuilt from klines alone, so a
// model trained on 30 days of 1m/1h/1d klines sees at inference exactly what it saw in training. The trainer
// (models/train/bdi-dataset.ts) and the CNN agent (actors/model-agents/cnn-agent.ts) both call `selectCnnInput`.
//
// Kept: the primary symbol's 1m, 1h and 1d columns of the [300, 30] series block (open, high, low, close, volume,
// present each; BASE_DATA_INPUT.md) and the Williams pivots of the tail (found on the primary 1m series).
// Left out, because klines cannot rebuild them for training: the 1s series (primary and reference), the COB, the
// other models' outputs, the CNN hidden slot and the quality scores (they depend on the 1s series and the COB).
import {
  BDI_FRAMES, BDI_LENGTH, BDI_SECTIONS, FEATURES_PER_SERIES, SERIES_FEATURES, SERIES_NAMES, type SeriesName,
} from '../../engine/market/base-data-input.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import { cnnConfig, type CnnConfig } from './config.ts';

/** Name and version of this input layout; checkpoints record it and the agent refuses any other. */
export const CNN_INPUT_KIND = 'bdi-klines-v1';
/** Series of the BaseDataInput the CNN reads, in their order inside each frame (consecutive in the BDI). */
export const CNN_INPUT_SERIES: readonly SeriesName[] = ['primary1m', 'primary1h', 'primary1d'];
/** Frames (T) of the CNN's time series: all 300 of the BaseDataInput. */
export const CNN_INPUT_FRAMES = BDI_FRAMES;
/** Features per frame (F): 6 per kept series. */
export const CNN_INPUT_FEATURES = CNN_INPUT_SERIES.length * FEATURES_PER_SERIES;
/** Flat tail after the [T, F] block: the pivots section, [5 levels, 10 features]. */
export const CNN_INPUT_TAIL = BDI_SECTIONS.pivots.length;
/** Floats per CNN input row. */
export const CNN_INPUT_SIZE = CNN_INPUT_FRAMES * CNN_INPUT_FEATURES + CNN_INPUT_TAIL;

// First BDI column of the kept series; the three are adjacent in SERIES_NAMES, so one run per frame.
const FIRST_COL = SERIES_NAMES.indexOf(CNN_INPUT_SERIES[0]!) * FEATURES_PER_SERIES;
const PIVOTS = BDI_SECTIONS.pivots.offset;
if (CNN_INPUT_SERIES.some((s, k) => SERIES_NAMES.indexOf(s) !== SERIES_NAMES.indexOf(CNN_INPUT_SERIES[0]!) + k)) {
  throw new Error('bdi-adapter: the kept series must be adjacent in SERIES_NAMES');
}

/** What a CNN checkpoint says about its input (the `input` field of its checkpoint.json). */
export interface CnnInputSpec {
  readonly kind: string;
  /** [T, F] of the time-series block, then the flat tail length. */
  readonly seqLen: number;
  readonly features: number;
  readonly tailLen: number;
  readonly size: number;
}

/** The input this adapter produces. */
export const CNN_INPUT_SPEC: CnnInputSpec = {
  kind: CNN_INPUT_KIND, seqLen: CNN_INPUT_FRAMES, features: CNN_INPUT_FEATURES, tailLen: CNN_INPUT_TAIL, size: CNN_INPUT_SIZE,
};

/**
 * Copies the CNN's columns out of a packed BaseDataInput into `out` (CNN_INPUT_SIZE floats, allocated when absent)
 * and returns it: frame t, kept feature f at `t * CNN_INPUT_FEATURES + f`, then the 50 pivot floats. No allocation
 * when `out` is given.
 */
export function selectCnnInput(bdi: Float32Array, out: Float32Array = new Float32Array(CNN_INPUT_SIZE)): Float32Array {
  if (bdi.length !== BDI_LENGTH) throw new InputValidationError(`selectCnnInput: BaseDataInput has ${bdi.length} floats, expected ${BDI_LENGTH}`);
  if (out.length !== CNN_INPUT_SIZE) throw new InputValidationError(`selectCnnInput: output buffer has ${out.length} floats, expected ${CNN_INPUT_SIZE}`);
  let o = 0;
  for (let t = 0; t < CNN_INPUT_FRAMES; t++) {
    const from = t * SERIES_FEATURES + FIRST_COL;
    for (let f = 0; f < CNN_INPUT_FEATURES; f++) out[o++] = bdi[from + f]!;
  }
  for (let k = 0; k < CNN_INPUT_TAIL; k++) out[o++] = bdi[PIVOTS + k]!;
  return out;
}

/** Returns the CNN config for this input (hidden defaults to the BDI's cnnHidden slot size via CNN_DEFAULTS). */
export function cnnConfigForCnnInput(overrides: Partial<Omit<CnnConfig, 'seqLen' | 'features' | 'tailLen'>> = {}): CnnConfig {
  return cnnConfig({ ...overrides, seqLen: CNN_INPUT_FRAMES, features: CNN_INPUT_FEATURES, tailLen: CNN_INPUT_TAIL });
}

const fmt = (s: Partial<CnnInputSpec>): string => `'${s.kind}' [${s.seqLen}, ${s.features}] + ${s.tailLen} (${s.size} floats)`;

/**
 * Returns why a checkpoint's recorded input does not match this adapter, or undefined when it does. `input` is the
 * `input` field of a checkpoint.json (unknown: read from disk).
 */
export function cnnInputMismatch(input: unknown): string | undefined {
  if (input === undefined || input === null || typeof input !== 'object') {
    return `the checkpoint records no input kind (trained before ${CNN_INPUT_KIND}, or not by \`cobalt train cnn --input bdi\`); the agent feeds ${fmt(CNN_INPUT_SPEC)}`;
  }
  const s = input as Partial<CnnInputSpec>;
  const same = s.kind === CNN_INPUT_SPEC.kind && s.seqLen === CNN_INPUT_SPEC.seqLen && s.features === CNN_INPUT_SPEC.features
    && s.tailLen === CNN_INPUT_SPEC.tailLen && s.size === CNN_INPUT_SPEC.size;
  return same ? undefined : `the checkpoint's model takes ${fmt(s)}, the agent feeds ${fmt(CNN_INPUT_SPEC)}`;
}
