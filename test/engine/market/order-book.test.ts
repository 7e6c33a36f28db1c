import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderBook, type BookSide } from '../../../engine/market/order-book.ts';
import { ConfigError } from '../../../engine/types/errors.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const T = (n: number) => n as Ticks;
const L = (n: number) => n as Lots;

/** A naive reference: one Map per side, sorted on read. */
class NaiveBook {
  readonly sides = { bid: new Map<number, number>(), ask: new Map<number, number>() };
  set(side: BookSide, px: number, lots: number): void {
    if (lots === 0) this.sides[side].delete(px);
    else this.sides[side].set(px, lots);
  }
  levels(side: BookSide): [number, number][] {
    return [...this.sides[side]].sort((a, b) => (side === 'bid' ? b[0] - a[0] : a[0] - b[0]));
  }
}

describe('OrderBook', () => {
  it('keeps best bid and ask and their sizes as levels come and go', () => {
    const b = new OrderBook('BTCUSDT');
    b.set('bid', T(100), L(5));
    b.set('bid', T(102), L(1));
    b.set('ask', T(105), L(2));
    b.set('ask', T(103), L(7));
    expect([b.bestBid(), b.bestBidLots(), b.bestAsk(), b.bestAskLots()]).toEqual([102, 1, 103, 7]);
    b.set('bid', T(102), L(0));
    b.set('ask', T(103), L(0));
    expect([b.bestBid(), b.bestAsk()]).toEqual([100, 105]);
    expect(b.lotsAt('bid', T(100))).toBe(5);
    expect(b.lotsAt('bid', T(101))).toBe(0);
    expect(b.size('bid')).toBe(1);
  });

  it('returns undefined tops and no levels when empty, and deleting an absent level is a no-op', () => {
    const b = new OrderBook('X');
    b.set('ask', T(10), L(0));
    expect([b.bestBid(), b.bestAsk(), b.size('ask'), b.levels('bid', 5), b.crossed()]).toEqual([undefined, undefined, 0, [], false]);
  });

  it.each([
    ['bid above ask', 101, 100, true],
    ['bid equal to ask', 100, 100, true],
    ['one tick spread', 99, 100, false],
  ])('crossed() with %s', (_name, bid, ask, crossed) => {
    const b = new OrderBook('X');
    b.set('bid', T(bid), L(1));
    b.set('ask', T(ask), L(1));
    expect(b.crossed()).toBe(crossed);
  });

  it('lists levels best-first and stops forEachLevel when the callback returns false', () => {
    const b = new OrderBook('X');
    for (const p of [5, 1, 9, 3]) b.set('ask', T(p), L(p * 10));
    expect(b.levels('ask', 3)).toEqual([[1, 10], [3, 30], [5, 50]]);
    const seen: number[] = [];
    b.forEachLevel('ask', (px) => {
      seen.push(px);
      return px < 5;
    });
    expect(seen).toEqual([1, 3, 5]);
  });

  it('replace() loads a snapshot in any order, skipping zero sizes', () => {
    const b = new OrderBook('X');
    b.set('bid', T(1), L(1));
    b.replace([[T(10), L(1)], [T(12), L(2)], [T(11), L(0)]], [[T(20), L(3)], [T(15), L(4)]]);
    expect([b.levels('bid', 10), b.levels('ask', 10)]).toEqual([[[12, 2], [10, 1]], [[15, 4], [20, 3]]]);
  });

  it('agrees with a naive Map book on any sequence of updates (property)', () => {
    const op = fc.record({
      side: fc.constantFrom<BookSide>('bid', 'ask'),
      // Prices cluster (as real updates do near the touch) but also land far away.
      px: fc.oneof(fc.integer({ min: 990, max: 1010 }), fc.integer({ min: 1, max: 100_000 })),
      lots: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1_000_000 })),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const b = new OrderBook('X');
        const ref = new NaiveBook();
        for (const o of ops) {
          b.set(o.side, T(o.px), L(o.lots));
          ref.set(o.side, o.px, o.lots);
        }
        for (const side of ['bid', 'ask'] as const) {
          const want = ref.levels(side);
          expect(b.levels(side, Infinity)).toEqual(want);
          expect(b.size(side)).toBe(want.length);
          for (const [px, lots] of want) expect(b.lotsAt(side, T(px))).toBe(lots);
        }
        expect(b.bestBid()).toBe(ref.levels('bid')[0]?.[0]);
        expect(b.bestAsk()).toBe(ref.levels('ask')[0]?.[0]);
      }),
      { numRuns: 300, seed: 20240808 },
    );
  });
  it('stays equal to a naive Map book when reads interleave with updates after a snapshot (property)', () => {
    // Reads between writes make the book merge a few changed prices into its best-first index each time, and
    // deletions of the best level with gaps wider than its probe window force the full-scan fallback.
    const level = fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 0, max: 50 }));
    const op = fc.record({
      side: fc.constantFrom<BookSide>('bid', 'ask'),
      px: fc.oneof(fc.integer({ min: 2_490, max: 2_510 }), fc.integer({ min: 1, max: 5_000 })),
      lots: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 })),
      read: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(level, { maxLength: 200 }), fc.array(level, { maxLength: 200 }), fc.array(op, { maxLength: 300 }), (bids, asks, ops) => {
        const b = new OrderBook('X');
        const ref = new NaiveBook();
        b.replace(bids.map(([p, q]) => [T(p), L(q)]), asks.map(([p, q]) => [T(p), L(q)]));
        for (const [p, q] of bids) ref.set('bid', p, q);
        for (const [p, q] of asks) ref.set('ask', p, q);
        for (const o of ops) {
          b.set(o.side, T(o.px), L(o.lots));
          ref.set(o.side, o.px, o.lots);
          const want = ref.levels(o.side);
          expect([b.bestBid(), b.bestAsk()]).toEqual([ref.levels('bid')[0]?.[0], ref.levels('ask')[0]?.[0]]);
          expect(o.side === 'bid' ? b.bestBidLots() : b.bestAskLots()).toBe(want[0]?.[1] ?? 0);
          if (o.read === 0) expect(b.levels(o.side, Infinity)).toEqual(want);
          if (o.read === 1) {
            const seen: [number, number][] = [];
            b.forEachLevel(o.side, (px, lots) => {
              seen.push([px, lots]);
              return seen.length < 5;
            });
            expect(seen).toEqual(want.slice(0, 5));
          }
        }
        for (const side of ['bid', 'ask'] as const) expect(b.levels(side, Infinity)).toEqual(ref.levels(side));
      }),
      { numRuns: 200, seed: 20240809 },
    );
  });

  it('stays equal to a naive Map book when prices span far more than its dense window and the best moves across it (property)', () => {
    // Prices up to 3,000,000 ticks apart: most levels live outside the 65,536-tick window, the best jumps between
    // clusters (re-centring the window) and deleting it falls back to a scan of both the window and the map.
    const cluster = fc.constantFrom(100_000, 1_000_000, 1_040_000, 3_000_000);
    const px = fc.tuple(cluster, fc.integer({ min: -300, max: 300 })).map(([c, d]) => c + d);
    const op = fc.record({
      side: fc.constantFrom<BookSide>('bid', 'ask'),
      px,
      lots: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 })),
      read: fc.integer({ min: 0, max: 3 }),
      buckets: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(px, fc.integer({ min: 0, max: 50 })), { maxLength: 100 }), fc.array(op, { maxLength: 300 }), (snap, ops) => {
        const b = new OrderBook('X');
        const ref = new NaiveBook();
        b.replace(snap.map(([p, q]) => [T(p), L(q)]), []);
        for (const [p, q] of snap) ref.set('bid', p, q);
        b.trackBuckets(1_000);
        for (const o of ops) {
          b.set(o.side, T(o.px), L(o.lots));
          ref.set(o.side, o.px, o.lots);
          expect([b.bestBid(), b.bestAsk()]).toEqual([ref.levels('bid')[0]?.[0], ref.levels('ask')[0]?.[0]]);
          expect(b.lotsAt(o.side, T(o.px))).toBe(o.lots);
          if (o.read === 0) expect(b.levels(o.side, Infinity)).toEqual(ref.levels(o.side));
          if (o.buckets) {
            const want = new Map<number, number>();
            for (const [p, q] of ref.sides[o.side]) want.set(Math.floor(p / 1_000), (want.get(Math.floor(p / 1_000)) ?? 0) + q);
            expect(new Map([...b.bucketSums(o.side)!].sort((x, y) => x[0] - y[0]))).toEqual(new Map([...want].sort((x, y) => x[0] - y[0])));
          }
        }
        for (const side of ['bid', 'ask'] as const) {
          expect(b.levels(side, Infinity)).toEqual(ref.levels(side));
          expect(b.size(side)).toBe(ref.sides[side].size);
        }
      }),
      { numRuns: 150, seed: 20240810 },
    );
  });

  it('walks best-first from the dense window then the far levels, and a callback that changes the book is followed from the last price visited (property)', () => {
    // Near prices live in the window, the 1,000,000-tick cluster beyond it in the map. At step `at` of the walk the
    // callback applies `edits`: the rest of the walk is then the levels worse than the last price visited, as the
    // book holds them after the edits, best first.
    const px = fc.oneof(fc.integer({ min: 10_000, max: 10_400 }), fc.integer({ min: 1_000_000, max: 1_000_300 }));
    const edit = fc.record({ px, lots: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 })) });
    fc.assert(
      fc.property(fc.constantFrom<BookSide>('bid', 'ask'), fc.array(fc.tuple(px, fc.integer({ min: 1, max: 50 })), { minLength: 1, maxLength: 150 }), fc.integer({ min: 0, max: 40 }), fc.array(edit, { maxLength: 20 }), (side, snap, at, edits) => {
        const b = new OrderBook('X');
        const ref = new NaiveBook();
        const levels = snap.map(([p, q]) => [T(p), L(q)] as [Ticks, Lots]);
        b.replace(side === 'bid' ? levels : [], side === 'ask' ? levels : []);
        for (const [p, q] of snap) ref.set(side, p, q);
        const before = ref.levels(side);
        const seen: [number, number][] = [];
        b.forEachLevel(side, (p, q) => {
          seen.push([p, q]);
          if (seen.length === at + 1) for (const e of edits) {
            b.set(side, T(e.px), L(e.lots));
            ref.set(side, e.px, e.lots);
          }
        });
        const k = Math.min(at + 1, before.length);
        expect(seen.slice(0, k)).toEqual(before.slice(0, k));
        const last = seen[k - 1]![0];
        const worse = (p: number): boolean => (side === 'bid' ? p < last : p > last);
        expect(seen.slice(k)).toEqual(k < at + 1 ? [] : ref.levels(side).filter(([p]) => worse(p)));
      }),
      { numRuns: 300, seed: 20261121 },
    );
  });

  it('keeps no bucket sums unless asked, and refuses a bucket width that is not a positive integer', () => {
    const b = new OrderBook('X');
    b.set('bid', T(105), L(3));
    expect([b.bucketTicks, b.bucketSums('bid'), b.bucketSums('ask')]).toEqual([0, undefined, undefined]);
    expect(() => b.trackBuckets(0)).toThrow(ConfigError);
    expect(() => b.trackBuckets(2.5)).toThrow(ConfigError);
    b.trackBuckets(10);
    b.set('bid', T(109), L(4));
    b.set('bid', T(110), L(1));
    b.set('ask', T(120), L(2));
    expect([b.bucketTicks, [...b.bucketSums('bid')!].sort(), [...b.bucketSums('ask')!]]).toEqual([10, [[10, 7], [11, 1]], [[12, 2]]]);
    b.set('bid', T(105), L(0));
    b.set('bid', T(109), L(0));
    expect([...b.bucketSums('bid')!]).toEqual([[11, 1]]); // an emptied bucket is dropped, not kept at 0
  });

  it('keeps buckets far outside its dense window exact too, and reads them one by one', () => {
    const b = new OrderBook('X');
    b.trackBuckets(1); // one tick per bucket: 200,000 ticks apart is far outside a 65,536-bucket window
    b.set('ask', T(1_000_000), L(5));
    b.set('ask', T(1_200_000), L(7));
    b.set('ask', T(800_000), L(2));
    b.set('ask', T(1_200_000), L(9));
    expect([...b.bucketSums('ask')!].sort((x, y) => x[0] - y[0])).toEqual([[800_000, 2], [1_000_000, 5], [1_200_000, 9]]);
    expect([b.bucketLots('ask', 800_000), b.bucketLots('ask', 1_000_000), b.bucketLots('ask', 1_200_000), b.bucketLots('ask', 1_000_001)]).toEqual([2, 5, 9, 0]);
    b.set('ask', T(1_200_000), L(0));
    b.set('ask', T(800_000), L(0));
    expect([...b.bucketSums('ask')!]).toEqual([[1_000_000, 5]]);
    expect(b.bucketLots('bid', 1_000_000)).toBe(0);
    // A snapshot re-centres the window on its best price: the old far-away bucket is inside now and still exact.
    b.replace([[T(1_500_000), L(4)]], [[T(1_500_001), L(1)], [T(1_000_000), L(3)]]);
    expect([...b.bucketSums('ask')!].sort((x, y) => x[0] - y[0])).toEqual([[1_000_000, 3], [1_500_001, 1]]);
    expect([b.bucketLots('bid', 1_500_000), b.bucketLots('ask', 1_000_000)]).toEqual([4, 3]);
    const range = new Float64Array(4);
    b.bucketRange('ask', 999_999, range); // far from the window placed on the best ask: read key by key from the map
    expect([...range]).toEqual([0, 3, 0, 0]);
    b.bucketRange('ask', 1_500_000, range); // inside the window: one copy
    expect([...range]).toEqual([0, 1, 0, 0]);
    b.clear();
    expect([[...b.bucketSums('bid')!], b.bucketLots('ask', 1_000_000)]).toEqual([[], 0]);
    expect(new OrderBook('Y').bucketLots('bid', 1)).toBe(0); // not tracking: nothing to read
    const untracked = new Float64Array([7, 7]);
    new OrderBook('Z').bucketRange('ask', 5, untracked);
    expect([...untracked]).toEqual([0, 0]);
  });

  it('keeps bucket sums equal to sums recomputed from its levels through any sets, snapshots and clears (property)', () => {
    const px = fc.oneof(fc.integer({ min: 2_450, max: 2_550 }), fc.integer({ min: 1, max: 10_000 }));
    const level = fc.tuple(px, fc.integer({ min: 0, max: 1_000_000 }));
    const op = fc.oneof(
      {
        weight: 20,
        arbitrary: fc.record({
          k: fc.constant('set' as const), side: fc.constantFrom<BookSide>('bid', 'ask'), px, lots: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1_000_000 })),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ k: fc.constant('replace' as const), bids: fc.array(level, { maxLength: 60 }), asks: fc.array(level, { maxLength: 60 }) }),
      },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('clear' as const) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('track' as const), width: fc.constantFrom(1, 7, 100, 1_000) }) },
      // Reads merge the touched prices into the best-first index (or rebuild it); the sums must not care.
      { weight: 2, arbitrary: fc.record({ k: fc.constant('read' as const), side: fc.constantFrom<BookSide>('bid', 'ask') }) },
    );
    const grouped = (levels: Iterable<readonly [number, number]>, width: number): [number, number][] => {
      const m = new Map<number, number>();
      for (const [p, q] of levels) m.set(Math.floor(p / width), (m.get(Math.floor(p / width)) ?? 0) + q);
      return [...m].sort((x, y) => x[0] - y[0]);
    };
    const held = (b: OrderBook, side: BookSide): [number, number][] => [...b.bucketSums(side)!].sort((x, y) => x[0] - y[0]);
    fc.assert(
      fc.property(fc.array(level, { maxLength: 100 }), fc.constantFrom(1, 10, 100), fc.array(op, { maxLength: 300 }), (start, width, ops) => {
        const b = new OrderBook('X');
        const ref = new NaiveBook();
        // Tracking starts on a book that already holds levels.
        for (const [p, q] of start) {
          b.setBid(T(p), L(q));
          b.setAsk(T(p + 10_000), L(q));
          ref.set('bid', p, q);
          ref.set('ask', p + 10_000, q);
        }
        b.trackBuckets(width);
        for (const o of ops) {
          if (o.k === 'set') {
            if (o.side === 'bid') b.setBid(T(o.px), L(o.lots));
            else b.set('ask', T(o.px), L(o.lots));
            ref.set(o.side, o.px, o.lots);
          } else if (o.k === 'replace') {
            b.replace(o.bids.map(([p, q]) => [T(p), L(q)]), o.asks.map(([p, q]) => [T(p), L(q)]));
            ref.sides.bid.clear();
            ref.sides.ask.clear();
            for (const [p, q] of o.bids) ref.set('bid', p, q);
            for (const [p, q] of o.asks) ref.set('ask', p, q);
          } else if (o.k === 'clear') {
            b.clear();
            ref.sides.bid.clear();
            ref.sides.ask.clear();
          } else if (o.k === 'track') {
            b.trackBuckets(o.width);
          } else {
            b.forEachLevel(o.side, () => false);
          }
          // Checked after every step against the naive book, not the book's own levels (reading them would refresh
          // its index and could hide a bug there).
          for (const side of ['bid', 'ask'] as const) expect(held(b, side)).toEqual(grouped(ref.sides[side], b.bucketTicks));
        }
        for (const side of ['bid', 'ask'] as const) {
          expect(b.levels(side, Infinity)).toEqual(ref.levels(side));
          expect(held(b, side)).toEqual(grouped(b.levels(side, Infinity), b.bucketTicks));
        }
      }),
      { numRuns: 200, seed: 20240810 },
    );
  });
});
