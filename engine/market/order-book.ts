import type { Level } from '../messages/market.ts';
import { ConfigError } from '../types/errors.ts';
import type { Lots, Ticks } from '../types/price.ts';

/** Which side of a book a level sits on. */
export type BookSide = 'bid' | 'ask';

/** Buckets held in a tracking side's dense window (64k: ±327k USD of 10-USD buckets); the rest go to a map. */
const BUCKET_WINDOW = 1 << 16;

/** How many ticks past a deleted best level to probe for the next one before falling back to a full scan. */
const BEST_PROBE_TICKS = 256;

/**
 * One side of the book as a hash map price -> size plus the tracked best price (the layout of hftbacktest's
 * HashMapMarketDepth). Binance diffs touch deep levels too, and a sorted array pays a mid-array move of ~1-2k
 * elements for each such insert or delete; a map pays one hash operation. Best-first reads (COB at 10 Hz, the
 * matching engine, snapshots) use a sorted price index that is brought up to date lazily: prices inserted or deleted
 * since the last read are merged into it in one linear pass. Optionally (`OrderBook.trackBuckets`) it also keeps the
 * summed lots per fixed-width price bucket, so the COB reads ±range buckets instead of walking thousands of levels.
 */
class Side {
  readonly map = new Map<number, number>();
  /** Best price; meaningful only while the map is non-empty. */
  best = 0;
  /** Prices best-first as of the last read, plus the prices inserted or deleted since (in `touched`). */
  private index: number[] = [];
  private touched: number[] = [];
  /**
   * The next read rebuilds the index from the map: `touched` grew past the point where merging pays (the read
   * would rebuild anyway), so it stops growing. Without this a book nobody reads best-first (one whose COB reads
   * bucket sums) would collect every insert and delete in `touched` for ever.
   */
  private stale = false;
  /**
   * Summed lots per bucket floor(price / bucketTicks), kept only while bucket tracking is on: a dense window of
   * BUCKET_WINDOW buckets from `bucketBase` (array reads and writes, no hashing: one update per level set, 82 reads
   * per COB snapshot) plus a map for the rare bucket outside it. Integer sums below 2^53 are exact in a Float64Array.
   */
  buckets: Float64Array | undefined = undefined;
  private outer = new Map<number, number>();
  /** Bucket index of `buckets[0]`; NaN until the first level places the window around itself. */
  private bucketBase = NaN;
  bucketTicks = 0;

  constructor(private readonly isBid: boolean) {}

  set(price: number, lots: number): void {
    const map = this.map;
    if (this.buckets !== undefined) this.addToBucket(price, lots - (map.get(price) ?? 0));
    if (lots === 0) {
      if (!map.delete(price)) return;
      this.touch(price);
      if (price === this.best && map.size > 0) this.best = this.nextBest(price);
      return;
    }
    const size = map.size;
    map.set(price, lots);
    if (map.size === size) return; // a size change at an existing level
    this.touch(price);
    if (size === 0 || (this.isBid ? price > this.best : price < this.best)) this.best = price;
  }

  /** Records an inserted or deleted price for the next merge, or gives up merging once a rebuild is due anyway. */
  private touch(price: number): void {
    if (this.stale) return;
    const t = this.touched;
    t.push(price);
    // The same test `sorted` makes: past it the read rebuilds from the map and the touched prices are not needed.
    if (t.length * 8 > this.index.length) {
      this.stale = true;
      t.length = 0;
    }
  }

  private addToBucket(price: number, delta: number): void {
    if (delta === 0) return;
    const b = Math.floor(price / this.bucketTicks);
    if (Number.isNaN(this.bucketBase)) this.bucketBase = b - BUCKET_WINDOW / 2;
    const i = b - this.bucketBase;
    if (i >= 0 && i < BUCKET_WINDOW) {
      this.buckets![i]! += delta;
      return;
    }
    const outer = this.outer;
    const sum = (outer.get(b) ?? 0) + delta;
    if (sum === 0) outer.delete(b);
    else outer.set(b, sum);
  }

  /** Returns the summed lots in bucket `b` (0 when no level is in it). */
  bucketLots(b: number): number {
    const i = b - this.bucketBase;
    return i >= 0 && i < BUCKET_WINDOW ? this.buckets![i]! : this.outer.get(b) ?? 0;
  }

  /** Returns the non-empty buckets and their sums (a copy, for inspection). */
  bucketMap(): Map<number, number> {
    const out = new Map<number, number>();
    const d = this.buckets!;
    for (let i = 0; i < BUCKET_WINDOW; i++) if (d[i] !== 0) out.set(this.bucketBase + i, d[i]!);
    for (const [b, q] of this.outer) out.set(b, q);
    return out;
  }

  /** Starts (or restarts, with another width) keeping bucket sums, computed from the levels held now. */
  trackBuckets(bucketTicks: number): void {
    this.bucketTicks = bucketTicks;
    this.buckets ??= new Float64Array(BUCKET_WINDOW);
    this.sumBuckets();
  }

  // Recomputes the sums from the levels, with the window placed around the best price (or the first level placed).
  private sumBuckets(): void {
    this.buckets!.fill(0);
    this.outer.clear();
    this.bucketBase = this.map.size > 0 ? Math.floor(this.best / this.bucketTicks) - BUCKET_WINDOW / 2 : NaN;
    for (const [p, q] of this.map) this.addToBucket(p, q);
  }

  private clearBuckets(): void {
    if (this.buckets === undefined) return;
    this.buckets.fill(0);
    this.outer.clear();
    this.bucketBase = NaN;
  }

  /** Finds the best price after `gone` was deleted: probes the ticks just behind it (dense near the touch). */
  private nextBest(gone: number): number {
    const map = this.map;
    const step = this.isBid ? -1 : 1;
    for (let i = 1, p = gone + step; i <= BEST_PROBE_TICKS; i++, p += step) if (map.has(p)) return p;
    let best = this.isBid ? -Infinity : Infinity;
    if (this.isBid) for (const p of map.keys()) { if (p > best) best = p; }
    else for (const p of map.keys()) { if (p < best) best = p; }
    return best;
  }

  /** Returns the prices best-first, merging in what changed since the last call. */
  sorted(): number[] {
    const t = this.touched;
    if (t.length === 0 && !this.stale) return this.index;
    const map = this.map;
    const isBid = this.isBid;
    const old = this.index;
    const out: number[] = [];
    if (this.stale || t.length * 8 > old.length) {
      for (const p of map.keys()) out.push(p);
      out.sort(isBid ? (a, b) => b - a : (a, b) => a - b);
    } else {
      t.sort(isBid ? (a, b) => b - a : (a, b) => a - b);
      // Merge: untouched old prices stay; a touched price is in the result iff it is in the map now.
      let i = 0;
      let j = 0;
      let last = NaN;
      while (i < old.length || j < t.length) {
        const o = i < old.length ? old[i]! : NaN;
        const c = j < t.length ? t[j]! : NaN;
        if (j >= t.length || (i < old.length && (isBid ? o > c : o < c))) {
          out.push(o);
          i++;
          continue;
        }
        if (o === c) i++; // the touched price decides whether it stays
        j++;
        if (c !== last && map.has(c)) out.push(c);
        last = c;
      }
    }
    t.length = 0;
    this.stale = false;
    this.index = out;
    return out;
  }

  clear(): void {
    this.map.clear();
    this.index = [];
    this.touched.length = 0;
    this.stale = false;
    this.clearBuckets();
  }

  /** Replaces the side with `levels` (any order; zero sizes skipped; a repeated price keeps the last size). */
  load(levels: readonly Level[]): void {
    this.clear();
    const map = this.map;
    for (const [p, q] of levels) {
      if (q === 0) map.delete(p);
      else map.set(p, q);
    }
    let best = this.isBid ? -Infinity : Infinity;
    for (const p of map.keys()) if (this.isBid ? p > best : p < best) best = p;
    this.best = best;
    this.index = [...map.keys()].sort(this.isBid ? (a, b) => b - a : (a, b) => a - b);
    if (this.buckets !== undefined) this.sumBuckets();
  }
}

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
    return s.map.size === 0 ? undefined : (s.best as Ticks);
  }

  /** Returns the best (lowest) ask price, or undefined when there are no asks. */
  bestAsk(): Ticks | undefined {
    const s = this.asks;
    return s.map.size === 0 ? undefined : (s.best as Ticks);
  }

  /** Returns the size at the best bid, or 0 when there are no bids. */
  bestBidLots(): Lots {
    const s = this.bids;
    return (s.map.size === 0 ? 0 : s.map.get(s.best)!) as Lots;
  }

  /** Returns the size at the best ask, or 0 when there are no asks. */
  bestAskLots(): Lots {
    const s = this.asks;
    return (s.map.size === 0 ? 0 : s.map.get(s.best)!) as Lots;
  }

  /** Returns the size at `price` on `side`, 0 when the level is absent. */
  lotsAt(side: BookSide, price: Ticks): Lots {
    return ((side === 'bid' ? this.bids : this.asks).map.get(price) ?? 0) as Lots;
  }

  /** Returns up to `n` levels of `side`, best first. */
  levels(side: BookSide, n: number): Level[] {
    const s = side === 'bid' ? this.bids : this.asks;
    const px = s.sorted();
    const out: Level[] = [];
    for (let i = 0; i < px.length && out.length < n; i++) out.push([px[i]! as Ticks, s.map.get(px[i]!)! as Lots]);
    return out;
  }

  /** Calls `fn` for each level of `side`, best first, until it returns false. */
  forEachLevel(side: BookSide, fn: (price: Ticks, lots: Lots) => boolean | void): void {
    const s = side === 'bid' ? this.bids : this.asks;
    // `px` is a snapshot: a callback that changes the book does not disturb this walk. Sizes are read live and a
    // level deleted meanwhile is skipped.
    const px = s.sorted();
    const map = s.map;
    for (let i = 0; i < px.length; i++) {
      const lots = map.get(px[i]!);
      if (lots !== undefined && fn(px[i]! as Ticks, lots as Lots) === false) return;
    }
  }

  /** Returns the number of levels on `side`. */
  size(side: BookSide): number {
    return (side === 'bid' ? this.bids : this.asks).map.size;
  }

  /**
   * Keeps, from now on, the summed lots of each side per price bucket of `bucketTicks` ticks (bucket b holds prices
   * [b·bucketTicks, (b+1)·bucketTicks)), updated on every change. Costs one extra map lookup and array update per `set`;
   * books that never call this pay one field test per `set`. Calling it again with another width recomputes the sums.
   */
  trackBuckets(bucketTicks: number): void {
    if (!Number.isSafeInteger(bucketTicks) || bucketTicks < 1) {
      throw new ConfigError(`book ${this.symbol}: bucket width ${bucketTicks} ticks must be a positive integer`);
    }
    this.bids.trackBuckets(bucketTicks);
    this.asks.trackBuckets(bucketTicks);
  }

  /** Returns the bucket width in ticks whose sums this book keeps, or 0 when it keeps none. */
  get bucketTicks(): number {
    return this.bids.bucketTicks;
  }

  /** Returns `side`'s summed lots in bucket `b` (0: no level in it); 0 when not tracking buckets. The COB's hot path. */
  bucketLots(side: BookSide, b: number): Lots {
    const s = side === 'bid' ? this.bids : this.asks;
    return (s.buckets === undefined ? 0 : s.bucketLots(b)) as Lots;
  }

  /** Returns `side`'s non-empty buckets and their summed lots (a copy), or undefined when not tracking buckets. */
  bucketSums(side: BookSide): ReadonlyMap<number, Lots> | undefined {
    const s = side === 'bid' ? this.bids : this.asks;
    return s.buckets === undefined ? undefined : (s.bucketMap() as Map<number, Lots>);
  }

  /** Returns true when both sides are non-empty and the best bid is at or above the best ask. */
  crossed(): boolean {
    const b = this.bids;
    const a = this.asks;
    return b.map.size > 0 && a.map.size > 0 && b.best >= a.best;
  }
}
