// Dashboard control actions: `POST /api/control/<action>` (token required) → bus messages. This table is the one
// place where an operator action becomes engine messages; nothing else in the dashboard publishes on the bus.
//
//   start       risk.killSwitch {on:false} then risk.resume: clears an operator stop and returns to `active`, and ends
//               a standing flatten. The RiskManager refuses the resume (RESUME_REFUSED alert) while another halt
//               reason holds: an engine failure in this process (sys.halted), or drawdown at or above the maximum
//               or the reducing level without resetPeak. Given `checks.resume`, the control answers 409 with that
//               reason and sends nothing.
//   stop        risk.killSwitch {on:true}: trading `halted`, every new intent denied (KILL_SWITCH); positions kept,
//               with their stop-loss/take-profit still armed
//   kill        risk.killSwitch {on:true} then risk.flatten: halt, and keep closing every position with reduce-only
//               exits until it is flat (refused exits are sent again with backoff, lots of an order filled after the
//               kill are sold too, a restart carries on; FLATTEN_INCOMPLETE alerts say when it is not flat)
//   thresholds  orchestrator.setThresholds {buy?, sell?, minConfidence?} (buy and sell above 0 up to 1, minConfidence 0..1,
//               at least one)
//   rollback    orchestrator.rollback {model}. Given `checks.rollback`, the control answers 409 when the blend has no such
//               model or the model has no earlier version, and sends nothing
//   limits      risk.setLimits {maxOrderNotional?, maxPositionNotional?, maxExposure?, warnVar95?, maxVar95?, warnVar99?,
//               maxVar99? (quote amounts as decimal strings), maxSubmitsPerSecond?, maxDrawdownBps?, reduceAtDrawdownBps?,
//               stopLossBps?, takeProfitBps?, exitSlippageBps? (integers), exitOrderType? ('market' | 'limit'),
//               symbol?, maxOrderLots?, maxPositionLots? (whole lots of that symbol, given together), and the market
//               circuit breaker's maxMoveBps?, moveWindowMs?, moveCooldownMs?, markStaleMs?, maxSpreadBps?, spreadMs?
//               (integers)}; null turns off one that may be absent (reduce step, stop loss, take profit, the VaR levels,
//               the lot caps, a breaker guard: maxMoveBps, markStaleMs, maxSpreadBps). The ranges here are the
//               RiskManager's (limits.ts breakerProblems), so a value it would refuse alone is a 400; it checks the
//               whole set (a move limit switched on needs its window and cooldown) and answers risk.limitsChanged or a
//               LIMITS_INVALID alert.
//               The lot caps go as `symbols: {[symbol]: {maxOrderLots?, maxPositionLots?}}`, which the RiskManager merges
//               per symbol and per key: another symbol's caps, and a cap not named, stay. They are lots, not base
//               quantities, because this table knows no instrument and the RiskManager's lot size is the one that
//               counts (a live venue's may differ from the bundled one); the risk panel shows them with their quantities
import { z } from 'zod';
import type { EngineMsg } from '../messages/index.ts';
import type { RiskLimits } from '../messages/risk.ts';
import { money } from '../types/money.ts';
import type { TsMs } from '../types/time.ts';

/** The control actions the dashboard accepts. */
export const CONTROL_ACTIONS = ['start', 'stop', 'kill', 'thresholds', 'rollback', 'limits'] as const;
/** One control action name. */
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

const probability = z.number().min(0).max(1);
// Above 0 as config orchestrator.buyThreshold/sellThreshold: at 0 every tick's decision clears it, BUY or SELL.
const actionThreshold = z.number().gt(0, { error: 'must be above 0 (at 0 every tick decides BUY or SELL)' }).max(1);
const reasonField = z.string().max(200).optional();
// Quote amounts as strings: a JSON number would round a 9-decimal amount through a float.
const quote = z.string().regex(/^\d{1,15}(\.\d{1,9})?$/, { error: 'a quote amount as a decimal string, e.g. "250.5"' });
const quoteAmount = quote.optional();
const quoteOrOff = quote.nullable().optional();
const bps = z.int().min(0).max(10_000).optional();
const bpsOrOff = z.int().min(0).max(10_000).nullable().optional();
const lotsOrOff = z.int().min(1).max(Number.MAX_SAFE_INTEGER).nullable().optional();
const positiveMs = z.int().min(1).max(Number.MAX_SAFE_INTEGER).optional();
// The market circuit breaker (actors/risk-manager/limits.ts breakerProblems: a limit of at least 1 bps; a stale limit of
// at least two mark-time steps, 2 s; a spread may deny at once, 0 ms).
const BREAKER = {
  maxMoveBps: z.int().min(1).max(10_000).nullable().optional(), moveWindowMs: positiveMs, moveCooldownMs: positiveMs,
  markStaleMs: z.int().min(2_000).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
  maxSpreadBps: z.int().min(1).max(10_000).nullable().optional(), spreadMs: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
};
const MONEY_LIMITS = ['maxOrderNotional', 'maxPositionNotional', 'maxExposure', 'warnVar95', 'maxVar95', 'warnVar99', 'maxVar99'] as const;
const SYMBOL_LIMITS = ['maxOrderLots', 'maxPositionLots'] as const;
const BODIES = {
  start: z.strictObject({ reason: reasonField, resetPeak: z.boolean().optional() }),
  stop: z.strictObject({ reason: reasonField }),
  kill: z.strictObject({ reason: reasonField }),
  thresholds: z
    .strictObject({ buy: actionThreshold.optional(), sell: actionThreshold.optional(), minConfidence: probability.optional() })
    .refine((b) => b.buy !== undefined || b.sell !== undefined || b.minConfidence !== undefined, { error: 'give at least one of buy, sell, minConfidence' }),
  rollback: z.strictObject({ model: z.string().min(1).max(100) }),
  limits: z
    .strictObject({
      maxOrderNotional: quoteAmount, maxPositionNotional: quoteAmount, maxExposure: quoteAmount,
      maxSubmitsPerSecond: z.int().min(1).max(10_000).optional(),
      maxDrawdownBps: bps, reduceAtDrawdownBps: bpsOrOff, stopLossBps: bpsOrOff, takeProfitBps: bpsOrOff,
      warnVar95: quoteOrOff, maxVar95: quoteOrOff, warnVar99: quoteOrOff, maxVar99: quoteOrOff,
      exitOrderType: z.enum(['market', 'limit']).optional(), exitSlippageBps: bps,
      symbol: z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, { error: "a symbol such as 'ETH/USDT'" }).optional(),
      maxOrderLots: lotsOrOff, maxPositionLots: lotsOrOff,
      ...BREAKER,
    })
    .refine((b) => Object.values(b).some((v) => v !== undefined), { error: 'give at least one limit' })
    .refine((b) => (b.symbol !== undefined) === (b.maxOrderLots !== undefined || b.maxPositionLots !== undefined),
      { error: 'maxOrderLots and maxPositionLots go with the symbol they cap, and symbol with at least one of them' }),
} satisfies Record<ControlAction, z.ZodType>;

/** What a control request turns into: the messages to publish, or why it was refused (409: the engine would refuse it). */
export type ControlResult =
  | { readonly ok: true; readonly action: ControlAction; readonly messages: readonly EngineMsg[] }
  | { readonly ok: false; readonly status: 400 | 404 | 409; readonly error: string };

/**
 * What the running engine says about a control before it is sent. `resume`: why the RiskManager would refuse a resume
 * with this `resetPeak` now, leaving out the kill switch that `start` turns off itself (resumeRefusal of its state).
 * `rollback`: the versions `model` could roll back to, undefined when the blend has no such model (the orchestrator
 * refuses a rollback with nothing to go back to in a log line the page never sees, so the control says it instead).
 */
export interface ControlChecks {
  readonly resume?: (resetPeak: boolean) => string | undefined;
  readonly rollback?: (model: string) => readonly string[] | undefined;
}

/**
 * The actor that takes each action's messages (risk.* → the RiskManager, orchestrator.* → the Orchestrator). The bus
 * drops a message no actor subscribes to, so an action sent while its actor restarts would be answered a success and
 * do nothing: the daemon refuses it then (app/run.ts controlRefusal).
 */
export const CONTROL_TARGETS: Readonly<Record<ControlAction, 'risk' | 'orchestrator'>> = {
  start: 'risk', stop: 'risk', kill: 'risk', limits: 'risk', thresholds: 'orchestrator', rollback: 'orchestrator',
};

/** Returns true when `s` names a control action. */
export function isControlAction(s: string): s is ControlAction {
  return (CONTROL_ACTIONS as readonly string[]).includes(s);
}

/**
 * Returns the bus messages for a control request (body already JSON-parsed; undefined means empty), or a 400/404, or
 * a 409 when `checks` say the engine would refuse it.
 */
export function controlMessages(action: string, body: unknown, now: TsMs, checks: ControlChecks = {}): ControlResult {
  if (!isControlAction(action)) return { ok: false, status: 404, error: `unknown control action '${action}' (known: ${CONTROL_ACTIONS.join(', ')})` };
  const parsed = BODIES[action].safeParse(body ?? {});
  if (!parsed.success) return { ok: false, status: 400, error: `${action}: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}` };
  const b = parsed.data as Record<string, unknown>;
  const why = (fallback: string): string => `dashboard: ${typeof b.reason === 'string' && b.reason ? b.reason : fallback}`;
  switch (action) {
    case 'start': {
      const refused = checks.resume?.(b.resetPeak === true);
      if (refused !== undefined) return { ok: false, status: 409, error: `start refused: ${refused}` };
      return { ok: true, action, messages: [
        { type: 'risk.killSwitch', on: false, reason: why('operator start'), ts: now },
        { type: 'risk.resume', ...(b.resetPeak === true ? { resetPeak: true } : {}), ts: now },
      ] };
    }
    case 'stop':
      return { ok: true, action, messages: [{ type: 'risk.killSwitch', on: true, reason: why('operator stop'), ts: now }] };
    case 'kill':
      return { ok: true, action, messages: [
        { type: 'risk.killSwitch', on: true, reason: why('operator kill switch'), ts: now },
        { type: 'risk.flatten', reason: why('operator kill switch'), ts: now },
      ] };
    case 'thresholds': {
      const t = parsed.data as { buy?: number; sell?: number; minConfidence?: number };
      return { ok: true, action, messages: [{
        type: 'orchestrator.setThresholds',
        ...(t.buy !== undefined ? { buy: t.buy } : {}),
        ...(t.sell !== undefined ? { sell: t.sell } : {}),
        ...(t.minConfidence !== undefined ? { minConfidence: t.minConfidence } : {}),
      }] };
    }
    case 'rollback': {
      const model = (parsed.data as { model: string }).model;
      const refused = rollbackRefusal(model, checks.rollback);
      if (refused !== undefined) return { ok: false, status: 409, error: `rollback: ${refused}` };
      return { ok: true, action, messages: [{ type: 'orchestrator.rollback', model }] };
    }
    case 'limits': {
      const limits: Record<string, unknown> = {};
      const caps: Record<string, unknown> = {};
      const { symbol, ...rest } = parsed.data as Record<string, string | number | null | undefined>;
      for (const [k, v] of Object.entries(rest)) {
        const into = (SYMBOL_LIMITS as readonly string[]).includes(k) ? caps : limits;
        // null: the key is sent as undefined, so the merge in the RiskManager removes that limit.
        if (v === null) into[k] = undefined;
        else if (v !== undefined) into[k] = (MONEY_LIMITS as readonly string[]).includes(k) ? money(v as string) : v;
      }
      if (typeof symbol === 'string') limits.symbols = { [symbol]: caps };
      return { ok: true, action, messages: [{ type: 'risk.setLimits', limits: limits as Partial<RiskLimits>, ts: now }] };
    }
  }
}

// Returns why a rollback of `model` would go nowhere, or undefined when it has somewhere to go (or nobody can tell).
function rollbackRefusal(model: string, targetsOf: ControlChecks['rollback']): string | undefined {
  if (!targetsOf) return undefined;
  const to = targetsOf(model);
  if (to === undefined) return `no model '${model}' in the blend`;
  return to.length === 0 ? `model '${model}' has no earlier version to roll back to` : undefined;
}
