// RiskManager decisions as pure functions of (state, event, now). The machine (machine.ts) only routes events here,
// assigns the returned state, emits the returned messages and moves to the returned trading state.
//
// Pre-trade check order (checkIntent), first failure wins; cheap stateless checks before stateful ones:
//   1  KILL_SWITCH              kill switch on
//   2  TRADING_HALTED           state halted
//   3  REDUCING_ONLY            state reducing, or intent flagged reduceOnly, and the intent is a buy (spot: a buy
//                               never reduces; a sell always does or fails at 14)
//   4  QTY_ZERO                 lots zero or negative
//   5  QTY_NOT_ON_LOT           lots not a safe integer
//   6  PRICE_NOT_ON_TICK        limit order without a positive safe-integer price
//   7  NO_PRICE                 market order and no mark yet for the symbol (market orders are valued at the mark)
//   7a MARKET_STALE             buys: the symbol's last mark is more than markStaleMs old (market-guard.ts)
//   7b MARKET_MOVE              buys: the symbol moved over maxMoveBps, less than moveCooldownMs ago (market-guard.ts)
//   7c MARKET_SPREAD            buys: the symbol's bid/ask spread over maxSpreadBps for spreadMs or more (market-guard.ts)
//   8  NOTIONAL_BELOW_MIN       notional < instrument minNotional
//   9  QTY_EXCEEDS_MAX          lots > symbols[symbol].maxOrderLots
//  10  NOTIONAL_EXCEEDS_MAX     notional > maxOrderNotional
//  11  POSITION_LIMIT           buys: position lots after the fill > symbols[symbol].maxPositionLots
//  12  POSITION_NOTIONAL_LIMIT  buys: position value after the fill (at the order price) > maxPositionNotional
//  13  EXPOSURE_LIMIT           buys: holdings of every symbol at their marks + this notional > maxExposure
//  14  SUBMIT_RATE              approvals in the sliding window (now − 1000 ms, now] already at maxSubmitsPerSecond
//  15  INSUFFICIENT_POSITION    sells: lots > sellable lots less open sells (spot cannot go short)
//  16  INSUFFICIENT_BALANCE     buys: notional + fee reserve > cash less the open buys' (with their fee reserve)
// UNKNOWN_INSTRUMENT is decided by the caller before checkIntent (it needs the instrument).
// Limits apply to filled positions, plus what is left of the orders approved and not ended (`openOrders`), plus the
// intent: open buys count at their order price toward 11, 12, 13 and 16 (cash with its fee reserve), open sells (risk's
// own exits included) come off the sellable lots at 15; a denial they decided says so (`including`). An approval stops
// counting at its last fill or its end (rejected, cancelled, expired: the executor's refusals of an approval are
// rejections), or OPEN_ORDER_UNSEEN_MS after it when the executor never took it up (open-orders.ts). They are not
// stored: a restart takes over the orders the executor still works (RiskInput.openOrders) as taken up.
//
// Exits: at most one of risk's own exits per symbol is in flight (`exitOrders`); its end or fills decide the next.
// An exit sells the sellable lots less those of open strategy sells, and a stop-loss or flatten that finds open strategy
// sells of its symbol holding lots asks the executor to cancel them (exec.cancelOrder, again after a backoff while they
// stay open; risk's own exits never; a take-profit none): a resting GTC sell far above the market would otherwise keep
// the exit from them while the price falls. Their ends free the lots for the next exit (onOrderEnd). A stop exit that ends without a fill is sent again
// after a backoff (`stopRetry`, as a flatten's: 1 s doubling to 60 s), and STOP_LOSS / TAKE_PROFIT is raised once per
// episode (until a fill of the symbol, or a mark that no longer calls for the exit).
// Exits are built and sent in exits.ts, held sells' cancels asked in held-sells.ts, stop episodes run in stop-exits.ts.
// Stop-loss and take-profit stay armed in every trading state, halted included (only strategy intents are denied).
// A flatten is a standing request per symbol (`flatten`, persisted by the risk child) rather than one order: one order
// sized from the fills booked so far misses the lots of an order that fills after it, and a refused or lost one would
// never be sent again (driveFlatten). An exit the executor never ends (a venue that does not answer, a poll that keeps
// failing) is not replaced by a second one: FLATTEN_INCOMPLETE says it is late (FLATTEN_EXIT_LATE_MS).
import type { ClientOrderId } from '../../engine/types/ids.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import { notional, type Instrument } from '../../engine/types/instrument.ts';
import { formatMoney, type Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import type { Fill, OrderIntent } from '../../engine/messages/orders.ts';
import type { DenyReason, RiskAlert, RiskLimits } from '../../engine/messages/risk.ts';
import { mergeSymbolLimits, validateLimits } from './limits.ts';
import { applyFill, emptyPortfolio, equity, exposure, FLAT, holdingValue, lot9, sellableLots, type Portfolio, type Position } from './positions.ts';
import {
  openOrderLive, openOrderOf, openPrice, seenOpenOrder, settleOpenOrder, startOpenOrders, type OpenTotals, type StartOpenOrder,
} from './open-orders.ts';
import { EMPTY_VAR, observeMark } from './var.ts';
import { markGuard, marketDenial, reportMarketDenial, type Quote } from './market-guard.ts';
import {
  BPS, dustText, exitLots, FLATTEN_ALERT_EVERY_MS, flattenBackoffMs, isDust, RATE_WINDOW_MS, recordSubmit, sendExit, submitsInWindow, withOpenOrder,
} from './exits.ts';
import { freedUnprotected, freeHeldLots, heldText } from './held-sells.ts';
import { driveStop, stopRefused, withoutStopRetry } from './stop-exits.ts';
import { NO_OUT, withFlatten, type FlattenRequest, type RiskOut, type RiskState, type Step, type Transition } from './state.ts';

// Split out of this file, re-exported so that importers keep one entry point.
export type { ExitCancel, FlattenRequest, HeldReport, RiskOut, RiskState, Step, StopRetry, Transition } from './state.ts';
export { exitIntent, exitTrigger, flattenBackoffMs, recordSubmit, submitsInWindow } from './exits.ts';
export { onCancelRejected } from './held-sells.ts';

/** Starting a RiskManager: limits, instruments (one quote currency), cash, and any positions already held. */
export interface RiskInput {
  readonly limits: RiskLimits;
  readonly instruments: readonly Instrument[];
  readonly cash: Money;
  /**
   * Positions held at start: lots, their cost, and the base held for them in 1e-9 units (lots less the fees paid in
   * the base asset; default lots × lot size, as with fees paid in quote).
   */
  readonly positions?: Readonly<Record<string, StartPosition>>;
  /** Fees paid in assets that are neither base nor quote before start (Portfolio.otherFees); default none. */
  readonly otherFees?: Readonly<Record<string, bigint>>;
  /**
   * Orders the executor still works at start, by client order id (a restart's: open orders are not stored); they
   * count as open orders the executor took up (open-orders.ts startOpenOrders). Default none.
   */
  readonly openOrders?: Readonly<Record<string, StartOpenOrder>>;
}

/** One position held at start (RiskInput.positions). */
export interface StartPosition {
  readonly lots: Lots;
  readonly cost: Money;
  readonly base9?: bigint;
  /** Realised PnL and fees booked before start (a restart carries the books of the fills before it); default 0. */
  readonly realised?: Money;
  readonly fees?: Money;
}

/** Verdict of a pre-trade check. */
export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: DenyReason };

const OK: Verdict = { ok: true };
const RECENT_FILLS = 512;
/**
 * A flatten exit still in flight this long raises FLATTEN_INCOMPLETE (then at most once a minute while it stays). Exits
 * are IOC and end within a venue round trip; 30 s outlasts the executor's submit retries and settle query and 15 polls
 * at its default 2 s. A 429 wait may run up to 60 s (maxRateLimitWaitMs): the position stays open meanwhile, worth
 * saying too.
 */
const FLATTEN_EXIT_LATE_MS = 30_000;

/** Returns the initial state; throws ConfigError on bad limits or instruments of different quotes. */
export function createRiskState(input: RiskInput): RiskState {
  const problems = validateLimits(input.limits);
  if (problems.length > 0) throw new ConfigError(`invalid risk limits: ${problems.join('; ')}`);
  if (input.instruments.length === 0) throw new ConfigError('risk manager needs at least one instrument');
  const quote = input.instruments[0].quote;
  const instruments: Record<string, Instrument> = {};
  for (const inst of input.instruments) {
    if (inst.quote !== quote) throw new ConfigError(`instrument ${inst.symbol} is quoted in ${inst.quote}, expected ${quote} like the others`);
    lot9(inst); // throws on a lot size finer than 1e-9
    instruments[inst.symbol] = inst;
  }
  const positions: Record<string, Position> = {};
  for (const [sym, p] of Object.entries(input.positions ?? {})) {
    const inst = instruments[sym];
    if (!inst) throw new ConfigError(`initial position in ${sym}, which is not among the instruments`);
    if (!Number.isSafeInteger(p.lots) || p.lots < 0) throw new ConfigError(`initial position in ${sym} has lots ${p.lots}; spot needs a non-negative integer`);
    const full = BigInt(p.lots) * lot9(inst);
    // At most the lots' base plus a remainder under one lot: after a sell a position keeps only the whole lots it holds
    // (positions.ts applyFill), so what a buy's base-asset fee left over can sit above them.
    const most = full + lot9(inst) - 1n;
    if (p.base9 !== undefined && !(p.base9 >= 0n && p.base9 <= most)) throw new ConfigError(`initial position in ${sym} holds ${p.base9} base units, outside 0..${most} for ${p.lots} lots`);
    positions[sym] = { ...FLAT, lots: p.lots, base9: p.base9 ?? full, cost: p.cost, realised: p.realised ?? FLAT.realised, fees: p.fees ?? FLAT.fees };
  }
  const portfolio: Portfolio = { ...emptyPortfolio(quote, input.cash), positions, otherFees: { ...input.otherFees } };
  return {
    tradingState: 'active',
    stateReason: 'start',
    killSwitch: false,
    limits: input.limits,
    instruments,
    portfolio,
    marks: {},
    market: {},
    peakEquity: equity(portfolio, instruments, {}),
    submits: [],
    var: EMPTY_VAR,
    exitSeq: 0,
    exitOrders: {},
    openOrders: startOpenOrders(input.openOrders ?? {}, instruments),
    stopRetry: {},
    recentFills: [],
    flatten: {},
  };
}

/** Returns the verdict on one intent, checks in the order documented at the top of this file. */
export function checkIntent(s: RiskState, intent: OrderIntent, inst: Instrument, nowMs: TsMs): Verdict {
  if (s.killSwitch) return { ok: false, reason: { code: 'KILL_SWITCH' } };
  if (s.tradingState === 'halted') return { ok: false, reason: { code: 'TRADING_HALTED' } };
  const buy = intent.side === 'buy';
  if (buy && (s.tradingState === 'reducing' || intent.reduceOnly)) return { ok: false, reason: { code: 'REDUCING_ONLY' } };
  const lots = intent.lots;
  if (lots === 0 || lots < 0) return { ok: false, reason: { code: 'QTY_ZERO' } };
  if (!Number.isSafeInteger(lots)) return { ok: false, reason: { code: 'QTY_NOT_ON_LOT', lots } };
  let price: Ticks;
  if (intent.orderType === 'limit') {
    const p = intent.price;
    if (p === undefined || !Number.isSafeInteger(p) || p <= 0) return { ok: false, reason: { code: 'PRICE_NOT_ON_TICK', price: (p ?? Number.NaN) as Ticks } };
    price = p;
  } else {
    const m = s.marks[intent.symbol];
    if (m === undefined) return { ok: false, reason: { code: 'NO_PRICE' } };
    price = m;
  }
  if (buy) {
    const halt = marketDenial(s.market[intent.symbol], nowMs, s.limits);
    if (halt !== undefined) return { ok: false, reason: halt };
  }
  const value = notional(inst, price, lots);
  if (value < inst.minNotional) return { ok: false, reason: { code: 'NOTIONAL_BELOW_MIN', notional: value, min: inst.minNotional } };
  const symLimits = s.limits.symbols[intent.symbol];
  const maxLots = symLimits?.maxOrderLots;
  if (maxLots !== undefined && lots > maxLots) return { ok: false, reason: { code: 'QTY_EXCEEDS_MAX', lots, max: maxLots } };
  if (value > s.limits.maxOrderNotional) return { ok: false, reason: { code: 'NOTIONAL_EXCEEDS_MAX', notional: value, max: s.limits.maxOrderNotional } };
  const pos = s.portfolio.positions[intent.symbol] ?? FLAT;
  const open = openSums(s, intent.symbol, nowMs);
  const q = inst.quote;
  if (buy) {
    const after = (pos.lots + open.buyLots + lots) as Lots;
    const maxPos = symLimits?.maxPositionLots;
    if (maxPos !== undefined && after > maxPos) {
      return denied({ code: 'POSITION_LIMIT', position: after, max: maxPos }, open.buyLots > 0 ? `${open.buyLots} lots of open buys` : undefined);
    }
    const afterValue = notional(inst, price, after);
    if (afterValue > s.limits.maxPositionNotional) {
      const including = open.buyLots > 0 ? `open buys of ${open.buyLots} lots worth ${formatMoney(open.buyValue)} ${q}` : undefined;
      return denied({ code: 'POSITION_NOTIONAL_LIMIT', notional: afterValue, max: s.limits.maxPositionNotional }, including);
    }
    const openValue = open.allBuyValue;
    const exp = (exposure(s.portfolio, s.instruments, s.marks) + openValue + value) as Money;
    if (exp > s.limits.maxExposure) {
      return denied({ code: 'EXPOSURE_LIMIT', exposure: exp, max: s.limits.maxExposure }, openValue > 0n ? `open buys worth ${formatMoney(openValue)} ${q}` : undefined);
    }
  }
  const recent = submitsInWindow(s.submits, nowMs);
  if (recent >= s.limits.maxSubmitsPerSecond) return { ok: false, reason: { code: 'SUBMIT_RATE', perSecond: recent + 1, max: s.limits.maxSubmitsPerSecond } };
  if (!buy) {
    const available = Math.max(0, sellableLots(inst, pos) - open.sellLots) as Lots;
    if (lots > available) {
      return denied({ code: 'INSUFFICIENT_POSITION', lots, available }, open.sellLots > 0 ? `${open.sellLots} lots in open sells` : undefined);
    }
  } else {
    const needed = buyNeeds(value, s.limits.feeReserveBps);
    const reserved = open.reserved;
    const available = (s.portfolio.cash - reserved) as Money;
    if (needed > available) {
      return denied({ code: 'INSUFFICIENT_BALANCE', needed, available }, reserved > 0n ? `${formatMoney(reserved)} ${q} reserved for open buys` : undefined);
    }
  }
  return OK;
}

/** A denial; `including` (when open orders decided it) names what of them it counted, beside the reason's fields. */
function denied(reason: DenyReason, including: string | undefined): Verdict {
  return { ok: false, reason: including === undefined ? reason : { ...reason, including } };
}

/** What the live open orders add up to for checkIntent: `symbol`'s totals, every open buy's value, the cash they hold. */
interface OpenSums extends OpenTotals {
  /** The open buys of every symbol, valued at their order prices (openPrice). */
  readonly allBuyValue: Money;
  /** The cash the open buys hold back: each one's value plus its fee reserve (buyNeeds). */
  readonly reserved: Money;
}

// One pass, each buy valued once: an intent's check read the open orders three times (a grid of 500 resting orders
// made each check ~170 µs).
function openSums(s: RiskState, symbol: string, nowMs: TsMs): OpenSums {
  let buyLots = 0;
  let buyValue = 0n;
  let sellLots = 0;
  let allBuyValue = 0n;
  let reserved = 0n;
  for (const o of s.openOrders) {
    const inst = s.instruments[o.symbol];
    if (inst === undefined || !openOrderLive(o, nowMs)) continue;
    const mine = o.symbol === symbol;
    if (o.side === 'sell') {
      if (mine) sellLots += o.lots;
      continue;
    }
    const v = notional(inst, openPrice(o, s.marks), o.lots);
    allBuyValue += v;
    reserved += buyNeeds(v, s.limits.feeReserveBps);
    if (mine) {
      buyLots += o.lots;
      buyValue += v;
    }
  }
  return { buyLots: buyLots as Lots, buyValue: buyValue as Money, sellLots: sellLots as Lots, allBuyValue: allBuyValue as Money, reserved: reserved as Money };
}

/**
 * Handles `exec.orderSubmitted`: the executor took order `cid` (of intent `intentId`) up, so it counts until it ends
 * (OPEN_ORDER_UNSEEN_MS).
 */
export function onOrderSeen(s: RiskState, cid: ClientOrderId, intentId?: string): RiskState {
  const openOrders = seenOpenOrder(s.openOrders, cid, intentId);
  return openOrders === s.openOrders ? s : { ...s, openOrders };
}

const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

/** Returns the cash a buy of `value` needs: the value plus its fee reserve of `feeReserveBps` (rounded up). */
export function buyNeeds(value: Money, feeReserveBps: number): Money {
  return (value + ceilDiv(value * BigInt(feeReserveBps), BPS)) as Money;
}

/** Handles `risk.intent`: emits approved or denied, and records an approval in the rate window. */
export function onIntent(s: RiskState, intent: OrderIntent, nowMs: TsMs): Step {
  const inst = s.instruments[intent.symbol];
  const verdict: Verdict = inst ? checkIntent(s, intent, inst, nowMs) : { ok: false, reason: { code: 'UNKNOWN_INSTRUMENT', symbol: intent.symbol } };
  if (!verdict.ok) {
    const out: RiskOut[] = [{ type: 'risk.orderDenied', intentId: intent.id, reason: verdict.reason, ts: nowMs }];
    if (verdict.reason.code !== 'MARKET_STALE' && verdict.reason.code !== 'MARKET_SPREAD') return { state: s, out };
    // The first denial of a stale or spread episode may be the first to see it (the RiskManager has no timer): it reports it.
    const g = s.market[intent.symbol];
    const alerts: RiskAlert[] = [];
    const next = reportMarketDenial(g, intent.symbol, verdict.reason, nowMs, alerts);
    return next === g ? { state: s, out } : { state: { ...s, market: { ...s.market, [intent.symbol]: next } }, out: [...alerts, ...out] };
  }
  // checkIntent approved a limit only with a price and a market order only with a mark.
  const price = intent.orderType === 'limit' ? intent.price! : s.marks[intent.symbol]!;
  const next = { ...s, submits: recordSubmit(s.submits, nowMs), openOrders: withOpenOrder(s, intent, price, nowMs) };
  return { state: next, out: [{ type: 'risk.orderApproved', intent, ts: nowMs }] };
}

/** Handles a fill (full or partial): applies it once per venue trade id; fills of unknown symbols are ignored. */
export function onFill(s: RiskState, fill: Fill): RiskState {
  const inst = s.instruments[fill.symbol];
  if (!inst) return s;
  const key = `${fill.venue}:${fill.symbol}:${fill.tradeId}`;
  if (s.recentFills.includes(key)) return s;
  const recentFills = s.recentFills.length >= RECENT_FILLS ? [...s.recentFills.slice(1), key] : [...s.recentFills, key];
  // Any fill of the symbol ends a stop's refusal episode: its exit sold something, or a buy made a new position.
  return withoutStopRetry({ ...s, portfolio: applyFill(s.portfolio, inst, fill), recentFills }, fill.symbol);
}

/**
 * `onFill` for each of `fills` in turn, with the same result: a start applies every stored fill at once, and copying
 * and scanning the recent-fill window per fill made 100,000 fills take ~3 s. Here the window is a set plus a moving
 * start into one array (keys in it are unique: a key already there is never added again).
 */
export function onFills(s: RiskState, fills: readonly Fill[]): RiskState {
  const keys = [...s.recentFills];
  const window = new Set(keys);
  let from = 0;
  let portfolio = s.portfolio;
  for (const fill of fills) {
    const inst = s.instruments[fill.symbol];
    if (!inst) continue;
    const key = `${fill.venue}:${fill.symbol}:${fill.tradeId}`;
    if (window.has(key)) continue;
    portfolio = applyFill(portfolio, inst, fill);
    keys.push(key);
    window.add(key);
    if (keys.length - from > RECENT_FILLS) window.delete(keys[from++]!);
  }
  return portfolio === s.portfolio ? s : { ...s, portfolio, recentFills: keys.slice(from) };
}

/** Returns the drawdown from `peak` to `eq` in whole basis points (floored), 0 when at or above the peak. */
export function drawdownBps(peak: Money, eq: Money): number {
  if (peak <= 0n || eq >= peak) return 0;
  return Number(((peak - eq) * BPS) / peak);
}

// The symbol whose exit in flight is `cid`, or undefined when `cid` is none of risk's exits.
function exitSymbolOf(s: RiskState, cid: ClientOrderId): string | undefined {
  let symbol: string | undefined;
  for (const sym in s.exitOrders) if (s.exitOrders[sym] === cid) symbol = sym;
  return symbol;
}

/**
 * Handles the end of an order (`exec.orderRejected` / `orderCancelled` / `orderExpired`, or the fill that completes
 * it, after onFill): when it is the last exit sent for a symbol and the position still has lots, its exits are armed
 * again, so the next mark that calls for one sends it (once per mark at most, and within the submit rate). Other
 * orders leave the state as it is.
 */
export function onOrderEnded(s0: RiskState, cid: ClientOrderId): RiskState {
  const openOrders = settleOpenOrder(s0.openOrders, cid, undefined, true);
  const s = openOrders === s0.openOrders ? s0 : { ...s0, openOrders };
  const symbol = exitSymbolOf(s, cid);
  if (symbol === undefined) return s;
  const { [symbol]: _ended, ...exitOrders } = s.exitOrders;
  const p = s.portfolio.positions[symbol];
  if (!p || p.lots <= 0 || !p.exitFired) return { ...s, exitOrders };
  const positions = { ...s.portfolio.positions, [symbol]: { ...p, exitFired: false } };
  return { ...s, exitOrders, portfolio: { ...s.portfolio, positions } };
}

/**
 * Handles a mark: records it, feeds the symbol's market circuit breaker (market-guard.ts; `quote`: the mark's best
 * bid/ask, when it carries them), drives a standing flatten
 * of its symbol, fires a stop-loss / take-profit exit once per position in every trading state (not under a standing flatten, nor while another exit is in flight or the submit
 * window is full; again when that exit ended without closing the position: onOrderEnded), updates peak
 * equity and drawdown (→ reducing at `reduceAtDrawdownBps`, → halted at `maxDrawdownBps`), and samples the symbol's
 * price for VaR, which the first mark of an interval recomputes on the current holdings (→ reducing above maxVar95 /
 * maxVar99; var.ts).
 */
export function onMark(s0: RiskState, symbol: string, price: Ticks, nowMs: TsMs, quote?: Quote): Step {
  if (!s0.instruments[symbol] || !Number.isSafeInteger(price) || price <= 0) return { state: s0, out: NO_OUT };
  const out: RiskOut[] = [];
  const g0 = s0.market[symbol];
  const g = markGuard(g0, s0.marks[symbol], symbol, price, nowMs, s0.limits, out, quote);
  const market = g === g0 || g === undefined ? s0.market : { ...s0.market, [symbol]: g };
  // Most trades repeat the last price and change nothing else: no copy of the state then (two copies of the whole
  // state per trade were a fifth of a backtest's allocations).
  const marks = s0.marks[symbol] === price ? s0.marks : { ...s0.marks, [symbol]: price };
  let s: RiskState = marks === s0.marks && market === s0.market ? s0 : { ...s0, marks, market };
  // A standing flatten replaces the stops of its symbol; no stop goes out while another exit is in flight. A halt
  // keeps them: it stops new risk, and a position it leaves open (a drawdown, an engine failure, an operator stop)
  // would otherwise ride any fall unprotected, the strategy's reduce-only close being denied while halted.
  if (s.flatten[symbol] !== undefined) s = driveFlatten(s, symbol, nowMs, out);
  s = driveStop(s, symbol, nowMs, out);
  const eq = equity(s.portfolio, s.instruments, s.marks);
  const peakEquity = eq > s.peakEquity ? eq : s.peakEquity;
  const dd = drawdownBps(peakEquity, eq);
  let to: Transition | undefined;
  const l = s.limits;
  const level = drawdownLevel(dd, l);
  if (level === 'halted' && s.tradingState !== 'halted') {
    to = { to: 'halted', reason: `drawdown ${dd} bps reached the maximum ${l.maxDrawdownBps} bps` };
  } else if (level === 'reducing' && s.tradingState === 'active') {
    to = { to: 'reducing', reason: `drawdown ${dd} bps reached the reducing level ${l.reduceAtDrawdownBps} bps` };
  }
  if (to) out.push({ type: 'risk.alert', code: 'DRAWDOWN', message: `${to.reason} (peak ${peakEquity}, equity ${eq}, 1e-9 quote units)`, ts: nowMs });
  // Position-based VaR (var.ts): the holdings are valued only when the mark opens a new VaR interval.
  const v = observeMark(s.var, l, symbol, price, nowMs, () => heldValues(s));
  for (const a of v.alerts) out.push(a);
  // Checked on every new VaR sample, so a resume while VaR is still over its cap lasts until the next sample.
  if (!to && v.overMax !== undefined && s.tradingState === 'active') to = { to: 'reducing', reason: `${v.overMax} (1e-9 quote units)` };
  if (peakEquity !== s.peakEquity || v.state !== s.var) s = { ...s, peakEquity, var: v.state };
  return to ? { state: s, out, to } : { state: s, out };
}

// The value of each holding at its mark (its cost while unmarked), as `exposure` sums them.
function heldValues(s: RiskState): Record<string, Money> {
  const out: Record<string, Money> = {};
  for (const sym in s.portfolio.positions) {
    const p = s.portfolio.positions[sym];
    const inst = s.instruments[sym];
    if (p.base9 > 0n && inst !== undefined) out[sym] = holdingValue(inst, p, s.marks[sym]);
  }
  return out;
}

/**
 * Handles `risk.flatten`: a standing flatten request for `symbol`, or for every instrument without one (held or not:
 * an order approved before a kill may fill after it), in any trading state; each is driven at once (driveFlatten). A
 * request already standing keeps its backoff: a second kill sends no second exit. An unknown symbol is refused with
 * a FLATTEN_INCOMPLETE alert naming it.
 */
export function onFlatten(s0: RiskState, symbol: string | undefined, nowMs: TsMs, reason = 'flatten'): Step {
  if (symbol !== undefined && s0.instruments[symbol] === undefined) {
    const message = `flatten refused: ${symbol} is not an instrument of the risk manager (${Object.keys(s0.instruments).join(', ')})`;
    return { state: s0, out: [{ type: 'risk.alert', code: 'FLATTEN_INCOMPLETE', message, ts: nowMs }] };
  }
  let s = s0;
  const out: RiskOut[] = [];
  for (const sym of symbol === undefined ? Object.keys(s.instruments) : [symbol]) {
    if (s.flatten[sym] === undefined) s = withFlatten(s, sym, { reason, since: nowMs, refusals: 0, retryAt: 0 as TsMs });
    s = driveFlatten(s, sym, nowMs, out);
  }
  return { state: s, out };
}

/**
 * Handles `risk.flattenCheck` (a backoff or the submit window ended, an exit in flight became late, or the executor
 * reported its venue up: then `venueUp` cuts every backoff short): drives every standing flatten.
 */
export function onFlattenCheck(s0: RiskState, nowMs: TsMs, venueUp: boolean): Step {
  let s = s0;
  const out: RiskOut[] = [];
  for (const sym of Object.keys(s.flatten)) {
    const req = s.flatten[sym];
    if (venueUp && req.retryAt > nowMs) s = withFlatten(s, sym, { ...req, retryAt: 0 as TsMs });
    s = driveFlatten(s, sym, nowMs, out);
  }
  return { state: s, out };
}

/**
 * Returns the earliest time after `nowMs` a standing flatten waits for: its backoff or submit window, or the next ask
 * of a cancel of the open sells holding its lots, with no exit in flight; or the time its exit in flight is late
 * (lateExitAt), if any.
 */
export function nextFlattenCheck(s: RiskState, nowMs: TsMs): TsMs | undefined {
  let at: TsMs | undefined;
  const consider = (t: number | undefined): void => {
    if (t !== undefined && t > nowMs && (at === undefined || t < at)) at = t as TsMs;
  };
  for (const sym in s.flatten) {
    const req = s.flatten[sym];
    if (s.exitOrders[sym] !== undefined) consider(lateExitAt(req));
    else {
      consider(req.retryAt);
      consider(req.held?.cancelAt);
    }
  }
  return at;
}

/**
 * Returns when a standing flatten's exit in flight is reported late: FLATTEN_EXIT_LATE_MS after it was sent, and no
 * sooner than FLATTEN_ALERT_EVERY_MS after the last such report.
 */
function lateExitAt(req: FlattenRequest): TsMs {
  const sent = (req.exitSince ?? req.since) + FLATTEN_EXIT_LATE_MS;
  return (req.lateAlertedAt === undefined ? sent : Math.max(sent, req.lateAlertedAt + FLATTEN_ALERT_EVERY_MS)) as TsMs;
}

const withoutFlatten = (s: RiskState, symbol: string): RiskState => {
  const { [symbol]: _ended, ...flatten } = s.flatten;
  return { ...s, flatten };
};

/**
 * Works off one symbol's standing flatten. With an exit in flight: no second exit (its end or fill comes back here),
 * only a FLATTEN_INCOMPLETE alert once it is late (lateExitAt): an exit the executor never ends would otherwise keep
 * the flatten waiting in silence. Flat:
 * the request ends, except while halted, when it stands until an operator resume (an order approved before the halt
 * may still fill, and its lots must be sold too). Lots that can never be sold (under one lot held, or worth less than
 * the minimum notional at the mark): a FLATTEN_INCOMPLETE alert naming them, once per amount, and no exit (the request
 * ends unless halted, rather than loop). Open strategy sells holding lots: their cancels are asked at once and again
 * after a backoff while they stay open (freeHeldLots; `held.cancelAt` wakes nextFlattenCheck for it), FLATTEN_INCOMPLETE
 * names them once per request (again for more cancels, and at most once a minute while they go unanswered), and their
 * ends drive the flatten again (onOrderEnd). Otherwise, once the backoff is over and the submit window has room, a reduce-only
 * exit of every sellable lot less those the open sells hold.
 */
function driveFlatten(s0: RiskState, symbol: string, nowMs: TsMs, out: RiskOut[]): RiskState {
  let req = s0.flatten[symbol];
  const inst = s0.instruments[symbol];
  if (req === undefined || inst === undefined) return s0;
  const inFlight = s0.exitOrders[symbol];
  if (inFlight !== undefined) {
    if (nowMs < lateExitAt(req)) return s0;
    const sent = req.exitSince ?? req.since;
    const held = s0.portfolio.positions[symbol]?.lots ?? 0;
    const message = `flatten of ${symbol} incomplete: exit ${inFlight} has been in flight for ${nowMs - sent} ms without an end from the executor `
      + `(still submitted or accepted); ${held} lots held; no second exit is sent while it is`;
    out.push({ type: 'risk.alert', code: 'FLATTEN_INCOMPLETE', message, ts: nowMs });
    return withFlatten(s0, symbol, { ...req, lateAlertedAt: nowMs });
  }
  const halted = s0.tradingState === 'halted';
  const p = s0.portfolio.positions[symbol] ?? FLAT;
  if (p.lots <= 0) return halted ? s0 : withoutFlatten(s0, symbol);
  // Open strategy sells hold lots: their cancels are asked at once, backoff or not; their ends drive this again.
  const freed = freeHeldLots(s0, symbol, 'flatten', nowMs, out);
  let s = freed.state;
  const { lots, openSells } = exitLots(s, inst, symbol, p, nowMs);
  const mark = s.marks[symbol];
  const wait = nowMs < req.retryAt;
  const { pending } = freed;
  // Cancels that stay unanswered are said again at most once a minute, and asked again with no mark (nextFlattenCheck).
  const late = pending !== undefined && req.held !== undefined && nowMs - req.held.alertedAt >= FLATTEN_ALERT_EVERY_MS;
  const cancelAt = pending === undefined ? {} : { cancelAt: pending.retryAt };
  if (openSells > 0 && (freed.asked.length > 0 || req.held === undefined || late)) {
    const now = wait || isDust(inst, lots, mark) ? 'nothing now' : `${lots} lots now`;
    const message = `flatten of ${symbol} incomplete: selling ${now}${heldText(openSells, freed.asked, late ? pending : undefined, nowMs, pending, freed.stuck)}`;
    out.push({ type: 'risk.alert', code: 'FLATTEN_INCOMPLETE', message, ts: nowMs });
    req = { ...req, held: { lots: openSells, alertedAt: nowMs, ...cancelAt } };
    s = withFlatten(s, symbol, req);
  } else if (req.held !== undefined && req.held.cancelAt !== pending?.retryAt) {
    const { cancelAt: _was, ...held } = req.held;
    req = { ...req, held: { ...held, ...cancelAt } };
    s = withFlatten(s, symbol, req);
  }
  if (wait) return s;
  if (openSells > 0 && isDust(inst, lots, mark)) return s;
  if (isDust(inst, lots, mark)) {
    if (req.dust !== p.lots) {
      const message = `flatten of ${symbol} stops at dust: ${dustText(inst, p, lots, mark)}`;
      out.push({ type: 'risk.alert', code: 'FLATTEN_INCOMPLETE', message, ts: nowMs });
    }
    if (!halted) return withoutFlatten(s, symbol);
    return req.dust === p.lots ? s : withFlatten(s, symbol, { ...req, dust: p.lots });
  }
  const max = s.limits.maxSubmitsPerSecond;
  if (submitsInWindow(s.submits, nowMs) >= max) {
    // The window is full: wait for its oldest approval that must leave it (an exit cannot outrun any other order).
    const at = (s.submits[s.submits.length - max] + RATE_WINDOW_MS) as TsMs;
    return at === req.retryAt ? s : withFlatten(s, symbol, { ...req, retryAt: at });
  }
  return withFlatten(sendExit(s, symbol, p, lots, mark, 'flatten', nowMs, out), symbol, { ...req, exitSince: nowMs });
}

/**
 * Handles a fill in the machine (`complete`: the fill that ends its order, exec.orderFilled): applies it (onFill),
 * ends the order when complete (onOrderEnded), and drives a standing flatten of the symbol: a sell fill starts the
 * refusal count again, one that leaves the position flat raises FLATTENED, and lots still held (or bought by an order
 * approved before a kill) are sold by the next exit.
 */
export function onExecFill(s0: RiskState, fill: Fill, complete: boolean, nowMs: TsMs): Step {
  const booked = onFill(s0, fill);
  // A fill delivered twice settles its order once.
  const applied = booked === s0 ? s0 : { ...booked, openOrders: settleOpenOrder(booked.openOrders, fill.clientOrderId, fill.lots, complete) };
  let s = complete ? onOrderEnded(applied, fill.clientOrderId) : applied;
  const req = s.flatten[fill.symbol];
  if (req === undefined || applied === s0) return { state: s, out: NO_OUT };
  const out: RiskOut[] = [];
  if (fill.side === 'sell') {
    if (req.refusals > 0) s = withFlatten(s, fill.symbol, { ...req, refusals: 0, retryAt: 0 as TsMs });
    if ((s.portfolio.positions[fill.symbol]?.lots ?? 0) <= 0) {
      const stands = s.tradingState === 'halted' ? '; the request stands until an operator resume, so that an order approved before the halt and filled later is sold too' : '';
      out.push({ type: 'risk.alert', code: 'FLATTENED', message: `${fill.symbol} is flat (flatten: ${req.reason})${stands}`, ts: nowMs });
    }
  }
  return { state: driveFlatten(s, fill.symbol, nowMs, out), out };
}

/**
 * Handles the end of an order without a completing fill (`how`: 'rejected CODE: message', 'cancelled (reason)',
 * 'expired'): an order risk approved stops counting as open (a strategy sell's end drives the standing flatten, or
 * else the stop, its lots held back: a cancel they asked for, say); when it is one of risk's exits, arms the position's stops again (onOrderEnded), a stop exit rejected
 * with lots held waits a backoff (stopRefused), and under a standing flatten with lots still held counts a refusal: FLATTEN_INCOMPLETE (the first at once, then at most once a minute)
 * and the next exit after a backoff of 1 s doubling to 60 s (a flattenCheck then, or the first mark after).
 */
export function onOrderEnd(s0: RiskState, cid: ClientOrderId, how: string, nowMs: TsMs): Step {
  const open = openOrderOf(s0.openOrders, cid);
  const symbol = exitSymbolOf(s0, cid);
  const s = onOrderEnded(s0, cid);
  if (symbol === undefined) {
    // A strategy sell that ended (a cancel a stop or flatten asked, say) frees its lots for the exit waiting on them.
    if (open?.side !== 'sell') return { state: s, out: NO_OUT };
    const out: RiskOut[] = [];
    const next = s.flatten[open.symbol] === undefined ? driveStop(s, open.symbol, nowMs, out) : driveFlatten(s, open.symbol, nowMs, out);
    if (open.cancelAsked !== undefined && next.flatten[open.symbol] === undefined) freedUnprotected(next, open.symbol, cid, open.lots, open.cancelAsked.by, nowMs, out);
    return { state: next, out: out.length > 0 ? out : NO_OUT };
  }
  const req = s.flatten[symbol];
  const held = s.portfolio.positions[symbol]?.lots ?? 0;
  if (req === undefined) return { state: how.startsWith('rejected') ? stopRefused(s, symbol, held, nowMs) : s, out: NO_OUT };
  const out: RiskOut[] = [];
  if (held <= 0) return { state: driveFlatten(s, symbol, nowMs, out), out };
  const refusals = req.refusals + 1;
  const waitMs = flattenBackoffMs(refusals);
  const alert = req.alertedAt === undefined || nowMs - req.alertedAt >= FLATTEN_ALERT_EVERY_MS;
  if (alert) {
    const message = `flatten of ${symbol} incomplete: exit ${cid} ${how}; ${held} lots still held; next exit in ${waitMs} ms (${refusals} refused in a row)`;
    out.push({ type: 'risk.alert', code: 'FLATTEN_INCOMPLETE', message, ts: nowMs });
  }
  const next = withFlatten(s, symbol, { ...req, refusals, retryAt: (nowMs + waitMs) as TsMs, ...(alert ? { alertedAt: nowMs } : {}) });
  return { state: next, out };
}

/**
 * Handles `risk.killSwitch`: on halts (open orders are the executor's to cancel on the state change); off only unlocks
 * `risk.resume`. From the engine (`source` 'engine', sys.halted) it also records the engine failure, which an operator
 * cannot switch off (resumeRefusal).
 */
export function onKillSwitch(s: RiskState, on: boolean, reason: string | undefined, nowMs: TsMs, source: 'operator' | 'engine' = 'operator'): Step {
  const engine = on && source === 'engine';
  if (on === s.killSwitch && !(engine && s.engineFailure === undefined)) return { state: s, out: NO_OUT };
  const why = reason ?? (engine ? 'engine failure' : 'operator');
  const still = s.engineFailure !== undefined ? `; resume stays refused after the engine failure (${s.engineFailure})` : '; trading stays halted until risk.resume';
  const out: RiskOut[] = [{ type: 'risk.alert', code: 'KILL_SWITCH', message: on ? `kill switch on: ${why}` : `kill switch off: ${why}${still}`, ts: nowMs }];
  const state = { ...s, killSwitch: on, ...(engine ? { engineFailure: why } : {}) };
  if (on && s.tradingState !== 'halted') return { state, out, to: { to: 'halted', reason: `kill switch: ${why}` } };
  return { state, out };
}

/**
 * Returns why a resume would be refused now, other than the kill switch (an operator `start` turns that off first),
 * or undefined: an engine failure in this process (refused, not warned: the failed actor is not restarted, so trading
 * would go on without it), or drawdown at or above maxDrawdownBps, or at or above reduceAtDrawdownBps, without
 * `resetPeak` (the next mark would halt or reduce again, and buys would be approved until then).
 */
export function resumeRefusal(s: RiskState, resetPeak: boolean): string | undefined {
  if (s.engineFailure !== undefined) {
    return `the engine halted for a failure (${s.engineFailure}); the failed actor is not restarted in this process: restart the engine`;
  }
  return resetPeak ? undefined : drawdownRefusal(s);
}

// Why drawdown alone would undo a resume at the next mark (onMark: halted at the maximum, reducing at the reducing level).
function drawdownRefusal(s: RiskState): string | undefined {
  const dd = drawdownBps(s.peakEquity, equity(s.portfolio, s.instruments, s.marks));
  const level = drawdownLevel(dd, s.limits);
  if (level === undefined) return undefined;
  const at = level === 'halted' ? `the maximum ${s.limits.maxDrawdownBps} bps` : `the reducing level ${s.limits.reduceAtDrawdownBps} bps`;
  return `drawdown ${dd} bps is at or above ${at}; resume with resetPeak to measure drawdown from the current equity`;
}

// The trading state drawdown `dd` (bps) calls for: halted at maxDrawdownBps, reducing at reduceAtDrawdownBps.
function drawdownLevel(dd: number, l: RiskLimits): 'halted' | 'reducing' | undefined {
  if (dd >= l.maxDrawdownBps) return 'halted';
  return l.reduceAtDrawdownBps !== undefined && dd >= l.reduceAtDrawdownBps ? 'reducing' : undefined;
}

/**
 * Handles `risk.resume`: back to active unless the kill switch is on or resumeRefusal says why not (RESUME_REFUSED
 * alert); `resetPeak` restarts drawdown from current equity. An accepted resume ends every standing flatten
 * (FLATTEN_ENDED alert naming the symbols).
 */
export function onResume(s: RiskState, resetPeak: boolean, nowMs: TsMs): Step {
  const refused = s.killSwitch ? 'the kill switch is on' : resumeRefusal(s, resetPeak);
  if (refused !== undefined) {
    return { state: s, out: [{ type: 'risk.alert', code: 'RESUME_REFUSED', message: `resume refused: ${refused}`, ts: nowMs }] };
  }
  let state = resetPeak ? { ...s, peakEquity: equity(s.portfolio, s.instruments, s.marks) } : s;
  const standing = Object.keys(state.flatten);
  const out: RiskOut[] = [];
  if (standing.length > 0) {
    const reasons = [...new Set(standing.map((sym) => state.flatten[sym].reason))].join('; ');
    out.push({ type: 'risk.alert', code: 'FLATTEN_ENDED', message: `operator resume ends the standing flatten of ${standing.join(', ')} (${reasons})`, ts: nowMs });
    state = { ...state, flatten: {} };
  }
  if (s.tradingState === 'active') return { state, out };
  return { state, out, to: { to: 'active', reason: resetPeak ? 'resumed by operator; drawdown peak reset' : 'resumed by operator' } };
}

/**
 * Handles `risk.setLimits`: merges the new values (announced as `risk.limitsChanged`), or refuses the whole set with a
 * LIMITS_INVALID alert. `symbols` merges per symbol and per key (mergeSymbolLimits); a symbol that is not among the
 * instruments is refused (its caps would never apply). A new varIntervalMs starts the VaR samples over.
 */
export function onSetLimits(s: RiskState, patch: Partial<RiskLimits>, nowMs: TsMs): Step {
  const limits: RiskLimits = { ...s.limits, ...patch, symbols: mergeSymbolLimits(s.limits.symbols, patch.symbols) };
  const unknown = Object.keys(patch.symbols ?? {}).filter((sym) => s.instruments[sym] === undefined);
  const problems = [
    ...validateLimits(limits),
    ...unknown.map((sym) => `symbols.${sym} is not an instrument of the risk manager (${Object.keys(s.instruments).join(', ')})`),
  ];
  if (problems.length > 0) {
    return { state: s, out: [{ type: 'risk.alert', code: 'LIMITS_INVALID', message: `limits refused: ${problems.join('; ')}`, ts: nowMs }] };
  }
  // The VaR samples are indexed by interval: under another interval length they would pair marks of wrong spacing.
  const restart = limits.varIntervalMs !== s.limits.varIntervalMs;
  return { state: { ...s, limits, ...(restart ? { var: EMPTY_VAR } : {}) }, out: [{ type: 'risk.limitsChanged', limits, ts: nowMs }] };
}

