// Config `risk` (percent floats, decimal strings) -> RiskLimits (basis points, Money). The choices the config has no
// key for are written here once:
//   maxExposure          = maxPositionNotional (the engine trades one symbol; the reference symbol is data only)
//   reduceAtDrawdownBps  = half of maxDrawdownBps (reduce-only from half the allowed drawdown, halt at all of it)
//   feeReserveBps        = the taker fee rate in bps, rounded up (a buy keeps its fee in cash)
//   maxVar99 / maxVar95  = risk.var.haltPct of the starting equity, on the side named by risk.var.confidence
//                          (warnVar99 / warnVar95 = risk.var.warnPct of it); VaR is stated for risk.var.horizonMs
//                          (varHorizonMs) from returns one minute apart (varIntervalMs)
//   maxSubmitsPerSecond  = risk.maxSubmitPerSec rounded down, at least 1 (the RiskManager counts whole approvals)
import type { Config } from '../engine/config/schema.ts';
import type { RiskLimits } from '../engine/messages/risk.ts';
import { parseDecimal } from '../engine/types/decimal.ts';
import { ConfigError } from '../engine/types/errors.ts';
import { money, type Money } from '../engine/types/money.ts';
import { validateLimits } from '../actors/risk-manager/limits.ts';

/** Returns a percentage (0..100, a float from the config) as whole basis points. */
export function pctToBps(pct: number): number {
  return Math.round(pct * 100);
}

/** Returns `bps` basis points of `m`, rounded toward zero. */
export function bpsOf(m: Money, bps: number): Money {
  return ((m * BigInt(Math.round(bps))) / 10_000n) as Money;
}

/** Returns a decimal fee rate ('0.001') in whole basis points, rounded up. */
export function rateToBpsCeil(rate: string): number {
  const d = parseDecimal(rate);
  const num = d.mantissa * 10_000n;
  const den = 10n ** BigInt(d.scale);
  return Number((num + den - 1n) / den);
}

/** Returns the RiskManager limits of `config.risk` for an account starting at `equity`; throws ConfigError if invalid. */
export function riskLimitsFromConfig(config: Pick<Config, 'risk' | 'execution'>, equity: Money): RiskLimits {
  const r = config.risk;
  const maxDrawdownBps = pctToBps(r.maxDrawdownPct);
  const varCap = bpsOf(equity, pctToBps(r.var.haltPct));
  const varWarn = bpsOf(equity, pctToBps(r.var.warnPct));
  const limits: RiskLimits = {
    maxOrderNotional: money(r.maxOrderNotional),
    maxPositionNotional: money(r.maxPositionNotional),
    maxExposure: money(r.maxPositionNotional),
    maxSubmitsPerSecond: Math.max(1, Math.floor(r.maxSubmitPerSec)),
    maxDrawdownBps,
    reduceAtDrawdownBps: Math.floor(maxDrawdownBps / 2),
    stopLossBps: pctToBps(r.stopLossPct),
    takeProfitBps: pctToBps(r.takeProfitPct),
    exitOrderType: 'market',
    exitSlippageBps: 20,
    feeReserveBps: rateToBpsCeil(config.execution.fees.taker),
    ...(r.var.confidence >= 0.99 ? { maxVar99: varCap, warnVar99: varWarn } : { maxVar95: varCap, warnVar95: varWarn }),
    varIntervalMs: 60_000,
    varHorizonMs: Math.max(60_000, r.var.horizonMs),
    varWindow: 240,
    varMinSamples: 30,
    symbols: {},
  };
  const bad = validateLimits(limits);
  if (bad.length > 0) throw new ConfigError(`risk limits from the config are invalid: ${bad.join('; ')}`);
  return limits;
}
