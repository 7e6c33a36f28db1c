// Mixture-of-experts gating: each model's weight follows its recent out-of-sample accuracy.
//
//   acc_i  = (correct_i + priorAccuracy · priorCount) / (n_i + priorCount)      over the last `window` outcomes
//   soft_i = exp(acc_i / temperature) / Σ_j exp(acc_j / temperature)
//   w_i    = floor + (1 − k · floor) · soft_i                                    k = models in the blend
//
// The prior (a Beta-like pseudo-count) gives a new model the accuracy of chance until evidence arrives, and keeps a
// handful of lucky outcomes from swinging the weights. The temperature sets how sharply better models dominate:
// at 0.1 a 10-point accuracy lead is worth e ≈ 2.7× the weight. The floor keeps every model in the blend with some
// weight, so one that improves can show it (its outcomes are tracked whatever its weight). When k · floor ≥ 1 the
// weights are uniform. Accuracy is 3-class: a HOLD prediction is right when the realised move was inside the dead band.
import type { Action } from '../../engine/messages/signals.ts';
import { ConfigError } from '../../engine/types/errors.ts';

/** Gating parameters (see the header for the formula). */
export interface GatingConfig {
  /** Evaluated predictions kept per model. */
  readonly window: number;
  readonly temperature: number;
  /** Least weight of a model in the blend. */
  readonly floor: number;
  /** Accuracy assumed before any outcome (1/3: chance for BUY/SELL/HOLD). */
  readonly priorAccuracy: number;
  /** Weight of the prior, in outcomes. */
  readonly priorCount: number;
}

/** Default gating: last 100 outcomes, temperature 0.1, floor 0.05, prior 1/3 worth 10 outcomes. */
export const DEFAULT_GATING: GatingConfig = { window: 100, temperature: 0.1, floor: 0.05, priorAccuracy: 1 / 3, priorCount: 10 };

/** Returns `c` over the defaults, checked. */
export function gatingConfig(c: Partial<GatingConfig> = {}): GatingConfig {
  const g = { ...DEFAULT_GATING, ...c };
  if (!Number.isInteger(g.window) || g.window < 1) throw new ConfigError(`gating window must be a positive integer, got ${g.window}`);
  if (!(g.temperature > 0)) throw new ConfigError(`gating temperature must be > 0, got ${g.temperature}`);
  if (!(g.floor >= 0 && g.floor < 1)) throw new ConfigError(`gating floor must be in [0, 1), got ${g.floor}`);
  if (!(g.priorAccuracy >= 0 && g.priorAccuracy <= 1)) throw new ConfigError(`gating priorAccuracy must be in [0, 1], got ${g.priorAccuracy}`);
  if (!(g.priorCount >= 0)) throw new ConfigError(`gating priorCount must be >= 0, got ${g.priorCount}`);
  return g;
}

/** Where realised outcomes of predictions go. */
export interface OutcomeSink {
  /** One prediction of `model` was evaluated: it said `predicted`, the market did `realised`. */
  recordOutcome(model: string, predicted: Action, realised: Action): void;
}

/** A model's recent accuracy. */
export interface AccuracyStat {
  readonly evaluated: number;
  readonly correct: number;
  /** Accuracy with the prior mixed in (what the gating uses). */
  readonly smoothed: number;
}

/** True when `s` is a record of outcomes as `AccuracyTracker.outcomes` writes it: '1' right, '0' wrong. */
export const isOutcomes = (s: unknown): s is string => typeof s === 'string' && /^[01]*$/.test(s);

/** Keeps the last `window` right/wrong outcomes per model, and counts every outcome it judged. */
export class AccuracyTracker implements OutcomeSink {
  private readonly rings = new Map<string, { hits: Uint8Array; next: number; size: number; correct: number }>();
  private readonly totals = new Map<string, { evaluated: number; correct: number }>();

  constructor(readonly config: GatingConfig = DEFAULT_GATING) {}

  recordOutcome(model: string, predicted: Action, realised: Action): void {
    const hit = predicted === realised ? 1 : 0;
    this.push(model, hit);
    let t = this.totals.get(model);
    if (!t) this.totals.set(model, (t = { evaluated: 0, correct: 0 }));
    t.evaluated++;
    t.correct += hit;
  }

  /**
   * Returns every outcome of `model` judged by this tracker since it was built or the model's last `reset`, beyond the
   * window (a backtest's whole-run accuracy). Outcomes taken back with `restore` were judged by another; not counted.
   */
  judged(model: string): { readonly evaluated: number; readonly correct: number } {
    const t = this.totals.get(model);
    return { evaluated: t?.evaluated ?? 0, correct: t?.correct ?? 0 };
  }

  private push(model: string, hit: 0 | 1): void {
    let r = this.rings.get(model);
    if (!r) this.rings.set(model, (r = { hits: new Uint8Array(this.config.window), next: 0, size: 0, correct: 0 }));
    if (r.size === r.hits.length) r.correct -= r.hits[r.next]!;
    else r.size++;
    r.hits[r.next] = hit;
    r.correct += hit;
    r.next = (r.next + 1) % r.hits.length;
  }

  /** Returns the accuracy of `model` over its window. */
  accuracy(model: string): AccuracyStat {
    const r = this.rings.get(model);
    const n = r?.size ?? 0;
    const correct = r?.correct ?? 0;
    const { priorAccuracy, priorCount } = this.config;
    const smoothed = n + priorCount === 0 ? priorAccuracy : (correct + priorAccuracy * priorCount) / (n + priorCount);
    return { evaluated: n, correct, smoothed };
  }

  /** Returns the outcomes of `model` in its window, oldest first, as '1' (right) and '0' (wrong). */
  outcomes(model: string): string {
    const r = this.rings.get(model);
    if (!r) return '';
    let s = '';
    for (let i = 0, at = (r.next - r.size + r.hits.length) % r.hits.length; i < r.size; i++, at = (at + 1) % r.hits.length) s += r.hits[at] === 1 ? '1' : '0';
    return s;
  }

  /** Returns the models with outcomes. */
  models(): string[] {
    return [...this.rings.keys()];
  }

  /** Replaces the record of `model` with `outcomes` (as `outcomes()` gives them; the newest `window` are kept). */
  restore(model: string, outcomes: string): void {
    if (!isOutcomes(outcomes)) throw new RangeError(`outcomes of ${model} must be a string of 0 and 1, got ${JSON.stringify(String(outcomes).slice(0, 20))}`);
    this.rings.delete(model);
    for (const c of outcomes.slice(-this.config.window)) this.push(model, c === '1' ? 1 : 0);
  }

  /** Forgets the outcomes of `model` (a new version starts from the prior). */
  reset(model: string): void {
    this.rings.delete(model);
    this.totals.delete(model);
  }
}

/** Returns gating weights (summing to 1) for `models` from their smoothed accuracies; see the header. */
export function gatingWeights(models: readonly string[], accuracyOf: (model: string) => number, config: GatingConfig = DEFAULT_GATING): Record<string, number> {
  const k = models.length;
  if (k === 0) return {};
  if (k * config.floor >= 1) return Object.fromEntries(models.map((m) => [m, 1 / k]));
  const z = models.map((m) => accuracyOf(m) / config.temperature);
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return Object.fromEntries(models.map((m, i) => [m, config.floor + (1 - k * config.floor) * (e[i]! / sum)]));
}
