// Online training pipeline for the CNN: (stored input, realised outcome) pairs from the PredictionOutcomeEvaluator
// become a candidate — a copy of the live weights fine-tuned in a worker thread — which replaces the live version
// only if it beats it on the most recent held-out pairs. Promotion = ONNX parity check, checkpoint, and a new
// version registered and activated in the orchestrator's registry; `rollback()` restores the previous version.
// A candidate whose starting version stopped being the live one while it trained (an operator's rollback) is dropped,
// its checkpoint deleted: it would undo the rollback.
//
// Stored inputs are whole BaseDataInputs (9,190 floats): a CNN on the engine's input trains on their `selectCnnInput`
// columns, the same selection the agent applies before inference.
// Held-out split: pairs sorted by decision time; the newest `heldOutFraction` are held out; training pairs whose
// label interval [t0, t1] reaches the first held-out decision bar are purged (their outcome overlaps held-out time).
// A run has a wall-time deadline (`runTimeoutMs`): a trainer thread that never answers would otherwise keep the
// learner busy for ever. At the deadline its worker task is aborted, the run fails, and a late answer promotes nothing.
import { Piscina } from 'piscina';
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelRegistry, ModelRunner } from '../../actors/orchestrator/registry.ts';
import { log } from '../../engine/log.ts';
import { BDI_LENGTH } from '../../engine/market/base-data-input.ts';
import { LiveClock, type Clock, type TimerHandle } from '../../engine/runtime/clock.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import type { CheckpointInput, CheckpointStore } from '../checkpoints.ts';
import { CNN_INPUT_SPEC, selectCnnInput } from '../cnn/bdi-adapter.ts';
import { cnnInputSize, type CnnConfig } from '../cnn/config.ts';
import type { NamedWeights } from '../cnn/model.ts';
import { CNN_ONNX_IO } from '../cnn/onnx-export.ts';
import { PARITY_TOLERANCE } from '../train/parity.ts';
import type { ClassFigures } from '../train/report.ts';
import type { SaveTask, TrainTask, TrainTaskResult } from '../train/worker-task.ts';
import type { LabelledPrediction } from './outcome-evaluator.ts';
import { DEFAULT_PROMOTION, decidePromotion, type PromotionPolicy } from './promotion.ts';

/** Runs training jobs off the main thread; `signal` aborts a task (the pipeline's run deadline). */
export interface CandidateTrainer {
  train(task: Omit<TrainTask, 'kind'>, signal?: AbortSignal): Promise<TrainTaskResult>;
  save(task: Omit<SaveTask, 'kind'>, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/**
 * Default wall time an online run may take (a run takes seconds to a few minutes: the default CNN fine-tune is 50
 * steps, the DQN's 10,000 environment steps). Not in the config yet: PipelineOptions/DqnPipelineOptions `runTimeoutMs`.
 */
export const ONLINE_RUN_TIMEOUT_MS = 3_600_000;

/** An online run that did not finish within its deadline. */
export class OnlineRunTimeoutError extends Error {
  constructor(readonly model: string, readonly timeoutMs: number) {
    super(`the online ${model} run did not finish within ${Math.round(timeoutMs / 60_000)} min of wall time: its worker task was aborted, and a candidate it answers late is dropped`);
    this.name = 'OnlineRunTimeoutError';
  }
}

/** What a run checks against its deadline: `signal` goes to the worker tasks; once `expired`, nothing is promoted. */
export interface RunDeadline {
  readonly signal: AbortSignal;
  readonly expired: boolean;
}

/**
 * Runs `work` with a deadline `ms` on `timers` (wall time: the worker's work does not follow a replay's engine clock).
 * At the deadline the signal aborts and the returned promise rejects with OnlineRunTimeoutError; `work` goes on until
 * its next check of `expired`, and what it settles with then is dropped.
 */
export async function withRunDeadline<T>(model: string, ms: number, timers: Clock, work: (d: RunDeadline) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let timer: TimerHandle | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = timers.setTimeout(() => {
      const err = new OnlineRunTimeoutError(model, ms);
      ac.abort(err);
      reject(err);
    }, ms);
  });
  const running = work({ signal: ac.signal, get expired() { return ac.signal.aborted; } });
  // Once the deadline has passed, a failure of the abandoned work is nobody's to report.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, expired]);
  } finally {
    timers.clearTimeout(timer);
  }
}

/**
 * What a promotion is ranked by in the store (metric `promotedAt`, newest first): the engine time, but above every
 * checkpoint already ranked so. A daemon replaying recorded data runs on the data's clock, and a replay of earlier data
 * after later data would otherwise rank its newer promotion below the older ones: a restart would load an older
 * version, and pruning would delete the newest first. Checkpoints written before keep their engine-time values.
 */
export async function promotionRank(store: CheckpointStore, model: string, now: number): Promise<number> {
  const ranked = (await store.list(model, PROMOTED_AT)).filter((c) => c.meta.metric.name === PROMOTED_AT.name && c.meta.metric.higherIsBetter);
  return ranked.reduce((m, c) => (Number.isFinite(c.meta.metric.value) ? Math.max(m, c.meta.metric.value + 1) : m), now);
}

const PROMOTED_AT = { name: 'promotedAt', higherIsBetter: true } as const;

/** Returns one piscina worker thread running models/train/worker.mjs (the online learners' trainer thread). */
export function trainWorkerPool(): Piscina {
  // execArgv []: the worker reaches TypeScript through tsx's API; the parent's `--import tsx` would register the hooks
  // a second time in it (engine/infer/pool.ts). The entry is a CommonJS file that imports worker.mjs: piscina would
  // require() worker.mjs itself, and a thread closed while require() instantiates an ES module aborts the process
  // (train-worker.cjs says why).
  return new Piscina({ filename: new URL('./train-worker.cjs', import.meta.url).href, minThreads: 1, maxThreads: 1, idleTimeout: 60_000, execArgv: [] });
}

/** Returns a trainer backed by one piscina worker thread running models/train/worker.mjs. */
export function workerTrainer(): CandidateTrainer {
  const pool = trainWorkerPool();
  // An aborted task's thread is terminated (piscina), and a fresh one serves the next task.
  return {
    train: (task, signal) => pool.run({ kind: 'train', ...task }, signal ? { signal } : {}) as Promise<TrainTaskResult>,
    save: async (task, signal) => { await pool.run({ kind: 'save', ...task }, signal ? { signal } : {}); },
    close: () => pool.destroy(),
  };
}

/** A version the pipeline can train from and roll back to. */
export interface LiveCnn {
  readonly version: string;
  readonly config: CnnConfig;
  readonly weights: readonly NamedWeights[];
}

/** Pipeline settings. */
export interface PipelineOptions {
  /** Registry name of the model (e.g. 'cnn'). */
  readonly model: string;
  readonly registry: ModelRegistry;
  readonly checkpoints: CheckpointStore;
  readonly trainer: CandidateTrainer;
  readonly clock: Clock;
  /** The version active in the registry now. */
  readonly live: LiveCnn;
  /** Builds the registry runner of a promoted checkpoint (e.g. loads its ONNX into the inference pool). */
  readonly runnerFor: (checkpoint: { version: string; dir: string; onnx: string }) => ModelRunner | Promise<ModelRunner>;
  readonly heldOutFraction?: number;
  readonly steps?: number;
  readonly batch?: number;
  readonly learningRate?: number;
  readonly minTrain?: number;
  readonly policy?: PromotionPolicy;
  readonly seed?: number;
  /**
   * Makes a registered version active (the orchestrator's `activate`, which also starts its accuracy record over);
   * default: the registry's own activation.
   */
  readonly activate?: (model: string, version: string) => void;
  /** Put before a checkpoint's version to make the registry's (keeps them apart from offline checkpoints' `vNNNNNN`). */
  readonly versionPrefix?: string;
  /**
   * What the checkpoint store ranks (and prunes) promoted checkpoints by: their held-out log loss (default), or
   * `promotedAt`, newest first: each run's held-out pairs are newer ones, so losses of different runs do not compare.
   */
  readonly rankBy?: 'heldOutLogLoss' | 'promotedAt';
  /** The version the live line descends from, recorded in each promoted checkpoint's online.json (default `live`'s). */
  readonly base?: string;
  /** The input the model reads, recorded in each promoted checkpoint (the live checkpoint's `input`). */
  readonly input?: CheckpointInput;
  /**
   * The triple-barrier rule the pairs were labelled with (the base's training rule), recorded in each promoted
   * checkpoint's online.json: a promoted checkpoint has no train-report.json, and a restart on it labels by this.
   */
  readonly labels?: LabelRule;
  /** The sha-256 of the base's ONNX file, recorded in online.json: a base's version string is not unique over time. */
  readonly baseSha256?: string;
  /**
   * Returns true for a version an operator rolled back (app/online-rollbacks.ts): a candidate fine-tuned from it is not
   * promoted. Default: none is.
   */
  readonly retired?: (version: string) => boolean;
  /**
   * Returns the weights of a registered version this pipeline did not promote (e.g. the parent a restart registered for
   * rollback), or undefined when it has none; called when such a version is active at the start of a run.
   */
  readonly load?: (version: string) => Promise<LiveCnn | undefined>;
  /** Wall time a run may take (default ONLINE_RUN_TIMEOUT_MS), on `timers` (default: the wall clock). */
  readonly runTimeoutMs?: number;
  readonly timers?: Clock;
}

/** A triple-barrier labelling rule (train-report.json `labels.options` without the stride). */
export interface LabelRule {
  readonly volWindow: number;
  readonly horizon: number;
  readonly ptMult: number;
  readonly slMult: number;
}

/** online.json: what a promoted checkpoint descends from and the figures it was promoted on. */
export interface OnlineProvenance {
  readonly base: string;
  /** The sha-256 of the base's ONNX file (absent in checkpoints promoted before it was recorded). */
  readonly baseSha256?: string;
  readonly parent: string;
  readonly promotedAt: number;
  readonly trainPairs: number;
  readonly heldOutPairs: number;
  readonly live: ClassFigures;
  readonly candidate: ClassFigures;
  /** The labelling rule of the pairs it was trained and judged on (absent in checkpoints promoted before it was recorded). */
  readonly labels?: LabelRule;
}

/** The file name of a promoted checkpoint's provenance. */
export const ONLINE_PROVENANCE_FILE = 'online.json';

/** Returns the online.json of the promoted checkpoint in `dir` as written, or undefined when it is missing or unreadable. */
export function readOnlineProvenance(dir: string): Partial<OnlineProvenance> | undefined {
  try {
    const p = JSON.parse(readFileSync(path.join(dir, ONLINE_PROVENANCE_FILE), 'utf8')) as unknown;
    return typeof p === 'object' && p !== null ? (p as Partial<OnlineProvenance>) : undefined;
  } catch {
    return undefined;
  }
}

/** What one pipeline run did. */
export interface PipelineRun {
  readonly promoted: boolean;
  readonly reason: string;
  readonly trainPairs: number;
  readonly heldOutPairs: number;
  readonly purged: number;
  readonly live?: ClassFigures;
  readonly candidate?: ClassFigures;
  readonly parityMaxAbsDiff?: number;
  /** The new active version, when promoted. */
  readonly version?: string;
  readonly checkpointDir?: string;
}

/** Trains candidates from labelled pairs and promotes the ones that beat the live model. */
export class TrainingPipeline {
  private liveCnn: LiveCnn;
  /** Weights of the active version and of the one a rollback goes to (`trimKnown`); older ones come from `load`. */
  private readonly known = new Map<string, LiveCnn>();
  private readonly timers: Clock;
  private runs = 0;
  private readonly base: string;

  constructor(private readonly o: PipelineOptions) {
    this.liveCnn = o.live;
    this.base = o.base ?? o.live.version;
    this.timers = o.timers ?? new LiveClock();
    this.known.set(o.live.version, o.live);
    if (!o.registry.has(o.model)) throw new InputValidationError(`model ${o.model} is not registered: register the live version first`);
  }

  /** The version training starts from (the registry's active one). */
  get live(): LiveCnn {
    return this.liveCnn;
  }

  /**
   * Trains a candidate on `pairs` (with inputs) and promotes it if it beats the live version on held-out pairs; rejects
   * with OnlineRunTimeoutError when the run takes longer than `runTimeoutMs`.
   */
  runOnce(pairs: readonly LabelledPrediction[]): Promise<PipelineRun> {
    return withRunDeadline(this.o.model, this.o.runTimeoutMs ?? ONLINE_RUN_TIMEOUT_MS, this.timers, (d) => this.run(pairs, d));
  }

  private async run(pairs: readonly LabelledPrediction[], d: RunDeadline): Promise<PipelineRun> {
    const o = this.o;
    this.trimKnown();
    // The registry's active version may have changed under the pipeline (an operator's rollback): train from it.
    const active = o.registry.active(o.model)?.version;
    if (active !== this.liveCnn.version) {
      const known = active === undefined ? undefined : this.known.get(active) ?? (await o.load?.(active));
      if (known) this.known.set(known.version, known);
      if (!known) return { promoted: false, reason: `the active ${o.model} version ${String(active)} is not one this pipeline holds weights for`, trainPairs: 0, heldOutPairs: 0, purged: 0 };
      this.liveCnn = known;
    }
    const size = cnnInputSize(this.liveCnn.config);
    const usable = pairs.flatMap((p) => {
      const input = cnnTrainingRow(p.input, this.liveCnn.config);
      return input ? [{ ...p, input }] : [];
    }).sort((a, b) => a.t0Ms - b.t0Ms);
    const nHeld = Math.floor(usable.length * (o.heldOutFraction ?? 0.3));
    const heldOut = usable.slice(usable.length - nHeld);
    const cut = heldOut[0]?.t0Ms ?? Infinity;
    const candidates = usable.slice(0, usable.length - nHeld);
    const train = candidates.filter((p) => p.t1Ms < cut);
    const base = { trainPairs: train.length, heldOutPairs: heldOut.length, purged: candidates.length - train.length };
    const policy = o.policy ?? DEFAULT_PROMOTION;
    if (train.length < (o.minTrain ?? 100) || heldOut.length < policy.minHeldOut) {
      return { ...base, promoted: false, reason: `not enough pairs: ${train.length} to train (need ${o.minTrain ?? 100}), ${heldOut.length} held out (need ${policy.minHeldOut})` };
    }
    const from = this.liveCnn.version;
    const result = await o.trainer.train({
      config: this.liveCnn.config, weights: this.liveCnn.weights, train: rows(train, size), heldOut: rows(heldOut, size),
      steps: o.steps ?? 50, batch: o.batch ?? 32, learningRate: o.learningRate ?? this.liveCnn.config.learningRate, seed: (o.seed ?? 1) + this.runs++,
    }, d.signal);
    const figures = { live: result.live, candidate: result.candidate };
    // Training takes minutes: an operator may have rolled the version it started from back meanwhile, and a candidate
    // fine-tuned from a rejected version must not undo that rollback (checked again before it is registered).
    const changed = this.liveChanged(from, d);
    if (changed) return this.abandoned({ ...base, ...figures }, changed);
    const verdict = decidePromotion(result.live, result.candidate, policy);
    if (!verdict.promote) {
      log().info({ model: o.model, ...base, ...figures, reason: verdict.reason }, 'candidate not promoted');
      return { ...base, ...figures, promoted: false, reason: verdict.reason };
    }
    // Save first (the worker writes weights and ONNX), then check the written ONNX against the worker's tfjs outputs.
    const heldX = rows(heldOut, size).x;
    let parity = Infinity;
    const promotedAt = o.clock.now();
    const rank = o.rankBy === 'promotedAt' ? await promotionRank(o.checkpoints, o.model, promotedAt) : 0;
    const provenance: OnlineProvenance = { base: this.base, ...(o.baseSha256 ? { baseSha256: o.baseSha256 } : {}), parent: this.liveCnn.version, promotedAt, ...base, ...figures, ...(o.labels ? { labels: o.labels } : {}) };
    const saved = await o.checkpoints.save({
      model: o.model,
      metric: o.rankBy === 'promotedAt' ? { ...PROMOTED_AT, value: rank } : { name: 'heldOutLogLoss', value: result.candidate.logLoss, higherIsBetter: false },
      dataSpan: { fromMs: train[0]!.t0Ms, toMs: train.reduce((m, p) => Math.max(m, p.t1Ms), 0) }, ...(o.input ? { input: o.input } : {}),
      configHash: `online:${this.liveCnn.version}`, backend: result.backend,
      write: async (dir) => {
        if (d.expired) throw new OnlineRunTimeoutError(o.model, o.runTimeoutMs ?? ONLINE_RUN_TIMEOUT_MS);
        await o.trainer.save({ config: this.liveCnn.config, weights: result.weights, dir, version: `online-from-${this.liveCnn.version}` }, d.signal);
        parity = await onnxDiff(path.join(dir, 'cnn.onnx'), heldX, heldOut.length, size, result);
        if (!(parity <= PARITY_TOLERANCE)) throw new ParityError(parity);
        await writeFile(path.join(dir, ONLINE_PROVENANCE_FILE), JSON.stringify(provenance, null, 1));
      },
    }).catch((err: unknown) => err);
    if (saved instanceof ParityError) {
      return { ...base, ...figures, promoted: false, reason: `ONNX export differs from tfjs by ${saved.diff} (> ${PARITY_TOLERANCE})`, parityMaxAbsDiff: saved.diff };
    }
    if (saved instanceof Error) throw saved;
    const cp = saved as Awaited<ReturnType<CheckpointStore['save']>>;
    const beforeServe = this.liveChanged(from, d);
    if (beforeServe) return this.abandoned({ ...base, ...figures, parityMaxAbsDiff: parity }, beforeServe, cp.dir);
    const version = `${o.versionPrefix ?? ''}${cp.meta.version}`;
    // A version that cannot be served is not kept: a restart would load the newest promoted checkpoint.
    const run = await Promise.resolve(o.runnerFor({ version, dir: cp.dir, onnx: path.join(cp.dir, 'cnn.onnx') })).catch(async (err: unknown) => {
      await rm(cp.dir, { recursive: true, force: true });
      throw err;
    });
    const beforeRegister = this.liveChanged(from, d);
    if (beforeRegister) return this.abandoned({ ...base, ...figures, parityMaxAbsDiff: parity }, beforeRegister, cp.dir);
    o.registry.register(o.model, {
      version, run, meta: { checkpoint: cp.dir, parent: this.liveCnn.version, heldOut: result.candidate, liveHeldOut: result.live },
    }, o.clock.now(), { activate: o.activate === undefined });
    o.activate?.(o.model, version);
    const next: LiveCnn = { version, config: this.liveCnn.config, weights: result.weights };
    this.known.set(version, next);
    this.liveCnn = next;
    this.trimKnown();
    log().info({ model: o.model, version, ...base, ...figures }, 'candidate promoted');
    return { ...base, ...figures, promoted: true, reason: verdict.reason, version, checkpointDir: cp.dir, parityMaxAbsDiff: parity };
  }

  // Why a candidate fine-tuned from `from` cannot be promoted now (the run passed its deadline, the registry's active
  // version is no longer `from`, or `from` was rolled back), or undefined when it can.
  private liveChanged(from: string, d: RunDeadline): string | undefined {
    if (d.expired) return `the run passed its deadline of ${Math.round((this.o.runTimeoutMs ?? ONLINE_RUN_TIMEOUT_MS) / 60_000)} min`;
    const active = this.o.registry.active(this.o.model)?.version;
    if (active !== from) return `the live version changed during the run: it trained from ${this.o.model}@${from}, ${String(active)} is active now`;
    if (this.o.retired?.(from) === true) return `the live version changed during the run: ${this.o.model}@${from}, which it trained from, was rolled back`;
    return undefined;
  }

  // A run whose live version changed under it: its saved candidate (if any) is deleted, or a restart would load it.
  private async abandoned(run: Omit<PipelineRun, 'promoted' | 'reason'>, reason: string, dir?: string): Promise<PipelineRun> {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    log().info({ model: this.o.model, ...run, reason }, 'candidate not promoted');
    return { ...run, promoted: false, reason };
  }

  // Drops the weights of versions neither active nor the next rollback's target: a daemon promotes one version an hour,
  // each a full copy of the CNN. An older version that becomes active again is read back with `load`.
  private trimKnown(): void {
    const info = this.o.registry.list().find((m) => m.name === this.o.model);
    const keep = new Set([info?.active, info?.rollbackTo[0], this.liveCnn.version]);
    for (const v of this.known.keys()) if (!keep.has(v)) this.known.delete(v);
  }

  /** Rolls the registry back to the previous version and trains from it again; returns the now-active version. */
  rollback(): string {
    this.o.registry.rollback(this.o.model, this.o.clock.now());
    const active = this.o.registry.active(this.o.model)!.version;
    const known = this.known.get(active);
    if (!known) throw new InputValidationError(`rolled back to ${active}, whose weights this pipeline never held`);
    this.liveCnn = known;
    return active;
  }
}

class ParityError extends Error {
  constructor(readonly diff: number) { super(`ONNX parity ${diff}`); }
}

/**
 * Returns the row the CNN trains on from a stored input: the input itself when it has the model's length, the CNN's
 * columns (`selectCnnInput`) of a stored BaseDataInput when the model takes the engine's input (the inference history
 * stores the whole BaseDataInput the agent was given), else undefined (an input this model cannot read).
 */
export function cnnTrainingRow(input: Float32Array | undefined, config: CnnConfig): Float32Array | undefined {
  if (input === undefined) return undefined;
  if (input.length === cnnInputSize(config)) return input;
  const takesBdi = config.seqLen === CNN_INPUT_SPEC.seqLen && config.features === CNN_INPUT_SPEC.features && config.tailLen === CNN_INPUT_SPEC.tailLen;
  return takesBdi && input.length === BDI_LENGTH ? selectCnnInput(input) : undefined;
}

function rows(pairs: readonly LabelledPrediction[], size: number): { x: Float32Array; y: Uint8Array } {
  const x = new Float32Array(pairs.length * size);
  pairs.forEach((p, i) => x.set(p.input!, i * size));
  return { x, y: Uint8Array.from(pairs, (p) => p.label) };
}

// Largest |ONNX − tfjs| over probabilities and hidden vectors of the held-out rows.
async function onnxDiff(file: string, x: Float32Array, n: number, size: number, r: TrainTaskResult): Promise<number> {
  const session = await ort.InferenceSession.create(await readFile(file));
  try {
    const out = await session.run({ [CNN_ONNX_IO.input]: new ort.Tensor('float32', x, [n, size]) });
    let max = 0;
    const p = out[CNN_ONNX_IO.probs]!.data as Float32Array, h = out[CNN_ONNX_IO.hidden]!.data as Float32Array;
    if (p.length !== r.candidateProbs.length || h.length !== r.candidateHidden.length) return Infinity;
    for (let i = 0; i < p.length; i++) max = Math.max(max, Math.abs(p[i]! - r.candidateProbs[i]!));
    for (let i = 0; i < h.length; i++) max = Math.max(max, Math.abs(h[i]! - r.candidateHidden[i]!));
    return max;
  } finally {
    await session.release();
  }
}
