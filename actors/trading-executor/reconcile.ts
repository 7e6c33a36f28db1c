// Reconciliation with the venue, at start-up and as the poll of venues that push no events. Steps, in this order:
//  1. open orders at the venue (per symbol);
//  2. each of our orders not final: learn its venue id (open list, else a query by client id); one the venue never
//     saw is rejected (VENUE_UNKNOWN_ORDER); one the venue closed is remembered for step 5; one whose query fails
//     (timeout, 5xx, unreadable answer) is left exactly as it is and reported (RECONCILE_ORDER_QUERY_FAILED,
//     `ordersUnresolved`, counted in exec.reconciled, which every run with one publishes), and the run goes on with
//     the others; a rate limit or ban ends the run (it is thrown: every later call would be refused too);
//  3. open orders at the venue that we do not know are adopted (loud log) — before the trades, so their earlier fills
//     book to them; so is one listed under the client id of an order of ours we hold final without knowing that venue
//     order (rejected on an error that was no refusal: ORDER_OPEN_AT_VENUE_REJECTED_LOCALLY), under the name
//     venue-<orderId> (a RiskManager exit keeping its intent), a protective stop taken back under its own client id;
//  4. our trades since the last trade id booked per symbol, page after page until a page brings no trade not yet
//     seen (Binance answers at most 1000 trades a page), or after the one answer of a venue whose answer holds them
//     all (`myTradesComplete`: MEXC's adapter reads every trade since that one by time): each missing fill is applied
//     (and published); a trade of an order we never placed books to an adopted order (loud log), except while an
//     order on that symbol is being submitted, or while an order on that symbol whose query failed in step 2 has no
//     venue id yet: the trade is then likely that order's (applyTrade defers it), so the symbol's trades stop there
//     (nothing after it is booked, so the last trade id stays before it) and are read again by the next run. Of
//     reconciliation's reads only this one moves the symbol's trade cursor, to the last trade it dealt with; a fill
//     read by order id (step 5) does not: myTrades lags the order endpoint, and a cursor past such a fill would skip
//     another order's earlier trade that the history had not shown yet;
//  5. an order of ours the venue reports with more filled than booked after step 4 (open, or closed) has its trades
//     read by its venue order id (`fetchOrderTrades`, where the venue has it: step 4's history can miss them, it lags
//     the order endpoint, MEXC's read by time in a millisecond of more than a page) and the missing ones booked like
//     step 4's; then orders the venue closed get its final status (not on a symbol whose trades step 4 left unread); a rate limit or ban there ends the
//     run before the order is closed, another failure of an unknown outcome leaves the order as it is for the next run
//     (`ordersUnresolved`). One the venue calls filled whose fills we still cannot see keeps the quantities booked from
//     real fills and is reported (FILLS_MISSING): no fill is ever invented, and its fills are booked when they show up.
//     One the venue cancelled or expired short of our fills is not closed (its end frees its rest at the RiskManager):
//     it stays open, counted in `ordersUnresolved`, its symbol read by every poll, and ends once its fills are booked;
//     a long wait is reported once (CANCEL_FILLS_MISSING, see awaitFills);
//  6. (start-up) balances: a symbol whose booked base position exceeds what the venue holds is reported, never
//     "fixed" by a fill.
// Running it twice changes nothing: fills are keyed by trade id, acks and closes of a known state are no-ops.
import type { Logger } from 'pino';
import type { PositionQuantity } from '../../engine/messages/exec-status.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { isProtectiveStopId } from '../../engine/messages/orders.ts';
import type { Clock } from '../../engine/runtime/clock.ts';
import { formatFixed } from '../../engine/types/decimal.ts';
import { ADOPTED_ORDER_PREFIX, clientOrderId, type ClientOrderId, type VenueOrderId } from '../../engine/types/ids.ts';
import { asVenueCallError, type ExecutionVenue, type VenueBalance, type VenueOrder, type VenueTrade } from '../../engine/venues/venue.ts';
import { isTerminal, type OrderEvent, type OrderRecord, type PositionRecord, type TransitionResult } from './logic.ts';

/** When a trade of an order the executor does not know is left unbooked ('deferred') instead of adopted. */
export interface ApplyTradeOptions {
  /** While an order on the trade's symbol is being submitted. */
  readonly deferWhileSubmitting?: boolean;
  /** On these symbols (each has an order of ours whose venue id is not known yet). */
  readonly deferSymbols?: ReadonlySet<string>;
}

/** What reconciliation needs from the executor. */
export interface ReconcileHost {
  readonly venue: ExecutionVenue;
  readonly clock: Clock;
  readonly log: Logger;
  openOrders(): OrderRecord[];
  order(cid: string): OrderRecord | undefined;
  orderByVenueId(id: VenueOrderId): OrderRecord | undefined;
  position(symbol: string): PositionRecord | undefined;
  lastTradeId(symbol: string): string | undefined;
  /**
   * Persists the trade id step 4 read the history of `symbol` up to (ExecStore.setLastTradeId). Absent: the cursor
   * read up to is kept for the life of the process and the store's moves with the fills booked in the history's order.
   */
  saveTradeCursor?(symbol: string, tradeId: string): Promise<void>;
  hasFill(symbol: string, tradeId: string): boolean;
  apply(cid: string, ev: OrderEvent): Promise<TransitionResult>;
  applyTrade(t: VenueTrade, opts?: ApplyTradeOptions): Promise<'booked' | 'duplicate' | 'illegal' | 'adopted' | 'deferred'>;
  /** `held`: the final record of ours the venue lists `v` under (step 3). */
  adoptOpenOrder(v: VenueOrder, held?: OrderRecord): Promise<boolean>;
  /** Base-asset amount (1e-9) of `lots` of `symbol`, for the balance check. */
  baseOf(symbol: string, lots: number): bigint | undefined;
  publishBus(m: EngineMsg): void;
}

/** A booked position the venue's balance cannot cover. */
export interface PositionMismatch {
  readonly symbol: string;
  readonly asset: string;
  /** Booked net base amount (1e-9). */
  readonly booked: bigint;
  /** Venue free + locked (1e-9). */
  readonly venue: bigint;
}

// A mismatch as the bus carries it: bigint does not survive JSON, and the alert states the amounts exactly.
const quantityOf = (m: PositionMismatch): PositionQuantity =>
  ({ symbol: m.symbol, asset: m.asset, booked: formatFixed(m.booked), venue: formatFixed(m.venue) });

/** What one reconciliation did. */
export interface ReconcileReport {
  readonly fillsApplied: number;
  readonly fillsDuplicate: number;
  readonly fillsIllegal: number;
  readonly tradesAdopted: number;
  /** Symbols whose trade reading stopped at a trade left for the next run (see step 4). */
  readonly tradesDeferred: readonly string[];
  readonly ordersAccepted: number;
  readonly ordersClosed: number;
  readonly ordersRejected: number;
  readonly ordersAdopted: number;
  /**
   * Client ids of our orders whose status query (step 2) or, closed at the venue short of fills, trades query by order id
   * (step 5) failed: left as they were, for the next run.
   */
  readonly ordersUnresolved: readonly string[];
  /** Orders the venue reports filled whose fills are not in the trade history we could read. */
  readonly fillsMissing: readonly string[];
  readonly positionMismatches: readonly PositionMismatch[];
  readonly balances?: readonly VenueBalance[];
}

/** The counters of a ReconcileReport, which a run that fails part way leaves where it got to (ReconcileOptions.counts). */
export interface ReconcileCounts {
  fillsApplied: number;
  fillsDuplicate: number;
  fillsIllegal: number;
  tradesAdopted: number;
  ordersAccepted: number;
  ordersClosed: number;
  ordersRejected: number;
  ordersAdopted: number;
}

/** Returns counters at zero. */
export const noReconcileCounts = (): ReconcileCounts => ({
  fillsApplied: 0, fillsDuplicate: 0, fillsIllegal: 0, tradesAdopted: 0, ordersAccepted: 0, ordersClosed: 0, ordersRejected: 0, ordersAdopted: 0,
});

/** Options of one run: which symbols (default every venue symbol) and whether to fetch and check balances. */
export interface ReconcileOptions {
  readonly symbols?: readonly string[];
  readonly balances: boolean;
  /**
   * Counters to count on (default new ones at zero): what a run booked before it failed stays counted in them, so
   * the start-up's retries report every fill they applied, not the last attempt's only (the earlier attempts' fills
   * are booked for good, and the trade cursor moved past them: the retry does not read them again).
   */
  readonly counts?: ReconcileCounts;
}

const NUMERIC_ID = /^\d+$/;

// The cursor of the next trade page: Binance's ids are growing integers; other ids follow the venue's order.
/** Returns the later of trade cursor `cursor` and trade id `id` (numerically when both are numbers). */
export function laterTradeId(cursor: string | undefined, id: string): string {
  const numeric = cursor !== undefined && NUMERIC_ID.test(cursor) && NUMERIC_ID.test(id);
  return numeric && BigInt(cursor) > BigInt(id) ? cursor : id;
}

// Per host and symbol, the trade id step 4 read the history up to in this process. The store's cursor moves only with
// fills booked in the history's order (a fill read by order id does not move it), so a history whose trades were all
// booked by order id first would otherwise be read again from that cursor by every poll.
const readUpTo = new WeakMap<ReconcileHost, Map<string, string>>();

// Where step 4 starts reading `symbol`: the later of the store's cursor and the one read up to here (integer ids);
// with ids of no order we can compare (MEXC), the one read up to here, which follows the venue's order.
function tradeCursor(host: ReconcileHost, symbol: string): string | undefined {
  const stored = host.lastTradeId(symbol);
  const read = readUpTo.get(host)?.get(symbol);
  if (read === undefined || stored === undefined) return read ?? stored;
  return NUMERIC_ID.test(read) && NUMERIC_ID.test(stored) ? laterTradeId(read, stored) : read;
}

/**
 * Yields the venue's trades of `symbol` after trade `cursor`, a page at a time (those not in an earlier page), until a
 * page brings nothing new, or after one when the venue answers whole (myTradesComplete: MEXC reads by time from the
 * cursor's trade on, and asking again repeats the answer). Pages on by the latest id seen.
 */
export async function* tradeHistory(venue: ExecutionVenue, symbol: string, cursor: string | undefined): AsyncGenerator<readonly VenueTrade[]> {
  const seen = new Set<string>();
  for (;;) {
    const fresh = (await venue.fetchMyTrades(symbol, cursor)).filter((t) => !seen.has(t.tradeId));
    if (fresh.length === 0) return;
    for (const t of fresh) {
      seen.add(t.tradeId);
      cursor = laterTradeId(cursor, t.tradeId);
    }
    yield fresh;
    if (venue.myTradesComplete) return;
  }
}

async function keepTradeCursor(host: ReconcileHost, symbol: string, tradeId: string): Promise<void> {
  let m = readUpTo.get(host);
  if (!m) readUpTo.set(host, (m = new Map()));
  if (m.get(symbol) === tradeId) return;
  m.set(symbol, tradeId);
  await host.saveTradeCursor?.(symbol, tradeId);
}

// Cancelled or expired orders whose venue fills are not booked yet (step 5), per host: since when, and in how many runs.
const fillWaits = new WeakMap<ReconcileHost, Map<string, { since: number; runs: number; said?: true }>>();
/** Runs and time (both) a closed order may wait for its fills before the wait is reported, once. */
export const FILLS_WAIT_RUNS = 10;
export const FILLS_WAIT_MS = 5 * 60_000;

// Counts one more run of order `o` waiting for its fills, and reports a long wait once. It keeps waiting: closing it
// with the venue's status would free at the RiskManager a rest the venue says has filled (a sell of lots already sold,
// a buy past the position cap), while an order left open only keeps counted lots that are not free anyway.
function awaitFills(host: ReconcileHost, o: OrderRecord, v: VenueOrder): void {
  let m = fillWaits.get(host);
  if (!m) fillWaits.set(host, (m = new Map()));
  const now = host.clock.now();
  const w = m.get(o.clientOrderId) ?? { since: now, runs: 0 };
  m.set(o.clientOrderId, w);
  w.runs++;
  if (w.said || w.runs < FILLS_WAIT_RUNS || now - w.since < FILLS_WAIT_MS) return;
  w.said = true;
  host.log.error({ clientOrderId: o.clientOrderId, venueOrderId: v.venueOrderId, symbol: v.symbol, venueStatus: v.status, bookedLots: o.filledLots,
    venueFilledLots: v.filledLots, waitedMs: now - w.since, code: 'CANCEL_FILLS_MISSING' },
  `reconcile: the venue closed the order (${v.status}) with fills its trade history still lacks; it stays open here, its rest counted, until they are booked`);
}

/** The trade counts of a run that step 4 adds to. */
type TradeCounts = { fillsApplied: number; fillsDuplicate: number; fillsIllegal: number; tradesAdopted: number };

// Step 4 for one symbol: books its trades since the last one booked. Returns false when a trade was deferred (the
// symbol's trades stop there, for the next run).
async function bookTrades(host: ReconcileHost, symbol: string, deferSymbols: ReadonlySet<string>, r: TradeCounts): Promise<boolean> {
  const start = tradeCursor(host, symbol);
  let cursor = start;
  // Kept only as far as the trades were all dealt with: a deferred trade is read again by the next run.
  const done = async (): Promise<void> => {
    if (cursor !== undefined && cursor !== start) await keepTradeCursor(host, symbol, cursor);
  };
  for await (const fresh of tradeHistory(host.venue, symbol, start)) {
    for (const t of fresh) {
      if (host.hasFill(t.symbol, t.tradeId)) {
        // Ids of no order (MEXC: read from the cursor trade's millisecond, that trade left out) move it only on a trade
        // booked now: two of a millisecond would each send it to the other, a flip and a write on every read.
        if (NUMERIC_ID.test(t.tradeId)) cursor = laterTradeId(cursor, t.tradeId);
        r.fillsDuplicate++;
        continue;
      }
      const out = await host.applyTrade(t, { deferWhileSubmitting: true, deferSymbols });
      if (out === 'deferred') {
        await done();
        return false;
      }
      cursor = laterTradeId(cursor, t.tradeId);
      if (out === 'booked') r.fillsApplied++;
      else if (out === 'adopted') {
        r.fillsApplied++;
        r.tradesAdopted++;
      } else if (out === 'duplicate') r.fillsDuplicate++;
      else r.fillsIllegal++;
    }
  }
  await done();
  return true;
}

// Step 5 for order `o`, which the venue reports (`v`) with more lots filled than booked: reads its trades by venue order
// id and books those missing, out of the history's order (they leave the trade cursor where it is). Returns false
// when that read failed with an unknown outcome (the order is then left for the next run); a rate limit or ban is thrown, as in step 2: every later call would be refused too.
async function bookOrderTrades(host: ReconcileHost, o: OrderRecord, v: VenueOrder, r: TradeCounts): Promise<boolean> {
  if (!host.venue.fetchOrderTrades) return true;
  let trades: VenueTrade[];
  try {
    trades = await host.venue.fetchOrderTrades(v.symbol, v.venueOrderId);
  } catch (e) {
    const err = asVenueCallError(e);
    if (err.kind === 'rateLimited' || err.kind === 'banned') throw err;
    host.log.error({ clientOrderId: o.clientOrderId, venueOrderId: v.venueOrderId, symbol: v.symbol, venueCode: err.code, kind: err.kind, err, code: 'RECONCILE_ORDER_TRADES_FAILED' },
      err.kind === 'unknown'
        ? 'reconcile: reading the trades of an order the venue closed short of our fills failed; the order is left as it is until a later run can read them'
        : 'reconcile: the venue refused to list the trades of an order it closed short of our fills');
    return err.kind !== 'unknown';
  }
  for (const t of trades) {
    if (t.venueOrderId !== v.venueOrderId || host.hasFill(t.symbol, t.tradeId)) continue;
    // Named by our client id: the trade is this order's whatever the executor's venue-id index holds.
    const out = await host.applyTrade({ ...t, clientOrderId: o.clientOrderId as ClientOrderId, outOfSequence: true });
    if (out === 'booked' || out === 'adopted') r.fillsApplied++;
    else if (out === 'duplicate') r.fillsDuplicate++;
    else if (out === 'illegal') r.fillsIllegal++;
  }
  return true;
}

// Step 3 for an order the venue lists open (`v`) under the client id of our order `o`, which we hold final without
// knowing that venue order (a refusal misread, e.g. a venue error that was no refusal): left so, nothing would track
// it, a halt would not cancel it and its fills would book to a stranger. Adopted under its venue id's name
// (venue-<orderId>, queried and cancelled by order id), so the next run finds it by its venue id and adopts nothing;
// a RiskManager exit keeps its intent (a halt leaves it working). A protective stop is taken back under its own
// client id instead, as the stop it is: the stops module manages only those.
async function adoptFinalHere(host: ReconcileHost, o: OrderRecord, v: VenueOrder): Promise<boolean> {
  const stop = isProtectiveStopId(o.clientOrderId);
  const name = stop ? o.clientOrderId : clientOrderId(`${ADOPTED_ORDER_PREFIX}${v.venueOrderId}`);
  host.log.error({
    clientOrderId: o.clientOrderId, status: o.status, rejectCode: o.rejectCode, venueOrderId: v.venueOrderId, venueStatus: v.status, adoptedAs: name,
    symbol: v.symbol, side: v.side, lots: v.lots, filledLots: v.filledLots, code: o.status === 'rejected' ? 'ORDER_OPEN_AT_VENUE_REJECTED_LOCALLY' : 'ORDER_OPEN_AT_VENUE_CLOSED_LOCALLY',
  }, stop
    ? `reconcile: the venue has our protective stop open that we hold ${o.status}: taken back as the stop it is`
    : `reconcile: the venue has our order open that we hold ${o.status}: adopted as ${name}, so it is tracked, cancelled by a halt and its fills booked to it`);
  return host.adoptOpenOrder({ ...v, clientOrderId: name }, o);
}

/** Reconciles the host's orders, fills and positions with the venue; see the header comment. */
export async function reconcile(host: ReconcileHost, opts: ReconcileOptions): Promise<ReconcileReport> {
  const { venue, log } = host;
  const symbols = opts.symbols ?? venue.symbols;
  // The lists say how the venue stands now: each run's own. The counters add up over the runs sharing `opts.counts`.
  const r = Object.assign(opts.counts ?? noReconcileCounts(), {
    fillsMissing: [] as string[], positionMismatches: [] as PositionMismatch[], tradesDeferred: [] as string[], ordersUnresolved: [] as string[],
  });
  const changed = (t: TransitionResult): boolean => t.kind === 'ok';

  // 1. open orders
  const open = new Map<string, VenueOrder>();
  const openByVenueId = new Map<string, VenueOrder>();
  for (const s of symbols) {
    for (const v of await venue.fetchOpenOrders(s)) {
      open.set(v.clientOrderId, v);
      openByVenueId.set(v.venueOrderId, v);
    }
  }
  // An order adopted under its venue id's name (step 3) is listed under its client id: found by its venue id, no query.
  const listed = (o: OrderRecord): VenueOrder | undefined => {
    const v = open.get(o.clientOrderId) ?? (o.venueOrderId !== undefined ? openByVenueId.get(o.venueOrderId) : undefined);
    return v && { ...v, clientOrderId: o.clientOrderId as ClientOrderId };
  };

  // 2. our unfinished orders
  const closedAtVenue: VenueOrder[] = [];
  // Open at the venue with more filled than booked: read by order id after step 4 unless the history brought their
  // fills (it lags the order endpoint).
  const shortOfFills: VenueOrder[] = [];
  // Symbols with an order whose query failed before we learnt its venue id: a trade there that names no known order
  // may be that order's, so it must not be adopted as a stranger's (step 4).
  const unresolvedNoVenueId = new Set<string>();
  for (const o of host.openOrders()) {
    if (!symbols.includes(o.intent.symbol)) continue;
    let v = listed(o);
    if (!v) {
      try {
        v = await venue.fetchOrder(o.intent.symbol, o.clientOrderId as ClientOrderId);
      } catch (e) {
        const err = asVenueCallError(e);
        if (err.kind === 'rateLimited' || err.kind === 'banned') throw err;
        r.ordersUnresolved.push(o.clientOrderId);
        if (o.venueOrderId === undefined) unresolvedNoVenueId.add(o.intent.symbol);
        log.error({ clientOrderId: o.clientOrderId, symbol: o.intent.symbol, status: o.status, venueCode: err.code, kind: err.kind, err, code: 'RECONCILE_ORDER_QUERY_FAILED' },
          'reconcile: the order status query failed; the order is left as it is until a later run can read it');
        continue;
      }
    }
    if (!v) {
      if (o.status === 'new' || o.status === 'submitted') {
        log.warn({ clientOrderId: o.clientOrderId, code: 'VENUE_UNKNOWN_ORDER' }, 'reconcile: the venue never received this order: rejected');
        if (changed(await host.apply(o.clientOrderId, { type: 'rejected', code: 'VENUE_UNKNOWN_ORDER', message: 'the venue has no order with this client id' }))) r.ordersRejected++;
      } else {
        log.error({ clientOrderId: o.clientOrderId, status: o.status, code: 'VENUE_LOST_ORDER' }, 'reconcile: an accepted order is unknown to the venue; left as is');
      }
      continue;
    }
    if (o.status === 'new' || o.status === 'submitted') {
      if (o.status === 'new') await host.apply(o.clientOrderId, { type: 'submit' });
      if (changed(await host.apply(o.clientOrderId, { type: 'accepted', venueOrderId: v.venueOrderId }))) r.ordersAccepted++;
    }
    if (isTerminal(v.status)) closedAtVenue.push(v);
    else if (o.filledLots < v.filledLots) shortOfFills.push(v);
  }

  // 3. adopt open orders we do not know, and those of ours we hold final
  for (const v of open.values()) {
    const known = host.orderByVenueId(v.venueOrderId);
    if (known) {
      // Its record is final here but the venue still has it: late fills book to it (logic.ts), a halt would not
      // cancel it; adopting it needs the executor to take back a final record.
      if (isTerminal(known.status) && !isTerminal(v.status)) {
        log.warn({ clientOrderId: known.clientOrderId, status: known.status, venueOrderId: v.venueOrderId, venueStatus: v.status, code: 'ORDER_OPEN_AT_VENUE_CLOSED_LOCALLY' },
          `reconcile: the venue lists open an order we hold ${known.status}; left as it is`);
      }
      continue;
    }
    const mine = host.order(v.clientOrderId);
    if (!mine) {
      if (await host.adoptOpenOrder(v)) r.ordersAdopted++;
      continue;
    }
    if (isTerminal(mine.status) && !isTerminal(v.status) && (await adoptFinalHere(host, mine, v))) r.ordersAdopted++;
  }

  // 4. missing fills: every page, since step 5 must not close an order whose fills are on a page not yet read
  for (const s of symbols) {
    if (!await bookTrades(host, s, unresolvedNoVenueId, r)) r.tradesDeferred.push(s);
  }

  // 5. fills the history has not shown of orders still open at the venue
  for (const v of shortOfFills) {
    const o = host.order(v.clientOrderId);
    if (!o || o.filledLots >= v.filledLots || r.tradesDeferred.includes(v.symbol)) continue;
    if (!await bookOrderTrades(host, o, v, r)) r.ordersUnresolved.push(o.clientOrderId);
  }
  // and final states the venue reports
  for (const v of closedAtVenue) {
    let o = host.order(v.clientOrderId);
    if (!o || isTerminal(o.status) || r.tradesDeferred.includes(v.symbol)) continue;
    if (o.filledLots < v.filledLots) {
      if (!await bookOrderTrades(host, o, v, r)) {
        r.ordersUnresolved.push(o.clientOrderId);
        continue;
      }
      o = host.order(v.clientOrderId) ?? o;
      // Its last fill may have filled it.
      if (isTerminal(o.status)) continue;
    }
    // A cancelled or expired order short of the venue's fills: its end would free at the RiskManager a rest that has
    // in part filled (an exit sized on it oversells). It stays open, so every poll reads its symbol's trades again.
    if (v.status !== 'filled' && o.filledLots < v.filledLots) {
      r.ordersUnresolved.push(o.clientOrderId);
      awaitFills(host, o, v);
      continue;
    }
    fillWaits.get(host)?.delete(o.clientOrderId);
    if (v.status === 'filled' && o.filledLots < v.filledLots) {
      r.fillsMissing.push(o.clientOrderId);
      log.error({ clientOrderId: o.clientOrderId, bookedLots: o.filledLots, venueFilledLots: v.filledLots, code: 'FILLS_MISSING' },
        'reconcile: the venue reports the order filled but its trade history lacks fills; quantities stay as booked, no fill is invented');
    }
    const status = v.status === 'filled' ? 'filled' : v.status === 'expired' ? 'expired' : 'cancelled';
    if (changed(await host.apply(o.clientOrderId, { type: 'closed', status, reason: `closed at the venue (${v.status})` }))) r.ordersClosed++;
  }

  // 6. balances
  let balances: VenueBalance[] | undefined;
  if (opts.balances) {
    balances = await venue.fetchBalances();
    for (const s of venue.symbols) {
      const p = host.position(s);
      if (!p || p.netLots <= 0) continue;
      const asset = s.split('/')[0]!;
      const booked = (host.baseOf(s, p.netLots) ?? 0n) - (p.fees[asset] ?? 0n);
      const b = balances.find((x) => x.asset === asset);
      const held = b ? b.free + b.locked : 0n;
      if (held < booked) {
        r.positionMismatches.push({ symbol: s, asset, booked, venue: held });
        log.error({ symbol: s, asset, booked: String(booked), venue: String(held), code: 'POSITION_MISMATCH' },
          'reconcile: the booked position exceeds what the venue holds; reported, not corrected');
      }
    }
  }

  const report: ReconcileReport = { ...r, ...(balances ? { balances } : {}) };
  // An order left unresolved is reported by every run while it lasts, so the dashboard sees the status query failing.
  const touched = r.fillsApplied + r.ordersAccepted + r.ordersClosed + r.ordersRejected + r.ordersAdopted + r.ordersUnresolved.length > 0;
  if (opts.balances || touched) {
    log.info({ ...r, positionMismatches: r.positionMismatches.map((m) => m.symbol) }, 'reconciled with the venue');
    host.publishBus({
      type: 'exec.reconciled', venue: venue.id, fillsApplied: r.fillsApplied, ordersClosed: r.ordersClosed + r.ordersRejected,
      ordersAdopted: r.ordersAdopted + r.tradesAdopted, ordersUnresolved: r.ordersUnresolved.length,
      positionMismatches: r.positionMismatches.map((m) => m.symbol), positionQuantities: r.positionMismatches.map(quantityOf), ts: host.clock.now(),
    });
  }
  return report;
}
