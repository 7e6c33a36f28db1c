// Review findings on BinanceStreamClient: a socket whose data stalls but which still answers pings must be replaced,
// and a failed 24 h make-before-break rotation must be tried again rather than given up (or leaked).
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BinanceStreamClient } from '../../../../engine/venues/binance/stream-client.ts';
import { until as untilTurns } from '../../../wait-until.ts';

const until = (cond: () => boolean, what: string): Promise<void> => untilTurns(cond, what, 20_000);

type Behaviour = 'ack' | 'refuse' | 'terminate';

// A loopback server; `behaviour(n)` decides what connection n (1-based) does with its SUBSCRIBE. ws answers pings itself.
function startServer(behaviour: (n: number) => Behaviour = () => 'ack') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const sockets = new Set<WebSocket>();
  const subscribes: number[] = [];
  let connections = 0;
  let pings = 0;
  wss.on('connection', (ws) => {
    const n = ++connections;
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('ping', () => pings++);
    if (behaviour(n) === 'terminate') {
      ws.terminate();
      return;
    }
    ws.on('message', (raw) => {
      const req = JSON.parse(raw.toString()) as { method: string; id: number };
      if (req.method === 'SUBSCRIBE') subscribes.push(n);
      ws.send(JSON.stringify(behaviour(n) === 'refuse' ? { error: { code: -1, msg: 'busy' }, id: req.id } : { result: null, id: req.id }));
    });
  });
  const ready = new Promise<void>((r) => wss.on('listening', () => r()));
  return {
    ready,
    url: () => `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/stream`,
    sockets,
    subscribes,
    connections: () => connections,
    pings: () => pings,
    push: (obj: unknown) => { for (const s of sockets) s.send(JSON.stringify(obj)); },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.terminate(); wss.close(() => r()); }),
  };
}

const quietLog = { info() {}, warn() {}, error() {}, debug() {}, child() { return this; } } as never;

describe('BinanceStreamClient recovery', () => {
  let server: ReturnType<typeof startServer>;
  let client: BinanceStreamClient | undefined;
  afterEach(async () => {
    client?.stop();
    client = undefined;
    await server?.close();
  });

  it('reconnects a socket that answers pings but sends no data for dataSilenceMs', async () => {
    server = startServer();
    await server.ready;
    const clock = new SimulatedClock(0);
    const statuses: string[] = [];
    // Liveness alone (pongs) would keep this socket for a minute; only the data silence may end it.
    client = new BinanceStreamClient({ url: server.url(), clock, rng: () => 0.5, pingIntervalMs: 100, livenessMs: 60_000, dataSilenceMs: 1_000,
      onMessage: () => {}, onStatus: (s) => statuses.push(s), logger: quietLog });
    client.subscribe(['btcusdt@trade']);
    client.start();
    await until(() => client!.state === 'live' && server.subscribes.length === 1, 'connected');
    server.push({ stream: 'btcusdt@trade', data: { e: 'trade', s: 'BTCUSDT', t: 1 } });
    await until(() => client!.stats.messages === 1, 'one data frame');
    // Then silence, while pings keep being answered.
    for (let i = 0; i < 30 && client.stats.drops === 0; i++) {
      const pings = server.pings();
      clock.advance(100);
      await until(() => server.pings() > pings || client!.stats.drops > 0, `ping ${i}`);
    }
    expect(client.stats.drops).toBe(1);
    expect(statuses).toContain('waiting');
    clock.advance(1_000); // past the reconnect backoff
    await until(() => client!.state === 'live' && server.subscribes.length === 2, 'reconnected and resubscribed');
    expect(server.connections()).toBe(2);
  });

  it('keeps a socket whose data keeps flowing, and one with no streams subscribed', async () => {
    server = startServer();
    await server.ready;
    const clock = new SimulatedClock(0);
    client = new BinanceStreamClient({ url: server.url(), clock, pingIntervalMs: 100, livenessMs: 60_000, dataSilenceMs: 1_000, onMessage: () => {}, logger: quietLog });
    client.subscribe(['btcusdt@trade']);
    client.start();
    await until(() => client!.state === 'live' && server.subscribes.length === 1, 'connected');
    for (let n = 1; n <= 30; n++) {
      server.push({ stream: 'btcusdt@trade', data: { e: 'trade', s: 'BTCUSDT', t: n } });
      await until(() => client!.stats.messages === n, `frame ${n}`);
      clock.advance(100);
    }
    client.unsubscribe(['btcusdt@trade']);
    clock.advance(5_000);
    expect(client.stats.drops).toBe(0);
    expect(client.state).toBe('live');
  });

  it.each<[Behaviour]>([['terminate'], ['refuse']])('retries a rotation whose fresh socket fails (%s) until one succeeds', async (failure) => {
    // Connection 1 is the original, 2 the rotation that fails, 3 the retried rotation.
    server = startServer((n) => (n === 2 ? failure : 'ack'));
    await server.ready;
    const clock = new SimulatedClock(0);
    const got: number[] = [];
    client = new BinanceStreamClient({ url: server.url(), clock, rng: () => 0.5, rotateAfterMs: 1_000, livenessMs: 3_600_000, dataSilenceMs: 0,
      rotateRetry: { initialMs: 500, maxMs: 500, factor: 1, jitter: 0 },
      onMessage: (d) => got.push(JSON.parse(d.toString()).data.n), logger: quietLog });
    client.subscribe(['btcusdt@trade']);
    client.start();
    await until(() => client!.state === 'live' && server.subscribes.length === 1, 'connected');
    clock.advance(1_000);
    await until(() => server.connections() === 2, 'the rotation socket');
    // The failed rotation socket is gone (not kept half-open as `rotating`), and the original still delivers.
    await until(() => client!.stats.rotationFailures === 1 && server.sockets.size === 1, 'the failed rotation socket closed');
    clock.advance(500);
    await until(() => client!.stats.rotations === 1, 'the retried rotation');
    await until(() => server.sockets.size === 1, 'the original socket closed after the switch');
    server.push({ stream: 'btcusdt@trade', data: { n: 7 } });
    await until(() => got.length === 1, 'a frame on the rotated socket');
    expect(got).toEqual([7]);
    expect(client.stats.drops).toBe(0);
    expect(server.connections()).toBe(3);
    expect(server.subscribes).toEqual(failure === 'refuse' ? [1, 2, 3] : [1, 3]);
  });
});
