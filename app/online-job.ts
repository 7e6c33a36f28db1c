// What the two online learners (the CNN's, app/online-learning.ts, and the DQN's, app/online-dqn.ts) share: the options
// and deps they take from the system, and an OnlineJob: the poll timer on the engine clock, the following of the
// symbol's breaks on the bus (both stop together), when a run is due, the start and end of each run, and the dashboard
// row those make. What a learner reads, what a break does to it, how it trains and what its row says about its data
// and its last run stay the learner's.
// A run that never settles must not keep the job busy for ever (due() false, the row "training a candidate now"): the
// pipelines fail a run at their own deadline (models/online/pipeline.ts ONLINE_RUN_TIMEOUT_MS), which the learner counts;
// the job's deadline, later, covers the rest of a learner's run (a pool that never closes) and frees the job.
import type { ModelRegistry } from '../actors/orchestrator/registry.ts';
import type { Config } from '../engine/config/schema.ts';
import type { Logger } from '../engine/log.ts';
import type { CandleSource } from '../engine/market/base-data-input.ts';
import type { EngineMsg } from '../engine/messages/index.ts';
import type { Bus, Unsubscribe } from '../engine/runtime/bus.ts';
import { LiveClock, type Clock, type TimerHandle } from '../engine/runtime/clock.ts';
import type { InferenceRecord, TimeRange } from '../engine/store/inference-history.ts';
import type { TsMs } from '../engine/types/time.ts';
import { ONLINE_RUN_TIMEOUT_MS } from '../models/online/pipeline.ts';
import { onlineCheckpointRoot } from './models.ts';

/** Default wall time before the job gives up on a run: past the pipelines' own deadline, which fails the run first. */
export const ONLINE_JOB_TIMEOUT_MS = ONLINE_RUN_TIMEOUT_MS + 15 * 60_000;

/** The run deadline of an OnlineJob: wall time (default ONLINE_JOB_TIMEOUT_MS) on `timers` (default: the wall clock). */
export interface OnlineJobLimits {
  readonly runTimeoutMs?: number;
  readonly timers?: Clock;
}

/** What both learners need from the system; each adds its model. */
export interface OnlineLearnerOptions {
  /** config.models.online (the DQN's learner reads `pollMs` and `dqn`). */
  readonly settings: Config['models']['online'];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: ModelRegistry;
  readonly history: { query(model: string, symbol: string, range?: TimeRange, limit?: number): InferenceRecord[] };
  /** The traded symbol (the one the CNN predicts and the DQN trades). */
  readonly symbol: string;
  /** The symbol's 1m candles (the DataProvider's series; it changes when the provider restarts). */
  readonly bars: () => CandleSource | undefined;
  /** CheckpointStore root for promoted versions (app/models.ts `onlineCheckpointRoot`). */
  readonly checkpointRoot: string;
  /** Activates a registered version (the orchestrator's `activate`). */
  readonly activate: (model: string, version: string) => void;
  /** The bus the symbol's md.feedReset and md.trade come on, followed from `start` (without it no break is seen). */
  readonly bus?: Bus<EngineMsg>;
}

/** What both `onlineLearningFor` and `onlineDqnFor` need from the system being built; each adds its model. */
export interface OnlineLearnerDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: ModelRegistry;
  readonly history: OnlineLearnerOptions['history'];
  readonly bars: () => CandleSource | undefined;
  readonly activate: (model: string, version: string) => void;
  /** The bus, for the symbol's breaks (OnlineLearnerOptions.bus). */
  readonly bus?: Bus<EngineMsg>;
}

/** The options of a daemon's learner of the primary symbol, but its model. */
export function learnerOptions(config: Config, d: OnlineLearnerDeps): OnlineLearnerOptions {
  return {
    settings: config.models.online, clock: d.clock, logger: d.logger, registry: d.registry, history: d.history, symbol: config.symbols.primary,
    bars: d.bars, checkpointRoot: onlineCheckpointRoot(config), activate: d.activate, ...(d.bus ? { bus: d.bus } : {}),
  };
}

/** One row of the dashboard's training panel (engine/dashboard TrainingReport job). */
export interface OnlineJobRow {
  readonly model: string;
  readonly status: string;
  /** The last candidate's held-out figure (the CNN's log loss, the DQN's return). */
  readonly valMetric?: number;
  /** When the run in progress started. */
  readonly startedAt?: TsMs;
}

/** A learner's run counters (in its stats), shown at the end of its row. */
export interface RunCounts {
  readonly runs: number;
  readonly promotions: number;
  readonly failures: number;
}

/** What a learner says in its row; OnlineJob adds the run in progress or the next one, when the last ended, and the counts. */
export interface RowParts {
  /** The row's name ('cnn (online)'). */
  readonly model: string;
  /** What the learner learns from (the first part). */
  readonly head: string;
  /** Why the next run waits on the learner's data, when it does (else the row says when it is due). */
  readonly wait?: string;
  /** The last run's outcome, after `last run HH:MM:SS UTC ` (shown once a run has ended). */
  readonly last?: string;
  readonly valMetric?: number;
  readonly counts: RunCounts;
}

/** What a learner does with its symbol's breaks in the data: each md.feedReset opens one, which a later trade closes. */
export interface BreakFollower {
  reset(ts: TsMs): void;
  /** A trade of the symbol, by exchange time (as the bars are). */
  trade(tsExchange: TsMs): void;
}

/** A learner's poll timer, bus subscriptions and run bookkeeping on the engine clock; R is its run's result. */
export class OnlineJob<R> {
  private timer: TimerHandle | undefined;
  /** The timer's callback, once started (pollSoon re-arms it). */
  private tick: (() => void) | undefined;
  private subs: Unsubscribe[] = [];
  private halted = false;
  private current: Promise<R | undefined> | undefined;
  private lastRunAt: TsMs;
  /** Start of the run in progress, and when the last one ended. */
  private runStartedAt: TsMs | undefined;
  private lastRunEndedAt: TsMs | undefined;
  /** Runs the job gave up on at its deadline (counted as failed in the row). */
  private timeouts = 0;
  private readonly runTimeoutMs: number;
  private readonly timers: Clock;

  /**
   * A run is due `retrainEveryMs` after the last one started (after construction for the first). With a `logger` (the
   * learners pass their options), a run given up on at the deadline is logged.
   */
  constructor(
    private readonly o: Pick<OnlineLearnerOptions, 'clock' | 'symbol' | 'bus'> & { readonly logger?: Pick<Logger, 'error'> },
    private readonly pollMs: number,
    private readonly retrainEveryMs: number,
    limits: OnlineJobLimits = {},
  ) {
    this.lastRunAt = o.clock.now();
    this.runTimeoutMs = limits.runTimeoutMs ?? ONLINE_JOB_TIMEOUT_MS;
    this.timers = limits.timers ?? new LiveClock();
  }

  /** Whether `stop` was called. */
  get stopped(): boolean {
    return this.halted;
  }

  /** The run in progress. */
  get training(): Promise<R | undefined> | undefined {
    return this.current;
  }

  /** Calls `poll` every `pollMs` of engine time until stopped, and tells `breaks` of the symbol's (with a bus). */
  start(poll: () => unknown, breaks: BreakFollower): void {
    const { bus, symbol } = this.o;
    if (bus && this.subs.length === 0) {
      this.subs = [
        bus.subscribe('md.feedReset', (m) => {
          if (m.symbol === symbol) breaks.reset(m.ts);
        }),
        bus.subscribe('md.trade', (m) => {
          if (m.symbol === symbol) breaks.trade(m.tsExchange);
        }),
      ];
    }
    const tick = (): void => {
      if (this.halted) return;
      void poll();
      this.timer = this.o.clock.setTimeout(tick, this.pollMs);
    };
    this.tick = tick;
    this.timer = this.o.clock.setTimeout(tick, this.pollMs);
  }

  /**
   * Moves the next poll to the next turn of the engine clock instead of `pollMs` from the last (the model was judged
   * degraded: its learner should look at its data now); the poll's own gates (`due`, the learner's data) still decide
   * whether a run starts, and the polls after it keep their `pollMs` pace. Never polls inside the caller (a bus handler).
   * Returns false when the job is not started or was stopped.
   */
  pollSoon(): boolean {
    if (this.halted || this.tick === undefined) return false;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = this.o.clock.setTimeout(this.tick, 0);
    return true;
  }

  /** pollSoon for a model judged degraded (`reason`), logged as ONLINE_EARLY_POLL under `model`'s name. */
  pollSoonLogged(model: string, reason: string, logger: Logger): boolean {
    const asked = this.pollSoon();
    logger.info({ code: 'ONLINE_EARLY_POLL', model, reason, asked },
      asked ? `online learning of ${model}: looking now rather than at the next poll; its gates (retrainEveryMs included) still decide whether a run starts (${reason})` : `online learning of ${model}: not polling (stopped); ${reason}`);
    return asked;
  }

  /** Stops polling and following the bus; the learner then ends its trainer and awaits `training`. */
  stop(): void {
    this.halted = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    for (const u of this.subs.splice(0)) u();
  }

  /** Whether `retrainEveryMs` has passed since the last run started, and none is in progress. */
  due(now: TsMs): boolean {
    return this.current === undefined && now - this.lastRunAt >= this.retrainEveryMs;
  }

  /**
   * Starts `run` at `now` as the run in progress; returns it. A run not settled `runTimeoutMs` later is given up on: the
   * returned promise resolves undefined, the job is free again, and the run's late end changes nothing here.
   */
  begin(now: TsMs, run: () => Promise<R | undefined>): Promise<R | undefined> {
    this.lastRunAt = now;
    this.runStartedAt = now;
    let timer: TimerHandle | undefined;
    const given = new Promise<undefined>((resolve) => {
      timer = this.timers.setTimeout(() => {
        this.timeouts++;
        this.o.logger?.error({ code: 'ONLINE_RUN_TIMEOUT', symbol: this.o.symbol, startedAt: now, runTimeoutMs: this.runTimeoutMs },
          `online learning: a training run did not settle within ${Math.round(this.runTimeoutMs / 60_000)} min; given up on (counted as failed), the next one may start`);
        resolve(undefined);
      }, this.runTimeoutMs);
    });
    const current: Promise<R | undefined> = Promise.race([run(), given]).finally(() => {
      this.timers.clearTimeout(timer);
      if (this.current !== current) return;
      this.current = undefined;
      this.runStartedAt = undefined;
      this.lastRunEndedAt = this.o.clock.now();
    });
    this.current = current;
    return current;
  }

  /** The dashboard row: the learner's parts, the run in progress or what the next one waits for, the last run, the counts. */
  row(p: RowParts): OnlineJobRow {
    const parts = [p.head];
    if (this.runStartedAt !== undefined) parts.push('training a candidate now');
    else if (p.wait !== undefined) parts.push(p.wait);
    else parts.push(`next run in ${Math.max(0, Math.ceil((this.lastRunAt + this.retrainEveryMs - this.o.clock.now()) / 60_000))} min`);
    if (p.last !== undefined && this.lastRunEndedAt !== undefined) {
      parts.push(`last run ${new Date(this.lastRunEndedAt).toISOString().slice(11, 19)} UTC ${p.last}`);
    }
    parts.push(`${p.counts.runs} runs, ${p.counts.promotions} promoted, ${p.counts.failures + this.timeouts} failed`);
    return {
      model: p.model, status: parts.join('; '),
      ...(p.valMetric !== undefined ? { valMetric: p.valMetric } : {}),
      ...(this.runStartedAt !== undefined ? { startedAt: this.runStartedAt } : {}),
    };
  }
}

/** What a learner offers the model health follower: an early poll (OnlineLearning, OnlineDqnLearning). */
export interface EarlyPoll {
  pollSoon(reason: string): boolean;
}

/**
 * Asks the learner of each model judged degraded (signal.modelHealth, actors/orchestrator/model-health.ts) to poll
 * now rather than at its next pollMs; its gates still decide whether a run starts. `learners` by model name; a model
 * without one is left alone. Returns the unsubscribe.
 */
export function pollWhenDegraded(bus: Bus<EngineMsg>, learners: Readonly<Record<string, EarlyPoll | undefined>>): Unsubscribe {
  return bus.subscribe('signal.modelHealth', (m) => {
    if (m.change !== 'degraded') return;
    learners[m.model]?.pollSoon(`${m.model}@${m.version} degraded: accuracy ${m.accuracy.toFixed(3)} against ${m.baseline.toFixed(3)} for always ${m.baselineAction ?? '?'} over ${m.judged} judged`);
  });
}
