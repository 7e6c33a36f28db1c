// A COB snapshot older than COB_FRESH_MS (2 s) is a book that stopped publishing (down, resyncing after a feed reset):
// it must neither count towards completeness nor reach the models as if live. The engine's SubscriptionManager drops
// such ticks itself (cobMaxAgeMs), but assembleInput/validateInput have other callers.
import { describe, expect, it } from 'vitest';
import { bdiSection, validateBaseDataInput, type BdiSources } from '../../../engine/market/base-data-input.ts';
import { assembleBoth, NOW, world } from './bdi-synthetic.ts';

const withCobAge = (ageMs: number): BdiSources => {
  const w = world(NOW);
  return { ...w, cob: { ...w.cob!, ts: NOW - ageMs } };
};
const cobSections = (d: Float32Array): number[] =>
  [...bdiSection(d, 'cobBid'), ...bdiSection(d, 'cobAsk'), ...bdiSection(d, 'cobStats')];

describe('BaseDataInput with a stale COB snapshot', () => {
  it('leaves a 30 s old snapshot out of completeness and packs no COB', () => {
    const { data, validation } = assembleBoth(withCobAge(30_000));
    expect(validation.completeness).toBeCloseTo(5 / 6, 12);
    expect(validation.quality.freshness).toBeCloseTo(5 / 6, 12);
    expect(validation.reasons).toEqual(['COB snapshot is 30.0 s old, more than 2 s: left out']);
    expect(cobSections(data).every((x) => x === 0)).toBe(true);
    // The series alone still carry the gate (like a COB with no live venue).
    expect(validation.canInfer).toBe(true);
  });

  it('still uses a snapshot exactly 2 s old', () => {
    const { data, validation } = assembleBoth(withCobAge(2_000));
    expect(validation.completeness).toBe(1);
    expect(validation.reasons).toEqual([]);
    expect(bdiSection(data, 'cobStats')[0]).toBe(1);
    expect(cobSections(data).some((x, i) => i < 82 && x > 0)).toBe(true);
  });

  it('validates a stale snapshot the same way without packing', () => {
    expect(validateBaseDataInput(withCobAge(2_001)).completeness).toBeCloseTo(5 / 6, 12);
  });
});
