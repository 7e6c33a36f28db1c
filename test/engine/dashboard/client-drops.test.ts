// The dashboard dropped a client stalled over highWater for WS_STALL_LIMIT_MS, or silent to a ping,
// with a warn line and nothing else: no figure showed a tab dropped again and again. Drops are now counted by reason
// in /metrics (cobalt_dashboard_ws_dropped_total) and in the system topic next to the open clients.
import type { Socket } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startDashboard, type DashboardHandle } from '../../../engine/dashboard/index.ts';
import { WS_PING_INTERVAL_MS, WS_STALL_LIMIT_MS } from '../../../engine/dashboard/server.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { until } from '../../wait-until.ts';

const T0 = 1_723_161_000_000;
const open: DashboardHandle[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const d of open.splice(0)) await d.close();
});

async function start() {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(T0);
  const wall = new SimulatedClock(0);
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const d = await startDashboard({
    bus, clock, wallClock: wall, config: { host: '127.0.0.1', port: 0 }, token: { token: 'dashboard-test-token', generated: false }, maxHz: 4,
    wsHighWaterBytes: 256 * 1024, logger,
  });
  open.push(d);
  return { d, bus, clock, wall, lines };
}

/** A client; `paused` stops reading while its TCP connection stays up, as a frozen tab does. Returns its heatmap times seen. */
async function connect(d: DashboardHandle, paused = false): Promise<{ ws: WebSocket; heat: Set<number> }> {
  const ws = new WebSocket(`${d.url.replace('http', 'ws')}ws`);
  sockets.push(ws);
  const heat = new Set<number>();
  let frames = 0;
  ws.on('message', (data) => {
    frames++;
    const f = JSON.parse(String(data)) as { topics: Record<string, any> };
    for (const s of Object.values<any>(f.topics['heatmap']?.symbols ?? {})) for (const c of s.items) heat.add(c.t);
  });
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  if (paused) (ws as unknown as { _socket: Socket })._socket.pause();
  else await until(() => frames > 0, 'the snapshot');
  return { ws, heat };
}

const heatColumn = (i: number): EngineMsg => {
  const big = new Float32Array(50_000).fill(1.5); // ~400 KB of JSON a column
  return { type: 'cob.heatmap', symbol: 'ETH/USDT', ts: T0 + i * 1000, time: T0 + i * 1000, center: 100, bucketSize: 1, range: 25_000, bid: big, ask: big, spread: 0.01, samples: 1 };
};

const droppedSeries = async (d: DashboardHandle): Promise<Record<string, number>> => {
  const m = d.metrics.registry.getSingleMetric('cobalt_dashboard_ws_dropped_total');
  const values = (await m!.get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels['reason']), v.value]));
};
const statusOf = (d: DashboardHandle): unknown => (d.view.snapshot().system as { status: Record<string, unknown> }).status['dashboard'];

describe('dropped dashboard clients', () => {
  it('are counted as noPong when silent to a ping, in /metrics, the system topic and a warn line', async () => {
    const h = await start();
    const before = await droppedSeries(h.d);
    await connect(h.d, true);
    h.wall.advance(WS_PING_INTERVAL_MS);
    h.wall.advance(WS_PING_INTERVAL_MS);

    expect(before).toEqual({ stalled: 0, noPong: 0 });
    expect(h.d.clients()).toBe(0);
    expect(h.d.dropped()).toEqual({ stalled: 0, noPong: 1 });
    expect(await droppedSeries(h.d)).toEqual({ stalled: 0, noPong: 1 });
    expect(statusOf(h.d)).toMatchObject({ wsClients: 0, wsDropped: { stalled: 0, noPong: 1 } });
    expect(h.lines.filter((l) => l['reason'] !== undefined).map((l) => [l['level'], l['reason'], l['dropped']])).toEqual([[40, 'noPong', 1]]);
  });

  it('are counted as stalled when over highWater past the stall limit', async () => {
    const h = await start();
    const reader = await connect(h.d);
    await connect(h.d, true);
    // Columns until a push passes over the paused client; the reading one paces them.
    const skipped = async (): Promise<number> => (await h.d.metrics.wsSkipped.get()).values[0]?.value ?? 0;
    for (let i = 1; i <= 200 && (await skipped()) === 0; i++) {
      h.bus.publish(heatColumn(i));
      h.clock.advance(250);
      await until(() => reader.heat.has(T0 + i * 1000), `heatmap column ${i} at the reading client`);
    }
    h.wall.advance(WS_STALL_LIMIT_MS + 1000);

    expect(await skipped()).toBeGreaterThan(0);
    expect(h.d.clients()).toBe(1);
    expect(h.d.dropped()).toEqual({ stalled: 1, noPong: 0 });
    expect(await droppedSeries(h.d)).toEqual({ stalled: 1, noPong: 0 });
    expect(statusOf(h.d)).toMatchObject({ wsClients: 1, wsDropped: { stalled: 1, noPong: 0 } });
  });
});
