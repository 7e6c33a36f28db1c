// Online learning of the CNN inside the daemon (the seeds' TrainingPipelineManager). Every `pollMs` of engine time the
// CNN's stored predictions (inference history: output and the whole input) are labelled by the triple-barrier rule the
// CNN was trained with, once their horizon has passed (PredictionOutcomeEvaluator); the (input, label) pairs are kept,
// one per decision bar as in training, newest `maxPairs`. Every `retrainEveryMs`, given enough pairs, a candidate is
// fine-tuned from the live weights in a worker thread and promoted only if it beats the live version on the newest
// held-out pairs (TrainingPipeline). After a run that scored a candidate, the next waits for `minNewPairs` new labelled
// pairs (default: that run's held-out count): with one pair a minute and hourly runs, consecutive held-out sets shared
// 240 of 300 pairs, each run another chance of a lucky verdict on nearly the same data (as the DQN's minNewDecisions).
// A promotion is checkpointed under `<checkpointDir>/online/cnn/` (with online.json:
// its base, parent, figures and labelling rule), served by its own inference pool, and activated through the
// orchestrator, which starts the version's accuracy record over. A restart loads it again (app/models.ts) and labels
// by the rule its online.json recorded (it has no train-report.json). Rollback stays the operator's
// (the dashboard's control); the next run trains from whatever version is active, if this learner holds its weights
// or can read them (a promoted checkpoint, the parent a restart registered). A run whose starting version was rolled
// back while it trained promotes nothing. The checkpoint store never prunes the active version or the one a rollback
// goes to, and prunes rolled-back (retired) ones first.
// Breaks in the data: with the bus, each md.feedReset of the symbol (a reconnect, a replay lap, a hole in a recording)
// opens a break that its next trade closes, and a prediction whose bars reach into one is dropped, not labelled
// (stats.acrossReset; models/online/outcome-evaluator.ts says why).
//
// Not run: in a backtest (training in a thread is not deterministic on a simulated clock), or when a model in the
// blend was trained on this CNN's exact outputs (the bundled DQN is): a new CNN version would leave that model out
// of the blend at the next start (app/models.ts refuses a DQN beside another CNN), so the learner says so and stays off.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelRegistry, ModelRunner } from '../actors/orchestrator/registry.ts';
import { cnnRunner } from '../actors/model-agents/cnn-agent.ts';
import { onlineLabelsSchema, type Config } from '../engine/config/schema.ts';
import { createInferencePool, type InferencePool } from '../engine/infer/pool.ts';
import type { CandleSource } from '../engine/market/base-data-input.ts';
import type { Clock } from '../engine/runtime/clock.ts';
import type { TsMs } from '../engine/types/time.ts';
import { CheckpointStore, type CheckpointMeta } from '../models/checkpoints.ts';
import { readCnnWeights } from '../models/cnn/weights-read.ts';
import { PredictionOutcomeEvaluator, type BarSource, type LabelledPrediction, type OhlcBar, type PredictionSource, type StoredPrediction } from '../models/online/outcome-evaluator.ts';
import { cnnTrainingRow, ONLINE_PROVENANCE_FILE, readOnlineProvenance, TrainingPipeline, workerTrainer, type CandidateTrainer, type LiveCnn, type PipelineRun } from '../models/online/pipeline.ts';
import { DEFAULT_PROMOTION } from '../models/online/promotion.ts';
import { ONLINE_VERSION_PREFIX, type LoadedCnn } from './models.ts';
import { learnerOptions, OnlineJob, type OnlineJobRow, type OnlineLearnerDeps, type OnlineLearnerOptions } from './online-job.ts';
import { isRetired } from './online-rollbacks.ts';

/** Settings (config.models.online). */
export type OnlineSettings = Config['models']['online'];

/** The CNN's decision bars: the engine's CNN decides on the primary 1m series, as `cobalt train cnn` labels it. */
export const DECISION_BAR_MS = 60_000;

/** What the learner needs from the system. */
export interface OnlineLearningOptions extends OnlineLearnerOptions {
  /** The CNN running now. */
  readonly cnn: LoadedCnn;
  /** Starts an inference pool serving `onnx` as model 'cnn'. */
  readonly openPool: (onnx: string) => Promise<InferencePool>;
  /** Default: one piscina worker thread (models/train/worker.mjs). */
  readonly trainer?: CandidateTrainer;
}

/** Counters and the last run, for logs and tests. */
export interface OnlineLearningStats {
  polls: number;
  labelled: number;
  missingBars: number;
  /** Predictions dropped, not labelled, because their bars reach into a break of the data. */
  acrossReset: number;
  pairs: number;
  runs: number;
  promotions: number;
  failures: number;
  lastRun?: PipelineRun;
}

/** Why online learning is not running although config.models.online enabled it (also logged as ONLINE_LEARNING_OFF). */
export interface OnlineOff {
  readonly off: string;
}

/** Labels, trains and promotes the CNN on the engine clock; see the header. */
export class OnlineLearning {
  readonly stats: OnlineLearningStats = { polls: 0, labelled: 0, missingBars: 0, acrossReset: 0, pairs: 0, runs: 0, promotions: 0, failures: 0 };
  private readonly evaluator: PredictionOutcomeEvaluator;
  private readonly pipeline: TrainingPipeline;
  private readonly trainer: CandidateTrainer;
  private readonly pools: VersionPools;
  private readonly job: OnlineJob<PipelineRun>;
  private pairs: LabelledPrediction[] = [];
  /** Pairs taken from the evaluator so far, when the last run started, and the new ones the next run waits for. */
  private taken = 0;
  private takenAtLastRun = 0;
  private newNeeded = 0;

  private constructor(
    private readonly o: OnlineLearningOptions,
    live: LiveCnn,
    /** The triple-barrier rule predictions are labelled by, and where it came from (see `create`). */
    readonly labels: OnlineSettings['labels'],
    readonly labelsFrom: LabelsFrom,
  ) {
    const s = o.settings;
    this.job = new OnlineJob(o, s.pollMs, s.retrainEveryMs);
    this.trainer = o.trainer ?? workerTrainer();
    this.pools = new VersionPools(o.openPool);
    this.evaluator = new PredictionOutcomeEvaluator({
      clock: o.clock, bars: barsOf(o.bars), series: [{ model: 'cnn', symbol: o.symbol }],
      predictions: firstPerBar(o.history, o.clock.now() - s.lookbackMs, live.config),
    }, { barMs: DECISION_BAR_MS, ...labels, windows: [50, 200], maxPairs: s.maxPairs });
    this.pipeline = new TrainingPipeline({
      model: 'cnn', registry: o.registry, checkpoints: onlineCheckpointStore(o.checkpointRoot, o.clock, o.registry), trainer: this.trainer,
      clock: o.clock, live, base: o.cnn.base, baseSha256: o.cnn.baseSha256, versionPrefix: ONLINE_VERSION_PREFIX, rankBy: 'promotedAt', activate: o.activate,
      retired: (v) => { const dir = promotedDir(o.checkpointRoot, 'cnn', v); return dir !== undefined && isRetired(dir); },
      load: async (v) => {
        const dir = v === o.cnn.parent?.version ? o.cnn.parent.dir : promotedDir(o.checkpointRoot, 'cnn', v);
        return dir === undefined ? undefined : { version: v, ...(await readCnnWeights(dir)) };
      },
      ...(o.cnn.meta.input ? { input: o.cnn.meta.input } : {}),
      labels: { volWindow: labels.volWindow, horizon: labels.horizon, ptMult: labels.ptMult, slMult: labels.slMult },
      runnerFor: (cp) => this.pools.runner(cp.version, cp.onnx, o.cnn.meta),
      heldOutFraction: s.heldOutFraction, steps: s.steps, batch: s.batch, minTrain: s.minTrain,
      ...(s.learningRate !== undefined ? { learningRate: s.learningRate } : {}),
      policy: { ...DEFAULT_PROMOTION, minLogLossGain: s.minLogLossGain, minHeldOut: s.minHeldOut },
    });
    o.logger.info({ model: 'cnn', version: live.version, base: o.cnn.base, labels, labelsFrom, pollMs: s.pollMs, retrainEveryMs: s.retrainEveryMs },
      `online learning of cnn@${live.version}: labels every ${s.pollMs / 1000} s, a candidate every ${s.retrainEveryMs / 60_000} min once ${s.minTrain} pairs train and ${s.minHeldOut} are held out`);
    // The config check (engine/config/schema.ts) could only use models.online.labels.horizon.
    if (s.maxPairs * (1 - s.heldOutFraction) < s.minTrain + labels.horizon) {
      o.logger.warn({ code: 'ONLINE_MAX_PAIRS_TOO_FEW', maxPairs: s.maxPairs, need: this.pairsNeeded(), horizon: labels.horizon, labelsFrom },
        `online learning will never train: maxPairs ${s.maxPairs} is below the ${this.pairsNeeded()} a run needs with the ${labels.horizon}-bar horizon of ${labelsFrom}`);
    }
  }

  /**
   * Returns a learner for the running CNN, or undefined (logged) when online learning cannot run: the CNN's weights
   * are unreadable, or a model in the blend was trained on this CNN's outputs.
   */
  static async create(o: OnlineLearningOptions, cnnBound: readonly string[]): Promise<OnlineLearning | OnlineOff> {
    if (cnnBound.length > 0) {
      const off = `${cnnBound.join(', ')} was trained on the outputs of cnn@${o.cnn.version}, and a new CNN version would leave it out of the blend at the next start. The DQN learns online instead (models.online.dqn); disable models.dqn (or train a DQN without CNN outputs) to learn the CNN online`;
      o.logger.warn({ code: 'ONLINE_LEARNING_OFF', bound: cnnBound }, `online learning is off: ${off}`);
      return { off };
    }
    let live: LiveCnn;
    try {
      const { config, weights } = await readCnnWeights(o.cnn.dir);
      live = { version: o.cnn.version, config, weights };
    } catch (err) {
      const off = `the weights of cnn@${o.cnn.version} in ${o.cnn.dir} could not be read`;
      o.logger.warn({ code: 'ONLINE_LEARNING_OFF', err }, `online learning is off: ${off}`);
      return { off };
    }
    // The rule the base was trained with: its train-report.json, or, on a promoted checkpoint (which has none), the
    // rule recorded in its online.json; the config's rule only when neither records one.
    const fromReport = await trainingLabels(o.cnn.dir);
    if (fromReport) return new OnlineLearning(o, live, fromReport, 'train-report.json');
    const fromProvenance = provenanceLabels(o.cnn.dir);
    if (fromProvenance) return new OnlineLearning(o, live, fromProvenance, ONLINE_PROVENANCE_FILE);
    return new OnlineLearning(o, live, o.settings.labels, 'models.online.labels');
  }

  /** Polls every `pollMs` of engine time until stopped, and follows the symbol's breaks on the bus (if given). */
  start(): void {
    const symbol = this.o.symbol;
    this.job.start(() => this.poll(), {
      reset: (ts) => this.evaluator.onReset(symbol, ts),
      // Only the first trade after a reset is looked at.
      trade: (ts) => {
        if (this.evaluator.inBreak(symbol)) this.evaluator.onData(symbol, ts);
      },
    });
  }

  /**
   * Stops polling and ends the trainer's thread; a run in progress is abandoned (a half-written checkpoint has no
   * checkpoint.json and is removed at the next save). The promoted versions' pools stay open for the ticks still
   * draining: `closePools` after the actors stopped.
   */
  async stop(): Promise<void> {
    this.job.stop();
    await this.trainer.close();
    await this.job.training;
  }

  /**
   * Looks at the learner's data at the next turn of the engine clock rather than at the next pollMs (the orchestrator
   * judged the cnn degraded: `reason`). It starts no run by itself: the poll's gates, retrainEveryMs since the last
   * run included, still decide, and the regular poll would have looked within pollMs anyway. Returns false when not
   * polling (stopped).
   */
  pollSoon(reason: string): boolean {
    return this.job.pollSoonLogged('cnn', reason, this.o.logger);
  }

  /** Closes the inference pools of promoted versions. */
  closePools(): Promise<void> {
    return this.pools.closeAll();
  }

  /** Labels what is due and, when a run is due, starts it; returns that run (undefined when none started). */
  poll(): Promise<PipelineRun | undefined> | undefined {
    const s = this.o.settings;
    this.stats.polls++;
    try {
      const fresh = this.evaluator.poll();
      this.stats.labelled += fresh.length;
      this.stats.missingBars = this.evaluator.stats.missingBars;
      this.stats.acrossReset = this.evaluator.stats.acrossReset;
      const taken = this.evaluator.takePairs('cnn');
      this.taken += taken.length;
      this.pairs.push(...taken);
      if (this.pairs.length > s.maxPairs) this.pairs.splice(0, this.pairs.length - s.maxPairs);
      this.stats.pairs = this.pairs.length;
    } catch (err) {
      this.stats.failures++;
      this.o.logger.error({ code: 'ONLINE_LABEL_FAILED', err }, 'online learning: labelling stored predictions failed; tried again at the next poll');
      return undefined;
    }
    const now = this.o.clock.now();
    if (!this.job.due(now)) return undefined;
    // Enough for a run: minTrain after the held-out share and the purge, which drops up to `horizon` training pairs (one
    // per decision bar) whose outcome reaches the held-out time; minHeldOut in the share.
    if (this.pairs.length * (1 - s.heldOutFraction) < s.minTrain + this.labels.horizon || this.pairs.length * s.heldOutFraction < s.minHeldOut) return undefined;
    if (this.newSinceRun() < this.newNeeded) return undefined;
    this.takenAtLastRun = this.taken;
    return this.job.begin(now, () => this.run([...this.pairs]));
  }

  /** Where learning stands, for the dashboard: pairs, the run in progress or the next one, and the last result. */
  report(): OnlineJobRow {
    const active = this.o.registry.active('cnn')?.version ?? '?';
    return this.job.row({
      model: 'cnn (online)', head: `learning cnn@${active} from ${this.pairs.length} labelled predictions`,
      ...this.waiting(), ...lastRunOf(this.stats.lastRun), counts: this.stats,
    });
  }

  // What the next run waits for beside the time: the pairs it needs, then new ones since the last judged run.
  private waiting(): { wait?: string } {
    const need = this.pairsNeeded();
    if (this.pairs.length < need) return { wait: `a run needs ${need}` };
    if (this.newSinceRun() < this.newNeeded) return { wait: `the next run waits for ${this.newNeeded} new labelled pairs (${this.newSinceRun()} so far)` };
    return {};
  }

  private newSinceRun(): number {
    return this.taken - this.takenAtLastRun;
  }

  // Pairs a run needs: minTrain plus the purge's `horizon` outside the held-out share, minHeldOut inside it.
  private pairsNeeded(): number {
    const s = this.o.settings;
    return Math.max(Math.ceil((s.minTrain + this.labels.horizon) / (1 - s.heldOutFraction)), Math.ceil(s.minHeldOut / s.heldOutFraction));
  }

  private async run(pairs: LabelledPrediction[]): Promise<PipelineRun | undefined> {
    this.stats.runs++;
    try {
      const r = await this.pipeline.runOnce(pairs);
      this.stats.lastRun = r;
      // Only a scored candidate used the held-out pairs up; after a run short of pairs the next need not wait.
      this.newNeeded = r.candidate !== undefined ? this.o.settings.minNewPairs ?? r.heldOutPairs : 0;
      if (r.promoted) this.stats.promotions++;
      else this.o.logger.info({ model: 'cnn', reason: r.reason, trainPairs: r.trainPairs, heldOutPairs: r.heldOutPairs, live: r.live, candidate: r.candidate }, `online learning: cnn candidate not promoted: ${r.reason}`);
      // Pools of the active version and the one a rollback goes to stay open; older ones reopen when run again. After a
      // run that was not promoted too: one abandoned after its pool opened (the live version changed) is closed here.
      const active = this.o.registry.active('cnn')?.version;
      const back = this.o.registry.list().find((m) => m.name === 'cnn')?.rollbackTo[0];
      await this.pools.keepOnly(new Set([active, back].filter((v): v is string => v !== undefined)));
      return r;
    } catch (err) {
      if (this.job.stopped) {
        this.o.logger.info({ model: 'cnn' }, 'online learning: the training run in progress was abandoned at shutdown');
        return undefined;
      }
      this.stats.failures++;
      this.newNeeded = 0;
      this.o.logger.error({ code: 'ONLINE_TRAIN_FAILED', err }, 'online learning: the training run failed; the live version stays');
      return undefined;
    }
  }
}

/** The last run's part of the row (its outcome and held-out log losses) and its figure, once there was one. */
function lastRunOf(r: PipelineRun | undefined): { last?: string; valMetric?: number } {
  if (r === undefined) return {};
  const figures = r.candidate && r.live ? ` (held-out log loss ${r.candidate.logLoss.toFixed(3)} vs ${r.live.logLoss.toFixed(3)})` : '';
  return {
    last: r.promoted ? `promoted ${r.version ?? '?'}${figures}` : `kept the live version: ${r.reason}${figures}`,
    ...(r.candidate ? { valMetric: r.candidate.logLoss } : {}),
  };
}

/**
 * Returns the store of promoted checkpoints under `root`: it never prunes the registry's active version of `model` nor
 * the one a rollback goes to (rollbackTo[0], the step a restart keeps: app/models.ts registers it as the parent), and
 * prunes versions an operator rolled back before the others. The rest of the rollback history (ROLLBACK_DEPTH) counts
 * toward the store's `keep` like any other: protecting all of it kept every promotion of a process on disk.
 */
export function onlineCheckpointStore(root: string, clock: Clock, registry: ModelRegistry, model: 'cnn' | 'dqn' = 'cnn'): CheckpointStore {
  const live = (): string[] => {
    const m = registry.list().find((x) => x.name === model);
    return m ? [m.active, ...m.rollbackTo.slice(0, 1)] : [];
  };
  return new CheckpointStore({
    root, clock,
    keepAlways: (c) => live().includes(`${ONLINE_VERSION_PREFIX}${c.meta.version}`),
    pruneFirst: (c) => isRetired(c.dir),
  });
}

/** Returns the checkpoint folder of a promoted registry version (`online-vNNNNNN`) of `model`, or undefined for another version. */
export function promotedDir(root: string, model: 'cnn' | 'dqn', version: string): string | undefined {
  const v = version.startsWith(ONLINE_VERSION_PREFIX) ? version.slice(ONLINE_VERSION_PREFIX.length) : '';
  return /^v\d+$/.test(v) ? path.join(root, model, v) : undefined;
}

/** Where the learner's labelling rule came from: the base's training report, a promoted checkpoint's online.json, or the config. */
export type LabelsFrom = 'train-report.json' | typeof ONLINE_PROVENANCE_FILE | 'models.online.labels';

/** The labelling rule of a checkpoint's training run (train-report.json `labels.options`), when it recorded one. */
async function trainingLabels(dir: string): Promise<OnlineSettings['labels'] | undefined> {
  try {
    const report = JSON.parse(await readFile(path.join(dir, 'train-report.json'), 'utf8')) as { labels?: { options?: Partial<OnlineSettings['labels']> } };
    return labelRule(report.labels?.options);
  } catch {
    return undefined;
  }
}

/** The labelling rule a promoted checkpoint's online.json recorded (its base's), when it recorded one. */
function provenanceLabels(dir: string): OnlineSettings['labels'] | undefined {
  return labelRule(readOnlineProvenance(dir)?.labels);
}

function labelRule(recorded: Partial<OnlineSettings['labels']> | undefined): OnlineSettings['labels'] | undefined {
  const { volWindow, horizon, ptMult, slMult } = recorded ?? {};
  // All four recorded (the schema's defaults are the config's, not the checkpoint's), within the config's bounds.
  if ([volWindow, horizon, ptMult, slMult].includes(undefined)) return undefined;
  const parsed = onlineLabelsSchema.safeParse({ volWindow, horizon, ptMult, slMult });
  return parsed.success ? parsed.data : undefined;
}

/**
 * The first stored prediction of each decision bar (made in [b + bar, b + 2·bar), after bar b closed), its input cut
 * to the CNN's training row: training decided once per bar, and a second-by-second daemon stores sixty per bar, whose
 * inputs would crowd out the history and cost 37 KB each. Reads nothing older than `floor`.
 */
export function firstPerBar(history: OnlineLearningOptions['history'], floor: TsMs, config: LiveCnn['config']): PredictionSource {
  let served = -Infinity;
  return {
    predictions(model, symbol, range) {
      const from = Math.max(range.from, floor);
      const out: StoredPrediction[] = [];
      for (let w = Math.floor(from / DECISION_BAR_MS) * DECISION_BAR_MS; w < range.to; w += DECISION_BAR_MS) {
        if (w - DECISION_BAR_MS <= served) continue;
        const [r] = history.query(model, symbol, { from: Math.max(w, from), to: Math.min(w + DECISION_BAR_MS, range.to) }, 1);
        if (r === undefined) continue;
        served = w - DECISION_BAR_MS;
        const input = cnnTrainingRow(r.input.features, config);
        out.push({ output: r.output, ...(input ? { input } : {}) });
      }
      return out;
    },
  };
}

/** Closed bars of a candle series by open time, for the evaluator. */
export function barsOf(series: () => CandleSource | undefined): BarSource {
  return {
    bars(_symbol, fromOpen, toOpen) {
      const s = series();
      const out: OhlcBar[] = [];
      if (!s) return out;
      for (let i = s.length - 1; i >= 0; i--) {
        const c = s.get(i);
        if (!c || c.openTime < fromOpen) break;
        if (c.openTime <= toOpen && c.closed) out.push(c);
      }
      return out.reverse();
    },
  };
}

/**
 * One inference pool per promoted version, opened on first use: `keepOnly` closes the others, and a version rolled
 * back to after its pool closed opens it again at its next run (the first run then waits for the pool to load).
 */
class VersionPools {
  private readonly pools = new Map<string, { pool?: Promise<InferencePool> }>();

  constructor(private readonly open: (onnx: string) => Promise<InferencePool>) {}

  /** Returns the runner of `version` once its pool has loaded `onnx` (rejects when it cannot). */
  async runner(version: string, onnx: string, meta: CheckpointMeta): Promise<ModelRunner> {
    const slot: { pool?: Promise<InferencePool> } = {};
    const open = (): Promise<InferencePool> => {
      const p = this.open(onnx);
      // A pool that failed to open is opened again at the next run, not awaited as a rejection forever.
      p.catch(() => { if (slot.pool === p) slot.pool = undefined; });
      return p;
    };
    slot.pool = open();
    const runner = cnnRunner({
      pool: { infer: async (model, input, dims) => (await (slot.pool ??= open())).infer(model, input, dims) }, checkpoint: meta,
    });
    await slot.pool;
    this.pools.set(version, slot);
    return runner;
  }

  async keepOnly(keep: ReadonlySet<string>): Promise<void> {
    for (const [version, slot] of this.pools) {
      if (keep.has(version) || slot.pool === undefined) continue;
      const p = slot.pool;
      slot.pool = undefined;
      await p.then((pool) => pool.close(), () => undefined);
    }
  }

  async closeAll(): Promise<void> {
    await this.keepOnly(new Set());
  }
}

/** What `onlineLearningFor` needs from the system being built. */
export interface OnlineDeps extends OnlineLearnerDeps {
  readonly cnn: LoadedCnn | undefined;
  readonly cnnBound: readonly string[];
}

/**
 * Returns the daemon's learner when config.models.online asks for one and it can run, why not (logged) when it asks
 * and cannot, and undefined when it does not ask.
 */
export async function onlineLearningFor(config: Config, d: OnlineDeps): Promise<OnlineLearning | OnlineOff | undefined> {
  if (!config.models.online.enabled) return undefined;
  if (!d.cnn) {
    const off = 'no CNN checkpoint is in the blend';
    d.logger.warn({ code: 'ONLINE_LEARNING_OFF' }, `online learning is off: ${off}`);
    return { off };
  }
  const { poolThreads, timeoutMs } = config.models;
  return OnlineLearning.create({
    ...learnerOptions(config, d), cnn: d.cnn,
    openPool: (onnx) => createInferencePool({ models: { cnn: onnx }, threads: poolThreads, timeoutMs }),
  }, d.cnnBound);
}
