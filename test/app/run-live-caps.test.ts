// `cobalt run --live` prints the account and the caps as one JSON line before the first order. Review finding 1: the
// caps came from config.risk although limits an operator set on the dashboard are restored from the store when the
// config is unchanged (so the line said 1000 while the RiskManager applied 4000), and the quantity cap was printed as
// written rather than in the whole lots applied. The line now shows the limits the RiskManager starts with, marked
// `restored`, and still comes before the executor's first request to the venue (so before any order).
import { EventEmitter } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../../app/run.ts';
import { instrumentOf } from '../../app/live-venue.ts';
import { buildSystem } from '../../app/system.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { OrderBook } from '../../engine/market/order-book.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { formatMoney, money } from '../../engine/types/money.ts';
import { PaperVenue } from '../../engine/venues/paper/paper-venue.ts';
import type { ExchangeSim } from '../../engine/venues/sim/server.ts';
import { SIM_ENV, SIM_USDT, scratchDir, startSim, writeLiveConfig } from '../e2e/live-driver.ts';

// The daemon's signals and exit, given in place of the process's: SIGTERM on `signals` stops it as a real one would,
// and only its exit (or a failed start) removes the crash handlers it installed on the process (runExit). A daemon
// stopped any other way (its lifecycle shut down directly) would leave them in this worker, where a later test's stray
// rejection would exit the worker with 70.
const signals = new EventEmitter();
let exited: Promise<number> | undefined;
let stoppedCode: number | undefined;
// Stops the daemon through SIGTERM and returns whether its handler took the signal (false: handlers not installed, so
// nothing stopped) and the code it exited with. Once it has exited, a second call sends nothing.
async function stopDaemon(): Promise<{ handled: boolean; code: number | undefined }> {
  if (stoppedCode !== undefined) return { handled: true, code: stoppedCode };
  const handled = signals.emit('SIGTERM', 'SIGTERM');
  if (handled) stoppedCode = await exited;
  return { handled, code: stoppedCode };
}
const crashHandlers = () => [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];

let sim: ExchangeSim | undefined;
let proxy: Server | undefined;
const dirs: string[] = [];
afterAll(async () => {
  vi.unstubAllEnvs();
  await stopDaemon();
  if (proxy) await new Promise((r) => proxy!.close(r));
  await sim?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// Every request to the venue in arrival order, into `timeline`.
async function timelineProxy(target: string, timeline: string[]): Promise<string> {
  proxy = createServer((req, res) => {
    timeline.push(`${req.method} ${new URL(req.url ?? '/', target).pathname}`);
    const up = request(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

describe('cobalt run --live: the caps line', () => {
  it('shows the limits restored from the store (marked restored), quantity caps in whole lots, before the executor\'s first venue request', async () => {
    const handlersBefore = crashHandlers();
    sim = await startSim('manual');
    const timeline: string[] = [];
    const rest = await timelineProxy(sim.url, timeline);
    const dir = scratchDir('run-live-caps');
    dirs.push(dir);
    // 0.12345 ETH is 1234 whole lots of 0.0001: the cap applied is 0.1234.
    const file = writeLiveConfig(dir, { rest, ws: sim.wsUrl }, { risk: { maxOrderNotional: '1000', maxPositionNotional: '5000', maxOrderQty: '0.12345', maxSubmitPerSec: 5, maxDrawdownPct: 10 } });
    const { config } = loadConfig(file);

    // An earlier live run on the same store and config where the operator raised maxOrderNotional to 4000.
    const clock = new SimulatedClock(sim.clock.now());
    const inst = instrumentOf(config.symbols.primary, 'binance');
    const earlier = await buildSystem(config, {
      clock, mode: 'live', noSync: true, maintenanceMs: 0, dataOverride: () => undefined, liveCash: money(SIM_USDT),
      venueOverride: () => new PaperVenue({
        clock, instruments: [inst], books: { [inst.symbol]: new OrderBook(inst.venueSymbol) }, makerFeeRate9: 0n, takerFeeRate9: 0n,
        latencyMs: 0, balances: { USDT: money(SIM_USDT) }, id: 'binance',
      }),
    });
    earlier.supervisor.start();
    earlier.bus.publish({ type: 'risk.setLimits', limits: { maxOrderNotional: money('4000') }, ts: clock.now() });
    const set = formatMoney(earlier.handles.risk()!.limits.maxOrderNotional);
    await earlier.stop('test');

    // The restart, as `cobalt run --config <file> --live`.
    for (const [k, v] of Object.entries(SIM_ENV)) vi.stubEnv(k, v);
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    const lines: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      const line = String(s);
      lines.push(line);
      if (line.startsWith('{"account"')) timeline.push('caps line');
      return true;
    });
    let failed: unknown;
    let exit: (code: number) => void = () => undefined;
    exited = new Promise<number>((resolve) => { exit = resolve; });
    void runCommand({ config: file, live: true, speed: '1' }, { source: signals, exit }).then((code) => (failed = `exited ${code}`), (err: unknown) => (failed = err));
    try {
      // Bounded wall wait for the executor's reconciliation (its first request: the open orders).
      for (let i = 0; i < 1200 && failed === undefined && !timeline.includes('GET /api/v3/openOrders'); i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      stdout.mockRestore();
    }
    const capsLine = lines.find((l) => l.startsWith('{"account"'));
    const caps = capsLine === undefined ? undefined : (JSON.parse(capsLine) as { caps: unknown }).caps;
    const at = (entry: string): number => timeline.indexOf(entry);
    const stopped = await stopDaemon();
    const handlersAfter = crashHandlers();

    expect(failed).toBeUndefined();
    expect(set).toBe('4000');
    expect(caps).toEqual({ maxOrderNotional: '4000', maxPositionNotional: '5000', maxDrawdownPct: 10, maxSubmitPerSec: 5, maxOrderQty: '0.1234', restored: true });
    expect(at('caps line')).toBeGreaterThan(-1);
    expect(at('GET /api/v3/openOrders')).toBeGreaterThan(at('caps line'));
    expect(timeline.slice(0, at('caps line')).filter((r) => !r.startsWith('GET '))).toEqual([]);
    expect(stopped).toEqual({ handled: true, code: 0 });
    expect(handlersAfter).toEqual(handlersBefore);
  }, 90_000);
});
