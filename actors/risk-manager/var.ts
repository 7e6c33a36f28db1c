// Historical VaR over a rolling window of equity returns. Returns are floats (statistics are allowed to be);
// the result is converted once to Money, and limits are compared in Money.
//
// Quantile method (no interpolation, the "lower empirical quantile"): with n returns sorted ascending and
// confidence c, VaR_c = -r_(k) · equity where k = ceil(n · (1 − c)) (1-based), floored at zero.
// Example: n = 40, c = 95% → k = 2, the second-worst return; c = 99% → k = 1, the worst.
// Horizon: returns are one `varIntervalMs` apart; the loss quantile is scaled to `varHorizonMs` by the square root of
// time (an approximation that assumes independent returns; it understates fat-tailed, trending markets), and capped at
// 1 (a spot account cannot lose more than its equity). A config's "6% one-day VaR" is then compared with a figure for
// one day, not for one minute, which would almost never reach it.
// Holdings: the figure is at most the exposure (the value of what is held at the marks): a long-only spot book cannot
// lose more than it holds, and a flat one nothing. The returns are the equity's own, taken at whatever was held then,
// so without this cap the returns of a position just sold kept VaR over its limit (and trading reducing) for a window.
// The cap is a bound, not an estimate: a book sold down to a tenth still reports up to that tenth. A proper figure
// applies each interval's price returns per symbol to the current holdings (see observeEquity).
// Levels: above a warn cap an alert (VAR_WARN_*); above a max cap an alert (VAR_*) and, in the RiskManager, reducing.
import { mulFixed } from '../../engine/types/decimal.ts';
import type { Money } from '../../engine/types/money.ts';
import type { RiskAlert, RiskLimits } from '../../engine/messages/risk.ts';
import type { TsMs } from '../../engine/types/time.ts';

/** Rolling VaR state: equity sampled once per `varIntervalMs`, last figures and which alerts are raised. */
export interface VarState {
  /** Index of the last sampled interval (`floor(ts / varIntervalMs)`), -1 before the first sample. */
  readonly bucket: number;
  /** Equity samples, oldest first; at most `varWindow + 1` (window returns need one more sample). */
  readonly samples: readonly Money[];
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

/** Returns the simple returns between consecutive equity samples (a zero or negative base is skipped). */
export function equityReturns(samples: readonly Money[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const prev = samples[i - 1];
    if (prev <= 0n) continue;
    out.push(Number(samples[i] - prev) / Number(prev));
  }
  return out;
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

/** Returns historical VaR in Money: the loss quantile of `returns`, times `scale` (at most 1), applied to `equity`. */
export function historicalVar(returns: readonly number[], confidenceBps: number, equity: Money, scale = 1): Money {
  const loss = Math.min(1, lossQuantile(returns, confidenceBps) * scale);
  return mulFixed(equity, BigInt(Math.round(loss * 1e9))) as Money;
}

/** Returns the square-root-of-time factor from one VaR interval to the limits' horizon (1 without a horizon). */
export function horizonScale(limits: Pick<RiskLimits, 'varIntervalMs' | 'varHorizonMs'>): number {
  return limits.varHorizonMs === undefined ? 1 : Math.sqrt(limits.varHorizonMs / limits.varIntervalMs);
}

/** Result of feeding one equity observation to the VaR monitor. */
export interface VarStep {
  readonly state: VarState;
  readonly alerts: readonly RiskAlert[];
  /** Set on a new sample above a max cap: why trading should reduce. */
  readonly overMax?: string;
}

/**
 * Returns the VaR state after an equity observation at `ts`: samples at most once per interval, recomputes VaR 95/99
 * (scaled to the horizon, at most `exposure`: see the header) on a new sample, raises an alert when VaR crosses above
 * a warn or max cap (once per crossing, not once per sample), and says on every new sample above a max cap that
 * trading should reduce. A flat book (exposure 0) has VaR 0: no alert and no reducing, while its samples still count.
 * Scaling each return by the exposure it was taken at would need that exposure stored beside each sample; a
 * position-based historical VaR would keep one mark per symbol per interval instead and take the loss quantile of
 * `-Σ holdings × price return` over the window.
 */
export function observeEquity(vs: VarState, limits: RiskLimits, eq: Money, exposure: Money, ts: TsMs): VarStep {
  const bucket = Math.floor(ts / limits.varIntervalMs);
  if (bucket === vs.bucket) return { state: vs, alerts: NO_ALERTS };
  const keep = limits.varWindow + 1;
  const samples = vs.samples.length >= keep ? [...vs.samples.slice(vs.samples.length - keep + 1), eq] : [...vs.samples, eq];
  const returns = equityReturns(samples);
  if (returns.length < limits.varMinSamples) {
    return { state: { ...EMPTY_VAR, bucket, samples }, alerts: NO_ALERTS };
  }
  const scale = horizonScale(limits);
  const held = exposure > 0n ? exposure : (0n as Money);
  const var95 = atMost(historicalVar(returns, 9_500, eq, scale), held);
  const var99 = atMost(historicalVar(returns, 9_900, eq, scale), held);
  const over = (cap: Money | undefined, v: Money): boolean => cap !== undefined && v > cap;
  const next: VarState = {
    bucket, samples, var95, var99,
    alert95: over(limits.maxVar95, var95), alert99: over(limits.maxVar99, var99),
    warn95: over(limits.warnVar95, var95), warn99: over(limits.warnVar99, var99),
  };
  const alerts: RiskAlert[] = [];
  const say = (code: RiskAlert['code'], level: string, v: Money, cap: Money | undefined): void => {
    alerts.push({ type: 'risk.alert', code, message: `VaR ${level}% ${v} exceeds the ${code.includes('WARN') ? 'warning level' : 'limit'} ${cap} (1e-9 quote units)`, ts });
  };
  if (next.warn95 && !vs.warn95) say('VAR_WARN_95', '95', var95, limits.warnVar95);
  if (next.warn99 && !vs.warn99) say('VAR_WARN_99', '99', var99, limits.warnVar99);
  if (next.alert95 && !vs.alert95) say('VAR_95', '95', var95, limits.maxVar95);
  if (next.alert99 && !vs.alert99) say('VAR_99', '99', var99, limits.maxVar99);
  const overMax = next.alert99 ? `VaR 99% ${var99} exceeds the limit ${limits.maxVar99}`
    : next.alert95 ? `VaR 95% ${var95} exceeds the limit ${limits.maxVar95}` : undefined;
  return overMax ? { state: next, alerts, overMax } : { state: next, alerts };
}

const atMost = (v: Money, cap: Money): Money => (v > cap ? cap : v);

const NO_ALERTS: readonly RiskAlert[] = [];
