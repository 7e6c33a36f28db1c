// Task E1: `cobalt run` started its dashboard only once `sys.start()` resolved, and a live start waits there for the
// executor's start-up reconciliation, retried for as long as the venue fails: no page and no /metrics exactly when the
// trader needs to see the reconciling executor and the protective stops unverified. The dashboard now starts before
// the engine; its reads serve during the start, its control actions are refused (503) until the engine runs, then
// accepted; a SIGTERM during that start closes it with the rest.
import { EventEmitter } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { Server } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TradingExecutor } from '../../actors/trading-executor/executor.ts';
import { ENGINE_STARTING, runCommand } from '../../app/run.ts';
import { Supervisor } from '../../engine/runtime/supervisor.ts';
import type { ExchangeSim } from '../../engine/venues/sim/server.ts';
import { replayConfigYaml } from '../e2e/helpers.ts';
import { scratchDir, startSim, writeLiveConfig } from '../e2e/live-driver.ts';
import { fetchLocal, startDaemon, until, venueProxy } from './live-start-rig.ts';

let sim: ExchangeSim | undefined;
const proxies: Server[] = [];
const dirs: string[] = [];
beforeAll(async () => {
  sim = await startSim('manual');
});
afterEach(() => vi.unstubAllEnvs());
afterAll(async () => {
  for (const p of proxies) await new Promise((r) => p.close(r));
  await sim?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function get(base: string, path: string): Promise<{ status: number; text: string }> {
  const res = await fetchLocal(new URL(path, base));
  return { status: res.status, text: await res.text() };
}

async function control(base: string, token: string, action: string): Promise<{ status: number; body: { error?: string; ok?: boolean } }> {
  const res = await fetch(new URL(`/api/control/${action}`, base), {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}',
  });
  return { status: res.status, body: (await res.json()) as { error?: string; ok?: boolean } };
}

// Resolves true when something accepts a TCP connection on 127.0.0.1:`port`.
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

function liveConfig(tag: string, rest: string): string {
  const dir = scratchDir(tag);
  dirs.push(dir);
  return writeLiveConfig(dir, { rest, ws: sim!.wsUrl }, {
    dashboard: { enabled: true, host: '127.0.0.1', port: 0 },
    execution: { protectiveStop: { enabled: true } },
  });
}

describe('cobalt run --live: the dashboard while the start-up reconciliation fails', () => {
  it('serves /api/state and /metrics, refuses a control with 503 until the engine runs, then accepts it', async () => {
    const down = { on: true, calls: 0 };
    const d = startDaemon(liveConfig('run-dash-start', await venueProxy(sim!.url, down, proxies)));
    // Failed twice: the start is retrying, not done.
    await until(d, () => d.dashboard() !== undefined && down.calls >= 2, 'the dashboard and a failed reconciliation');
    const link = new URL(d.dashboard()!);
    const token = new URLSearchParams(link.hash.slice(1)).get('token')!;
    const base = link.origin;
    const state = await get(base, '/api/state');
    const metrics = await get(base, '/metrics');
    const refused = await control(base, token, 'stop');

    down.on = false;
    let accepted: Awaited<ReturnType<typeof control>> | undefined;
    await until(d, async () => {
      accepted = await control(base, token, 'stop');
      return accepted.status !== 503;
    }, 'the engine to run');
    const stopped = d.signals.emit('SIGTERM', 'SIGTERM');
    const code = await d.exited;
    vi.restoreAllMocks();

    expect(state.status).toBe(200);
    // Seen from the executor's first message of the start: the dashboard was there before it.
    expect((JSON.parse(state.text) as { system: { venues: Record<string, { status: string }> } }).system.venues.binance?.status).toBe('reconciling');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^cobalt_protective_stops_unverified \d+$/m);
    expect(refused).toEqual({ status: 503, body: { error: ENGINE_STARTING } });
    expect(accepted?.status).toBe(200);
    expect(accepted?.body.ok).toBe(true);
    expect(stopped).toBe(true);
    expect(code).toBe(0);
    expect(await accepts(Number(link.port))).toBe(false);
  }, 90_000);

  it('closes the dashboard when the start fails (EngineStartError: runCommand returns 1)', async () => {
    const proto = TradingExecutor.prototype as unknown as { start: () => Promise<unknown> };
    const original = proto.start;
    proto.start = async () => {
      throw new Error('injected: the exec store cannot be read');
    };
    try {
      const d = startDaemon(liveConfig('run-dash-fail', sim!.url));
      // The executor's restarts (real time: the simulator's clock) until its budget is spent and the start fails.
      let port: number | undefined;
      for (let i = 0; i < 2400 && d.returned() === undefined; i++) {
        if (port === undefined && d.dashboard() !== undefined) port = Number(new URL(d.dashboard()!).port);
        await new Promise((r) => setTimeout(r, 25));
      }
      vi.restoreAllMocks();

      expect(port).toBeDefined();
      expect(d.returned()).toBe(1);
      expect(await accepts(port!)).toBe(false);
    } finally {
      proto.start = original;
    }
  }, 90_000);

  it('closes the dashboard on a SIGTERM during that start', async () => {
    const down = { on: true, calls: 0 };
    const d = startDaemon(liveConfig('run-dash-term', await venueProxy(sim!.url, down, proxies)));
    await until(d, () => d.dashboard() !== undefined && down.calls >= 2, 'the dashboard and a failed reconciliation');
    const port = Number(new URL(d.dashboard()!).port);
    const listening = await accepts(port);

    const stopped = d.signals.emit('SIGTERM', 'SIGTERM');
    const code = await d.exited;
    vi.restoreAllMocks();

    expect(listening).toBe(true);
    expect(stopped).toBe(true);
    expect(code).toBe(0);
    expect(await accepts(port)).toBe(false);
  }, 90_000);
});

describe('cobalt run: a signal while its dashboard starts', () => {
  it('closes the dashboard and starts no engine: exits 0, no dashboard line printed', async () => {
    const dir = scratchDir('run-dash-signal');
    dirs.push(dir);
    const file = path.join(dir, 'paper.yaml');
    writeFileSync(file, replayConfigYaml(dir, { speed: 1 }).replace('  enabled: false', '  enabled: true\n  host: 127.0.0.1\n  port: 0'));
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    const printed: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (printed.push(String(s)), true));
    const actorsStarted = vi.spyOn(Supervisor.prototype, 'start');
    const closed = vi.spyOn(Server.prototype, 'close');
    // The daemon's SIGTERM handler is called as soon as it is installed: before the dashboard (then the engine) starts.
    // It is the second: the first is the start's (watchStartSignals), removed once the system is built.
    const signals = new EventEmitter();
    let handlers = 0;
    signals.on('newListener', (event: string, listener: (signal: string) => void) => {
      if (event === 'SIGTERM' && ++handlers === 2) queueMicrotask(() => listener('SIGTERM'));
    });
    let failed: unknown;
    const code = await new Promise<number>((resolve) => {
      runCommand({ config: file }, { source: signals, exit: resolve }).then((c) => (failed = `runCommand returned ${c}`), (err: unknown) => (failed = err));
    });
    // The dashboard started after the signal and closed itself: what runCommand does next follows in the same turn.
    for (let i = 0; i < 1200 && closed.mock.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setImmediate(r));
    const closes = closed.mock.calls.length;
    const started = actorsStarted.mock.calls.length;
    vi.restoreAllMocks();

    expect(failed).toBeUndefined();
    expect(code).toBe(0);
    expect(printed.filter((l) => l.startsWith('dashboard: '))).toEqual([]);
    expect(closes).toBe(1);
    expect(started).toBe(0);
  }, 60_000);
});
