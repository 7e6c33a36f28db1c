// Execution state in the LMDB environment: orders, fills, positions, the last trade id seen per venue and symbol,
// and small engine-state values needed after a restart. An order change with its fill and position commits in one
// transaction, so a restart never finds a fill without the order state it moved (or the reverse).
// The value shapes are generic here (engine never imports actors); the executor stores its OrderRecord/PositionRecord.
import type { Fill } from '../messages/orders.ts';
import type { VenueId } from '../types/instrument.ts';
import type { LmdbStore, TypedDb } from './lmdb.ts';

/** The minimum an order value carries for the store to index it. */
export interface StoredOrder {
  readonly clientOrderId: string;
  readonly venue: VenueId;
  readonly status: string;
}

/** The minimum a position value carries. */
export interface StoredPosition {
  readonly venue: VenueId;
  readonly symbol: string;
}

type FillKey = [venue: string, symbol: string, tradeId: string];
type PosKey = [venue: string, symbol: string];

/** One atomic change: an order, optionally with a fill and the position it moved. */
export interface ExecChange<O extends StoredOrder, P extends StoredPosition> {
  readonly order?: O;
  readonly fill?: Fill;
  readonly position?: P;
}

/** Orders, fills, positions and engine state of the executor, persisted in named LMDB databases (`exec.*`). */
export class ExecStore<O extends StoredOrder, P extends StoredPosition> {
  private readonly orders: TypedDb<string, O>;
  private readonly fills: TypedDb<FillKey, Fill>;
  private readonly positions: TypedDb<PosKey, P>;
  private readonly state: TypedDb<string, unknown>;

  /** Opens (creating if needed) the exec databases in `store`. */
  constructor(private readonly store: LmdbStore) {
    this.orders = store.db<string, O>('exec.orders');
    this.fills = store.db<FillKey, Fill>('exec.fills');
    this.positions = store.db<PosKey, P>('exec.positions');
    this.state = store.db<string, unknown>('exec.state');
  }

  /**
   * Writes an order change (order, fill, position, and the fill's trade id as last seen when it is newer) in one
   * transaction; resolves once it has committed.
   */
  async commit(change: ExecChange<O, P>): Promise<void> {
    const { order, fill, position } = change;
    await this.orders.transaction(() => {
      if (order) void this.orders.put(order.clientOrderId, order);
      if (fill) {
        void this.fills.put([fill.venue, fill.symbol, fill.tradeId], fill);
        const key = lastTradeKey(fill.venue, fill.symbol);
        const prev = this.state.get(key) as string | undefined;
        if (prev === undefined || tradeIdAfter(fill.tradeId, prev)) void this.state.put(key, fill.tradeId);
      }
      if (position) void this.positions.put([position.venue, position.symbol], position);
    });
  }

  /** Returns the stored order, or undefined. */
  order(clientOrderId: string): O | undefined {
    return this.orders.get(clientOrderId);
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

  /** Returns the newest trade id booked for `venue` and `symbol`. */
  lastTradeId(venue: VenueId, symbol: string): string | undefined {
    return this.state.get(lastTradeKey(venue, symbol)) as string | undefined;
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

/** Returns true when trade id `a` comes after `b`: numerically for integer ids (Binance, paper), else by string. */
export function tradeIdAfter(a: string, b: string): boolean {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length !== b.length ? a.length > b.length : a > b;
  return a > b;
}
