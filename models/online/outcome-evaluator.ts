// PredictionOutcomeEvaluator: labels stored predictions with what the market then did, by the same triple-barrier
// rule the CNN was trained on (models/labels/triple-barrier.ts), once the label is final by the injected clock.
//
// Consistency with training. A prediction made at ts decides at bar t0 = the last bar that had closed by ts
// (open time floor(ts / barMs)·barMs − barMs); `cobalt train cnn` decides at the window's last bar the same way.
// σ comes from the `volWindow` returns ending at t0; barriers close_t0·(1 ± mult·σ); bars t0+1..t0+horizon decide.
// Configure volWindow / horizon / ptMult / slMult with the values of the training run (train-report.json, labels.options).
// The label is computed only once bar t0+horizon has closed (now ≥ open(t0) + (horizon + 1)·barMs), from bars that
// had all closed by then; bars are never requested past now, and a source bar still forming is ignored.
// Breaks: a prediction whose bars (the σ window, the decision bar and the horizon) reach into a break of its symbol's
// data (md.feedReset: a reconnect, a replay lap, a hole in a recording, until the symbol's data resumes) is dropped and
// counted (`acrossReset`), never labelled. The series looks whole over a break, its holes filled from the venue's or
// the archive's klines, but in a replay those are not the bars around the recorded ones (a looped replay's next lap
// follows real klines of a later day: a jump in price), and σ or the outcome would be computed across the jump.
import type { Action, ModelOutput } from '../../engine/messages/signals.ts';
import type { Clock } from '../../engine/runtime/clock.ts';
import type { InferenceRecord, TimeRange } from '../../engine/store/inference-history.ts';
import type { OutputQuery } from '../../engine/store/model-output-store.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { BUY, HOLD, SELL, tripleBarrierLabels, type LabelClass } from '../labels/triple-barrier.ts';

/** A stored prediction: the output and, when the store kept it, the model input it was made from. */
export interface StoredPrediction {
  readonly output: ModelOutput;
  readonly input?: Float32Array;
}

/** Where predictions are read from; `range.from` inclusive, `range.to` exclusive, oldest first. */
export interface PredictionSource {
  predictions(model: string, symbol: string, range: { from: TsMs; to: TsMs }): StoredPrediction[];
}

/** One OHLC bar by open time. */
export interface OhlcBar {
  readonly openTime: TsMs;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
}

/** Where prices are read from: bars of `symbol` with open time in [fromOpen, toOpen], ascending. */
export interface BarSource {
  bars(symbol: string, fromOpen: TsMs, toOpen: TsMs): readonly OhlcBar[];
}

/** Where realised outcomes go (the orchestrator's gating AccuracyTracker implements it). */
export interface OutcomeSink {
  recordOutcome(model: string, predicted: Action, realised: Action): void;
}

/** Returns a source over the InferenceHistoryStore (outputs and stored inputs). */
export function inferenceHistorySource(store: { query(model: string, symbol: string, range?: TimeRange): InferenceRecord[] }): PredictionSource {
  return { predictions: (model, symbol, range) => store.query(model, symbol, range).map((r) => ({ output: r.output, input: r.input.features })) };
}

/** Returns a source over the in-memory ModelOutputStore (outputs only: its pairs cannot train). */
export function modelOutputSource(store: { query(q: OutputQuery): ModelOutput[] }): PredictionSource {
  return { predictions: (model, symbol, range) => store.query({ model, symbol, from: range.from, to: range.to }).map((output) => ({ output })) };
}

/** Labelling rule (same meaning as TripleBarrierOptions) plus the bar length and the rolling accuracy windows. */
export interface OutcomeEvaluatorConfig {
  readonly barMs: number;
  readonly volWindow: number;
  readonly horizon: number;
  readonly ptMult: number;
  readonly slMult: number;
  /** Rolling accuracy windows, in labelled predictions (e.g. [50, 200]). */
  readonly windows: readonly number[];
  /** Labelled pairs kept for the training pipeline, newest (default 5000). */
  readonly maxPairs?: number;
}

/** One labelled prediction: the (input, outcome) pair the training pipeline learns from. */
export interface LabelledPrediction {
  readonly model: string;
  readonly version: string;
  readonly symbol: string;
  readonly ts: TsMs;
  readonly predicted: Action;
  readonly realised: Action;
  readonly label: LabelClass;
  /** Open times of the decision bar and of the bar that resolved the label. */
  readonly t0Ms: TsMs;
  readonly t1Ms: TsMs;
  readonly input?: Float32Array;
}

/** A model's rolling accuracy. */
export interface RollingAccuracy {
  readonly labelled: number;
  readonly windows: Readonly<Record<number, { readonly n: number; readonly accuracy: number }>>;
}

/** Counters of the evaluator. */
export interface OutcomeEvaluatorStats {
  read: number; labelled: number; missingBars: number; pending: number;
  /** Predictions dropped because their bars reach into a break of the data (see the header). */
  acrossReset: number;
}

/** A break in a symbol's data: from the reset to where the data resumed (Infinity until it has). */
interface DataBreak {
  readonly fromMs: TsMs;
  toMs: TsMs;
}

const ACTION_OF: Record<LabelClass, Action> = { [BUY]: 'BUY', [SELL]: 'SELL', [HOLD]: 'HOLD' };

/** Labels predictions once their horizon has passed, keeps rolling accuracy per model, and feeds an OutcomeSink. */
export class PredictionOutcomeEvaluator {
  readonly config: OutcomeEvaluatorConfig;
  readonly stats: OutcomeEvaluatorStats = { read: 0, labelled: 0, missingBars: 0, pending: 0, acrossReset: 0 };
  private readonly cursors = new Map<string, TsMs>();
  private readonly breaks = new Map<string, DataBreak[]>();
  private pending: StoredPrediction[] = [];
  private readonly hits = new Map<string, { ring: Uint8Array; next: number; size: number; total: number }>();
  private readonly pairs: LabelledPrediction[] = [];

  constructor(private readonly deps: {
    readonly clock: Clock; readonly predictions: PredictionSource; readonly bars: BarSource; readonly sink?: OutcomeSink;
    /** The (model, symbol) series to follow. */
    readonly series: readonly { readonly model: string; readonly symbol: string }[];
  }, config: OutcomeEvaluatorConfig) {
    this.config = config;
    const c = config;
    if (!(Number.isInteger(c.barMs) && c.barMs > 0)) throw new InputValidationError(`outcome barMs must be a positive integer, got ${c.barMs}`);
    if (!(Number.isInteger(c.volWindow) && c.volWindow >= 2)) throw new InputValidationError(`outcome volWindow must be an integer ≥ 2, got ${c.volWindow}`);
    if (!(Number.isInteger(c.horizon) && c.horizon >= 1)) throw new InputValidationError(`outcome horizon must be an integer ≥ 1, got ${c.horizon}`);
    if (!(c.ptMult > 0 && c.slMult > 0)) throw new InputValidationError(`outcome barrier multipliers must be > 0, got ${c.ptMult}, ${c.slMult}`);
    if (c.windows.length === 0 || c.windows.some((w) => !Number.isInteger(w) || w < 1)) throw new InputValidationError(`outcome windows must be positive integers, got [${c.windows.join(', ')}]`);
  }

  /** Returns the open time of the decision bar of a prediction made at `ts`: the last bar closed by ts. */
  decisionBar(ts: TsMs): TsMs {
    return Math.floor(ts / this.config.barMs) * this.config.barMs - this.config.barMs;
  }

  /** Returns when the prediction made at `ts` can be labelled: when bar t0 + horizon has closed. */
  dueAt(ts: TsMs): TsMs {
    return this.decisionBar(ts) + (this.config.horizon + 1) * this.config.barMs;
  }

  /**
   * The data of `symbol` was reset at `ts` (md.feedReset): predictions whose bars reach past `ts` into the break are
   * dropped, until `onData` says where it resumed.
   */
  onReset(symbol: string, ts: TsMs): void {
    if (!Number.isFinite(ts)) throw new InputValidationError(`outcome evaluator: reset of ${symbol} at ${ts}, not a time`);
    const list = this.breaks.get(symbol) ?? [];
    const open = list.at(-1);
    if (open !== undefined && open.toMs === Infinity) return; // still in the break: it began earlier
    list.push({ fromMs: ts, toMs: Infinity });
    this.breaks.set(symbol, list);
  }

  /** Returns true while `symbol`'s data is in a break that has not resumed (its caller then reports `onData`). */
  inBreak(symbol: string): boolean {
    return this.breaks.get(symbol)?.at(-1)?.toMs === Infinity;
  }

  /** Data of `symbol` at `ts` (a trade's time): ends its open break there, if any. */
  onData(symbol: string, ts: TsMs): void {
    const open = this.breaks.get(symbol)?.at(-1);
    if (open !== undefined && open.toMs === Infinity) open.toMs = Math.max(ts, open.fromMs);
  }

  /** Reads new predictions up to now and labels every one whose horizon has passed; returns those labelled. */
  poll(): LabelledPrediction[] {
    const now = this.deps.clock.now();
    for (const { model, symbol } of this.deps.series) {
      const key = `${model}\u0000${symbol}`;
      const from = this.cursors.get(key) ?? -Number.MAX_VALUE;
      // Only predictions made by now; `to` is exclusive, so one made exactly now is read at the next poll.
      const fresh = this.deps.predictions.predictions(model, symbol, { from, to: now });
      for (const p of fresh) this.pending.push(p);
      this.stats.read += fresh.length;
      if (fresh.length > 0) this.cursors.set(key, fresh[fresh.length - 1]!.output.ts + 1);
      else if (!this.cursors.has(key)) this.cursors.set(key, from);
    }
    const done: LabelledPrediction[] = [];
    const keep: StoredPrediction[] = [];
    for (const p of this.pending) {
      if (now < this.dueAt(p.output.ts)) { keep.push(p); continue; }
      const l = this.label(p, now);
      if (l) done.push(l);
    }
    this.pending = keep;
    this.stats.pending = keep.length;
    this.forgetBreaks();
    return done;
  }

  // Drops the breaks that ended before every window still to be labelled starts: those of the pending predictions,
  // and of the ones read later (made at or after their series' cursor).
  private forgetBreaks(): void {
    if (this.breaks.size === 0) return;
    let floor = Infinity;
    for (const p of this.pending) floor = Math.min(floor, this.windowOf(p.output.ts).fromOpen);
    for (const { model, symbol } of this.deps.series) {
      const cursor = this.cursors.get(`${model}\u0000${symbol}`);
      floor = Math.min(floor, cursor === undefined || !Number.isFinite(cursor) ? -Infinity : this.windowOf(cursor).fromOpen);
    }
    for (const [symbol, list] of this.breaks) {
      const keep = list.filter((b) => b.toMs >= floor);
      if (keep.length === 0) this.breaks.delete(symbol);
      else if (keep.length < list.length) this.breaks.set(symbol, keep);
    }
  }

  // The open times of the first bar (the σ window's) and the last (the horizon's) of a prediction made at `ts`.
  private windowOf(ts: TsMs): { fromOpen: TsMs; toOpen: TsMs } {
    const { barMs, volWindow, horizon } = this.config;
    const t0 = this.decisionBar(ts);
    return { fromOpen: t0 - volWindow * barMs, toOpen: t0 + horizon * barMs };
  }

  // True when a break of `symbol`'s data overlaps the bars [fromOpen, toOpen + barMs).
  private crossesBreak(symbol: string, fromOpen: TsMs, toOpen: TsMs): boolean {
    const end = toOpen + this.config.barMs;
    return this.breaks.get(symbol)?.some((b) => b.fromMs < end && b.toMs >= fromOpen) ?? false;
  }

  /** Returns the rolling accuracy of `model` over each configured window. */
  accuracy(model: string): RollingAccuracy {
    const h = this.hits.get(model);
    const windows: Record<number, { n: number; accuracy: number }> = {};
    for (const w of this.config.windows) {
      if (!h || h.size === 0) { windows[w] = { n: 0, accuracy: NaN }; continue; }
      const n = Math.min(w, h.size);
      let correct = 0;
      for (let k = 1; k <= n; k++) correct += h.ring[(h.next - k + h.ring.length) % h.ring.length]!;
      windows[w] = { n, accuracy: correct / n };
    }
    return { labelled: h?.total ?? 0, windows };
  }

  /** Returns and forgets the labelled pairs of `model` that carry an input (oldest first). */
  takePairs(model: string): LabelledPrediction[] {
    const out: LabelledPrediction[] = [];
    for (let i = this.pairs.length - 1; i >= 0; i--) {
      if (this.pairs[i]!.model === model) out.push(...this.pairs.splice(i, 1));
    }
    return out.reverse();
  }

  private label(p: StoredPrediction, now: TsMs): LabelledPrediction | undefined {
    const { barMs, volWindow, horizon, ptMult, slMult } = this.config;
    const o = p.output;
    const t0Ms = this.decisionBar(o.ts);
    const { fromOpen, toOpen } = this.windowOf(o.ts);
    if (this.crossesBreak(o.symbol, fromOpen, toOpen)) {
      this.stats.acrossReset++;
      return undefined;
    }
    // dueAt guarantees toOpen + barMs ≤ now: every bar asked for has closed.
    const bars = this.deps.bars.bars(o.symbol, fromOpen, toOpen).filter((b) => b.openTime + barMs <= now);
    const need = volWindow + 1 + horizon;
    const ok = bars.length === need && bars.every((b, i) => b.openTime === fromOpen + i * barMs);
    if (!ok) {
      this.stats.missingBars++;
      return undefined;
    }
    const labels = tripleBarrierLabels({
      open: bars.map((b) => b.open), high: bars.map((b) => b.high), low: bars.map((b) => b.low), close: bars.map((b) => b.close),
    }, { volWindow, horizon, ptMult, slMult });
    // Exactly one labellable bar: index volWindow, the decision bar.
    const label = labels.label[0] as LabelClass;
    const realised = ACTION_OF[label];
    this.deps.sink?.recordOutcome(o.model, o.action, realised);
    this.record(o.model, o.action === realised);
    const out: LabelledPrediction = {
      model: o.model, version: o.version, symbol: o.symbol, ts: o.ts, predicted: o.action, realised, label,
      t0Ms, t1Ms: fromOpen + labels.t1[0]! * barMs, ...(p.input ? { input: p.input } : {}),
    };
    if (p.input) {
      this.pairs.push(out);
      const max = this.config.maxPairs ?? 5000;
      if (this.pairs.length > max) this.pairs.splice(0, this.pairs.length - max);
    }
    this.stats.labelled++;
    return out;
  }

  private record(model: string, hit: boolean): void {
    let h = this.hits.get(model);
    if (!h) this.hits.set(model, (h = { ring: new Uint8Array(Math.max(...this.config.windows)), next: 0, size: 0, total: 0 }));
    h.ring[h.next] = hit ? 1 : 0;
    h.next = (h.next + 1) % h.ring.length;
    h.size = Math.min(h.size + 1, h.ring.length);
    h.total++;
  }
}
