// Review finding: a REST depth snapshot holds a fixed number of levels (1000: about ±$206 of BTC in the recording,
// against the COB's ±$200 window), and after the price moves a whole side of the COB is made of levels diffs
// touched since, resting orders there missing, with nothing saying so. The book keeps what its snapshot covered and
// the COB snapshot counts, per side, the buckets beyond it.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CobAggregator } from '../../../actors/cob-aggregator/logic.ts';
import { ConsolidatedBook } from '../../../engine/market/cob.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { DepthSnapshot, Level } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { BookSync } from '../../../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder, classifyFrame } from '../../../engine/venues/binance/frames.ts';
import { DepthParser, instrumentGrid } from '../../../engine/venues/binance/parse-depth.ts';
import { replayBook } from '../../../engine/venues/replay/book-replay.ts';
import { ReplayFeed } from '../../../engine/venues/replay/replay-feed.ts';

const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const lv = (rows: [number, number][]): Level[] => rows.map(([p, q]) => [p as Ticks, q as Lots]);
const snap = (L: number, bids: [number, number][], asks: [number, number][]): DepthSnapshot =>
  ({ type: 'md.snapshot', venue: 'binance', symbol: 'ETH/USDT', lastUpdateId: L, bids: lv(bids), asks: lv(asks), tsExchange: 0, tsLocal: 0 });
const diff = (U: number, u: number, b: [string, string][], a: [string, string][]) =>
  JSON.stringify({ e: 'depthUpdate', E: 1, s: 'ETHUSDT', U, u, b, a });

/** A synced ETH BookSync: snapshot bids 99.00..100.50, asks 100.60..102.00 (ticks 0.01), then `diffs` applied. */
function synced(diffs: string[], bids: [number, number][] = [[10_050, 1], [9_900, 1]], asks: [number, number][] = [[10_060, 1], [10_200, 1]]) {
  const sync = new BookSync('ETHUSDT', { rules: 'spot' });
  const parser = new DepthParser(instrumentGrid(ETH));
  sync.onSnapshot(snap(10, bids, asks));
  for (const d of [diff(11, 11, [], []), ...diffs]) {
    expect(parser.parse(d)).toBe(true);
    sync.onDepth(parser.frame);
  }
  expect(sync.state).toBe('live');
  return sync;
}

/** A COB of bucket 1 USDT (100 ticks), range 2, over `sync`'s book. */
function cobOf(sync: BookSync, withCoverage = true) {
  const cob = new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '1', range: 2, imbalanceRange: 1, heatmap: false });
  cob.addVenue({ venue: 'binance', book: sync.book, tickSize: ETH.tickSize, lotSize: ETH.lotSize, ...(withCoverage ? { coverage: () => sync.coverage } : {}) });
  cob.touch('binance', 0);
  return cob;
}

describe('snapshot coverage of the book and the COB', () => {
  it('keeps the snapshot bounds, not widened by diffs beyond them, and drops them on resync', () => {
    const sync = synced(['{"e":"depthUpdate","E":1,"s":"ETHUSDT","U":12,"u":12,"b":[["97.00","1.0"]],"a":[["103.00","1.0"]]}']);
    expect(sync.coverage).toEqual({ lowestBid: 9_900, highestAsk: 10_200 });
    sync.resync('test');
    expect(sync.coverage).toBeUndefined();
  });

  it('counts the buckets each side reaches beyond the snapshot, a straddled bucket included', () => {
    // Center bucket 100 (mid 100.55); window buckets 98..102. Snapshot bids from 99.00, asks up to 102.00.
    const s = cobOf(synced([])).update(0);
    expect(s.centerBucket).toBe(100);
    // Bids: bucket 98 [98, 99) lies below 99.00. Asks: bucket 102 [102, 103) holds prices above 102.00.
    expect(s.flags.beyondSnapshot).toEqual({ bid: 1, ask: 1 });
    // Bids from 99.50: bucket 99 is straddled (99.00..99.49 were not in the snapshot). Asks up to 102.99: none.
    const t = cobOf(synced([], [[10_050, 1], [9_950, 1]], [[10_060, 1], [10_299, 1]])).update(0);
    expect(t.flags.beyondSnapshot).toEqual({ bid: 2, ask: 0 });
  });

  it('after the price moves past the snapshot, the far side is all beyond it; an empty snapshot side is whole', () => {
    // The touch moves down by diffs: the new best bid 98.00 lies under the snapshot's lowest bid 99.00.
    const sync = synced([diff(12, 12, [['100.50', '0'], ['99.00', '0'], ['98.00', '1.0']], [['98.10', '1.0']])]);
    const s = cobOf(sync).update(0);
    // Window 96..100: the bid buckets 96, 97 and 98 (the touch's own) lie below 99.00; the asks are all inside.
    expect(s.centerBucket).toBe(98);
    expect(s.flags.beyondSnapshot).toEqual({ bid: 3, ask: 0 });
    // No bids in the snapshot: the bid side is whole. Asks up to 100.60: buckets 100 (straddled), 101, 102 beyond.
    const oneSided = cobOf(synced([], [], [[10_060, 1]])).update(0);
    expect(oneSided.flags.beyondSnapshot).toEqual({ bid: 0, ask: 3 });
  });

  it('leaves the flag out for a book that says nothing of its snapshot', () => {
    expect(cobOf(synced([]), false).update(0).flags.beyondSnapshot).toBeUndefined();
  });

  it('on the bundled BTC recording: the COB flags the bid buckets below the recorded snapshot, the book still matches', async () => {
    const files = ['data/recordings/spot_btcusdt_20240808.jsonl.gz', 'data/recordings/spot_btcusdt_20240809.jsonl.gz'];
    // The recorded snapshot's lowest bid and highest ask, read straight from the file.
    const dec = new BinanceFrameDecoder(BTC);
    let lowestBid = NaN;
    let highestAsk = NaN;
    for (const file of files) {
      for await (const line of createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity })) {
        const text = line.slice(line.indexOf(' ') + 1);
        if (classifyFrame(text) !== 'snapshot') continue;
        const m = dec.decodeText(text, 0, 'snapshot') as DepthSnapshot;
        lowestBid = Math.min(...m.bids.map(([p]) => p));
        highestAsk = Math.max(...m.asks.map(([p]) => p));
      }
    }
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const feed = new ReplayFeed({ bus, clock, files });
    const agg = new CobAggregator({ bus, clock, snapshots: feed, symbols: [{ symbol: 'BTC/USDT', bucketSize: '10', venues: [BTC] }] });
    agg.start();
    await feed.start();
    await feed.done;
    const last = agg.latest('BTC/USDT')!;
    const ref = await replayBook(files);
    expect([last.bestBid, last.bestAsk]).toEqual([Number(ref.finalTop!.bid), Number(ref.finalTop!.ask)]);
    // Bucket by bucket ($10 = 1000 ticks): a bid bucket starting below the lowest snapshot bid, an ask bucket ending
    // above the highest snapshot ask.
    let bid = 0;
    let ask = 0;
    for (let b = last.centerBucket - last.range; b <= last.centerBucket + last.range; b++) {
      if (b * 1_000 < lowestBid) bid++;
      if ((b + 1) * 1_000 - 1 > highestAsk) ask++;
    }
    expect(last.flags.beyondSnapshot).toEqual({ bid, ask });
    // The price fell under the snapshot's lowest bid: every bid bucket up to the touch is diff-only.
    expect(bid).toBeGreaterThan(last.range);
    agg.stop();
  }, 60_000);
});
