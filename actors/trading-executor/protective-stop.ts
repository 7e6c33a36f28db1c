// Protective stops (config execution.protectiveStop): a stop-loss-limit sell that rests at the venue while a long
// position is open, so that a position is protected when the engine is not there to run its own stop (killed, out of
// memory, host down). The engine's stop (the RiskManager's stopLossBps on the position's cost) normally acts first:
// the venue stop sits `extraBps` further away and is the backstop.
//   stop price  = average cost × (1 − (stopLossBps + extraBps) / 10 000), rounded DOWN to the tick (a sell trigger
//                 set lower never fires earlier than asked);
//   limit price = stop price × (1 − limitBps / 10 000), rounded down;
//   lots        = the whole position the account can sell (open lots, less base-asset fees paid), none when that is
//                 worth less than the venue's minimum notional at the limit price (logged once, reported as dust).
// Per symbol, one check at a time (`refresh`): place the stop when none matches, replace one of the wrong size or
// price (cancel, then place), cancel it when flat. Where the venue replaces in one request (Binance cancelReplace,
// `replaceOrder`), one resting stop (accepted, not triggered) is replaced that way, so that the venue never holds the
// position without a stop: the new stop is recorded before it is sent, the old one's cancel applied as a cancel's
// answer is, and its trades read as after a cancel; it asks the venue to cancel only a stop that has not begun
// filling (ONLY_NEW). When that request cannot be used (not one resting stop, trades unread, a refused plan) or its
// cancel failed (the old stop filled, closed or began filling), the check takes the cancel-then-place path; when the
// venue did not act on it (429/418, -1015) or could not be asked (breaker open), the old stop stays and the check is
// tried again later; when the venue refused it before acting, the old stop stays, never cancelled for a plan the venue
// refuses, and the refusal is recorded for that plan (PROTECTIVE_STOP_REPLACE_REFUSED, the panel `refused` beside the
// old stop): one of the order's shape (isRefusedForGood: a filter failure such as -1013 LOT_SIZE, PRICE_FILTER or
// NOTIONAL, a -11xx parameter error; the same request would be refused again) is not sent again, nor retried on a
// backoff, until the position or the plan changes; one of the request itself (cancel-replace not allowed, an open-order
// limit the old stop counts in: isReplaceRequestRefusal) bars replaces on the symbol (for an hour; a limit's for 15
// min), the stop cancelled then placed at once; any other (the account, funds, a price band, a closed market, which
// may clear and may bar a placement too) is tried again as a replace on the backoff, one through the price every
// 5 min, the old stop resting meanwhile. Such a refusal holds back only the replace of the stop it left resting: once
// that stop is gone (cancelled by hand or for an exit, filled), the refusal is forgotten and the position's stop
// placed. When its new stop was refused, the trades are read
// and a position they changed gets its stop placed, else the refusal is recorded as a placement's is; with no answer,
// the old stop's trades count as unread and both orders are queried before the next check. A stop that has triggered
// and is part filled is left to work. While another sell of ours on the symbol is working, no stop is placed: it would
// lock the base asset that sell needs.
// Before any such sell is sent, `clearForExit` cancels the stop and waits for the venue's answer; any stop the venue
// may have held may have traded (a triggered stop cancelled after part fills answers "cancelled" too), so the symbol's
// trades are read again before the sell is sized (up to 3 tries on the engine clock: one failed read must not refuse a
// stop-loss exit); when they still cannot be read the sell is capped so that it cannot sell what the cancelled stop may
// have sold (never sell twice). Until that read succeeds the symbol is "trades unread": every check reads it before any
// stop is placed (a stop sized on the position before the stop's fills would sell what is gone). A replace reads the
// trades too before sizing the new stop.
// A check that leaves the stop not as the position needs (a cancel or a placement that failed, the venue circuit
// breaker open, a submission with no answer) sets another on the engine clock, 5 s doubling to 5 min; a stop the
// venue refused is not placed again for the same position and stop-loss before that backoff ends; one refused because
// the price was through it (PROTECTIVE_STOP_THROUGH, an error logged once) is tried again every 5 min (the price may
// recover), each retry at warn. A refusal is forgotten once the position is flat or another one. A real venue refusal
// does not itself bring a check, so a refusing venue is not hammered; a rejection the executor made (no answer, breaker
// open, order unknown at the venue) does, the refusal gate above keeping it from looping. A submission with no answer
// yet is checked again without growing the backoff. A stale stop that could not be cancelled is logged
// PROTECTIVE_STOP_STALE.
import type { Logger } from 'pino';
import type { ProtectiveStopFigures, ProtectiveStopOrderView, ProtectiveStopRow, ProtectiveStopState } from '../../engine/dashboard/metrics.ts';
import { isProtectiveStopId, PROTECTIVE_STOP_PREFIX, type OrderIntent } from '../../engine/messages/orders.ts';
import { intentId } from '../../engine/types/ids.ts';
import { notional, type Instrument } from '../../engine/types/instrument.ts';
import { formatSteps, type Lots, type Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { baseAmount } from '../../engine/venues/ledger.ts';
import { clientOrderIdOfIntent, isTerminal, type OrderRecord, type PositionRecord } from './logic.ts';

const BPS = 10_000n;

/** Settings of the protective stops (config execution.protectiveStop). */
export interface ProtectiveStopSettings {
  readonly enabled: boolean;
  /** How much further than the engine's stop-loss the venue stop triggers, in basis points of the cost. */
  readonly extraBps: number;
  /** How far below the trigger the limit price sits, in basis points of the trigger price. */
  readonly limitBps: number;
  /** The engine's stop-loss when the RiskManager's own limits cannot be read (config risk.stopLossPct); 0: none. */
  readonly stopLossBps?: number;
}

/** What the stop of a position should be. */
export type StopPlan =
  | { readonly kind: 'stop'; readonly lots: Lots; readonly stopPrice: Ticks; readonly price: Ticks }
  | { readonly kind: 'none'; readonly reason: 'flat' | 'noCost' | 'tooFar' }
  | { readonly kind: 'none'; readonly reason: 'dust'; readonly lots: number };

/** Returns the whole lots of `p` the account holds to sell: net lots less the base-asset fees paid, floored. */
export function sellableLots(inst: Instrument, p: PositionRecord | undefined): number {
  if (!p || p.netLots <= 0) return 0;
  const held = baseAmount(inst, p.netLots) - (p.fees[inst.base] ?? 0n);
  const lot = baseAmount(inst, 1);
  return held <= 0n || lot <= 0n ? 0 : Math.min(p.netLots, Number(held / lot));
}

/** Returns the stop a long position `p` calls for; see the header for the rules. */
export function planStop(inst: Instrument, p: PositionRecord | undefined, stopLossBps: number, s: ProtectiveStopSettings): StopPlan {
  const open = p?.openLots ?? p?.netLots ?? 0;
  if (!p || open <= 0) return { kind: 'none', reason: 'flat' };
  const cost = p.openCost;
  if (cost === undefined || cost <= 0n) return { kind: 'none', reason: 'noCost' };
  const distance = BigInt(stopLossBps + s.extraBps);
  if (distance >= BPS) return { kind: 'none', reason: 'tooFar' };
  // Stop ticks T: the largest with notional(T, open) <= cost × (1 − distance); notional in 1e-9 units is
  // T × tick mantissa × open × lot mantissa × 10^(9 − tick scale − lot scale).
  const scale = inst.tickSize.scale + inst.lotSize.scale;
  const perTick = inst.tickSize.mantissa * BigInt(open) * inst.lotSize.mantissa * 10n ** 9n;
  const stopPrice = Number((cost * (BPS - distance) * 10n ** BigInt(scale)) / (BPS * perTick));
  const price = Number((BigInt(stopPrice) * (BPS - BigInt(s.limitBps))) / BPS);
  const lots = Math.min(open, sellableLots(inst, p));
  // Fees paid in the base asset can leave a sold-out position a few lots on the books and none in the account.
  if (lots <= 0) return { kind: 'none', reason: 'flat' };
  if (stopPrice < 1 || price < 1) return { kind: 'none', reason: 'tooFar' };
  if (notional(inst, price as Ticks, lots as Lots) < inst.minNotional) return { kind: 'none', reason: 'dust', lots };
  return { kind: 'stop', lots: lots as Lots, stopPrice: stopPrice as Ticks, price: price as Ticks };
}

/** Returns true when the order is a protective stop of `symbol` not yet final. */
export const isLiveStop = (o: OrderRecord, symbol: string): boolean => isProtectiveStopId(o.clientOrderId) && o.intent.symbol === symbol && !isTerminal(o.status);

/** Returns true when stop order `o` is the one `plan` asks for. */
export const stopMatches = (o: OrderRecord, plan: StopPlan): boolean =>
  plan.kind === 'stop' && o.intent.lots === plan.lots && o.intent.stopPrice === plan.stopPrice && o.intent.price === plan.price;

/** Returns the intent of a protective stop; `n` makes the id unique among the stops placed for the same position. */
export function stopIntent(symbol: string, plan: Extract<StopPlan, { kind: 'stop' }>, positionTradeId: string | undefined, n: number, now: TsMs): OrderIntent {
  return {
    id: intentId(`${PROTECTIVE_STOP_PREFIX}${symbol}-${positionTradeId ?? '0'}-${n}`), symbol, side: 'sell', orderType: 'limit', lots: plan.lots,
    price: plan.price, stopPrice: plan.stopPrice, timeInForce: 'GTC', reduceOnly: true, reason: 'protective stop', ts: now,
  };
}

/** What the stops need from the executor. */
export interface ProtectiveStopHost {
  readonly log: Logger;
  /** True once the executor reconciled with the venue and trades. */
  readonly isLive: boolean;
  now(): TsMs;
  instrumentOf(symbol: string): Instrument | undefined;
  position(symbol: string): PositionRecord | undefined;
  /** Orders not final, those being submitted included. */
  unfinishedOrders(): OrderRecord[];
  order(cid: string): OrderRecord | undefined;
  /** The engine's stop-loss in basis points now (the RiskManager's limits), undefined when it cannot be read. */
  riskStopLossBps(): number | undefined;
  /** Records and submits the order of `intent` (client id from its id), resolving once the venue answered. */
  placeOrder(intent: OrderIntent): Promise<void>;
  /**
   * Cancels stop `oldCid` and places the order of `intent` in one venue request, the new order recorded before it is
   * sent (absent where the venue has no such request); see ReplaceOutcome.
   */
  replaceOrder?(oldCid: string, intent: OrderIntent, reason: string): Promise<ReplaceOutcome>;
  /** Cancels the order and resolves once the venue answered (or every attempt failed). */
  cancelOrder(cid: string, reason: string): Promise<void>;
  /** Reads the symbol's orders and trades at the venue again (a reconciliation of that symbol). */
  syncSymbol(symbol: string): Promise<void>;
  /** False while the venue circuit breaker is open (an order would be refused locally). */
  canSend(): boolean;
  /** Checks the symbol's stop again in `ms` on the engine clock (one pending check per symbol, the latest wins). */
  checkLater(symbol: string, ms: number): void;
  /** Waits `ms` on the engine clock; false when the executor stopped meanwhile. */
  sleep(ms: number): Promise<boolean>;
}

/**
 * What a one-request replace came to: both done (the old stop cancelled, the new one accepted); nothing placed, the
 * old stop's state to be settled by the cancel-then-place path (`fallback`: its cancel failed, or the request could not
 * be used); nothing done at the venue and the old stop resting as it was, either unasked (`kept`: 429/418, the breaker
 * open, the executor not live: tried again later) or refused (`refused`: the venue refused the request before acting,
 * the new order rejected with its code and words, which tell whether the same plan would be refused again); the old
 * stop cancelled and the new one refused by the venue (`newRefused`, the order rejected with the venue's code); or no
 * answer (`unresolved`: the new order stays submitted until queried, and the old one may be cancelled or not).
 */
export type ReplaceOutcome = 'replaced' | 'fallback' | 'kept' | 'refused' | 'newRefused' | 'unresolved';

/**
 * What `clearForExit` found: no stop left; a stop that may have filled (the position was read again); or one whose
 * trades could not be read, `unaccounted` lots of it possibly sold and not booked (the sell must leave them out).
 */
export type ClearResult =
  | { readonly kind: 'clear' }
  | { readonly kind: 'changed' }
  | { readonly kind: 'unresolved'; readonly unaccounted: number };

/** Tries of the trades read after a stop cancel before a sell, and the wait before the second (doubling). */
export const STOP_READ_TRIES = 3;
export const STOP_READ_BACKOFF_MS = 500;

/** The rejection of a replacement stop whose replace request could not cancel the old stop: no refusal of the stop. */
export const REPLACE_CANCEL_FAILED = 'REPLACE_CANCEL_FAILED';

/** Rejection codes the executor sets itself (no venue refusal): such a rejected stop is checked again at once. */
const EXECUTOR_REJECT_CODES: ReadonlySet<string> = new Set([
  'VENUE_UNKNOWN_ORDER', 'VENUE_UNAVAILABLE', 'VENUE_CIRCUIT_OPEN', 'VENUE_RATE_LIMITED', 'VENUE_IP_BANNED', 'EXECUTOR_NOT_READY', 'UNKNOWN_INSTRUMENT',
  REPLACE_CANCEL_FAILED,
]);

/** Returns true when rejected order `o` was refused by the venue itself (not by the executor for want of an answer). */
export const isVenueRefusal = (o: OrderRecord): boolean => o.rejectCode === undefined || !EXECUTOR_REJECT_CODES.has(o.rejectCode);

/** Backoff of the checks of a symbol whose stop could not be set: 5 s doubling to 5 min, on the engine clock. */
export const STOP_RETRY_FIRST_MS = 5_000;
export const STOP_RETRY_MAX_MS = 300_000;

/** Returns the wait before check number `attempt` (0-based) after failed ones. */
export const stopRetryDelay = (attempt: number): number => Math.min(STOP_RETRY_MAX_MS, STOP_RETRY_FIRST_MS * 2 ** Math.min(attempt, 16));

/** Returns true when a venue's refusal says the price is already through the stop (Binance -2010). */
export const isThroughRefusal = (o: OrderRecord): boolean => /would trigger immediately/i.test(o.reason ?? '');

// Refusals of the order's shape, which the same request meets again whatever the account or the market does. Binance
// answers every filter failure with the one code -1013, those that clear by themselves (MAX_NUM_ORDERS,
// MAX_NUM_ALGO_ORDERS: orders open; MAX_POSITION: the balance; PERCENT_PRICE, PERCENT_PRICE_BY_SIDE: against the
// recent average price, which moves) too, so the filter's name in its message tells them apart; -11xx are malformed
// parameters; the last are ccxt's own InvalidOrder, raised before anything is sent.
const ORDER_SHAPE_REFUSALS: readonly RegExp[] = [
  /Filter failure: (?:LOT_SIZE|MARKET_LOT_SIZE|PRICE_FILTER|MIN_NOTIONAL|NOTIONAL)\b/,
  /"code":\s*-11\d\d\b/,
  /must be greater than minimum (?:amount|price) precision|is not a valid order type|parameter is not allowed for/,
];

/**
 * Returns true when rejected order `o` was refused for its shape (a filter or a parameter), so that sending it again
 * unchanged is refused again; false for a refusal that may clear (account, permission, order-count limits, funds).
 */
export const isRefusedForGood = (o: OrderRecord): boolean => ORDER_SHAPE_REFUSALS.some((re) => re.test(o.reason ?? ''));

// Refusals of a cancelReplace request that a cancel then a placement do not meet: the symbol does not allow the
// request, or an open-order limit counts the old stop (Binance checks filters and order count before the cancel).
const REPLACE_UNSUPPORTED = /cancel-replace is not supported/i;
const REPLACE_OVER_LIMIT = /Filter failure: (?:EXCHANGE_)?MAX_NUM_(?:ALGO_)?ORDERS\b/i;

/** How long (engine ms) a symbol whose replace request was refused for the request itself gets no replace. */
export const REPLACE_BARRED_MS = 3_600_000;
/** The same for an open-order limit the old stop counted in, which clears as orders close. */
export const REPLACE_LIMIT_BARRED_MS = 900_000;

/** Returns true when the venue's words `message` refuse the replace request itself, not the stop it asks for. */
export const isReplaceRequestRefusal = (message: string | undefined): boolean =>
  REPLACE_UNSUPPORTED.test(message ?? '') || REPLACE_OVER_LIMIT.test(message ?? '');

// What the stop of a plan is, for telling whether a refused plan is the one asked for again.
const planKey = (p: Extract<StopPlan, { kind: 'stop' }>): string => `${p.lots}@${p.stopPrice}/${p.price}`;

// Which position a refusal was for: a re-entry of the same size at the same price is another position (another
// last trade), and its stop is asked for afresh.
const positionKey = (p: PositionRecord | undefined): string => `${p?.lastTradeId ?? ''}/${p?.openLots ?? p?.netLots ?? 0}`;

/** A stop the venue (or the breaker) refused: not asked for again before `retryAt`, or until the plan or position differs. */
interface Refusal {
  readonly key: string;
  readonly position: string;
  readonly code: string;
  /** The price was through the stop: retried every STOP_RETRY_MAX_MS (the price may recover), logged once as an error. */
  readonly through: boolean;
  /** Infinity for a replacement refused for good (isRefusedForGood): asked for again once the plan or position differs. */
  readonly retryAt: number;
  /** What the venue said, for the operator (the code alone rarely tells why). */
  readonly message?: string;
  /**
   * A replacement refused before the venue acted: the client id of the old stop, which still rests and is kept. Only
   * that stop's replace is held back: once it no longer rests, the refusal holds nothing back (see dropGoneKept).
   */
  readonly kept?: string;
}

// A stop of ours not final at the venue: resting, sent without an answer yet, or triggered and selling.
const liveState = (o: OrderRecord): ProtectiveStopState =>
  o.status === 'partiallyFilled' ? 'triggered' : o.status === 'new' || o.status === 'submitted' ? 'pending' : 'resting';

// Why no stop protects the position: the first problem that holds it back, else what the plan says.
function idleState(stale: boolean, unread: boolean, refusal: Refusal | undefined, plan: StopPlan): ProtectiveStopState {
  if (stale) return 'stale';
  if (unread) return 'unresolved';
  if (refusal) return refusal.through ? 'through' : 'refused';
  if (plan.kind === 'stop') return 'missing';
  return plan.reason === 'dust' || plan.reason === 'flat' ? plan.reason : 'unpriced';
}

// True when `r` held back the replace of a stop that is no longer among `live`: it holds nothing back any more.
const keptGone = (r: Refusal, live: readonly OrderRecord[]): boolean => r.kept !== undefined && !live.some((o) => o.clientOrderId === r.kept);

function refusalView(r: Refusal): NonNullable<ProtectiveStopRow['refusal']> {
  return { code: r.code, through: r.through, retryAt: r.retryAt as TsMs, ...(r.message ? { message: r.message } : {}) };
}

function stopView(inst: Instrument, o: OrderRecord): ProtectiveStopOrderView {
  const px = (t: Ticks | undefined): string | null => (t === undefined ? null : formatSteps(t, inst.tickSize));
  return {
    clientOrderId: o.clientOrderId, status: o.status, stopPrice: px(o.intent.stopPrice), price: px(o.intent.price),
    qty: formatSteps(o.intent.lots, inst.lotSize), filledQty: formatSteps(o.filledLots, inst.lotSize),
  };
}

/** The protective stops of one executor; see the header comment. */
export class ProtectiveStops {
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly queued = new Map<string, Promise<void>>();
  /** Symbols whose position is dust, logged once until it changes. */
  private readonly dust = new Map<string, number>();
  /** The last stop refused per symbol (see Refusal). */
  private readonly refused = new Map<string, Refusal>();
  /** Per symbol, the stop a replace the venue did not act on (or could not be sent) kept, and until when it is not tried again. */
  private readonly kept = new Map<string, { readonly stop: string; readonly until: number }>();
  /**
   * Per symbol, until when (engine ms) no replace is sent: the venue refused the replace request itself there, which
   * any plan would meet again: for REPLACE_BARRED_MS when the symbol does not allow it, REPLACE_LIMIT_BARRED_MS for an
   * open-order limit the old stop counted in (it clears as orders close, and each resize meanwhile is a cancel then a
   * placement: a gap; a standing limit costs one refused replace per bar).
   */
  private readonly replaceBarred = new Map<string, number>();
  /** Checks in a row per symbol that left its stop not as the position needs: the backoff of the next. */
  private readonly failures = new Map<string, number>();
  /** Per symbol, the cancelled stops whose trades could not be read since: they may have sold lots not booked yet. */
  private readonly unread = new Map<string, readonly string[]>();
  /** Stops placed and cancelled, for the dashboard and tests. */
  readonly counters = { placed: 0, cancelled: 0, skippedDust: 0, refused: 0 };

  constructor(private readonly host: ProtectiveStopHost, readonly settings: ProtectiveStopSettings) {}

  /**
   * The counters, and the stops of ours not final at the venue now (/metrics: engine/dashboard/metrics.ts). Before the
   * executor reconciled with the venue (the rows' `unverified`, same `isLive`) the stored stops are the last run's, which
   * the venue may have cancelled or filled since: they count as `unverified`, none as resting, so that neither the
   * panel's head nor the gauge calls a position protected when nobody knows.
   */
  figures(): Omit<ProtectiveStopFigures, 'symbols'> {
    const counts = {
      placed: this.counters.placed, cancelled: this.counters.cancelled, skippedDust: this.counters.skippedDust,
      ...(this.counters.refused > 0 ? { refused: this.counters.refused } : {}),
    };
    const stops = this.host.unfinishedOrders().filter((o) => isProtectiveStopId(o.clientOrderId));
    if (!this.host.isLive) return { ...counts, resting: 0, unverified: stops.length };
    // Only a stop the venue accepted protects anything: one sent without an answer yet may still be refused.
    const resting = stops.filter((o) => o.status === 'accepted' || o.status === 'partiallyFilled').length;
    const open = stops.length - resting;
    return open > 0 ? { ...counts, resting, open } : { ...counts, resting };
  }

  /**
   * Returns, per symbol of `symbols` with a position, a stop of ours or a problem left, what protects it at the venue
   * now (the dashboard's panel). Reads state only: no check, no log, no venue call.
   */
  snapshot(symbols: readonly string[]): ProtectiveStopRow[] {
    const rows: ProtectiveStopRow[] = [];
    const unfinished = this.host.unfinishedOrders();
    for (const symbol of symbols) {
      const inst = this.host.instrumentOf(symbol);
      const row = inst && this.snapshotOf(inst, symbol, unfinished.filter((o) => isLiveStop(o, symbol)));
      if (row) rows.push(row);
    }
    return rows;
  }

  private snapshotOf(inst: Instrument, symbol: string, live: readonly OrderRecord[]): ProtectiveStopRow | undefined {
    const p = this.host.position(symbol);
    const open = Math.max(0, p?.openLots ?? p?.netLots ?? 0);
    const unread = this.unread.get(symbol);
    const r = this.refused.get(symbol);
    // A refusal of an earlier position's stop is forgotten by the next check: it says nothing of this one.
    // So is one that held back only the replace of a stop that no longer rests: the next check places the stop.
    const refusal = r && r.position === positionKey(p) && !keptGone(r, live) ? r : undefined;
    if (open === 0 && live.length === 0 && !unread && !refusal) return undefined;
    // As `plan` prices it, without its dust log.
    const plan: StopPlan = this.settings.enabled
      ? planStop(inst, p, this.host.riskStopLossBps() ?? this.settings.stopLossBps ?? 0, this.settings) : { kind: 'none', reason: 'flat' };
    const stop = live.find((o) => stopMatches(o, plan)) ?? live.find((o) => o.status === 'partiallyFilled');
    // The old stop a replacement refused for good left resting: it protects the position, not as the plan asks, and
    // never will (the row says refused, with the venue's words, beside it).
    const refusedPlan = refusal?.kept !== undefined && plan.kind === 'stop' && planKey(plan) === refusal.key;
    const kept = stop || !refusedPlan ? undefined : live.find((o) => o.clientOrderId === refusal.kept);
    // A stop that does not fit is stale once a check failed to replace it; before that, the check replacing it runs.
    const failed = (this.failures.get(symbol) ?? 0) > 0;
    const stale = failed ? live.filter((o) => o !== stop && o !== kept) : [];
    const shown = stop ?? kept ?? (failed ? undefined : live[0]);
    const view = (o: OrderRecord) => stopView(inst, o);
    // Before reconciliation the orders are the last run's as stored: the venue may have cancelled or filled them since,
    // and no check runs to place a missing one.
    const state = !this.host.isLive ? 'unverified' : kept ? 'refused' : shown ? liveState(shown) : idleState(stale.length > 0, unread !== undefined, refusal, plan);
    return {
      symbol, positionQty: formatSteps(open, inst.lotSize), state,
      ...(shown ? { stop: view(shown) } : {}),
      ...(refusal && (!shown || kept) ? { refusal: refusalView(refusal) } : {}),
      ...(stale.length > 0 ? { stale: stale.map(view) } : {}),
      ...(unread ? { unresolved: { clientOrderIds: unread, qty: formatSteps(this.unaccountedLots(symbol), inst.lotSize) } } : {}),
    };
  }

  /** Queues a check of `symbol`'s stop (one queued check per symbol covers any number of calls). */
  refresh(symbol: string): Promise<void> {
    const q = this.queued.get(symbol);
    if (q) return q;
    const p = this.chain(symbol, async () => {
      this.queued.delete(symbol);
      await this.sync(symbol);
    });
    this.queued.set(symbol, p);
    return p;
  }

  /** Cancels `symbol`'s stops before a sell of ours goes out, waiting for the venue; see the header. */
  clearForExit(symbol: string): Promise<ClearResult> {
    return this.chain(symbol, async (): Promise<ClearResult> => {
      const stops = this.host.unfinishedOrders().filter((o) => isLiveStop(o, symbol));
      if (stops.length > 0) this.markUnread(symbol, await this.cancelAll(stops, 'a sell of the position is going out: the stop frees the base asset it locks'));
      this.dropGoneKept(symbol);
      if (!this.unread.has(symbol)) return { kind: 'clear' };
      if (await this.readTrades(symbol, STOP_READ_TRIES)) return { kind: 'changed' };
      return { kind: 'unresolved', unaccounted: this.unaccountedLots(symbol) };
    });
  }

  private chain<T>(symbol: string, fn: () => Promise<T>): Promise<T> {
    const p = (this.chains.get(symbol) ?? Promise.resolve()).then(fn);
    this.chains.set(symbol, p.catch(() => undefined));
    return p;
  }

  // Cancels `stops`; returns the ids of those that may have traded. A venue's "cancelled" says nothing of the fills a
  // triggered stop got before it, so any stop the venue may have held counts: only one it refused never could have.
  private async cancelAll(stops: readonly OrderRecord[], reason: string): Promise<string[]> {
    const traded: string[] = [];
    for (const o of stops) {
      await this.host.cancelOrder(o.clientOrderId, reason);
      this.counters.cancelled++;
      const after = this.host.order(o.clientOrderId);
      if (after?.status !== 'rejected') traded.push(o.clientOrderId);
      this.host.log.info({ clientOrderId: o.clientOrderId, symbol: o.intent.symbol, status: after?.status, code: 'PROTECTIVE_STOP_CANCELLED' }, `protective stop cancelled: ${reason}`);
    }
    return traded;
  }

  private markUnread(symbol: string, cids: readonly string[]): void {
    // A stop whose earlier cancel failed is cancelled again: counted once.
    if (cids.length > 0) this.unread.set(symbol, [...new Set([...(this.unread.get(symbol) ?? []), ...cids])]);
  }

  // Reads the symbol's trades (the fills of the stops cancelled meanwhile), `tries` times on a doubling backoff;
  // returns false when none succeeded: the symbol stays "trades unread".
  private async readTrades(symbol: string, tries: number): Promise<boolean> {
    for (let i = 0; ; i++) {
      try {
        await this.host.syncSymbol(symbol);
        this.unread.delete(symbol);
        return true;
      } catch (err) {
        this.host.log.warn({ err, symbol, attempt: i + 1, code: 'PROTECTIVE_STOP_UNRESOLVED' }, 'the cancelled protective stop\'s trades could not be read');
        if (i + 1 >= tries || !(await this.host.sleep(STOP_READ_BACKOFF_MS * 2 ** i))) return false;
      }
    }
  }

  // The lots the unread cancelled stops may have sold beyond the fills booked for them.
  private unaccountedLots(symbol: string): number {
    let lots = 0;
    for (const cid of this.unread.get(symbol) ?? []) {
      const o = this.host.order(cid);
      if (o) lots += Math.max(0, o.intent.lots - o.filledLots);
    }
    return lots;
  }

  private async sync(symbol: string): Promise<void> {
    if (!this.host.isLive) return;
    const inst = this.host.instrumentOf(symbol);
    if (!inst) return;
    // A cancelled stop's fills not read yet: any stop sized now would be sized on lots that may be sold.
    if (this.unread.has(symbol) && !(await this.readTrades(symbol, 1))) return void this.retryLater(symbol, 'the cancelled stop\'s trades could not be read');
    const open = this.host.unfinishedOrders().filter((o) => o.intent.symbol === symbol);
    const stops = open.filter((o) => isLiveStop(o, symbol));
    // Triggered and part filled: it is selling the position now; the position's next fills bring the next check.
    if (stops.some((o) => o.status === 'partiallyFilled')) return;
    if (open.some((o) => o.intent.side === 'sell' && !isProtectiveStopId(o.clientOrderId))) return;
    const plan = this.plan(inst, symbol);
    // Flat or no stop wanted: a refusal of an earlier position's stop says nothing of the next position's.
    if (plan.kind === 'none') this.refused.delete(symbol);
    const keep = stops.find((o) => stopMatches(o, plan));
    const stale = stops.filter((o) => o !== keep);
    if (!keep && plan.kind === 'stop' && (await this.tryReplace(inst, symbol, stale, plan))) return;
    if (stale.length > 0 && !(await this.removeStale(symbol, stale, plan))) return;
    if (keep) {
      // Not answered yet: it may still come back refused, which brings no check of its own.
      if (keep.status === 'new' || keep.status === 'submitted') this.recheck(symbol);
      else this.settled(symbol);
      return;
    }
    // The cancels' fills (read by removeStale) may have changed the position: the stop is sized on what is left.
    const fresh = stale.length > 0 ? this.plan(inst, symbol) : plan;
    if (fresh.kind !== 'stop') return this.settled(symbol);
    await this.place(symbol, fresh);
  }

  // Cancels the stops that no longer fit and reads the symbol's trades (they may have traded before the cancel);
  // returns false when one is still open or the trades could not be read: the check is tried again later.
  private async removeStale(symbol: string, stale: readonly OrderRecord[], plan: StopPlan): Promise<boolean> {
    this.markUnread(symbol, await this.cancelAll(stale, plan.kind === 'stop' ? 'replaced by a stop for the current position' : `no stop needed (${plan.reason})`));
    const left = stale.filter((o) => isLiveStop(this.host.order(o.clientOrderId) ?? o, symbol));
    if (left.length > 0) {
      this.host.log.error({ symbol, clientOrderIds: left.map((o) => o.clientOrderId), code: 'PROTECTIVE_STOP_STALE' },
        'the protective stop at the venue no longer fits the position and could not be cancelled');
      this.retryLater(symbol, 'a stale stop could not be cancelled');
      return false;
    }
    if (!this.unread.has(symbol) || (await this.readTrades(symbol, 1))) return true;
    this.retryLater(symbol, 'the cancelled stop\'s trades could not be read: no new stop until they are');
    return false;
  }

  // One resting stop that no longer fits, replaced in one venue request (see the header); returns false when the check
  // must go on by the cancel-then-place path instead (nothing placed).
  private async tryReplace(inst: Instrument, symbol: string, stale: readonly OrderRecord[], plan: Extract<StopPlan, { kind: 'stop' }>): Promise<boolean> {
    const old = stale.length === 1 ? stale[0] : undefined;
    if (!this.host.replaceOrder || old?.status !== 'accepted' || this.unread.has(symbol)) return false;
    const key = planKey(plan);
    // A plan refused lately is left to the cancel-then-place path, whose placement holds it back the same way; but a
    // stop that a refused replacement left resting is kept as it is (cancelling it would leave none) until the
    // refusal's retry, which is set again: a check meanwhile may have replaced the pending one.
    if (this.refusedNow(symbol, key, positionKey(this.host.position(symbol)))) return this.holdKept(symbol, old.clientOrderId);
    // The replace request itself was refused on this symbol lately (see refuseReplace): cancel then place.
    if ((this.replaceBarred.get(symbol) ?? 0) > this.host.now()) return false;
    // Kept lately: the check set on the backoff tries again. Without this gate a replacement the executor itself
    // rejected (VENUE_RATE_LIMITED while a 429 lasts) brings a check at once, which would try again at once.
    // Only for the stop it kept: another stop (another position) is replaced as usual.
    const k = this.kept.get(symbol);
    if (k?.stop === old.clientOrderId && k.until > this.host.now()) return void this.host.checkLater(symbol, k.until - this.host.now()), true;
    // The venue failing: the resting stop keeps protecting the position until it can be replaced.
    if (!this.host.canSend()) return this.keep(symbol, old.clientOrderId, 'the venue circuit breaker is open: the old stop stays');
    const intent = this.nextStopIntent(symbol, plan);
    const cid = clientOrderIdOfIntent(intent);
    const outcome = await this.host.replaceOrder(old.clientOrderId, intent, 'replaced by a stop for the current position');
    if (outcome === 'fallback') return false;
    if (outcome === 'refused') return this.refuseReplace(symbol, old, plan, cid);
    // Nothing done at the venue for now (429/418, breaker open, not live): the old stop still protects the position;
    // cancelling it on the other path would leave none while the same block stands.
    if (outcome === 'kept') return this.keep(symbol, old.clientOrderId, 'the venue did not act on the replace request: the old stop stays');
    this.kept.delete(symbol);
    // Counted as place() counts: a stop sent (refused or not), and the old one cancelled unless the outcome is unknown.
    this.counters.placed++;
    if (outcome !== 'unresolved') this.counters.cancelled++;
    const fields = { symbol, lots: plan.lots, stopPrice: plan.stopPrice, price: plan.price, clientOrderId: cid, replaced: old.clientOrderId };
    if (outcome === 'replaced') this.host.log.info({ ...fields, code: 'PROTECTIVE_STOP_REPLACED' }, 'protective stop replaced at the venue in one request');
    else if (outcome === 'newRefused') this.host.log.warn({ ...fields, oldStop: 'cancelled', code: 'PROTECTIVE_STOP_REPLACE_REFUSED' }, 'the venue cancelled the old protective stop and refused its replacement: re-planned once its trades are read');
    else this.host.log.warn({ ...fields, code: 'PROTECTIVE_STOP_REPLACE_UNRESOLVED' }, 'the replace request had no answer: both stops are queried before the next check');
    // The old stop may have traded before its cancel, as after any cancel.
    this.markUnread(symbol, [old.clientOrderId]);
    if (outcome === 'unresolved') {
      this.retryLater(symbol, 'the replace request had no answer: both stops are queried');
      return true;
    }
    if (!(await this.readTrades(symbol, 1))) {
      this.retryLater(symbol, 'the replaced stop\'s trades could not be read: no new stop until they are');
      return true;
    }
    if (outcome === 'replaced') {
      this.refused.delete(symbol);
      this.settled(symbol);
      // The request sends ONLY_NEW (a stop that began filling is not cancelled), but should the old stop have traded
      // anyway, the new one is sized on the position before those fills: checked again at once.
      const now = this.plan(inst, symbol);
      if (now.kind !== 'stop' || planKey(now) !== key) this.host.checkLater(symbol, 0);
      return true;
    }
    await this.afterReplaceRefused(inst, symbol, key, cid);
    return true;
  }

  // The old stop stays; the replace is tried again on the backoff, not before.
  private keep(symbol: string, stop: string, why: string): true {
    this.kept.set(symbol, { stop, until: this.host.now() + this.retryLater(symbol, why) });
    return true;
  }

  // The venue refused the replacement before acting: the old stop rests as it was. Recorded as a placement's refusal
  // is (a backoff, or every 5 min through the price), but one of the order's shape with no retry time: refusedNow holds
  // it back until the plan or the position changes (a fill, a new stop-loss) or the old stop is gone.
  private refuseReplace(symbol: string, old: OrderRecord, plan: Extract<StopPlan, { kind: 'stop' }>, cid: string): true {
    const o = this.host.order(cid);
    // The executor records the new order before sending it: none here is a bug, and the old stop stays meanwhile.
    if (!o) return this.keep(symbol, old.clientOrderId, `the refused replacement ${cid} is not on record`);
    // Counted as place() counts a refused placement (refuse() counts the refusal): sent, nothing cancelled.
    this.counters.placed++;
    this.kept.delete(symbol);
    // Refused for the request itself (cancel-replace not allowed for the symbol, an open-order limit the old stop
    // counts in): no plan of the symbol's would pass as a replace, and the stop asked for is not at fault, so nothing
    // is recorded against it; the check runs again at once and cancels then places. Any other refusal is recorded for
    // the plan and tried again as a replace, the old stop resting: one that bars a placement too (funds, the account, a
    // closed market, a price band) would leave the position with no stop after a cancel.
    if (isReplaceRequestRefusal(o.reason)) {
      this.counters.refused++;
      const barredMs = REPLACE_UNSUPPORTED.test(o.reason ?? '') ? REPLACE_BARRED_MS : REPLACE_LIMIT_BARRED_MS;
      this.replaceBarred.set(symbol, this.host.now() + barredMs);
      this.host.log.warn({
        symbol, clientOrderId: cid, replaced: old.clientOrderId, venueCode: o.rejectCode, venueMessage: o.reason, barredMs,
        code: 'PROTECTIVE_STOP_REPLACE_REFUSED',
      }, `the venue refused the replace request itself: the stop is cancelled then placed, and replaced that way on this symbol for ${barredMs / 60_000} min`);
      this.host.checkLater(symbol, 0);
      return true;
    }
    this.refuse(symbol, planKey(plan), positionKey(this.host.position(symbol)), o, old.clientOrderId);
    const retryAt = this.refused.get(symbol)?.retryAt ?? this.host.now();
    const forGood = !Number.isFinite(retryAt);
    this.host.log.warn({
      symbol, lots: plan.lots, stopPrice: plan.stopPrice, price: plan.price, clientOrderId: cid, replaced: old.clientOrderId, oldStop: 'resting',
      venueCode: o.rejectCode, venueMessage: o.reason, forGood, ...(forGood ? {} : { retryInMs: retryAt - this.host.now() }), code: 'PROTECTIVE_STOP_REPLACE_REFUSED',
    }, forGood
      ? 'the venue refused the replacement protective stop for good: the old stop still rests; this stop is not sent again until the position or the stop-loss changes'
      : 'the venue refused the replacement protective stop: the old stop still rests; tried again later');
    return true;
  }

  // The replace of `old` held back by a refusal: true (nothing to do now, the old stop rests) when the refusal kept
  // that stop, its retry set again when it has one; false when it is another stop's (the cancel-then-place path).
  private holdKept(symbol: string, old: string): boolean {
    const r = this.refused.get(symbol);
    if (r?.kept !== old) return false;
    if (Number.isFinite(r.retryAt)) this.host.checkLater(symbol, Math.max(0, r.retryAt - this.host.now()));
    return true;
  }

  // The replace cancelled the old stop and the venue refused the new one. Fills of the old stop (read just now) that
  // changed the position made the refused size stale: the stop for what is left is placed, as the cancel-then-place
  // path would place it; the same plan is a refusal of it, recorded as a placement's is.
  private async afterReplaceRefused(inst: Instrument, symbol: string, key: string, cid: string): Promise<void> {
    const fresh = this.plan(inst, symbol);
    if (fresh.kind !== 'stop') return this.settled(symbol);
    if (planKey(fresh) !== key) return this.place(symbol, fresh);
    const o = this.host.order(cid);
    if (o?.status === 'rejected') return this.refuse(symbol, key, positionKey(this.host.position(symbol)), o);
    this.recheck(symbol);
  }

  // True when the plan `key` was refused for this position and its backoff runs; a refusal of another position, or of
  // the replace of a stop that no longer rests, is forgotten.
  private refusedNow(symbol: string, key: string, position: string): boolean {
    this.dropGoneKept(symbol);
    const r = this.refused.get(symbol);
    if (r && r.position !== position) this.refused.delete(symbol);
    else if (r?.key === key && this.host.now() < r.retryAt) return true;
    return false;
  }

  // A refused replacement held back only the replace of the stop it left resting: with that stop cancelled (by hand,
  // for an exit) or filled, keeping the refusal would leave the position with no stop at all, for good.
  private dropGoneKept(symbol: string): void {
    const r = this.refused.get(symbol);
    if (r && keptGone(r, this.host.unfinishedOrders().filter((o) => isLiveStop(o, symbol)))) this.refused.delete(symbol);
  }

  // The intent of the stop `plan` asks for, its client id not used before.
  private nextStopIntent(symbol: string, plan: Extract<StopPlan, { kind: 'stop' }>): OrderIntent {
    const last = this.host.position(symbol)?.lastTradeId;
    let n = 0;
    let intent = stopIntent(symbol, plan, last, n, this.host.now());
    while (this.host.order(clientOrderIdOfIntent(intent))) intent = stopIntent(symbol, plan, last, ++n, this.host.now());
    return intent;
  }

  private async place(symbol: string, plan: Extract<StopPlan, { kind: 'stop' }>): Promise<void> {
    const key = planKey(plan);
    const position = positionKey(this.host.position(symbol));
    if (this.refusedNow(symbol, key, position)) return;
    if (!this.host.canSend()) return void this.retryLater(symbol, 'the venue circuit breaker is open');
    const intent = this.nextStopIntent(symbol, plan);
    const cid = clientOrderIdOfIntent(intent);
    this.counters.placed++;
    this.host.log.info({ symbol, lots: plan.lots, stopPrice: plan.stopPrice, price: plan.price, clientOrderId: cid, code: 'PROTECTIVE_STOP_PLACED' },
      'protective stop placed at the venue for the whole position');
    await this.host.placeOrder(intent);
    const o = this.host.order(cid);
    if (o?.status === 'rejected') return this.refuse(symbol, key, position, o);
    if (!o || o.status === 'new' || o.status === 'submitted') return this.recheck(symbol);
    this.refused.delete(symbol);
    this.settled(symbol);
  }

  // A refused stop is not placed again for the same plan before the backoff ends; through its price, every 5 min; the
  // replacement of a resting stop (`kept`, its client id) refused for its shape, not until the plan or position changes.
  private refuse(symbol: string, key: string, position: string, o: OrderRecord, kept?: string): void {
    this.counters.refused++;
    const code = o.rejectCode ?? 'UNKNOWN';
    const base = { key, position, code, ...(o.reason ? { message: o.reason } : {}), ...(kept === undefined ? {} : { kept }) };
    const prev = this.refused.get(symbol);
    if (isThroughRefusal(o)) {
      this.refused.set(symbol, { ...base, through: true, retryAt: this.host.now() + STOP_RETRY_MAX_MS });
      this.host.checkLater(symbol, STOP_RETRY_MAX_MS);
      const fields = { symbol, clientOrderId: o.clientOrderId, stopPrice: o.intent.stopPrice, retryInMs: STOP_RETRY_MAX_MS, venueCode: code };
      if (prev?.key === key && prev.through) {
        this.host.log.warn({ ...fields, code: 'PROTECTIVE_STOP_RETRY' }, 'the price is still through the protective stop: tried again later');
        return;
      }
      const left = kept === undefined ? 'none rests at the venue' : `the old stop ${kept} still rests`;
      this.host.log.error({ ...fields, code: 'PROTECTIVE_STOP_THROUGH' },
        `the price is already through the protective stop: ${left}; tried again every 5 min until the position or the stop-loss changes`);
      return;
    }
    // Only with a stop left resting: with none, trying again on the backoff is the position's only chance of one.
    if (kept !== undefined && isRefusedForGood(o)) {
      this.settled(symbol);
      this.refused.set(symbol, { ...base, through: false, retryAt: Number.POSITIVE_INFINITY });
      return;
    }
    const wait = this.retryLater(symbol, `the venue refused it (${code})`);
    this.refused.set(symbol, { ...base, through: false, retryAt: this.host.now() + wait });
  }

  // A submission with no answer yet is looked at again at the current backoff, not a longer one: waiting on the
  // venue's answer is no failure of the stop (and looking costs no venue call).
  private recheck(symbol: string): void {
    this.host.checkLater(symbol, stopRetryDelay(Math.max(0, (this.failures.get(symbol) ?? 0) - 1)));
  }

  // Sets another check of `symbol` after the backoff of its failures in a row; returns the wait.
  private retryLater(symbol: string, why: string): number {
    const attempt = this.failures.get(symbol) ?? 0;
    this.failures.set(symbol, attempt + 1);
    const wait = stopRetryDelay(attempt);
    this.host.log.warn({ symbol, attempt: attempt + 1, retryInMs: wait, code: 'PROTECTIVE_STOP_RETRY' }, `protective stop not as the position needs (${why}): checked again later`);
    this.host.checkLater(symbol, wait);
    return wait;
  }

  // The stop is what the position needs: the backoff starts over, and no replace is held back.
  private settled(symbol: string): void {
    this.failures.delete(symbol);
    this.kept.delete(symbol);
  }

  private plan(inst: Instrument, symbol: string): StopPlan {
    if (!this.settings.enabled) return { kind: 'none', reason: 'flat' };
    const plan = planStop(inst, this.host.position(symbol), this.host.riskStopLossBps() ?? this.settings.stopLossBps ?? 0, this.settings);
    if (plan.kind === 'none' && plan.reason === 'dust') {
      if (this.dust.get(symbol) !== plan.lots) {
        this.counters.skippedDust++;
        this.host.log.warn({ symbol, lots: plan.lots, code: 'PROTECTIVE_STOP_DUST' },
          'position below one lot or the venue minimum notional at the stop price: no protective stop at the venue');
      }
      this.dust.set(symbol, plan.lots);
    } else this.dust.delete(symbol);
    if (plan.kind === 'none' && plan.reason !== 'flat' && plan.reason !== 'dust') {
      this.host.log.warn({ symbol, reason: plan.reason, code: 'PROTECTIVE_STOP_UNPRICED' }, 'no protective stop: its price cannot be set for this position');
    }
    return plan;
  }
}
