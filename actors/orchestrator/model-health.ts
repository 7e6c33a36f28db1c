// Model health: says when a model stopped working, instead of only letting the gating lower its weight quietly.
//
// Over each model's last `window` judged outcomes (./outcomes.ts, 3-class BUY/SELL/HOLD as the gating judges) its
// accuracy is compared with a naive baseline measured on the SAME outcomes: always predicting the window's most
// frequent realised class (ties go to BUY, then SELL, then HOLD, so the choice is deterministic).
//
// The test: McNemar's, one-sided, normal approximation with Edwards' continuity correction. The model and the
// baseline are judged on the same outcomes, so their hits are paired and correlated (in a window of mostly HOLD both
// are right on the same quiet bars); a two-proportion test would treat them as independent samples and misjudge the
// variance. Outcomes both got right or both got wrong say nothing about which is better; only the discordant pairs
// do: b = baseline right and model wrong, c = model right and baseline wrong. Were both equally good, b would be
// Binomial(b + c, ½); the model is worse at `confidence` when z = (b − c − 1) / √(b + c) exceeds the normal quantile
// of `confidence` (1.645 at 0.95). Every count is kept per (realised class, model hit), six integers, so the baseline
// class, b and c come out in O(1) per outcome from a ring buffer of the window.
//
// States: ok -(test says worse, with at least minJudged outcomes)-> degraded -(test silent for `recoverAfter`
// outcomes in a row)-> ok. A z wandering around the threshold restarts the run each time it crosses back, so a
// model on the boundary changes state at most once per `recoverAfter` outcomes instead of at every outcome.
// Overconfidence is a separate flag with the same hysteresis: mean stated confidence above accuracy by more than
// maxConfidenceGap over the window sets it; a gap back within the limit for `recoverAfter` outcomes in a row clears it.
// Confidences are kept in whole millionths so that their sum stays exact (no float drift across a long run).
import type { Action } from '../../engine/messages/signals.ts';
import type { ModelHealthChange } from '../../engine/messages/orchestrator.ts';
import { ConfigError } from '../../engine/types/errors.ts';

/** Settings of the monitor (config orchestrator.health). */
export interface HealthConfig {
  readonly enabled: boolean;
  /** Judged outcomes per model the figures cover. */
  readonly window: number;
  /** Outcomes needed in the window before the monitor says anything. */
  readonly minJudged: number;
  /** Confidence of the one-sided test that the model is worse than the baseline (0.5 < c < 1). */
  readonly confidence: number;
  /** Mean confidence may exceed accuracy by this much (0..1) before the model is called overconfident. */
  readonly maxConfidenceGap: number;
  /** Outcomes in a row without the condition before a flag clears (default window / 4). */
  readonly recoverAfter?: number;
}

/** Default monitor: 200 outcomes, a say from 100, 95 % one-sided, 0.25 confidence gap, clears after 50 calm outcomes. */
export const DEFAULT_HEALTH: HealthConfig = { enabled: true, window: 200, minJudged: 100, confidence: 0.95, maxConfidenceGap: 0.25 };

/** A model's figures over its window. */
export interface HealthFigures {
  readonly model: string;
  readonly state: 'ok' | 'degraded';
  readonly overconfident: boolean;
  readonly judged: number;
  readonly accuracy: number;
  /** Accuracy of always predicting `baselineAction` on the same outcomes. */
  readonly baseline: number;
  readonly baselineAction: Action;
  readonly meanConfidence: number;
  /** One-sided p-value that the model is not worse than the baseline (1 with no discordant pair). */
  readonly pValue: number;
}

const CLASSES: readonly Action[] = ['BUY', 'SELL', 'HOLD'];
const CLASS_OF: Readonly<Record<Action, number>> = { BUY: 0, SELL: 1, HOLD: 2 };
const MICRO = 1_000_000;
const NO_CHANGE: readonly ModelHealthChange[] = [];

interface Window {
  readonly realised: Uint8Array;
  readonly hit: Uint8Array;
  readonly conf: Int32Array;
  next: number;
  size: number;
  /** counts[class * 2 + hit]. */
  readonly counts: Int32Array;
  confSum: number;
  degraded: boolean;
  overconfident: boolean;
  /** Outcomes in a row the test has not said "worse" (while degraded). */
  calm: number;
  /** Outcomes in a row the confidence gap was within the limit (while overconfident). */
  calibrated: number;
}

/** Returns `c` over the defaults, checked. */
export function healthConfig(c: Partial<HealthConfig> = {}): HealthConfig & { readonly recoverAfter: number } {
  const h = { ...DEFAULT_HEALTH, ...c };
  if (!Number.isInteger(h.window) || h.window < 1) throw new ConfigError(`health window must be a positive integer, got ${h.window}`);
  if (!Number.isInteger(h.minJudged) || h.minJudged < 1 || h.minJudged > h.window) {
    throw new ConfigError(`health minJudged must be an integer in [1, window ${h.window}], got ${h.minJudged}`);
  }
  if (!(h.confidence > 0.5 && h.confidence < 1)) throw new ConfigError(`health confidence must be in (0.5, 1), got ${h.confidence}`);
  if (!(h.maxConfidenceGap >= 0 && h.maxConfidenceGap <= 1)) throw new ConfigError(`health maxConfidenceGap must be in [0, 1], got ${h.maxConfidenceGap}`);
  const recoverAfter = h.recoverAfter ?? Math.max(1, Math.ceil(h.window / 4));
  if (!Number.isInteger(recoverAfter) || recoverAfter < 1) throw new ConfigError(`health recoverAfter must be a positive integer, got ${recoverAfter}`);
  return { ...h, recoverAfter };
}

/** Judges each model's recent accuracy against the naive baseline; see the header. */
export class ModelHealthMonitor {
  readonly config: HealthConfig & { readonly recoverAfter: number };
  private readonly windows = new Map<string, Window>();
  private readonly zCritical: number;

  constructor(config: Partial<HealthConfig> = {}) {
    this.config = healthConfig(config);
    this.zCritical = normalQuantile(this.config.confidence);
  }

  /**
   * Records one judged outcome of `model` with the confidence it stated; returns the changes it caused (usually none:
   * a shared empty array, nothing allocated).
   */
  record(model: string, predicted: Action, realised: Action, confidence: number): readonly ModelHealthChange[] {
    const w = this.windowOf(model);
    // A confidence that is not a number counts as 0: one NaN in the running sum would spoil every later mean.
    const conf = Number.isFinite(confidence) ? Math.round(Math.min(1, Math.max(0, confidence)) * MICRO) : 0;
    this.push(w, CLASS_OF[realised], predicted === realised ? 1 : 0, conf);
    if (w.size < this.config.minJudged) return NO_CHANGE;
    let changes: ModelHealthChange[] | undefined;
    const worse = this.z(w) > this.zCritical;
    if (worse) w.calm = 0;
    else w.calm++;
    if (!w.degraded && worse) (changes ??= []).push('degraded');
    else if (w.degraded && w.calm >= this.config.recoverAfter) (changes ??= []).push('recovered');
    const gap = w.confSum / MICRO / w.size - this.hits(w) / w.size > this.config.maxConfidenceGap;
    if (gap) w.calibrated = 0;
    else w.calibrated++;
    if (!w.overconfident && gap) (changes ??= []).push('overconfident');
    else if (w.overconfident && w.calibrated >= this.config.recoverAfter) (changes ??= []).push('calibrated');
    if (!changes) return NO_CHANGE;
    for (const c of changes) {
      if (c === 'degraded' || c === 'recovered') w.degraded = c === 'degraded';
      else w.overconfident = c === 'overconfident';
    }
    return changes;
  }

  /** Returns the figures of `model` over its window; undefined before its first outcome. */
  figures(model: string): HealthFigures | undefined {
    const w = this.windows.get(model);
    if (!w || w.size === 0) return undefined;
    const base = this.baselineClass(w);
    const z = this.z(w);
    return {
      model, state: w.degraded ? 'degraded' : 'ok', overconfident: w.overconfident, judged: w.size,
      accuracy: this.hits(w) / w.size, baseline: (w.counts[base * 2]! + w.counts[base * 2 + 1]!) / w.size, baselineAction: CLASSES[base]!,
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

  /** Starts the window of `model` over (a new version); returns whether it was flagged (degraded or overconfident). */
  reset(model: string): boolean {
    const w = this.windows.get(model);
    this.windows.delete(model);
    return w !== undefined && (w.degraded || w.overconfident);
  }

  private windowOf(model: string): Window {
    let w = this.windows.get(model);
    if (!w) {
      const n = this.config.window;
      w = { realised: new Uint8Array(n), hit: new Uint8Array(n), conf: new Int32Array(n), next: 0, size: 0, counts: new Int32Array(6), confSum: 0, degraded: false, overconfident: false, calm: 0, calibrated: 0 };
      this.windows.set(model, w);
    }
    return w;
  }

  private push(w: Window, cls: number, hit: 0 | 1, conf: number): void {
    const i = w.next;
    if (w.size === w.realised.length) {
      w.counts[w.realised[i]! * 2 + w.hit[i]!]!--;
      w.confSum -= w.conf[i]!;
    } else w.size++;
    w.realised[i] = cls;
    w.hit[i] = hit;
    w.conf[i] = conf;
    w.counts[cls * 2 + hit]!++;
    w.confSum += conf;
    w.next = (i + 1) % w.realised.length;
  }

  private hits(w: Window): number {
    return w.counts[1]! + w.counts[3]! + w.counts[5]!;
  }

  private baselineClass(w: Window): number {
    let best = 0;
    for (let k = 1; k < 3; k++) if (w.counts[k * 2]! + w.counts[k * 2 + 1]! > w.counts[best * 2]! + w.counts[best * 2 + 1]!) best = k;
    return best;
  }

  // McNemar's z (see the header); -Infinity with no discordant pair.
  private z(w: Window): number {
    const base = this.baselineClass(w);
    const b = w.counts[base * 2]!;
    const c = this.hits(w) - w.counts[base * 2 + 1]!;
    return b + c === 0 ? -Infinity : (b - c - 1) / Math.sqrt(b + c);
  }
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

interface Tracked { readonly due: number; readonly confidence: number }

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

  /** Returns the confidence of the prediction of `model` judged by the price of `symbol` at `ts`; undefined when none is known. */
  take(model: string, symbol: string, ts: number): number | undefined {
    const q = this.queues.get(keyOf(model, symbol));
    while (q && q.length > 0 && q[0]!.due <= ts) {
      const t = q.shift()!;
      if (ts - t.due <= this.maxLateMs) return t.confidence;
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
