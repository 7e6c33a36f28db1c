// Online training pipeline for the DQN (the RL agent): its own recent decisions become a candidate, a copy of the live
// Q-network fine-tuned in the trainer's worker thread (dqn-finetune.ts), which replaces the live version only when it
// trades the newest held-out decisions better (decideDqnPromotion): it must trade there (at least `minTrades` position
// changes and `minExposure` of the steps long: a candidate that learned to stay flat "beats" a losing live version by
// never trading, which says nothing of its skill), its greedy after-fee return must beat the live version's by more
// than `minReturnGain` and must not be below flat (0), and both must hold up under a paired block bootstrap of the
// held-out steps' after-fee returns: at `confidence`, the lower bound of the gain must exceed `minReturnGain` and that
// of the candidate's own return must not be below flat. The second matters as much as the first: a candidate that
// trades once and otherwise stays flat "significantly" beats a live version that lost by trading, which shows the live
// version's losses, not the candidate's skill. Without these rules, on one day of real decisions the verdict followed
// the fine-tune's seed (8 of 9 seeds promoted a candidate that never traded); with the first alone, 1 of 9 (one round
// trip, +0.04 %) was still promoted and did no better than the live version the next day.
// A fine-tune that took no gradient step is a failed run (it throws), not a verdict on an unchanged network; so is one
// whose weights or held-out figures are not finite (it diverged): a NaN network's greedy action is always BUY, an
// always-long candidate that a rising held-out span would promote, and whose runner then throws at every tick.
// A run has a wall-time deadline (`runTimeoutMs`, pipeline.ts withRunDeadline), as the CNN's.
// Promotion = checkpoint (saveDqn + online.json) under the store it is given, a new version registered (its runner an
// inference-only Q-network) with the live version's runner options, and activated. A version this pipeline promoted
// that is neither active nor on the registry's rollback history (an operator rolled it back) is removed from the
// registry, so its runner is not kept alive.
// A candidate whose starting version stopped being the live one while it trained (an operator's rollback) is dropped,
// its checkpoint deleted: it would undo the rollback.
//
// Decisions: one per decision time (the learner reads them from the inference history), each with the state the live
// checkpoint's builder makes of the stored input and the close of its decision bar (where `cobalt train dqn --state bdi`
// fills). Sequences: decisions one decision interval apart (by their bars' open times) are consecutive; a missing one
// (the DQN gave no answer in that window, the daemon was down, the bar was missing, or the learner dropped it because
// its state reaches into a break of the data) splits the sequence there, so no transition spans a gap.
// Held-out split: the newest `heldOutFraction` of the decisions are held out; the training segments end at the last
// decision before them, so no training transition reads a held-out price, and the held-out ones are never trained on.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelRegistry, ModelRunner } from '../../actors/orchestrator/registry.ts';
import { LiveClock, type Clock } from '../../engine/runtime/clock.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import type { TsMs } from '../../engine/types/time.ts';
import type { CheckpointInput, CheckpointStore } from '../checkpoints.ts';
import type { DqnConfig } from '../dqn/agent.ts';
import { saveDqn } from '../dqn/io.ts';
import { QNetwork } from '../dqn/qnet.ts';
import { Rng } from '../dqn/rng.ts';
import type { DqnTrainTask } from '../train/worker-task.ts';
import { agentWith, type DqnFineTuneResult, type DqnFineTuneSpec, type DqnScore, type DqnSegment } from './dqn-finetune.ts';
import { ONLINE_PROVENANCE_FILE, ONLINE_RUN_TIMEOUT_MS, promotionRank, trainWorkerPool, withRunDeadline, type RunDeadline } from './pipeline.ts';

/** One decision of the DQN: when, its decision bar, the state it decided on and the bar's close (the fill price). */
export interface DqnDecision {
  readonly ts: TsMs;
  readonly barOpenMs: TsMs;
  readonly state: Float32Array;
  readonly price: number;
}

/** Runs DQN fine-tunes off the main thread; `signal` aborts a fine-tune (the pipeline's run deadline). */
export interface DqnTrainer {
  train(spec: DqnFineTuneSpec, signal?: AbortSignal): Promise<DqnFineTuneResult>;
  close(): Promise<void>;
}

/** Returns a DQN trainer backed by one piscina worker thread (models/train/worker.mjs, task kind 'dqn'). */
export function dqnWorkerTrainer(): DqnTrainer {
  const pool = trainWorkerPool();
  return {
    // An aborted task's thread is terminated (piscina), and a fresh one serves the next task.
    train: (spec, signal) => pool.run({ kind: 'dqn', ...spec } satisfies DqnTrainTask, signal ? { signal } : {}) as Promise<DqnFineTuneResult>,
    close: () => pool.destroy(),
  };
}

/** A version the pipeline can train from and roll back to. */
export interface LiveDqn {
  readonly version: string;
  readonly config: DqnConfig;
  readonly params: Float32Array;
}

/** How a run trains and when it promotes (config.models.online.dqn). */
export interface DqnLearnSettings {
  readonly heldOutFraction: number;
  /** Decisions in training segments of ≥ 2 decisions needed before a run, and held-out ones before a verdict. */
  readonly minTrain: number;
  readonly minHeldOut: number;
  /** The candidate's held-out after-fee return must beat the live version's by more than this. */
  readonly minReturnGain: number;
  readonly episodes: number;
  readonly maxSteps: number;
  readonly episodeLength: number;
  /** Adam learning rate of the fine-tune (default: a tenth of the live network's). */
  readonly learningRate?: number;
  readonly epsilonStart: number;
  /** Position changes the candidate must make on the held-out decisions (default DQN_GATE_DEFAULTS). */
  readonly minTrades?: number;
  /** Share of the held-out steps the candidate must end long (default DQN_GATE_DEFAULTS). */
  readonly minExposure?: number;
  /** One-sided confidence of the bootstrap's lower bound on the gain (default DQN_GATE_DEFAULTS). */
  readonly confidence?: number;
  /** Bootstrap resamples and block length in decisions (default DQN_GATE_DEFAULTS). */
  readonly bootstrapSamples?: number;
  readonly bootstrapBlock?: number;
  /** New decisions read since the last scored run before the next run (default: that run's held-out count; app/online-dqn.ts). */
  readonly minNewDecisions?: number;
}

/**
 * Defaults of the promotion gate's settings. Two trades: one round trip (entry and exit). 5 % of the steps long: at
 * one decision every 5 min, a held-out day's 86 steps hold 4 long. 0.95: one lucky verdict in 20 at most when the
 * candidate is no better. Blocks of 12 decisions (an hour at 5 min) keep most held positions inside one block, so the
 * resamples keep the steps' serial dependence.
 */
export const DQN_GATE_DEFAULTS = { minTrades: 2, minExposure: 0.05, confidence: 0.95, bootstrapSamples: 2000, bootstrapBlock: 12 } as const;

/** The promotion gate's settings, defaults filled in. */
export type DqnGatePolicy = Pick<DqnLearnSettings, 'minReturnGain'> & { readonly [K in keyof typeof DQN_GATE_DEFAULTS]: number };

/** Returns `s`'s gate settings with DQN_GATE_DEFAULTS where it gives none. */
export function dqnGatePolicy(s: Pick<DqnLearnSettings, 'minReturnGain' | keyof typeof DQN_GATE_DEFAULTS>): DqnGatePolicy {
  const d = DQN_GATE_DEFAULTS;
  const p = {
    minReturnGain: s.minReturnGain, minTrades: s.minTrades ?? d.minTrades, minExposure: s.minExposure ?? d.minExposure, confidence: s.confidence ?? d.confidence,
    bootstrapSamples: s.bootstrapSamples ?? d.bootstrapSamples, bootstrapBlock: s.bootstrapBlock ?? d.bootstrapBlock,
  };
  if (!(Number.isInteger(p.minTrades) && p.minTrades >= 0)) throw new InputValidationError(`minTrades must be an integer ≥ 0, got ${p.minTrades}`);
  if (!(p.minExposure >= 0 && p.minExposure <= 1)) throw new InputValidationError(`minExposure must be in [0, 1], got ${p.minExposure}`);
  if (!(p.confidence > 0 && p.confidence < 1)) throw new InputValidationError(`confidence must be in (0, 1), got ${p.confidence}`);
  if (!(Number.isInteger(p.bootstrapSamples) && p.bootstrapSamples >= 100)) throw new InputValidationError(`bootstrapSamples must be an integer ≥ 100, got ${p.bootstrapSamples}`);
  if (!(Number.isInteger(p.bootstrapBlock) && p.bootstrapBlock >= 1)) throw new InputValidationError(`bootstrapBlock must be an integer ≥ 1, got ${p.bootstrapBlock}`);
  return p;
}

/** Pipeline settings. */
export interface DqnPipelineOptions {
  readonly registry: ModelRegistry;
  readonly checkpoints: CheckpointStore;
  readonly trainer: DqnTrainer;
  readonly clock: Clock;
  /** The version active in the registry now. */
  readonly live: LiveDqn;
  /** The registry runner of a network (rlRunner with the live version's state builder and `requires`). */
  readonly runnerFor: (q: QNetwork) => ModelRunner;
  /** Models a promoted version is registered as depending on (the live version's: ['cnn'] beside a CNN). */
  readonly dependsOn?: readonly string[];
  /** Minutes between decisions (the checkpoint's `input.everyMinutes`). */
  readonly everyMinutes: number;
  /** Fee per unit traded and reward scale of the environment (the checkpoint's). */
  readonly feeRate: number;
  readonly rewardScale: number;
  readonly settings: DqnLearnSettings;
  readonly seed?: number;
  /** The version the live line descends from, and the sha-256 of its weights.bin, recorded in online.json. */
  readonly base: string;
  readonly baseSha256: string;
  /** The input the live checkpoint reads, recorded in each promoted checkpoint (restart checks it as the base's). */
  readonly input?: CheckpointInput;
  /** Put before a checkpoint's version to make the registry's. */
  readonly versionPrefix?: string;
  /** Makes a registered version active (the orchestrator's `activate`); default: the registry's own activation. */
  readonly activate?: (model: string, version: string) => void;
  /** Returns true for a version an operator rolled back (app/online-rollbacks.ts): nothing fine-tuned from it is promoted. */
  readonly retired?: (version: string) => boolean;
  /** Returns the weights of a registered version this pipeline did not promote (the parent a restart registered), or undefined. */
  readonly load?: (version: string) => LiveDqn | undefined;
  /** Wall time a run may take (default ONLINE_RUN_TIMEOUT_MS), on `timers` (default: the wall clock). */
  readonly runTimeoutMs?: number;
  readonly timers?: Clock;
}

/** online.json of a promoted DQN: what it descends from, the figures it was promoted on and the spans behind them. */
export interface DqnProvenance {
  readonly base: string;
  /** The sha-256 of the base's weights.bin (a base's version string is not unique over time). */
  readonly baseSha256: string;
  readonly parent: string;
  readonly promotedAt: number;
  readonly trainDecisions: number;
  readonly heldOutDecisions: number;
  readonly live: DqnScore;
  readonly candidate: DqnScore;
  /** The bootstrap's lower bounds on candidate − live return and on the candidate's return at `confidence` (decideDqnPromotion). */
  readonly gainLowerBound: number;
  readonly returnLowerBound: number;
  readonly confidence: number;
  /** Flat's held-out return (0: no trade, no fee), the floor a candidate must reach. */
  readonly flat: 0;
  /** Open times of the first and last decision bar of the training and the held-out decisions. */
  readonly span: { readonly train: TimeSpan; readonly heldOut: TimeSpan };
  readonly feeRate: number;
  readonly rewardScale: number;
  readonly everyMinutes: number;
}

/** Open times of a first and a last bar. */
export interface TimeSpan {
  readonly fromMs: number;
  readonly toMs: number;
}

/** What one pipeline run did. */
export interface DqnRun {
  readonly promoted: boolean;
  readonly reason: string;
  readonly trainDecisions: number;
  readonly heldOutDecisions: number;
  readonly trainSegments: number;
  readonly heldOutSegments: number;
  readonly live?: DqnScore;
  readonly candidate?: DqnScore;
  /** The bootstrap's lower bounds on the gain and on the candidate's return, when the verdict got that far. */
  readonly gainLowerBound?: number;
  readonly returnLowerBound?: number;
  /** Training episodes and environment steps of the fine-tune. */
  readonly episodes?: number;
  readonly envSteps?: number;
  /** The new active version, when promoted. */
  readonly version?: string;
  readonly checkpointDir?: string;
}

/** Returns `decisions` in time order, split into runs of consecutive decisions (see the header). */
export function dqnSegments(decisions: readonly DqnDecision[], everyMinutes: number): DqnDecision[][] {
  const step = everyMinutes * 60_000;
  const sorted = [...decisions].sort((a, b) => a.barOpenMs - b.barOpenMs);
  const out: DqnDecision[][] = [];
  for (const d of sorted) {
    const seg = out.at(-1);
    const last = seg?.at(-1);
    if (seg && last && d.barOpenMs - last.barOpenMs === step) seg.push(d);
    else if (!last || d.barOpenMs !== last.barOpenMs) out.push([d]);
  }
  return out;
}

/** The decisions of a run: training and held-out segments (only those of ≥ 2 decisions, which hold a transition). */
export interface DqnSplit {
  readonly train: DqnDecision[][];
  readonly heldOut: DqnDecision[][];
  readonly trainDecisions: number;
  readonly heldOutDecisions: number;
}

/** Splits `decisions` into the training ones and the newest `heldOutFraction` held out (see the header). */
export function splitDecisions(decisions: readonly DqnDecision[], heldOutFraction: number, everyMinutes: number): DqnSplit {
  if (!(heldOutFraction > 0 && heldOutFraction < 1)) throw new InputValidationError(`heldOutFraction must be in (0, 1), got ${heldOutFraction}`);
  const sorted = dqnSegments(decisions, everyMinutes).flat();
  const cut = sorted.length - Math.floor(sorted.length * heldOutFraction);
  const usable = (segs: DqnDecision[][]): DqnDecision[][] => segs.filter((s) => s.length >= 2);
  const train = usable(dqnSegments(sorted.slice(0, cut), everyMinutes));
  const heldOut = usable(dqnSegments(sorted.slice(cut), everyMinutes));
  const count = (segs: DqnDecision[][]): number => segs.reduce((n, s) => n + s.length, 0);
  return { train, heldOut, trainDecisions: count(train), heldOutDecisions: count(heldOut) };
}

/** A promotion verdict and why; the bootstrap's lower bounds when it ran. */
export interface DqnVerdict {
  readonly promote: boolean;
  readonly reason: string;
  readonly gainLowerBound?: number;
  readonly returnLowerBound?: number;
}

/** Live and candidate after-fee returns of the same held-out steps (DqnFineTuneResult's liveSteps, candidateSteps). */
export interface PairedSteps {
  readonly live: Float64Array;
  readonly candidate: Float64Array;
}

/** Returns whether `candidate` trades the held-out decisions better than `live` (see the header); `seed` seeds the bootstrap. */
export function decideDqnPromotion(live: DqnScore, candidate: DqnScore, steps: PairedSteps, policy: DqnGatePolicy, seed: number): DqnVerdict {
  if (live.steps !== candidate.steps || steps.live.length !== live.steps || steps.candidate.length !== live.steps) {
    throw new InputValidationError(`live and candidate were scored on different decisions (${live.steps} vs ${candidate.steps} steps, ${steps.live.length} vs ${steps.candidate.length} step returns)`);
  }
  const pct = (x: number): string => `${(x * 100).toFixed(3)}%`;
  // NaN compares false everywhere: a NaN step return would only thin the bootstrap's resamples, not fail them.
  if (![live.return, candidate.return].every(Number.isFinite) || !steps.live.every(Number.isFinite) || !steps.candidate.every(Number.isFinite)) {
    return { promote: false, reason: `held-out returns not finite (candidate ${candidate.return}, live ${live.return}, or a step's)` };
  }
  const figures = `held-out return ${pct(candidate.return)} vs live ${pct(live.return)} (flat 0%)`;
  if (candidate.trades < policy.minTrades) return { promote: false, reason: `${figures}: the candidate made ${candidate.trades} trades < minTrades ${policy.minTrades}` };
  if (candidate.exposure < policy.minExposure) {
    return { promote: false, reason: `${figures}: the candidate was long ${pct(candidate.exposure)} of the steps < minExposure ${pct(policy.minExposure)}` };
  }
  const gain = candidate.return - live.return;
  if (!(gain > policy.minReturnGain)) return { promote: false, reason: `${figures}: gain ${pct(gain)} ≤ ${pct(policy.minReturnGain)}` };
  if (candidate.return < 0) return { promote: false, reason: `${figures}: worse than flat` };
  const low = bootstrapLowerBounds(steps, policy, seed);
  const bounds = { gainLowerBound: low.gain, returnLowerBound: low.candidate };
  const at = `at ${policy.confidence}`;
  if (!(low.gain > policy.minReturnGain)) {
    return { promote: false, reason: `${figures}: gain ${pct(gain)} not significant (lower bound ${pct(low.gain)} ${at} ≤ ${pct(policy.minReturnGain)})`, ...bounds };
  }
  if (low.candidate < 0) return { promote: false, reason: `${figures}: return not significantly above flat (lower bound ${pct(low.candidate)} ${at} < 0%)`, ...bounds };
  return { promote: true, reason: `${figures}: gain ${pct(gain)} > ${pct(policy.minReturnGain)} (lower bound ${pct(low.gain)} ${at}), not worse than flat (lower bound ${pct(low.candidate)})`, ...bounds };
}

/**
 * Returns the lower `confidence` bounds of candidate − live compounded return and of the candidate's own compounded
 * return under a paired moving-block bootstrap of the held-out steps: each resample draws blocks of `bootstrapBlock`
 * consecutive steps (circularly) with the same indices for both, so the two are compared on the same market moves.
 * Deterministic for a seed.
 */
export function bootstrapLowerBounds(steps: PairedSteps, policy: Pick<DqnGatePolicy, 'confidence' | 'bootstrapSamples' | 'bootstrapBlock'>, seed: number): { gain: number; candidate: number } {
  const n = steps.live.length;
  if (n === 0) throw new InputValidationError('bootstrap of the held-out gain: no held-out steps');
  const block = Math.min(policy.bootstrapBlock, n);
  const rng = new Rng(seed);
  const gains = new Float64Array(policy.bootstrapSamples);
  const cands = new Float64Array(policy.bootstrapSamples);
  for (let b = 0; b < gains.length; b++) {
    let live = 1, cand = 1;
    for (let k = 0; k < n; k += block) {
      const start = rng.int(n);
      for (let j = 0; j < block && k + j < n; j++) {
        const i = (start + j) % n;
        live *= 1 + steps.live[i]!;
        cand *= 1 + steps.candidate[i]!;
      }
    }
    gains[b] = cand - live;
    cands[b] = cand - 1;
  }
  const q = Math.floor((1 - policy.confidence) * gains.length);
  return { gain: gains.sort()[q]!, candidate: cands.sort()[q]! };
}

/** Trains DQN candidates from the DQN's decisions and promotes the ones that trade the held-out decisions better. */
export class DqnPipeline {
  private liveDqn: LiveDqn;
  private readonly known = new Map<string, LiveDqn>();
  /** Versions this pipeline registered: the only ones it may remove from the registry. */
  private readonly promoted = new Set<string>();
  private readonly gate: DqnGatePolicy;
  private readonly timers: Clock;
  private runs = 0;

  constructor(private readonly o: DqnPipelineOptions) {
    this.gate = dqnGatePolicy(o.settings);
    this.timers = o.timers ?? new LiveClock();
    this.liveDqn = o.live;
    this.known.set(o.live.version, o.live);
    if (!o.registry.has('dqn')) throw new InputValidationError('model dqn is not registered: register the live version first');
  }

  /** The version training starts from (the registry's active one). */
  get live(): LiveDqn {
    return this.liveDqn;
  }

  /**
   * Fine-tunes a candidate on the training decisions and promotes it if it trades the held-out ones better; rejects with
   * OnlineRunTimeoutError when the run takes longer than `runTimeoutMs`.
   */
  runOnce(decisions: readonly DqnDecision[]): Promise<DqnRun> {
    return withRunDeadline('dqn', this.o.runTimeoutMs ?? ONLINE_RUN_TIMEOUT_MS, this.timers, (d) => this.run(decisions, d));
  }

  private async run(decisions: readonly DqnDecision[], d: RunDeadline): Promise<DqnRun> {
    const o = this.o;
    const s = o.settings;
    const split = splitDecisions(decisions, s.heldOutFraction, o.everyMinutes);
    const base = {
      trainDecisions: split.trainDecisions, heldOutDecisions: split.heldOutDecisions, trainSegments: split.train.length, heldOutSegments: split.heldOut.length,
    };
    this.prune();
    // The registry's active version may have changed under the pipeline (an operator's rollback): train from it.
    const active = o.registry.active('dqn')?.version;
    if (active !== this.liveDqn.version) {
      const known = active === undefined ? undefined : this.known.get(active) ?? o.load?.(active);
      if (!known) return { ...base, promoted: false, reason: `the active dqn version ${String(active)} is not one this pipeline holds weights for` };
      this.known.set(known.version, known);
      this.liveDqn = known;
    }
    if (split.trainDecisions < s.minTrain || split.heldOutDecisions < s.minHeldOut) {
      return { ...base, promoted: false, reason: `not enough decisions: ${split.trainDecisions} to train (need ${s.minTrain}), ${split.heldOutDecisions} held out (need ${s.minHeldOut})` };
    }
    const from = this.liveDqn;
    const seed = (o.seed ?? 1) + this.runs++;
    const result = await o.trainer.train({
      config: from.config, params: from.params, train: split.train.map(segmentOf), heldOut: split.heldOut.map(segmentOf),
      feeRate: o.feeRate, rewardScale: o.rewardScale, episodes: s.episodes, maxSteps: s.maxSteps, episodeLength: s.episodeLength,
      learningRate: s.learningRate ?? from.config.lr / 10, epsilonStart: s.epsilonStart, seed,
    }, d.signal);
    if (d.expired) return this.abandoned({ ...base }, 'the run passed its deadline');
    // The candidate would be the live network: judging it would only report noise as "gain 0".
    if (result.gradSteps === 0) {
      throw new InputValidationError(`DQN fine-tune took no gradient step in ${result.envSteps} environment steps (${result.episodes} episodes): `
        + `raise models.online.dqn episodes × episodeLength (${s.episodes} × ${s.episodeLength}) or maxSteps (${s.maxSteps}) above the fine-tune's learningStarts + batch`);
    }
    const diverged = nonFinite(result);
    if (diverged) throw new InputValidationError(`DQN fine-tune returned ${diverged} (it diverged): refused, nothing saved; the live version stays`);
    const figures = { live: result.live, candidate: result.candidate, episodes: result.episodes, envSteps: result.envSteps };
    // Training takes a while: an operator may have rolled the version it started from back meanwhile.
    const changed = this.liveChanged(from.version);
    if (changed) return this.abandoned({ ...base, ...figures }, changed);
    const verdict = decideDqnPromotion(result.live, result.candidate, { live: result.liveSteps, candidate: result.candidateSteps }, this.gate, seed);
    const bounds = verdict.gainLowerBound !== undefined ? { gainLowerBound: verdict.gainLowerBound, returnLowerBound: verdict.returnLowerBound! } : {};
    const judged = { ...base, ...figures, ...bounds };
    if (!verdict.promote) return { ...judged, promoted: false, reason: verdict.reason };
    const promotedAt = o.clock.now();
    const rank = await promotionRank(o.checkpoints, 'dqn', promotedAt);
    const spanOf = (segs: DqnDecision[][]): TimeSpan => ({ fromMs: segs[0]![0]!.barOpenMs, toMs: segs.at(-1)!.at(-1)!.barOpenMs });
    const span = { train: spanOf(split.train), heldOut: spanOf(split.heldOut) };
    const provenance: DqnProvenance = {
      base: o.base, baseSha256: o.baseSha256, parent: from.version, promotedAt, trainDecisions: split.trainDecisions, heldOutDecisions: split.heldOutDecisions,
      live: result.live, candidate: result.candidate, gainLowerBound: verdict.gainLowerBound!, returnLowerBound: verdict.returnLowerBound!, confidence: this.gate.confidence, flat: 0, span, feeRate: o.feeRate, rewardScale: o.rewardScale, everyMinutes: o.everyMinutes,
    };
    const agent = agentWith(from.config, result.params);
    const cp = await o.checkpoints.save({
      // Each run's held-out decisions are newer ones, so returns of different runs do not compare: newest first.
      // Ranked above every earlier promotion even when the engine clock went back (a replay; promotionRank).
      model: 'dqn', metric: { name: 'promotedAt', value: rank, higherIsBetter: true },
      dataSpan: span.train, validationSpan: span.heldOut, ...(o.input ? { input: o.input } : {}),
      configHash: `online:${from.version}`, backend: 'js-mlp',
      write: async (dir) => {
        saveDqn(agent, dir, { online: true, parent: from.version, feeRate: o.feeRate, rewardScale: o.rewardScale, heldOut: result.candidate, liveHeldOut: result.live });
        await writeFile(path.join(dir, ONLINE_PROVENANCE_FILE), JSON.stringify(provenance, null, 1));
      },
    });
    const beforeRegister = d.expired ? 'the run passed its deadline' : this.liveChanged(from.version);
    if (beforeRegister) return this.abandoned({ ...base, ...figures }, beforeRegister, cp.dir);
    const version = `${o.versionPrefix ?? ''}${cp.meta.version}`;
    o.registry.register('dqn', {
      version, run: o.runnerFor(new QNetwork(agent.online.sizes, result.params)), ...(o.dependsOn ? { dependsOn: o.dependsOn } : {}),
      meta: { checkpoint: cp.dir, parent: from.version, heldOut: result.candidate, liveHeldOut: result.live },
    }, o.clock.now(), { activate: o.activate === undefined });
    o.activate?.('dqn', version);
    const next: LiveDqn = { version, config: from.config, params: result.params };
    this.known.set(version, next);
    this.promoted.add(version);
    this.liveDqn = next;
    return { ...judged, promoted: true, reason: verdict.reason, version, checkpointDir: cp.dir };
  }

  /**
   * Removes the versions this pipeline promoted that no rollback can reach any more (neither active nor on the
   * rollback history: an operator rolled them back) from the registry, with the weights it kept of them.
   */
  prune(): void {
    const info = this.o.registry.list().find((m) => m.name === 'dqn');
    if (!info) return;
    const reachable = new Set([info.active, ...info.rollbackTo]);
    for (const v of this.promoted) {
      if (reachable.has(v)) continue;
      this.o.registry.remove('dqn', v);
      this.promoted.delete(v);
      this.known.delete(v);
    }
  }

  // Why a candidate fine-tuned from `from` cannot be promoted now, or undefined when `from` is still live.
  private liveChanged(from: string): string | undefined {
    const active = this.o.registry.active('dqn')?.version;
    if (active !== from) return `the live version changed during the run: it trained from dqn@${from}, ${String(active)} is active now`;
    if (this.o.retired?.(from) === true) return `the live version changed during the run: dqn@${from}, which it trained from, was rolled back`;
    return undefined;
  }

  // A run whose live version changed under it: its saved candidate (if any) is deleted, or a restart would load it.
  private async abandoned(run: Omit<DqnRun, 'promoted' | 'reason'>, reason: string, dir?: string): Promise<DqnRun> {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    return { ...run, promoted: false, reason };
  }
}

// What of a fine-tune's answer is not finite, or undefined when all is.
function nonFinite(r: DqnFineTuneResult): string | undefined {
  let bad = 0;
  for (const x of r.params) if (!Number.isFinite(x)) bad++;
  if (bad > 0) return `a network with ${bad} non-finite weight${bad === 1 ? '' : 's'} of ${r.params.length}`;
  const figures = [
    ['live return', Number.isFinite(r.live.return)], ['candidate return', Number.isFinite(r.candidate.return)],
    ['live step returns', r.liveSteps.every(Number.isFinite)], ['candidate step returns', r.candidateSteps.every(Number.isFinite)],
  ] as const;
  const which = figures.filter(([, ok]) => !ok).map(([name]) => name);
  return which.length > 0 ? `non-finite held-out figures (${which.join(', ')})` : undefined;
}

function segmentOf(decisions: readonly DqnDecision[]): DqnSegment {
  const size = decisions[0]!.state.length;
  const states = new Float32Array(decisions.length * size);
  decisions.forEach((d, i) => {
    if (d.state.length !== size) throw new InputValidationError(`DQN decision at ${new Date(d.ts).toISOString()} has a ${d.state.length}-float state, the others ${size}`);
    states.set(d.state, i * size);
  });
  return { states, price: Float64Array.from(decisions, (d) => d.price) };
}
