// Review finding (online 3): a run that never settled (a stuck trainer thread, a pool that never loads) kept the
// OnlineJob busy for ever: due() stayed false and the row said "training a candidate now" indefinitely. The job now
// gives a run `runTimeoutMs` of wall time (a simulated clock here), then frees itself and counts the run as failed.
import { describe, expect, it } from 'vitest';
import { OnlineJob } from '../../app/online-job.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { Logger } from '../../engine/log.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 7, 10, 12, 0, 0);
const counts = { runs: 1, promotions: 0, failures: 0 };

describe('OnlineJob run deadline', () => {
  it('frees the job after runTimeoutMs, counts and logs the run as failed, and ignores its late answer', async () => {
    const clock = new SimulatedClock(T0);
    const wall = new SimulatedClock(0);
    const logged: unknown[] = [];
    const logger = { error: (o: unknown, msg: string) => logged.push([o, msg]) } as unknown as Logger;
    const job = new OnlineJob<string>({ clock, symbol: 'ETH/USDT', logger }, 60_000, HOUR, { runTimeoutMs: 2 * HOUR, timers: wall });
    clock.advance(HOUR);
    let answer: (v: string) => void = () => {};
    const stuck = job.begin(clock.now(), () => new Promise<string>((resolve) => { answer = resolve; }));
    clock.advance(3 * HOUR);
    wall.advance(2 * HOUR - 1);
    expect(job.due(clock.now())).toBe(false);
    expect(job.row({ model: 'cnn (online)', head: 'h', counts }).status).toContain('training a candidate now');
    wall.advance(1);
    expect(await stuck).toBeUndefined();
    expect(job.training).toBeUndefined();
    expect(job.due(clock.now())).toBe(true);
    const row = job.row({ model: 'cnn (online)', head: 'h', counts, last: 'not promoted' }).status;
    expect(row).not.toContain('training a candidate now');
    expect(row).toContain('1 runs, 0 promoted, 1 failed');
    expect(logged).toEqual([[expect.objectContaining({ code: 'ONLINE_RUN_TIMEOUT', runTimeoutMs: 2 * HOUR }), expect.stringMatching(/did not settle within 120 min/)]]);
    // The next run starts; the abandoned one's late answer does not end it.
    let second: (v: string) => void = () => {};
    const next = job.begin(clock.now(), () => new Promise<string>((resolve) => { second = resolve; }));
    answer('late');
    await Promise.resolve();
    await Promise.resolve();
    expect(job.training).toBe(next);
    expect(job.due(clock.now())).toBe(false);
    second('done');
    expect(await next).toBe('done');
    expect(job.training).toBeUndefined();
  });

  it('clears the deadline of a run that settles in time', async () => {
    const clock = new SimulatedClock(T0);
    const wall = new SimulatedClock(0);
    const job = new OnlineJob<string>({ clock, symbol: 'ETH/USDT' }, 60_000, HOUR, { runTimeoutMs: HOUR, timers: wall });
    expect(await job.begin(clock.now(), async () => 'ok')).toBe('ok');
    wall.advance(2 * HOUR);
    expect(job.row({ model: 'm', head: 'h', counts }).status).toContain('1 runs, 0 promoted, 0 failed');
  });
});
