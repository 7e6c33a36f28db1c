// CNNAgent runner: a packed BaseDataInput row → the inference pool's ONNX CNN → ModelOutput with the BUY/SELL/HOLD
// probabilities, confidence (the largest probability) and the hidden vector other models read.
import type { InferResult } from '../../engine/infer/pool.ts';
import { BDI_LENGTH } from '../../engine/market/base-data-input.ts';
import { ACTIONS, type ModelOutput } from '../../engine/messages/signals.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
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
  /** Floats per input row (default BDI_LENGTH, the packed BaseDataInput). */
  readonly inputSize?: number;
}

/** Returns the registry runner of the CNN agent. */
export function cnnRunner(opts: CnnAgentOptions): ModelRunner {
  const poolModel = opts.poolModel ?? 'cnn';
  const size = opts.inputSize ?? BDI_LENGTH;
  return async (input: Float32Array, ctx: RunContext): Promise<ModelOutput> => {
    if (input.length !== size) throw new InputValidationError(`CNN agent: input has ${input.length} floats, the model takes ${size}`);
    const r = await opts.pool.infer(poolModel, input, [1, size]);
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
      extra: { inferMs: r.ms },
    };
  };
}
