// A small horizon-based outcome evaluator: a prediction is judged against its base, the last price seen when its
// input tick became ready (taken before the models ran: `base()`), by the first price seen at or after the base's
// time + horizonMs. Both are trigger-timeframe closes, timed at the close, so the horizon counts from the base's
// close, not from when the tick became ready. A move beyond +deadBandBps realises BUY, beyond −deadBandBps SELL,
// anything inside HOLD. Pure state; the orchestrator feeds it prices and predictions.
// (The full PredictionOutcomeEvaluator, labelling with triple barriers, is another engineer's; it can feed the
// same OutcomeSink.)
import type { Action, ModelOutput } from '../../engine/messages/signals.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import type { TsMs } from '../../engine/types/time.ts';
import type { OutcomeSink } from './gating.ts';

/** Horizon and dead band of the evaluation. */
export interface HorizonConfig {
  readonly horizonMs: number;
  /** Moves within ±deadBandBps (1 bps = 0.01%) count as HOLD. */
  readonly deadBandBps: number;
  /** Predictions waiting for their horizon, at most (the oldest are dropped beyond). */
  readonly maxPending: number;
}

/** Default evaluation: 60 s horizon, ±5 bps dead band, 10,000 pending. */
export const DEFAULT_HORIZON: HorizonConfig = { horizonMs: 60_000, deadBandBps: 5, maxPending: 10_000 };

/** Returns the realised action of a move from `p0` to `p1` with a dead band in bps. */
export function realisedAction(p0: number, p1: number, deadBandBps: number): Action {
  const bps = (p1 / p0 - 1) * 10_000;
  return bps > deadBandBps ? 'BUY' : bps < -deadBandBps ? 'SELL' : 'HOLD';
}

/** A price and its time (for a candle, its close time). */
export interface PricePoint { readonly price: number; readonly ts: TsMs }

interface Pending { readonly model: string; readonly symbol: string; readonly predicted: Action; readonly due: TsMs; readonly p0: number }

/** Counters of the evaluator. */
export interface HorizonStats { tracked: number; evaluated: number; noPrice: number; dropped: number }

/** Judges predictions after a fixed horizon and reports each to an OutcomeSink. */
export class HorizonOutcomeEvaluator {
  readonly config: HorizonConfig;
  readonly stats: HorizonStats = { tracked: 0, evaluated: 0, noPrice: 0, dropped: 0 };
  private pending: Pending[] = [];
  private readonly last = new Map<string, PricePoint>();

  constructor(private readonly sink: OutcomeSink, config: Partial<HorizonConfig> = {}) {
    this.config = { ...DEFAULT_HORIZON, ...config };
    const c = this.config;
    if (!(c.horizonMs > 0)) throw new ConfigError(`outcome horizonMs must be > 0, got ${c.horizonMs}`);
    if (!(c.deadBandBps >= 0)) throw new ConfigError(`outcome deadBandBps must be >= 0, got ${c.deadBandBps}`);
    if (!Number.isInteger(c.maxPending) || c.maxPending < 1) throw new ConfigError(`outcome maxPending must be a positive integer, got ${c.maxPending}`);
  }

  /** Returns the last price of `symbol` (the base a prediction made now is judged against); undefined before any. */
  base(symbol: string): PricePoint | undefined {
    return this.last.get(symbol);
  }

  /**
   * Starts tracking a prediction against `base` (default: the last price now), due `horizonMs` after the base's time;
   * false when no price of its symbol is known (counted as noPrice).
   */
  track(o: ModelOutput, base: PricePoint | undefined = this.last.get(o.symbol)): boolean {
    const p = base;
    if (!p || !(p.price > 0)) {
      this.stats.noPrice++;
      return false;
    }
    if (this.pending.length >= this.config.maxPending) {
      this.pending.shift();
      this.stats.dropped++;
    }
    this.pending.push({ model: o.model, symbol: o.symbol, predicted: o.action, due: p.ts + this.config.horizonMs, p0: p.price });
    this.stats.tracked++;
    return true;
  }

  /** Records a price; judges every pending prediction of `symbol` whose horizon has passed. Returns how many. */
  onPrice(symbol: string, price: number, ts: TsMs): number {
    if (!Number.isFinite(price) || price <= 0) return 0;
    const prev = this.last.get(symbol);
    if (!prev || ts >= prev.ts) this.last.set(symbol, { price, ts });
    let n = 0;
    const keep: Pending[] = [];
    for (const q of this.pending) {
      if (q.symbol === symbol && ts >= q.due) {
        this.sink.recordOutcome(q.model, q.predicted, realisedAction(q.p0, price, this.config.deadBandBps));
        n++;
      } else keep.push(q);
    }
    if (n > 0) {
      this.pending = keep;
      this.stats.evaluated += n;
    }
    return n;
  }

  /** Forgets the pending predictions of `model` (its version changed). */
  drop(model: string): void {
    this.pending = this.pending.filter((q) => q.model !== model);
  }

  /** Returns how many predictions wait for their horizon. */
  get waiting(): number {
    return this.pending.length;
  }
}
