// Config `risk` (percent floats, decimal strings) -> RiskLimits (basis points, Money). The choices the config has no
// key for are written here once:
//   maxExposure          = maxPositionNotional (the engine trades one symbol; the reference symbol is data only)
//   reduceAtDrawdownBps  = half of maxDrawdownBps (reduce-only from half the allowed drawdown, halt at all of it)
//   feeReserveBps        = the taker fee rate in bps, rounded up (a buy keeps its fee in cash)
//   maxVar99 / maxVar95  = risk.var.haltPct of the starting equity, on the side named by risk.var.confidence
//                          (warnVar99 / warnVar95 = risk.var.warnPct of it); VaR is stated for risk.var.horizonMs
//                          (varHorizonMs) from returns one minute apart (varIntervalMs). The starting equity is the
//                          paper starting balance, or a live account's quote and base at start (accountEquity)
//   maxSubmitsPerSecond  = risk.maxSubmitPerSec rounded down, at least 1 (the RiskManager counts whole approvals)
//   symbols              = { [traded symbol]: { maxOrderLots, maxPositionLots } } from risk.maxOrderQty and
//                          risk.maxPositionQty (base-asset quantities; only the keys given), in whole lots of the traded
//                          instrument (the order venue's lot size, which for a live venue is read at start and may
//                          differ from the bundled one), rounded down so that a cap never grows; a quantity under one
//                          lot is a ConfigError
//   maxMoveBps, moveWindowMs, moveCooldownMs, markStaleMs, maxSpreadBps, spreadMs
//                        = risk.breaker (maxMovePct in bps, moveWindowMs, cooldownMs, staleMs, maxSpreadBps, spreadMs);
//                          `false` leaves a guard absent (off) but keeps its window, cooldown and duration, so that
//                          the dashboard can switch it on with its limit alone
import type { Config } from '../engine/config/schema.ts';
import type { RiskLimits, SymbolLimits } from '../engine/messages/risk.ts';
import { settingsKey } from '../engine/config/settings-key.ts';
import { formatDecimal, mulFixed, parseDecimal, parseFixed } from '../engine/types/decimal.ts';
import { ConfigError } from '../engine/types/errors.ts';
import { qtyToLotsFloor, ticksToPrice, type Instrument } from '../engine/types/instrument.ts';
import { money, type Money } from '../engine/types/money.ts';
import type { Lots, Ticks } from '../engine/types/price.ts';
import type { VenueBalance } from '../engine/venues/venue.ts';
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

/** Returns the lots of `traded` in `risk[key]` (a base-asset quantity), rounded down; throws ConfigError under one lot. */
function capLots(risk: Config['risk'], key: 'maxOrderQty' | 'maxPositionQty', traded: Instrument): Lots | undefined {
  const qty = risk[key];
  if (qty === undefined) return undefined;
  let lots: Lots;
  try {
    lots = qtyToLotsFloor(traded, qty);
  } catch (err) {
    throw new ConfigError(`risk.${key}: ${(err as Error).message}`, { cause: err });
  }
  if (lots === 0) {
    throw new ConfigError(`risk.${key} ${qty} is less than one lot of ${traded.symbol} (lot size ${formatDecimal(traded.lotSize)} on ${traded.venue})`);
  }
  return lots;
}

/** Returns the per-symbol limits of `config.risk` for the traded instrument: empty when it sets no quantity cap. */
function symbolLimitsFromConfig(risk: Config['risk'], traded: Instrument): RiskLimits['symbols'] {
  const maxOrderLots = capLots(risk, 'maxOrderQty', traded);
  const maxPositionLots = capLots(risk, 'maxPositionQty', traded);
  if (maxOrderLots === undefined && maxPositionLots === undefined) return {};
  const caps: SymbolLimits = {
    ...(maxOrderLots !== undefined ? { maxOrderLots } : {}),
    ...(maxPositionLots !== undefined ? { maxPositionLots } : {}),
  };
  return { [traded.symbol]: caps };
}

/**
 * Returns the market circuit breaker's RiskLimits of `risk.breaker`: the limits of the guards switched on, and every
 * guard's window, cooldown and duration. A guard's limit alone says whether it is on; its companions stay so that
 * switching it on at run time (the dashboard's limits form, one field) gives the RiskManager a whole set.
 */
function breakerLimits(b: Config['risk']['breaker']): Pick<RiskLimits, 'maxMoveBps' | 'moveWindowMs' | 'moveCooldownMs' | 'markStaleMs' | 'maxSpreadBps' | 'spreadMs'> {
  return {
    moveWindowMs: b.moveWindowMs, moveCooldownMs: b.cooldownMs, spreadMs: b.spreadMs,
    ...(b.maxMovePct === false ? {} : { maxMoveBps: pctToBps(b.maxMovePct) }),
    ...(b.staleMs === false ? {} : { markStaleMs: b.staleMs }),
    ...(b.maxSpreadBps === false ? {} : { maxSpreadBps: b.maxSpreadBps }),
  };
}

/**
 * Returns the RiskManager limits of `config.risk` for an account starting at `equity` that trades `traded` (the order
 * venue's instrument); throws ConfigError if invalid.
 */
export function riskLimitsFromConfig(config: Pick<Config, 'risk' | 'execution'>, equity: Money, traded: Instrument): RiskLimits {
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
    symbols: symbolLimitsFromConfig(r, traded),
    ...breakerLimits(r.breaker),
  };
  const bad = validateLimits(limits);
  if (bad.length > 0) throw new ConfigError(`risk limits from the config are invalid: ${bad.join('; ')}`);
  return limits;
}

/**
 * Returns the key of what riskLimitsFromConfig derives the limits from: config.risk, the fee rates, the traded
 * instrument's lot size (the quantity caps are in its lots) and, when given, the starting equity (paper: the configured
 * starting balance). Limits an operator set at run time are stored with the config limits they replaced and this key
 * (risk-child.ts restoreLimits): a field set at run time is kept while its config value is the same, or while this key
 * is (a live start passes no equity: the account's balance moves with every trade, and the VaR caps it gives moving
 * would drop the operator's caps at every restart although the config was not edited).
 */
export function riskLimitsKey(config: Pick<Config, 'risk' | 'execution'>, traded: Instrument, equity?: Money): string {
  return settingsKey({
    risk: config.risk, fees: config.execution.fees, symbol: traded.symbol, lotSize: formatDecimal(traded.lotSize),
    ...(equity === undefined ? {} : { equity }),
  });
}

// The config key (under risk.breaker) each breaker limit comes from: a key missing from an older riskLimitsKey is a
// default added since, so its limit is new to a record set over that key.
const BREAKER_SOURCES: Readonly<Record<string, string>> = {
  maxMoveBps: 'maxMovePct', moveWindowMs: 'moveWindowMs', moveCooldownMs: 'cooldownMs', markStaleMs: 'staleMs', maxSpreadBps: 'maxSpreadBps', spreadMs: 'spreadMs',
};

/**
 * Returns the RiskLimits fields new since `oldKey` (an older riskLimitsKey) when it holds the same config values as
 * `newKey` except for keys added since (schema defaults of a newer version: risk.breaker.maxSpreadBps and spreadMs came
 * in one), or undefined when a value differs (an edited config) or a key cannot be read. Only breaker limits are mapped
 * to their config keys; any other added key counts as config values the same (it had no limit field to set).
 */
export function limitFieldsAddedSince(oldKey: string, newKey: string): string[] | undefined {
  let before: unknown;
  let now: unknown;
  try {
    before = JSON.parse(oldKey);
    now = JSON.parse(newKey);
  } catch {
    return undefined;
  }
  const added: string[] = [];
  if (!sameBesidesAdded(before, now, '', added)) return undefined;
  const isNew = (cfg: string): boolean => added.includes('risk.breaker') || added.includes(`risk.breaker.${cfg}`);
  return Object.entries(BREAKER_SOURCES).filter(([, cfg]) => isNew(cfg)).map(([field]) => field);
}

// True when every key of `a` is in `b` with the same value (recursively for objects); the paths of keys only `b` has
// go into `added`.
function sameBesidesAdded(a: unknown, b: unknown, path: string, added: string[]): boolean {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(a) || !isObj(b)) return settingsKey(a) === settingsKey(b);
  for (const k of Object.keys(a)) if (!(k in b) || !sameBesidesAdded(a[k], b[k], `${path}${k}.`, added)) return false;
  for (const k of Object.keys(b)) if (!(k in a)) added.push(`${path}${k}`);
  return true;
}

/**
 * Returns a live account's equity in `traded`'s quote asset: all of its quote plus all of its base (free and locked)
 * valued at `price`; without a price the base is left out (the equity, and the VaR caps taken from it, come out
 * smaller, never larger). Other assets are not counted.
 */
export function accountEquity(balances: readonly VenueBalance[], traded: Instrument, price: Ticks | undefined): Money {
  const held = (asset: string): bigint => {
    const b = balances.find((x) => x.asset === asset);
    return b ? b.free + b.locked : 0n;
  };
  const base = price === undefined ? 0n : mulFixed(held(traded.base), parseFixed(ticksToPrice(traded, price)));
  return (held(traded.quote) + base) as Money;
}
