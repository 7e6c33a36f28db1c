// A crash of the daemon pushed nothing: an uncaught exception or unhandled rejection ended `cobalt run` with Node's
// stderr text, no log line and no alert. installCrashHandlers now logs it at fatal level (ENGINE_CRASHED), gives what
// must be told (the webhook's post) a bounded wait, and exits 70; a second crash meanwhile exits at once.
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CRASH_EXIT_CODE, installCrashHandlers, type CrashOrigin } from '../../../engine/runtime/lifecycle.ts';
import { until } from '../../wait-until.ts';

interface Line { level: number; code?: string; origin?: string; again?: boolean; msg: string; err?: { type: string; message: string; stack?: string } }

function rig(tell?: (err: unknown, origin: CrashOrigin) => void | Promise<void>, deadlineMs = 3_000) {
  const lines: Line[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Line) });
  const source = new EventEmitter();
  const exits: number[] = [];
  const told: [unknown, CrashOrigin][] = [];
  const remove = installCrashHandlers({
    source, logger, deadlineMs, exit: (code) => void exits.push(code),
    tell: (err, origin) => {
      told.push([err, origin]);
      return tell?.(err, origin);
    },
  });
  return { lines, source, exits, told, remove };
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
    r.remove();
    expect([r.source.listenerCount('uncaughtException'), r.source.listenerCount('unhandledRejection')]).toEqual([0, 0]);
  });
});
