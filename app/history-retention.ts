// Applies the inference history's retention (store.retention: maxRecords and maxAgeDays per model and symbol) while
// the engine runs. Without it a daemon's store only grows: ~43 KB an inference, so with the bundled CNN, DQN and
// momentum rule at one tick a second ~11 GB a day (bench/soak.ts). Passes run on the engine clock: one shortly after
// start (a store reopened after a long stop may hold a backlog), then every `everyMs`; a pass removes at most
// `maxPerPass` records (archived first), and one that stopped there is followed by the next a second later until the
// backlog is gone, so no pass holds the main thread long. A failed pass is logged and counted; the next one runs as
// planned.
import type { Logger } from '../engine/log.ts';
import type { Clock, TimerHandle } from '../engine/runtime/clock.ts';
import type { RetentionResult } from '../engine/store/inference-history.ts';
import type { TsMs } from '../engine/types/time.ts';

/** What the scheduler needs of the history (InferenceHistoryStore satisfies it). */
export interface Retainable {
  retain(now: TsMs, maxRemove: number): Promise<RetentionResult>;
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
  readonly logger: Logger;
}

/** Counters since start. */
export interface HistoryRetentionStats {
  passes: number;
  removed: number;
  failures: number;
  /** Archive files deleted by store.retention.archiveMaxMB since start. */
  archivesDeleted: number;
  /** Size of the archive after the last pass (when capped). */
  archiveBytes?: number;
  lastPassAt?: TsMs;
  lastError?: string;
}

const BACKLOG_NEXT_MS = 1_000;

/** Runs retention passes on the engine clock; see the header. */
export class HistoryRetention {
  readonly stats: HistoryRetentionStats = { passes: 0, removed: 0, failures: 0, archivesDeleted: 0 };
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly maxPerPass: number;

  constructor(private readonly opts: HistoryRetentionOptions) {
    if (!(opts.everyMs > 0)) throw new RangeError(`history retention: everyMs must be > 0, got ${opts.everyMs}`);
    this.maxPerPass = opts.maxPerPass ?? 2_000;
    if (!(this.maxPerPass > 0)) throw new RangeError(`history retention: maxPerPass must be > 0, got ${this.maxPerPass}`);
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
      const r = await this.opts.history.retain(now, this.maxPerPass);
      this.stats.passes++;
      this.stats.removed += r.removed;
      this.stats.archivesDeleted += r.archivesDeleted ?? 0;
      if (r.archiveBytes !== undefined) this.stats.archiveBytes = r.archiveBytes;
      this.stats.lastPassAt = now;
      if (r.more) next = BACKLOG_NEXT_MS;
    } catch (err) {
      this.stats.failures++;
      this.stats.lastError = err instanceof Error ? err.message : String(err);
      this.opts.logger.error({ err, failures: this.stats.failures }, 'inference history retention failed; the next pass runs as planned');
    }
    this.schedule(next);
  }
}
