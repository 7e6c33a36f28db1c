// A tiny CNN and 200 labelled pairs of random inputs (label: the sign of the first input), for tests of the online
// TrainingPipeline with a real worker and ONNX export: small enough to train in a second.
import { CnnModel } from '../../../models/cnn/model.ts';
import type { LabelledPrediction } from '../../../models/online/outcome-evaluator.ts';
import type { LiveCnn } from '../../../models/online/pipeline.ts';
import { initTfBackend } from '../../../models/tf-backend.ts';

/** Inputs per pair (seqLen 16 × 2 features). */
export const TINY_CNN_INPUT = 32;

/** Returns the live version 'base' of a tiny CNN and 200 pairs one minute apart, each resolved 5 minutes later. */
export async function tinyCnnAndPairs(): Promise<{ live: LiveCnn; pairs: LabelledPrediction[] }> {
  await initTfBackend();
  const m = new CnnModel({ seqLen: 16, features: 2, tailLen: 0, channels: 4, hidden: 4, seed: 3 });
  const live: LiveCnn = { version: 'base', config: m.config, weights: m.weights() };
  m.dispose();
  let seed = 1;
  const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const pairs = Array.from({ length: 200 }, (_, i): LabelledPrediction => {
    const input = Float32Array.from({ length: TINY_CNN_INPUT }, () => rnd() - 0.5);
    const t0 = 1_600_000_000_000 + i * 60_000;
    return { model: 'cnn', version: 'base', symbol: 'ETH/USDT', ts: t0 + 70_000, predicted: 'HOLD', realised: 'HOLD', label: input[0]! > 0 ? 0 : 1, t0Ms: t0, t1Ms: t0 + 300_000, input };
  });
  return { live, pairs };
}
