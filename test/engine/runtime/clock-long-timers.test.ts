// ScaledClock/LiveClock timers (runtime review finding 3): a delay over 2^31−1 ms (a monthly
// store.retention.everyMinutes, a hook with timeoutMs Infinity) fired after 1 ms, as Node's setTimeout does with one;
// and at speed > 1 a timer fired before the clock's own now() reached its due time, since Node's timers run on the
// monotonic clock and now() on the wall clock. Node's timers are faked here; the wall the clock reads is the test's.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Bus } from '../../../engine/runtime/bus.ts';
import { LiveClock, ScaledClock } from '../../../engine/runtime/clock.ts';
import { Lifecycle } from '../../../engine/runtime/lifecycle.ts';
import { HistoryRetention } from '../../../app/history-retention.ts';
import pino from 'pino';

const DAY = 86_400_000;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ScaledClock timers longer than Node takes', () => {
  it('fires a 30-day timer after 30 days, not after 1 ms', () => {
    const clock = new ScaledClock(undefined, 1, () => Date.now());
    const t0 = clock.now();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now() - t0), 30 * DAY);
    vi.advanceTimersByTime(29 * DAY);
    const early = [...fired];
    vi.advanceTimersByTime(DAY);

    expect(early).toEqual([]);
    expect(fired).toEqual([30 * DAY]);
  });

  it('waits 600 h of wall time for a 6 h timer at speed 0.01', () => {
    const clock = new ScaledClock(0, 0.01, () => Date.now());
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 6 * 3_600_000);
    vi.advanceTimersByTime(599 * 3_600_000);
    const early = [...fired];
    vi.advanceTimersByTime(3_600_000);

    expect(early).toEqual([]);
    expect(fired).toEqual([6 * 3_600_000]);
  });

  it('never fires a timer of Infinity ms, and clears one', () => {
    const clock = new LiveClock();
    let fired = 0;
    clock.setTimeout(() => fired++, Infinity);
    const h = clock.setTimeout(() => fired++, 40 * DAY);
    vi.advanceTimersByTime(30 * DAY);
    clock.clearTimeout(h);
    vi.advanceTimersByTime(365 * DAY);

    expect(fired).toBe(0);
  });

  it('runs a monthly history retention pass once in its first minute (it ran every ~2 ms)', async () => {
    let passes = 0;
    const retention = new HistoryRetention({
      history: { retain: async () => { passes++; return { removed: 0, more: false } as never; } },
      clock: new LiveClock(), everyMs: 43_200 * 60_000, firstAfterMs: 1, logger: pino({ level: 'silent' }),
    });
    retention.start();
    await vi.advanceTimersByTimeAsync(60_000);
    await retention.stop();

    expect(passes).toBe(1);
  });

  it('lets a shutdown hook with timeoutMs Infinity take its time (it timed out at once)', async () => {
    const lifecycle = new Lifecycle({ bus: new Bus(), clock: new LiveClock() });
    lifecycle.onFlush('unbounded', () => new Promise<void>((r) => setTimeout(r, 100)), { timeoutMs: Infinity });
    const report = lifecycle.shutdown('test');
    await vi.advanceTimersByTimeAsync(100);

    expect((await report).steps).toEqual([{ phase: 'flush', name: 'unbounded', outcome: 'ok' }]);
  });
});

describe('ScaledClock timers and the wall clock its now() reads', () => {
  it('does not fire before now() reaches the due time when Node\'s timer runs ahead of the wall clock', () => {
    let lag = 0;
    // The wall clock now() reads trails the timers' clock by `lag` ms (as Date.now() may trail the monotonic clock).
    const clock = new ScaledClock(1_000_000, 10, () => Date.now() - lag);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 1_000);
    lag = 5;
    vi.advanceTimersByTime(100);
    const whenTimerRan = [...fired];
    vi.advanceTimersByTime(5);

    expect(whenTimerRan).toEqual([]);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(1_001_000);
  });
});
