import { beforeAll, describe, expect, it } from 'vitest';
import {
  BDI_FRAMES, BDI_LENGTH, BDI_SECTIONS, bdiSection, bdiSeriesFeature, SERIES_FEATURE_NAMES, type BaseDataInput,
} from '../../engine/market/base-data-input.ts';
import {
  CNN_INPUT_FEATURES, CNN_INPUT_KIND, CNN_INPUT_SERIES, CNN_INPUT_SIZE, CNN_INPUT_SPEC, CNN_INPUT_TAIL, cnnInputMismatch, selectCnnInput,
} from '../../models/cnn/bdi-adapter.ts';
import { loadRealWorld, realInput } from '../actors/orchestrator/real-input.ts';

// A real BaseDataInput inside the bundled recording: ETH 1s bars from the recorded trades, BTC 1s reference,
// ETH 1m/1h/1d klines, so every series (the ones the CNN must not read included) holds real values.
let input: BaseDataInput;
beforeAll(() => {
  const w = loadRealWorld();
  input = realInput(w, w.end);
}, 60_000);

describe('CNN input adapter (bdi-klines-v1)', () => {
  it('copies the primary 1m, 1h and 1d columns of every frame, then the pivots, as the feature map places them', () => {
    const x = selectCnnInput(input.data);
    expect(x).toHaveLength(CNN_INPUT_SIZE);
    expect([CNN_INPUT_FEATURES, CNN_INPUT_TAIL, CNN_INPUT_SIZE]).toEqual([18, 50, 300 * 18 + 50]);
    CNN_INPUT_SERIES.forEach((series, s) => {
      SERIES_FEATURE_NAMES.forEach((feature, f) => {
        const want = bdiSeriesFeature(input.data, series, feature);
        const got = Float32Array.from({ length: BDI_FRAMES }, (_, t) => x[t * CNN_INPUT_FEATURES + s * SERIES_FEATURE_NAMES.length + f]!);
        expect(got, `${series}.${feature}`).toEqual(want);
      });
      // Real data, not zeros: every kept series is present in every frame and its newest close is the reference (0).
      expect(bdiSeriesFeature(input.data, series, 'present').every((p) => p === 1)).toBe(true);
    });
    expect(x.subarray(BDI_FRAMES * CNN_INPUT_FEATURES)).toEqual(bdiSection(input.data, 'pivots'));
    expect(bdiSection(input.data, 'pivots').some((v) => v !== 0)).toBe(true);
  });

  it('reads nothing else: the 1s series, the COB, model outputs and quality can hold anything', () => {
    const noisy = input.data.slice();
    const kept = new Set<number>();
    for (let t = 0; t < BDI_FRAMES; t++) for (let f = 6; f < 24; f++) kept.add(t * 30 + f);
    for (let k = 0; k < BDI_SECTIONS.pivots.length; k++) kept.add(BDI_SECTIONS.pivots.offset + k);
    let changed = 0;
    for (let i = 0; i < BDI_LENGTH; i++) if (!kept.has(i)) { noisy[i] = 1e6 + i; changed++; }
    expect(changed).toBe(BDI_LENGTH - CNN_INPUT_SIZE);
    expect(selectCnnInput(noisy)).toEqual(selectCnnInput(input.data));
  });

  it('writes into the given buffer and checks both lengths', () => {
    const out = new Float32Array(CNN_INPUT_SIZE).fill(NaN);
    expect(selectCnnInput(input.data, out)).toBe(out);
    expect(out).toEqual(selectCnnInput(input.data));
    expect(() => selectCnnInput(new Float32Array(100))).toThrow(/BaseDataInput has 100 floats, expected 9190/);
    expect(() => selectCnnInput(input.data, new Float32Array(9))).toThrow(/output buffer has 9 floats, expected 5450/);
  });

  it.each([
    ['no input recorded', undefined, /records no input kind/],
    ['the kline-window model', { kind: 'klines-v1', seqLen: 60, features: 10, tailLen: 0, size: 600 }, /takes 'klines-v1' \[60, 10\] \+ 0 \(600 floats\), the agent feeds 'bdi-klines-v1' \[300, 18\] \+ 50 \(5450 floats\)/],
    ['the same kind with another shape', { ...CNN_INPUT_SPEC, tailLen: 0, size: 5400 }, /takes 'bdi-klines-v1' \[300, 18\] \+ 0/],
  ])('names expected and actual input for %s', (_name, spec, why) => {
    expect(cnnInputMismatch(spec)).toMatch(why);
  });

  it('accepts its own input spec', () => {
    expect(cnnInputMismatch(JSON.parse(JSON.stringify(CNN_INPUT_SPEC)))).toBeUndefined();
    expect(CNN_INPUT_SPEC.kind).toBe(CNN_INPUT_KIND);
  });
});
