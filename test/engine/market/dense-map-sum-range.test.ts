// DenseMap.sumRange and OrderBook.lotsIn: the COB sums the part of a bucket its imbalance window cuts in one call, so
// the sum must match key by key reads wherever the range lies (inside the dense window, across its edges, in the Map).
import { describe, expect, it } from 'vitest';
import { DenseMap } from '../../../engine/market/dense-map.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

let seed = 7;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const ri = (a: number, b: number) => a + Math.floor(rnd() * (b - a + 1));

describe('DenseMap.sumRange', () => {
  it('equals the sum of get() over from..to, inside, across and outside the window', () => {
    for (let it = 0; it < 500; it++) {
      const m = new DenseMap(16);
      const keys = ri(0, 40);
      for (let k = 0; k < keys; k++) m.set(ri(-40, 40), rnd() < 0.2 ? 0 : ri(1, 9));
      if (rnd() < 0.3) m.recenter(ri(-30, 30));
      for (let q = 0; q < 20; q++) {
        const from = ri(-50, 50);
        const to = from + ri(-3, 60);
        let want = 0;
        for (let k = from; k <= to; k++) want += m.get(k);
        expect(m.sumRange(from, to)).toBe(want);
      }
    }
  });

  it('equals the sum of get() with block sums kept, through sets, deletes, recentring and clearing', () => {
    for (let it = 0; it < 200; it++) {
      // A narrow window with many keys beyond it has sumRange look far keys up by blocks; a wide one scan the Map.
      const m = new DenseMap(rnd() < 0.5 ? 64 : 512);
      const spread = ri(400, 2_000);
      const early = rnd() < 0.5;
      if (early) m.trackBlocks();
      const sets = ri(0, spread);
      for (let k = 0; k < sets; k++) m.set(ri(-spread, spread), rnd() < 0.2 ? 0 : ri(1, 9));
      if (!early) m.trackBlocks();
      for (let k = 0; k < sets; k++) m.set(ri(-spread, spread), rnd() < 0.3 ? 0 : ri(1, 9));
      if (rnd() < 0.3) m.recenter(ri(-spread, spread));
      if (rnd() < 0.1) {
        m.clear();
        for (let k = 0; k < 50; k++) m.set(ri(-spread, spread), ri(1, 9));
      }
      for (let q = 0; q < 20; q++) {
        const from = ri(-spread - 50, spread + 50);
        const to = from + ri(-3, 2 * spread);
        let want = 0;
        for (let k = from; k <= to; k++) want += m.get(k);
        expect(m.sumRange(from, to)).toBe(want);
      }
    }
  });

  it('stops reading a block sum that passed 2^53 until cleared', () => {
    const m = new DenseMap(512);
    m.trackBlocks();
    const big = Number.MAX_SAFE_INTEGER - 1;
    m.set(0, big);
    m.set(1, 3); // the block sum rounds
    m.set(0, 0); // a residue would remain in it
    expect(m.sumRange(-200, 200)).toBe(3);
    m.clear();
    m.set(5, 2);
    expect(m.sumRange(-200, 200)).toBe(2);
  });

  it('is 0 on an empty map and for an empty range', () => {
    const m = new DenseMap(16);
    expect(m.sumRange(0, 100)).toBe(0);
    m.set(5, 3);
    m.set(500, 4); // outside the window
    expect(m.sumRange(6, 5)).toBe(0);
    expect(m.sumRange(5, 5)).toBe(3);
    expect(m.sumRange(0, 1_000)).toBe(7);
  });
});

describe('OrderBook.lotsIn', () => {
  it('sums a side over a price range, far levels included', () => {
    const b = new OrderBook('X');
    b.setBid(1_000_000 as Ticks, 2 as Lots);
    b.setBid(999_990 as Ticks, 3 as Lots);
    b.setBid(10 as Ticks, 5 as Lots); // far below: outside the dense window
    b.setAsk(1_000_001 as Ticks, 7 as Lots);
    expect(b.lotsIn('bid', 999_990 as Ticks, 1_000_000 as Ticks)).toBe(5);
    expect(b.lotsIn('bid', 999_991 as Ticks, 1_000_001 as Ticks)).toBe(2);
    expect(b.lotsIn('bid', 0 as Ticks, 1_000_000 as Ticks)).toBe(10);
    expect(b.lotsIn('ask', 0 as Ticks, 1_000_000 as Ticks)).toBe(0);
    expect(b.lotsIn('ask', 1_000_001 as Ticks, 1_000_001 as Ticks)).toBe(7);
  });
});
