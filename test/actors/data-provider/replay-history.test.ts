// Kline history of a looped or resumed replay (actors/data-provider/replay-history.ts). The archive was read
// at engine time: lap junctions were backfilled with the real market of a later day, 1h/1d bars came from that later
// market too, and past the archive's end (1m: 2024-08-25, 1h: 2024-09-24) nothing came, so a daemon resumed there
// started without 1m/1h history and refused every inference. History is now read at the recording's own time.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CobAggregator, cobSettingsFromConfig } from '../../../actors/cob-aggregator/logic.ts';
import { dataProviderOptions } from '../../../actors/data-provider/from-config.ts';
import { KlinesArchive } from '../../../actors/data-provider/klines-archive.ts';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import { recordingStartMs } from '../../../actors/data-provider/replay.ts';
import { ReplayHistory, ReplayTimeline } from '../../../actors/data-provider/replay-history.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { configSchema } from '../../../engine/config/schema.ts';
import { createLogger, type Logger } from '../../../engine/log.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';
import { timeframeMs, type Timeframe } from '../../../engine/types/time.ts';
import { lapLengthMs, ReplayFeed, resumeShiftMs } from '../../../engine/venues/replay/replay-feed.ts';
import { RECORDINGS } from '../../e2e/helpers.ts';

const M = 60_000;
const H = 3_600_000;
const D = 86_400_000;
const SYMBOL = 'ETH/USDT';
const silent = createLogger({ level: 'silent' });
const archive = new KlinesArchive(['data/klines']);
const empty = mkdtempSync(join(tmpdir(), 'cobalt-replay-history-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

// The archive's bars of a series by open time.
function byOpen(tf: Timeframe): Map<number, Candle> {
  return new Map(archive.all(SYMBOL, tf).map((c) => [c.openTime, c]));
}

// The OHLC of `minutes` summed into one bar.
function summed(minutes: readonly Candle[]): { open: number; high: number; low: number; close: number } {
  return {
    open: minutes[0]!.open, close: minutes[minutes.length - 1]!.close,
    high: Math.max(...minutes.map((c) => c.high)), low: Math.min(...minutes.map((c) => c.low)),
  };
}

const ohlc = (c: Candle): { open: number; high: number; low: number; close: number } => ({ open: c.open, high: c.high, low: c.low, close: c.close });

describe('ReplayTimeline', () => {
  it('gives each lap its shift over engine times that tile without a gap, the first lap\'s before any lap length is known', async () => {
    const first = await recordingStartMs(RECORDINGS);
    const timeline = new ReplayTimeline(first, 7 * M);
    const lap = lapLengthMs(first, first + 11 * M);
    expect(timeline.shiftAt(first + 7 * M + 5 * D)).toBe(7 * M);
    expect(timeline.nextShiftAfter(first)).toBe(Infinity);
    timeline.follow({ lapLengthMs: lap });
    // Lap k's first line (first + 7 min + k laps) and its last exchange time lie in lap k.
    for (const k of [0, 1, 2, 50]) {
      expect(timeline.shiftAt(first + 7 * M + k * lap)).toBe(7 * M + k * lap);
      expect(timeline.shiftAt(first + 18 * M + k * lap)).toBe(7 * M + k * lap);
    }
    expect(timeline.shiftAt(timeline.originMs - D)).toBe(7 * M);
    expect(timeline.nextShiftAfter(timeline.originMs + lap + 1)).toBe(timeline.originMs + 2 * lap);
  });
});

describe('ReplayHistory', () => {
  it('answers as the archive does when the replay runs at the recording\'s own time', async () => {
    const first = await recordingStartMs(RECORDINGS);
    const history = new ReplayHistory(archive, new ReplayTimeline(first, 0));
    for (const tf of ['1m', '1h', '1d'] as const) {
      const q = { startTime: first - 1000 * timeframeMs(tf), endTime: first, limit: 1000, nowMs: first };
      expect(await history.klines(SYMBOL, tf, q)).toStrictEqual(await archive.klines(SYMBOL, tf, q));
    }
  });

  it('serves every lap, a year past the archive\'s end, with the recording\'s minutes and their sums as 1h and 1d bars', async () => {
    const first = await recordingStartMs(RECORDINGS);
    const base = resumeShiftMs(first, Date.UTC(2025, 9, 1));
    const timeline = new ReplayTimeline(first, base);
    const lap = lapLengthMs(first, first + 11 * M);
    timeline.follow({ lapLengthMs: lap });
    const history = new ReplayHistory(archive, timeline);
    const day = Math.ceil((timeline.startMs + 2 * H) / D) * D;
    const nowMs = day + D + 5_000;
    const minutes = (await history.klines(SYMBOL, '1m', { startTime: day, endTime: day + D - M, limit: 1440, nowMs })).candles;
    const recorded = byOpen('1m');
    expect(minutes).toHaveLength(1440);
    for (const c of minutes) expect(ohlc(c)).toEqual(ohlc(recorded.get(c.openTime - timeline.shiftAt(c.openTime))!));
    const hours = (await history.klines(SYMBOL, '1h', { startTime: day, endTime: day + D - H, limit: 24, nowMs })).candles;
    expect(hours.map((c) => c.openTime)).toEqual(Array.from({ length: 24 }, (_, i) => day + i * H));
    hours.forEach((c, i) => expect(ohlc(c)).toEqual(summed(minutes.slice(i * 60, i * 60 + 60))));
    const days = (await history.klines(SYMBOL, '1d', { startTime: day - 400 * D, endTime: day, limit: 1000, nowMs })).candles;
    expect(days.length).toBeGreaterThanOrEqual(300);
    expect(days[days.length - 1]!.openTime).toBe(day);
    expect(ohlc(days[days.length - 1]!)).toEqual(summed(minutes));
  });

  it('loads history before a resumed replay\'s first line that ends at that line\'s recorded time, never after it', async () => {
    const first = await recordingStartMs(RECORDINGS);
    const timeline = new ReplayTimeline(first, resumeShiftMs(first, Date.UTC(2025, 9, 1, 0, 40)));
    const history = new ReplayHistory(archive, timeline);
    const nowMs = timeline.startMs;
    const recorded = byOpen('1m');
    for (const tf of ['1m', '1h', '1d'] as const) {
      const ms = timeframeMs(tf);
      const { candles } = await history.klines(SYMBOL, tf, { startTime: Math.floor(nowMs / ms) * ms - 1000 * ms, limit: 1000, nowMs });
      expect(candles.length).toBeGreaterThanOrEqual(300);
      const last = candles[candles.length - 1]!;
      // The newest bar closes at or before the first line (in engine time) and ends on the recorded minute it maps to.
      expect(last.openTime + ms).toBeLessThanOrEqual(nowMs);
      expect(last.close).toBe(recorded.get(last.openTime + ms - M - timeline.baseShiftMs)!.close);
    }
  });

  // Review s19: summing every older bar from minutes read the whole 1m archive at a resumed start (0.6 s, ~120 MB
  // for 1,500 days of 1d history over a 400-day 1m file).
  it('serves bars more than two days before a resumed replay\'s first line as the archive\'s, rounded down, not summed', async () => {
    const first = await recordingStartMs(RECORDINGS);
    const timeline = new ReplayTimeline(first, resumeShiftMs(first, Date.UTC(2025, 9, 1, 0, 40)));
    expect(timeline.baseShiftMs % H).not.toBe(0);
    const history = new ReplayHistory(archive, timeline);
    const hours = byOpen('1h');
    const minutes = byOpen('1m');
    const from = Math.floor((timeline.originMs - 10 * D) / H) * H;
    const { candles } = await history.klines(SYMBOL, '1h', { startTime: from, endTime: from + 7 * D - H, limit: 1000, nowMs: timeline.startMs });
    expect(candles.length).toBe(7 * 24);
    const rounded = Math.ceil(timeline.baseShiftMs / H) * H;
    let differ = 0;
    for (const c of candles) {
      expect(ohlc(c)).toEqual(ohlc(hours.get(c.openTime - rounded)!));
      const mins = Array.from({ length: 60 }, (_, i) => minutes.get(c.openTime - timeline.baseShiftMs + i * M)!);
      if (JSON.stringify(ohlc(c)) !== JSON.stringify(summed(mins))) differ++;
    }
    // The 1m archive reaches those hours: a sum would have been another bar.
    expect(differ).toBeGreaterThan(0);
  });

  it('says once per series that the archive has no bars for the replay\'s recorded times', async () => {
    const seen: unknown[] = [];
    const log = { warn: (o: unknown) => void seen.push(o), debug: () => undefined } as unknown as Logger;
    const first = await recordingStartMs(RECORDINGS);
    const history = new ReplayHistory(new KlinesArchive([empty]), new ReplayTimeline(first, 0), log);
    for (let i = 0; i < 3; i++) {
      for (const tf of ['1m', '1h'] as const) {
        expect((await history.klines(SYMBOL, tf, { startTime: first - 10 * H, limit: 5, nowMs: first + i * M })).candles).toEqual([]);
      }
    }
    expect(seen.map((o) => [(o as { code: string }).code, (o as { tf: string }).tf])).toEqual([['REPLAY_HISTORY_MISSING', '1m'], ['REPLAY_HISTORY_MISSING', '1h']]);
  });
});

// A DataProvider built from the config with a daemon's replay timeline, the bundled recording replayed through it (as fast as
// possible) for two laps, first shifted past `after` as a restarted daemon's replay is. Each replay runs once.
const runs = new Map<number | undefined, Promise<{ dp: DataProvider; timeline: ReplayTimeline }>>();
function replayed(after: number | undefined): Promise<{ dp: DataProvider; timeline: ReplayTimeline }> {
  let run = runs.get(after);
  if (run === undefined) runs.set(after, (run = replay(after, 2)));
  return run;
}

async function replay(after: number | undefined, laps: number): Promise<{ dp: DataProvider; timeline: ReplayTimeline }> {
  const first = await recordingStartMs(RECORDINGS);
  const timeline = new ReplayTimeline(first, after === undefined ? 0 : resumeShiftMs(first, after));
  const clock = new SimulatedClock(timeline.startMs);
  const bus = new Bus<EngineMsg>();
  const config = configSchema.parse({ data: { replayFiles: [...RECORDINGS], klinesDirs: ['data/klines'] } });
  const feed = new ReplayFeed({ bus, clock, files: RECORDINGS, loop: true, maxLaps: laps, logger: silent });
  if (after !== undefined) feed.resumeAfter(after);
  timeline.follow(feed);
  const opts = dataProviderOptions(config, { bus, clock, modelOutputs: new ModelOutputStore(), log: silent, replayTimeline: timeline });
  const cob = new CobAggregator({
    bus, clock, snapshots: feed, settings: cobSettingsFromConfig(config.cob),
    symbols: [...opts.instruments!.values()].map((inst) => ({ symbol: inst.symbol, bucketSize: inst.symbol === SYMBOL ? '1' : '10', venues: [inst] })),
  });
  const dp = new DataProvider({ ...opts, cob });
  cob.start();
  await dp.start();
  await feed.start();
  await feed.done;
  await dp.maintain();
  dp.stop();
  cob.stop();
  return { dp, timeline };
}

// Past the end of every bundled 1m and 1h file (and the 1d files' last day), 40 minutes into an hour: two laps close it.
const PAST_END = Date.UTC(2025, 8, 1, 0, 40);

describe('a looped replay\'s DataProvider', () => {
  it.each([
    ['a fresh replay', undefined],
    ['a replay resumed past the kline archive\'s end', PAST_END],
  ])('%s has complete inputs, and its lap junctions are the recording\'s own minutes', async (_name, after) => {
    const { dp, timeline } = await replayed(after);
    const v = dp.validateInput();
    expect(v.canInfer).toBe(true);
    expect(v.frames).toMatchObject({ primary1m: 300, primary1h: 300 });
    expect(v.frames.primary1d).toBeGreaterThanOrEqual(300);
    expect(dp.stats.backfillFailures).toBe(0);
    // Every minute from the first line on (trades, and the junctions backfilled) is the recorded minute of its lap.
    const recorded = byOpen('1m');
    const series = dp.series(SYMBOL, '1m');
    const laps: Candle[] = [];
    for (let i = 0; i < series.length; i++) if (series.get(i)!.openTime >= timeline.startMs) laps.push(series.get(i)!);
    expect(laps.length).toBeGreaterThanOrEqual(22);
    for (const c of laps) expect(c.close).toBe(recorded.get(c.openTime - timeline.shiftAt(c.openTime))!.close);
  }, 60_000);

  it('sums an hour of several laps from that hour\'s minutes', async () => {
    const { dp } = await replayed(PAST_END);
    const hour = Date.UTC(2025, 8, 1, 0);
    const bar = dp.series(SYMBOL, '1h').last()!;
    const minutes: Candle[] = [];
    const series = dp.series(SYMBOL, '1m');
    for (let i = 0; i < series.length; i++) if (Math.floor(series.get(i)!.openTime / H) * H === hour) minutes.push(series.get(i)!);
    expect(bar.openTime).toBe(hour);
    expect(minutes).toHaveLength(60);
    expect(ohlc(bar)).toEqual(summed(minutes));
  }, 60_000);
});
