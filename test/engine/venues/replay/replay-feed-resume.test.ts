// A looped replay restarted on the same store (`npm start` again) started over at lap 1: the engine's clock went back
// to the recording's first line, and the inference history (keyed by model, symbol and time) had its records of the
// last run's lap 1 replaced, while retention deleted the new run's records first (review of the looped replay,
// finding 1). The feed now resumes: `resumeAfter` shifts the whole replay past where the last run got to, and
// `reserveWith` has it wait for a stored bound before it publishes past the last one. Also: the lap shift on raw depth
// frames (finding 2).
import { describe, expect, it } from 'vitest';
import type { EngineMsg } from '../../../../engine/messages/index.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { LAP_SKEW_MS, ReplayFeed, resumeShiftMs } from '../../../../engine/venues/replay/replay-feed.ts';

const ETH_FILES = ['data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz'];
// A recording's first line at 2024-08-08 23:54:13.937 (receive time), the bundled BTC and ETH recordings'.
const FIRST = Date.parse('2024-08-08T23:54:13.937Z');
const minute = (ms: number) => Math.floor(ms / 60_000);

describe('resumeShiftMs', () => {
  it.each([
    // [resume after, shift]
    ['before the first line', FIRST - 1, 0],
    ['at the first line: the next minute after it and its skew', FIRST, 60_000],
    ['5 minutes in, 23:59:13.937 (+10 s skew is 23:59): 23:55 → 00:00', FIRST + 5 * 60_000, 6 * 60_000],
    ['at 23:59:50.000 (+10 s skew is 00:00): 23:55 → 00:01', Date.parse('2024-08-08T23:59:50Z'), 7 * 60_000],
  ])('%s', (_case, after, shift) => {
    expect(resumeShiftMs(FIRST, after)).toBe(shift);
  });

  it('starts the shifted recording in a later minute than the resume time, exchange times allowing for the skew', () => {
    for (const after of [FIRST, FIRST + 1_234, FIRST + 3 * 3_600_000 + 17, FIRST + 50_000]) {
      const shift = resumeShiftMs(FIRST, after);
      expect(shift % 60_000).toBe(0);
      expect(minute(FIRST - LAP_SKEW_MS + shift)).toBe(minute(after + LAP_SKEW_MS) + 1);
    }
  });

  it('refuses a time that is not finite', () => {
    expect(() => resumeShiftMs(FIRST, Number.NaN)).toThrow('resume shift: times must be finite, got first line 1723161253937 and resume after NaN');
  });
});

describe('ReplayFeed resumed after a time', () => {
  it('shifts every lap past the resume time, so the clock it drives never goes back', async () => {
    const after = FIRST + 7 * 60_000 + 500;
    const shift = resumeShiftMs(FIRST, after);
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(FIRST + shift);
    const feed = new ReplayFeed({ bus, clock, files: ETH_FILES, loop: true, maxLaps: 2, kinds: ['trade'] });
    feed.resumeAfter(after);
    const trades: { tsLocal: number; tsExchange: number; at: number }[] = [];
    bus.subscribe('md.trade', (m) => trades.push({ tsLocal: m.tsLocal, tsExchange: m.tsExchange, at: clock.now() }));
    await feed.start();
    await feed.done;

    expect(feed.laps).toBe(2);
    expect(feed.startShiftMs).toBe(shift);
    expect(Math.min(...trades.map((t) => t.tsExchange))).toBeGreaterThan(after + LAP_SKEW_MS);
    expect(minute(trades[0]!.tsExchange)).toBeGreaterThan(minute(after + LAP_SKEW_MS));
    // The clock stood at each trade's receive time: it started at the first one and never went back.
    expect(trades.filter((t) => t.at !== t.tsLocal)).toEqual([]);
    // Lap 2 follows lap 1 by the lap length, as without a resume.
    expect(trades[trades.length / 2]!.tsExchange - trades[0]!.tsExchange).toBe(feed.lapLengthMs);
    expect(feed.lapLengthMs).toBe(12 * 60_000);
  }, 30_000);

  it('publishes nothing past the last stored bound: it waits for reserve to store the next one', async () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const feed = new ReplayFeed({ bus, clock, files: ETH_FILES, loop: true, maxLaps: 2, kinds: ['trade', 'snapshot'] });
    let stored = -Infinity;
    let storing = false;
    const asked: number[] = [];
    feed.reserveWith(async (ts) => {
      asked.push(ts);
      storing = true;
      // A commit takes a turn of the event loop (or several).
      await new Promise<void>((r) => setImmediate(r));
      storing = false;
      stored = ts + 30_000;
      return stored;
    });
    const wrong: string[] = [];
    const check = (type: string, ts: number) => {
      if (storing || ts > stored) wrong.push(`${type} at ${ts}, bound ${stored}${storing ? ' (being stored)' : ''}`);
    };
    bus.subscribe('md.trade', (m) => check(m.type, m.tsLocal));
    bus.subscribe('md.snapshot', (m) => check(m.type, m.tsLocal));
    bus.subscribe('md.feedReset', (m) => check(m.type, m.ts));
    await feed.start();
    await feed.done;

    expect(feed.laps).toBe(2);
    expect(wrong).toEqual([]);
    // One bound per 30 s of replayed time or so: 2 laps of 12 minutes.
    expect(asked.length).toBeGreaterThan(40);
    expect(asked.length).toBeLessThan(60);
    expect(asked[0]).toBe(feed.startTs);
  }, 30_000);

  it('fails the replay when reserve resolves a bound that does not cover the next message', async () => {
    const feed = new ReplayFeed({ bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), files: ETH_FILES, kinds: ['trade'] });
    feed.reserveWith(async (ts) => ts - 1);
    await feed.start();
    await expect(feed.done).rejects.toThrow(`replay feed: the stored bound ${feed.startTs - 1} does not cover the next message's time ${feed.startTs}`);
    expect(feed.status).toBe('failed');
  });

  it('takes resumeAfter and reserveWith only before start, and a finite time only', async () => {
    const feed = new ReplayFeed({ bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), files: ETH_FILES, kinds: ['trade'], maxLaps: 1 });
    expect(() => feed.resumeAfter(Number.POSITIVE_INFINITY)).toThrow('replay feed: resumeAfter needs a finite time, got Infinity');
    await feed.start();
    expect(() => feed.resumeAfter(FIRST)).toThrow('replay feed: resumeAfter must come before start (the feed is live)');
    expect(() => feed.reserveWith(async (ts) => ts)).toThrow('replay feed: reserveWith must come before start (the feed is live)');
    await feed.stop();
  });
});

describe('ReplayFeed raw depth frames across laps', () => {
  it('puts the lap shift on md.depthRaw from lap 2 (the text keeps its recorded E); lap 1 carries none', async () => {
    const bus = new Bus<EngineMsg>();
    const feed = new ReplayFeed({ bus, clock: new SimulatedClock(0), files: [ETH_FILES[1]!], loop: true, maxLaps: 3, kinds: ['depth'] });
    const shifts = new Map<string, number>();
    let lap = 1;
    bus.subscribe('md.feedReset', () => void lap++);
    bus.subscribe('md.depthRaw', (m) => {
      const key = `lap ${lap}: ${m.shiftMs === undefined ? 'none' : m.shiftMs / feed.lapLengthMs}`;
      shifts.set(key, (shifts.get(key) ?? 0) + 1);
    });
    await feed.start();
    await feed.done;

    const n = feed.counters.depth / 3;
    expect(Object.fromEntries(shifts)).toEqual({ 'lap 1: none': n, 'lap 2: 1': n, 'lap 3: 2': n });
  }, 30_000);
});
