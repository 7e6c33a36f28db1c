import { describe, expect, it } from 'vitest';
import { BDI_INPUT_SPEC, assertInput, checkInput, describeBdiIndex } from '../../../engine/infer/validator.ts';
import { BDI_LENGTH, BDI_SECTIONS } from '../../../engine/market/base-data-input.ts';
import { InputValidationError } from '../../../engine/types/errors.ts';

describe('InferenceDataValidator', () => {
  it('accepts a finite input of the expected shape', () => {
    expect(checkInput(BDI_INPUT_SPEC, new Float32Array(BDI_LENGTH))).toEqual({ ok: true });
  });

  it.each([
    ['a short input', new Float32Array(600), undefined, `BaseDataInput input: expected shape [${BDI_LENGTH}] (${BDI_LENGTH} values), got [600] (600 values)`],
    ['a batched shape', new Float32Array(BDI_LENGTH), [1, BDI_LENGTH], `BaseDataInput input: expected shape [${BDI_LENGTH}] (${BDI_LENGTH} values), got [1, ${BDI_LENGTH}] (${BDI_LENGTH} values)`],
  ])('refuses %s naming expected and actual', (_what, data, dims, message) => {
    expect(checkInput(BDI_INPUT_SPEC, data, dims)).toEqual({ ok: false, code: 'INPUT_SHAPE', message });
  });

  it('refuses NaN and infinities, counting them and naming the first feature through the feature map', () => {
    const data = new Float32Array(BDI_LENGTH);
    data[41 * 30 + 6 + 3] = Number.NaN; // frame 41, primary1m close
    data[BDI_SECTIONS.cobStats.offset + 3] = Number.POSITIVE_INFINITY;
    expect(checkInput(BDI_INPUT_SPEC, data)).toEqual({
      ok: false, code: 'INPUT_NON_FINITE',
      message: `BaseDataInput input: expected finite values, found 2 non-finite; first at ${41 * 30 + 9} (series frame 41 of 300 primary1m.close): NaN`,
    });
    expect(() => assertInput(BDI_INPUT_SPEC, data)).toThrow(InputValidationError);
  });

  it.each([
    [0, 'series frame 0 of 300 primary1s.open'],
    [299 * 30 + 29, 'series frame 299 of 300 reference1s.present'],
    [BDI_SECTIONS.cobBid.offset + 20, 'cobBid[20]'],
    [BDI_SECTIONS.pivots.offset + 13, 'pivots level 2 lastHighRel'],
    [BDI_SECTIONS.models.offset + 7, 'models dqn.pBuy'],
    [BDI_SECTIONS.quality.offset + 1, 'quality.freshness'],
    [BDI_LENGTH, `offset ${BDI_LENGTH} outside the BaseDataInput`],
  ])('names offset %i as %s', (i, name) => {
    expect(describeBdiIndex(i)).toBe(name);
  });
});

describe('checkInput finite scan', () => {
  it('finds one bad value at any position of the four-way sums and in the tail after them', () => {
    const spec = { name: 'flat', dims: [9_190] };
    for (const at of [0, 1, 2, 3, 4, 4_597, 9_187, 9_188, 9_189]) {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const data = new Float32Array(9_190).fill(-3.4e38);
        data[at] = bad;
        expect(checkInput(spec, data)).toMatchObject({ ok: false, code: 'INPUT_NON_FINITE', message: `flat input: expected finite values, found 1 non-finite; first at ${at}: ${bad}` });
      }
    }
    expect(checkInput(spec, new Float32Array(9_190).fill(3.4e38))).toEqual({ ok: true });
  });
});
