// A bucket the imbalance window cuts is summed over its cut part in one book read, not one read per price: with wide
// buckets (BTC $50 = 5,000 ticks) a read per price cost the COB ~60 µs a snapshot and grew with the bucket width.
import { describe, expect, it } from 'vitest';
import { ConsolidatedBook, type BookView } from '../../../engine/market/cob.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { parseDecimal } from '../../../engine/types/decimal.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const tickSize = parseDecimal('0.01');
const lotSize = parseDecimal('0.00001');

/** Counts every method call the COB makes on the book, by name. */
function counted(b: OrderBook): { view: BookView; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const view = new Proxy(b, {
    get(target, key, recv) {
      const v = Reflect.get(target, key, recv) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(key), (calls.get(String(key)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { view, calls };
}

describe('ConsolidatedBook reads of a cut bucket', () => {
  it.each([true, false])('costs a few book reads per snapshot, whatever the bucket width (bucket sums kept: %s)', (track) => {
    const b = new OrderBook('BTC');
    // BTC around 60,000.37 with a level every 7 ticks over ±5 buckets of $50.
    const bb = 6_000_037;
    for (let k = 0; k < 4_000; k++) {
      b.setBid((bb - 7 * k) as Ticks, (1 + (k % 5)) as Lots);
      b.setAsk((bb + 3 + 7 * k) as Ticks, (1 + (k % 3)) as Lots);
    }
    const { view, calls } = counted(b);
    const c = new ConsolidatedBook({ symbol: 'BTC', bucketSize: '50', range: 4, imbalanceRange: 1, heatmap: false });
    const bt = c.addVenue({ venue: 'binance', book: view, tickSize, lotSize });
    expect(bt).toBe(5_000);
    if (track) b.trackBuckets(bt);
    c.touch('binance', 0);
    const s = c.update(0);
    // Per side: at most two cut buckets per window, each summed in at most two reads, for two windows.
    expect(calls.get('lotsAt') ?? 0).toBe(0);
    expect(calls.get('lotsIn') ?? 0).toBeLessThanOrEqual(16);

    // Same result as a direct sum over the prices p with |2p − twoMid| <= w.
    const twoMid = bb + bb + 3;
    const sum = (side: 'bid' | 'ask', w: number) => {
      let t = 0;
      b.forEachLevel(side, (p, q) => void (Math.abs(2 * p - twoMid) <= w && (t += q)));
      return t;
    };
    const imb = (w: number) => (sum('bid', w) - sum('ask', w)) / (sum('bid', w) + sum('ask', w));
    expect(s.imbalance).toBeCloseTo(imb(2 * 4 * bt), 12);
    expect(s.imbalanceNear).toBeCloseTo(imb(3 * bt), 12);
  });
});
