import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BinanceStreamClient } from '../../../../engine/venues/binance/stream-client.ts';
import { backoffDelay, DEFAULT_BACKOFF } from '../../../../engine/venues/binance/backoff.ts';
import { until as untilTurns } from '../../../wait-until.ts';

const until = (cond: () => boolean, what: string): Promise<void> => untilTurns(cond, what, 20_000);

// A loopback server that records SUBSCRIBE requests per connection and can push frames or drop everyone.
function startServer() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const sockets = new Set<WebSocket>();
  const subscribeLog: string[][] = [];
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (raw) => {
      const req = JSON.parse(raw.toString()) as { method: string; params: string[]; id: number };
      if (req.method === 'SUBSCRIBE') subscribeLog.push(req.params);
      ws.send(JSON.stringify({ result: null, id: req.id }));
    });
  });
  const ready = new Promise<void>((r) => wss.on('listening', () => r()));
  return {
    ready,
    url: () => `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/stream`,
    sockets,
    subscribeLog,
    push: (obj: unknown) => { for (const s of sockets) s.send(JSON.stringify(obj)); },
    dropAll: () => { for (const s of sockets) s.terminate(); },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.terminate(); wss.close(() => r()); }),
  };
}

describe('backoffDelay', () => {
  it('grows exponentially, caps at max, and stays within the jitter band', () => {
    const lo = () => 0;
    const hi = () => 0.999999;
    expect(backoffDelay(DEFAULT_BACKOFF, 0, lo)).toBe(125);
    expect(backoffDelay(DEFAULT_BACKOFF, 0, hi)).toBe(250);
    expect(backoffDelay(DEFAULT_BACKOFF, 3, hi)).toBe(2000);
    expect(backoffDelay(DEFAULT_BACKOFF, 30, hi)).toBe(30_000);
    expect(backoffDelay(DEFAULT_BACKOFF, 30, lo)).toBe(15_000);
  });
});

describe('BinanceStreamClient', () => {
  let server: ReturnType<typeof startServer>;
  let client: BinanceStreamClient | undefined;
  afterEach(async () => {
    client?.stop();
    await server?.close();
  });

  it('subscribes each stream once and ignores repeated subscriptions', async () => {
    server = startServer();
    await server.ready;
    const clock = new SimulatedClock(0);
    const got: string[] = [];
    client = new BinanceStreamClient({ url: server.url(), clock, onMessage: (d) => got.push(d.toString()) });
    client.subscribe(['btcusdt@depth@100ms', 'btcusdt@trade']);
    client.start();
    await until(() => server.subscribeLog.length === 1, 'first subscribe');
    client.subscribe(['btcusdt@trade', 'BTCUSDT@depth@100ms']);
    client.subscribe(['ethusdt@trade']);
    await until(() => server.subscribeLog.length === 2, 'second subscribe');
    server.push({ stream: 'btcusdt@trade', data: { e: 'trade', t: 1 } });
    await until(() => got.length === 1, 'a frame');
    expect(server.subscribeLog).toEqual([['btcusdt@depth@100ms', 'btcusdt@trade'], ['ethusdt@trade']]);
    expect(JSON.parse(got[0]!).data.t).toBe(1);
  });

  it('recovers from a storm of drops with one SUBSCRIBE per connection and backoff on the clock', async () => {
    server = startServer();
    await server.ready;
    const clock = new SimulatedClock(0);
    const statuses: string[] = [];
    client = new BinanceStreamClient({ url: server.url(), clock, rng: () => 0.5, onMessage: () => {}, onStatus: (s) => statuses.push(s) });
    client.subscribe(['ethusdt@depth@100ms', 'ethusdt@bookTicker']);
    client.start();
    const drops = 30;
    for (let i = 0; i < drops; i++) {
      await until(() => server.subscribeLog.length === i + 1 && client!.state === 'live', `connection ${i}`);
      server.dropAll();
      await until(() => client!.state === 'waiting', `drop ${i} noticed`);
      // Nothing reconnects before the backoff delay elapses on the simulated clock.
      const delay = backoffDelay(DEFAULT_BACKOFF, i, () => 0.5);
      clock.advance(delay - 1);
      expect(client!.state).toBe('waiting');
      clock.advance(1);
    }
    await until(() => server.subscribeLog.length === drops + 1 && client!.state === 'live', 'final connection');
    expect(client!.stats.drops).toBe(drops);
    expect(client!.stats.connects).toBe(drops + 1);
    expect(server.subscribeLog.every((p) => p.length === 2 && p[0] === 'ethusdt@depth@100ms')).toBe(true);
    expect(server.sockets.size).toBe(1);
  });

  it('resets the backoff after a connection proved stable', async () => {
    server = startServer();
    await server.ready;
    const clock = new SimulatedClock(0);
    client = new BinanceStreamClient({ url: server.url(), clock, rng: () => 0.5, stableAfterMs: 10_000, onMessage: () => {} });
    client.subscribe(['btcusdt@trade']);
    client.start();
    for (let i = 0; i < 3; i++) {
      await until(() => client!.state === 'live' && server.subscribeLog.length === i + 1, `connection ${i}`);
      server.dropAll();
      await until(() => client!.state === 'waiting', `drop ${i}`);
      clock.advance(backoffDelay(DEFAULT_BACKOFF, i, () => 0.5));
    }
    await until(() => client!.state === 'live' && server.subscribeLog.length === 4, 'connection 3');
    clock.advance(10_000);
    server.dropAll();
    await until(() => client!.state === 'waiting', 'drop after stable period');
    clock.advance(backoffDelay(DEFAULT_BACKOFF, 0, () => 0.5));
    await until(() => client!.state === 'live' && server.subscribeLog.length === 5, 'reconnected at the initial delay');
  });

  it('keeps growing the backoff while connections are refused, at any clock time', async () => {
    // A port nothing listens on: every attempt fails before it opens (a network outage, or a ban refusing us).
    const probe = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => probe.on('listening', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    // A realistic clock: a refused attempt long after time 0 must not pass for the end of a stable connection.
    const clock = new SimulatedClock(1_723_161_254_000);
    const delays: number[] = [];
    const setTimer = clock.setTimeout.bind(clock);
    clock.setTimeout = (fn, ms) => {
      delays.push(ms);
      return setTimer(fn, ms);
    };
    client = new BinanceStreamClient({ url: `ws://127.0.0.1:${port}/stream`, clock, rng: () => 0.5, onMessage: () => {} });
    client.subscribe(['btcusdt@depth@100ms']);
    client.start();
    for (let i = 0; i < 6; i++) {
      await until(() => delays.length === i + 1, `refusal ${i}`);
      clock.advance(delays[i]!);
    }
    expect(client.stats.connects).toBe(0);
    expect(delays).toEqual([0, 1, 2, 3, 4, 5].map((i) => backoffDelay(DEFAULT_BACKOFF, i, () => 0.5)));
  });

  it('rotates to a fresh connection before 24 hours without dropping delivery', async () => {
    server = startServer();
    await server.ready;
    const clock = new SimulatedClock(0);
    const got: number[] = [];
    client = new BinanceStreamClient({ url: server.url(), clock, rotateAfterMs: 1000, onMessage: (d) => got.push(JSON.parse(d.toString()).data.n) });
    client.subscribe(['btcusdt@trade']);
    client.start();
    await until(() => client!.state === 'live' && server.subscribeLog.length === 1, 'connected');
    clock.advance(1000);
    await until(() => client!.stats.rotations === 1, 'rotation');
    await until(() => server.sockets.size === 1, 'old socket closed');
    server.push({ stream: 'btcusdt@trade', data: { n: 7 } });
    await until(() => got.length >= 1, 'frame after rotation');
    expect(got).toEqual([7]);
    expect(client!.stats.drops).toBe(0);
    expect(server.subscribeLog).toEqual([['btcusdt@trade'], ['btcusdt@trade']]);
  });
});
