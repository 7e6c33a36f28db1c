import { describe, expect, it } from 'vitest';
import { ConsolidatedBook, type CobSnapshot } from '../../../engine/market/cob.ts';
import { CobHeatmap } from '../../../engine/market/heatmap.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { parseDecimal } from '../../../engine/types/decimal.ts';
import { BINANCE_SPOT_DEFAULTS, lotsToFloat, makeInstrument, ticksToFloat } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { BookSync } from '../../../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder } from '../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';

describe('CobHeatmap', () => {
  it('keeps the last snapshot of each second, carries empty seconds and drops the oldest column', () => {
    const b = new OrderBook('ETHUSDT');
    b.set('bid', 10050 as Ticks, 10_000 as Lots); // 100.50 × 1
    b.set('ask', 10070 as Ticks, 10_000 as Lots); // 100.70 × 1
    const cob = new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '1', range: 2, heatmap: { seconds: 3, range: 1 } });
    cob.addVenue({ venue: 'binance', book: b, tickSize: parseDecimal('0.01'), lotSize: parseDecimal('0.0001') });
    cob.touch('binance', 1_000);
    cob.update(1_000);
    b.set('bid', 9_950 as Ticks, 30_000 as Lots); // adds 99.50 × 3 (bucket 99)
    cob.update(1_500); // same second: replaces the column
    b.set('bid', 9_950 as Ticks, 0 as Lots);
    cob.touch('binance', 4_200);
    cob.update(4_200);
    const hm = cob.heatmap!;
    const vol = hm.matrix('volume');
    expect([vol.columns, vol.rows, Array.from(vol.times), Array.from(vol.samples)]).toEqual([3, 3, [2_000, 3_000, 4_000], [0, 0, 1]]);
    // rows are buckets 99, 100, 101; seconds 2 and 3 carry second 1's last state (99.50 × 3 present)
    expect(Array.from(vol.values)).toEqual([3, 2, 0, 3, 2, 0, 0, 2, 0]);
    expect(Array.from(hm.matrix('imbalance').values)).toEqual([1, 0, 0, 1, 0, 0, 0, 0, 0]);
    const spread = hm.matrix('spread');
    expect(spread.rows).toBe(1);
    expect(Array.from(spread.values).map((v) => Math.round(v * 100) / 100)).toEqual([0.2, 0.2, 0.2]);
    expect(Array.from(vol.centers)).toEqual([100, 100, 100]);
    expect(hm.newestTime()).toBe(4_000);
  });

  it('ignores snapshots older than its newest column and refuses a wider range than the snapshot', () => {
    const hm = new CobHeatmap({ seconds: 5, range: 0 });
    const snap = (ts: number, bid: number) =>
      ({ ts, range: 0, bucketSize: 1, centerBucket: 7, spread: 0.5, bidBuckets: Float64Array.of(bid), askBuckets: Float64Array.of(0) }) as CobSnapshot;
    hm.record(snap(5_000, 1));
    hm.record(snap(3_900, 9)); // an earlier second: ignored
    expect(Array.from(hm.matrix('bid').values)).toEqual([1]);
    expect(() => new CobHeatmap({ range: 3 }).record(snap(6_000, 1))).toThrow(RangeError);
    expect(hm.length).toBe(1);
  });
});

describe('CobHeatmap single-column reads', () => {
  it('reads each column as the matrix holds it, after the ring wrapped, without a full copy', () => {
    const hm = new CobHeatmap({ seconds: 4, range: 1 });
    const snap = (ts: number, k: number) => ({
      ts, range: 1, bucketSize: 1, centerBucket: 100 + k, spread: 0.1 * k,
      bidBuckets: Float64Array.of(k, k + 1, k + 2), askBuckets: Float64Array.of(2 * k, 0, 3 * k),
    }) as CobSnapshot;
    for (const [ts, k] of [[1_000, 1], [2_500, 2], [5_100, 3], [6_000, 4], [6_900, 5]] as const) hm.record(snap(ts, k));
    // Seconds 3 and 4 carry second 2; second 6 holds its last snapshot (k = 5); the ring keeps 3..6.
    const bid = hm.matrix('bid');
    const ask = hm.matrix('ask');
    const spread = hm.matrix('spread');
    expect(hm.length).toBe(4);
    for (let j = 0; j < hm.length; j++) {
      const c = hm.column(j)!;
      expect(c).toEqual({
        time: bid.times[j], center: bid.centers[j], bucketSize: 1, spread: spread.values[j], samples: bid.samples[j],
        bid: bid.values.slice(j * 3, j * 3 + 3), ask: ask.values.slice(j * 3, j * 3 + 3),
      });
      expect(hm.columnTime(j)).toBe(bid.times[j]);
    }
    expect(Array.from(bid.times)).toEqual([3_000, 4_000, 5_000, 6_000]);
    expect(hm.latestColumn()).toEqual(hm.column(3));
    expect(Array.from(hm.latestColumn()!.bid)).toEqual([5, 6, 7]);
    expect([hm.column(4), hm.column(-1), hm.column(0.5), hm.columnTime(4)]).toEqual([undefined, undefined, undefined, NaN]);
    // A copy: editing it leaves the heatmap alone.
    hm.column(3)!.bid[0] = 99;
    expect(hm.column(3)!.bid[0]).toBe(5);
    expect(new CobHeatmap().latestColumn()).toBeUndefined();
  });
});

describe('COB and heatmap on the real ETH/USDT recording', () => {
  it('builds a 300 s × 21-bucket heatmap whose columns are the last snapshot of each second', () => {
    const inst = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
    const dec = new BinanceFrameDecoder(inst);
    const sync = new BookSync('ETHUSDT', { rules: 'spot' });
    const cob = new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '1' });
    cob.addVenue({ venue: 'binance', book: sync.book, tickSize: inst.tickSize, lotSize: inst.lotSize });
    const lastOfSecond = new Map<number, CobSnapshot>();
    let updates = 0;
    let crossed = 0;
    let last: CobSnapshot | undefined;
    const lines = readRecordingLinesSync(['data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz']);
    for (const line of lines) {
      if (!line.text.includes('depthUpdate') && !line.text.startsWith('{"lastUpdateId"')) continue;
      const m = dec.decode(line);
      if (m.type === 'md.snapshot') sync.onSnapshot(m);
      else if (m.type === 'md.depth' && sync.onDiff(m) === 'applied') {
        cob.touch('binance', m.tsExchange);
        last = cob.update(m.tsExchange);
        lastOfSecond.set(Math.floor(m.tsExchange / 1_000), last);
        updates++;
        if (last.flags.crossed || last.flags.emptyBid || last.flags.emptyAsk) crossed++;
      }
    }
    expect(updates).toBeGreaterThan(6_000);
    expect(crossed).toBe(0);

    const hm = cob.heatmap!;
    const imb = hm.matrix('imbalance');
    const bid = hm.matrix('bid');
    const ask = hm.matrix('ask');
    const spread = hm.matrix('spread');
    expect([imb.columns, imb.rows, imb.values.length, spread.values.length]).toEqual([300, 21, 6_300, 300]);
    expect(imb.times[299]).toBe(Math.floor(last!.ts / 1_000) * 1_000);
    for (let j = 1; j < 300; j++) expect(imb.times[j]! - imb.times[j - 1]!).toBe(1_000);
    expect(imb.values.every((v) => v >= -1 && v <= 1)).toBe(true);
    let observed = 0;
    for (let j = 0; j < 300; j++) {
      const snap = lastOfSecond.get(imb.times[j]! / 1_000);
      if (imb.samples[j]! > 0) {
        observed++;
        expect(snap).toBeDefined();
        const want = (a: Float64Array) => Array.from(a.subarray(10, 31), Math.fround);
        expect(Array.from(bid.values.subarray(j * 21, j * 21 + 21))).toEqual(want(snap!.bidBuckets));
        expect(Array.from(ask.values.subarray(j * 21, j * 21 + 21))).toEqual(want(snap!.askBuckets));
        expect(spread.values[j]).toBe(Math.fround(snap!.spread));
        expect(imb.centers[j]).toBe(snap!.centerBucket);
      } else {
        expect(snap).toBeUndefined();
        expect(Array.from(bid.values.subarray(j * 21, j * 21 + 21))).toEqual(Array.from(bid.values.subarray((j - 1) * 21, j * 21)));
      }
    }
    expect(observed).toBeGreaterThan(250);

    // The last snapshot's buckets, recomputed naively from every level of the book in float prices.
    const s = last!;
    const lo = s.centerBucket - s.range;
    const naive = (side: 'bid' | 'ask') => {
      const out = new Array<number>(41).fill(0);
      for (const [p, q] of sync.book.levels(side, 100_000)) {
        const k = Math.floor(ticksToFloat(inst, p)) - lo;
        if (k >= 0 && k < 41) out[k] += lotsToFloat(inst, q);
      }
      return out;
    };
    naive('bid').forEach((v, k) => expect(s.bidBuckets[k]).toBeCloseTo(v, 9));
    naive('ask').forEach((v, k) => expect(s.askBuckets[k]).toBeCloseTo(v, 9));
    expect(s.centerBucket).toBe(Math.floor(s.mid));
    expect(s.spread).toBeGreaterThan(0);
    expect(s.imbalanceMa.every((v) => v >= -1 && v <= 1)).toBe(true);
  });
});
