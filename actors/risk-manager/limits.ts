import type { BreakerSettings, RiskLimits, SymbolLimits } from '../../engine/messages/risk.ts';
import { lotsToQty, type Instrument } from '../../engine/types/instrument.ts';
import { formatMoney, money } from '../../engine/types/money.ts';
import { SEEN_STEP_MS } from './market-guard.ts';

/** Conservative limits for paper trading a 10 000 USDT account; override per config. */
export const DEFAULT_LIMITS: RiskLimits = {
  maxOrderNotional: money('1000'),
  maxPositionNotional: money('5000'),
  maxExposure: money('8000'),
  maxSubmitsPerSecond: 5,
  maxDrawdownBps: 1_000,
  reduceAtDrawdownBps: 500,
  stopLossBps: 200,
  takeProfitBps: 400,
  exitOrderType: 'market',
  exitSlippageBps: 20,
  feeReserveBps: 10,
  varIntervalMs: 60_000,
  varWindow: 240,
  varMinSamples: 30,
  symbols: {},
};

const isBps = (v: number | undefined): boolean => v !== undefined && Number.isInteger(v) && v >= 0 && v <= 10_000;
const isPosInt = (v: number): boolean => Number.isSafeInteger(v) && v > 0;

/** A symbol's lot caps as an operator sees them: lots (what the `limits` control takes), and their base quantities. */
export interface OperatorSymbolLimits {
  readonly maxOrderLots?: number;
  readonly maxPositionLots?: number;
  /** The caps as base-asset quantities ('0.5'), when the symbol's instrument is known. */
  readonly maxOrderQty?: string;
  readonly maxPositionQty?: string;
}

/**
 * The limits an operator can set at run time (the dashboard's `limits` control), in the form that control takes them:
 * quote amounts as decimal strings, the rest as integers; an unset reduce step, stop loss or take profit is absent.
 * The market circuit breaker's settings (BreakerSettings) as RiskLimits has them; the dashboard's limits control sets
 * them (null switches a guard off).
 */
export interface OperatorLimits extends BreakerSettings {
  readonly maxOrderNotional: string;
  readonly maxPositionNotional: string;
  readonly maxExposure: string;
  readonly maxSubmitsPerSecond: number;
  readonly maxDrawdownBps: number;
  readonly reduceAtDrawdownBps?: number;
  readonly stopLossBps?: number;
  readonly takeProfitBps?: number;
  /** VaR warning levels and limits (stated for the limits' VaR horizon); absent: none on that side. */
  readonly warnVar95?: string;
  readonly maxVar95?: string;
  readonly warnVar99?: string;
  readonly maxVar99?: string;
  readonly exitOrderType: 'market' | 'limit';
  readonly exitSlippageBps: number;
  /** Per-symbol lot caps by symbol; absent when no symbol has one. */
  readonly symbols?: Readonly<Record<string, OperatorSymbolLimits>>;
}

/**
 * Returns `l`'s operator-settable part as OperatorLimits (what the log line and the dashboard show); with `instruments`
 * (the RiskManager's, by symbol), the lot caps also as base quantities.
 */
export function operatorLimits(l: RiskLimits, instruments?: Readonly<Record<string, Instrument>>): OperatorLimits {
  const symbols: Record<string, OperatorSymbolLimits> = {};
  for (const [sym, c] of Object.entries(l.symbols ?? {})) {
    const inst = instruments?.[sym];
    const o: OperatorSymbolLimits = {
      ...(c.maxOrderLots !== undefined ? { maxOrderLots: c.maxOrderLots, ...(inst ? { maxOrderQty: lotsToQty(inst, c.maxOrderLots) } : {}) } : {}),
      ...(c.maxPositionLots !== undefined ? { maxPositionLots: c.maxPositionLots, ...(inst ? { maxPositionQty: lotsToQty(inst, c.maxPositionLots) } : {}) } : {}),
    };
    if (Object.keys(o).length > 0) symbols[sym] = o;
  }
  return {
    maxOrderNotional: formatMoney(l.maxOrderNotional), maxPositionNotional: formatMoney(l.maxPositionNotional), maxExposure: formatMoney(l.maxExposure),
    maxSubmitsPerSecond: l.maxSubmitsPerSecond, maxDrawdownBps: l.maxDrawdownBps,
    ...(l.reduceAtDrawdownBps !== undefined ? { reduceAtDrawdownBps: l.reduceAtDrawdownBps } : {}),
    ...(l.stopLossBps !== undefined ? { stopLossBps: l.stopLossBps } : {}),
    ...(l.takeProfitBps !== undefined ? { takeProfitBps: l.takeProfitBps } : {}),
    ...(l.warnVar95 !== undefined ? { warnVar95: formatMoney(l.warnVar95) } : {}),
    ...(l.maxVar95 !== undefined ? { maxVar95: formatMoney(l.maxVar95) } : {}),
    ...(l.warnVar99 !== undefined ? { warnVar99: formatMoney(l.warnVar99) } : {}),
    ...(l.maxVar99 !== undefined ? { maxVar99: formatMoney(l.maxVar99) } : {}),
    exitOrderType: l.exitOrderType, exitSlippageBps: l.exitSlippageBps,
    ...(l.maxMoveBps !== undefined ? { maxMoveBps: l.maxMoveBps, moveWindowMs: l.moveWindowMs, moveCooldownMs: l.moveCooldownMs } : {}),
    ...(l.markStaleMs !== undefined ? { markStaleMs: l.markStaleMs } : {}),
    ...(l.maxSpreadBps !== undefined ? { maxSpreadBps: l.maxSpreadBps, spreadMs: l.spreadMs } : {}),
    ...(Object.keys(symbols).length > 0 ? { symbols } : {}),
  };
}

/**
 * Returns `base` with `patch` merged in per symbol and per key (what `risk.setLimits` does with `symbols`): a symbol
 * not in `patch` keeps its caps, a key sent as undefined removes that cap, and a symbol left with none is dropped.
 */
export function mergeSymbolLimits(base: RiskLimits['symbols'], patch: RiskLimits['symbols'] | undefined): RiskLimits['symbols'] {
  if (patch === undefined) return base;
  const out: Record<string, SymbolLimits> = { ...base };
  for (const [sym, p] of Object.entries(patch)) {
    const merged: Record<string, unknown> = { ...base?.[sym], ...p };
    for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
    if (Object.keys(merged).length > 0) out[sym] = merged as SymbolLimits;
    else delete out[sym];
  }
  return out;
}

/** Returns the problems of a limit set, each naming the field and what was found; empty when valid. */
export function validateLimits(l: RiskLimits): string[] {
  const bad: string[] = [];
  // A required field must be present: risk.setLimits merges its patch over the limits in force, so a key sent as
  // undefined would replace a cap with nothing, which the checks read as no cap (or throw on, as BigInt).
  const money0 = (name: string, v: bigint | undefined, optional = false): void => {
    if (optional && v === undefined) return;
    if (typeof v !== 'bigint' || v < 0n) bad.push(`${name} must be a non-negative Money bigint, got ${String(v)}`);
  };
  money0('maxOrderNotional', l.maxOrderNotional);
  money0('maxPositionNotional', l.maxPositionNotional);
  money0('maxExposure', l.maxExposure);
  money0('maxVar95', l.maxVar95, true);
  money0('maxVar99', l.maxVar99, true);
  money0('warnVar95', l.warnVar95, true);
  money0('warnVar99', l.warnVar99, true);
  for (const c of ['95', '99'] as const) {
    const warn = l[`warnVar${c}`];
    const max = l[`maxVar${c}`];
    if (typeof warn === 'bigint' && typeof max === 'bigint' && warn > max) bad.push(`warnVar${c} ${warn} must not exceed maxVar${c} ${max}`);
  }
  if (!isPosInt(l.maxSubmitsPerSecond)) bad.push(`maxSubmitsPerSecond must be a positive integer, got ${l.maxSubmitsPerSecond}`);
  for (const k of ['maxDrawdownBps', 'exitSlippageBps', 'feeReserveBps'] as const) {
    if (!isBps(l[k])) bad.push(`${k} must be an integer 0..10000 bps, got ${l[k]}`);
  }
  for (const k of ['reduceAtDrawdownBps', 'stopLossBps', 'takeProfitBps'] as const) {
    if (l[k] !== undefined && !isBps(l[k])) bad.push(`${k} must be an integer 0..10000 bps, got ${l[k]}`);
  }
  if (l.reduceAtDrawdownBps !== undefined && l.reduceAtDrawdownBps > l.maxDrawdownBps) {
    bad.push(`reduceAtDrawdownBps ${l.reduceAtDrawdownBps} must not exceed maxDrawdownBps ${l.maxDrawdownBps}`);
  }
  if (l.exitOrderType !== 'market' && l.exitOrderType !== 'limit') bad.push(`exitOrderType must be market or limit, got ${String(l.exitOrderType)}`);
  if (!isPosInt(l.varIntervalMs)) bad.push(`varIntervalMs must be a positive integer, got ${l.varIntervalMs}`);
  if (!isPosInt(l.varWindow)) bad.push(`varWindow must be a positive integer, got ${l.varWindow}`);
  if (l.varHorizonMs !== undefined && !(isPosInt(l.varHorizonMs) && l.varHorizonMs >= l.varIntervalMs)) {
    bad.push(`varHorizonMs must be an integer of at least varIntervalMs (${l.varIntervalMs}), got ${l.varHorizonMs}`);
  }
  if (!Number.isSafeInteger(l.varMinSamples) || l.varMinSamples < 1 || l.varMinSamples > l.varWindow) {
    bad.push(`varMinSamples must be an integer 1..varWindow, got ${l.varMinSamples}`);
  }
  bad.push(...breakerProblems(l));
  if (typeof l.symbols !== 'object' || l.symbols === null) bad.push(`symbols must be an object of per-symbol lot caps ({} for none), got ${String(l.symbols)}`);
  for (const [sym, s] of Object.entries(l.symbols ?? {})) {
    for (const k of ['maxOrderLots', 'maxPositionLots'] as const) {
      const v = s[k];
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) bad.push(`symbols.${sym}.${k} must be a non-negative integer of lots, got ${v}`);
    }
  }
  return bad;
}

// The market circuit breaker's limits (market-guard.ts): a move limit needs its window and cooldown, a spread limit
// its duration (0: deny at the first wide quote); the stale limit must outlast the resolution the mark time is kept
// at, or a healthy feed would read as stale between two records.
function breakerProblems(l: RiskLimits): string[] {
  const bad: string[] = [];
  if (l.maxMoveBps !== undefined) {
    if (!(Number.isInteger(l.maxMoveBps) && l.maxMoveBps >= 1 && l.maxMoveBps <= 10_000)) bad.push(`maxMoveBps must be an integer 1..10000 bps, got ${l.maxMoveBps}`);
    if (l.moveWindowMs === undefined || !isPosInt(l.moveWindowMs)) bad.push(`moveWindowMs must be a positive integer with maxMoveBps, got ${l.moveWindowMs}`);
    if (l.moveCooldownMs === undefined || !isPosInt(l.moveCooldownMs)) bad.push(`moveCooldownMs must be a positive integer with maxMoveBps, got ${l.moveCooldownMs}`);
  }
  if (l.markStaleMs !== undefined && !(isPosInt(l.markStaleMs) && l.markStaleMs >= 2 * SEEN_STEP_MS)) {
    bad.push(`markStaleMs must be an integer of at least ${2 * SEEN_STEP_MS} ms, got ${l.markStaleMs}`);
  }
  if (l.maxSpreadBps !== undefined) {
    if (!(Number.isInteger(l.maxSpreadBps) && l.maxSpreadBps >= 1 && l.maxSpreadBps <= 10_000)) bad.push(`maxSpreadBps must be an integer 1..10000 bps, got ${l.maxSpreadBps}`);
    if (l.spreadMs === undefined || !(Number.isSafeInteger(l.spreadMs) && l.spreadMs >= 0)) bad.push(`spreadMs must be a non-negative integer with maxSpreadBps, got ${l.spreadMs}`);
  }
  return bad;
}
