// CNNAgent runner: a packed BaseDataInput row → the CNN's columns (models/cnn/bdi-adapter.ts, the same selection the
// trainer used) → the inference pool's ONNX CNN → ModelOutput with the BUY/SELL/HOLD probabilities, confidence (the
// largest probability) and the hidden vector other models read.
import type { InferResult } from '../../engine/infer/pool.ts';
import { BDI_LENGTH } from '../../engine/market/base-data-input.ts';
import { ACTIONS, type ModelOutput } from '../../engine/messages/signals.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import { CNN_INPUT_SIZE, CNN_INPUT_SPEC, cnnInputMismatch, selectCnnInput } from '../../models/cnn/bdi-adapter.ts';
import { CNN_ONNX_IO } from '../../models/cnn/onnx-export.ts';
import type { ModelRunner, RunContext } from '../orchestrator/registry.ts';
import { ModelOutputError } from '../orchestrator/coordinator.ts';

/** The part of the inference pool a runner needs. */
export interface InferPort {
  infer(model: string, input: Float32Array, dims: readonly number[]): Promise<InferResult>;
}

/** Options of the CNN runner. */
export interface CnnAgentOptions {
  readonly pool: InferPort;
  /** The model's name inside the pool (default 'cnn'). */
  readonly poolModel?: string;
  /**
   * The metadata of the checkpoint the pool serves (its checkpoint.json, e.g. `CheckpointStore.best('cnn').meta` or
   * `bundledCnnCheckpoint().meta`). Its `input` must be the adapter's (`bdi-klines-v1`, [300, 18] + 50), else the
   * runner is refused. Omit it only for a model built in-process with `cnnConfigForCnnInput()`.
   */
  readonly checkpoint?: { readonly input?: unknown; readonly version?: string };
}

/**
 * Returns the registry runner of the CNN agent; throws InputValidationError for a checkpoint of another input.
 * Finite values are not re-checked here: the coordinator's InferenceDataValidator already checked the whole
 * BaseDataInput this row is cut from.
 */
export function cnnRunner(opts: CnnAgentOptions): ModelRunner {
  const poolModel = opts.poolModel ?? 'cnn';
  if (opts.checkpoint !== undefined) {
    const why = cnnInputMismatch(opts.checkpoint.input);
    if (why !== undefined) throw new InputValidationError(`CNN agent refuses checkpoint ${opts.checkpoint.version ?? '(no version)'}: ${why}`);
  }
  const dims = [1, CNN_INPUT_SIZE] as const;
  return async (input: Float32Array, ctx: RunContext): Promise<ModelOutput> => {
    if (input.length !== BDI_LENGTH) throw new InputValidationError(`CNN agent: input has ${input.length} floats, expected a BaseDataInput of ${BDI_LENGTH}`);
    // A fresh row per call: the pool keeps each request's array until its batch has run (and for a retry).
    const row = selectCnnInput(input);
    const r = await opts.pool.infer(poolModel, row, dims);
    const probs = r.outputs[CNN_ONNX_IO.probs];
    const hidden = r.outputs[CNN_ONNX_IO.hidden];
    if (!probs || probs.length !== ACTIONS.length) throw new ModelOutputError(`CNN agent: pool output '${CNN_ONNX_IO.probs}' has ${probs?.length ?? 0} values, expected ${ACTIONS.length}`);
    let best = 0;
    for (let k = 1; k < probs.length; k++) if (probs[k]! > probs[best]!) best = k;
    return {
      model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts,
      action: ACTIONS[best]!,
      probabilities: [probs[0]!, probs[1]!, probs[2]!],
      confidence: probs[best]!,
      ...(hidden ? { hidden } : {}),
      extra: { inferMs: r.ms, input: CNN_INPUT_SPEC.kind },
    };
  };
}
