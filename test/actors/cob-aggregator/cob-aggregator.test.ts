// The COBAggregator over the bundled BTC and ETH recordings (all four files) through the replay feed, supervised
// as it runs in the engine, on a SimulatedClock moved by the data.
import { beforeAll, describe, expect, it } from 'vitest';
import { CobAggregator, CobHandle, cobAggregatorChild, cobSettingsFromConfig, cobSymbolsFromConfig, type CobSymbolSpec } from '../../../actors/cob-aggregator/index.ts';
import { validateConfig } from '../../../engine/config/index.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { CobHeatmapMsg, CobSnapshotMsg } from '../../../engine/messages/cob.ts';
import type { BookStatus } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { Supervisor } from '../../../engine/runtime/supervisor.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, ticksToPrice, type Instrument } from '../../../engine/types/instrument.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { SnapshotSource } from '../../../engine/venues/feed.ts';
import { replayBook, type BookReplayResult } from '../../../engine/venues/replay/book-replay.ts';
import { ReplayFeed } from '../../../engine/venues/replay/replay-feed.ts';

const rec = (sym: string) => [`data/recordings/spot_${sym}usdt_20240808.jsonl.gz`, `data/recordings/spot_${sym}usdt_20240809.jsonl.gz`];
const FILES = [...rec('btc'), ...rec('eth')];
const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const SYMBOLS: CobSymbolSpec[] = [
  { symbol: 'BTC/USDT', bucketSize: '10', venues: [BTC] },
  { symbol: 'ETH/USDT', bucketSize: '1', venues: [ETH] },
];

describe('COBAggregator on the full BTC + ETH recording, supervised', () => {
  const snaps: Record<string, CobSnapshotMsg[]> = { 'BTC/USDT': [], 'ETH/USDT': [] };
  const columns: Record<string, CobHeatmapMsg[]> = { 'BTC/USDT': [], 'ETH/USDT': [] };
  const statuses: BookStatus[] = [];
  const handle = new CobHandle();
  let feed: ReplayFeed;
  let clock: SimulatedClock;
  let sup: Supervisor;
  let reference: Record<string, BookReplayResult>;
  let lastLineTs = 0;

  beforeAll(async () => {
    const bus = new Bus<EngineMsg>();
    clock = new SimulatedClock(0);
    feed = new ReplayFeed({ bus, clock, files: FILES });
    bus.subscribe('cob.snapshot', (m) => snaps[m.symbol]!.push(m));
    bus.subscribe('cob.heatmap', (m) => columns[m.symbol]!.push(m));
    bus.subscribe('md.bookStatus', (m) => statuses.push(m));
    bus.subscribe('md.bookTicker', (m) => (lastLineTs = Math.max(lastLineTs, m.tsLocal)));
    bus.subscribe('md.depthRaw', (m) => (lastLineTs = Math.max(lastLineTs, m.tsLocal)));
    bus.subscribe('md.trade', (m) => (lastLineTs = Math.max(lastLineTs, m.tsLocal)));
    sup = new Supervisor({ bus, clock, children: [cobAggregatorChild({ bus, clock, snapshots: feed, symbols: SYMBOLS, handle })] }).start();
    await feed.start();
    await feed.done;
    reference = { 'BTC/USDT': await replayBook(rec('btc')), 'ETH/USDT': await replayBook(rec('eth')) };
  }, 60_000);

  it('syncs both books once from the recorded snapshots: 0 gaps, 0 crossed, 0 malformed, both live', () => {
    const agg = handle.current!;
    const c = agg.counters();
    expect([c.gaps, c.crossed, c.malformed, c.resyncs, c.misrouted, c.duplicates]).toEqual([0, 0, 0, 0, 0, 0]);
    // Every diff the reference replay applied, for both symbols (2 per symbol are covered by the snapshot).
    expect([c.frames, c.applied, c.snapshots]).toEqual([6495 + 6470, 6493 + 6468, 2]);
    expect([agg.bookState('BTC/USDT'), agg.bookState('ETH/USDT')]).toEqual(['live', 'live']);
    expect(statuses.map((s) => `${s.symbol} ${s.status}`)).toEqual(['BTC/USDT live', 'ETH/USDT live']);
    expect(sup.status()[0]).toMatchObject({ id: 'cob', state: 'running', restarts: 0 });
  });

  it('ends with the same top of book as book-replay computes for each recording', () => {
    for (const [symbol, inst] of [['BTC/USDT', BTC], ['ETH/USDT', ETH]] as const) {
      const b = handle.current!.book(symbol)!;
      const top = {
        bid: ticksToPrice(inst, b.book.bestBid()!), bidQty: qty(inst, b.book.bestBidLots()),
        ask: ticksToPrice(inst, b.book.bestAsk()!), askQty: qty(inst, b.book.bestAskLots()),
      };
      expect(top).toEqual(reference[symbol]!.finalTop);
      expect(b.lastUpdateId).toBe(reference[symbol]!.lastUpdateId);
      // The last published snapshot shows that book.
      const last = handle.latest(symbol)!;
      expect([last.bestBid, last.bestAsk]).toEqual([Number(top.bid), Number(top.ask)]);
    }
  });

  it('publishes cob.snapshot at 10 Hz of simulated time, on every 100 ms boundary from sync to the last line', () => {
    for (const symbol of ['BTC/USDT', 'ETH/USDT']) {
      const list = snaps[symbol]!;
      const liveAt = statuses.find((s) => s.symbol === symbol && s.status === 'live')!.tsLocal;
      // A tick at time t fires before the line stamped t is applied, so the first tick that sees the book is > liveAt.
      expect(list.length).toBe(Math.floor(lastLineTs / 100) - Math.floor(liveAt / 100));
      expect(list.length).toBeGreaterThan(6_450);
      expect(list.length).toBeLessThan(6_520);
      expect(list.every((m, i) => m.ts % 100 === 0 && (i === 0 || m.ts - list[i - 1]!.ts === 100))).toBe(true);
    }
  });

  it('never publishes a crossed or one-sided snapshot, and the imbalance averages are defined throughout', () => {
    for (const symbol of ['BTC/USDT', 'ETH/USDT']) {
      const bad = snaps[symbol]!.filter(({ cob }) =>
        !(cob.bestBid < cob.bestAsk) || cob.flags.crossed || cob.flags.emptyBid || cob.flags.emptyAsk || cob.flags.noLiveVenue
        || cob.bidBuckets.length !== 41 || cob.imbalanceMa.length !== 4 || cob.imbalanceMa.some((x) => !(Math.abs(x) <= 1)));
      expect(bad).toEqual([]);
      // The mid sits in the center bucket, which is bucket floor(mid / bucketSize).
      const last = snaps[symbol]!.at(-1)!.cob;
      expect(last.centerBucket).toBe(Math.floor(last.mid / last.bucketSize));
    }
  });

  it('keeps the heatmap incrementally: a full 300 s ring, and one cob.heatmap per finished second', () => {
    for (const symbol of ['BTC/USDT', 'ETH/USDT']) {
      const m = handle.heatmap(symbol, 'volume')!;
      expect([m.columns, m.rows]).toEqual([300, 21]);
      const cols = columns[symbol]!;
      expect(cols.every((c, i) => i === 0 || c.time - cols[i - 1]!.time === 1000)).toBe(true);
      // One per second between the first snapshot's second and the newest (still filling) column.
      const first = Math.floor(snaps[symbol]![0]!.ts / 1000) * 1000;
      expect(cols.length).toBe((m.times[m.columns - 1]! - first) / 1000);
      // The ring's finished columns are the published ones.
      const j = m.columns - 2;
      const col = cols.at(-1)!;
      expect(col.time).toBe(m.times[j]);
      expect(Array.from(col.bid, (b, r) => Math.fround(b + col.ask[r]!))).toEqual(Array.from(m.values.subarray(j * 21, (j + 1) * 21)));
    }
  });
});

function qty(inst: Instrument, lots: number): string {
  return ticksToPrice({ ...inst, tickSize: inst.lotSize }, lots as Ticks);
}

describe('COBAggregator driven directly', () => {
  it('takes its settings and bucket sizes from the engine config', () => {
    const res = validateConfig({});
    if (!res.ok) throw new Error(res.problems.join('; '));
    const config = res.config;
    const settings = cobSettingsFromConfig(config.cob);
    expect(settings).toMatchObject({ publishHz: 10, range: 20, imbalanceRange: 5, maWindowsMs: [1000, 5000, 15000, 60000], heatmap: { seconds: 300, range: 10 } });
    expect(cobSymbolsFromConfig(config, [ETH, BTC])).toEqual([
      { symbol: 'ETH/USDT', bucketSize: '1', venues: [ETH] },
      { symbol: 'BTC/USDT', bucketSize: '10', venues: [BTC] },
    ]);
  });

  it('has each book keep bucket sums of its COB\'s bucket width (the snapshot reads them, not the levels)', () => {
    const agg = new CobAggregator({ bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), snapshots: { requestSnapshot: () => {} }, symbols: SYMBOLS });
    // 10 USDT and 1 USDT in ticks of 0.01.
    expect([agg.book('BTC/USDT')!.book.bucketTicks, agg.book('ETH/USDT')!.book.bucketTicks]).toEqual([1_000, 100]);
  });

  it('publishes nothing while no book is live, and starts its timer only with the first book message', () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const requests: string[] = [];
    const agg = new CobAggregator({ bus, clock, snapshots: { requestSnapshot: (_v, s, r) => requests.push(`${s}: ${r}`) }, symbols: SYMBOLS });
    agg.start();
    clock.advance(10_000);
    expect(clock.pendingCount).toBe(0);
    const frame = '{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"ETHUSDT","U":10,"u":12,"b":[["2683.80","1.5"]],"a":[]}}';
    bus.publish({ type: 'md.depthRaw', venue: 'binance', symbol: 'ETH/USDT', tsLocal: 10_000, data: frame });
    clock.advance(1_000);
    expect(agg.counters()).toMatchObject({ frames: 1, published: 0, skippedNotLive: 20 });
    expect(requests).toEqual(['ETH/USDT: no snapshot yet']);
    agg.stop();
    expect(clock.pendingCount).toBe(0);
  });

  it('counts a malformed frame and a frame naming another symbol, and keeps going', () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const agg = new CobAggregator({ bus, clock, snapshots: { requestSnapshot: () => {} }, symbols: SYMBOLS });
    agg.start();
    bus.publish({ type: 'md.depthRaw', venue: 'binance', symbol: 'ETH/USDT', tsLocal: 1, data: '{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpd' });
    bus.publish({ type: 'md.depthRaw', venue: 'binance', symbol: 'ETH/USDT', tsLocal: 2, data: '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}' });
    bus.publish({ type: 'md.depthRaw', venue: 'mexc', symbol: 'ETH/USDT', tsLocal: 3, data: '{}' });
    expect(agg.counters()).toMatchObject({ frames: 1, malformed: 1, misrouted: 1 });
    agg.stop();
  });

  it('a throwing SnapshotSource fails the supervised actor; the supervisor restarts it and the handle follows', () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const handle = new CobHandle();
    let calls = 0;
    const source: SnapshotSource = {
      requestSnapshot: () => {
        calls++;
        throw new Error('snapshot port down');
      },
    };
    const sup = new Supervisor({ bus, clock, rng: () => 0.5, children: [cobAggregatorChild({ bus, clock, snapshots: source, symbols: SYMBOLS, handle })] }).start();
    const first = handle.current;
    const frame = '{"e":"depthUpdate","E":1,"s":"ETHUSDT","U":1,"u":2,"b":[],"a":[]}';
    bus.publish({ type: 'md.depthRaw', venue: 'binance', symbol: 'ETH/USDT', tsLocal: 1, data: frame });
    expect(calls).toBe(1);
    expect(sup.status()[0]).toMatchObject({ state: 'restarting', lastError: 'Error: snapshot port down' });
    expect(handle.current).toBeUndefined();
    clock.advance(1_000);
    expect(sup.status()[0]).toMatchObject({ state: 'running', restarts: 1 });
    expect(handle.current).toBeDefined();
    expect(handle.current).not.toBe(first);
    expect(handle.bookState('ETH/USDT')).toBe('syncing');
    sup.stop();
  });

  it('reports a throwing publish tick through onFailure and stops ticking', () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const failures: unknown[] = [];
    class Broken extends CobAggregator {
      override publishNow(): void {
        throw new Error('tick broke');
      }
    }
    const agg = new Broken({ bus, clock, snapshots: { requestSnapshot: () => {} }, symbols: SYMBOLS, onFailure: (e) => failures.push(e) });
    agg.start();
    bus.publish({ type: 'md.depthRaw', venue: 'binance', symbol: 'ETH/USDT', tsLocal: 1, data: '{"e":"depthUpdate","E":1,"s":"ETHUSDT","U":1,"u":2,"b":[],"a":[]}' });
    clock.advance(1_000);
    expect(failures.map((e) => (e as Error).message)).toEqual(['tick broke']);
    expect(clock.pendingCount).toBe(0);
  });
});
