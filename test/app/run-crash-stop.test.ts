// The exit of `cobalt run`'s graceful stop (app/run.ts runExit) and a crash: a stop finishing while a crash is reported
// exited 0 over the crash's 70, and the stop's exit removed the crash handlers before the exit itself, so a throw in
// that window got Node's default (no fatal line, exit 1). The crash's exit is now the only one once a crash is being
// reported, and the handlers stay until the exit.
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { runExit } from '../../app/run.ts';
import { installCrashHandlers } from '../../engine/runtime/lifecycle.ts';
import { until } from '../wait-until.ts';

function rig() {
  const source = new EventEmitter();
  const exits: number[] = [];
  const watch = installCrashHandlers({ source, exit: (c) => void exits.push(c), logger: pino({ level: 'silent' }) });
  return { source, exits, watch };
}

describe('the exit of cobalt run and a crash', () => {
  it('does not exit when the graceful stop ends while a crash is reported: the crash exits 70, once', async () => {
    const r = rig();
    const exitRun = runExit(r.watch, (c) => void r.exits.push(c));
    r.source.emit('uncaughtException', new Error('thrown while stopping'));
    exitRun(0);
    await until(() => r.exits.length === 1, 'the crash\'s exit');

    expect(r.exits).toEqual([70]);
    expect(r.source.listenerCount('uncaughtException')).toBe(1);
  });

  it('keeps the crash handlers until the exit itself: a throw during it is a crash, exiting 70', async () => {
    const r = rig();
    const exitRun = runExit(r.watch, (c) => {
      r.exits.push(c);
      r.source.emit('uncaughtException', new Error('thrown while the stop exits'));
    });
    exitRun(0);
    await until(() => r.exits.length === 2, 'the crash\'s exit');

    expect(r.exits).toEqual([0, 70]);
    expect(r.watch.crashed).toBe(true);
  });

  it('removes the crash handlers once its exit was called (a process running many engines keeps none of them)', () => {
    const r = rig();
    runExit(r.watch, (c) => void r.exits.push(c))(0);

    expect(r.exits).toEqual([0]);
    expect([r.source.listenerCount('uncaughtException'), r.source.listenerCount('unhandledRejection')]).toEqual([0, 0]);
  });
});
