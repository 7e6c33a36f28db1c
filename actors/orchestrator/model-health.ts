// Model health: says when a model stopped working, instead of only letting the gating lower its weight quietly.
//
// The outcomes (./outcomes.ts, 3-class BUY/SELL/HOLD as the gating judges) are sampled: at most one per model per
// horizon, an outcome taken only when its prediction was made at least horizonMs after that of the last one taken.
// The engine judges a prediction every trigger bar (1 s) on a 60 s move, so ~60 consecutive outcomes are judged on
// nearly the same price path: a window of 200 of them holds ~3 independent observations, and the test below, which
// assumes independent outcomes, said "worse" in 41 % of windows of an equally good model instead of 5 %. Sampled, the
// window covers `window` horizons (200 at a 60 s horizon: 200 minutes; minJudged 100: 100 minutes).
//
// Over each model's last `window` sampled outcomes its accuracy is compared with a naive baseline on the SAME
// outcomes: always predicting one class, fixed out of sample as the most frequent realised class over the `window`
// sampled outcomes BEFORE the window (ties go to BUY, then SELL, then HOLD). Picked in hindsight from the window
// itself, the baseline gets the best of three noisy counts and beats a skilled model by luck; until at least
// minJudged outcomes precede the window there is no baseline and no verdict (at the defaults: 300 horizons, 5 hours).
//
// The test: McNemar's, one-sided, normal approximation with Edwards' continuity correction. The model and the
// baseline are judged on the same outcomes, so their hits are paired and correlated (in a window of mostly HOLD both
// are right on the same quiet bars); a two-proportion test would treat them as independent samples and misjudge the
// variance. Outcomes both got right or both got wrong say nothing about which is better; only the discordant pairs
// do: b = baseline right and model wrong, c = model right and baseline wrong. Were both equally good, b would be
// Binomial(b + c, ½); the model is worse at `confidence` when z = (b − c − 1) / √(b + c) exceeds the normal quantile
// of `confidence` (1.645 at 0.95). Every count is kept per (realised class, model hit), six integers, so b and c come
// out in O(1) per outcome from a ring buffer of the window for any baseline class.
//
// States: ok -(test says worse)-> degraded -(test silent for `recoverAfter` sampled outcomes in a row)-> ok. The test
// re-runs on every sampled outcome over heavily overlapping windows, so z wanders around the threshold; the run of
// silent outcomes restarts each time it crosses back, and two changes of the same model and kind (state, confidence)
// are at least minGapMs of engine time apart, so a model on the boundary changes state a few times a day, not at
// every crossing. Overconfidence is a separate flag with the same hysteresis: mean stated confidence above accuracy by
// more than maxConfidenceGap over the window (of at least minJudged) sets it; a gap back within the limit for
// `recoverAfter` outcomes in a row clears it. Confidences are kept in whole millionths so that their sum stays exact.
import type { Action } from '../../engine/messages/signals.ts';
import type { ModelHealthChange } from '../../engine/messages/orchestrator.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import { DEFAULT_HORIZON } from './outcomes.ts';

/** Settings of the monitor (config orchestrator.health). */
export interface HealthConfig {
  readonly enabled: boolean;
  /** Sampled outcomes (one per horizon) per model the figures cover. */
  readonly window: number;
  /** Outcomes needed in the window, and before it for the baseline, before the monitor says anything (default min(100, window)). */
  readonly minJudged?: number | undefined;
  /** Confidence of the one-sided test that the model is worse than the baseline (0.5 < c < 1). */
  readonly confidence: number;
  /** Mean confidence may exceed accuracy by this much (0..1) before the model is called overconfident. */
  readonly maxConfidenceGap: number;
  /** Sampled outcomes in a row without the condition before a flag clears (default window / 2). */
  readonly recoverAfter?: number | undefined;
  /** Engine time between two changes of the same model and kind (state; confidence) at least. */
  readonly minGapMs: number;
}

/** A config with every default filled in. */
export type HealthSettings = HealthConfig & { readonly minJudged: number; readonly recoverAfter: number };

/** Default monitor: 200 sampled outcomes, a say from 100, 95 % one-sided, 0.25 confidence gap, 30 min between changes. */
export const DEFAULT_HEALTH: HealthConfig = { enabled: true, window: 200, confidence: 0.95, maxConfidenceGap: 0.25, minGapMs: 1_800_000 };
const DEFAULT_MIN_JUDGED = 100;

/** A model's figures over its window. */
export interface HealthFigures {
  readonly model: string;
  readonly state: 'ok' | 'degraded';
  readonly overconfident: boolean;
  readonly judged: number;
  readonly accuracy: number;
  /** Accuracy of always predicting `baselineAction` on the same outcomes; 0 while there is no baseline. */
  readonly baseline: number;
  /** The baseline class, fixed by the outcomes before the window; absent until minJudged precede it. */
  readonly baselineAction?: Action;
  readonly meanConfidence: number;
  /** One-sided p-value that the model is not worse than the baseline (1 with no discordant pair or no baseline). */
  readonly pValue: number;
}

const CLASSES: readonly Action[] = ['BUY', 'SELL', 'HOLD'];
const CLASS_OF: Readonly<Record<Action, number>> = { BUY: 0, SELL: 1, HOLD: 2 };
const MICRO = 1_000_000;
const NO_CHANGE: readonly ModelHealthChange[] = [];

/**
 * A flag with hysteresis (see the header): set on the first sampled outcome with its condition, cleared after
 * recoverAfter outcomes in a row without it, and changed at most once per minGapMs of engine time.
 */
interface Flag {
  on: boolean;
  /** Sampled outcomes in a row without the condition. */
  quiet: number;
  /** Engine time of the last change. */
  changedAt: number;
}

const newFlag = (): Flag => ({ on: false, quiet: 0, changedAt: -Infinity });

interface Window {
  readonly realised: Uint8Array;
  readonly hit: Uint8Array;
  readonly conf: Int32Array;
  next: number;
  size: number;
  /** counts[class * 2 + hit]. */
  readonly counts: Int32Array;
  confSum: number;
  /** The realised classes of the outcomes that left the window, the last `window` of them (the baseline's sample). */
  readonly prior: Uint8Array;
  priorNext: number;
  priorSize: number;
  readonly priorCounts: Int32Array;
  /** Prediction time of the last outcome taken (sampling). */
  lastAt: number;
  /** The test says "worse" (the state kind of change). */
  readonly degraded: Flag;
  /** Mean confidence above accuracy by more than maxConfidenceGap (the confidence kind). */
  readonly overconfident: Flag;
  /** What export() returned last, and the outcomes taken then: a save between two outcomes reuses it. */
  exported?: { readonly taken: number; readonly saved: SavedHealth };
  /** Outcomes taken so far (restores included). */
  taken: number;
}

/** Returns `c` over the defaults, checked. */
export function healthConfig(c: Partial<HealthConfig> = {}): HealthSettings {
  const h = { ...DEFAULT_HEALTH, ...c };
  if (!Number.isInteger(h.window) || h.window < 1) throw new ConfigError(`health window must be a positive integer, got ${h.window}`);
  const minJudged = c.minJudged ?? Math.min(DEFAULT_MIN_JUDGED, h.window);
  if (!Number.isInteger(minJudged) || minJudged < 1 || minJudged > h.window) {
    throw new ConfigError(`health minJudged must be an integer in [1, window ${h.window}], got ${minJudged}`);
  }
  if (!(h.confidence > 0.5 && h.confidence < 1)) throw new ConfigError(`health confidence must be in (0.5, 1), got ${h.confidence}`);
  if (!(h.maxConfidenceGap >= 0 && h.maxConfidenceGap <= 1)) throw new ConfigError(`health maxConfidenceGap must be in [0, 1], got ${h.maxConfidenceGap}`);
  const recoverAfter = c.recoverAfter ?? Math.max(1, Math.ceil(h.window / 2));
  if (!Number.isInteger(recoverAfter) || recoverAfter < 1) throw new ConfigError(`health recoverAfter must be a positive integer, got ${recoverAfter}`);
  if (!(h.minGapMs >= 0)) throw new ConfigError(`health minGapMs must be >= 0, got ${h.minGapMs}`);
  return { ...h, minJudged, recoverAfter };
}

/**
 * One model's monitor state as kept across restarts (./memory.ts): the window's outcomes and the baseline's sample,
 * oldest first, the flags with their hysteresis counters and change times. Taken back only under the same window and
 * horizon (other settings judge other samples). Times that never happened (-Infinity) are kept as null.
 */
export interface SavedHealth {
  readonly window: number;
  readonly horizonMs: number;
  /** Per outcome two digits: realised class (0 BUY, 1 SELL, 2 HOLD), then hit (0/1). */
  readonly outcomes: string;
  /** Per outcome its stated confidence in millionths. */
  readonly conf: readonly number[];
  /** Realised classes of the baseline's sample. */
  readonly prior: string;
  readonly lastAt: number | null;
  readonly degraded: boolean;
  readonly overconfident: boolean;
  readonly calm: number;
  readonly calibrated: number;
  readonly stateAt: number | null;
  readonly confAt: number | null;
}

/** Judges each model's recent accuracy against the naive baseline; see the header. */
export class ModelHealthMonitor {
  readonly config: HealthSettings;
  private readonly windows = new Map<string, Window>();
  private readonly zCritical: number;

  /** `horizonMs`: the evaluator's horizon, the spacing of the sampled outcomes. */
  constructor(config: Partial<HealthConfig> = {}, readonly horizonMs: number = DEFAULT_HORIZON.horizonMs) {
    this.config = healthConfig(config);
    if (!(horizonMs > 0)) throw new ConfigError(`health horizonMs must be > 0, got ${horizonMs}`);
    this.zCritical = normalQuantile(this.config.confidence);
  }

  /**
   * Offers one judged outcome of `model`, predicted at `at` (engine time, ms) with the confidence it stated; it is
   * taken only when `at` is at least horizonMs after the last one taken (see the header). Returns the changes it
   * caused (usually none: a shared empty array, nothing allocated).
   */
  record(model: string, predicted: Action, realised: Action, confidence: number, at: number): readonly ModelHealthChange[] {
    const w = this.windowOf(model);
    if (at < w.lastAt + this.horizonMs) return NO_CHANGE;
    w.lastAt = at;
    // A confidence that is not a number counts as 0: one NaN in the running sum would spoil every later mean.
    const conf = Number.isFinite(confidence) ? Math.round(Math.min(1, Math.max(0, confidence)) * MICRO) : 0;
    this.push(w, CLASS_OF[realised], predicted === realised ? 1 : 0, conf);
    if (w.size < this.config.minJudged) return NO_CHANGE;
    const state = this.flagChange(w.degraded, this.worse(w), at, 'degraded', 'recovered');
    const confidenceChange = this.flagChange(w.overconfident, this.overconfidentNow(w), at, 'overconfident', 'calibrated');
    if (!state && !confidenceChange) return NO_CHANGE;
    return state && confidenceChange ? [state, confidenceChange] : [(state ?? confidenceChange)!];
  }

  /** Returns the figures of `model` over its window; undefined before its first outcome. */
  figures(model: string): HealthFigures | undefined {
    const w = this.windows.get(model);
    if (!w || w.size === 0) return undefined;
    const base = this.baselineClass(w);
    const z = base === undefined ? -Infinity : this.z(w, base);
    return {
      model, state: w.degraded.on ? 'degraded' : 'ok', overconfident: w.overconfident.on, judged: w.size, accuracy: this.hits(w) / w.size,
      baseline: base === undefined ? 0 : (w.counts[base * 2]! + w.counts[base * 2 + 1]!) / w.size,
      ...(base === undefined ? {} : { baselineAction: CLASSES[base]! }),
      meanConfidence: w.confSum / MICRO / w.size, pValue: Number.isFinite(z) ? 1 - normalCdf(z) : 1,
    };
  }

  /** Returns the models with outcomes. */
  models(): string[] {
    return [...this.windows.keys()];
  }

  /** Returns the figures of every model with outcomes, by model (the dashboard's modelHealth provider). */
  all(): Record<string, HealthFigures> {
    const out: Record<string, HealthFigures> = {};
    for (const model of this.windows.keys()) {
      const f = this.figures(model);
      if (f) out[model] = f;
    }
    return out;
  }

  /** Starts the window of `model` over (a new version); returns its flags when it had one (degraded or overconfident). */
  reset(model: string): { degraded: boolean; overconfident: boolean } | undefined {
    const w = this.windows.get(model);
    this.windows.delete(model);
    if (w === undefined || !(w.degraded.on || w.overconfident.on)) return undefined;
    return { degraded: w.degraded.on, overconfident: w.overconfident.on };
  }

  /** Returns the state of `model` to keep across a restart; undefined before its first outcome. */
  export(model: string): SavedHealth | undefined {
    const w = this.windows.get(model);
    if (!w || w.size === 0) return undefined;
    // The orchestrator saves every few seconds of engine time; a window changes once per horizon.
    if (w.exported?.taken === w.taken) return w.exported.saved;
    const n = w.realised.length;
    let outcomes = '';
    const conf: number[] = [];
    for (let k = 0; k < w.size; k++) {
      const i = (w.next - w.size + k + n) % n;
      outcomes += `${w.realised[i]!}${w.hit[i]!}`;
      conf.push(w.conf[i]!);
    }
    let prior = '';
    for (let k = 0; k < w.priorSize; k++) prior += String(w.prior[(w.priorNext - w.priorSize + k + n) % n]!);
    const time = (t: number): number | null => (Number.isFinite(t) ? t : null);
    const saved: SavedHealth = {
      window: n, horizonMs: this.horizonMs, outcomes, conf, prior, lastAt: time(w.lastAt), degraded: w.degraded.on, overconfident: w.overconfident.on,
      calm: w.degraded.quiet, calibrated: w.overconfident.quiet, stateAt: time(w.degraded.changedAt), confAt: time(w.overconfident.changedAt),
    };
    w.exported = { taken: w.taken, saved };
    return saved;
  }

  /**
   * Takes back what `export` returned for `model`, replacing its window; returns false (and changes nothing) when it was
   * kept under another window or horizon, or is not in the expected form (an older store, a hand edit).
   */
  restore(model: string, s: SavedHealth): boolean {
    const n = this.config.window;
    if (!savedHealthValid(s, n) || s.horizonMs !== this.horizonMs) return false;
    this.windows.delete(model);
    const w = this.windowOf(model);
    for (let k = 0; k < s.prior.length; k++) this.pushPrior(w, Number(s.prior[k]));
    for (let k = 0; k < s.conf.length; k++) this.push(w, Number(s.outcomes[2 * k]), s.outcomes[2 * k + 1] === '1' ? 1 : 0, s.conf[k]!);
    const time = (t: number | null): number => t ?? -Infinity;
    w.lastAt = time(s.lastAt);
    Object.assign(w.degraded, { on: s.degraded, quiet: s.calm, changedAt: time(s.stateAt) });
    Object.assign(w.overconfident, { on: s.overconfident, quiet: s.calibrated, changedAt: time(s.confAt) });
    return true;
  }

  // Moves `f` on one sampled outcome whose condition is `holds`; returns `set` or `clear` when the flag changed.
  private flagChange(f: Flag, holds: boolean, at: number, set: ModelHealthChange, clear: ModelHealthChange): ModelHealthChange | undefined {
    f.quiet = holds ? 0 : f.quiet + 1;
    if (at - f.changedAt < this.config.minGapMs) return undefined;
    if (f.on === holds || (f.on && f.quiet < this.config.recoverAfter)) return undefined;
    f.on = holds;
    f.changedAt = at;
    return holds ? set : clear;
  }

  // Whether the test says the model is worse than the baseline (never without one).
  private worse(w: Window): boolean {
    const base = this.baselineClass(w);
    return base !== undefined && this.z(w, base) > this.zCritical;
  }

  // Whether mean stated confidence exceeds accuracy by more than maxConfidenceGap.
  private overconfidentNow(w: Window): boolean {
    return w.confSum / MICRO / w.size - this.hits(w) / w.size > this.config.maxConfidenceGap;
  }

  private windowOf(model: string): Window {
    let w = this.windows.get(model);
    if (!w) {
      const n = this.config.window;
      w = {
        realised: new Uint8Array(n), hit: new Uint8Array(n), conf: new Int32Array(n), next: 0, size: 0, counts: new Int32Array(6), confSum: 0,
        prior: new Uint8Array(n), priorNext: 0, priorSize: 0, priorCounts: new Int32Array(3), lastAt: -Infinity,
        degraded: newFlag(), overconfident: newFlag(), taken: 0,
      };
      this.windows.set(model, w);
    }
    return w;
  }

  private push(w: Window, cls: number, hit: 0 | 1, conf: number): void {
    w.taken++;
    const i = w.next;
    if (w.size === w.realised.length) {
      w.counts[w.realised[i]! * 2 + w.hit[i]!]!--;
      w.confSum -= w.conf[i]!;
      this.pushPrior(w, w.realised[i]!);
    } else w.size++;
    w.realised[i] = cls;
    w.hit[i] = hit;
    w.conf[i] = conf;
    w.counts[cls * 2 + hit]!++;
    w.confSum += conf;
    w.next = (i + 1) % w.realised.length;
  }

  // An outcome that left the window joins the baseline's sample, pushing out the oldest there.
  private pushPrior(w: Window, cls: number): void {
    const i = w.priorNext;
    if (w.priorSize === w.prior.length) w.priorCounts[w.prior[i]!]!--;
    else w.priorSize++;
    w.prior[i] = cls;
    w.priorCounts[cls]!++;
    w.priorNext = (i + 1) % w.prior.length;
  }

  private hits(w: Window): number {
    return w.counts[1]! + w.counts[3]! + w.counts[5]!;
  }

  // The most frequent realised class before the window; undefined while fewer than minJudged outcomes precede it.
  private baselineClass(w: Window): number | undefined {
    if (w.priorSize < this.config.minJudged) return undefined;
    let best = 0;
    for (let k = 1; k < 3; k++) if (w.priorCounts[k]! > w.priorCounts[best]!) best = k;
    return best;
  }

  // McNemar's z (see the header) against always `base`; -Infinity with no discordant pair.
  private z(w: Window, base: number): number {
    const b = w.counts[base * 2]!;
    const c = this.hits(w) - w.counts[base * 2 + 1]!;
    return b + c === 0 ? -Infinity : (b - c - 1) / Math.sqrt(b + c);
  }
}

// Whether `s` is a SavedHealth of a window of `n` (digits in range, lengths that fit, numbers where numbers belong).
function savedHealthValid(s: SavedHealth, n: number): boolean {
  const count = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0;
  const time = (x: unknown): boolean => x === null || Number.isFinite(x);
  return typeof s === 'object' && s !== null && s.window === n && typeof s.outcomes === 'string' && /^(?:[012][01])*$/.test(s.outcomes)
    && Array.isArray(s.conf) && s.conf.length === s.outcomes.length / 2 && s.conf.length <= n && s.conf.every((c) => Number.isInteger(c) && c >= 0 && c <= MICRO)
    && typeof s.prior === 'string' && /^[012]*$/.test(s.prior) && s.prior.length <= n
    && typeof s.degraded === 'boolean' && typeof s.overconfident === 'boolean' && count(s.calm) && count(s.calibrated)
    && time(s.lastAt) && time(s.stateAt) && time(s.confAt);
}

/** Returns Φ(x), the standard normal CDF (Abramowitz–Stegun 7.1.26 erf, error below 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Returns the x with Φ(x) = p (bisection on normalCdf; run once per monitor). */
export function normalQuantile(p: number): number {
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A tracked prediction: when its outcome is due, and the confidence it stated. */
export interface Tracked { readonly due: number; readonly confidence: number }

/**
 * The confidence of each tracked prediction, until the evaluator judges it. The evaluator's sink hears only model,
 * predicted and realised; this follows its rules (./outcomes.ts) to pair each judged outcome with its confidence:
 * per model and symbol, predictions are judged in the order they were tracked, at the first price at or after their
 * due time, and dropped when that price is more than maxLateMs late or their symbol's data is reset. A prediction the
 * evaluator drops beyond its maxPending is not seen here and may pair one outcome with its neighbour's confidence.
 */
export class PendingConfidence {
  private readonly queues = new Map<string, Tracked[]>();

  constructor(private readonly maxLateMs: number, private readonly maxPending = 10_000) {}

  /** A prediction of `model` on `symbol`, due at `due`, was tracked by the evaluator. */
  track(model: string, symbol: string, due: number, confidence: number): void {
    const key = keyOf(model, symbol);
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = []));
    if (q.length >= this.maxPending) q.shift();
    q.push({ due, confidence });
  }

  /** Returns the prediction of `model` judged by the price of `symbol` at `ts`; undefined when none is known. */
  take(model: string, symbol: string, ts: number): Tracked | undefined {
    const q = this.queues.get(keyOf(model, symbol));
    while (q && q.length > 0 && q[0]!.due <= ts) {
      const t = q.shift()!;
      if (ts - t.due <= this.maxLateMs) return t;
    }
    return undefined;
  }

  /** The data of `symbol` was reset: the evaluator dropped its pending predictions. */
  resetSymbol(symbol: string): void {
    for (const key of this.queues.keys()) if (key.endsWith(`\u0000${symbol}`)) this.queues.delete(key);
  }

  /** `model`'s version changed: the evaluator dropped its pending predictions. */
  dropModel(model: string): void {
    for (const key of this.queues.keys()) if (key.startsWith(`${model}\u0000`)) this.queues.delete(key);
  }
}

const keyOf = (model: string, symbol: string): string => `${model}\u0000${symbol}`;
