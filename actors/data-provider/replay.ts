// Helpers for running the DataProvider over recordings (the replay itself is engine/venues/replay/replay-feed.ts), and
// for a daemon replaying into a store across restarts: its clock goes on from where the last run on that store got
// to instead of starting over at the recording's first line, where it would write inference records, fills and VaR
// samples at times the store already holds (a record of the same model, symbol and time replaced the old one, and
// retention, which deletes the oldest first, deleted the new run's records before the old run's later laps).
import type { Logger } from '../../engine/log.ts';
import { newestInferenceTs } from '../../engine/store/inference-history.ts';
import { LmdbStore, type TypedDb } from '../../engine/store/lmdb.ts';
import { StoreError } from '../../engine/types/errors.ts';
import { RecordingMerge } from '../../engine/venues/sim/replay.ts';
import { resumeShiftMs } from '../../engine/venues/replay/replay-feed.ts';
import { nsToMs, type TsMs } from '../../engine/types/time.ts';
import { REPLAY_POSITION_DB, REPLAY_REACHED_KEY } from '../../engine/store/replay-position.ts';

/**
 * Returns the receive time (ms) of the first line of `files`, the time the replay feed sets a SimulatedClock to first.
 * A DataProvider loads history "as of now", so its clock must start there, not at 0.
 */
export async function recordingStartMs(files: readonly string[]): Promise<TsMs> {
  const merge = await RecordingMerge.open(files);
  try {
    const ns = merge.peekNs();
    if (ns === undefined) throw new RangeError(`recordings ${files.join(', ')} hold no lines`);
    return nsToMs(ns);
  } finally {
    await merge.close();
  }
}

// The database of the replay's position and its one key: a bound on the engine time replays into the store reached
// (the history reader refuses to train on a store a replay wrote, by the same names).
const POSITION_DB = REPLAY_POSITION_DB;
const REACHED_KEY = REPLAY_REACHED_KEY;

/** How far past the next message's time the stored bound is set: one store write per this much replayed time. */
export const RESERVE_AHEAD_MS = 60_000;

/**
 * Returns the engine time a replay into `store` must start after, or undefined for a store no replay wrote to: the
 * bound the last run stored (ReplayPosition), or the newest inference record when that is later (a store written
 * before the bound was kept).
 */
export function replayResumeAfter(store: LmdbStore): TsMs | undefined {
  const stored = store.db<string, number>(POSITION_DB).get(REACHED_KEY);
  if (stored !== undefined && !Number.isFinite(stored)) throw new StoreError(`store ${store.path}: the replay position ${String(stored)} is not a time`);
  const newest = newestInferenceTs(store);
  if (stored === undefined) return newest;
  return newest === undefined ? stored : Math.max(stored, newest);
}

/** Where a daemon's replay starts (see `replayStart`). */
export interface ReplayStart {
  /** The receive time of the recording's first line. */
  readonly firstMs: TsMs;
  /** The clock's first time: the first line's, shifted past `resumeAfterMs`. */
  readonly startMs: TsMs;
  /** Where the last run on the store got to (give it to ReplayFeed.resumeAfter); undefined for a fresh store. */
  readonly resumeAfterMs?: TsMs;
}

/**
 * Returns where a daemon replaying `files` into the store at `storePath` starts: at the first line for a fresh store,
 * else in a later minute than the last run got to (`replayResumeAfter`). Opens the store and closes it again.
 */
export async function replayStart(files: readonly string[], storePath: string): Promise<ReplayStart> {
  const first = await recordingStartMs(files);
  const store = LmdbStore.open({ path: storePath });
  let after: TsMs | undefined;
  try {
    after = replayResumeAfter(store);
  } finally {
    await store.close();
  }
  return after === undefined ? { firstMs: first, startMs: first } : { firstMs: first, startMs: first + resumeShiftMs(first, after), resumeAfterMs: after };
}

/**
 * Keeps the bound `replayResumeAfter` reads: `reserve` (ReplayFeed.reserveWith) stores the next message's time plus
 * `aheadMs` and resolves once it has committed, and the feed publishes nothing past a bound before it is stored, so a
 * run killed at any point left a bound past every time it published. The bound never goes down.
 */
export class ReplayPosition {
  private readonly db: TypedDb<string, number>;
  private high: number;

  constructor(store: LmdbStore, private readonly logger: Logger, private readonly aheadMs = RESERVE_AHEAD_MS) {
    if (!(aheadMs > 0)) throw new RangeError(`replay position: aheadMs must be > 0, got ${aheadMs}`);
    this.db = store.db<string, number>(POSITION_DB);
    this.high = this.db.get(REACHED_KEY) ?? -Infinity;
  }

  /**
   * Stores a bound past `ts` and resolves with it. A failed write is logged (REPLAY_POSITION_NOT_STORED) and the
   * bound returned all the same: the market data goes on, and a restart may then reuse times of this run.
   */
  async reserve(ts: TsMs): Promise<TsMs> {
    if (!Number.isFinite(ts)) throw new RangeError(`replay position: cannot reserve past ${ts}`);
    this.high = Math.max(this.high, ts + this.aheadMs);
    const bound = this.high;
    try {
      await this.db.put(REACHED_KEY, bound);
    } catch (err) {
      this.logger.error({ err, code: 'REPLAY_POSITION_NOT_STORED', bound }, 'the replay position was not stored: a restart may replay times this run already used');
    }
    return bound;
  }
}
