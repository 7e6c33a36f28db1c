// The DQN's state as both the trainer (dqn-bdi.ts) and the engine (app/models.ts) build it from a BaseDataInput:
// the RL agent's `bdiRlState(30)` layout ('bdi-rl-v1', 85 floats), then two recorded transforms so that training
// and serving compute the same floats:
// - `zeroed` parts are set to 0. A kline replay cannot rebuild the COB scalars, and the DQN's own output slot holds
//   its previous answer at runtime (a function of the policy being trained), so a DQN trained on replayed klines
//   zeroes both, and the engine zeroes them too. Without a CNN in training the CNN slot and hidden vector are zeroed.
// - the 1m closes (packed as close / newest close − 1, about ±0.005 over 30 minutes) are multiplied by `closesScale`
//   so the MLP sees values near ±1.
// A checkpoint records both, plus the sha-256 of the CNN ONNX whose outputs filled the CNN slots in training: the
// engine loads the DQN only beside that same CNN.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bdiRlState, type StateBuilder } from '../../actors/model-agents/rl-agent.ts';
import { BDI_SECTIONS, MODEL_FEATURE_NAMES } from '../../engine/market/base-data-input.ts';
import { InputValidationError } from '../../engine/types/errors.ts';

/** Layout name of the state (the RL agent's bdiRlState(30)); app/models.ts exports it as RL_STATE_KIND. */
export const DQN_STATE_KIND = 'bdi-rl-v1';
/** 1m closes in the state. */
export const DQN_STATE_WINDOW = 30;
/** The parts of the state, in order. */
export const DQN_STATE_PARTS = ['closes', 'cobStats', 'cnnSlot', 'dqnSlot', 'cnnHidden'] as const;
/** One part of the state. */
export type DqnStatePart = (typeof DQN_STATE_PARTS)[number];

const F = MODEL_FEATURE_NAMES.length;
const LENGTHS: Record<DqnStatePart, number> = {
  closes: DQN_STATE_WINDOW, cobStats: BDI_SECTIONS.cobStats.length, cnnSlot: F, dqnSlot: F, cnnHidden: BDI_SECTIONS.cnnHidden.length,
};
if (BDI_SECTIONS.models.length !== 2 * F) throw new Error('dqn-state: the models section must hold the cnn slot then the dqn slot');

/** Offset and length of each part inside the state vector. */
export const DQN_STATE_LAYOUT: Readonly<Record<DqnStatePart, { readonly offset: number; readonly length: number }>> = (() => {
  let offset = 0;
  const out = {} as Record<DqnStatePart, { offset: number; length: number }>;
  for (const p of DQN_STATE_PARTS) {
    out[p] = { offset, length: LENGTHS[p] };
    offset += LENGTHS[p];
  }
  return out;
})();

/** Floats in the state. */
export const DQN_STATE_SIZE = DQN_STATE_PARTS.reduce((n, p) => n + LENGTHS[p], 0);

/** What a DQN checkpoint records as its input (`input` of checkpoint.json). */
export type DqnStateInput = {
  readonly kind: typeof DQN_STATE_KIND;
  readonly size: number;
  readonly window: number;
  readonly zeroed: readonly DqnStatePart[];
  readonly closesScale: number;
  /**
   * The CNN whose outputs filled the CNN slots in training, or null when they were zeroed. `dataSpan` is that CNN's
   * (its labels reach the DQN through those outputs), kept here so that it stays known after the CNN's checkpoint is
   * pruned; absent on checkpoints written before it was recorded.
   */
  readonly cnn: { readonly version: string; readonly onnxSha256: string; readonly dataSpan?: { readonly fromMs: number; readonly toMs: number } } | null;
  /** Minutes between the training decisions. */
  readonly everyMinutes: number;
  /** The symbol whose klines were replayed (absent on checkpoints written before it was recorded); a run trading another passes the DQN over. */
  readonly symbol?: string;
};

/** Returns the state builder for a recorded input: bdiRlState(30), the zeroed parts set to 0, the closes scaled. */
export function dqnStateBuilder(t: Pick<DqnStateInput, 'zeroed' | 'closesScale'>): StateBuilder {
  const base = bdiRlState(DQN_STATE_WINDOW);
  const zero = t.zeroed.map((p) => DQN_STATE_LAYOUT[p]);
  const { offset: c0, length: cn } = DQN_STATE_LAYOUT.closes;
  const scale = t.closesScale;
  return (bdi) => {
    const s = base(bdi);
    if (s.length !== DQN_STATE_SIZE) throw new InputValidationError(`DQN state: bdiRlState gave ${s.length} floats, the ${DQN_STATE_KIND} layout has ${DQN_STATE_SIZE}`);
    for (let k = c0; k < c0 + cn; k++) s[k] = s[k]! * scale;
    for (const z of zero) s.fill(0, z.offset, z.offset + z.length);
    return s;
  };
}

/**
 * Returns why a DQN checkpoint's recorded input cannot be served beside the CNN the engine runs (its ONNX sha-256,
 * undefined when no CNN runs), or undefined when it can. `input` is read from disk.
 */
export function dqnInputMismatch(input: unknown, cnnOnnxSha256: string | undefined): string | undefined {
  const i = (input ?? {}) as Partial<Record<keyof DqnStateInput, unknown>>;
  if (typeof input !== 'object' || input === null || i.kind !== DQN_STATE_KIND) {
    return `trained on ${typeof i.kind === 'string' ? i.kind : 'trading-env features'}, the engine's RL agent feeds ${DQN_STATE_KIND}`;
  }
  if (i.size !== DQN_STATE_SIZE) return `its state has ${String(i.size)} floats, ${DQN_STATE_KIND} has ${DQN_STATE_SIZE}`;
  if (i.zeroed !== undefined && (!Array.isArray(i.zeroed) || i.zeroed.some((p) => !DQN_STATE_PARTS.includes(p as DqnStatePart)))) {
    return `zeroed parts [${String(i.zeroed)}] are not all of ${DQN_STATE_PARTS.join(', ')}`;
  }
  if (i.closesScale !== undefined && !(typeof i.closesScale === 'number' && Number.isFinite(i.closesScale))) return `closesScale ${String(i.closesScale)} is not a number`;
  const cnn = i.cnn as DqnStateInput['cnn'] | undefined;
  if (cnn && cnn.onnxSha256 !== cnnOnnxSha256) {
    return cnnOnnxSha256 === undefined
      ? `trained with CNN ${cnn.version} in its state, and no CNN runs`
      : `trained with CNN ${cnn.version} (onnx sha-256 ${cnn.onnxSha256.slice(0, 12)}…), the engine runs another CNN (${cnnOnnxSha256.slice(0, 12)}…)`;
  }
  return undefined;
}

/** Returns the state transforms of a checkpoint input that passed `dqnInputMismatch` (plain bdiRlState when absent). */
export function dqnStateOf(input: unknown): Pick<DqnStateInput, 'zeroed' | 'closesScale'> {
  const i = input as Partial<DqnStateInput>;
  return { zeroed: i.zeroed ?? [], closesScale: i.closesScale ?? 1 };
}

/** Returns the hex sha-256 of a file (a CNN's ONNX: which CNN a DQN's state was built with). */
export function fileSha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
