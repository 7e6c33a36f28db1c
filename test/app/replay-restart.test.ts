// `npm start` restarted on the same store (review of the looped replay, finding 1): the replay started over at lap 1,
// so the new run decided at exactly the times of the last run's lap 1 and replaced those inference records (the key is
// model, symbol, time), and once maxRecords was reached retention, which deletes a series' oldest records first, kept
// the last run's later laps (times ahead of the new clock) and deleted what the current run had just written. A
// restarted replay now goes on in time: `cobalt run` (app/run.ts) starts the clock and the feed where `replayStart`
// says, after the bound the last run kept in the store (ReplayPosition), and keeps a new one as it replays.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { recordingStartMs, replayResumeAfter, replayStart, ReplayPosition, RESERVE_AHEAD_MS } from '../../actors/data-provider/replay.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { InferenceHistoryStore, type InferenceRecord } from '../../engine/store/inference-history.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { ReplayFeed } from '../../engine/venues/replay/replay-feed.ts';

const ETH_FILES = ['data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz'];
const root = mkdtempSync(path.join(tmpdir(), 'cobalt-replay-restart-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const quiet = pino({ level: 'silent' });

function record(ts: number, run: number): InferenceRecord {
  return {
    model: 'momentum', symbol: 'ETH/USDT', ts, input: { features: Float32Array.of(run), shape: [1], timeframe: '1s', meta: { run } },
    output: { model: 'momentum', version: 'v1', symbol: 'ETH/USDT', ts, action: 'HOLD', probabilities: [0.3, 0.3, 0.4], confidence: 0.4 },
  };
}

const historyOf = (store: LmdbStore, maxRecords = 100_000) =>
  new InferenceHistoryStore(store, { retention: { maxRecords, maxAgeMs: 365 * 86_400_000 }, archiveDir: path.join(root, 'archive'), archive: false });

/**
 * One `cobalt run` of the looped ETH recording over the store at `dir`, as app/run.ts wires it: the clock and the feed
 * start where replayStart says and a ReplayPosition keeps the bound; a decision is recorded every 10 s of engine time.
 * Returns the times recorded.
 */
async function run(dir: string, runNo: number, laps: number): Promise<number[]> {
  const start = await replayStart(ETH_FILES, dir);
  const store = LmdbStore.open({ path: dir, noSync: true });
  const history = historyOf(store);
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(start.startMs);
  const feed = new ReplayFeed({ bus, clock, files: ETH_FILES, loop: true, maxLaps: laps, kinds: ['trade', 'snapshot'] });
  if (start.resumeAfterMs !== undefined) feed.resumeAfter(start.resumeAfterMs);
  const position = new ReplayPosition(store, quiet);
  feed.reserveWith((ts) => position.reserve(ts));
  const times: number[] = [];
  let next = -Infinity;
  bus.subscribe('md.trade', () => {
    if (clock.now() < next) return;
    next = clock.now() + 10_000;
    times.push(clock.now());
    void history.record(record(clock.now(), runNo));
  });
  await feed.start();
  await feed.done;
  await store.close();
  return times;
}

describe('a replay restarted on the same store', () => {
  it('starts at the first line on a fresh store', async () => {
    const dir = path.join(root, 'fresh');
    const first = await recordingStartMs(ETH_FILES);
    expect(await replayStart(ETH_FILES, dir)).toEqual({ firstMs: first, startMs: first });
  });

  it('goes on in time: no record of the last run is replaced, and retention deletes the last run\'s records first', async () => {
    const dir = path.join(root, 'restarted');
    const first = await run(dir, 1, 3);
    const second = await run(dir, 2, 2);

    const store = LmdbStore.open({ path: dir, noSync: true });
    try {
      const history = historyOf(store, second.length);
      // Every record of both runs is there: the second run wrote at times after the first's.
      expect(history.count()).toBe(first.length + second.length);
      expect(Math.min(...second)).toBeGreaterThan(Math.max(...first));
      // Retention keeps a series' newest maxRecords: the current run's.
      await history.retain(Math.max(...second));
      const kept = history.query('momentum', 'ETH/USDT').map((r) => (r.input.meta as { run: number }).run);
      expect(kept).toEqual(second.map(() => 2));
      // The bound kept covers every time the runs replayed.
      expect(replayResumeAfter(store)).toBeGreaterThanOrEqual(Math.max(...second));
    } finally {
      await store.close();
    }
  }, 60_000);

  it('resumes after the newest inference record of a store written before the replay position was kept', async () => {
    const dir = path.join(root, 'old-store');
    const store = LmdbStore.open({ path: dir, noSync: true });
    const first = await recordingStartMs(ETH_FILES);
    const newest = first + 2 * 720_000 + 123_456;
    await historyOf(store).record(record(newest, 1));
    await historyOf(store).record(record(first + 5_000, 1));
    await store.close();

    const start = await replayStart(ETH_FILES, dir);
    expect(start.resumeAfterMs).toBe(newest);
    expect(Math.floor(start.startMs / 60_000)).toBeGreaterThan(Math.floor(newest / 60_000));
    expect((start.startMs - first) % 60_000).toBe(0);
  });

  it('keeps the bound ahead of the time asked for, never lowers it, and reads it back', async () => {
    const dir = path.join(root, 'bound');
    const store = LmdbStore.open({ path: dir, noSync: true });
    try {
      const position = new ReplayPosition(store, quiet);
      expect(await position.reserve(5_000_000)).toBe(5_000_000 + RESERVE_AHEAD_MS);
      expect(await position.reserve(1_000)).toBe(5_000_000 + RESERVE_AHEAD_MS);
      expect(replayResumeAfter(store)).toBe(5_000_000 + RESERVE_AHEAD_MS);
      expect(await new ReplayPosition(store, quiet).reserve(2_000)).toBe(5_000_000 + RESERVE_AHEAD_MS);
      await expect(position.reserve(Number.NaN)).rejects.toThrow('replay position: cannot reserve past NaN');
    } finally {
      await store.close();
    }
  });

  it('refuses a stored position that is not a time, naming the store', async () => {
    const dir = path.join(root, 'bad');
    const store = LmdbStore.open({ path: dir, noSync: true });
    await store.db<string, unknown>('replay.position').put('reachedMs', 'soon');
    await store.close();
    await expect(replayStart(ETH_FILES, dir)).rejects.toThrow(`store ${dir}: the replay position soon is not a time`);
  });
});
