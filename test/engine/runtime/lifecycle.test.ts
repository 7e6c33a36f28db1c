import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { fromCallback } from 'xstate';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { installSignalHandlers, Lifecycle, signalExitCode, type ShutdownReport } from '../../../engine/runtime/lifecycle.ts';
import { Supervisor } from '../../../engine/runtime/supervisor.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';

/** Lets pending promise callbacks run (one macrotask turn; no timers involved). */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

const trade = (tradeId: number): EngineMsg => ({ type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tsExchange: 0, tsLocal: 0, tradeId, price: 1 as never, lots: 1 as never, buyerMaker: false });

function system() {
  const clock = new SimulatedClock(5_000);
  const bus = new Bus();
  const log: string[] = [];
  const actor = (id: string) => fromCallback(() => {
    log.push(`start:${id}`);
    return () => log.push(`stop:${id}`);
  });
  const sup = new Supervisor({ children: [{ id: 'feed', logic: actor('feed') }, { id: 'cob', logic: actor('cob') }, { id: 'executor', logic: actor('executor') }], bus, clock });
  const lc = new Lifecycle({ bus, clock, supervisor: sup, hookTimeoutMs: 1_000 });
  bus.subscribe('sys.shutdown', (m) => log.push(`published:sys.shutdown(${m.signal})`));
  return { clock, bus, log, sup, lc };
}

describe('Lifecycle.shutdown', () => {
  it('runs intake -> drain -> flush -> actor stop in reverse start order -> close, after publishing sys.shutdown', async () => {
    const { bus, log, sup, lc } = system();
    sup.start();
    bus.subscribe('md.trade', (m) => log.push(`delivered:trade${m.tradeId}`));
    lc.onStopIntake('binance-ws', () => { log.push('intake:binance-ws'); });
    lc.onStopIntake('replay', async () => { await settle(); log.push('intake:replay'); });
    lc.onDrain('executor', async () => { await settle(); await settle(); log.push('drain:executor'); });
    lc.onDrain('infer', async () => { await settle(); log.push('drain:infer'); });
    lc.onFlush('orders-store', async () => { await settle(); log.push('flush:orders-store'); });
    lc.onFlush('inference-store', () => { log.push('flush:inference-store'); });
    lc.onClose('lmdb', () => { log.push('close:lmdb'); });
    lc.onClose('http', () => { log.push('close:http'); });
    bus.enqueue(trade(1)); // queued before the signal: must still be delivered
    log.length = 0;

    const report = await lc.shutdown('SIGTERM');

    expect(log).toEqual([
      'published:sys.shutdown(SIGTERM)',
      'intake:binance-ws', 'intake:replay',
      'delivered:trade1',
      'drain:infer', 'drain:executor', // in parallel: the quicker one first
      'flush:orders-store', 'flush:inference-store',
      'stop:executor', 'stop:cob', 'stop:feed',
      'close:http', 'close:lmdb',
    ]);
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => `${s.phase}:${s.name}:${s.outcome}`)).toEqual([
      'intake:binance-ws:ok', 'intake:replay:ok', 'drain:executor:ok', 'drain:infer:ok',
      'flush:orders-store:ok', 'flush:inference-store:ok', 'stop:supervisor:ok', 'close:http:ok', 'close:lmdb:ok',
    ]);
    expect(sup.status().every((s) => s.state === 'stopped')).toBe(true);
  });

  it('gives up on a drain hook at its timeout on the injected clock, not before, and carries on', async () => {
    const { clock, log, sup, lc } = system();
    sup.start();
    lc.onDrain('stuck', () => new Promise<void>(() => {}), { timeoutMs: 2_000 });
    lc.onFlush('store', () => { log.push('flush:store'); });
    let report: ShutdownReport | undefined;
    void lc.shutdown('SIGINT').then((r) => { report = r; });
    await settle();
    clock.advance(1_999);
    await settle();
    expect(report).toBeUndefined();
    expect(log).not.toContain('flush:store');
    clock.advance(1);
    await settle();
    expect(report?.ok).toBe(false);
    expect(report?.steps[0]).toEqual({ phase: 'drain', name: 'stuck', outcome: 'timeout', error: 'no answer within 2000 ms' });
    expect(report?.finishedAt).toBe(5_000 + 2_000);
    expect(log.slice(-4)).toEqual(['flush:store', 'stop:executor', 'stop:cob', 'stop:feed']);
  });

  it('reports a throwing hook and still runs every later phase', async () => {
    const { log, sup, lc } = system();
    sup.start();
    lc.onStopIntake('ws', () => { throw new Error('socket already closed'); });
    lc.onFlush('store', async () => { throw new Error('disk full'); });
    lc.onClose('env', () => { log.push('close:env'); });
    const report = await lc.shutdown();
    expect(report.ok).toBe(false);
    expect(report.steps.filter((s) => s.outcome !== 'ok')).toEqual([
      { phase: 'intake', name: 'ws', outcome: 'error', error: 'Error: socket already closed' },
      { phase: 'flush', name: 'store', outcome: 'error', error: 'Error: disk full' },
    ]);
    expect(log.slice(-1)).toEqual(['close:env']);
  });

  it('runs once however often it is called, and refuses hooks registered after it began', async () => {
    const { lc } = system();
    let flushes = 0;
    lc.onFlush('store', () => { flushes++; });
    const a = lc.shutdown('SIGTERM');
    const b = lc.shutdown('SIGINT');
    expect(b).toBe(a);
    expect((await a).signal).toBe('SIGTERM');
    expect(flushes).toBe(1);
    expect(lc.shuttingDown).toBe(true);
    expect(() => lc.onFlush('late', () => {})).toThrow("cannot register flush hook 'late': shutdown already started");
  });

  it('does not run an unregistered hook', async () => {
    const { lc } = system();
    let ran = false;
    const off = lc.onDrain('gone', () => { ran = true; });
    off();
    const report = await lc.shutdown();
    expect(ran).toBe(false);
    expect(report.steps.map((s) => s.name)).toEqual(['supervisor']);
  });
});

describe('installSignalHandlers', () => {
  it('shuts down gracefully on the first signal and exits 0 when it completes', async () => {
    const { lc } = system();
    const source = new EventEmitter();
    const codes: number[] = [];
    const uninstall = installSignalHandlers(lc, { source, exit: (c) => codes.push(c) });
    source.emit('SIGTERM', 'SIGTERM');
    expect(lc.shuttingDown).toBe(true);
    await settle();
    expect(codes).toEqual([0]);
    uninstall();
    expect(source.listenerCount('SIGTERM') + source.listenerCount('SIGINT')).toBe(0);
  });

  it('forces exit on a second signal while the first shutdown is still draining', async () => {
    const { clock, lc } = system();
    lc.onDrain('slow', () => new Promise<void>(() => {}), { timeoutMs: 10_000 });
    const source = new EventEmitter();
    const codes: number[] = [];
    installSignalHandlers(lc, { source, exit: (c) => codes.push(c) });
    source.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect(codes).toEqual([]);
    source.emit('SIGINT', 'SIGINT');
    expect(codes).toEqual([130]);
    clock.advance(10_000);
    await settle();
    expect(codes).toEqual([130, 1]); // the graceful path still ends, reporting the timed-out drain
  });

  it('maps signals to 128 + their number', () => {
    expect(signalExitCode('SIGINT')).toBe(130);
    expect(signalExitCode('SIGTERM')).toBe(143);
  });
});
