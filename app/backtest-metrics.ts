// Backtest figures from the fills and marks of one run, computed exactly (Money) with the RiskManager's own position
// arithmetic, then turned into floats for the summary. Definitions:
//   pnl          final equity (cash + holdings at the last mark) − starting cash, fees included
//   fees         every fee in the quote currency (a fee paid in the base asset valued at its fill price)
//   trades       fills; roundTrips: flat -> position -> flat; hitRate: share of round trips that made money after
//                fees (cash + base held, valued at the fill price, higher after the closing fill than before the
//                opening one)
//   samples      equity at the window's start (the starting cash), at each whole second after it and at the end
//   sharpe       mean / sample standard deviation (n − 1) of the returns between samples (the first from the
//                start), annualised by √(seconds per year)
//   maxDrawdown  largest fall from a running equity peak, as a fraction of that peak; the peak starts at the
//                starting cash, so a loss before the first whole second counts
//   exposure     share of the samples after the start one holding a position
// Per model in the blend (ModelFigures, ModelAgreement): its answers (ModelOutputs) by action; of those, the ones the
// orchestrator judged after its horizon and the ones judged right (its own outcome rule, actors/orchestrator/outcomes.ts,
// counted by its AccuracyTracker); its gating weight at the end; its failed runs; and how often two models' actions
// agreed over the ticks both answered. Over time (ModelTimeline): those same judged counts and the gating weight, read
// from the orchestrator at a regular step of recorded time, with each model's accuracy over a rolling window of steps.
// "Holding a position" means base that one valid order could sell: whole sellable lots worth at least the min
// notional. A buy whose fee was paid in the base asset leaves less base than it bought, so each round trip ends with
// a remainder below that (and Position.lots, which counts traded lots, keeps a lot the account no longer holds). That
// remainder is flat here, as it is to the policy (closableLots); counting by lots made exposure and the round trips
// drift with every trip.
import { applyFill, emptyPortfolio, equity, sellableLots, valueOfBase9, type Portfolio, type Position } from '../actors/risk-manager/positions.ts';
import type { Fill } from '../engine/messages/orders.ts';
import { ACTIONS, type Action, type ModelOutput } from '../engine/messages/signals.ts';
import { notional, type Instrument } from '../engine/types/instrument.ts';
import { moneyToFloat, type Money } from '../engine/types/money.ts';
import type { Ticks } from '../engine/types/price.ts';
import type { TsMs } from '../engine/types/time.ts';

/** One equity sample. */
export interface EquityPoint {
  readonly t: TsMs;
  readonly equity: number;
  readonly drawdown: number;
  /** Position.lots: traded lots, which can include a remainder no longer held (see the header). */
  readonly lots: number;
  /** Holding a position, as the header defines it. */
  readonly held: boolean;
}

const SECONDS_PER_YEAR = 365 * 86_400;

/** Follows fills and marks of one instrument and samples equity once per simulated second. */
export class EquityTracker {
  readonly points: EquityPoint[] = [];
  readonly fills: Fill[] = [];
  private pf: Portfolio;
  private mark: Ticks | undefined;
  private next = NaN;
  /** The running equity peak; the starting cash is the first (a loss before the first sample is a drawdown). */
  private peak: number;
  private fees = 0n;
  private roundTrips = 0;
  private wins = 0;
  /** Cash + base held at the opening fill's price, just before a round trip's opening fill. */
  private tripStartValue = 0n;

  constructor(readonly inst: Instrument, readonly cash: Money, private readonly sampleMs = 1_000) {
    this.pf = emptyPortfolio(inst.quote, cash);
    this.peak = moneyToFloat(cash);
  }

  /**
   * Takes a fill. The periods that ended at or before its time are sampled first: its event can come after the clock
   * has moved on (the executor publishes it once its commit is done), and those samples are the account before it.
   */
  onFill(f: Fill): void {
    if (f.symbol !== this.inst.symbol) return;
    this.tick(f.ts);
    const before = this.pf.positions[f.symbol];
    const wasHeld = this.held(before, f.price);
    if (f.side === 'buy' && !wasHeld) this.tripStartValue = this.valueAt(f.price);
    this.fills.push(f);
    this.pf = applyFill(this.pf, this.inst, f);
    this.fees += f.feeAsset === this.inst.quote ? f.fee : valueOfBase9(this.inst, f.fee, f.price);
    if (wasHeld && f.side === 'sell' && !this.held(this.pf.positions[f.symbol], f.price)) {
      this.roundTrips++;
      if (this.valueAt(f.price) > this.tripStartValue) this.wins++;
    }
  }

  /** Takes the last trade price. */
  onMark(price: Ticks): void {
    this.mark = price;
  }

  /** Samples equity at each whole period passed by `now`; the first call is the window's start and is sampled too. */
  tick(now: TsMs): void {
    if (Number.isNaN(this.next)) {
      // The starting equity (no fill applied yet: onFill ticks first), so that the figures and charts start from it.
      this.sample(now);
      this.next = Math.floor(now / this.sampleMs) * this.sampleMs + this.sampleMs;
    }
    while (now >= this.next) {
      this.sample(this.next);
      this.next += this.sampleMs;
    }
  }

  /** Samples the periods passed by `now`, then `now` itself unless it was just sampled: the end of a run. */
  finish(now: TsMs): void {
    this.tick(now);
    const last = this.points[this.points.length - 1];
    if (!last || now > last.t) this.sample(now);
  }

  /** Returns equity now as Money. */
  equityNow(): Money {
    return equity(this.pf, { [this.inst.symbol]: this.inst }, this.mark === undefined ? {} : { [this.inst.symbol]: this.mark });
  }

  /** Returns the summary figures. */
  summary(): { pnl: number; fees: number; trades: number; roundTrips: number; hitRate: number; sharpe: number; maxDrawdown: number; exposure: number; finalEquity: number; pnlExact: string } {
    const eq = this.equityNow();
    const rets: number[] = [];
    for (let i = 1; i < this.points.length; i++) {
      const a = this.points[i - 1]!.equity;
      if (a > 0) rets.push(this.points[i]!.equity / a - 1);
    }
    const mean = rets.length ? rets.reduce((s, r) => s + r, 0) / rets.length : 0;
    const sd = rets.length > 1 ? Math.sqrt(rets.reduce((s, r) => s + (r - mean) ** 2, 0) / (rets.length - 1)) : 0;
    const perYear = SECONDS_PER_YEAR / (this.sampleMs / 1_000);
    const pnl = (eq - this.cash) as Money;
    return {
      pnl: round(moneyToFloat(pnl), 9),
      pnlExact: formatSigned(pnl),
      fees: round(moneyToFloat(this.fees as Money), 9),
      trades: this.fills.length,
      roundTrips: this.roundTrips,
      hitRate: this.roundTrips ? round(this.wins / this.roundTrips, 6) : 0,
      sharpe: sd > 0 ? round((mean / sd) * Math.sqrt(perYear), 6) : 0,
      maxDrawdown: round(this.points.reduce((m, p) => Math.max(m, p.drawdown), 0), 9),
      exposure: this.exposure(),
      finalEquity: round(moneyToFloat(eq), 9),
    };
  }

  // The start sample ends no period (and holds nothing by construction): only the samples after it count.
  private exposure(): number {
    const periods = this.points.length - 1;
    if (periods <= 0) return 0;
    let held = 0;
    for (let i = 1; i < this.points.length; i++) if (this.points[i]!.held) held++;
    return round(held / periods, 6);
  }

  private sample(t: TsMs): void {
    const e = moneyToFloat(this.equityNow());
    if (e > this.peak) this.peak = e;
    const p = this.pf.positions[this.inst.symbol];
    this.points.push({ t, equity: e, drawdown: this.peak > 0 ? (this.peak - e) / this.peak : 0, lots: p?.lots ?? 0, held: this.held(p, this.mark) });
  }

  // See the header: base one valid order could sell, at `price` (without a price yet, any whole sellable lot).
  private held(p: Position | undefined, price: Ticks | undefined): boolean {
    if (!p) return false;
    const lots = sellableLots(this.inst, p);
    if (lots <= 0) return false;
    return price === undefined || notional(this.inst, price, lots) >= this.inst.minNotional;
  }

  // Cash plus the base held, valued at `price`.
  private valueAt(price: Ticks): bigint {
    return this.pf.cash + valueOfBase9(this.inst, this.pf.positions[this.inst.symbol]?.base9 ?? 0n, price);
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function formatSigned(m: Money): string {
  const neg = m < 0n;
  const a = neg ? -m : m;
  const s = `${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, '0')}`;
  return neg ? `-${s}` : s;
}

/**
 * Follows one symbol's book through md.bookStatus (one per venue) from the first line: down until a venue's book is
 * live, down again while none is (syncing or re-syncing after a gap). A stale book is still in sync: not down.
 */
export class BookDowntime {
  private readonly live = new Map<string, boolean>();
  private downSince: number | undefined;
  private down = 0;
  /** When it last went down (the first line when it was not live yet there), undefined if never. */
  lastDownAt: number | undefined;
  lastDownReason: string | undefined;
  private end: number | undefined;

  constructor(start: number) {
    this.downSince = this.lastDownAt = start;
    this.lastDownReason = 'waiting for the first snapshot';
  }

  /** Takes a venue's book status at `now`. */
  onStatus(venue: string, status: 'syncing' | 'live' | 'resyncing' | 'stale', now: number, reason?: string): void {
    this.live.set(venue, status === 'live' || status === 'stale');
    const up = [...this.live.values()].some(Boolean);
    if (up && this.downSince !== undefined) {
      this.down += now - this.downSince;
      this.downSince = undefined;
    } else if (!up && this.downSince === undefined) {
      this.downSince = this.lastDownAt = now;
      this.lastDownReason = reason ?? status;
    }
  }

  /** Closes the count at `now` (the end of the run). */
  finish(now: number): void {
    this.end = now;
  }

  /** Time down so far (to `finish`'s time once finished). */
  get downMs(): number {
    return this.down + (this.downSince === undefined || this.end === undefined ? 0 : Math.max(0, this.end - this.downSince));
  }

  /** True when it was down at the end. */
  get downAtEnd(): boolean {
    return this.downSince !== undefined;
  }
}

/** What one model in a backtest's blend did. */
export interface ModelFigures {
  /** `name@version`, as in BacktestSummary.models. */
  readonly model: string;
  /** Its answers (ModelOutputs), and how many of them said each action. */
  readonly decisions: number;
  readonly actions: Readonly<Record<Action, number>>;
  /**
   * Answers the orchestrator judged after its horizon (actors/orchestrator/outcomes.ts: one whose horizon ran past the
   * end, or across a reset or hole of the data, is not judged), and those judged right (3-class: HOLD is right inside
   * the dead band).
   */
  readonly judged: number;
  readonly correct: number;
  /** correct / judged (6 decimals); null when none was judged. */
  readonly accuracy: number | null;
  /** Its gating weight at the end (actors/orchestrator/gating.ts); 0 when it was out of the blend (dropped, probing). */
  readonly gatingWeight: number;
  /** The smoothed accuracy over the gating window that weight was computed from (the prior mixed in). */
  readonly gatingAccuracy: number;
  /** Runs that failed (a throw, a malformed output, a deadline), and of those the ones past the deadline. */
  readonly failures: number;
  readonly timeouts: number;
}

/** How often the models' actions agreed, pairwise, over the ticks both answered. */
export interface ModelAgreement {
  /** Rows and columns, in BacktestSummary.models order. */
  readonly models: readonly string[];
  /** both[i][j]: ticks where models i and j both answered (i = j: the ticks model i answered). */
  readonly both: readonly (readonly number[])[];
  /** share[i][j]: of those, the share (6 decimals) where their actions were the same; null when there were none. */
  readonly share: readonly (readonly (number | null)[])[];
}

/** What the orchestrator and the registry hold of one model at the end of a run. */
export interface ModelEnd {
  readonly judged: number;
  readonly correct: number;
  readonly gatingWeight: number;
  readonly gatingAccuracy: number;
  readonly failures: number;
  readonly timeouts: number;
}

/**
 * Follows signal.modelOutput: each model's answers by action, and the pairs of models that answered one tick (its
 * symbol and time) and whether they agreed. One tick's outputs come together (ticks never overlap); a model answering
 * twice at one time (two ticks ready at one instant) starts a new tick.
 */
export class ModelAnswers {
  private readonly counts = new Map<string, Record<Action, number>>();
  /** Pairs keyed `a\u0000b` with a < b. */
  private readonly pairs = new Map<string, { both: number; agreed: number }>();
  private tickKey: string | undefined;
  private tick = new Map<string, Action>();

  /** Takes one output. */
  onOutput(o: ModelOutput): void {
    const id = `${o.model}@${o.version}`;
    const c = this.counts.get(id) ?? { BUY: 0, SELL: 0, HOLD: 0 };
    c[o.action]++;
    this.counts.set(id, c);
    const key = `${o.symbol}\u0000${o.ts}`;
    if (key !== this.tickKey || this.tick.has(id)) this.flush(key);
    this.tick.set(id, o.action);
  }

  /** Returns the answers of `id` (`name@version`) by action. */
  actions(id: string): Record<Action, number> {
    return { BUY: 0, SELL: 0, HOLD: 0, ...this.counts.get(id) };
  }

  /** Returns the models that answered, in first-answer order. */
  models(): string[] {
    return [...this.counts.keys()];
  }

  /** Returns the agreement of `models` (the tick in progress counts). */
  agreement(models: readonly string[]): ModelAgreement {
    this.flush(undefined);
    const both = models.map((a) => models.map((b) => (a === b ? this.total(a) : this.pair(a, b).both)));
    const share = models.map((a, i) => models.map((b, j) => {
      const n = both[i]![j]!;
      return n === 0 ? null : a === b ? 1 : round(this.pair(a, b).agreed / n, 6);
    }));
    return { models, both, share };
  }

  private total(id: string): number {
    const c = this.counts.get(id);
    return c ? c.BUY + c.SELL + c.HOLD : 0;
  }

  private pair(a: string, b: string): { both: number; agreed: number } {
    return this.pairs.get(a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`) ?? { both: 0, agreed: 0 };
  }

  // Counts the tick in progress into the pairs and starts `next`.
  private flush(next: string | undefined): void {
    const ids = [...this.tick.keys()].sort();
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const key = `${ids[i]!}\u0000${ids[j]!}`;
        const p = this.pairs.get(key) ?? { both: 0, agreed: 0 };
        p.both++;
        if (this.tick.get(ids[i]!) === this.tick.get(ids[j]!)) p.agreed++;
        this.pairs.set(key, p);
      }
    }
    this.tick = new Map();
    this.tickKey = next;
  }
}

/** Returns the figures of each model in `models` (`name@version`) from its answers and what `endOf(name)` holds. */
export function modelFigures(models: readonly string[], answers: ModelAnswers, endOf: (name: string) => ModelEnd): ModelFigures[] {
  return models.map((model) => {
    const actions = answers.actions(model);
    const e = endOf(model.split('@')[0]!);
    return {
      model, decisions: ACTIONS.reduce((n, a) => n + actions[a], 0), actions,
      judged: e.judged, correct: e.correct, accuracy: e.judged === 0 ? null : round(e.correct / e.judged, 6),
      gatingWeight: round(e.gatingWeight, 6), gatingAccuracy: round(e.gatingAccuracy, 6), failures: e.failures, timeouts: e.timeouts,
    };
  });
}

/** What the orchestrator holds of one model at one time: outcomes judged so far (whole run) and its gating weight. */
export interface ModelReading {
  readonly judged: number;
  readonly correct: number;
  readonly gatingWeight: number;
}

/**
 * Returns the outcomes judged in `now` since `base` (an earlier reading of the same model). A smaller count than the
 * base means the tracker started over (a new version): what it holds now was all judged since.
 */
export function judgedSince(now: { readonly judged: number; readonly correct: number }, base: { readonly judged: number; readonly correct: number } | undefined): { judged: number; correct: number } {
  if (base === undefined || now.judged < base.judged) return { judged: now.judged, correct: now.correct };
  return { judged: now.judged - base.judged, correct: now.correct - base.correct };
}

/**
 * Each model's judged outcomes and gating weight over a run, at a regular step of recorded time: when a model stopped
 * working. Point i covers (t[i − 1], t[i]] (the first from the run's start; the last point is the end of the run, its
 * step shorter).
 */
export interface ModelTimeline {
  readonly stepMs: number;
  /** `accuracy` is over the last `windowSteps` steps up to each point. */
  readonly windowSteps: number;
  /** Each point's time (ms since the epoch, recorded time), ascending. */
  readonly t: readonly number[];
  readonly models: readonly ModelSeries[];
}

/** One model's series in a ModelTimeline, in ModelFigures order. */
export interface ModelSeries {
  /** `name@version`, as in BacktestSummary.models. */
  readonly model: string;
  /** Outcomes judged in each step (ModelFigures' judging), and the right ones: they add up to its judged and correct. */
  readonly judged: readonly number[];
  readonly correct: readonly number[];
  /** Outcomes judged in the window ending at each point. */
  readonly windowJudged: readonly number[];
  /** Right / judged in that window (6 decimals); null when none was judged in it. */
  readonly accuracy: readonly (number | null)[];
  /** The gating weight at each point; 0 while out of the blend (dropped, probing). */
  readonly gatingWeight: readonly number[];
}

/** Samples start 1 s apart; the step doubles whenever more than this many points were taken (100–200 points a run). */
const TIMELINE_MAX_POINTS = 200;
const TIMELINE_WINDOW_STEPS = 10;

/**
 * Takes each model's cumulative judged outcomes and gating weight at a regular step of recorded time. Memory stays
 * bounded whatever the span: past TIMELINE_MAX_POINTS samples the step doubles and every other sample goes (the
 * readings are cumulative, so the ones kept stay exact). The driver checks `nextAt` per line (one comparison) and
 * samples only when a line passes it.
 */
export class ModelTimelineRecorder {
  private stepMs: number;
  private readonly points: { t: number; at: ReadonlyMap<string, ModelReading> }[] = [];
  /** The next sample's time: the driver samples once its data passes it. */
  nextAt: number;

  /**
   * `base`: the readings at `start` (a backtest window's first line), so that the first step counts only what was
   * judged after it; without it, everything read so far (a run from its first line, where nothing was judged before).
   */
  constructor(private readonly start: number, initialStepMs = 1_000, private readonly maxPoints = TIMELINE_MAX_POINTS, private readonly base: ReadonlyMap<string, ModelReading> = new Map()) {
    if (!(initialStepMs > 0) || !Number.isInteger(initialStepMs)) throw new RangeError(`timeline step must be a positive whole number of ms, got ${initialStepMs}`);
    if (!Number.isInteger(maxPoints) || maxPoints < 2) throw new RangeError(`timeline maxPoints must be an integer >= 2, got ${maxPoints}`);
    this.stepMs = initialStepMs;
    this.nextAt = start + initialStepMs;
  }

  /**
   * Samples every step time before `now` with `read()` (by model name), read once: nothing changed since the data's
   * last line, which was before them.
   */
  sampleBefore(now: number, read: () => ReadonlyMap<string, ModelReading>): void {
    if (now <= this.nextAt) return;
    const at = read();
    while (now > this.nextAt) {
      const t = this.nextAt;
      this.points.push({ t, at });
      if (this.points.length > this.maxPoints) this.coarsen();
      // The next time on the grid of the step in force (a coarsening may have dropped `t` from it).
      this.nextAt = this.start + (Math.floor((t - this.start) / this.stepMs) + 1) * this.stepMs;
    }
  }

  /** Samples the step times before `now`, then `now` itself: the end of the run. */
  finish(now: number, read: () => ReadonlyMap<string, ModelReading>): void {
    this.sampleBefore(now, read);
    const last = this.points[this.points.length - 1];
    if (last === undefined || now > last.t) this.points.push({ t: now, at: read() });
  }

  /** Returns the timeline of `models` (`name@version`; read by name), in that order. */
  timeline(models: readonly string[]): ModelTimeline {
    return { stepMs: this.stepMs, windowSteps: TIMELINE_WINDOW_STEPS, t: this.points.map((p) => p.t), models: models.map((m) => this.series(m)) };
  }

  private series(model: string): ModelSeries {
    const name = model.split('@')[0]!;
    const judged: number[] = [];
    const correct: number[] = [];
    const windowJudged: number[] = [];
    const accuracy: (number | null)[] = [];
    let prev: ModelReading | undefined = this.base.get(name);
    let inWindow = 0;
    let rightInWindow = 0;
    for (const [i, p] of this.points.entries()) {
      const r = p.at.get(name) ?? { judged: 0, correct: 0, gatingWeight: 0 };
      const { judged: j, correct: c } = judgedSince(r, prev);
      judged.push(j);
      correct.push(c);
      inWindow += j;
      rightInWindow += c;
      if (i >= TIMELINE_WINDOW_STEPS) {
        inWindow -= judged[i - TIMELINE_WINDOW_STEPS]!;
        rightInWindow -= correct[i - TIMELINE_WINDOW_STEPS]!;
      }
      windowJudged.push(inWindow);
      accuracy.push(inWindow === 0 ? null : round(rightInWindow / inWindow, 6));
      prev = r;
    }
    return { model, judged, correct, windowJudged, accuracy, gatingWeight: this.points.map((p) => round(p.at.get(name)?.gatingWeight ?? 0, 6)) };
  }

  // Doubles the step: keeps the samples on the new step's grid.
  private coarsen(): void {
    this.stepMs *= 2;
    const kept = this.points.filter((p) => (p.t - this.start) % this.stepMs === 0);
    this.points.length = 0;
    this.points.push(...kept);
  }
}

/** One model's accuracy over each half of a run's recorded time (judged outcomes, as in ModelTimeline). */
export interface HalvesAccuracy {
  readonly first: { readonly judged: number; readonly accuracy: number | null };
  readonly second: { readonly judged: number; readonly accuracy: number | null };
}

/**
 * Returns the accuracy of `series` over the points up to the middle of `tl`'s span and after it. The span is the
 * timeline's own (its first point is one step after its start): the measured run (a window's warm-up left out), as
 * ModelFigures counts it.
 */
export function halvesAccuracy(tl: ModelTimeline, series: ModelSeries): HalvesAccuracy {
  const start = (tl.t[0] ?? 0) - tl.stepMs;
  const end = tl.t[tl.t.length - 1] ?? start;
  const mid = start + (end - start) / 2;
  const half = (inFirst: boolean): HalvesAccuracy['first'] => {
    let judged = 0;
    let correct = 0;
    tl.t.forEach((t, i) => {
      if ((t <= mid) !== inFirst) return;
      judged += series.judged[i]!;
      correct += series.correct[i]!;
    });
    return { judged, accuracy: judged === 0 ? null : round(correct / judged, 6) };
  };
  return { first: half(true), second: half(false) };
}
