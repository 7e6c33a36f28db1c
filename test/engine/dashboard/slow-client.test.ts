// Review H7: one stalled dashboard client degraded every client. Its missed topics were re-marked on the shared
// throttle each tick, so every healthy client got all nine topics (the full orders table among them) every push; and
// with no ping/pong a peer that stopped reading while its TCP stayed up was never dropped.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startDashboard, type DashboardHandle } from '../../../engine/dashboard/index.ts';
import { WS_PING_INTERVAL_MS, WS_STALL_LIMIT_MS } from '../../../engine/dashboard/server.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { until } from '../../wait-until.ts';

const T0 = 1_723_161_000_000;
const HIGH_WATER = 256 * 1024;
const open: DashboardHandle[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const d of open.splice(0)) await d.close();
});

/** What one client saw: each frame's topic names, and the candle and heatmap times that came in deltas. */
class Reader {
  readonly frames: { type: string; topics: string[] }[] = [];
  readonly candleTimes = new Set<number>();
  readonly heatTimes = new Set<number>();
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { type: string; topics: Record<string, any> };
      this.frames.push({ type: f.type, topics: Object.keys(f.topics) });
      for (const s of Object.values<any>(f.topics['candles']?.series ?? {})) for (const b of s.items) this.candleTimes.add(b[0]);
      for (const s of Object.values<any>(f.topics['heatmap']?.symbols ?? {})) for (const c of s.items) this.heatTimes.add(c.t);
    });
  }
}

async function connect(d: DashboardHandle, opts: { paused?: boolean } = {}): Promise<Reader> {
  const ws = new WebSocket(`${d.url.replace('http', 'ws')}ws`);
  sockets.push(ws);
  const r = new Reader(ws);
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  // Stops reading while the TCP connection stays up, as a frozen tab or a dead NAT path does.
  if (opts.paused) (ws as unknown as { _socket: Socket })._socket.pause();
  else await until(() => r.frames.length > 0, 'the snapshot');
  return r;
}

async function start() {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(T0);
  const wall = new SimulatedClock(0);
  const d = await startDashboard({ bus, clock, wallClock: wall, config: { host: '127.0.0.1', port: 0 }, token: { token: 'h7-token', generated: false }, maxHz: 4, wsHighWaterBytes: HIGH_WATER });
  open.push(d);
  return { d, bus, clock, wall };
}

const heatColumn = (i: number): EngineMsg => {
  // About 400 KB of JSON per column: a few fill the loopback buffers of a peer that does not read.
  const big = new Float32Array(50_000).fill(1.5);
  return { type: 'cob.heatmap', symbol: 'ETH/USDT', ts: T0 + i * 1000, time: T0 + i * 1000, center: 100, bucketSize: 1, range: 25_000, bid: big, ask: big, spread: 0.01, samples: 1 };
};
const candle = (openTime: number): EngineMsg => ({
  type: 'md.candle', venue: 'binance' as never, symbol: 'ETH/USDT', tsExchange: openTime, tsLocal: openTime, timeframe: '1s',
  candle: { openTime, open: 1, high: 1, low: 1, close: 1, volume: 1, closed: true },
});

const skipped = async (d: DashboardHandle): Promise<number> => (await d.metrics.wsSkipped.get()).values[0]?.value ?? 0;

/** Pushes heatmap columns until a push passes over the paused client; the reading one takes every column. */
async function stallPaused(h: Awaited<ReturnType<typeof start>>, reader: Reader): Promise<void> {
  for (let i = 1; i <= 200; i++) {
    h.bus.publish(heatColumn(i));
    h.clock.advance(250);
    await until(() => reader.heatTimes.has(T0 + i * 1000), `heatmap column ${i} at the reading client`);
    if ((await skipped(h.d)) > 0) return;
  }
  throw new Error('the paused client never went over highWater');
}

describe('a stalled dashboard client', () => {
  it('does not make a reading client receive topics that did not change', async () => {
    const h = await start();
    const a = await connect(h.d);
    await connect(h.d, { paused: true });
    await stallPaused(h, a);
    const from = a.frames.length;
    h.bus.publish({ type: 'exec.orderAccepted', clientOrderId: 'o1' as never, venueOrderId: 'v1' as never, ts: h.clock.now() });
    for (let k = 1; k <= 4; k++) {
      const t = h.clock.now() + 1000;
      h.bus.publish(candle(t));
      h.clock.advance(250);
      await until(() => a.candleTimes.has(Math.floor(t / 1000)), `candle ${k} at the reading client`);
    }
    const after = a.frames.slice(from).map((f) => f.topics);
    // Only what changed: the order once, the candles, and the system table re-read once a second.
    expect(after.flat().filter((t) => t === 'orders')).toEqual(['orders']);
    expect(new Set(after.flat())).toEqual(new Set(['orders', 'candles', 'system']));
  });

  it('is closed once over highWater for longer than the stall limit; a reading client stays', async () => {
    const h = await start();
    const a = await connect(h.d);
    await connect(h.d, { paused: true });
    await stallPaused(h, a);
    h.wall.advance(WS_STALL_LIMIT_MS - 1000);
    const beforeLimit = h.d.clients();
    h.wall.advance(2000);
    const afterLimit = h.d.clients();
    const t = h.clock.now() + 1000;
    h.bus.publish(candle(t));
    h.clock.advance(250);
    await until(() => a.candleTimes.has(Math.floor(t / 1000)), 'a candle at the reading client after the drop');
    expect(beforeLimit).toBe(2);
    expect(afterLimit).toBe(1);
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('is closed when it does not answer a ping by the next one; a client that answers stays', async () => {
    const h = await start();
    const a = await connect(h.d);
    await connect(h.d, { paused: true });
    // Once a's own ping is answered, the server has read the pong a sent before it (frames are read in order).
    a.ws.on('ping', () => a.ws.ping());
    const answered = new Promise<void>((res) => a.ws.once('pong', () => res()));
    h.wall.advance(WS_PING_INTERVAL_MS);
    await answered;
    const afterFirst = h.d.clients();
    h.wall.advance(WS_PING_INTERVAL_MS);
    expect(afterFirst).toBe(2);
    expect(h.d.clients()).toBe(1);
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
  });
});
