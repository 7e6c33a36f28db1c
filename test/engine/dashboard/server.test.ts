import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startDashboard, type DashboardHandle, type DashboardProviders } from '../../../engine/dashboard/index.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ConfigError } from '../../../engine/types/errors.ts';
import { ReplayHarness } from './replay-harness.ts';

const TOKEN = 'test-token-123-long-enough-x';
const LOOPBACK = { host: '127.0.0.1', port: 0 };
let staticDir: string;
const open: DashboardHandle[] = [];

let tmp: string;
beforeAll(() => {
  // <tmp>/www is served; <tmp>/secret.txt sits next to it and must never be.
  tmp = mkdtempSync(join(tmpdir(), 'cobalt-web-'));
  staticDir = join(tmp, 'www');
  mkdirSync(staticDir);
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>cobalt</title>');
  writeFileSync(join(tmp, 'secret.txt'), 'SECRET');
});
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function start(bus = new Bus<EngineMsg>(), clock = new SimulatedClock(1_723_161_000_000), extra: { host?: string; maxHz?: number; providers?: DashboardProviders } = {}) {
  const d = await startDashboard({ bus, clock, config: { ...LOOPBACK, ...(extra.host ? { host: extra.host } : {}) }, token: { token: TOKEN, generated: false }, staticDir, maxHz: extra.maxHz ?? 4, ...(extra.providers ? { providers: extra.providers } : {}) });
  open.push(d);
  return { d, bus, clock };
}

const post = (url: string, body: unknown, token?: string) =>
  fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}) } });

/** A WebSocket client that records every frame and can wait for one matching a predicate. */
class WsRecorder {
  readonly frames: { type: string; topics: Record<string, any> }[] = [];
  private waiters: { pred: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const f = JSON.parse(String(data));
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => (w.pred(f) ? (w.resolve(f), false) : true));
    });
  }
  static async connect(url: string, headers: Record<string, string> = {}): Promise<WsRecorder> {
    const ws = new WebSocket(url, { headers });
    const r = new WsRecorder(ws);
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    return r;
  }
  next(pred: (f: any) => boolean): Promise<any> {
    const found = this.frames.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
}

/** Checks Prometheus text exposition strictly; returns the sample names and the declared types. */
function parsePrometheus(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples = new Map<string, number>();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const label = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
  const sampleRe = new RegExp(`^(${name})(?:\\{(?:${label})(?:,${label})*,?\\})? (-?(?:[0-9]+(?:\\.[0-9]*)?(?:e[+-]?[0-9]+)?|NaN|\\+Inf|-Inf))( -?[0-9]+)?$`);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = new RegExp(`^# HELP (${name}) .*$`).exec(line);
    if (m) {
      helps.add(m[1]!);
      continue;
    }
    m = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (m) {
      if (types.has(m[1]!)) throw new Error(`TYPE declared twice for ${m[1]}`);
      types.set(m[1]!, m[2]!);
      continue;
    }
    if (line.startsWith('#')) throw new Error(`bad comment line: ${line}`);
    m = sampleRe.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(m[1]!) && !(types.get(family) === 'histogram')) throw new Error(`sample ${m[1]} has no TYPE line before it`);
    if (!helps.has(m[1]!) && !helps.has(family)) throw new Error(`sample ${m[1]} has no HELP line`);
    samples.set(line.slice(0, line.lastIndexOf(' ')), Number(m[2]));
  }
  return { samples, types };
}

describe('dashboard server: control API', () => {
  it('refuses a control without the token or with a wrong one (401) and publishes nothing', async () => {
    const { d, bus } = await start();
    const got: EngineMsg[] = [];
    bus.subscribePrefix('risk.', (m) => got.push(m));
    const none = await post(`${d.url}api/control/stop`, {});
    const wrong = await post(`${d.url}api/control/stop`, {}, 'not-the-token');
    const queryToken = await post(`${d.url}api/control/stop?token=${TOKEN}`, {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(wrong.status).toBe(401);
    expect(queryToken.status).toBe(401);
    expect(got).toEqual([]);
  });

  it('accepts a control with the token (200) and publishes its bus messages', async () => {
    const { d, bus, clock } = await start();
    const got: EngineMsg[] = [];
    bus.subscribePrefix('risk.', (m) => got.push(m));
    bus.subscribePrefix('orchestrator.', (m) => got.push(m));
    const stop = await post(`${d.url}api/control/stop`, { reason: 'lunch' }, TOKEN);
    const th = await post(`${d.url}api/control/thresholds`, { buy: 0.7, minConfidence: 0.4 }, TOKEN);
    const state = (await (await fetch(`${d.url}api/state`)).json()) as { models: { thresholds: unknown }; risk: { killSwitch: boolean } };
    expect(stop.status).toBe(200);
    expect(th.status).toBe(200);
    expect(got).toEqual([
      { type: 'risk.killSwitch', on: true, reason: 'dashboard: lunch', ts: clock.now() },
      { type: 'orchestrator.setThresholds', buy: 0.7, minConfidence: 0.4 },
    ]);
    expect(state.models.thresholds).toEqual({ buy: 0.7, minConfidence: 0.4 });
    expect(state.risk.killSwitch).toBe(true);
  });

  it('refuses a rollback with nothing to go back to (409, the reason) and publishes nothing; sends one that has', async () => {
    const rollbackTo: Record<string, string[]> = { cnn: [], dqn: ['v000001'] };
    const { d, bus } = await start(undefined, undefined, { providers: { rollbackTargets: (m) => rollbackTo[m] } });
    const got: EngineMsg[] = [];
    bus.subscribePrefix('orchestrator.', (m) => got.push(m));
    const none = await post(`${d.url}api/control/rollback`, { model: 'cnn' }, TOKEN);
    const unknown = await post(`${d.url}api/control/rollback`, { model: 'lstm' }, TOKEN);
    const ok = await post(`${d.url}api/control/rollback`, { model: 'dqn' }, TOKEN);
    expect([none.status, unknown.status, ok.status]).toEqual([409, 409, 200]);
    expect(((await none.json()) as { error: string }).error).toBe("rollback: model 'cnn' has no earlier version to roll back to");
    expect(((await unknown.json()) as { error: string }).error).toBe("rollback: no model 'lstm' in the blend");
    expect(got).toEqual([{ type: 'orchestrator.rollback', model: 'dqn' }]);
  });

  it('refuses a start the RiskManager would refuse (409, its reason) and publishes nothing; sends one it would take', async () => {
    const refusal = (resetPeak: boolean) => (resetPeak ? undefined : 'drawdown 37 bps is at or above the maximum 35 bps');
    const { d, bus } = await start(undefined, undefined, { providers: { resumeRefusal: refusal } });
    const got: string[] = [];
    bus.subscribePrefix('risk.', (m) => got.push(m.type));
    const refused = await post(`${d.url}api/control/start`, {}, TOKEN);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: string }).error).toBe('start refused: drawdown 37 bps is at or above the maximum 35 bps');
    expect(got).toEqual([]);
    const ok = await post(`${d.url}api/control/start`, { resetPeak: true }, TOKEN);
    expect(ok.status).toBe(200);
    expect(got).toEqual(['risk.killSwitch', 'risk.resume']);
  });

  it('answers bad requests with 400/404/405 and a message naming the problem', async () => {
    const { d } = await start();
    const range = await post(`${d.url}api/control/thresholds`, { buy: 2 }, TOKEN);
    const notJson = await fetch(`${d.url}api/control/stop`, { method: 'POST', body: '{oops', headers: { Authorization: `Bearer ${TOKEN}` } });
    const unknown = await post(`${d.url}api/control/launch`, {}, TOKEN);
    const get = await fetch(`${d.url}api/control/stop`);
    expect(range.status).toBe(400);
    expect(((await range.json()) as { error: string }).error).toMatch(/thresholds: .*buy/);
    expect(notJson.status).toBe(400);
    expect(unknown.status).toBe(404);
    expect(get.status).toBe(405);
  });
});

describe('dashboard server: control metrics', () => {
  it('counts every action name it does not know as \'other\', unauthenticated or not, so requests cannot add series', async () => {
    const { d } = await start();
    const names = Array.from({ length: 40 }, (_, i) => `zz${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
    for (const n of names) await (await post(`${d.url}api/control/${n}`, {})).arrayBuffer();
    await (await post(`${d.url}api/control/launch`, {}, TOKEN)).arrayBuffer();
    await (await post(`${d.url}api/control/stop`, {})).arrayBuffer();
    const series = (await (await fetch(`${d.url}metrics`)).text()).split('\n').filter((l) => l.startsWith('cobalt_dashboard_controls_total{'));
    expect(series.sort()).toEqual([
      'cobalt_dashboard_controls_total{action="other",outcome="invalid"} 1',
      'cobalt_dashboard_controls_total{action="other",outcome="unauthorized"} 40',
      'cobalt_dashboard_controls_total{action="stop",outcome="unauthorized"} 1',
    ]);
  });
});

describe('dashboard server: binding and reads', () => {
  it('refuses a non-loopback host without a configured token', async () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const attempt = startDashboard({ bus, clock, config: { host: '0.0.0.0', port: 0 }, token: { token: 'generated-one', generated: true }, staticDir });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(/not loopback: set COBALT_DASHBOARD_TOKEN/);
  });

  it('bound to a non-loopback address, wants the token for state, metrics and the socket too', async () => {
    // 127.0.0.2 is on the loopback interface but not on the config's loopback list: the server treats it as exposed.
    const { d } = await start(undefined, undefined, { host: '127.0.0.2' });
    const stateBare = await fetch(`${d.url}api/state`);
    const stateTok = await fetch(`${d.url}api/state`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const metricsBare = await fetch(`${d.url}metrics`);
    const wsBare = new WebSocket(`${d.url.replace('http', 'ws')}ws`);
    const wsBareStatus = await new Promise<number>((res) => wsBare.on('unexpected-response', (_req, r) => res(r.statusCode ?? 0)));
    const wsTok = await WsRecorder.connect(`${d.url.replace('http', 'ws')}ws?token=${TOKEN}`);
    const snap = await wsTok.next((f) => f.type === 'snapshot');
    wsTok.ws.close();
    expect(stateBare.status).toBe(401);
    expect(stateTok.status).toBe(200);
    expect(metricsBare.status).toBe(401);
    expect(wsBareStatus).toBe(401);
    expect(Object.keys(snap.topics).sort()).toEqual(['candles', 'cob', 'heatmap', 'models', 'orders', 'portfolio', 'risk', 'system', 'training']);
  });

  it('serves the page and refuses paths outside its folder', async () => {
    const { d } = await start();
    const page = await fetch(d.url);
    const raw = (path: string) => new Promise<{ status: number; body: string }>((res, rej) => {
      request(`${d.url.slice(0, -1)}${path}`, (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      }).on('error', rej).end();
    });
    const attempts = await Promise.all(['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/..%5csecret.txt', '/%2e%2e%2f%2e%2e%2fsecret.txt'].map(raw));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<title>cobalt</title>');
    for (const a of attempts) {
      expect([403, 404]).toContain(a.status);
      expect(a.body).not.toContain('SECRET');
    }
  });

  it('refuses a WebSocket opened from another site', async () => {
    const { d } = await start();
    const ws = new WebSocket(`${d.url.replace('http', 'ws')}ws`, { headers: { Origin: 'http://evil.example' } });
    const status = await new Promise<number>((res) => ws.on('unexpected-response', (_req, r) => res(r.statusCode ?? 0)));
    expect(status).toBe(403);
  });
});

describe('dashboard server: /metrics', () => {
  it('serves strict Prometheus text with the engine families, fed by the replayed recording', async () => {
    const h = await ReplayHarness.open();
    try {
      const { d, bus } = await start(h.bus, h.clock);
      await h.pumpFor(20_000);
      bus.publish({ type: 'sys.actorRestarted', actor: 'cob', attempt: 1, delayMs: 200, error: 'Error: boom', ts: h.clock.now() });
      bus.publish({ type: 'signal.modelOutput', output: { model: 'cnn', version: 'v1', symbol: 'ETH/USDT', ts: h.clock.now(), action: 'BUY', probabilities: [0.6, 0.1, 0.3], confidence: 0.6, extra: { latencyMs: 0.8 } } });
      await post(`${d.url}api/control/stop`, {});
      const res = await fetch(`${d.url}metrics`);
      const text = await res.text();
      const { samples, types } = parsePrometheus(text);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(types.get('cobalt_depth_frames_total')).toBe('counter');
      expect(types.get('cobalt_inference_latency_seconds')).toBe('histogram');
      for (const f of ['cobalt_bus_messages_total', 'cobalt_book_gaps_total', 'cobalt_book_resyncs_total', 'cobalt_orders_total', 'cobalt_fills_total', 'cobalt_actor_restarts_total', 'cobalt_pnl_realized_quote', 'cobalt_equity_quote', 'cobalt_dashboard_ws_clients']) {
        expect(types.has(f), f).toBe(true);
      }
      expect(samples.get('cobalt_depth_frames_total')).toBe(h.bus.counters()['md.depthRaw']!.published);
      expect(samples.get('cobalt_depth_frames_total')).toBeGreaterThan(100);
      expect(samples.get('cobalt_bus_messages_total{type="md.trade"}')).toBeGreaterThan(100);
      expect(samples.get('cobalt_actor_restarts_total{actor="cob"}')).toBe(1);
      expect(samples.get('cobalt_inference_latency_seconds_count{model="cnn"}')).toBe(1);
      expect(samples.get('cobalt_inference_latency_seconds_bucket{le="0.001",model="cnn"}')).toBe(1);
      expect(samples.get('cobalt_dashboard_controls_total{action="stop",outcome="unauthorized"}')).toBe(1);
    } finally {
      await h.close();
    }
  });

  it('shows the alerts webhook counts its provider gives (none without one)', async () => {
    const counts = { sent: 5, failed: 1, dropped: 0, coalesced: 2, retried: 3, queued: 1 };
    const { d } = await start(undefined, undefined, { providers: { alertsWebhook: () => counts } });
    const text = await (await fetch(`${d.url}metrics`)).text();
    expect(parsePrometheus(text).samples.get('cobalt_alerts_webhook_total{outcome="sent"}')).toBe(5);
    expect(parsePrometheus(text).samples.get('cobalt_alerts_webhook_queued')).toBe(1);
    const { d: bare } = await start();
    expect(await (await fetch(`${bare.url}metrics`)).text()).not.toContain('cobalt_alerts_webhook');
  });

  it('the strict parser rejects malformed exposition (so the check above can fail)', () => {
    expect(() => parsePrometheus('# TYPE a counter\na{x="1" 2\n')).toThrow(/bad sample/);
    expect(() => parsePrometheus('b 1\n')).toThrow(/no TYPE/);
    expect(() => parsePrometheus('# TYPE c gauge\n# HELP c h\nc one\n')).toThrow(/bad sample/);
  });
});

describe('dashboard server: WebSocket pushes', () => {
  it('coalesces a burst: at most maxHz pushes per second, the last state wins, no history item lost', async () => {
    const { d, bus, clock } = await start(undefined, undefined, { maxHz: 4 });
    const rec = await WsRecorder.connect(`${d.url.replace('http', 'ws')}ws`);
    await rec.next((f) => f.type === 'snapshot');
    const t0 = clock.now();
    // 400 messages over one second of simulated time: 200 threshold changes (state) and 200 alerts (history).
    for (let i = 1; i <= 200; i++) {
      bus.publish({ type: 'orchestrator.setThresholds', buy: i / 1000 });
      bus.publish({ type: 'risk.alert', code: 'VAR_95', message: `alert ${i}`, ts: clock.now() });
      clock.advance(5);
    }
    clock.advance(1000);
    await rec.next((f) => f.type === 'delta' && f.topics.models?.thresholds?.buy === 0.2);
    const deltas = rec.frames.filter((f) => f.type === 'delta');
    const alerts = deltas.flatMap((f) => (f.topics.risk?.alerts.items ?? []).map((a: { message: string }) => a.message));
    const thresholdsSeen = deltas.map((f) => f.topics.models?.thresholds?.buy).filter((x) => x !== undefined);
    expect(clock.now() - t0).toBe(2000);
    expect(deltas.length).toBeGreaterThanOrEqual(2);
    expect(deltas.length).toBeLessThanOrEqual(5); // flushes at t0, +250, +500, +750, +1000
    expect(thresholdsSeen.length).toBe(deltas.filter((f) => f.topics.models).length);
    expect(thresholdsSeen.at(-1)).toBe(0.2);
    expect(alerts).toEqual(Array.from({ length: 200 }, (_, i) => `alert ${i + 1}`));
    expect(d.throttle.stats.marked).toBe(400);
    rec.ws.close();
  });

  it('does no push work while no browser is connected', async () => {
    const h = await ReplayHarness.open();
    try {
      const { d } = await start(h.bus, h.clock);
      const lines = await h.pumpFor(10_000);
      expect(lines).toBeGreaterThan(1000);
      expect(d.throttle.stats.marked).toBe(0);
      expect(d.throttle.stats.flushes).toBe(0);
    } finally {
      await h.close();
    }
  });

  it('sends a new client the full state, then only what changed', async () => {
    const h = await ReplayHarness.open();
    try {
      const { d } = await start(h.bus, h.clock);
      await h.pumpFor(15_000);
      const rec = await WsRecorder.connect(`${d.url.replace('http', 'ws')}ws`);
      const snap = await rec.next((f) => f.type === 'snapshot');
      await h.pumpFor(3_000);
      const delta = await rec.next((f) => f.type === 'delta' && f.topics.candles?.series['ETH/USDT|1s']);
      const snapBars: number[][] = snap.topics.candles.series['ETH/USDT|1s'].items;
      const deltaSeries = delta.topics.candles.series['ETH/USDT|1s'];
      expect(snap.topics.candles.series['ETH/USDT|1s'].reset).toBe(true);
      expect(snapBars.length).toBeGreaterThanOrEqual(10);
      expect(deltaSeries.reset).toBe(false);
      expect(deltaSeries.items.length).toBeLessThanOrEqual(4);
      expect(deltaSeries.items[0][0]).toBeGreaterThanOrEqual(snapBars.at(-1)![0]!);
      expect(Object.keys(snap.topics.cob.books).sort()).toEqual(['BTC/USDT', 'ETH/USDT']);
      rec.ws.close();
    } finally {
      await h.close();
    }
  });
});
