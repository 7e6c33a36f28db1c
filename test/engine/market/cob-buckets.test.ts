// The COB read through bucket sums kept by the book (OrderBook.trackBuckets) must give exactly the snapshots of the
// level walk over a book that keeps none: synthetic books (crossed ones too), then the bundled BTC and ETH recordings.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConsolidatedBook, type BookView, type CobSnapshot } from '../../../engine/market/cob.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import type { DepthSnapshot } from '../../../engine/messages/market.ts';
import { parseDecimal } from '../../../engine/types/decimal.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { BookSync } from '../../../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder, classifyFrame } from '../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';

/** A view of a tracking book that refuses to be walked: proves the COB read its bucket sums. */
function sumsOnly(b: OrderBook): BookView {
  return {
    bestBid: () => b.bestBid(),
    bestAsk: () => b.bestAsk(),
    size: (side) => b.size(side),
    // The part of a bucket an imbalance window cuts.
    lotsIn: (side, from, to) => b.lotsIn(side, from, to),
    get bucketTicks() {
      return b.bucketTicks;
    },
    bucketRange: (side, from, out) => b.bucketRange(side, from, out),
    forEachLevel: () => {
      throw new Error('the COB walked a book that keeps bucket sums');
    },
  };
}

const cobConfig = (symbol: string, bucketSize: string, range = 20) =>
  ({ symbol, bucketSize, range, imbalanceRange: Math.min(5, range), heatmap: { seconds: 10, range: Math.min(3, range) } });

describe('ConsolidatedBook over bucket sums', () => {
  it('gives the walk\'s snapshot on random books of one or two venues, crossed or not (property)', () => {
    const tickSize = parseDecimal('0.01');
    // Up to 300 levels in 1,000 ticks: dense enough that the edge buckets of a ±25-bucket window hold some.
    const level = fc.tuple(fc.integer({ min: 9_500, max: 10_500 }), fc.integer({ min: 1, max: 5_000_000 }));
    const venue = fc.record({
      bids: fc.array(level, { maxLength: 300, size: 'max' }),
      asks: fc.array(level, { maxLength: 300, size: 'max' }),
      lot: fc.constantFrom('0.0001', '0.00001', '0.01'),
      // Deletions after the snapshot: the sums must follow them.
      deletes: fc.array(fc.integer({ min: 9_500, max: 10_500 }), { maxLength: 100, size: 'max' }),
    });
    const bucketSizes = fc.constantFrom('0.05', '0.1', '1', '10');
    fc.assert(
      fc.property(fc.array(venue, { minLength: 1, maxLength: 2 }), bucketSizes, fc.integer({ min: 1, max: 25 }), (venues, bucketSize, range) => {
        const walked = new ConsolidatedBook(cobConfig('X', bucketSize, range));
        const summed = new ConsolidatedBook(cobConfig('X', bucketSize, range));
        venues.forEach((v, i) => {
          const name = i === 0 ? 'binance' : 'mexc';
          const plain = new OrderBook('X');
          const tracking = new OrderBook('X');
          const lotSize = parseDecimal(v.lot);
          // Bids and asks overlap freely here, so the books (and the two venues against each other) may be crossed.
          for (const b of [plain, tracking]) {
            b.replace(v.bids.map(([p, q]) => [p as Ticks, q as Lots]), v.asks.map(([p, q]) => [p as Ticks, q as Lots]));
            for (const p of v.deletes) b.set(p % 2 === 0 ? 'bid' : 'ask', p as Ticks, 0 as Lots);
          }
          walked.addVenue({ venue: name, book: plain, tickSize, lotSize });
          tracking.trackBuckets(summed.addVenue({ venue: name, book: sumsOnly(tracking), tickSize, lotSize }));
          walked.touch(name, 0 as TsMs);
          summed.touch(name, 0 as TsMs);
        });
        expect(summed.update(10 as TsMs)).toEqual(walked.update(10 as TsMs));
      }),
      { numRuns: 300, seed: 20240811 },
    );
  });

  it('walks a book that keeps sums of another bucket width', () => {
    const tickSize = parseDecimal('0.01');
    const lotSize = parseDecimal('0.0001');
    const tracking = new OrderBook('X');
    tracking.trackBuckets(7);
    const plain = new OrderBook('X');
    for (const b of [tracking, plain]) {
      b.set('bid', 10_050 as Ticks, 3 as Lots);
      b.set('bid', 9_990 as Ticks, 5 as Lots);
      b.set('ask', 10_070 as Ticks, 2 as Lots);
    }
    const a = new ConsolidatedBook(cobConfig('X', '1', 2));
    const b = new ConsolidatedBook(cobConfig('X', '1', 2));
    a.addVenue({ venue: 'binance', book: tracking, tickSize, lotSize });
    b.addVenue({ venue: 'binance', book: plain, tickSize, lotSize });
    a.touch('binance', 0 as TsMs);
    b.touch('binance', 0 as TsMs);
    const s = a.update(0 as TsMs);
    expect(Array.from(s.bidBuckets)).toEqual([0, 0.0005, 0.0003, 0, 0]);
    expect(s).toEqual(b.update(0 as TsMs));
  });

  // Levels near the parser's 2^53-lot limit: the sum of two passes 2^53 and stops being exact, so deleting all of
  // them would leave a residue (here -1 lot) in a bucket with no level. The book stops offering its sums and the COB
  // walks instead; a reload sums afresh.
  it('walks instead of reading sums that passed 2^53 lots, and sums again after a reload', () => {
    const tickSize = parseDecimal('0.01');
    const lotSize = parseDecimal('0.00001');
    const book = new OrderBook('X');
    book.trackBuckets(1_000);
    book.set('ask', 6_000_100 as Ticks, 100 as Lots);
    book.set('bid', 6_000_000 as Ticks, 100 as Lots);
    for (const [p, q] of [[5_999_001, 9e15], [5_999_002, 9e15], [5_999_003, 1]] as const) book.set('bid', p as Ticks, q as Lots);
    for (const p of [5_999_001, 5_999_002, 5_999_003]) book.set('bid', p as Ticks, 0 as Lots);
    expect(book.bucketTicks).toBe(0);
    const cob = new ConsolidatedBook(cobConfig('X', '10', 2));
    cob.addVenue({ venue: 'binance', book, tickSize, lotSize });
    cob.touch('binance', 0 as TsMs);
    const s = cob.update(0 as TsMs);
    expect(Array.from(s.bidBuckets)).toEqual([0, 0, 0.001, 0, 0]);
    expect(s.imbalance).toBe(0);
    book.replace([[6_000_000 as Ticks, 100 as Lots]], [[6_000_100 as Ticks, 100 as Lots]]);
    expect(book.bucketTicks).toBe(1_000);
  });

  // Both symbols of the bundled recording, replayed into a plain and a tracking book, snapshot at every 100 ms of
  // local time as the aggregator does. ~6,500 snapshots per symbol.
  it.each([
    ['BTC/USDT', 'btc', '10'],
    ['ETH/USDT', 'eth', '1'],
  ])('%s: every snapshot of the recording read from bucket sums equals the walk\'s, float for float', (symbol, file, bucketSize) => {
    const inst = makeInstrument(BINANCE_SPOT_DEFAULTS[symbol]!);
    const lines = readRecordingLinesSync([`data/recordings/spot_${file}usdt_20240808.jsonl.gz`, `data/recordings/spot_${file}usdt_20240809.jsonl.gz`]);
    const decoder = new BinanceFrameDecoder(inst);
    const plain = new BookSync(inst.venueSymbol);
    const tracking = new BookSync(inst.venueSymbol);
    const walked = new ConsolidatedBook({ symbol, bucketSize });
    const summed = new ConsolidatedBook({ symbol, bucketSize });
    walked.addVenue({ venue: 'binance', book: plain.book, tickSize: inst.tickSize, lotSize: inst.lotSize });
    tracking.book.trackBuckets(summed.addVenue({ venue: 'binance', book: sumsOnly(tracking.book), tickSize: inst.tickSize, lotSize: inst.lotSize }));
    let tick = NaN;
    let compared = 0;
    let differing = 0;
    let first: { walked: CobSnapshot; summed: CobSnapshot } | undefined;
    let bucketsFilled = 0;
    for (const line of lines) {
      const kind = classifyFrame(line.text);
      if (kind !== 'depth' && kind !== 'snapshot') continue;
      const now = Number(line.tsLocalNs / 1_000_000n);
      const t = Math.floor(now / 100);
      if (t !== tick && plain.isLive()) {
        tick = t;
        const ts = (t * 100) as TsMs;
        const w = walked.update(ts);
        const s = summed.update(ts);
        compared++;
        // One deep compare per snapshot is slow in vitest; a mismatch is counted here and the first one shown.
        if (!sameSnapshot(w, s)) {
          differing++;
          first ??= { walked: w, summed: s };
        }
        bucketsFilled += w.bidBuckets.filter((x) => x > 0).length + w.askBuckets.filter((x) => x > 0).length;
      }
      tick = t;
      if (kind === 'snapshot') {
        const snap = decoder.decode(line) as DepthSnapshot;
        plain.onSnapshot(snap);
        tracking.onSnapshot(snap);
      } else {
        const f = decoder.decodeDepthFrame(line.text);
        if (typeof f === 'string') continue;
        plain.onDepth(f);
        tracking.onDepth(f);
        walked.touch('binance', now as TsMs);
        summed.touch('binance', now as TsMs);
      }
    }
    expect(first).toBeUndefined();
    expect(differing).toBe(0);
    expect(compared).toBeGreaterThan(6_000);
    // The buckets were not trivially empty: most of the 82 per snapshot hold liquidity.
    expect(bucketsFilled / compared).toBeGreaterThan(40);
    expect([plain.counters.gaps, tracking.counters.applied]).toEqual([0, plain.counters.applied]);
  });
});

/** Exact equality of two snapshots (floats compared with Object.is, so NaN equals NaN and -0 differs from 0). */
function sameSnapshot(a: CobSnapshot, b: CobSnapshot): boolean {
  return JSON.stringify(a, replacer) === JSON.stringify(b, replacer);
}

function replacer(_k: string, v: unknown): unknown {
  if (v instanceof Float64Array) return Array.from(v, (x) => (Object.is(x, -0) ? '-0' : String(x)));
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  return v;
}
