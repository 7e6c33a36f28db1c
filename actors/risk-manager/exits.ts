// Risk's own exits, shared by the stops (stop-exits.ts) and the standing flattens (logic.ts driveFlatten): which exit a
// mark calls for, how many lots it may sell (not those open sells hold), lots that can never be sold (dust), and
// sending one: approved, counted in the submit window, recorded as the symbol's exit in flight. A refused exit, or a
// cancel risk asked, is tried again after a backoff of 1 s doubling to 60 s (flattenBackoffMs).
import { clientOrderIdFor, intentId, RISK_EXIT_PREFIX, type ClientOrderId } from '../../engine/types/ids.ts';
import { formatFixed } from '../../engine/types/decimal.ts';
import { notional, ticksToPrice, type Instrument } from '../../engine/types/instrument.ts';
import { formatMoney } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import type { OrderIntent } from '../../engine/messages/orders.ts';
import type { RiskLimits } from '../../engine/messages/risk.ts';
import { openTotals, withApproval, type OpenOrder, type OpenOrders } from './open-orders.ts';
import { sellableLots, valueOfBase9, type Position } from './positions.ts';
import type { RiskOut, RiskState } from './state.ts';

export const RATE_WINDOW_MS = 1_000;
export const BPS = 10_000n;
/** A refused flatten exit is sent again after 1 s, doubling to at most 60 s: never a tight loop against a refusing venue. */
const FLATTEN_RETRY_MIN_MS = 1_000;
const FLATTEN_RETRY_MAX_MS = 60_000;
/** After the first refusal, FLATTEN_INCOMPLETE is raised at most once a minute per symbol. */
export const FLATTEN_ALERT_EVERY_MS = 60_000;

/** Returns how many approvals fall in the sliding window (now − 1000 ms, now]. */
export function submitsInWindow(submits: readonly TsMs[], nowMs: TsMs): number {
  let n = 0;
  for (let i = submits.length - 1; i >= 0 && submits[i] > nowMs - RATE_WINDOW_MS; i--) n++;
  return n;
}

/**
 * Returns `s`'s open orders with `intent`, approved at `price` (its limit, or the mark), open until it ends; `cid`: its
 * client order id when the caller has it (risk's own exits), else the executor names it (open-orders.ts).
 */
export function withOpenOrder(s: RiskState, intent: OrderIntent, price: Ticks, nowMs: TsMs, cid?: ClientOrderId): OpenOrders {
  const open: OpenOrder = {
    cid, intentId: intent.id, symbol: intent.symbol, side: intent.side, lots: intent.lots, price, since: nowMs, seen: false,
    ...(intent.id.startsWith(RISK_EXIT_PREFIX) ? { exit: true as const } : {}),
  };
  return withApproval(s.openOrders, open, nowMs);
}

/** Returns the lots risk's own exit of `symbol` may sell: the sellable lots less those of open sells. */
export function exitLots(s: RiskState, inst: Instrument, symbol: string, p: Position, nowMs: TsMs): { lots: Lots; openSells: Lots } {
  const openSells = openTotals(s.openOrders, s.instruments, symbol, nowMs, s.marks).sellLots;
  return { lots: Math.max(0, sellableLots(inst, p) - openSells) as Lots, openSells };
}

/** Returns the approval times with `nowMs` added and those older than the window dropped. */
export function recordSubmit(submits: readonly TsMs[], nowMs: TsMs): TsMs[] {
  let i = 0;
  while (i < submits.length && submits[i] <= nowMs - RATE_WINDOW_MS) i++;
  const next = submits.slice(i);
  next.push(nowMs);
  return next;
}

/** Which exit a position's mark calls for, comparing value and cost in bigint (no float decides it). */
export function exitTrigger(inst: Instrument, p: Position, mark: Ticks, limits: RiskLimits): 'stop-loss' | 'take-profit' | undefined {
  if (p.lots <= 0 || p.exitFired || p.cost <= 0n) return undefined;
  const value = notional(inst, mark, p.lots) * BPS;
  if (limits.stopLossBps !== undefined && value <= p.cost * (BPS - BigInt(limits.stopLossBps))) return 'stop-loss';
  if (limits.takeProfitBps !== undefined && value >= p.cost * (BPS + BigInt(limits.takeProfitBps))) return 'take-profit';
  return undefined;
}

/**
 * Returns a reduce-only exit for `lots` of `symbol`: market, or a limit `exitSlippageBps` below the mark. The id holds
 * the firing time beside the counter: the executor drops an intent whose id (client order id) it has seen, in memory or
 * in its store, and the counter starts again after a restart. Live time only moves on; a backtest's too.
 * With `inst`, a limit exit worth less than the minimum notional at its own price goes out as a market exit instead:
 * the caller found the lots worth the minimum at the mark (isDust), and a venue values a market order at its average
 * price (Binance NOTIONAL applyMinToMarket), near the mark, where a limit below the minimum is rejected every time.
 */
export function exitIntent(
  limits: RiskLimits, symbol: string, lots: Lots, mark: Ticks | undefined, why: string, seq: number, nowMs: TsMs, inst?: Instrument,
): OrderIntent {
  const id = intentId(`${RISK_EXIT_PREFIX}${why}-${symbol}-${Math.floor(nowMs)}-${seq}`);
  if (limits.exitOrderType === 'limit' && mark !== undefined) {
    const price = Math.max(1, Math.floor((mark * (10_000 - limits.exitSlippageBps)) / 10_000)) as Ticks;
    if (inst === undefined || notional(inst, price, lots) >= inst.minNotional) {
      return { id, symbol, side: 'sell', orderType: 'limit', lots, price, timeInForce: 'IOC', reduceOnly: true, reason: why, ts: nowMs };
    }
  }
  return { id, symbol, side: 'sell', orderType: 'market', lots, timeInForce: 'IOC', reduceOnly: true, reason: why, ts: nowMs };
}

/**
 * True when `lots` (the sellable lots of a position) can never be sold: none, or worth less than the minimum notional
 * at `mark` (unknown mark: not dust, the venue judges).
 */
export function isDust(inst: Instrument, lots: Lots, mark: Ticks | undefined): boolean {
  return lots <= 0 || (mark !== undefined && notional(inst, mark, lots) < inst.minNotional);
}

// Names dust for an alert: the lots and base quantity held, their value at the mark, and the venue's minimum.
export function dustText(inst: Instrument, p: Position, sellable: Lots, mark: Ticks | undefined): string {
  const worth = mark === undefined ? '' : `, worth ${formatMoney(valueOfBase9(inst, p.base9, mark))} ${inst.quote} at ${ticksToPrice(inst, mark)}`;
  return `${p.lots} lots held (${formatFixed(p.base9)} ${inst.base}${worth}; ${sellable} whole lots sellable) are below one lot or the minimum `
    + `notional ${formatMoney(inst.minNotional)} ${inst.quote}; they can never be sold, no exit is sent`;
}

// The position of `symbol` with its exits fired (a stop or flatten exit went out, or would have but for dust).
export function withExitFired(s: RiskState, symbol: string, p: Position): RiskState {
  return { ...s, portfolio: { ...s.portfolio, positions: { ...s.portfolio.positions, [symbol]: { ...p, exitFired: true } } } };
}

/**
 * Sends risk's own exit of `lots` of `symbol` (position `p`): approves it (risk.orderApproved into `out`), fires the
 * position's exits, counts the approval in the submit window and records the exit as the one in flight.
 */
export function sendExit(s: RiskState, symbol: string, p: Position, lots: Lots, mark: Ticks | undefined, why: string, nowMs: TsMs, out: RiskOut[]): RiskState {
  const intent = exitIntent(s.limits, symbol, lots, mark, why, s.exitSeq + 1, nowMs, s.instruments[symbol]);
  out.push({ type: 'risk.orderApproved', intent, ts: nowMs });
  const cid = clientOrderIdFor(intent.id);
  const openOrders = withOpenOrder(s, intent, intent.price ?? mark ?? (0 as Ticks), nowMs, cid);
  return { ...withExitFired(s, symbol, p), exitSeq: s.exitSeq + 1, exitOrders: { ...s.exitOrders, [symbol]: cid }, submits: recordSubmit(s.submits, nowMs), openOrders };
}

/** Returns the wait before the next flatten exit after `refusals` refusals in a row: 1 s doubling to 60 s. */
export function flattenBackoffMs(refusals: number): number {
  return Math.min(FLATTEN_RETRY_MAX_MS, FLATTEN_RETRY_MIN_MS * 2 ** Math.max(0, refusals - 1));
}
