import type { Level } from '../messages/market.ts';
import { SideLevels as Side } from './book-side.ts';
import { ConfigError } from '../types/errors.ts';
import type { Lots, Ticks } from '../types/price.ts';

/** Which side of a book a level sits on. */
export type BookSide = 'bid' | 'ask';

/**
 * An L2 order book of one symbol in integer ticks and lots. It stores what it is told: keeping it uncrossed is
 * the job of the sync layer (engine/venues/binance/book-sync.ts), which checks `crossed()` after each diff.
 */
export class OrderBook {
  private readonly bids = new Side(true);
  private readonly asks = new Side(false);

  /** Creates an empty book for `symbol` (the venue or unified symbol; only carried for the caller). */
  constructor(readonly symbol: string) {}

  /** Removes every level on both sides. */
  clear(): void {
    this.bids.clear();
    this.asks.clear();
  }

  /** Replaces the whole book with the given levels (a snapshot); faster than one `set` per level. */
  replace(bids: readonly Level[], asks: readonly Level[]): void {
    this.bids.load(bids);
    this.asks.load(asks);
  }

  /** Sets the size at `price` on `side`; `lots` 0 deletes the level. */
  set(side: BookSide, price: Ticks, lots: Lots): void {
    (side === 'bid' ? this.bids : this.asks).set(price, lots);
  }

  /** Sets a bid level; the hot-path form of `set('bid', …)`. */
  setBid(price: Ticks, lots: Lots): void {
    this.bids.set(price, lots);
  }

  /** Sets an ask level; the hot-path form of `set('ask', …)`. */
  setAsk(price: Ticks, lots: Lots): void {
    this.asks.set(price, lots);
  }

  /** Returns the best (highest) bid price, or undefined when there are no bids. */
  bestBid(): Ticks | undefined {
    const s = this.bids;
    return s.size === 0 ? undefined : (s.best as Ticks);
  }

  /** Returns the best (lowest) ask price, or undefined when there are no asks. */
  bestAsk(): Ticks | undefined {
    const s = this.asks;
    return s.size === 0 ? undefined : (s.best as Ticks);
  }

  /** Returns the size at the best bid, or 0 when there are no bids. */
  bestBidLots(): Lots {
    const s = this.bids;
    return (s.size === 0 ? 0 : s.levels.get(s.best)) as Lots;
  }

  /** Returns the size at the best ask, or 0 when there are no asks. */
  bestAskLots(): Lots {
    const s = this.asks;
    return (s.size === 0 ? 0 : s.levels.get(s.best)) as Lots;
  }

  /** Returns the size at `price` on `side`, 0 when the level is absent. */
  lotsAt(side: BookSide, price: Ticks): Lots {
    return (side === 'bid' ? this.bids : this.asks).levels.get(price) as Lots;
  }

  /** Returns the summed size of `side`'s levels at prices `from`..`to` (0 when from > to). */
  lotsIn(side: BookSide, from: Ticks, to: Ticks): Lots {
    return (side === 'bid' ? this.bids : this.asks).levels.sumRange(from, to) as Lots;
  }

  /** Returns up to `n` levels of `side`, best first. */
  levels(side: BookSide, n: number): Level[] {
    const out: Level[] = [];
    if (n <= 0) return out;
    (side === 'bid' ? this.bids : this.asks).forEachBestFirst((p, q) => out.push([p as Ticks, q as Lots]) < n);
    return out;
  }

  /** Calls `fn` for each level of `side`, best first, until it returns false. */
  forEachLevel(side: BookSide, fn: (price: Ticks, lots: Lots) => boolean | void): void {
    // A callback that changes the book does not disturb the walk: it goes on from the last price visited, over the
    // levels as they are then (SideLevels.forEachBestFirst).
    (side === 'bid' ? this.bids : this.asks).forEachBestFirst(fn as (price: number, lots: number) => boolean | void);
  }

  /** Returns the number of levels on `side`. */
  size(side: BookSide): number {
    return (side === 'bid' ? this.bids : this.asks).size;
  }

  /**
   * Keeps, from now on, the summed lots of each side per price bucket of `bucketTicks` ticks (bucket b holds prices
   * [b·bucketTicks, (b+1)·bucketTicks)), updated on every change. Costs one more array update per `set` near the touch;
   * books that never call this pay one field test per `set`. Calling it again with another width recomputes the sums.
   */
  trackBuckets(bucketTicks: number): void {
    if (!Number.isSafeInteger(bucketTicks) || bucketTicks < 1) {
      throw new ConfigError(`book ${this.symbol}: bucket width ${bucketTicks} ticks must be a positive integer`);
    }
    this.bids.trackBuckets(bucketTicks);
    this.asks.trackBuckets(bucketTicks);
  }

  /** Returns the bucket width in ticks whose sums this book keeps, or 0 when it keeps none (or none exact now). */
  get bucketTicks(): number {
    return this.bids.bucketsExact && this.asks.bucketsExact ? this.bids.bucketTicks : 0;
  }

  /** Returns `side`'s summed lots in bucket `b` (0: no level in it); 0 when not tracking buckets. The COB's hot path. */
  bucketLots(side: BookSide, b: number): Lots {
    const s = side === 'bid' ? this.bids : this.asks;
    return (s.buckets === undefined ? 0 : s.buckets.get(b)) as Lots;
  }

  /** Writes `side`'s summed lots of buckets `from`..`from + out.length - 1` into `out` (zeros when not tracking). */
  bucketRange(side: BookSide, from: number, out: Float64Array): void {
    const s = side === 'bid' ? this.bids : this.asks;
    if (s.buckets === undefined) out.fill(0);
    else s.buckets.readRange(from, out);
  }

  /** Returns `side`'s non-empty buckets and their summed lots (a copy), or undefined when not tracking buckets. */
  bucketSums(side: BookSide): ReadonlyMap<number, Lots> | undefined {
    const s = side === 'bid' ? this.bids : this.asks;
    if (s.buckets === undefined) return undefined;
    const out = new Map<number, Lots>();
    s.buckets.forEach((b, q) => void out.set(b, q as Lots));
    return out;
  }

  /** Returns true when both sides are non-empty and the best bid is at or above the best ask. */
  crossed(): boolean {
    const b = this.bids;
    const a = this.asks;
    return b.size > 0 && a.size > 0 && b.best >= a.best;
  }
}
