// A crash of the daemon pushed nothing: an uncaught exception or unhandled rejection ended `cobalt run` with Node's
// stderr text, no log line and no alert. installCrashHandlers now logs it at fatal level (ENGINE_CRASHED), gives what
// must be told (the webhook's post) a bounded wait, and exits 70; a second crash meanwhile exits at once.
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import {
  CRASH_EXIT_CODE, installCrashHandlers, installSignalHandlers, Lifecycle, ProcessStop, type CrashOrigin, type ShutdownReport,
} from '../../../engine/runtime/lifecycle.ts';
import { until } from '../../wait-until.ts';
import { settle } from './stop-rig.ts';

interface Line { level: number; code?: string; origin?: string; again?: boolean; msg: string; err?: { type: string; message: string; stack?: string } }

function rig(tell?: (err: unknown, origin: CrashOrigin) => void | Promise<void>, deadlineMs = 3_000) {
  const lines: Line[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Line) });
  const source = new EventEmitter();
  const exits: number[] = [];
  const told: [unknown, CrashOrigin][] = [];
  const watch = installCrashHandlers({
    source, logger, deadlineMs, exit: (code) => void exits.push(code),
    tell: (err, origin) => {
      told.push([err, origin]);
      return tell?.(err, origin);
    },
  });
  return { lines, source, exits, told, watch };
}

const never = (): Promise<void> => new Promise<void>(() => undefined);

describe('a crash of the daemon', () => {
  it('logs one fatal ENGINE_CRASHED line with the error, tells it, then exits 70 once told', async () => {
    let done!: () => void;
    const r = rig(() => new Promise<void>((resolve) => (done = resolve)));
    const err = new TypeError("Cannot read properties of undefined (reading 'bids')");
    r.source.emit('uncaughtException', err);
    await until(() => r.told.length === 1, 'the tell');
    const beforeTold = [...r.exits];
    done();
    await until(() => r.exits.length === 1, 'the exit');

    expect(beforeTold).toEqual([]);
    expect(r.exits).toEqual([CRASH_EXIT_CODE]);
    expect(CRASH_EXIT_CODE).toBe(70);
    expect(r.told).toEqual([[err, 'uncaughtException']]);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatchObject({ level: 60, code: 'ENGINE_CRASHED', origin: 'uncaughtException', err: { type: 'TypeError', message: err.message } });
    expect(r.lines[0]!.err!.stack).toContain('crash-exit.test.ts');
    expect(r.lines[0]!.msg).toContain(err.message);
  });

  it('exits 70 when the tell does not settle within its deadline', async () => {
    const r = rig(never, 20);
    r.source.emit('unhandledRejection', new Error('venue socket closed'));
    await until(() => r.exits.length === 1, 'the exit at the deadline', 10_000_000);

    expect(r.exits).toEqual([70]);
    expect(r.lines.map((l) => [l.code, l.origin])).toEqual([['ENGINE_CRASHED', 'unhandledRejection']]);
  });

  it('exits at once on a second crash while the first is told, and only once', async () => {
    let done!: () => void;
    const r = rig(() => new Promise<void>((resolve) => (done = resolve)));
    r.source.emit('uncaughtException', new Error('first'));
    await until(() => r.told.length === 1, 'the tell');
    r.source.emit('unhandledRejection', new Error('second'));
    const atSecond = [...r.exits];
    done();
    // The first crash's tell settled: what it does next (nothing, the exit is done) runs in microtasks before this.
    await new Promise((res) => setImmediate(res));

    expect(atSecond).toEqual([70]);
    expect(r.exits).toEqual([70]);
    expect(r.told).toHaveLength(1);
    expect(r.lines.map((l) => [l.code, l.err?.message, l.again])).toEqual([['ENGINE_CRASHED', 'first', undefined], ['ENGINE_CRASHED', 'second', true]]);
  });

  it('logs a rejection with a value that is no Error, and exits even when the tell throws', async () => {
    const r = rig(() => {
      throw new Error('the webhook is gone');
    });
    r.source.emit('unhandledRejection', { reason: 'nope', n: 3 });
    await until(() => r.exits.length === 1, 'the exit');

    expect(r.exits).toEqual([70]);
    expect(r.lines.map((l) => l.code)).toEqual(['ENGINE_CRASHED', 'ENGINE_CRASH_TELL_FAILED']);
    expect(r.lines[0]!.err!.message).toBe("non-error thrown: { reason: 'nope', n: 3 }");
  });

  it('stops listening once removed', () => {
    const r = rig();
    r.watch.remove();
    expect([r.source.listenerCount('uncaughtException'), r.source.listenerCount('unhandledRejection')]).toEqual([0, 0]);
  });

  it('scrubs a venue signature and credential pairs from the fatal line (message, stack, cause, non-Error value)', async () => {
    const sig = '9f2c1e0b7a6d5c4b3a29181706f5e4d3c2b1a0f9e8d7c6b5a4938271605f4e3d';
    const cause = new Error(`binance GET https://api.binance.com/api/v3/account?timestamp=1700000000000&signature=${sig} 503`);
    const r = rig();
    r.source.emit('uncaughtException', new Error(`fetching the balance failed: ${cause.message}`, { cause }));
    r.source.emit('unhandledRejection', { url: 'https://api.binance.com/api/v3/order', headers: { 'X-MBX-APIKEY': 'k3y-value-0123456789' }, apiKey: 'k3y-value-0123456789' });
    await until(() => r.exits.length === 1, 'the exit');
    const text = JSON.stringify(r.lines);

    expect(r.lines).toHaveLength(2);
    expect(text).not.toContain(sig);
    expect(text).not.toContain('k3y-value-0123456789');
    expect(r.lines[0]!.msg).toContain('timestamp=1700000000000&signature=[redacted] 503');
    expect(r.lines[0]!.err!.stack).toContain('signature=[redacted] 503');
    expect(r.lines[1]!.err!.message).toBe("non-error thrown: { url: 'https://api.binance.com/api/v3/order', headers: { 'X-MBX-APIKEY': [redacted] }, apiKey: [redacted] }");
  });
});

// A lifecycle on a simulated clock, its graceful stop wired to signals, and crash handlers, all exiting into `exits`.
function stopAndCrashRig() {
  const lifecycle = new Lifecycle({ bus: new Bus(), clock: new SimulatedClock(0), hookTimeoutMs: 1_000 });
  const exits: number[] = [];
  const reports: ShutdownReport[] = [];
  const source = new EventEmitter();
  const watch = installCrashHandlers({ source, exit: (c) => void exits.push(c), logger: pino({ level: 'silent' }) });
  const stop = new ProcessStop(lifecycle, { exit: (c) => void exits.push(c), onReport: (r) => reports.push(r), crashed: () => watch.crashed });
  installSignalHandlers(lifecycle, { source, stop });
  return { lifecycle, exits, reports, source, watch };
}

describe('a crash and the graceful stop', () => {
  it('exits 70 only when the crash comes during a graceful stop, which finishes without an exit of its own', async () => {
    const r = stopAndCrashRig();
    r.source.emit('SIGTERM', 'SIGTERM');
    r.source.emit('uncaughtException', new Error('thrown while stopping'));
    await until(() => r.reports.length === 1 && r.exits.length >= 1, 'the stop\'s end and the crash\'s exit');
    await settle();

    expect(r.watch.crashed).toBe(true);
    expect(r.exits).toEqual([70]);
  });

  it('starts no graceful stop of the broken state on a signal after a crash, and exits only 70', async () => {
    const r = stopAndCrashRig();
    r.source.emit('uncaughtException', new Error('thrown while running'));
    r.source.emit('SIGTERM', 'SIGTERM');
    r.source.emit('SIGTERM', 'SIGTERM');
    await until(() => r.exits.length === 1, 'the crash\'s exit');
    await settle();

    expect(r.lifecycle.shuttingDown).toBe(false);
    expect(r.reports).toEqual([]);
    expect(r.exits).toEqual([70]);
  });
});
