// Applies the inference history's retention (store.retention: maxRecords and maxAgeDays per model and symbol) while
// the engine runs. Without it a daemon's store only grows: ~43 KB an inference, so with the bundled CNN, DQN and
// momentum rule at one tick a second ~11 GB a day (bench/soak.ts). Passes run on the engine clock: one shortly after
// start (a store reopened after a long stop may hold a backlog), then every `everyMs`; a pass removes at most
// `maxPerPass` records (archived first), and one that stopped there is followed by the next a second later until the
// backlog is gone, so no pass holds the main thread long. A failed pass is logged and counted; the next one runs as
// planned.
// Falling behind: archiving is the slow part (~43 KB of JSON and gzip a record), and a replay at a high --speed
// (200) records faster than passes archive, so the store grew without bound (1.3 GB for limits worth ~90 MB). Two
// signs, from the figures a pass that stopped at its limit returns (records beyond the limits, records kept):
// - the records still beyond the limits after a pass outnumber `behindFactor` times those kept: warned as
//   RETENTION_BEHIND with the figures, at most once per `warnEveryMs` of wall time (the engine clock may run 200x);
// - a pass began with at least the backlog the pass before it began with: the passes do not gain on the arrivals.
//   From then on (`dropWhenBehind`, default on), until a pass clears the backlog, each pass archives its usual
//   `maxPerPass` (the newest of what it selects) and deletes up to `maxDropPerPass` older ones without archiving:
//   losing archive lines is better than a full disk, and a backlog left by a long stop (no arrivals) still shrinks
//   pass by pass, so it is archived whole.
// A daemon sets maxPerPass, maxDropPerPass, dropWhenBehind, behindFactor and warnEveryMs (as minutes) through
// config store.retention (retentionOptionsOf), so one with a large backlog can be tuned without a rebuild.
import type { Config } from '../engine/config/schema.ts';
import type { Logger } from '../engine/log.ts';
import type { Clock, TimerHandle } from '../engine/runtime/clock.ts';
import type { RetainOptions, RetentionResult } from '../engine/store/inference-history.ts';
import type { TsMs } from '../engine/types/time.ts';

/** What the scheduler needs of the history (InferenceHistoryStore satisfies it). */
export interface Retainable {
  retain(now: TsMs, maxRemove: number, opts?: RetainOptions): Promise<RetentionResult>;
}

/** Options of the scheduler. */
export interface HistoryRetentionOptions {
  readonly history: Retainable;
  readonly clock: Clock;
  /** Engine time between passes. */
  readonly everyMs: number;
  /** Records one pass removes at most (default 2,000: ~1-2 s of archiving, yielding between records). */
  readonly maxPerPass?: number;
  /** Engine time from start to the first pass (default 1 s). */
  readonly firstAfterMs?: number;
  /** RETENTION_BEHIND when the records left beyond the limits exceed this many times those kept (default 1). */
  readonly behindFactor?: number;
  /** Wall time between two RETENTION_BEHIND warnings at least (default 5 minutes). */
  readonly warnEveryMs?: number;
  /** Wall-clock milliseconds, for spacing the warnings (default performance.now). */
  readonly wallNow?: () => number;
  /** Delete beyond the limits without archiving while passes do not gain on the backlog (default true). */
  readonly dropWhenBehind?: boolean;
  /** Records a pass deletes unarchived at most, beyond those it archives (default 100 times maxPerPass). */
  readonly maxDropPerPass?: number;
  readonly logger: Logger;
}

/** Counters since start. */
export interface HistoryRetentionStats {
  passes: number;
  removed: number;
  failures: number;
  /** Archive files deleted by store.retention.archiveMaxMB since start. */
  archivesDeleted: number;
  /** Records deleted without being archived because retention was behind (absent until some were). */
  dropped?: number;
  /** Size of the archive after the last pass (when capped). */
  archiveBytes?: number;
  lastPassAt?: TsMs;
  lastError?: string;
}

const BACKLOG_NEXT_MS = 1_000;
const WARN_EVERY_MS = 5 * 60_000;

/** The scheduler's options that config store.retention sets. */
export type ConfiguredRetention = Pick<HistoryRetentionOptions, 'everyMs' | 'maxPerPass' | 'maxDropPerPass' | 'dropWhenBehind' | 'behindFactor' | 'warnEveryMs'>;

/** Returns the scheduler's options from config store.retention (maxDropPerPass left to its default when absent). */
export function retentionOptionsOf(r: Config['store']['retention']): ConfiguredRetention {
  return {
    everyMs: r.everyMinutes * 60_000,
    maxPerPass: r.maxPerPass,
    ...(r.maxDropPerPass !== undefined ? { maxDropPerPass: r.maxDropPerPass } : {}),
    dropWhenBehind: r.dropWhenBehind,
    behindFactor: r.behindFactor,
    warnEveryMs: r.warnEveryMinutes * 60_000,
  };
}

/** Runs retention passes on the engine clock; see the header. */
export class HistoryRetention {
  readonly stats: HistoryRetentionStats = { passes: 0, removed: 0, failures: 0, archivesDeleted: 0 };
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly maxPerPass: number;
  private readonly maxDropPerPass: number;
  /** The backlog the last pass began with, when it stopped at its limit. */
  private lastBacklog: number | undefined;
  /** True while passes delete beyond the limits without archiving (see the header). */
  private dropping = false;
  private lastWarnAt: number | undefined;

  constructor(private readonly opts: HistoryRetentionOptions) {
    if (!(opts.everyMs > 0)) throw new RangeError(`history retention: everyMs must be > 0, got ${opts.everyMs}`);
    this.maxPerPass = opts.maxPerPass ?? 2_000;
    if (!(this.maxPerPass > 0)) throw new RangeError(`history retention: maxPerPass must be > 0, got ${this.maxPerPass}`);
    this.maxDropPerPass = opts.maxDropPerPass ?? 100 * this.maxPerPass;
    if (!(this.maxDropPerPass > 0)) throw new RangeError(`history retention: maxDropPerPass must be > 0, got ${this.maxDropPerPass}`);
  }

  /** Schedules the first pass. */
  start(): void {
    if (this.stopped || this.timer !== undefined || this.running) return;
    this.schedule(this.opts.firstAfterMs ?? 1_000);
  }

  /** Cancels the next pass and waits for one in progress (the store must outlive it). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Runs one pass now (unless one is running); resolves when it is done. Never rejects. */
  runOnce(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(ms: number): void {
    // A pass run by hand (runOnce) while one was planned replaces the plan: one timer at a time.
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      void this.runOnce();
    }, ms);
  }

  private async pass(): Promise<void> {
    const now = this.opts.clock.now();
    let next = this.opts.everyMs;
    try {
      const r = await this.opts.history.retain(now, this.maxPerPass, this.dropping ? { dropMax: this.maxDropPerPass } : undefined);
      this.stats.passes++;
      this.stats.removed += r.removed;
      this.stats.archivesDeleted += r.archivesDeleted ?? 0;
      if (r.dropped) this.stats.dropped = (this.stats.dropped ?? 0) + r.dropped;
      if (r.archiveBytes !== undefined) this.stats.archiveBytes = r.archiveBytes;
      this.stats.lastPassAt = now;
      this.judgeBacklog(r);
      if (r.more) next = BACKLOG_NEXT_MS;
    } catch (err) {
      this.stats.failures++;
      this.stats.lastError = err instanceof Error ? err.message : String(err);
      this.opts.logger.error({ err, failures: this.stats.failures }, 'inference history retention failed; the next pass runs as planned');
    }
    this.schedule(next);
  }

  // Decides whether the next pass drops, and warns when the backlog outgrows what retention keeps (see the header).
  private judgeBacklog(r: RetentionResult): void {
    const backlog = r.more ? r.backlog : undefined;
    const notGaining = backlog !== undefined && this.lastBacklog !== undefined && backlog >= this.lastBacklog;
    this.dropping = (this.opts.dropWhenBehind ?? true) && backlog !== undefined && (this.dropping || notGaining);
    this.lastBacklog = backlog;
    if (backlog !== undefined && r.kept !== undefined) this.warnIfBehind(r, backlog, r.kept);
  }

  private warnIfBehind(r: RetentionResult, backlog: number, kept: number): void {
    const left = backlog - r.removed;
    const factor = this.opts.behindFactor ?? 1;
    if (left <= factor * kept) return;
    const wallNow = (this.opts.wallNow ?? (() => performance.now()))();
    if (this.lastWarnAt !== undefined && wallNow - this.lastWarnAt < (this.opts.warnEveryMs ?? WARN_EVERY_MS)) return;
    this.lastWarnAt = wallNow;
    this.opts.logger.warn({
      code: 'RETENTION_BEHIND', beyondLimits: backlog, kept, removed: r.removed, dropped: r.dropped ?? 0, left, behindFactor: factor,
      maxPerPass: this.maxPerPass, dropping: this.dropping,
    }, `inference history retention is behind: ${left} records beyond store.retention remain after this pass (${kept} within it)`
      + (this.dropping ? `; the next passes delete up to ${this.maxDropPerPass} of them each without archiving` : ''));
  }
}
