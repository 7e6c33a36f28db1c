import * as ort from 'onnxruntime-node';
import { cnnInputSize } from '../cnn/config.ts';
import type { CnnModel } from '../cnn/model.ts';
import { CNN_ONNX_IO } from '../cnn/onnx-export.ts';

/** Largest ONNX-vs-tfjs difference a saved model may show. */
export const PARITY_TOLERANCE = 1e-5;

/** Result of an ONNX-vs-tfjs comparison. */
export interface ParityResult {
  readonly samples: number;
  /** Largest |onnx − tfjs| over probabilities and hidden vectors. */
  readonly maxAbsDiff: number;
  readonly ok: boolean;
}

/** Runs `onnx` (bytes) and the tfjs model on the same `batch` rows of `x` and compares probabilities and hidden vectors. */
export async function onnxParity(model: CnnModel, onnx: Uint8Array, x: Float32Array, batch: number): Promise<ParityResult> {
  const tfOut = model.predict(x, batch);
  const session = await ort.InferenceSession.create(onnx);
  try {
    const out = await session.run({ [CNN_ONNX_IO.input]: new ort.Tensor('float32', x, [batch, cnnInputSize(model.config)]) });
    const probs = out[CNN_ONNX_IO.probs]!.data as Float32Array;
    const hidden = out[CNN_ONNX_IO.hidden]!.data as Float32Array;
    let max = probs.length === tfOut.probs.length && hidden.length === tfOut.hidden.length ? 0 : Infinity;
    for (let i = 0; i < Math.min(probs.length, tfOut.probs.length); i++) max = Math.max(max, Math.abs(probs[i]! - tfOut.probs[i]!));
    for (let i = 0; i < Math.min(hidden.length, tfOut.hidden.length); i++) max = Math.max(max, Math.abs(hidden[i]! - tfOut.hidden[i]!));
    if (Number.isNaN(max)) max = Infinity;
    return { samples: batch, maxAbsDiff: max, ok: max <= PARITY_TOLERANCE };
  } finally {
    await session.release();
  }
}
