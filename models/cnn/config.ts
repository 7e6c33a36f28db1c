import { createHash } from 'node:crypto';
import { InputValidationError } from '../../engine/types/errors.ts';
import { ACTIONS } from '../../engine/messages/signals.ts';

/**
 * Shape and size of the CNN. The input is one flat row per sample: a [seqLen, features] time series
 * (row-major, time first) followed by `tailLen` flat features (COB, pivots, other models' outputs).
 */
export interface CnnConfig {
  readonly seqLen: number;
  readonly features: number;
  readonly tailLen: number;
  /** Output channels of each convolution. */
  readonly channels: number;
  readonly kernel: number;
  /** One convolution per entry, stacked; dilation 2 on the second widens the receptive field without more weights. */
  readonly dilations: readonly number[];
  /** Size of the dense hidden vector exposed for cross-model feeding. */
  readonly hidden: number;
  /** Number of classes: ACTIONS order (BUY, SELL, HOLD). */
  readonly classes: number;
  readonly learningRate: number;
  /** Seed of the weight initialisation. */
  readonly seed: number;
}

/** Defaults for everything but the input shape. */
export const CNN_DEFAULTS = {
  channels: 32,
  kernel: 5,
  dilations: [1, 2],
  hidden: 32,
  classes: ACTIONS.length,
  learningRate: 1e-3,
  seed: 1,
} as const;

/** Returns a full config from the input shape plus overrides, checked. */
export function cnnConfig(c: Pick<CnnConfig, 'seqLen' | 'features' | 'tailLen'> & Partial<CnnConfig>): CnnConfig {
  const cfg: CnnConfig = { ...CNN_DEFAULTS, ...c, dilations: [...(c.dilations ?? CNN_DEFAULTS.dilations)] };
  for (const k of ['seqLen', 'features', 'channels', 'kernel', 'hidden', 'classes'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new InputValidationError(`CNN config ${k} must be a positive integer, got ${cfg[k]}`);
  }
  if (!Number.isInteger(cfg.tailLen) || cfg.tailLen < 0) throw new InputValidationError(`CNN config tailLen must be an integer >= 0, got ${cfg.tailLen}`);
  if (cfg.dilations.length === 0 || cfg.dilations.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new InputValidationError(`CNN config dilations must be positive integers, got [${cfg.dilations}]`);
  }
  if (convOutLen(cfg, cfg.dilations.length - 1) < 1) {
    throw new InputValidationError(`CNN seqLen ${cfg.seqLen} is too short for ${cfg.dilations.length} convolutions of kernel ${cfg.kernel} with dilations [${cfg.dilations}]`);
  }
  return cfg;
}

/** Returns the flat input length of one sample. */
export function cnnInputSize(cfg: CnnConfig): number {
  return cfg.seqLen * cfg.features + cfg.tailLen;
}

/** Returns the time length after convolution `layer` (0-based, valid padding). */
export function convOutLen(cfg: CnnConfig, layer: number): number {
  let t = cfg.seqLen;
  for (let i = 0; i <= layer; i++) t -= (cfg.kernel - 1) * cfg.dilations[i];
  return t;
}

/** Returns the width of the vector fed to the dense layer: one mean-pooled vector per convolution, then the tail. */
export function denseInputSize(cfg: CnnConfig): number {
  return cfg.channels * cfg.dilations.length + cfg.tailLen;
}

/** Returns a short stable hash of the architecture (not the seed or learning rate) for checkpoint metadata. */
export function cnnConfigHash(cfg: CnnConfig): string {
  const arch = [cfg.seqLen, cfg.features, cfg.tailLen, cfg.channels, cfg.kernel, cfg.dilations.join('.'), cfg.hidden, cfg.classes];
  return createHash('sha256').update(`cnn:${arch.join(',')}`).digest('hex').slice(0, 16);
}
