// The paper venue across restarts. PaperVenue keeps its account, open orders and trades in memory and numbers its
// orders and trades from 1; this wrapper makes it behave like a real venue that outlives the engine process:
// - every change (submit, fill, close, cancel) writes the venue's state to LMDB (layout below) before the executor
//   hears of it: balances (free + locked per asset), open orders, the last trades, the highest ids handed out;
// - at start the state is read back: balances are restored, open orders are placed again in a fresh matching engine
//   (same client id, same venue order id, remaining quantity, and the market lots that were ahead of them in their
//   queue, capped at what the level shows once the book is live) without the checks made only when an order is
//   entered (a partly filled order rests whatever its remainder is worth); one that cannot be placed again (no such
//   symbol any more, funds missing, a malformed queue figure) is logged and ends `expired`, never silently dropped.
//   Ids continue above the stored ones, so a trade id is never reused and the executor's de-duplication by trade id
//   stays right;
// - orders that ended cancelled or expired (the newest `keep`) are kept too, so fetchOrder answers their final
//   status after a restart (a filled order is answered from its trades);
// - the trade history (last PAPER_KEEP) answers fetchMyTrades, so the executor's reconciliation finds fills it
//   had not booked when the process died;
// - the balances the account started with are stored with it. A start with other starting balances (an edited
//   execution.paper.initialQuote) refuses with a ConfigError: the venue would go on from the stored balances while the
//   risk manager rebuilds its cash from the new ones, two accounts that disagree on every later check.
// Layout: one order step must cost the same with 10 or 2,000 trades kept, so the history is not rewritten with it. The
// small state (balances, open orders, id counters, starting balances) is one record (`paper.state`, key `state`);
// each trade has its own key (`paper.trades`, by trade id) and each cancelled or expired order its own
// (`paper.closed`, by client id, with a sequence number that orders them). A step writes the small record, the trades
// and closed orders it added and the removals of those pushed past `keep`, in one transaction. A store written when
// the whole state was one record (its trades and closed orders inside) is moved to this layout once, at start.
// The write for a change is issued before the event reaches the executor, and LMDB commits writes in issue order,
// so the executor's store never holds a fill the paper state lacks (the reverse is reconciled at start). Queue
// positions move with every print, not only with changes: the stored figure is the one of the last write (`flush`
// writes once more at shutdown). It can only be larger than the true one (a queue only shrinks), never flattering.
import type { Fill } from '../engine/messages/orders.ts';
import { formatFixed } from '../engine/types/decimal.ts';
import { ConfigError } from '../engine/types/errors.ts';
import { log, type Logger } from '../engine/log.ts';
import type { LmdbStore, TypedDb } from '../engine/store/lmdb.ts';
import { clientOrderId, venueOrderId, type ClientOrderId, type VenueOrderId } from '../engine/types/ids.ts';
import type { VenueId } from '../engine/types/instrument.ts';
import type { Money } from '../engine/types/money.ts';
import type { Lots, Ticks } from '../engine/types/price.ts';
import type { TsMs } from '../engine/types/time.ts';
import { PAPER_KEEP, PaperVenue, type PaperVenueOptions } from '../engine/venues/paper/paper-venue.ts';
import type {
  CancelResult, ExecutionVenue, SubmitResult, VenueBalance, VenueEvent, VenueOrder, VenueOrderRequest, VenueTrade,
} from '../engine/venues/venue.ts';
import type { BookListener } from './paper-books.ts';
import { Listeners } from '../engine/runtime/listeners.ts';

const KEY = 'state';
const STATE_DB = 'paper.state';
const TRADES_DB = 'paper.trades';
const CLOSED_DB = 'paper.closed';

/** An open order as stored: with the market lots ahead of it in its queue when it was resting. */
export type StoredOrder = VenueOrder & { readonly queueAhead?: Lots };

/** The record every order step rewrites whole (`paper.state`, key `state`): nothing in it grows with the history. */
export interface PaperStateRecord {
  readonly balances: Readonly<Record<string, bigint>>;
  readonly open: readonly StoredOrder[];
  readonly maxOrderId: number;
  readonly maxTradeId: number;
  /** The balances the account started with (absent in a state written before they were kept). */
  readonly initial?: Readonly<Record<string, bigint>>;
}

/** The whole paper account: the record with its kept trades and closed orders (see readPaperState). */
export interface PaperState extends PaperStateRecord {
  readonly trades: readonly VenueTrade[];
  /** Orders that ended cancelled or expired, oldest first (absent in a state written before they were kept). */
  readonly closed?: readonly VenueOrder[];
}

/** What `paper.state` may hold: the record, or the whole state of a store written before the split layout. */
type StoredRecord = PaperStateRecord & { readonly trades?: readonly VenueTrade[]; readonly closed?: readonly VenueOrder[] };

/** A cancelled or expired order as stored under its client id; `seq` orders them (oldest lowest). */
interface ClosedEntry { readonly seq: number; readonly order: VenueOrder }

interface PaperDbs {
  readonly state: TypedDb<string, StoredRecord>;
  readonly trades: TypedDb<number, VenueTrade>;
  readonly closed: TypedDb<string, ClosedEntry>;
}

function paperDbs(store: LmdbStore): PaperDbs {
  return { state: store.db(STATE_DB), trades: store.db(TRADES_DB), closed: store.db(CLOSED_DB) };
}

// Trade ids are the venue's own decimal integers: as numbers they key the trades in the order they were made.
const tradeKey = (t: VenueTrade): number => Number(t.tradeId);

/** Returns the paper account stored in `store` (either layout), or undefined when there is none. */
export function readPaperState(store: LmdbStore): PaperState | undefined {
  const dbs = paperDbs(store);
  const saved = dbs.state.get(KEY);
  if (saved === undefined) return undefined;
  const { trades, closed } = historyOf(dbs, saved);
  return { ...recordOf(saved), trades, closed: closed.map((c) => c.order) };
}

// A record that still carries its trades or closed orders was written before they had keys of their own.
function isWholeState(saved: StoredRecord): boolean {
  return saved.trades !== undefined || saved.closed !== undefined;
}

function recordOf(saved: StoredRecord): PaperStateRecord {
  const { trades: _t, closed: _c, ...record } = saved;
  return record;
}

/** The kept history as read at start; `whole`: it came from inside the record (a store of the one-record layout). */
interface StoredHistory { readonly whole: boolean; readonly trades: readonly VenueTrade[]; readonly closed: readonly ClosedEntry[] }

// The kept trades (by trade id) and closed orders (oldest first), from the record itself when it was written whole,
// else from their own databases (the split layout).
function historyOf(dbs: PaperDbs, saved: StoredRecord): StoredHistory {
  if (isWholeState(saved)) {
    return { whole: true, trades: saved.trades ?? [], closed: (saved.closed ?? []).map((order, seq) => ({ seq, order })) };
  }
  const trades = [...dbs.trades.entries()].map((e) => e.value);
  const closed = [...dbs.closed.entries()].map((e) => e.value).sort((a, b) => a.seq - b.seq);
  return { whole: false, trades, closed };
}

/** Puts and removals by key since the last write; a key's last change wins. */
class KeyedChanges<K extends number | string, V> {
  private puts = new Map<K, V>();
  private removals = new Set<K>();

  put(key: K, value: V): void {
    this.removals.delete(key);
    this.puts.set(key, value);
  }

  // Removed in the store too when it was written before (a removal of a key never written is a no-op there).
  remove(key: K): void {
    this.puts.delete(key);
    this.removals.add(key);
  }

  /** Hands over the changes (to be written inside a transaction later) and starts afresh. */
  take(): KeyedBatch<K, V> {
    const batch = { puts: this.puts, removals: this.removals };
    this.puts = new Map();
    this.removals = new Set();
    return batch;
  }

  /** Takes back a batch whose write failed, under the changes made since (a later change of a key wins). */
  requeue(batch: KeyedBatch<K, V>): void {
    const newer = (k: K): boolean => this.puts.has(k) || this.removals.has(k);
    for (const k of batch.removals) if (!newer(k)) this.removals.add(k);
    for (const [k, v] of batch.puts) if (!newer(k)) this.puts.set(k, v);
  }
}

interface KeyedBatch<K, V> { readonly puts: ReadonlyMap<K, V>; readonly removals: ReadonlySet<K> }

// Inside a write transaction.
function writeBatch<K extends number | string, V>(db: TypedDb<K, V>, batch: KeyedBatch<K, V>): void {
  for (const k of batch.removals) void db.remove(k);
  for (const [k, v] of batch.puts) void db.put(k, v);
}

/** Options of a persistent paper venue: the paper venue's, with the balances used only for a fresh account. */
export interface PersistentPaperOptions extends Omit<PaperVenueOptions, 'balances'> {
  /** Balances of a fresh account (no stored state); a stored account that started with others refuses (ConfigError). */
  readonly initialBalances: Readonly<Record<string, Money>>;
  /** The config key `initialBalances` come from, named in that refusal. */
  readonly initialBalancesKey?: string;
  /** Where the state lives; without it nothing persists (backtests). */
  readonly store?: LmdbStore;
  readonly logger?: Logger;
}

/** A re-placed order: its ids and size before the restart, and the queue ahead it was restored with (until it rests). */
interface Adopted { readonly outerId: VenueOrderId; readonly lots: Lots; readonly filledBefore: Lots; readonly queueAhead: Lots | undefined }

/** A PaperVenue whose account, open orders and trade history survive restarts; see the header. */
export class PersistentPaperVenue implements ExecutionVenue, BookListener {
  readonly id: VenueId;
  readonly pushesEvents = true;
  readonly submitSettleMs = 0;
  readonly symbols: readonly string[];
  readonly inner: PaperVenue;
  /** What was restored at start. */
  readonly restored: { readonly balances: boolean; readonly openOrders: number; readonly trades: number };
  private readonly dbs: PaperDbs | undefined;
  private readonly orderBase: number;
  private readonly tradeBase: number;
  /** The kept trades, oldest first, at most `keep`. */
  private readonly trades: VenueTrade[] = [];
  /** Trades and closed orders added or dropped since the last write (none without a store). */
  private readonly changes: { readonly trades: KeyedChanges<number, VenueTrade>; readonly closed: KeyedChanges<string, ClosedEntry> } | undefined;
  private closedSeq = 0;
  /** Orders re-placed at start: client id -> the id and size the venue had given them before. */
  private readonly adopted = new Map<string, Adopted>();
  private readonly listeners = new Listeners<VenueEvent>();
  /** Open orders as the executor sees them (outer ids, whole size), kept here so a state write needs no await. */
  private readonly open = new Map<string, VenueOrder>();
  /** Events of an order that arrive inside submitNow, before it is recorded as open. */
  private readonly earlyFills = new Map<string, number>();
  private readonly closedEarly = new Map<string, Extract<VenueEvent, { kind: 'closed' }>>();
  /** Orders that ended cancelled or expired, oldest first (outer ids, whole size), at most `keep`. */
  private readonly closed = new Map<string, ClosedEntry>();
  private readonly keep: number;
  private maxOrderId: number;
  private maxTradeId: number;
  private readonly initial: Readonly<Record<string, bigint>>;

  constructor(opts: PersistentPaperOptions) {
    this.id = opts.id ?? 'paper';
    this.dbs = opts.store === undefined ? undefined : paperDbs(opts.store);
    this.changes = this.dbs === undefined ? undefined : { trades: new KeyedChanges(), closed: new KeyedChanges() };
    const saved = this.dbs?.state.get(KEY);
    if (saved?.initial !== undefined && !sameBalances(saved.initial, opts.initialBalances)) {
      throw new ConfigError(startMismatch(opts.store!.path, saved.initial, opts.initialBalances, opts.initialBalancesKey ?? 'the starting balance'));
    }
    // A state written before the starting balances were kept takes the given ones as what it started with.
    this.initial = saved?.initial ?? opts.initialBalances;
    const balances: Record<string, Money> = {};
    for (const [a, v] of Object.entries(saved?.balances ?? opts.initialBalances)) balances[a] = v as Money;
    this.orderBase = saved?.maxOrderId ?? 0;
    this.tradeBase = saved?.maxTradeId ?? 0;
    this.maxOrderId = this.orderBase;
    this.maxTradeId = this.tradeBase;
    this.keep = opts.keep ?? PAPER_KEEP;
    const migrated = saved !== undefined && this.loadHistory(saved);
    this.inner = new PaperVenue({
      clock: opts.clock, instruments: opts.instruments, books: opts.books, makerFeeRate9: opts.makerFeeRate9, takerFeeRate9: opts.takerFeeRate9,
      latencyMs: opts.latencyMs, balances, id: this.id, keep: this.keep,
    });
    this.symbols = this.inner.symbols;
    this.inner.onEvent((e) => this.onInner(e));
    const logger = opts.logger ?? log().child({ component: 'paper-state' });
    // Stored balances include what the open orders had locked: placing them again locks it anew. The order is
    // recorded before it is placed, so fills or a close reported while it is placed (latency 0) find it.
    let restoredOpen = 0;
    let ended = 0;
    for (const o of saved?.open ?? []) {
      const left = (o.lots - o.filledLots) as Lots;
      if (left <= 0) continue;
      this.adopted.set(o.clientOrderId, { outerId: o.venueOrderId, lots: o.lots, filledBefore: o.filledLots, queueAhead: o.queueAhead });
      const { queueAhead: _, ...order } = o;
      this.open.set(o.clientOrderId, order);
      // A state written before queue positions were kept (or an order not yet resting then) has no figure: the
      // order joins the back of its queue, as every restored order did before.
      const r = this.inner.restoreNow({
        clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, orderType: o.orderType, lots: left,
        ...(o.price !== undefined ? { price: o.price } : {}), timeInForce: o.timeInForce,
      }, o.queueAhead);
      if (r.status === 'accepted') {
        restoredOpen++;
        continue;
      }
      this.adopted.delete(o.clientOrderId);
      this.open.delete(o.clientOrderId);
      this.remember({ ...order, status: 'expired', ts: opts.clock.now() });
      ended++;
      logger.error({ clientOrderId: o.clientOrderId, symbol: o.symbol, lots: o.lots, filledLots: o.filledLots, code: r.code, reason: r.message },
        'paper venue: a stored open order could not be placed again after the restart: it ends expired');
    }
    this.restored = { balances: saved !== undefined, openOrders: restoredOpen, trades: this.trades.length };
    // An order that ended here must stay ended at the next start, even when nothing else changes before it; so must
    // the starting balances an older state lacked, or the next start could not check them, and the move of an older
    // store to the split layout.
    if (ended > 0 || migrated || (saved !== undefined && saved.initial === undefined)) this.persist();
  }

  // Reads the kept trades and closed orders; returns true when they came from a store written as one record, in
  // which case the next write moves them to their own keys (replacing whatever those databases held).
  private loadHistory(saved: StoredRecord): boolean {
    const dbs = this.dbs!;
    const { whole, trades, closed } = historyOf(dbs, saved);
    if (whole) {
      for (const k of dbs.trades.keys()) this.changes!.trades.remove(k);
      for (const k of dbs.closed.keys()) this.changes!.closed.remove(k);
    }
    for (const t of trades) this.keepTrade(t, whole);
    for (const c of closed) this.keepClosed(c.order, c.seq, whole);
    return whole;
  }

  onDepth(symbol: string, bids: ReadonlyArray<readonly [Ticks, Lots]>, asks: ReadonlyArray<readonly [Ticks, Lots]>, tsExchange?: TsMs): void {
    this.inner.onDepth(symbol, bids, asks, tsExchange);
  }

  wantsDepth(symbol: string): boolean {
    return this.inner.wantsDepth(symbol);
  }

  onSnapshot(symbol: string, tsExchange?: TsMs): void {
    this.inner.onSnapshot(symbol, tsExchange);
  }

  onTrade(symbol: string, price: Ticks, lots: Lots, buyerMaker: boolean, tsExchange?: TsMs): void {
    this.inner.onTrade(symbol, price, lots, buyerMaker, tsExchange);
  }

  onEvent(fn: (e: VenueEvent) => void): () => void {
    return this.listeners.add(fn);
  }

  async submit(req: VenueOrderRequest): Promise<SubmitResult> {
    if (this.adopted.has(req.clientOrderId)) return { status: 'rejected', code: 'DUPLICATE_CLIENT_ORDER_ID', message: `client order id ${req.clientOrderId} was already used` };
    const r = this.inner.submitNow(req);
    if (r.status !== 'accepted') return r;
    const outer = this.outerOrderId(r.venueOrderId);
    // Fills of a marketable order may have been pushed (and the order closed) inside submitNow already.
    const closed = this.closedEarly.get(req.clientOrderId);
    this.closedEarly.delete(req.clientOrderId);
    const filledLots = (this.earlyFills.get(req.clientOrderId) ?? 0) as Lots;
    const order: VenueOrder = {
      clientOrderId: req.clientOrderId, venueOrderId: outer, symbol: req.symbol, side: req.side, orderType: req.orderType, timeInForce: req.timeInForce,
      ...(req.price !== undefined ? { price: req.price } : {}), lots: req.lots, filledLots, status: filledLots > 0 ? 'partiallyFilled' : 'accepted', ts: r.ts,
    };
    if (closed) this.remember({ ...order, status: closed.status, ts: closed.ts });
    else if (filledLots < req.lots) this.open.set(req.clientOrderId, order);
    this.earlyFills.delete(req.clientOrderId);
    this.persist();
    return { ...r, venueOrderId: outer };
  }

  async cancel(symbol: string, cid: ClientOrderId): Promise<CancelResult> {
    const r = await this.inner.cancel(symbol, cid);
    this.persist();
    return r;
  }

  async fetchOrder(symbol: string, cid: ClientOrderId): Promise<VenueOrder | undefined> {
    const o = await this.inner.fetchOrder(symbol, cid);
    if (o) return this.outerOrder(o);
    // An order that ended before the restart: cancelled or expired ones are kept, a filled one is known from its trades.
    const c = this.closed.get(cid)?.order;
    if (c && c.symbol === symbol) return c;
    const t = this.trades.filter((x) => x.clientOrderId === cid && x.symbol === symbol);
    if (t.length === 0) return undefined;
    const lots = t.reduce((n, x) => n + x.lots, 0) as Lots;
    const last = t.at(-1)!;
    return { clientOrderId: cid, venueOrderId: last.venueOrderId, symbol, side: last.side, orderType: 'limit', timeInForce: 'GTC', price: last.price, lots, filledLots: lots, status: 'filled', ts: last.ts };
  }

  async fetchOpenOrders(symbol?: string): Promise<VenueOrder[]> {
    return (await this.inner.fetchOpenOrders(symbol)).map((o) => this.outerOrder(o));
  }

  async fetchBalances(): Promise<VenueBalance[]> {
    return this.inner.fetchBalances();
  }

  async fetchMyTrades(symbol: string, sinceTradeId?: string): Promise<VenueTrade[]> {
    const since = sinceTradeId === undefined ? -1 : Number(sinceTradeId);
    return this.trades.filter((t) => t.symbol === symbol && Number(t.tradeId) > since);
  }

  /** Writes the state once more (queue positions moved since the last change) and resolves when that has committed. */
  async flush(): Promise<void> {
    this.persist();
    await this.lastWrite;
  }

  private lastWrite: Promise<unknown> = Promise.resolve();

  private outerOrderId(inner: VenueOrderId): VenueOrderId {
    const n = this.orderBase + Number(inner);
    if (n > this.maxOrderId) this.maxOrderId = n;
    return venueOrderId(String(n));
  }

  private outerOrder(o: VenueOrder): VenueOrder {
    const a = this.adopted.get(o.clientOrderId);
    if (!a) return { ...o, venueOrderId: this.outerOrderId(o.venueOrderId) };
    const status = o.status === 'accepted' && a.filledBefore > 0 ? 'partiallyFilled' : o.status;
    return { ...o, venueOrderId: a.outerId, lots: a.lots, filledLots: (a.filledBefore + o.filledLots) as Lots, status };
  }

  /** Keeps a cancelled or expired order for fetchOrder across restarts; the oldest beyond `keep` go. */
  private remember(o: VenueOrder): void {
    this.keepClosed(o, this.closedSeq, true);
  }

  // Adds a closed order as the newest (`write`: to be stored with the next write) and drops the oldest beyond `keep`.
  private keepClosed(order: VenueOrder, seq: number, write: boolean): void {
    const cid = order.clientOrderId;
    const entry = { seq, order };
    this.closedSeq = Math.max(this.closedSeq, seq + 1);
    this.closed.delete(cid);
    this.closed.set(cid, entry);
    if (write) this.changes?.closed.put(cid, entry);
    for (const old of this.closed.keys()) {
      if (this.closed.size <= this.keep) break;
      this.closed.delete(old);
      this.changes?.closed.remove(old);
    }
  }

  // Adds a trade as the newest (`write`: to be stored with the next write) and drops the oldest beyond `keep`.
  private keepTrade(t: VenueTrade, write: boolean): void {
    this.trades.push(t);
    if (write) this.changes?.trades.put(tradeKey(t), t);
    while (this.trades.length > this.keep) {
      const old = this.trades.shift()!;
      this.changes?.trades.remove(tradeKey(old));
    }
  }

  private onInner(e: VenueEvent): void {
    let out: VenueEvent;
    if (e.kind === 'fill') {
      const f = e.fill;
      const tradeId = this.tradeBase + Number(f.tradeId);
      if (tradeId > this.maxTradeId) this.maxTradeId = tradeId;
      const fill: Fill = { ...f, tradeId: String(tradeId), venueOrderId: this.adopted.get(f.clientOrderId)?.outerId ?? this.outerOrderId(f.venueOrderId) };
      this.keepTrade(fill, true);
      const o = this.open.get(f.clientOrderId);
      if (o) {
        const filledLots = (o.filledLots + f.lots) as Lots;
        if (filledLots >= o.lots) this.open.delete(f.clientOrderId);
        else this.open.set(f.clientOrderId, { ...o, filledLots, status: 'partiallyFilled' });
      } else this.earlyFills.set(f.clientOrderId, (this.earlyFills.get(f.clientOrderId) ?? 0) + f.lots);
      out = { kind: 'fill', fill };
    } else {
      const closed = { ...e, venueOrderId: this.adopted.get(e.clientOrderId)?.outerId ?? this.outerOrderId(e.venueOrderId) };
      out = closed;
      const o = this.open.get(e.clientOrderId);
      if (o) {
        this.open.delete(e.clientOrderId);
        this.remember({ ...o, status: closed.status, ts: closed.ts });
      } else this.closedEarly.set(e.clientOrderId, closed);
    }
    this.persist();
    this.listeners.emit(out);
  }

  // A resting order's queue ahead, or the figure a restored one has not yet rested with (the book was not live).
  private withQueue(o: VenueOrder): StoredOrder {
    const ahead = this.inner.queueAhead(o.symbol, o.clientOrderId) ?? this.adopted.get(o.clientOrderId)?.queueAhead;
    return ahead === undefined ? o : { ...o, queueAhead: ahead };
  }

  // Synchronous snapshot, asynchronous commit: the record and the history changes since the last write, in one
  // transaction (lmdb runs its callback later, in issue order with the other writes, so it only writes what was taken).
  private persist(): void {
    const { dbs, changes } = this;
    if (!dbs || !changes) return;
    const balances: Record<string, bigint> = {};
    for (const a of this.inner.account.assets()) balances[a] = this.inner.account.freeOf(a) + this.inner.account.lockedOf(a);
    const open = [...this.open.values()].map((o) => this.withQueue(o));
    const record: PaperStateRecord = { balances, open, maxOrderId: this.maxOrderId, maxTradeId: this.maxTradeId, initial: this.initial };
    const trades = changes.trades.take();
    const closed = changes.closed.take();
    // A failed write hands its history changes back, so the next one writes them: the record is whole every time, the
    // trades and closed orders are not, and one lost would leave a hole for good.
    const requeue = (): false => {
      changes.trades.requeue(trades);
      changes.closed.requeue(closed);
      return false;
    };
    try {
      this.lastWrite = dbs.state.transaction(() => {
        void dbs.state.put(KEY, record);
        writeBatch(dbs.trades, trades);
        writeBatch(dbs.closed, closed);
      }).catch(requeue);
    } catch {
      // The store is closed (shutdown in progress): the state written last stands.
    }
  }
}

// Equal when every asset has the same amount; an asset at 0 counts as absent.
function sameBalances(a: Readonly<Record<string, bigint>>, b: Readonly<Record<string, bigint>>): boolean {
  const assets = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const x of assets) if ((a[x] ?? 0n) !== (b[x] ?? 0n)) return false;
  return true;
}

// Balances as the operator writes them: '10000 USDT', several joined by ', '.
function balancesText(b: Readonly<Record<string, bigint>>): string {
  const parts = Object.entries(b).filter(([, v]) => v !== 0n).map(([a, v]) => `${formatFixed(v)} ${a}`);
  return parts.length > 0 ? parts.join(', ') : 'nothing';
}

// The refusal of a start whose starting balances are not the stored account's.
function startMismatch(path: string, stored: Readonly<Record<string, bigint>>, given: Readonly<Record<string, bigint>>, key: string): string {
  return `${key} gives ${balancesText(given)} but the paper account stored in ${path} started with ${balancesText(stored)} `
    + `(refusing to start: the paper venue would go on from the stored account and the risk manager from the new balance). `
    + `Set ${key} back to ${balancesText(stored)}, or delete ${path} to start a new paper account (its orders, fills and history go with it).`;
}

/** Returns a client order id typed for the venue (tests). */
export const paperClientId = (s: string): ClientOrderId => clientOrderId(s);
