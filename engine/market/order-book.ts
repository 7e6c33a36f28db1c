import type { Level } from '../messages/market.ts';
import type { Lots, Ticks } from '../types/price.ts';

/** Which side of a book a level sits on. */
export type BookSide = 'bid' | 'ask';

/**
 * One side of the book as two parallel arrays sorted so that the best price is LAST.
 * Bids are kept ascending and asks descending: depth updates cluster near the touch, so inserts and deletes
 * splice near the end of the array, which costs almost nothing, and the best price is a plain index read.
 */
class Side {
  /** Prices in ticks; ascending for bids, descending for asks (best at the end). */
  readonly px: number[] = [];
  readonly qty: number[] = [];

  constructor(private readonly isBid: boolean) {}

  /** Returns the index of `price` when present, else `-(insertion index) - 1`. Searches from the top first. */
  find(price: number): number {
    const px = this.px;
    let hi = px.length - 1;
    if (hi < 0) return -1;
    // "before" means: price sorts before px[i] in this side's order (farther from the touch).
    const isBid = this.isBid;
    const top = px[hi]!;
    if (top === price) return hi;
    if (isBid ? price > top : price < top) return -(hi + 1) - 1;
    // Most updates land within a few levels of the touch: probe a short window before the binary search.
    const stop = hi > 8 ? hi - 8 : 0;
    for (let i = hi - 1; i >= stop; i--) {
      const p = px[i]!;
      if (p === price) return i;
      if (isBid ? price > p : price < p) return -(i + 1) - 1;
    }
    let lo = 0;
    hi = stop - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const p = px[mid]!;
      if (p === price) return mid;
      if (isBid ? p < price : p > price) lo = mid + 1;
      else hi = mid - 1;
    }
    return -lo - 1;
  }

  set(price: number, lots: number): void {
    const i = this.find(price);
    if (i >= 0) {
      if (lots === 0) {
        if (i === this.px.length - 1) {
          this.px.pop();
          this.qty.pop();
        } else {
          this.px.splice(i, 1);
          this.qty.splice(i, 1);
        }
      } else {
        this.qty[i] = lots;
      }
      return;
    }
    if (lots === 0) return;
    const at = -i - 1;
    if (at === this.px.length) {
      this.px.push(price);
      this.qty.push(lots);
    } else {
      this.px.splice(at, 0, price);
      this.qty.splice(at, 0, lots);
    }
  }

  clear(): void {
    this.px.length = 0;
    this.qty.length = 0;
  }

  /** Replaces the side with `levels` (any order; zero sizes skipped; a repeated price keeps the last size). */
  load(levels: readonly Level[]): void {
    const sorted = levels.filter((l) => l[1] !== 0).sort((a, b) => (this.isBid ? a[0] - b[0] : b[0] - a[0]));
    this.clear();
    for (const [p, q] of sorted) {
      const last = this.px.length - 1;
      if (last >= 0 && this.px[last] === p) this.qty[last] = q;
      else {
        this.px.push(p);
        this.qty.push(q);
      }
    }
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
    const px = this.bids.px;
    return px.length === 0 ? undefined : (px[px.length - 1] as Ticks);
  }

  /** Returns the best (lowest) ask price, or undefined when there are no asks. */
  bestAsk(): Ticks | undefined {
    const px = this.asks.px;
    return px.length === 0 ? undefined : (px[px.length - 1] as Ticks);
  }

  /** Returns the size at the best bid, or 0 when there are no bids. */
  bestBidLots(): Lots {
    const q = this.bids.qty;
    return (q.length === 0 ? 0 : q[q.length - 1]!) as Lots;
  }

  /** Returns the size at the best ask, or 0 when there are no asks. */
  bestAskLots(): Lots {
    const q = this.asks.qty;
    return (q.length === 0 ? 0 : q[q.length - 1]!) as Lots;
  }

  /** Returns the size at `price` on `side`, 0 when the level is absent. */
  lotsAt(side: BookSide, price: Ticks): Lots {
    const s = side === 'bid' ? this.bids : this.asks;
    const i = s.find(price);
    return (i >= 0 ? s.qty[i]! : 0) as Lots;
  }

  /** Returns up to `n` levels of `side`, best first. */
  levels(side: BookSide, n: number): Level[] {
    const s = side === 'bid' ? this.bids : this.asks;
    const out: Level[] = [];
    for (let i = s.px.length - 1; i >= 0 && out.length < n; i--) out.push([s.px[i]! as Ticks, s.qty[i]! as Lots]);
    return out;
  }

  /** Calls `fn` for each level of `side`, best first, until it returns false. */
  forEachLevel(side: BookSide, fn: (price: Ticks, lots: Lots) => boolean | void): void {
    const s = side === 'bid' ? this.bids : this.asks;
    for (let i = s.px.length - 1; i >= 0; i--) {
      if (fn(s.px[i]! as Ticks, s.qty[i]! as Lots) === false) return;
    }
  }

  /** Returns the number of levels on `side`. */
  size(side: BookSide): number {
    return (side === 'bid' ? this.bids : this.asks).px.length;
  }

  /** Returns true when both sides are non-empty and the best bid is at or above the best ask. */
  crossed(): boolean {
    const b = this.bids.px;
    const a = this.asks.px;
    return b.length > 0 && a.length > 0 && b[b.length - 1]! >= a[a.length - 1]!;
  }
}
