// One side of an L2 book (engine/market/order-book.ts): price -> lots, the tracked best price, a lazily merged
// best-first price index and, optionally, per-bucket lot sums for the COB.
import type { Level } from '../messages/market.ts';
import { DenseMap } from './dense-map.ts';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Levels live in a DenseMap kept centred on the best price (hftbacktest's ROI vector idea): near the touch a set is
 * an array write, far levels go to its Map. Binance diffs touch deep levels too, and a sorted array pays a mid-array
 * move of ~1-2k elements for each such insert or delete; the dense window pays nothing and the Map one hash operation.
 * Best-first reads (the matching engine, snapshots, a COB without bucket sums) use a sorted price index brought up to
 * date lazily: prices inserted or deleted since the last read are merged into it in one linear pass. With
 * `trackBuckets` the side also keeps the summed lots per fixed-width price bucket (another DenseMap), so the COB reads
 * ±range buckets instead of walking thousands of levels.
 */
export class SideLevels {
  readonly levels = new DenseMap();
  /** Best price; meaningful only while the side is non-empty. */
  best = 0;
  /** Prices best-first as of the last read, plus the prices inserted or deleted since (in `touched`). */
  private index: number[] = [];
  private touched: number[] = [];
  /**
   * The next read rebuilds the index from the levels: `touched` grew past the point where merging pays (the read
   * would rebuild anyway), so it stops growing. Without this a side nobody reads best-first (one whose COB reads
   * bucket sums) would collect every insert and delete in `touched` for ever.
   */
  private stale = false;
  /** Bumped by every insert or delete of a level (a size change reorders nothing), so a best-first walk notices a callback that changed the side. */
  private version = 0;
  /** Summed lots per bucket floor(price / bucketTicks), kept only while bucket tracking is on. */
  buckets: DenseMap | undefined = undefined;
  bucketTicks = 0;
  /**
   * False once a bucket sum passed 2^53: from there a float sum rounds, and deleting the levels later would leave a
   * residue (even a negative one) for good. Readers then walk the levels instead, until a load sums them afresh.
   */
  bucketsExact = true;

  constructor(private readonly isBid: boolean) {}

  /** The number of levels. */
  get size(): number {
    return this.levels.size;
  }

  /** Sets the lots at `price` (0 deletes the level). */
  set(price: number, lots: number): void {
    const lv = this.levels;
    const old = lv.set(price, lots);
    if (this.buckets !== undefined && lots !== old && this.buckets.add(Math.floor(price / this.bucketTicks), lots - old) > MAX_SAFE) {
      this.bucketsExact = false;
    }
    if (lots === 0) {
      if (old === 0) return;
      this.touch(price);
      if (price === this.best && lv.size > 0) this.setBest(this.nextBest(price));
      return;
    }
    if (old !== 0) return; // a size change at an existing level
    this.touch(price);
    if (lv.size === 1 || (this.isBid ? price > this.best : price < this.best)) this.setBest(price);
  }

  private setBest(price: number): void {
    this.best = price;
    if (!this.levels.near(price)) this.levels.recenter(price);
  }

  /** Records an inserted or deleted price for the next merge, or gives up merging once a rebuild is due anyway. */
  private touch(price: number): void {
    this.version++;
    if (this.stale) return;
    const t = this.touched;
    t.push(price);
    // The same test `sorted` makes: past it the read rebuilds from the levels and the touched prices are not needed.
    if (t.length * 8 > this.index.length) {
      this.stale = true;
      t.length = 0;
    }
  }

  /**
   * Finds the best price after `gone` was deleted. A best inside the window has no better level outside it (the
   * window's far side holds only worse prices, the Map's keys beyond it too), so the first level behind it in the
   * window is the answer; only when the window holds none is every level scanned.
   */
  private nextBest(gone: number): number {
    const lv = this.levels;
    const near = this.isBid ? lv.below(gone) : lv.above(gone);
    if (near !== undefined) return near;
    let best = this.isBid ? -Infinity : Infinity;
    if (this.isBid) lv.forEach((p) => void (p > best && (best = p)));
    else lv.forEach((p) => void (p < best && (best = p)));
    return best;
  }

  /** Starts (or restarts, with another width) keeping bucket sums, computed from the levels held now. */
  trackBuckets(bucketTicks: number): void {
    this.bucketTicks = bucketTicks;
    this.buckets ??= new DenseMap();
    // The COB sums the part of a bucket its imbalance window cuts (OrderBook.lotsIn): by blocks, not price by price.
    this.levels.trackBlocks();
    this.sumBuckets();
  }

  // Recomputes the sums from the levels, with the bucket window around the best price.
  private sumBuckets(): void {
    const buckets = this.buckets!;
    buckets.clear();
    this.bucketsExact = true;
    if (this.size === 0) return;
    const bt = this.bucketTicks;
    buckets.set(Math.floor(this.best / bt), this.levels.get(this.best));
    this.levels.forEach((p, q) => {
      if (p !== this.best && buckets.add(Math.floor(p / bt), q) > MAX_SAFE) this.bucketsExact = false;
    });
  }

  /** Returns the prices best-first, merging in what changed since the last call. */
  sorted(): number[] {
    const t = this.touched;
    if (t.length === 0 && !this.stale) return this.index;
    const lv = this.levels;
    const isBid = this.isBid;
    const old = this.index;
    let out: number[] = [];
    if (this.stale || t.length * 8 > old.length) {
      out = lv.keys();
      out.sort(bestFirst(isBid));
    } else {
      t.sort(bestFirst(isBid));
      // Merge: untouched old prices stay; a touched price is in the result iff it is in the levels now.
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
        if (c !== last && lv.get(c) !== 0) out.push(c);
        last = c;
      }
    }
    t.length = 0;
    this.stale = false;
    this.index = out;
    return out;
  }

  /**
   * Calls `fn` for each level best first until it returns false. It reads the dense window outward from the best price
   * (every window level lies that way; the best is kept inside it), then the far levels of the Map, sorted: a walk that
   * stops after a few levels (the matching engine's) costs a few array reads, where `sorted()` first merged every
   * change since its last read into the whole price index, or rebuilt it after many (~3,400 prices for the recorded
   * ETH book, between two orders of a backtest). If `fn` changes the side, the rest of the walk goes by `sorted()`
   * from the last price visited, sizes read live as before.
   */
  forEachBestFirst(fn: (price: number, lots: number) => boolean | void): void {
    const lv = this.levels;
    if (lv.size === 0) return;
    const isBid = this.isBid;
    let v = this.version;
    let last = NaN;
    let stopped = false;
    const whole = lv.walkWindow(this.best, isBid ? -1 : 1, lv.windowSize, (p, q) => {
      last = p;
      if (fn(p, q) === false) {
        stopped = true;
        return false;
      }
      return this.version === v;
    });
    if (stopped) return;
    let rest: number[] | undefined;
    if (whole && this.version === v) {
      rest = lv.outerKeys();
      rest.sort(bestFirst(isBid));
    }
    for (;;) {
      if (rest === undefined) {
        // Only `fn` changes the version, so some price was visited: go on from it over the levels as they are now.
        v = this.version;
        const from = last;
        rest = this.sorted().filter((p) => (isBid ? p < from : p > from));
      }
      let changed = false;
      for (const p of rest) {
        const q = lv.get(p);
        if (q === 0) continue;
        last = p;
        if (fn(p, q) === false) return;
        if (this.version !== v) {
          changed = true;
          break;
        }
      }
      if (!changed) return;
      rest = undefined;
    }
  }

  /** Removes every level (and bucket sum). */
  clear(): void {
    this.version++;
    this.levels.clear();
    this.index = [];
    this.touched.length = 0;
    this.stale = false;
    this.buckets?.clear();
    this.bucketsExact = true;
  }

  /** Replaces the side with `levels` (any order; zero sizes skipped; a repeated price keeps the last size). */
  load(levels: readonly Level[]): void {
    this.clear();
    const lv = this.levels;
    for (const [p, q] of levels) lv.set(p, q);
    let best = this.isBid ? -Infinity : Infinity;
    lv.forEach((p) => {
      if (this.isBid ? p > best : p < best) best = p;
    });
    this.best = best;
    if (lv.size > 0 && !lv.near(best)) lv.recenter(best);
    this.index = lv.keys().sort(bestFirst(this.isBid));
    if (this.buckets !== undefined) this.sumBuckets();
  }
}

/** Number comparators for sort(), made once. */
export const ascending = (a: number, b: number): number => a - b;
export const descending = (a: number, b: number): number => b - a;
/** The sort order of a side's prices, best first: bids high to low, asks low to high. */
const bestFirst = (isBid: boolean): ((a: number, b: number) => number) => (isBid ? descending : ascending);
