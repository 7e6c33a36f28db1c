// Online learning of the DQN (the RL agent) inside the daemon, beside the CNN's (app/online-learning.ts). Every
// `models.online.pollMs` of engine time the learner reads the DQN's new decisions from the inference history: one per
// decision time, as `cobalt train dqn --state bdi` decides (a decision every `input.everyMinutes` of the checkpoint,
// on the bar that closed at a multiple of that interval): the first stored DQN inference in the minute after that
// close, its stored input (the BaseDataInput the RL runner got, the CNN's same-tick outputs fed in) turned into the
// state by the checkpoint's own builder, and the close of that 1m bar from the DataProvider's series (where the
// training environment fills). Decisions of the last `dqn.lookbackMs` are read at start (the 1m series holds 25 h),
// the newest `dqn.maxDecisions` kept. The backlog is read in slices of at most READ_SLICE stored records, the event
// loop free between them (a record's input is decompressed on read: a day's backlog in one go blocked the loop for
// 0.2–0.6 s). A decision time whose 1m bar is not in the series yet waits (stats.pendingBars) and is read again at
// each poll while the series could still hold that bar; past that it is given up (stats.missingBars).
// Every `dqn.retrainEveryMs` a DqnPipeline run (models/online/dqn-pipeline.ts) fine-tunes a copy of the live weights
// in a worker thread and promotes it only when it trades the newest held-out decisions, better after fees by a margin
// the bootstrap holds up (and not worse than flat). After a run that scored a candidate, the next one waits for
// `dqn.minNewDecisions` new decisions (default: that run's held-out count), so runs are not judged again and again on
// nearly the same held-out decisions, each a new chance of a lucky verdict. A promotion is checkpointed under
// `<checkpointDir>/online/dqn/<version>` with online.json, registered with the live version's runner options and
// activated through the orchestrator. A restart loads it again (app/models.ts); an operator's rollback (the
// dashboard's control) is marked retired (app/online-rollbacks.ts) and the next run trains from the version then active.
// Breaks in the data: with the bus, each md.feedReset of the symbol opens a break that its next trade closes; a decision
// time whose state reads a bar in a break (its 30 closes, the decision bar) is dropped unread (stats.acrossBreak), which
// splits the sequence there, and no decision past the start of a break still open is read until it closes.
// A settings combination that can never take a gradient step (dqnBudgetProblem) turns the learner off at start.
// The fee and reward scale of the environment are the checkpoint's (meta.json `extra`, else its train-report.json's
// fee, else `cobalt train dqn`'s defaults). Not run in a backtest (app/system.ts).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { rlRunner } from '../actors/model-agents/rl-agent.ts';
import type { Config } from '../engine/config/schema.ts';
import { BDI_LENGTH, type CandleSource } from '../engine/market/base-data-input.ts';
import type { TsMs } from '../engine/types/time.ts';
import { loadDqn } from '../models/dqn/io.ts';
import { dqnBudgetProblem } from '../models/online/dqn-finetune.ts';
import { DqnPipeline, dqnSegments, dqnWorkerTrainer, type DqnDecision, type DqnLearnSettings, type DqnRun, type DqnTrainer, type LiveDqn } from '../models/online/dqn-pipeline.ts';
import { DQN_BDI_DEFAULTS } from '../models/train/dqn-bdi.ts';
import { DQN_STATE_WINDOW, dqnStateBuilder, dqnStateOf } from '../models/train/dqn-state.ts';
import { ONLINE_VERSION_PREFIX, type LoadedDqn } from './models.ts';
import { learnerOptions, OnlineJob, type OnlineJobRow, type OnlineLearnerDeps, type OnlineLearnerOptions } from './online-job.ts';
import { onlineCheckpointStore, promotedDir, type OnlineOff } from './online-learning.ts';
import { isRetired } from './online-rollbacks.ts';

const MIN = 60_000;
/** Stored records read (each decompressed) per turn of the event loop. */
export const READ_SLICE = 10;
/** Decision times looked at per turn, records or not (bar and break checks only). */
const VISIT_SLICE = 500;

/** What the DQN learner needs from the system. */
export interface OnlineDqnOptions extends OnlineLearnerOptions {
  /** The DQN running now. */
  readonly dqn: LoadedDqn;
  /** Default: one worker thread (models/train/worker.mjs). */
  readonly trainer?: DqnTrainer;
}

/** Counters and the last run, for logs and tests. */
export interface OnlineDqnStats {
  polls: number;
  /** Decisions read (kept up to maxDecisions). */
  read: number;
  decisions: number;
  /** Decision times with a stored decision given up: their 1m bar never came while the series could hold it. */
  missingBars: number;
  /** Decision times waiting for their 1m bar (read again at each poll). */
  pendingBars: number;
  /** Decision times dropped unread because their state reads a bar in a break of the data. */
  acrossBreak: number;
  /** Stored inputs that are not a BaseDataInput (nothing to build a state from). */
  unreadable: number;
  runs: number;
  promotions: number;
  failures: number;
  lastRun?: DqnRun;
}

/** The environment's fee and reward scale, and where they came from. */
interface Costs { readonly feeRate: number; readonly rewardScale: number; readonly from: string }

/** A break in the symbol's data: from the reset to where its data resumed (Infinity until it has). */
interface DataBreak { readonly fromMs: TsMs; toMs: TsMs }

/** Reads, trains and promotes the DQN on the engine clock; see the header. */
export class OnlineDqnLearning {
  readonly stats: OnlineDqnStats = { polls: 0, read: 0, decisions: 0, missingBars: 0, pendingBars: 0, acrossBreak: 0, unreadable: 0, runs: 0, promotions: 0, failures: 0 };
  /** Minutes between decisions (the checkpoint's `input.everyMinutes`). */
  readonly everyMinutes: number;
  private readonly pipeline: DqnPipeline;
  private readonly trainer: DqnTrainer;
  private readonly build: (bdi: Float32Array) => Float32Array;
  private readonly job: OnlineJob<DqnRun>;
  private decisions: DqnDecision[] = [];
  private breaks: DataBreak[] = [];
  /** The next decision time to read. */
  private cursor: TsMs;
  /** Decision times before the cursor waiting for their 1m bar, oldest first. */
  private pending: TsMs[] = [];
  private reading: Promise<void> | undefined;
  /** stats.read when the last run started, and the new decisions the next run waits for. */
  private readAtLastRun = 0;
  private newNeeded = 0;

  private constructor(private readonly o: OnlineDqnOptions, live: LiveDqn, readonly costs: Costs) {
    const s = o.settings.dqn;
    this.everyMinutes = everyMinutesOf(o.dqn.meta.input);
    const step = this.everyMinutes * MIN;
    this.cursor = Math.ceil((o.clock.now() - s.lookbackMs) / step) * step;
    this.job = new OnlineJob(o, o.settings.pollMs, s.retrainEveryMs);
    this.trainer = o.trainer ?? dqnWorkerTrainer();
    this.build = dqnStateBuilder(dqnStateOf(o.dqn.meta.input));
    const requires = o.dqn.requires ?? [];
    const state = this.build;
    const base = o.dqn.base ?? o.dqn.version;
    this.pipeline = new DqnPipeline({
      registry: o.registry, checkpoints: onlineCheckpointStore(o.checkpointRoot, o.clock, o.registry, 'dqn'), trainer: this.trainer, clock: o.clock, live,
      runnerFor: (q) => rlRunner({ q, state, stateSize: q.stateSize, ...(requires.length > 0 ? { requires } : {}) }),
      ...(o.dqn.dependsOn && o.dqn.dependsOn.length > 0 ? { dependsOn: o.dqn.dependsOn } : {}),
      everyMinutes: this.everyMinutes, feeRate: costs.feeRate, rewardScale: costs.rewardScale,
      settings: s, base, baseSha256: o.dqn.baseSha256 ?? '', ...(o.dqn.meta.input ? { input: o.dqn.meta.input } : {}),
      versionPrefix: ONLINE_VERSION_PREFIX, activate: o.activate,
      retired: (v) => { const dir = promotedDir(o.checkpointRoot, 'dqn', v); return dir !== undefined && isRetired(dir); },
      load: (v) => {
        const dir = v === o.dqn.parent?.version ? o.dqn.parent.dir : promotedDir(o.checkpointRoot, 'dqn', v);
        return dir === undefined || !existsSync(dir) ? undefined : liveOf(v, dir);
      },
    });
    o.logger.info({ model: 'dqn', version: live.version, base, everyMinutes: this.everyMinutes, costs, pollMs: o.settings.pollMs, retrainEveryMs: s.retrainEveryMs },
      `online learning of dqn@${live.version}: reads its decisions (one every ${this.everyMinutes} min) every ${o.settings.pollMs / 1000} s, a candidate every ${s.retrainEveryMs / 60_000} min once ${this.decisionsNeeded()} are kept (fee ${costs.feeRate}, reward scale ${costs.rewardScale}: ${costs.from})`);
  }

  /** Returns a learner for the running DQN, or why not (logged) when its weights cannot be read. */
  static create(o: OnlineDqnOptions): OnlineDqnLearning | OnlineOff {
    let live: LiveDqn;
    try {
      live = liveOf(o.dqn.version, o.dqn.dir);
    } catch (err) {
      const off = `the weights of dqn@${o.dqn.version} in ${o.dqn.dir} could not be read`;
      o.logger.warn({ code: 'ONLINE_LEARNING_OFF', model: 'dqn', err }, `online learning of the DQN is off: ${off}`);
      return { off };
    }
    const s = o.settings.dqn;
    const budget = dqnBudgetProblem(live.config, { ...s, learningRate: s.learningRate ?? live.config.lr / 10, seed: 1 });
    if (budget !== undefined) {
      const off = `models.online.dqn can never train dqn@${o.dqn.version}: ${budget}`;
      o.logger.warn({ code: 'ONLINE_LEARNING_OFF', model: 'dqn' }, `online learning of the DQN is off: ${off}`);
      return { off };
    }
    return new OnlineDqnLearning(o, live, costsOf(o.dqn.dir));
  }

  /** Polls every `pollMs` of engine time until stopped, and follows the symbol's breaks on the bus (if given). */
  start(): void {
    this.job.start(() => this.poll(), {
      reset: (ts) => {
        if (this.breaks.at(-1)?.toMs !== Infinity) this.breaks.push({ fromMs: ts, toMs: Infinity });
      },
      trade: (ts) => {
        const open = this.breaks.at(-1);
        if (open?.toMs === Infinity) open.toMs = Math.max(ts, open.fromMs);
      },
    });
  }

  /** Stops polling and ends the trainer's thread; a run in progress is abandoned. */
  async stop(): Promise<void> {
    this.job.stop();
    await this.reading;
    await this.trainer.close();
    await this.job.training;
  }

  /**
   * Looks at the learner's data at the next turn of the engine clock rather than at the next pollMs (the orchestrator
   * judged the dqn degraded: `reason`). It starts no run by itself: the poll's gates, retrainEveryMs since the last
   * run included, still decide, and the regular poll would have looked within pollMs anyway. Returns false when not
   * polling (stopped).
   */
  pollSoon(reason: string): boolean {
    return this.job.pollSoonLogged('dqn', reason, this.o.logger);
  }

  /**
   * Reads the new decisions (in slices, see the header) and, when a run is due, starts it; resolves with that run
   * (undefined when none started).
   */
  async poll(): Promise<DqnRun | undefined> {
    this.stats.polls++;
    // The timer's poll may be reading: this one waits for that read and gives the run it started, if any.
    if (this.reading !== undefined) {
      await this.reading.catch(() => undefined);
      return this.job.training;
    }
    this.reading = this.read();
    try {
      await this.reading;
    } catch (err) {
      this.stats.failures++;
      this.o.logger.error({ code: 'ONLINE_READ_FAILED', model: 'dqn', err }, 'online learning: reading the DQN\'s stored decisions failed; tried again at the next poll');
      return undefined;
    } finally {
      this.reading = undefined;
    }
    if (this.job.stopped) return undefined;
    this.pipeline.prune();
    const now = this.o.clock.now();
    if (!this.job.due(now) || this.decisions.length < this.decisionsNeeded() || this.newSinceRun() < this.newNeeded) return undefined;
    this.readAtLastRun = this.stats.read;
    return this.job.begin(now, () => this.run([...this.decisions]));
  }

  private newSinceRun(): number {
    return this.stats.read - this.readAtLastRun;
  }

  /** Where learning stands, for the dashboard: decisions, the run in progress or the next one, and the last result. */
  report(): OnlineJobRow {
    const active = this.o.registry.active('dqn')?.version ?? '?';
    const segments = dqnSegments(this.decisions, this.everyMinutes).length;
    const r = this.stats.lastRun;
    return this.job.row({
      model: 'dqn (online)', head: `learning dqn@${active} from ${this.decisions.length} decisions (one every ${this.everyMinutes} min, ${segments} unbroken runs)`,
      ...this.waiting(), counts: this.stats,
      ...(r ? { last: r.promoted ? `promoted ${r.version ?? '?'}: ${r.reason}` : `kept the live version: ${r.reason}` } : {}),
      ...(r?.candidate ? { valMetric: r.candidate.return } : {}),
    });
  }

  // What the next run waits for beside the time: the decisions it needs, then new ones since the last scored run.
  private waiting(): { wait?: string } {
    const need = this.decisionsNeeded();
    if (this.decisions.length < need) return { wait: `a run needs ${need}` };
    if (this.newSinceRun() < this.newNeeded) return { wait: `the next run waits for ${this.newNeeded} new decisions (${this.newSinceRun()} so far)` };
    return {};
  }

  // Decisions a run needs before it starts: minTrain outside the held-out share, minHeldOut inside it. Gaps in the
  // sequence may still leave a run short (it then says so and waits for the next).
  private decisionsNeeded(): number {
    const s = this.o.settings.dqn;
    return Math.max(Math.ceil(s.minTrain / (1 - s.heldOutFraction)), Math.ceil(s.minHeldOut / s.heldOutFraction));
  }

  // Reads the decision times waiting for their bar, then those from the cursor up to the last whose minute has passed
  // (and not past an open break), yielding the event loop every READ_SLICE records or VISIT_SLICE decision times.
  private async read(): Promise<void> {
    const step = this.everyMinutes * MIN;
    let queries = 0, visits = 0;
    const visit = async (at: TsMs): Promise<void> => {
      if (this.visit(at)) queries++;
      if (++visits % VISIT_SLICE === 0 || (queries > 0 && queries % READ_SLICE === 0)) {
        queries = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    };
    for (const at of this.pending.splice(0)) {
      if (this.job.stopped) return;
      await visit(at);
    }
    // The open break is looked at again each time: the bus may open one between slices.
    for (; this.cursor + MIN <= this.readUntil(); this.cursor += step) {
      if (this.job.stopped) return;
      await visit(this.cursor);
    }
    const max = this.o.settings.dqn.maxDecisions;
    if (this.decisions.length > max) this.decisions.splice(0, this.decisions.length - max);
    this.stats.decisions = this.decisions.length;
    this.stats.pendingBars = this.pending.length;
    // Breaks that ended before the oldest state still to be read are of no further use.
    const floor = Math.min(this.cursor, this.pending[0] ?? Infinity) - (DQN_STATE_WINDOW + 1) * MIN;
    this.breaks = this.breaks.filter((b) => b.toMs >= floor);
  }

  // The newest time a decision time's minute may have passed by to be read: now, or the start of a break still open.
  private readUntil(): TsMs {
    const open = this.breaks.at(-1);
    return Math.min(this.o.clock.now(), open?.toMs === Infinity ? open.fromMs : Infinity);
  }

  // Takes the decision made on the bar that closed at `at`, drops it or leaves it waiting for its bar; returns true
  // when it read a stored record. The break and the bar are checked first: a record is decompressed only to be used.
  private visit(at: TsMs): boolean {
    const barOpenMs = at - MIN;
    // Its state reads the closes of the DQN_STATE_WINDOW bars up to the decision bar.
    const from = barOpenMs - (DQN_STATE_WINDOW - 1) * MIN;
    if (this.breaks.some((b) => b.fromMs < at && b.toMs >= from)) {
      this.stats.acrossBreak++;
      return false;
    }
    const series = this.o.bars();
    const bar = closedBar(series, barOpenMs);
    if (bar === undefined) {
      if (barOpenMs >= this.o.clock.now() - this.barSpanMs(series)) {
        this.pending.push(at);
        return false;
      }
      // Given up: counted where the DQN did decide.
      if (this.recordAt(at) !== undefined) this.stats.missingBars++;
      return true;
    }
    const r = this.recordAt(at);
    if (r === undefined) return true;
    if (r.input.features.length !== BDI_LENGTH) {
      this.stats.unreadable++;
      return true;
    }
    this.insert({ ts: r.ts, barOpenMs, state: this.build(r.input.features), price: bar.close });
    this.stats.read++;
    return true;
  }

  // The first stored DQN inference in [at, at + 1 min).
  private recordAt(at: TsMs): ReturnType<OnlineDqnOptions['history']['query']>[number] | undefined {
    return this.o.history.query('dqn', this.o.symbol, { from: at, to: at + MIN }, 1)[0];
  }

  // How far back the 1m series can hold a bar: its capacity in minutes where it has one (CandleSeries), never more
  // than the lookback (older decisions are not read at start either).
  private barSpanMs(series: CandleSource | undefined): number {
    const capacity = (series as { capacity?: unknown } | undefined)?.capacity;
    const lookback = this.o.settings.dqn.lookbackMs;
    return typeof capacity === 'number' && capacity > 0 ? Math.min(lookback, capacity * MIN) : lookback;
  }

  // Adds a decision in bar order (one read late, after its bar came, lands before newer ones).
  private insert(d: DqnDecision): void {
    let i = this.decisions.length;
    while (i > 0 && this.decisions[i - 1]!.barOpenMs > d.barOpenMs) i--;
    this.decisions.splice(i, 0, d);
  }

  private async run(decisions: DqnDecision[]): Promise<DqnRun | undefined> {
    this.stats.runs++;
    try {
      const r = await this.pipeline.runOnce(decisions);
      this.stats.lastRun = r;
      const s: DqnLearnSettings = this.o.settings.dqn;
      if (r.candidate !== undefined) this.newNeeded = s.minNewDecisions ?? r.heldOutDecisions;
      const fields = {
        model: 'dqn', reason: r.reason, trainDecisions: r.trainDecisions, heldOutDecisions: r.heldOutDecisions, trainSegments: r.trainSegments,
        heldOutSegments: r.heldOutSegments, live: r.live, candidate: r.candidate, episodes: r.episodes, envSteps: r.envSteps,
      };
      if (r.promoted) {
        this.stats.promotions++;
        this.o.logger.info({ ...fields, version: r.version, checkpointDir: r.checkpointDir }, `online learning: dqn candidate promoted as ${r.version}: ${r.reason}`);
      } else this.o.logger.info(fields, `online learning: dqn candidate not promoted: ${r.reason}`);
      return r;
    } catch (err) {
      if (this.job.stopped) {
        this.o.logger.info({ model: 'dqn' }, 'online learning: the dqn training run in progress was abandoned at shutdown');
        return undefined;
      }
      this.stats.failures++;
      this.o.logger.error({ code: 'ONLINE_TRAIN_FAILED', model: 'dqn', err }, 'online learning: the dqn training run failed; the live version stays');
      return undefined;
    }
  }
}

/** Returns the weights of the DQN saved in `dir` as the registry's `version`. */
function liveOf(version: string, dir: string): LiveDqn {
  const agent = loadDqn(dir);
  return { version, config: agent.config, params: agent.online.params.slice() };
}

/** The decision interval a DQN checkpoint's input records (`cobalt train dqn`'s default when it records none). */
function everyMinutesOf(input: unknown): number {
  const every = (input as { everyMinutes?: unknown } | undefined)?.everyMinutes;
  return typeof every === 'number' && Number.isInteger(every) && every >= 1 ? every : DQN_BDI_DEFAULTS.everyMinutes;
}

/** The fee and reward scale the checkpoint in `dir` was trained with (see the header). */
function costsOf(dir: string): Costs {
  const json = (file: string): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  const extra = json('meta.json')?.extra as Record<string, unknown> | undefined;
  const fee = num(extra?.feeRate);
  const scale = num(extra?.rewardScale);
  const reportFee = fee === undefined ? num(json('train-report.json')?.feeRate) : undefined;
  const feeRate = fee ?? reportFee ?? DQN_BDI_DEFAULTS.feeRate;
  const rewardScale = scale !== undefined && scale > 0 ? scale : DQN_BDI_DEFAULTS.rewardScale;
  const from = [
    `fee from ${fee !== undefined ? 'meta.json' : reportFee !== undefined ? 'train-report.json' : 'the trainer\'s default'}`,
    `reward scale from ${scale !== undefined && scale > 0 ? 'meta.json' : 'the trainer\'s default'}`,
  ].join(', ');
  return { feeRate, rewardScale, from };
}

// The closed bar of `series` (1m bars in time order) opening at `openTime`. Where the series has no gap it sits as many
// places before the newest as it is minutes older; a gap only moves it later, so the search starts there.
function closedBar(series: CandleSource | undefined, openTime: TsMs): { close: number } | undefined {
  const newest = series && series.length > 0 ? series.get(series.length - 1) : undefined;
  if (!series || !newest || newest.openTime < openTime) return undefined;
  for (let i = Math.max(0, series.length - 1 - Math.floor((newest.openTime - openTime) / MIN)); i < series.length; i++) {
    const c = series.get(i);
    if (!c || c.openTime > openTime) return undefined;
    if (c.openTime === openTime) return c.closed ? c : undefined;
  }
  return undefined;
}

/** What `onlineDqnFor` needs from the system being built. */
export interface OnlineDqnDeps extends OnlineLearnerDeps {
  readonly dqn: LoadedDqn | undefined;
}

/**
 * Returns the daemon's DQN learner when config.models.online (and its `dqn`) asks for one and it can run, why not
 * (logged) when it asks and cannot, and undefined when it does not ask.
 */
export function onlineDqnFor(config: Config, d: OnlineDqnDeps): OnlineDqnLearning | OnlineOff | undefined {
  const online = config.models.online;
  if (!online.enabled || !online.dqn.enabled) return undefined;
  if (!d.dqn) {
    const off = 'no DQN checkpoint is in the blend';
    d.logger.warn({ code: 'ONLINE_LEARNING_OFF', model: 'dqn' }, `online learning of the DQN is off: ${off}`);
    return { off };
  }
  return OnlineDqnLearning.create({ ...learnerOptions(config, d), dqn: d.dqn });
}
