// Records of the archive crash test: features that barely compress (a linear congruential sequence), so the archive
// is megabytes and a kill lands while it is being written.
import type { InferenceRecord } from '../../../engine/store/inference-history.ts';

const FEATURES = 4_000;

/** Returns record number `i` (model 'cnn', BTC/USDT, ts = i + 1). */
export function crashRecord(i: number): InferenceRecord {
  const features = new Float32Array(FEATURES);
  let x = (i + 1) * 2_654_435_761;
  for (let j = 0; j < FEATURES; j++) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    features[j] = x / 2 ** 32;
  }
  const ts = i + 1;
  return {
    model: 'cnn', symbol: 'BTC/USDT', ts,
    input: { features, shape: [FEATURES], timeframe: '1m' },
    output: { model: 'cnn', version: 'v1', symbol: 'BTC/USDT', ts, action: 'HOLD', probabilities: [0.25, 0.25, 0.5], confidence: 0.5 },
  } as InferenceRecord;
}
