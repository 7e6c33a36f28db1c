// What a taker may reach in a depth book that lags the market. Binance's depth@100ms book is up to ~100 ms old when an
// order matches, while two streams carry newer news of the touch: bookTicker (the real-time best bid/ask, its update
// id `u` above the book's last applied diff's) and trade prints timed after the book's last diff. Matching against
// the book alone filled takers at levels the touch and the tape showed were already gone (a stop triggered by a print
// sold above that very print). The overlay clips the book a taker walks, in integer ticks and lots:
// - A ticker newer than the book (its update id above the book's): levels better than its price on a side are gone,
//   and the level at its price holds the ticker's size (whether the book shows that level or not). It stops applying
//   once the book applies a diff at or past its update id: the diff then says it all.
// - A print after the book's last diff consumed the levels it went through on its side: a seller-aggressor print at p
//   leaves no bid above p and takes its lots off the bid at p (a buyer-aggressor print likewise on the asks), until a
//   diff timed at or after the print is applied.
// Both clip at once (the more restrictive wins); a print at the ticker's price takes its lots off the ticker's size.
// Only prints that arrived after the live ticker do: one that came before it is already in the ticker (its price and
// size are newer than the print), so counting it again filled takers worse than the real touch (a dip print clipped
// sells below a ticker showing the bid back; a print at the ticker's ask took its lots off a size that had them
// gone already). Each print is tagged with the update id of the ticker current when it arrived.
import type { BookSide } from './order-book.ts';
import type { Lots, Ticks } from '../types/price.ts';

/** A real-time best bid/ask (Binance bookTicker) with its update id, in ticks and lots. */
export interface TouchTicker {
  readonly updateId: number;
  readonly bid: Ticks;
  readonly bidLots: Lots;
  readonly ask: Ticks;
  readonly askLots: Lots;
}

/** How one side of the book is clipped for a taker; `undefined` fields do not apply. */
export interface SideClip {
  /** Levels better than this price (for a taker: lower asks, higher bids) are gone. */
  readonly edge: number;
  /** The ticker's price and size on this side, when it is newer than the book. */
  readonly touchPx: number | undefined;
  readonly touchLots: number;
  /** The furthest print past the book on this side and the lots printed there. */
  readonly printPx: number | undefined;
  readonly printLots: number;
}

interface Print {
  readonly ts: number;
  readonly price: number;
  readonly lots: number;
  /** The update id of the ticker current when the print arrived; -Infinity before any. */
  readonly tickerId: number;
}

/**
 * Prints kept per side before the oldest go: a book without a diff for that long is stale beyond what a clip mends
 * (a live feed resyncs it long before), and memory must stay bounded.
 */
const MAX_PRINTS = 10_000;

/** Returns true when `a` is better than `b` for a taker on `side` (a lower ask, a higher bid). */
export const betterFor = (side: BookSide, a: number, b: number): boolean => (side === 'ask' ? a < b : a > b);

/** Prints newer than the book, per side, kept only while they can still bind (see the header). */
export class PrintOverlay {
  // Per side, a window-extremum queue: from the front the furthest print, then those that take over as older ones
  // expire. A print no further than a later one expires first and never binds, so it is dropped.
  private readonly prints: Record<BookSide, Print[]> = { bid: [], ask: [] };

  /** True when no print is kept. */
  get empty(): boolean {
    return this.prints.bid.length === 0 && this.prints.ask.length === 0;
  }

  /**
   * Takes a print at trade time `ts`; `buyerMaker` true means the aggressor sold (it hit bids). A print without a
   * time, or timed at or before the book's last diff (`bookTs`), is already in the book or cannot be told apart: skipped.
   * `tickerId` is the update id of the ticker current as it arrives (undefined: none yet); ticker ids only grow.
   */
  onPrint(price: Ticks, lots: Lots, buyerMaker: boolean, ts: number | undefined, bookTs: number, tickerId?: number): void {
    if (ts === undefined || !(ts > bookTs) || lots <= 0) return;
    const side: BookSide = buyerMaker ? 'bid' : 'ask';
    const q = this.prints[side];
    while (q.length > 0 && betterFor(side, q[q.length - 1]!.price, price) && q[q.length - 1]!.ts <= ts) q.pop();
    q.push({ ts, price, lots, tickerId: tickerId ?? -Infinity });
    if (q.length > MAX_PRINTS) q.shift();
  }

  /** A diff timed `ts` was applied: prints at or before it are in the book. Without a time every print goes. */
  onDiff(ts: number | undefined): void {
    for (const side of ['bid', 'ask'] as const) {
      const q = this.prints[side];
      if (q.length === 0) continue;
      if (ts === undefined) {
        q.length = 0;
        continue;
      }
      const keep = q.filter((p) => p.ts > ts);
      if (keep.length !== q.length) this.prints[side] = keep;
    }
  }

  /** Forgets every print (the book was replaced). */
  clear(): void {
    this.prints.bid = [];
    this.prints.ask = [];
  }

  /**
   * Returns the furthest print on `side` that arrived while a ticker with update id `sinceTicker` or newer was
   * current (every print when undefined), and the lots such prints took at its price; undefined when none.
   */
  furthest(side: BookSide, sinceTicker?: number): { price: number; lots: number } | undefined {
    // The queue keeps prices from the furthest on, equal prices together. A print it dropped had a later, further
    // one, whose ticker id is no lower: the first print that counts is the furthest of those that count.
    let price: number | undefined;
    let lots = 0;
    for (const p of this.prints[side]) {
      if (sinceTicker !== undefined && p.tickerId < sinceTicker) continue;
      if (price !== undefined && p.price !== price) break;
      price = p.price;
      lots += p.lots;
    }
    return price === undefined ? undefined : { price, lots };
  }
}

/** Returns `ticker` when it is newer than the book (its update id above the book's `bookUpdateId`), else undefined. */
export function newerTicker(ticker: TouchTicker | undefined, bookUpdateId: number | undefined): TouchTicker | undefined {
  return ticker !== undefined && bookUpdateId !== undefined && ticker.updateId > bookUpdateId ? ticker : undefined;
}

/** Returns the price and size a ticker shows on `side`. */
export function tickerLevel(ticker: TouchTicker, side: BookSide): { price: number; lots: number } {
  return side === 'ask' ? { price: ticker.ask, lots: ticker.askLots } : { price: ticker.bid, lots: ticker.bidLots };
}

/**
 * Returns the clip of `side` from a ticker newer than the book (`live`, see newerTicker) and the furthest print that
 * counts beside it (PrintOverlay.furthest since that ticker), or undefined when neither applies.
 */
export function sideClip(side: BookSide, live: TouchTicker | undefined, print: { price: number; lots: number } | undefined): SideClip | undefined {
  const touch = live && tickerLevel(live, side);
  const touchPx = touch?.price;
  const touchLots = touch?.lots ?? 0;
  if (touchPx === undefined && print === undefined) return undefined;
  let edge = touchPx ?? print!.price;
  if (print !== undefined && betterFor(side, edge, print.price)) edge = print.price;
  return { edge, touchPx, touchLots, printPx: print?.price, printLots: print?.lots ?? 0 };
}

/** Returns the lots a clipped level at `p` shows before prints: the ticker's size at its price, else the book's. */
export function clipBase(clip: SideClip | undefined, p: number, bookLots: number): number {
  return clip !== undefined && p === clip.touchPx ? clip.touchLots : bookLots;
}

/** Returns the lots prints took off the level at `p`. */
export function clipPrinted(clip: SideClip | undefined, p: number): number {
  return clip !== undefined && p === clip.printPx ? clip.printLots : 0;
}

/** The levels a taker walks on one side, best first: price, lots shown before prints, lots prints took there. */
export type ClippedLevelFn = (price: number, base: number, printed: number) => boolean | void;

/**
 * Calls `fn` for each level of `side` a taker may reach, best first, until it returns false: the book's levels not
 * beyond the clip's edge, with the ticker's level where the book lacks it.
 */
export function forEachClipped(
  forEachLevel: (side: BookSide, fn: (price: Ticks, lots: Lots) => boolean | void) => void,
  side: BookSide, clip: SideClip, fn: ClippedLevelFn,
): void {
  // The ticker's level is due when it is the edge itself (a print past it clipped it away otherwise).
  let touchDue = clip.touchPx !== undefined && !betterFor(side, clip.touchPx, clip.edge);
  let stopped = false;
  forEachLevel(side, (p, lots) => {
    if (betterFor(side, p, clip.edge)) return true;
    if (touchDue && p !== clip.touchPx) {
      touchDue = false;
      if (fn(clip.touchPx!, clip.touchLots, clipPrinted(clip, clip.touchPx!)) === false) {
        stopped = true;
        return false;
      }
    }
    if (p === clip.touchPx) touchDue = false;
    const go = fn(p, clipBase(clip, p, lots), clipPrinted(clip, p));
    if (go === false) stopped = true;
    return go;
  });
  if (touchDue && !stopped) fn(clip.touchPx!, clip.touchLots, clipPrinted(clip, clip.touchPx!));
}
