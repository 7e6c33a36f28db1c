// Task E2: off a terminal `cobalt run` logs the status every 30 s from an interval it never cleared, so a stopped
// engine went on logging its status (the terminal's line was cleared at the stop, the log's was not), and the status
// line's bus subscriptions were never dropped. Both now end with the intake, on a terminal or not.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../../app/run.ts';
import { StatusLine } from '../../app/status-line.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, priceToTicks, qtyToLots } from '../../engine/types/instrument.ts';
import { replayConfigYaml } from '../e2e/helpers.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-run-status-'));
const isTTY = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  if (isTTY) Object.defineProperty(process.stdout, 'isTTY', isTTY);
  else delete (process.stdout as { isTTY?: boolean }).isTTY;
});

const STATUS_LOG_MS = 30_000;

describe('cobalt run off a terminal: the status log', () => {
  it('clears its 30 s interval when the daemon stops', async () => {
    const config = path.join(root, 'paper.yaml');
    writeFileSync(config, replayConfigYaml(root, { speed: 1, loop: true }));
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    vi.stubEnv('COBALT_LOG_PRETTY', '0');
    Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
    const statusTimers: unknown[] = [];
    const realSetInterval = globalThis.setInterval;
    vi.spyOn(globalThis, 'setInterval').mockImplementation(((fn: () => void, ms?: number, ...args: unknown[]) => {
      const t = realSetInterval(fn, ms, ...args);
      if (ms === STATUS_LOG_MS) statusTimers.push(t);
      return t;
    }) as typeof setInterval);
    const cleared = vi.spyOn(globalThis, 'clearInterval');
    const signals = new EventEmitter();
    let failed: unknown;
    let exit: (code: number) => void = () => undefined;
    const exited = new Promise<number>((resolve) => { exit = resolve; });
    void runCommand({ config }, { source: signals, exit }).then((code) => (failed = `runCommand returned ${code}`), (err: unknown) => (failed = err));
    // Bounded wall wait for the engine to run (the status log starts right after).
    for (let i = 0; i < 1200 && failed === undefined && statusTimers.length === 0; i++) await new Promise((r) => setTimeout(r, 25));

    const stopped = signals.emit('SIGTERM', 'SIGTERM');
    const code = await exited;

    expect(failed).toBeUndefined();
    expect(statusTimers).toHaveLength(1);
    expect(stopped).toBe(true);
    expect(code).toBe(0);
    expect(cleared).toHaveBeenCalledWith(statusTimers[0]);
  }, 60_000);
});

describe('StatusLine.close', () => {
  it('drops its bus subscriptions: a trade after it changes nothing', () => {
    const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
    const bus = new Bus<EngineMsg>();
    const before = bus.subscriptionCount;
    const sys = { bus, clock: new SimulatedClock(0), traded: eth, dataInstruments: [eth], handles: { risk: () => undefined, executor: () => undefined }, supervisor: { halted: undefined } };
    const status = new StatusLine(sys as never);
    const trade = (px: string): void => bus.publish({
      type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', price: priceToTicks(eth, px), lots: qtyToLots(eth, '0.01'), buyerMaker: false, tradeId: 1, tsExchange: 0, tsLocal: 0,
    } as EngineMsg);
    trade('2500.00');
    status.close();
    trade('2600.00');

    expect(status.fields().prices).toBe('ETH 2500.00');
    expect(bus.subscriptionCount).toBe(before);
  });
});
