// Review finding: a depth snapshot answered 429 (Retry-After) or 418 (IP ban) was retried on the feed's own 0.5 s
// backoff per symbol, ignoring the venue, which turns a rate limit into a ban of the whole IP (orders included). The
// feed must send nothing, for any symbol, until the block has passed, and fetch one snapshot at a time.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import type { DepthSnapshot } from '../../../../engine/messages/market.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, type Instrument } from '../../../../engine/types/instrument.ts';
import type { VenueBlock } from '../../../../engine/venues/binance/backoff.ts';
import { BinanceFeed } from '../../../../engine/venues/binance/binance-feed.ts';
import { BinanceRestError } from '../../../../engine/venues/binance/rest.ts';
import { until as untilTurns } from '../../../wait-until.ts';

const until = (cond: () => boolean, what: string): Promise<void> => untilTurns(cond, what, 20_000);

const INSTS: readonly Instrument[] = [makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!), makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!)];

// A loopback stream that acknowledges SUBSCRIBE and answers with one depth frame per subscribed stream.
function startStream() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (raw) => {
      const req = JSON.parse(raw.toString()) as { params: string[]; id: number };
      ws.send(JSON.stringify({ result: null, id: req.id }));
      for (const stream of req.params) ws.send(JSON.stringify({ stream, data: { e: 'depthUpdate', U: 1, u: 2, b: [], a: [] } }));
    });
  });
  return {
    ready: new Promise<void>((r) => wss.on('listening', () => r())),
    url: () => `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.terminate(); wss.close(() => r()); }),
  };
}

const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

// A REST stub: the first `failures` calls are refused with `block`, later ones answer an empty snapshot.
function blockingRest(clock: SimulatedClock, failures: number, status: number, block: VenueBlock) {
  const calls: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const rest = {
    async depthSnapshot(inst: Instrument): Promise<DepthSnapshot> {
      const n = calls.push(clock.now());
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await turns(2);
      inFlight--;
      if (n <= failures) throw new BinanceRestError(`binance depth failed: binance ${status}`, status, block);
      return { type: 'md.snapshot', venue: 'binance', symbol: inst.symbol, lastUpdateId: 1, bids: [], asks: [], tsExchange: clock.now(), tsLocal: clock.now() };
    },
  };
  return { rest, calls, maxInFlight: () => maxInFlight };
}

describe('BinanceFeed snapshots under a venue rate limit', () => {
  let stream: ReturnType<typeof startStream>;
  let feed: BinanceFeed | undefined;
  afterEach(async () => {
    await feed?.stop();
    await stream?.close();
  });

  it.each([
    ['429 Retry-After 30 s', 429, { kind: 'rateLimited', retryAfterMs: 30_000 } as const],
    ['418 ban of 2 minutes', 418, { kind: 'banned', retryAfterMs: 120_000 } as const],
  ])('sends no snapshot request for any symbol until a %s has passed, one at a time', async (_name, status, block) => {
    stream = startStream();
    await stream.ready;
    const clock = new SimulatedClock(1_000_000);
    const stub = blockingRest(clock, 1, status, block);
    const errors: unknown[] = [];
    const logger = { info() {}, warn() {}, debug() {}, error(o: unknown) { errors.push(o); }, child() { return this; } } as never;
    feed = new BinanceFeed({ bus: new Bus(), clock, instruments: INSTS, wsUrl: stream.url(), rest: stub.rest, streams: ['depth@100ms'], rng: () => 0.5, logger });
    await feed.start();
    for (const i of INSTS) feed.requestSnapshot('binance', i.symbol, 'resync');
    await until(() => feed!.counters.snapshotErrors === 1, 'the refused snapshot');
    const refusedAt = stub.calls[0]!;
    // Walk the clock through the block the way the feed's own backoff (500 ms doubling to 10 s) would retry.
    while (clock.now() < refusedAt + block.retryAfterMs - 250) {
      clock.advance(250);
      await turns(5);
    }
    const duringBlock = stub.calls.length;
    clock.advance(500);
    await until(() => feed!.counters.snapshotsFetched === 2, 'both snapshots after the block');
    expect(duringBlock).toBe(1);
    expect(stub.calls.slice(1).every((t) => t >= refusedAt + block.retryAfterMs)).toBe(true);
    expect(stub.calls.length).toBe(3);
    expect(stub.maxInFlight()).toBe(1);
    expect(errors.length).toBe(status === 418 ? 1 : 0);
  });
});
