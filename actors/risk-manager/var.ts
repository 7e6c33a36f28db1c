// Position-based historical VaR: the price returns of each symbol over a rolling window, applied to what is held now.
// Returns are floats (statistics are allowed to be); the result is converted once to Money, and limits are compared in
// Money.
//
// Samples: one mark (price) per symbol per `varIntervalMs` interval, the first mark of that symbol in the interval,
// over the last `varWindow` + 1 intervals. Interval i's return of symbol s is r_{s,i} = p_{s,i} / p_{s,i-1} − 1.
// Missing marks: a symbol with no mark in interval i or in interval i − 1 (a quiet market, a feed gap, a restart) has no
// return for interval i: it is left out of that interval's sum rather than given a return of 0 or one spanning several
// intervals (which would be scaled as one), and the interval's return is re-weighted over the held symbols that have
// one (the book's return as far as it is known, not diluted by a part counted as flat). An interval in which no held
// symbol has a return is left out of the quantile altogether. A thinly marked symbol is then measured on fewer
// intervals, not on invented ones; a held symbol never marked in the window leaves the figure to the others.
// Loss: with held_s the value of the current holding of s at its mark, loss_i = −Σ_s held_s · r_{s,i}, taken as the
// return of the current book, R_i = −loss_i / Σ held (so weights, not holdings of the past, carry the figure: a book
// sold down to a tenth reports a tenth, and a position bought a minute ago is valued on its symbol's whole window).
// Quantile method (no interpolation, the "lower empirical quantile"): with n returns R sorted ascending and confidence
// c, VaR_c = −R_(k) · Σ held where k = ceil(n · (1 − c)) (1-based), floored at zero.
// Example: n = 40, c = 95% → k = 2, the second-worst interval; c = 99% → k = 1, the worst.
// Horizon: the loss quantile of one interval is scaled to `varHorizonMs` by the square root of time (an approximation
// that assumes independent returns; it understates fat-tailed, trending markets), and capped at the holdings' value (a
// long-only spot book cannot lose more than it holds, a flat one nothing). A config's "6% one-day VaR" is then compared
// with a figure for one day, not for one minute, which would almost never reach it.
// Warm-up: figures need `varMinSamples` intervals with a return of a held symbol (a flat book: of any symbol, and its
// VaR is 0); before that none are reported.
// Recomputed on each new interval's first mark (whatever its symbol), with the holdings of that moment: a position
// bought or sold counts from the next interval on, with its symbol's returns over the whole window. Another symbol's
// first mark of that interval comes later, so its newest return joins at the interval after.
// Levels: above a warn cap an alert (VAR_WARN_*); above a max cap an alert (VAR_*) and, in the RiskManager, reducing.
import type { Money } from '../../engine/types/money.ts';
import { mulFixed } from '../../engine/types/decimal.ts';
import type { Ticks } from '../../engine/types/price.ts';
import type { RiskAlert, RiskLimits } from '../../engine/messages/risk.ts';
import type { TsMs } from '../../engine/types/time.ts';

/** The marks of one VaR interval: the first mark of each symbol marked in it. */
export interface VarSample {
  /** The interval's index, `floor(ts / varIntervalMs)`. */
  readonly bucket: number;
  readonly marks: Readonly<Record<string, Ticks>>;
}

/** Rolling VaR state: per-symbol marks per `varIntervalMs`, last figures and which alerts are raised. */
export interface VarState {
  /** Index of the newest sampled interval (`floor(ts / varIntervalMs)`), -1 before the first sample. */
  readonly bucket: number;
  /** One sample per interval with a mark, oldest first, all within the last `varWindow + 1` intervals. */
  readonly samples: readonly VarSample[];
  readonly var95?: Money;
  readonly var99?: Money;
  /** Above maxVar95 / maxVar99 at the last sample. */
  readonly alert95: boolean;
  readonly alert99: boolean;
  /** Above warnVar95 / warnVar99 at the last sample. */
  readonly warn95: boolean;
  readonly warn99: boolean;
}

/** VaR state before any sample. */
export const EMPTY_VAR: VarState = { bucket: -1, samples: [], alert95: false, alert99: false, warn95: false, warn99: false };

// The return of `sym` from sample `a` to the next interval's sample `b`, or undefined when either has no mark for it.
function returnOf(a: VarSample, b: VarSample, sym: string): number | undefined {
  const p0 = a.marks[sym];
  const p1 = b.marks[sym];
  return p0 === undefined || p1 === undefined || p0 <= 0 ? undefined : (p1 - p0) / p0;
}

/**
 * Returns the current book's return in each interval of `samples` where a held symbol has one (see the header):
 * Σ_s w_s · r_{s,i} / Σ_s w_s over the held symbols s with a return in interval i, w_s = held_s / Σ held. Empty when
 * nothing is held.
 */
export function holdingsReturns(samples: readonly VarSample[], held: Readonly<Record<string, Money>>): number[] {
  let total = 0;
  for (const sym in held) total += Number(held[sym]);
  const out: number[] = [];
  if (!(total > 0)) return out;
  const weights = Object.entries(held).filter(([, v]) => v > 0n).map(([sym, v]) => [sym, Number(v) / total] as const);
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (b.bucket !== a.bucket + 1) continue;
    // Re-weighted over the held symbols with a return in this interval: a symbol left out would otherwise count as a
    // return of 0 and dilute the loss of the rest (half the book unmarked halved the figure).
    let r = 0;
    let wSum = 0;
    for (const [sym, w] of weights) {
      const ri = returnOf(a, b, sym);
      if (ri === undefined) continue;
      r += w * ri;
      wSum += w;
    }
    if (wSum > 0) out.push(r / wSum);
  }
  return out;
}

/** Returns how many intervals of `samples` have a return of any symbol. */
export function intervalsWithReturns(samples: readonly VarSample[]): number {
  let n = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (b.bucket !== a.bucket + 1) continue;
    for (const sym in b.marks) {
      if (returnOf(a, b, sym) !== undefined) {
        n++;
        break;
      }
    }
  }
  return n;
}

/** Returns the 1-based rank k = ceil(n · (1 − c)) of the loss quantile, in integer arithmetic (c in bps). */
export function quantileRank(n: number, confidenceBps: number): number {
  return Math.max(1, Math.floor((n * (10_000 - confidenceBps) + 9_999) / 10_000));
}

/** Returns the loss fraction at `confidenceBps` (e.g. 9500): minus the k-th smallest return, at least 0. */
export function lossQuantile(returns: readonly number[], confidenceBps: number): number {
  if (returns.length === 0) return 0;
  const sorted = Float64Array.from(returns).sort();
  const r = sorted[quantileRank(sorted.length, confidenceBps) - 1];
  return r < 0 ? -r : 0;
}

/** Returns historical VaR in Money: the loss quantile of `returns`, times `scale` (at most 1), applied to `value`. */
export function historicalVar(returns: readonly number[], confidenceBps: number, value: Money, scale = 1): Money {
  const loss = Math.min(1, lossQuantile(returns, confidenceBps) * scale);
  return mulFixed(value, BigInt(Math.round(loss * 1e9))) as Money;
}

/** Returns the square-root-of-time factor from one VaR interval to the limits' horizon (1 without a horizon). */
export function horizonScale(limits: Pick<RiskLimits, 'varIntervalMs' | 'varHorizonMs'>): number {
  return limits.varHorizonMs === undefined ? 1 : Math.sqrt(limits.varHorizonMs / limits.varIntervalMs);
}

/** Result of feeding one mark to the VaR monitor. */
export interface VarStep {
  readonly state: VarState;
  readonly alerts: readonly RiskAlert[];
  /** Set on a new sample above a max cap: why trading should reduce. */
  readonly overMax?: string;
}

/**
 * Returns the VaR state after a mark of `symbol` at `price` and `ts`. Within the newest interval it only records the
 * symbol's first mark there. The first mark of a new interval starts its sample (the samples older than the window
 * drop out), and VaR 95/99 is recomputed on the holdings `held()` returns (value per symbol at the marks, called only
 * then): an alert when VaR crosses above a warn or max cap (once per crossing, not once per sample), and on every new
 * sample above a max cap that trading should reduce. A mark older than the newest interval (out of order) is not
 * sampled.
 */
export function observeMark(
  vs: VarState, limits: RiskLimits, symbol: string, price: Ticks, ts: TsMs, held: () => Readonly<Record<string, Money>>,
): VarStep {
  const bucket = Math.floor(ts / limits.varIntervalMs);
  if (bucket < vs.bucket) return { state: vs, alerts: NO_ALERTS };
  if (bucket === vs.bucket) return { state: withFirstMark(vs, symbol, price), alerts: NO_ALERTS };
  const oldest = bucket - limits.varWindow;
  const samples = [...vs.samples.filter((x) => x.bucket >= oldest), { bucket, marks: { [symbol]: price } }];
  const holdings = held();
  const returns = holdingsReturns(samples, holdings);
  let value = 0n;
  for (const sym in holdings) if (holdings[sym] > 0n) value += holdings[sym];
  const n = value > 0n ? returns.length : intervalsWithReturns(samples);
  if (n < limits.varMinSamples) return { state: { ...EMPTY_VAR, bucket, samples }, alerts: NO_ALERTS };
  const scale = horizonScale(limits);
  const var95 = historicalVar(returns, 9_500, value as Money, scale);
  const var99 = historicalVar(returns, 9_900, value as Money, scale);
  return levels(vs, limits, { ...EMPTY_VAR, bucket, samples }, var95, var99, ts);
}

// The newest sample with `symbol`'s first mark in it (the state itself when it has one).
function withFirstMark(vs: VarState, symbol: string, price: Ticks): VarState {
  const last = vs.samples[vs.samples.length - 1];
  if (last === undefined || last.marks[symbol] !== undefined) return vs;
  const samples = [...vs.samples.slice(0, -1), { bucket: last.bucket, marks: { ...last.marks, [symbol]: price } }];
  return { ...vs, samples };
}

// The new sample `sampled` with figures var95/var99 and its alert flags; alerts for the caps crossed since `prev`.
function levels(prev: VarState, limits: RiskLimits, sampled: VarState, var95: Money, var99: Money, ts: TsMs): VarStep {
  const over = (cap: Money | undefined, v: Money): boolean => cap !== undefined && v > cap;
  const next: VarState = {
    ...sampled, var95, var99,
    alert95: over(limits.maxVar95, var95), alert99: over(limits.maxVar99, var99),
    warn95: over(limits.warnVar95, var95), warn99: over(limits.warnVar99, var99),
  };
  const alerts: RiskAlert[] = [];
  const say = (code: RiskAlert['code'], level: string, v: Money, cap: Money | undefined): void => {
    alerts.push({ type: 'risk.alert', code, message: `VaR ${level}% ${v} exceeds the ${code.includes('WARN') ? 'warning level' : 'limit'} ${cap} (1e-9 quote units)`, ts });
  };
  if (next.warn95 && !prev.warn95) say('VAR_WARN_95', '95', var95, limits.warnVar95);
  if (next.warn99 && !prev.warn99) say('VAR_WARN_99', '99', var99, limits.warnVar99);
  if (next.alert95 && !prev.alert95) say('VAR_95', '95', var95, limits.maxVar95);
  if (next.alert99 && !prev.alert99) say('VAR_99', '99', var99, limits.maxVar99);
  const overMax = next.alert99 ? `VaR 99% ${var99} exceeds the limit ${limits.maxVar99}`
    : next.alert95 ? `VaR 95% ${var95} exceeds the limit ${limits.maxVar95}` : undefined;
  return overMax ? { state: next, alerts, overMax } : { state: next, alerts };
}

/**
 * Returns `samples` as stored by an earlier run when they have the shape of VarSample[] (buckets ascending, marks
 * positive integers), keeping only the marks of `symbols`; undefined otherwise (a record of another layout, or damaged).
 */
export function parseVarSamples(samples: unknown, symbols: ReadonlySet<string>): VarSample[] | undefined {
  if (!Array.isArray(samples)) return undefined;
  const out: VarSample[] = [];
  let prev = -Infinity;
  for (const x of samples as unknown[]) {
    if (typeof x !== 'object' || x === null) return undefined;
    const { bucket, marks } = x as { bucket?: unknown; marks?: unknown };
    if (typeof bucket !== 'number' || !Number.isSafeInteger(bucket) || bucket <= prev || typeof marks !== 'object' || marks === null) return undefined;
    const kept: Record<string, Ticks> = {};
    for (const [sym, px] of Object.entries(marks)) {
      if (typeof px !== 'number' || !Number.isSafeInteger(px) || px <= 0) return undefined;
      if (symbols.has(sym)) kept[sym] = px as Ticks;
    }
    out.push({ bucket, marks: kept });
    prev = bucket;
  }
  return out;
}

const NO_ALERTS: readonly RiskAlert[] = [];
