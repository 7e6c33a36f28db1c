import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DenseMap } from '../../../engine/market/dense-map.ts';

describe('DenseMap', () => {
  it('keeps keys inside and outside its window, with 0 as absent, and carries them over a re-centring', () => {
    const m = new DenseMap(16); // window of 16 keys around the first one stored: 92..107
    expect([m.get(5), m.size]).toEqual([0, 0]);
    expect(m.set(100, 3)).toBe(0);
    expect(m.set(1_000, 7)).toBe(0); // outside
    expect(m.set(100, 4)).toBe(3);
    m.add(101, 2);
    m.add(1_000, -7); // reaches 0: removed
    expect([m.get(100), m.get(101), m.get(1_000), m.size]).toEqual([4, 2, 0, 2]);
    expect([m.near(100), m.near(92), m.near(107)]).toEqual([true, false, false]);
    m.set(-50, 1);
    m.recenter(-50);
    expect([m.near(-50), m.near(100)]).toEqual([true, false]);
    expect([m.get(100), m.get(101), m.get(-50), m.size]).toEqual([4, 2, 1, 3]);
    expect(m.keys().sort((a, b) => a - b)).toEqual([-50, 100, 101]);
    m.clear();
    expect([m.size, m.get(100), m.keys()]).toEqual([0, 0, []]);
    expect(() => new DenseMap(3)).toThrow(RangeError);
  });

  it('agrees with a Map through random sets, adds, re-centrings and clears (property)', () => {
    const key = fc.integer({ min: -200, max: 200 });
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), k: key, v: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 })) }),
      fc.record({ kind: fc.constant('add' as const), k: key, v: fc.integer({ min: -5, max: 5 }) }),
      fc.record({ kind: fc.constant('recenter' as const), k: key, v: fc.constant(0) }),
      fc.record({ kind: fc.constant('clear' as const), k: key, v: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const m = new DenseMap(32);
        const ref = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            expect(m.set(o.k, o.v)).toBe(ref.get(o.k) ?? 0);
            if (o.v === 0) ref.delete(o.k);
            else ref.set(o.k, o.v);
          } else if (o.kind === 'add') {
            m.add(o.k, o.v);
            const v = (ref.get(o.k) ?? 0) + o.v;
            if (v === 0) ref.delete(o.k);
            else ref.set(o.k, v);
          } else if (o.kind === 'recenter') m.recenter(o.k);
          else {
            m.clear();
            ref.clear();
          }
          expect(m.size).toBe(ref.size);
        }
        for (let k = -210; k <= 210; k++) {
          expect(m.get(k)).toBe(ref.get(k) ?? 0);
          // below/above answer inside the window only, but never wrongly: a found key is the nearest stored one.
          const lo = m.below(k);
          if (lo !== undefined) expect(lo).toBe(Math.max(...[...ref.keys()].filter((x) => x < k)));
          const hi = m.above(k);
          if (hi !== undefined) expect(hi).toBe(Math.min(...[...ref.keys()].filter((x) => x > k)));
        }
        for (const from of [-220, -40, -5, 0, 17, 150]) {
          const out = new Float64Array(24);
          m.readRange(from, out);
          expect([...out]).toEqual(Array.from({ length: 24 }, (_, k) => ref.get(from + k) ?? 0));
        }
        const seen = new Map<number, number>();
        m.forEach((k, v) => void seen.set(k, v));
        expect(new Map([...seen].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...ref].sort((a, b) => a[0] - b[0])));
      }),
      { numRuns: 300, seed: 20241121 },
    );
  });
});
