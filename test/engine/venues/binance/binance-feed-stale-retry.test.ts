// Review finding: a REST depth snapshot older than the buffered diffs (Binance serves such under heavy activity) was
// fetched again at once, in a loop (50 weight a call: the IP's limit, then 429s that also refuse orders), and since
// snapshots are fetched one at a time the other symbols' snapshots never came. A request right after a delivered
// snapshot that did not sync the book must be a paced retry, other symbols served in between, the backoff reset
// once the book is live.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { CobAggregator } from '../../../../actors/cob-aggregator/logic.ts';
import type { EngineMsg } from '../../../../engine/messages/index.ts';
import type { DepthSnapshot } from '../../../../engine/messages/market.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, type Instrument } from '../../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';
import { BinanceFeed } from '../../../../engine/venues/binance/binance-feed.ts';
import { BookSync } from '../../../../engine/venues/binance/book-sync.ts';
import { DepthParser, instrumentGrid } from '../../../../engine/venues/binance/parse-depth.ts';
import { until as untilTurns } from '../../../wait-until.ts';

const until = (cond: () => boolean, what: string): Promise<void> => untilTurns(cond, what, 20_000);
const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const PX: Record<string, [string, string]> = { BTCUSDT: ['59990.00', '60020.00'], ETHUSDT: ['3000.00', '3001.00'] };

const depth = (sym: string, U: number, u: number) =>
  JSON.stringify({ stream: `${sym.toLowerCase()}@depth@100ms`, data: { e: 'depthUpdate', E: 1, s: sym, U, u, b: [[PX[sym]![0], '1.0000']], a: [[PX[sym]![1], '1.0000']] } });

// A loopback stream: acknowledges SUBSCRIBE, then sends BTC's diff 1001..1003 and ETH's 5001..5002.
function startStream() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (raw) => {
      ws.send(JSON.stringify({ result: null, id: (JSON.parse(raw.toString()) as { id: number }).id }));
      ws.send(depth('BTCUSDT', 1001, 1003));
      ws.send(depth('ETHUSDT', 5001, 5002));
    });
  });
  return {
    ready: new Promise<void>((r) => wss.on('listening', () => r())),
    url: () => `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    send: (frame: string) => { for (const s of sockets) s.send(frame); },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.terminate(); wss.close(() => r()); }),
  };
}

// REST: ETH's snapshot is current; BTC's lags the stream (lastUpdateId 900 < first U 1001) while `btcLags` holds.
function restStub(clock: SimulatedClock) {
  const calls: { symbol: string; at: number }[] = [];
  const state = { btcLags: true };
  const snap = (inst: Instrument, L: number): DepthSnapshot => {
    const [bid, ask] = PX[inst.venueSymbol]!.map((p) => Math.round(Number(p) * 100) as Ticks);
    return { type: 'md.snapshot', venue: 'binance', symbol: inst.symbol, lastUpdateId: L, bids: [[bid! - 100 as Ticks, 5 as Lots]], asks: [[ask! + 100 as Ticks, 5 as Lots]], tsExchange: 0, tsLocal: 0 };
  };
  const rest = {
    async depthSnapshot(inst: Instrument): Promise<DepthSnapshot> {
      calls.push({ symbol: inst.symbol, at: clock.now() });
      await turns(2);
      if (inst.symbol === 'ETH/USDT') return snap(inst, 5001);
      return snap(inst, state.btcLags ? 900 : 1001);
    },
  };
  return { rest, calls, state, count: (symbol: string) => calls.filter((c) => c.symbol === symbol).length };
}

describe('BinanceFeed with a snapshot older than the stream', () => {
  let stream: ReturnType<typeof startStream>;
  let feed: BinanceFeed | undefined;
  let agg: CobAggregator | undefined;
  afterEach(async () => {
    agg?.stop();
    await feed?.stop();
    await stream?.close();
  });

  it('retries it with growing backoff, serves the other symbol meanwhile, and resets the backoff once live', async () => {
    stream = startStream();
    await stream.ready;
    const clock = new SimulatedClock(1_000_000);
    const bus = new Bus<EngineMsg>();
    const stub = restStub(clock);
    const warnings: unknown[] = [];
    const logger = { info() {}, debug() {}, error() {}, warn(o: unknown) { warnings.push(o); }, child() { return this; } } as never;
    feed = new BinanceFeed({
      bus, clock, instruments: [BTC, ETH], wsUrl: stream.url(), rest: stub.rest, streams: ['depth@100ms'], logger,
      snapshotRetry: { initialMs: 500, maxMs: 4_000, factor: 2, jitter: 0 },
    });
    agg = new CobAggregator({ bus, clock, snapshots: feed, symbols: [
      { symbol: 'BTC/USDT', bucketSize: '10', venues: [BTC] },
      { symbol: 'ETH/USDT', bucketSize: '1', venues: [ETH] },
    ] });
    agg.start();
    await feed.start();
    await until(() => agg!.bookState('ETH/USDT') === 'live', 'ETH to sync while BTC lags');
    await turns(50);
    // The clock has not moved: BTC's stale snapshot was fetched once, not again and again.
    expect(stub.count('BTC/USDT')).toBe(1);
    expect(stub.count('ETH/USDT')).toBe(1);
    expect(agg.bookState('BTC/USDT')).toBe('syncing');

    // Retries at 500, 1000, 2000, 4000, 4000 ms after each stale snapshot.
    const t0 = clock.now();
    for (const wait of [500, 1_000, 2_000, 4_000, 4_000]) {
      const before = stub.count('BTC/USDT');
      clock.advance(wait - 1);
      await turns(50);
      expect(stub.count('BTC/USDT')).toBe(before);
      clock.advance(1);
      await until(() => stub.count('BTC/USDT') === before + 1, `BTC's retry after ${wait} ms`);
      await until(() => feed!.snapshotsInFlight === 0, 'the retry to land');
    }
    expect(stub.calls.filter((c) => c.symbol === 'BTC/USDT').map((c) => c.at - t0)).toEqual([0, 500, 1_500, 3_500, 7_500, 11_500]);
    expect(warnings.some((w) => /snapshot 900 is older than the buffered diffs \(first U 1001\)/.test((w as { reason?: string }).reason ?? ''))).toBe(true);

    // The venue catches up: the next retry syncs the book, and a later break is fetched at once (backoff reset).
    stub.state.btcLags = false;
    clock.advance(4_000);
    await until(() => agg!.bookState('BTC/USDT') === 'live', 'BTC to sync');
    const synced = stub.count('BTC/USDT');
    stream.send(depth('BTCUSDT', 2001, 2002)); // skips 1004..2000: a gap
    await until(() => stub.count('BTC/USDT') === synced + 1, 'the fetch after the gap, with the clock still');
    expect(stub.count('ETH/USDT')).toBe(1);
  });
});

describe('BookSync warnings for a streak of stale snapshots', () => {
  it('warns on the first of a streak and then on every power of two, naming lastUpdateId and the first U', () => {
    const warns: { lastUpdateId: number; firstBuffered: number; streak: number }[] = [];
    const log = { info() {}, debug() {}, error() {}, warn(o: never) { warns.push(o); }, child() { return this; } } as never;
    const sync = new BookSync('BTCUSDT', { rules: 'spot', log });
    const parser = new DepthParser(instrumentGrid(BTC));
    expect(parser.parse(depth('BTCUSDT', 1001, 1003).replace(/^.*"data":(.*)}$/, '$1'))).toBe(true);
    sync.onDepth(parser.frame);
    const stale: DepthSnapshot = { type: 'md.snapshot', venue: 'binance', symbol: 'BTC/USDT', lastUpdateId: 900, bids: [], asks: [], tsExchange: 0, tsLocal: 0 };
    for (let i = 0; i < 9; i++) expect(sync.onSnapshot(stale)).toBe('stale');
    expect(sync.counters.staleSnapshots).toBe(9);
    expect(warns.map((w) => [w.lastUpdateId, w.firstBuffered, w.streak])).toEqual([[900, 1001, 1], [900, 1001, 2], [900, 1001, 4], [900, 1001, 8]]);
  });
});
