// The live Binance feed + COBAggregator against the exchange simulator on 127.0.0.1 (real ws and REST, the recorded
// BTC and ETH data), including a storm of forced disconnects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CobAggregator } from '../../../../actors/cob-aggregator/logic.ts';
import type { EngineMsg } from '../../../../engine/messages/index.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, lotsToQty, makeInstrument, ticksToPrice, type Instrument } from '../../../../engine/types/instrument.ts';
import { BinanceFeed, combinedStreamUrl, DEFAULT_STREAMS } from '../../../../engine/venues/binance/binance-feed.ts';
import { BinanceRest } from '../../../../engine/venues/binance/rest.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';

const FILES = ['btc', 'eth'].flatMap((s) => [`data/recordings/spot_${s}usdt_20240808.jsonl.gz`, `data/recordings/spot_${s}usdt_20240809.jsonl.gz`]);
const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const INSTS: readonly Instrument[] = [BTC, ETH];
// DEFAULT_STREAMS (4) for each of the 2 symbols.
const STREAMS_PER_CONNECTION = DEFAULT_STREAMS.length * 2;
const DROPS = 30;

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Waits on real socket and HTTP events (no fixed sleeps): resolves once `cond` holds; gives up after 30 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < 30_000) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('BinanceFeed against the exchange simulator', () => {
  let sim: ExchangeSim;
  let feed: BinanceFeed;
  let agg: CobAggregator;
  const clock = new SimulatedClock(1_000_000);
  const bus = new Bus<EngineMsg>();
  let subscribes = 0;
  let connections = 0;
  let restFailures = 2;
  const statuses: string[] = [];

  beforeAll(async () => {
    sim = await startExchangeSim({ files: FILES, speed: 'manual', weightLimitPerMinute: 1_000_000 });
    sim.events.on('subscribe', () => subscribes++);
    sim.events.on('connection', () => connections++);
    const real = new BinanceRest({ baseUrl: sim.url, rateLimit: false });
    feed = new BinanceFeed({
      bus, clock, instruments: INSTS, wsUrl: sim.wsUrl,
      // The first two snapshot fetches fail: the feed must retry them on its clock.
      rest: { depthSnapshot: (...a) => (restFailures-- > 0 ? Promise.reject(new Error('injected REST failure')) : real.depthSnapshot(...a)) },
      backoff: { initialMs: 10, maxMs: 10, factor: 1, jitter: 0 },
      snapshotRetry: { initialMs: 50, maxMs: 50, factor: 1, jitter: 0 },
    });
    agg = new CobAggregator({ bus, clock, snapshots: feed, symbols: [
      { symbol: 'BTC/USDT', bucketSize: '10', venues: [BTC] },
      { symbol: 'ETH/USDT', bucketSize: '1', venues: [ETH] },
    ] });
    agg.start();
    bus.subscribe('md.bookStatus', (m) => statuses.push(`${m.symbol} ${m.status}`));
  }, 60_000);

  afterAll(async () => {
    agg?.stop();
    await feed?.stop();
    await sim?.close();
  });

  /** Moves the recording (frames go out to subscribers) and the feed's clock (retries, reconnects) until `cond`. */
  async function driveUntil(cond: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 400; i++) {
      if (cond()) return;
      clock.advance(50);
      await sim.replay.advanceBy(100);
      // Let the frames and any snapshot fetch land before moving the recording on.
      await turns(30);
      await until(() => feed.snapshotsInFlight === 0, 'snapshot fetches to finish');
    }
    throw new Error(`timed out driving the replay until ${what}`);
  }

  const bothLive = () => agg.bookState('BTC/USDT') === 'live' && agg.bookState('ETH/USDT') === 'live';

  /** Asserts each book equals the simulator's /api/v3/depth (top 100 levels) once it has caught up with it. */
  async function expectBooksMatchSim(): Promise<void> {
    for (const inst of INSTS) {
      const res = await fetch(`${sim.url}/api/v3/depth?symbol=${inst.venueSymbol}&limit=100`);
      const depth = (await res.json()) as { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] };
      await until(() => agg.book(inst.symbol)!.lastUpdateId === depth.lastUpdateId, `${inst.symbol} to reach update ${depth.lastUpdateId}`);
      const b = agg.book(inst.symbol)!;
      const fmt = (side: 'bid' | 'ask') => b.book.levels(side, 100).map(([p, q]) => [ticksToPrice(inst, p), lotsToQty(inst, q)]);
      const num = (rows: [string, string][]) => rows.map(([p, q]) => [Number(p), Number(q)]);
      expect(b.state).toBe('live');
      expect([depth.bids.length, depth.asks.length]).toEqual([100, 100]);
      expect(num(fmt('bid') as [string, string][])).toEqual(num(depth.bids));
      expect(num(fmt('ask') as [string, string][])).toEqual(num(depth.asks));
    }
  }

  it('builds the combined-stream URL from a base URL', () => {
    expect(combinedStreamUrl('ws://127.0.0.1:9443')).toBe('ws://127.0.0.1:9443/stream');
    expect(combinedStreamUrl('wss://stream.binance.com:9443/stream')).toBe('wss://stream.binance.com:9443/stream');
  });

  it('syncs both books from a REST snapshot taken after the stream flows, retrying failed fetches', async () => {
    await feed.start();
    await until(() => subscribes === STREAMS_PER_CONNECTION && feed.status === 'live', 'the first subscription');
    await driveUntil(bothLive, 'both books live');
    expect(feed.counters.snapshotErrors).toBe(2);
    expect(feed.counters.snapshotsFetched).toBeGreaterThanOrEqual(2);
    await expectBooksMatchSim();
    const c = agg.counters();
    expect([c.gaps, c.crossed, c.malformed, c.resyncs]).toEqual([0, 0, 0, 0]);
    // Both kinds arrive: the simulator names streams as Binance does (btcusdt@bookTicker), which the classifier needs.
    expect(feed.counters.trades).toBeGreaterThan(0);
    expect(feed.counters.bookTickers).toBeGreaterThan(0);
  }, 60_000);

  it(`recovers from ${DROPS} forced disconnects: one SUBSCRIBE per connection, books equal to the simulator's after each`, async () => {
    const recovered: number[] = [];
    for (let i = 0; i < DROPS; i++) {
      expect(sim.dropAllConnections()).toBe(1);
      await until(() => feed.client.state === 'waiting', `drop ${i} noticed`);
      // The reset reached the books at once: they do not pretend to be live on a broken stream.
      expect([agg.bookState('BTC/USDT'), agg.bookState('ETH/USDT')]).toEqual(['resyncing', 'resyncing']);
      clock.advance(10);
      await until(() => subscribes === STREAMS_PER_CONNECTION * (i + 2) && feed.client.state === 'live', `connection ${i + 2}`);
      await driveUntil(bothLive, `both books live after drop ${i}`);
      await expectBooksMatchSim();
      recovered.push(i);
    }
    expect(recovered.length).toBe(DROPS);
    const s = feed.client.stats;
    expect([s.connects, s.drops, s.subscribeMessages, connections]).toEqual([DROPS + 1, DROPS, DROPS + 1, DROPS + 1]);
    const c = agg.counters();
    // Every recovery is a reset-driven resync per symbol, never a detected gap or a crossed book.
    expect([c.gaps, c.crossed, c.malformed, c.resyncs]).toEqual([0, 0, 0, 2 * DROPS]);
    expect(feed.counters.resets).toBe(2 * DROPS);
    expect(statuses.filter((x) => x === 'BTC/USDT live').length).toBe(DROPS + 1);
  }, 120_000);
});
