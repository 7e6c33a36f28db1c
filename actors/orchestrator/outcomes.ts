// A small horizon-based outcome evaluator: a prediction is judged against its base, the last price seen when its
// input tick became ready (taken before the models ran: `base()`), by the first price seen at or after the base's
// time + horizonMs. Both are trigger-timeframe closes, timed at the close, so the horizon counts from the base's
// close, not from when the tick became ready. A move beyond +deadBandBps realises BUY, beyond −deadBandBps SELL,
// anything inside HOLD. Pure state; the orchestrator feeds it prices, feed resets and predictions.
// A prediction is judged only on data continuous with its base: a reset of its symbol's data (a reconnect, a replay
// lap, a trade hole: md.feedReset) before it is judged drops it, and so does a first price after its due time that
// comes more than `maxLateMs` after it (the data had a hole there: the price on the far side of it, after a replay
// lap the recording's opening price, says nothing of the predicted move). Both are counted, never judged.
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
  /**
   * A prediction whose first price at or after its due time is timed more than this after it is dropped, not
   * judged. The orchestrator sets one bar of its trigger timeframe: a 1s close is due exactly on time (empty seconds
   * close as flat bars), so one missing bar is tolerated and a longer hole is not.
   */
  readonly maxLateMs: number;
}

/** Default evaluation: 60 s horizon, ±5 bps dead band, 10,000 pending, judged at most 1 s (one 1s bar) late. */
export const DEFAULT_HORIZON: HorizonConfig = { horizonMs: 60_000, deadBandBps: 5, maxPending: 10_000, maxLateMs: 1_000 };

/** Returns the realised action of a move from `p0` to `p1` with a dead band in bps. */
export function realisedAction(p0: number, p1: number, deadBandBps: number): Action {
  const bps = (p1 / p0 - 1) * 10_000;
  return bps > deadBandBps ? 'BUY' : bps < -deadBandBps ? 'SELL' : 'HOLD';
}

/** A price and its time (for a candle, its close time). */
export interface PricePoint { readonly price: number; readonly ts: TsMs }

/** The base of a prediction: a price point and the stream of its symbol's data it belongs to (resets so far). */
export interface OutcomeBase extends PricePoint { readonly stream: number }

interface Pending { readonly model: string; readonly symbol: string; readonly predicted: Action; readonly due: TsMs; readonly p0: number }

/**
 * Counters of the evaluator. `dropped`: the oldest pending beyond maxPending. `acrossReset`: predictions dropped
 * because their symbol's data was reset before they were judged (pending ones, and ones tracked against a base
 * from before the reset). `late`: predictions dropped because their first price came more than maxLateMs after due.
 */
export interface HorizonStats { tracked: number; evaluated: number; noPrice: number; dropped: number; acrossReset: number; late: number }

/** Judges predictions after a fixed horizon and reports each to an OutcomeSink. */
export class HorizonOutcomeEvaluator {
  readonly config: HorizonConfig;
  readonly stats: HorizonStats = { tracked: 0, evaluated: 0, noPrice: 0, dropped: 0, acrossReset: 0, late: 0 };
  private pending: Pending[] = [];
  private readonly last = new Map<string, OutcomeBase>();
  /** Resets of each symbol's data so far. */
  private readonly streams = new Map<string, number>();

  constructor(private readonly sink: OutcomeSink, config: Partial<HorizonConfig> = {}) {
    this.config = { ...DEFAULT_HORIZON, ...config };
    const c = this.config;
    if (!(c.horizonMs > 0)) throw new ConfigError(`outcome horizonMs must be > 0, got ${c.horizonMs}`);
    if (!(c.deadBandBps >= 0)) throw new ConfigError(`outcome deadBandBps must be >= 0, got ${c.deadBandBps}`);
    if (!Number.isInteger(c.maxPending) || c.maxPending < 1) throw new ConfigError(`outcome maxPending must be a positive integer, got ${c.maxPending}`);
    if (!(c.maxLateMs >= 0)) throw new ConfigError(`outcome maxLateMs must be >= 0, got ${c.maxLateMs}`);
  }

  /**
   * Returns the last price of `symbol` (the base a prediction made now is judged against); undefined before any and
   * after a reset of its data until the next price.
   */
  base(symbol: string): OutcomeBase | undefined {
    return this.last.get(symbol);
  }

  /**
   * Starts tracking a prediction against `base` (default: the last price now), due `horizonMs` after the base's time;
   * false when no price of its symbol is known (counted as noPrice) or when its symbol's data was reset since the
   * base (counted as acrossReset).
   */
  track(o: ModelOutput, base: OutcomeBase | undefined = this.last.get(o.symbol)): boolean {
    const p = base;
    if (!p || !(p.price > 0)) {
      this.stats.noPrice++;
      return false;
    }
    if (p.stream !== (this.streams.get(o.symbol) ?? 0)) {
      this.stats.acrossReset++;
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

  /**
   * Records a price; judges every pending prediction of `symbol` whose horizon has passed, or drops it (counted as
   * late) when this first price after its due time comes more than maxLateMs after it. Returns how many were judged.
   */
  onPrice(symbol: string, price: number, ts: TsMs): number {
    if (!Number.isFinite(price) || price <= 0) return 0;
    const prev = this.last.get(symbol);
    if (!prev || ts >= prev.ts) this.last.set(symbol, { price, ts, stream: this.streams.get(symbol) ?? 0 });
    let n = 0;
    let late = 0;
    const keep: Pending[] = [];
    for (const q of this.pending) {
      if (q.symbol !== symbol || ts < q.due) keep.push(q);
      else if (ts - q.due > this.config.maxLateMs) late++;
      else {
        this.sink.recordOutcome(q.model, q.predicted, realisedAction(q.p0, price, this.config.deadBandBps));
        n++;
      }
    }
    if (n + late > 0) {
      this.pending = keep;
      this.stats.evaluated += n;
      this.stats.late += late;
    }
    return n;
  }

  /**
   * The data of `symbol` was reset (md.feedReset: a reconnect, a replay lap, a trade hole): drops its pending
   * predictions (counted as acrossReset) and its last price, so that nothing is judged across the break and no
   * prediction made from here takes a base from before it. Returns how many were dropped.
   */
  onReset(symbol: string): number {
    this.streams.set(symbol, (this.streams.get(symbol) ?? 0) + 1);
    this.last.delete(symbol);
    const keep = this.pending.filter((q) => q.symbol !== symbol);
    const n = this.pending.length - keep.length;
    this.pending = keep;
    this.stats.acrossReset += n;
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
