// Malformed bars: left out of the series block (and counted as such), never its normalisation reference, never the
// pivots; and no non-finite value reaches the packed input.
import { describe, expect, it } from 'vitest';
import { BDI_SECTIONS } from '../../../engine/market/base-data-input.ts';
import { BDI_INPUT_SPEC, checkInput } from '../../../engine/infer/validator.ts';
import { assembleBoth, bars, column, NOW, pivots, world } from './bdi-synthetic.ts';

describe('BaseDataInput with malformed bars', () => {
  it('packs the 1m column relative to the newest sane bar when the newest has a NaN close', () => {
    const m1 = bars('1m', NOW, 400);
    m1[399] = { ...m1[399]!, close: NaN };
    const b = assembleBoth(world(NOW, { '1m': m1 }));
    expect(b.validation.frames.primary1m).toBe(299);
    expect(column(b.data, 1, 5).filter((x) => x === 1)).toHaveLength(299);
    expect(column(b.data, 1, 3)[298]).toBe(0);
    expect(column(b.data, 1, 3)[297]).toBeCloseTo(m1[397]!.close / m1[398]!.close - 1, 6);
    expect(checkInput(BDI_INPUT_SPEC, b.data).ok).toBe(true);
  });

  it('takes the reference close from a sane bar when the newest has low 0', () => {
    const m1 = bars('1m', NOW, 400);
    m1[399] = { ...m1[399]!, low: 0, close: m1[399]!.close * 2 };
    const b = assembleBoth(world(NOW, { '1m': m1 }));
    expect(column(b.data, 1, 3)[298]).toBe(0);
  });

  it.each([Infinity, NaN])('keeps a bar with high %s out of the pivots', (high) => {
    const m1 = bars('1m', NOW, 400);
    m1[350] = { ...m1[350]!, high };
    const b = assembleBoth(world(NOW, { '1m': m1 }));
    expect(pivots(b.data).every(Number.isFinite)).toBe(true);
    expect(checkInput(BDI_INPUT_SPEC, b.data).ok).toBe(true);
    expect(pivots(b.data)).toEqual(pivots(assembleBoth(world(NOW, { '1m': m1.filter((_, i) => i !== 350) })).data));
  });

  it('packs a finite COB midRel when the newest 1s close is 0', () => {
    const s1 = bars('1s', NOW, 400);
    s1[399] = { ...s1[399]!, close: 0, low: 0 };
    const b = assembleBoth(world(NOW, { '1s': s1 }));
    expect(Number.isFinite(b.data[BDI_SECTIONS.cobStats.offset + 1]!)).toBe(true);
    expect(checkInput(BDI_INPUT_SPEC, b.data).ok).toBe(true);
  });
});
