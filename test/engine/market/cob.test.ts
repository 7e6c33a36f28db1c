import { describe, expect, it } from 'vitest';
import { TimeWeightedMeans } from '../../../engine/market/cob-ma.ts';
import { ConsolidatedBook, imbalanceOf } from '../../../engine/market/cob.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { parseDecimal } from '../../../engine/types/decimal.ts';
import { ConfigError } from '../../../engine/types/errors.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const tickSize = parseDecimal('0.01');
const lotSize = parseDecimal('0.0001');

/** A book from [price, qty] float pairs in tick 0.01 and (by default) lot 0.0001, i.e. 10,000 lots per unit. */
function book(bids: [number, number][], asks: [number, number][], lotsPerUnit = 10_000): OrderBook {
  const b = new OrderBook('ETHUSDT');
  for (const [p, q] of bids) b.set('bid', Math.round(p * 100) as Ticks, Math.round(q * lotsPerUnit) as Lots);
  for (const [p, q] of asks) b.set('ask', Math.round(p * 100) as Ticks, Math.round(q * lotsPerUnit) as Lots);
  return b;
}

// Hand-checked book. Bucket 1 USDT, range 2 (buckets 98..102 around the mid bucket 100), near range 1 (99..101).
const BIDS: [number, number][] = [[100.5, 1], [100.2, 2], [99.9, 3], [98.1, 4], [96, 5]];
const ASKS: [number, number][] = [[100.7, 0.5], [101.3, 1.5], [102, 2.5], [104, 9]];

function cob(extra: Partial<ConstructorParameters<typeof ConsolidatedBook>[0]> = {}) {
  return new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '1', range: 2, imbalanceRange: 1, heatmap: { range: 1, seconds: 10 }, ...extra });
}

describe('ConsolidatedBook', () => {
  it('buckets a hand-checked book around the mid and computes both imbalances', () => {
    const c = cob();
    c.addVenue({ venue: 'binance', book: book(BIDS, ASKS), tickSize, lotSize });
    c.touch('binance', 1_000);
    const s = c.update(1_000);
    expect([s.bestBid, s.bestAsk, s.mid, s.centerBucket]).toEqual([100.5, 100.7, 100.6, 100]);
    expect(s.spread).toBeCloseTo(0.2, 12);
    expect(s.spreadBps).toBeCloseTo((0.2 / 100.6) * 10_000, 9);
    // bucket 98: 98.10×4 | 99: 99.90×3 | 100: 100.50×1 + 100.20×2; 96.00 lies outside the range
    expect(Array.from(s.bidBuckets)).toEqual([4, 3, 3, 0, 0]);
    // bucket 100: 100.70×0.5 | 101: 101.30×1.5 | 102: 102.00×2.5; 104.00 lies outside
    expect(Array.from(s.askBuckets)).toEqual([0, 0, 0.5, 1.5, 2.5]);
    // Both imbalances are taken over equal widths about the mid 100.60, not over whole buckets.
    // Within ±2 (the range): bids 1 + 2 + 3 (98.10 lies below 98.60), asks 0.5 + 1.5 + 2.5.
    expect(s.imbalance).toBeCloseTo((6 - 4.5) / 10.5, 12);
    // Within ±1.5 (imbalanceRange + ½): [99.10, 102.10] holds the same levels.
    expect(s.imbalanceNear).toBeCloseTo((6 - 4.5) / 10.5, 12);
    expect(s.imbalanceMa).toEqual([s.imbalanceNear, s.imbalanceNear, s.imbalanceNear, s.imbalanceNear]); // one sample: every window is that sample
    expect(s.flags).toEqual({ emptyBid: false, emptyAsk: false, crossed: false, staleVenues: [], noLiveVenue: false });
    expect(c.latest()).toBe(s);
  });

  it('gives every snapshot bucket arrays of its own: later updates leave earlier snapshots as they were', () => {
    const c = cob();
    const b = book(BIDS, ASKS);
    c.addVenue({ venue: 'binance', book: b, tickSize, lotSize });
    const kept: { s: ReturnType<typeof c.update>; bid: number[]; ask: number[] }[] = [];
    // 300 snapshots (past several shared backing stores), each after the book changed.
    for (let i = 0; i < 300; i++) {
      b.set('bid', 9_990 as Ticks, (10_000 + i) as Lots);
      b.set('ask', 10_130 as Ticks, (5_000 + 7 * i) as Lots);
      c.touch('binance', i * 100);
      const s = c.update(i * 100);
      kept.push({ s, bid: Array.from(s.bidBuckets), ask: Array.from(s.askBuckets) });
    }
    expect(new Set(kept.map((k) => k.bid[1])).size).toBe(300);
    for (const k of kept) {
      expect(k.s.bidBuckets.length).toBe(5);
      expect(k.s.askBuckets.length).toBe(5);
      expect(Array.from(k.s.bidBuckets)).toEqual(k.bid);
      expect(Array.from(k.s.askBuckets)).toEqual(k.ask);
    }
  });

  it('merges venues by price and takes the best bid and ask across them', () => {
    const c = cob();
    c.addVenue({ venue: 'binance', book: book(BIDS, ASKS), tickSize, lotSize });
    c.addVenue({ venue: 'mexc', book: book([[100.4, 1], [100.55, 0.25]], [[100.65, 2]], 100), tickSize, lotSize: parseDecimal('0.01') });
    c.touch('binance', 0);
    c.touch('mexc', 0);
    const s = c.update(0);
    expect([s.bestBid, s.bestAsk]).toEqual([100.55, 100.65]);
    expect(Array.from(s.bidBuckets)).toEqual([4, 3, 4.25, 0, 0]);
    expect(Array.from(s.askBuckets)).toEqual([0, 0, 2.5, 1.5, 2.5]);
    expect(s.venues.map((v) => [v.venue, v.bidLevels, v.askLevels])).toEqual([['binance', 5, 4], ['mexc', 2, 1]]);
  });

  it('averages the near imbalance over time with weights by how long each value held', () => {
    const clock = new SimulatedClock(0);
    const b = book([[100.5, 1]], [[100.7, 1]]);
    const c = cob();
    c.addVenue({ venue: 'binance', book: b, tickSize, lotSize });
    c.touch('binance', clock.now());
    expect(c.update(clock.now()).imbalanceNear).toBe(0); // 1 vs 1
    clock.advance(250);
    b.set('bid', 10050 as Ticks, 30_000 as Lots); // 3 vs 1: +0.5
    c.touch('binance', clock.now());
    c.update(clock.now());
    clock.advance(750);
    const s = c.update(clock.now());
    // 1 s window: 0 for 250 ms, 0.5 for 750 ms → 0.375; the longer windows only have this 1 s of history.
    expect(s.imbalanceMa).toEqual([0.375, 0.375, 0.375, 0.375]);
  });

  it('flags an empty side without crashing and keeps it out of the moving averages', () => {
    const c = cob();
    c.addVenue({ venue: 'binance', book: book([[100.5, 1], [99.2, 1]], []), tickSize, lotSize });
    c.touch('binance', 0);
    const s = c.update(0);
    expect(s.flags.emptyAsk).toBe(true);
    expect(s.flags.emptyBid).toBe(false);
    expect([s.mid, s.spread, s.bestAsk]).toEqual([NaN, NaN, NaN]);
    expect(s.centerBucket).toBe(100); // the bid side's best
    expect(Array.from(s.bidBuckets)).toEqual([0, 1, 1, 0, 0]);
    expect(s.imbalance).toBe(1);
    expect(s.imbalanceMa).toEqual([NaN, NaN, NaN, NaN]);
    const both = cob();
    both.addVenue({ venue: 'binance', book: book([], []), tickSize, lotSize });
    both.touch('binance', 0);
    const e = both.update(0);
    expect([e.flags.emptyBid, e.flags.emptyAsk, e.centerBucket, e.imbalance]).toEqual([true, true, NaN, 0]);
  });

  it('leaves a stale or non-live venue out and names it', () => {
    const c = cob({ staleMs: 5_000 });
    c.addVenue({ venue: 'binance', book: book(BIDS, ASKS), tickSize, lotSize });
    c.addVenue({ venue: 'mexc', book: book([[100.55, 1]], [[100.65, 1]]), tickSize, lotSize });
    c.touch('binance', 0);
    c.touch('mexc', 12_000);
    const s = c.update(12_300);
    expect(s.flags.staleVenues).toEqual(['binance']);
    expect(s.venues[0]).toMatchObject({ venue: 'binance', stale: true, ageMs: 12_300 });
    expect([s.bestBid, s.bestAsk]).toEqual([100.55, 100.65]); // mexc only
    c.setLive('mexc', false);
    const none = c.update(12_400);
    expect(none.flags.noLiveVenue).toBe(true);
    expect([none.flags.emptyBid, none.flags.emptyAsk]).toEqual([true, true]);
    expect(Array.from(none.bidBuckets).every((v) => v === 0)).toBe(true);
  });

  it('flags a book crossed across venues', () => {
    const c = cob();
    c.addVenue({ venue: 'binance', book: book([[100.5, 1]], [[100.7, 1]]), tickSize, lotSize });
    c.addVenue({ venue: 'mexc', book: book([[100.8, 1]], [[100.9, 1]]), tickSize, lotSize });
    c.touch('binance', 0);
    c.touch('mexc', 0);
    expect(c.update(0).flags.crossed).toBe(true);
  });

  it('refuses a bucket size that is not a whole number of ticks, and bad ranges', () => {
    const c = new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '0.005' });
    expect(() => c.addVenue({ venue: 'binance', book: new OrderBook('x'), tickSize, lotSize })).toThrow(ConfigError);
    expect(() => new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '1e1' })).toThrow(ConfigError);
    expect(() => new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '1', range: 3, imbalanceRange: 4 })).toThrow(ConfigError);
    expect(imbalanceOf(0, 0)).toBe(0);
  });
});

describe('TimeWeightedMeans', () => {
  it('weights each value by how long it held (worked by hand)', () => {
    const m = new TimeWeightedMeans([1_000, 5_000]);
    expect(m.means(0)).toEqual([NaN, NaN]);
    m.add(0, 1);
    m.add(500, -1);
    expect(m.means(1_000)).toEqual([0, 0]);
    m.add(1_000, 0.5);
    expect(m.means(2_000)).toEqual([0.5, 0.25]); // 5 s window covers 0..2000: (500 − 500 + 500) / 2000
    expect(m.means(6_500)).toEqual([0.5, 0.5]);
    m.add(6_500, 1);
    expect(m.means(7_000)).toEqual([0.75, 0.55]); // (0.5·4500 + 1·500) / 5000
  });

  it('matches a brute-force integral on an irregular series and keeps memory bounded', () => {
    const windows = [1_000, 5_000, 15_000, 60_000];
    const m = new TimeWeightedMeans(windows, 16);
    const ts: number[] = [];
    const vs: number[] = [];
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    let t = 0;
    for (let i = 0; i < 20_000; i++) {
      t += rnd() < 0.9 ? Math.floor(rnd() * 20) : Math.floor(rnd() * 3_000); // bursts and quiet gaps
      const v = rnd() * 2 - 1;
      ts.push(t);
      vs.push(v);
      m.add(t, v);
      if (i % 997 === 0) {
        const now = t + Math.floor(rnd() * 500);
        const got = m.means(now);
        windows.forEach((w, k) => {
          const start = Math.max(ts[0]!, now - w);
          let area = 0;
          for (let j = 0; j < ts.length; j++) {
            const a = Math.max(ts[j]!, start);
            const b = j + 1 < ts.length ? Math.min(ts[j + 1]!, now) : now;
            if (b > a) area += vs[j]! * (b - a);
          }
          const want = now > start ? area / (now - start) : vs.at(-1)!;
          expect(got[k]).toBeCloseTo(want, 9);
        });
      }
    }
    // Only the samples inside the longest window (plus the one straddling its start) are kept.
    const inWindow = ts.filter((x) => x > t - 60_000).length;
    expect(m.size).toBeLessThanOrEqual(inWindow + 1);
  });
});
