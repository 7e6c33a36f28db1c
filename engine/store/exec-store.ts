// Execution state in the LMDB environment: orders, fills, positions, the last trade id seen per venue and symbol,
// and small engine-state values needed after a restart. An order change with its fill and position commits in one
// transaction, so a restart never finds a fill without the order state it moved (or the reverse).
// The value shapes are generic here (engine never imports actors); the executor stores its OrderRecord/PositionRecord.
//
// Two indexes are written in the order's own transaction, so that the executor can keep only unfinished orders in
// memory however long a daemon runs:
//   exec.openOrders     [venue, clientOrderId] -> 1 while the order's status is not final: a start loads only these;
//   exec.venueOrderIds  [venue, venueOrderId] -> clientOrderId: a trade that names only the venue's order id
//                       (Binance's trade history) finds its order, also one finished long ago.
// A store written before the indexes existed gets them built once, by `ensureIndexed` (run at the executor's start).
// Fills also get a booking sequence per venue (`exec.fillSeq` [venue, n] -> [symbol, trade id], n counting up from the
// store's first fill booked by this layout), so that "the fills booked since start" is a range read, not a comparison
// with every fill ever booked. Fills booked before the sequence existed have none: they are all older than any start
// that reads it.
import { isFinalStatus, type Fill, type OrderStatus } from '../messages/orders.ts';
import type { VenueId } from '../types/instrument.ts';
import { prefixRange, type LmdbStore, type TypedDb } from './lmdb.ts';

/** The minimum an order value carries for the store to index it. */
export interface StoredOrder {
  readonly clientOrderId: string;
  readonly venue: VenueId;
  readonly status: OrderStatus;
  readonly venueOrderId?: string;
}

/** The minimum a position value carries. */
export interface StoredPosition {
  readonly venue: VenueId;
  readonly symbol: string;
}

type FillKey = [venue: string, symbol: string, tradeId: string];
type PosKey = [venue: string, symbol: string];
type OpenKey = [venue: string, clientOrderId: string];
type VenueIdKey = [venue: string, venueOrderId: string];
type FillSeqKey = [venue: string, seq: number];

// Bump when the index layout changes: a store marked with an older version is re-indexed at the next start.
const INDEX_KEY = 'internal:orderIndexVersion';
const INDEX_VERSION = 1;

/** One atomic change: an order, optionally with a fill and the position it moved. */
export interface ExecChange<O extends StoredOrder, P extends StoredPosition> {
  readonly order?: O;
  /** `outOfSequence`: read out of the trade history's order (by order id), so it leaves the trade cursor as it is. */
  readonly fill?: Fill & { readonly outOfSequence?: true };
  readonly position?: P;
}

/** Orders, fills, positions and engine state of the executor, persisted in named LMDB databases (`exec.*`). */
export class ExecStore<O extends StoredOrder, P extends StoredPosition> {
  private readonly orders: TypedDb<string, O>;
  private readonly fills: TypedDb<FillKey, Fill>;
  private readonly positions: TypedDb<PosKey, P>;
  private readonly state: TypedDb<string, unknown>;
  private readonly openIdx: TypedDb<OpenKey, 1>;
  private readonly venueIds: TypedDb<VenueIdKey, string>;
  private readonly fillSeq: TypedDb<FillSeqKey, [symbol: string, tradeId: string]>;

  /** Opens (creating if needed) the exec databases in `store`. */
  constructor(private readonly store: LmdbStore) {
    this.orders = store.db<string, O>('exec.orders');
    this.openIdx = store.db<OpenKey, 1>('exec.openOrders');
    this.venueIds = store.db<VenueIdKey, string>('exec.venueOrderIds');
    this.fillSeq = store.db<FillSeqKey, [string, string]>('exec.fillSeq');
    this.fills = store.db<FillKey, Fill>('exec.fills');
    this.positions = store.db<PosKey, P>('exec.positions');
    this.state = store.db<string, unknown>('exec.state');
  }

  /**
   * Writes an order change (order, fill, position, and the fill's trade id as last seen when it is newer) in one
   * transaction; resolves once it has committed. A fill read out of the history's order (`outOfSequence`) does not move
   * the last trade id: the history may not have shown yet an earlier trade of another order, which a cursor past it
   * would never read.
   */
  async commit(change: ExecChange<O, P>): Promise<void> {
    const { order, position } = change;
    const { outOfSequence, ...fillValue } = change.fill ?? {};
    const fill = change.fill && (fillValue as Fill);
    await this.orders.transaction(() => {
      if (order) {
        void this.orders.put(order.clientOrderId, order);
        this.index(order);
      }
      if (fill) {
        // A fill seen again (push, then poll) keeps its first booking number.
        if (this.fills.get([fill.venue, fill.symbol, fill.tradeId]) === undefined) {
          const seqKey = fillSeqKey(fill.venue);
          const seq = ((this.state.get(seqKey) as number | undefined) ?? 0) + 1;
          void this.state.put(seqKey, seq);
          void this.fillSeq.put([fill.venue, seq], [fill.symbol, fill.tradeId]);
        }
        void this.fills.put([fill.venue, fill.symbol, fill.tradeId], fill);
        const key = lastTradeKey(fill.venue, fill.symbol);
        const prev = this.state.get(key) as string | undefined;
        if (!outOfSequence && (prev === undefined || tradeIdAfter(fill.tradeId, prev))) void this.state.put(key, fill.tradeId);
      }
      if (position) void this.positions.put([position.venue, position.symbol], position);
    });
  }

  // Inside a write transaction.
  private index(o: O): void {
    const key: OpenKey = [o.venue, o.clientOrderId];
    if (isFinalStatus(o.status)) void this.openIdx.remove(key);
    else void this.openIdx.put(key, 1);
    if (o.venueOrderId !== undefined) void this.venueIds.put([o.venue, o.venueOrderId], o.clientOrderId);
  }

  /**
   * Builds the order indexes from every stored order when the store predates them (or an older index layout);
   * returns the number of orders indexed, 0 when the store was already indexed.
   */
  async ensureIndexed(): Promise<number> {
    if (this.state.get(INDEX_KEY) === INDEX_VERSION) return 0;
    const all = [...this.orders.entries()].map((e) => e.value);
    await this.orders.transaction(() => {
      for (const o of all) this.index(o);
      void this.state.put(INDEX_KEY, INDEX_VERSION);
    });
    return all.length;
  }

  /** Returns the stored order, or undefined. */
  order(clientOrderId: string): O | undefined {
    return this.orders.get(clientOrderId);
  }

  /** Returns the stored orders of `venue` whose status is not final (needs `ensureIndexed` on an older store). */
  openOrders(venue: VenueId): O[] {
    const out: O[] = [];
    for (const [, cid] of this.openIdx.keys(prefixRange([venue]))) {
      const o = this.orders.get(cid);
      if (o !== undefined) out.push(o);
    }
    return out;
  }

  /** Returns the stored order of `venue` that the venue knows as `venueOrderId`, or undefined. */
  orderByVenueId(venue: VenueId, venueOrderId: string): O | undefined {
    const cid = this.venueIds.get([venue, venueOrderId]);
    const o = cid === undefined ? undefined : this.orders.get(cid);
    return o?.venue === venue ? o : undefined;
  }

  /** Returns every stored order of `venue` (all venues when absent), in client id order. */
  allOrders(venue?: VenueId): O[] {
    const out: O[] = [];
    for (const { value } of this.orders.entries()) if (venue === undefined || value.venue === venue) out.push(value);
    return out;
  }

  /** Returns true when the fill with this trade id is stored. */
  hasFill(venue: VenueId, symbol: string, tradeId: string): boolean {
    return this.fills.get([venue, symbol, tradeId]) !== undefined;
  }

  /** Returns the stored fills of `venue` and `symbol`, in trade id key order. */
  fillsOf(venue: VenueId, symbol: string): Fill[] {
    const out: Fill[] = [];
    for (const { value } of this.fills.entries({ start: [venue, symbol], end: [venue, symbol, '\uffff'] })) out.push(value);
    return out;
  }

  /** Returns the booking number of the newest fill of `venue` (0 when none was booked with one). */
  lastFillSeq(venue: VenueId): number {
    return (this.state.get(fillSeqKey(venue)) as number | undefined) ?? 0;
  }

  /** Returns the fills of `venue` and `symbol` booked after booking number `seq`, in booking order. */
  fillsBookedAfter(venue: VenueId, symbol: string, seq: number): Fill[] {
    const out: Fill[] = [];
    for (const tradeId of this.tradeIdsBookedAfter(venue, symbol, seq)) {
      const f = this.fills.get([venue, symbol, tradeId]);
      if (f !== undefined) out.push(f);
    }
    return out;
  }

  /**
   * Returns the trade ids of `venue` and `symbol` booked after booking number `seq` and at most `upToSeq` (default: up
   * to the newest), in booking order (one range read).
   */
  tradeIdsBookedAfter(venue: VenueId, symbol: string, seq: number, upToSeq = Number.MAX_SAFE_INTEGER - 1): string[] {
    const out: string[] = [];
    for (const { value: [sym, tradeId] } of this.fillSeq.entries({ start: [venue, seq + 1], end: [venue, upToSeq + 1] })) {
      if (sym === symbol) out.push(tradeId);
    }
    return out;
  }

  /** Returns the position of `symbol` on `venue`, or undefined. */
  position(venue: VenueId, symbol: string): P | undefined {
    return this.positions.get([venue, symbol]);
  }

  /** Returns every stored position of `venue`. */
  allPositions(venue: VenueId): P[] {
    const out: P[] = [];
    for (const { value } of this.positions.entries({ start: [venue], end: [venue, '\uffff'] })) out.push(value);
    return out;
  }

  /**
   * Returns the trade cursor of `venue` and `symbol`: the newest trade id booked in the history's order, or the one the
   * history was last read up to (`setLastTradeId`), whichever was written last.
   */
  lastTradeId(venue: VenueId, symbol: string): string | undefined {
    return this.state.get(lastTradeKey(venue, symbol)) as string | undefined;
  }

  /** Stores the trade id the history of `venue` and `symbol` was read up to (every trade up to it booked); resolves at commit. */
  async setLastTradeId(venue: VenueId, symbol: string, tradeId: string): Promise<void> {
    await this.state.put(lastTradeKey(venue, symbol), tradeId);
  }

  /** Returns an engine-state value. */
  getState<T>(key: string): T | undefined {
    return this.state.get(`engine:${key}`) as T | undefined;
  }

  /** Stores an engine-state value; resolves at commit. */
  async setState(key: string, value: unknown): Promise<void> {
    await this.state.put(`engine:${key}`, value);
  }

  /** Resolves when every write issued so far has committed. */
  flush(): Promise<void> {
    return this.store.flush();
  }
}

const lastTradeKey = (venue: string, symbol: string): string => `lastTradeId:${venue}:${symbol}`;
const fillSeqKey = (venue: string): string => `fillSeq:${venue}`;

/** Returns true when trade id `a` comes after `b`: numerically for integer ids (Binance, paper), else by string. */
export function tradeIdAfter(a: string, b: string): boolean {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length !== b.length ? a.length > b.length : a > b;
  return a > b;
}
