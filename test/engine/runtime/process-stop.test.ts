// The end of a replay reached the graceful stop by posing as a signal (a pseudo-signal on a
// proxied signal source). The process now has one stop, `ProcessStop`, that the signal handler and the replay's end
// both call: whichever asks first shuts down and exits once; a signal during a stop asked for by anything exits at once.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { installSignalHandlers } from '../../../engine/runtime/lifecycle.ts';
import { settle, stopRig as rig } from './stop-rig.ts';

describe('ProcessStop', () => {
  it('shuts down once for the first reason and exits 0 after a clean shutdown, however often it is asked', async () => {
    const { codes, reports, stop } = rig();
    stop.now('REPLAY_ENDED');
    stop.now('SIGTERM');
    await settle();

    expect(codes).toEqual([0]);
    expect(reports.map((r) => r.signal)).toEqual(['REPLAY_ENDED']);
    expect(stop.stopped).toBe(true);
  });

  it('exits 1 after a clean shutdown once what the process was for failed; a forced code stays as it is', async () => {
    const { codes, stop } = rig();
    stop.fail();
    stop.exit(130);
    stop.now('REPLAY_ENDED');
    await settle();

    expect(codes).toEqual([130, 1]);
  });

  it('exits 1 when a shutdown step fails', async () => {
    const { codes, lifecycle, stop } = rig();
    lifecycle.onFlush('store', () => { throw new Error('disk full'); });
    stop.now('SIGINT');
    await settle();

    expect(codes).toEqual([1]);
  });
});

describe('installSignalHandlers on a shared ProcessStop', () => {
  it('goes through the stop: a signal stops the process once, with the stop\'s exit and report', async () => {
    const { codes, lifecycle, reports, stop } = rig();
    const source = new EventEmitter();
    installSignalHandlers(lifecycle, { source, stop });
    source.emit('SIGTERM', 'SIGTERM');
    await settle();

    expect(codes).toEqual([0]);
    expect(reports.map((r) => r.signal)).toEqual(['SIGTERM']);
  });

  it('exits at once on a signal while a stop asked for by something else (the replay\'s end) drains', async () => {
    const { clock, codes, lifecycle, stop } = rig();
    lifecycle.onDrain('slow', () => new Promise<void>(() => {}), { timeoutMs: 10_000 });
    const source = new EventEmitter();
    installSignalHandlers(lifecycle, { source, stop });
    stop.now('REPLAY_ENDED');
    await settle();
    expect(codes).toEqual([]);

    source.emit('SIGINT', 'SIGINT');
    expect(codes).toEqual([130]);
    clock.advance(10_000);
    await settle();
    expect(codes).toEqual([130, 1]); // the graceful path still ends, reporting the timed-out drain
  });

  it('lets a signal change nothing once the shutdown is over (the exit is writing out the log)', async () => {
    const { codes, lifecycle, stop } = rig();
    const source = new EventEmitter();
    installSignalHandlers(lifecycle, { source, stop });
    stop.now('REPLAY_ENDED');
    await settle();
    source.emit('SIGINT', 'SIGINT');

    expect(codes).toEqual([0]);
  });

  it('refuses a stop of another lifecycle', () => {
    const { stop } = rig();
    const source = new EventEmitter();

    expect(() => installSignalHandlers(rig().lifecycle, { source, stop })).toThrow(/another lifecycle/);
    expect(source.listenerCount('SIGINT')).toBe(0);
  });

  // An exit or onReport beside the stop would never be called: the options type refuses them (checked by tsc).
  it('takes no exit or onReport beside the stop', () => {
    const refused = ({ lifecycle, stop }: ReturnType<typeof rig>): void => {
      // @ts-expect-error exit belongs to the ProcessStop given as stop
      installSignalHandlers(lifecycle, { stop, exit: () => undefined });
      // @ts-expect-error onReport belongs to the ProcessStop given as stop
      installSignalHandlers(lifecycle, { stop, onReport: () => undefined });
    };

    expect(refused).toBeTypeOf('function');
  });
});
