// Historical VaR over a rolling window of equity returns. Returns are floats (statistics are allowed to be);
// the result is converted once to Money, and limits are compared in Money.
//
// Quantile method (no interpolation, the "lower empirical quantile"): with n returns sorted ascending and
// confidence c, VaR_c = -r_(k) · equity where k = ceil(n · (1 − c)) (1-based), floored at zero.
// Example: n = 40, c = 95% → k = 2, the second-worst return; c = 99% → k = 1, the worst.
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
  readonly alert95: boolean;
  readonly alert99: boolean;
}

/** VaR state before any sample. */
export const EMPTY_VAR: VarState = { bucket: -1, samples: [], alert95: false, alert99: false };

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

/** Returns historical VaR in Money: the loss quantile of `returns` applied to `equity`. */
export function historicalVar(returns: readonly number[], confidenceBps: number, equity: Money): Money {
  const loss = lossQuantile(returns, confidenceBps);
  return mulFixed(equity, BigInt(Math.round(loss * 1e9))) as Money;
}

/** Result of feeding one equity observation to the VaR monitor. */
export interface VarStep {
  readonly state: VarState;
  readonly alerts: readonly RiskAlert[];
}

/**
 * Returns the VaR state after an equity observation at `ts`: samples at most once per interval, recomputes VaR 95/99
 * on a new sample, and raises an alert when VaR crosses above its limit (once per crossing, not once per sample).
 */
export function observeEquity(vs: VarState, limits: RiskLimits, eq: Money, ts: TsMs): VarStep {
  const bucket = Math.floor(ts / limits.varIntervalMs);
  if (bucket === vs.bucket) return { state: vs, alerts: NO_ALERTS };
  const keep = limits.varWindow + 1;
  const samples = vs.samples.length >= keep ? [...vs.samples.slice(vs.samples.length - keep + 1), eq] : [...vs.samples, eq];
  const returns = equityReturns(samples);
  if (returns.length < limits.varMinSamples) {
    return { state: { bucket, samples, alert95: false, alert99: false }, alerts: NO_ALERTS };
  }
  const var95 = historicalVar(returns, 9_500, eq);
  const var99 = historicalVar(returns, 9_900, eq);
  const over95 = limits.maxVar95 !== undefined && var95 > limits.maxVar95;
  const over99 = limits.maxVar99 !== undefined && var99 > limits.maxVar99;
  const alerts: RiskAlert[] = [];
  if (over95 && !vs.alert95) alerts.push({ type: 'risk.alert', code: 'VAR_95', message: `VaR 95% ${var95} exceeds limit ${limits.maxVar95} (1e-9 quote units)`, ts });
  if (over99 && !vs.alert99) alerts.push({ type: 'risk.alert', code: 'VAR_99', message: `VaR 99% ${var99} exceeds limit ${limits.maxVar99} (1e-9 quote units)`, ts });
  return { state: { bucket, samples, var95, var99, alert95: over95, alert99: over99 }, alerts };
}

const NO_ALERTS: readonly RiskAlert[] = [];
