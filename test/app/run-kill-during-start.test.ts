// Task A (kill switch while `cobalt run` starts): the dashboard started before the engine answered every control
// action 503 ENGINE_STARTING until the engine ran, the kill switch too; a live start reconciles with the venue for as
// long as the venue fails, and a trader who saw something wrong then had SIGTERM alone. A kill asked for during the
// start is now published as soon as the RiskManager runs (held before that), so the RiskManager saves it: the engine
// runs halted, and a shutdown or a failed start during the start leaves the next start halted. Every other action, a
// resume too, is still refused.
import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TradingExecutor } from '../../actors/trading-executor/executor.ts';
import { ENGINE_STARTING } from '../../app/run.ts';
import { BinanceFeed } from '../../engine/venues/binance/binance-feed.ts';
import { type DashboardHandle, type DashboardOptions } from '../../engine/dashboard/index.ts';
import type { ExchangeSim } from '../../engine/venues/sim/server.ts';
import { scratchDir, startSim, writeLiveConfig } from '../e2e/live-driver.ts';
import { fetchLocal, startDaemon, until, venueProxy, type Daemon } from './live-start-rig.ts';

// Every dashboard the daemon starts, kept to read its controls counter once it is closed (after a failed start or a
// shutdown, when it can no longer be scraped), and what happened first on the bus it was given: the kill switch or
// the market-data feed's start (`order`). The real startDashboard runs.
const dashboards = vi.hoisted(() => [] as DashboardHandle[]);
const order = vi.hoisted(() => [] as string[]);
vi.mock('../../engine/dashboard/index.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../engine/dashboard/index.ts')>();
  return {
    ...real,
    startDashboard: async (o: DashboardOptions): Promise<DashboardHandle> => {
      const h = await real.startDashboard(o);
      dashboards.push(h);
      o.bus.subscribe('risk.killSwitch', (m) => void order.push(`risk.killSwitch ${m.on ? 'on' : 'off'}`));
      return h;
    },
  };
});

let sim: ExchangeSim | undefined;
const proxies: Server[] = [];
const dirs: string[] = [];
beforeAll(async () => {
  sim = await startSim('manual');
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});
afterAll(async () => {
  for (const p of proxies) await new Promise((r) => p.close(r));
  await sim?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// The dashboard's origin and token from its printed link.
function dashboardOf(d: Daemon): { base: string; token: string } {
  const link = new URL(d.dashboard()!);
  return { base: link.origin, token: new URLSearchParams(link.hash.slice(1)).get('token')! };
}

interface Answer {
  readonly status: number;
  readonly body: { error?: string; ok?: boolean; queued?: boolean; asks?: number; message?: string };
}

async function control(base: string, token: string, action: string): Promise<Answer> {
  const res = await fetch(new URL(`/api/control/${action}`, base), {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}',
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

interface State {
  readonly risk: { state: string; killSwitch: boolean };
  readonly system: { status: { controls: { refused: string | null; killHeld: { asks: number } | null } } };
}

async function state(base: string): Promise<State> {
  return (await (await fetchLocal(new URL('/api/state', base))).json()) as State;
}

async function metric(base: string, outcome: string): Promise<number | undefined> {
  const text = await (await fetchLocal(new URL('/metrics', base))).text();
  const m = new RegExp(`^cobalt_dashboard_controls_total\\{action="kill",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

function liveConfig(tag: string, rest: string): string {
  const dir = scratchDir(tag);
  dirs.push(dir);
  return writeLiveConfig(dir, { rest, ws: sim!.wsUrl }, { dashboard: { enabled: true, host: '127.0.0.1', port: 0 } });
}

// What the last dashboard counted for `kill` (cobalt_dashboard_controls_total) by outcome, read from the counter itself.
async function killCounts(): Promise<Record<string, number>> {
  const { values } = await dashboards.at(-1)!.metrics.controls.get();
  return Object.fromEntries(values.filter((v) => v.labels.action === 'kill').map((v) => [String(v.labels.outcome), v.value]));
}

describe('cobalt run --live: the kill switch while the engine starts', () => {
  it('publishes a kill while the engine starts, refuses a resume (503), and the engine runs halted by it', async () => {
    order.length = 0;
    const down = { on: true, calls: 0 };
    const feedStart = BinanceFeed.prototype.start;
    vi.spyOn(BinanceFeed.prototype, 'start').mockImplementation(function (this: BinanceFeed) {
      order.push('feed start');
      return feedStart.call(this);
    });
    const d = startDaemon(liveConfig('run-kill-start', await venueProxy(sim!.url, down, proxies)));
    // Failed twice: the start is retrying, not done.
    await until(d, () => d.dashboard() !== undefined && down.calls >= 2, 'the dashboard and a failed reconciliation', 2400);
    const { base, token } = dashboardOf(d);
    const first = await control(base, token, 'kill');
    const second = await control(base, token, 'kill');
    const resume = await control(base, token, 'start');
    const starting = await state(base);

    down.on = false;
    let running: State | undefined;
    await until(d, async () => {
      running = await state(base);
      return running.system.status.controls.refused === null && running.risk.killSwitch;
    }, 'the engine to run with the held kill applied');
    const queued = await metric(base, 'queued');
    const applied = await metric(base, 'ok');
    const stopped = d.signals.emit('SIGTERM', 'SIGTERM');
    const code = await d.exited;

    expect(first).toEqual({ status: 200, body: expect.objectContaining({ ok: true, action: 'kill' }) });
    expect(second).toEqual({ status: 200, body: expect.objectContaining({ ok: true, action: 'kill' }) });
    expect(resume).toEqual({ status: 503, body: { error: ENGINE_STARTING } });
    expect(starting.system.status.controls).toEqual({ refused: ENGINE_STARTING, killHeld: null });
    expect(starting.risk).toMatchObject({ state: 'halted', killSwitch: true });
    expect(running?.risk).toMatchObject({ state: 'halted', killSwitch: true });
    // Both published while the start went on, ahead of the market data.
    expect([queued, applied]).toEqual([undefined, 2]);
    expect(order.slice(0, 3)).toEqual(['risk.killSwitch on', 'risk.killSwitch on', 'feed start']);
    expect(stopped).toBe(true);
    expect(code).toBe(0);
  }, 120_000);

  it('takes a kill while a start that then fails (EngineStartError: runCommand returns 1) goes on', async () => {
    const proto = TradingExecutor.prototype as unknown as { start: () => Promise<unknown> };
    const original = proto.start;
    let fail!: () => void;
    const failing = new Promise<void>((r) => (fail = r));
    proto.start = async () => {
      await failing;
      throw new Error('injected: the exec store cannot be read');
    };
    try {
      const d = startDaemon(liveConfig('run-kill-fail', sim!.url));
      await until(d, () => d.dashboard() !== undefined, 'the dashboard', 2400);
      const { base, token } = dashboardOf(d);
      const held = await control(base, token, 'kill');
      fail();
      // The executor's restarts (real time: the simulator's clock) until its budget is spent and the start fails.
      for (let i = 0; i < 4800 && d.returned() === undefined; i++) await new Promise((r) => setTimeout(r, 25));

      expect(held.status).toBe(200);
      expect(d.returned()).toBe(1);
      expect(await killCounts()).toEqual({ ok: 1 });
    } finally {
      proto.start = original;
    }
  }, 150_000);

  it('keeps a kill taken during a start stopped by SIGTERM: the next start runs halted', async () => {
    const down = { on: true, calls: 0 };
    const file = liveConfig('run-kill-term', await venueProxy(sim!.url, down, proxies));
    const d = startDaemon(file);
    await until(d, () => d.dashboard() !== undefined && down.calls >= 2, 'the dashboard and a failed reconciliation', 2400);
    const { base, token } = dashboardOf(d);
    const kill = await control(base, token, 'kill');
    const stopped = d.signals.emit('SIGTERM', 'SIGTERM');
    const code = await d.exited;
    const counts = await killCounts();
    vi.restoreAllMocks();

    // The same store, the venue answering.
    down.on = false;
    const again = startDaemon(file);
    await until(again, () => again.dashboard() !== undefined, 'the second dashboard', 2400);
    const next = dashboardOf(again);
    let running: State | undefined;
    await until(again, async () => {
      running = await state(next.base);
      return running.system.status.controls.refused === null;
    }, 'the second engine to run');
    again.signals.emit('SIGTERM', 'SIGTERM');
    const code2 = await again.exited;

    expect(kill.status).toBe(200);
    expect([stopped, code, code2]).toEqual([true, 0, 0]);
    expect(counts).toEqual({ ok: 1 });
    expect(running?.risk).toMatchObject({ state: 'halted', killSwitch: true });
  }, 180_000);
});
