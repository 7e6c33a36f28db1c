import type { BookTicker } from '../../messages/market.ts';

/** Top of book after one applied diff. */
interface TopAt {
  u: number;
  bid: number;
  bidLots: number;
  ask: number;
  askLots: number;
}

/** Counts of a TickerCheck. */
export interface TickerCheckCounts {
  /** Applied diffs that had a recorded bookTicker at or before their final update id. */
  checked: number;
  /** Of those, best bid, ask and both sizes equal. */
  matched: number;
  /** Of those, best bid and ask prices equal (sizes may differ). */
  priceMatched: number;
  /** Applied diffs with no bookTicker at or before them (start of the recording). */
  unchecked: number;
  /** bookTickers whose update id went backwards, ignored. */
  tickersOutOfOrder: number;
}

/**
 * Compares our book against the recorded bookTicker stream. For every applied diff with final update id `u`, the
 * reference is the bookTicker with the largest update id `X <= u`. Binance publishes a bookTicker on every change of
 * the best bid/ask, so when no bookTicker lies in `(X, u]` the top did not change after X and the book after `u`
 * must show exactly bookTicker X. The stream of bookTickers runs ahead of the 100 ms depth stream but may also trail
 * it, so a check is settled only once a bookTicker with id `> u` has arrived (or at the end of the recording).
 */
export class TickerCheck {
  readonly counts: TickerCheckCounts = { checked: 0, matched: 0, priceMatched: 0, unchecked: 0, tickersOutOfOrder: 0 };
  private pending: TopAt[] = [];
  private pendingHead = 0;
  private tickers: BookTicker[] = [];
  /** Mismatches kept for the report (at most 20). */
  readonly mismatches: { u: number; ours: Omit<TopAt, 'u'>; ticker: { updateId: number; bid: number; bidLots: number; ask: number; askLots: number } }[] = [];

  /** Records the top of book right after the diff ending at `u` was applied. */
  onBook(u: number, bid: number, bidLots: number, ask: number, askLots: number): void {
    this.pending.push({ u, bid, bidLots, ask, askLots });
  }

  /** Takes one recorded bookTicker. */
  onTicker(t: BookTicker): void {
    const last = this.tickers[this.tickers.length - 1];
    if (last && t.updateId < last.updateId) {
      this.counts.tickersOutOfOrder++;
      return;
    }
    this.tickers.push(t);
    while (this.pendingHead < this.pending.length && this.pending[this.pendingHead]!.u < t.updateId) {
      this.settle(this.pending[this.pendingHead++]!);
    }
    this.compact();
  }

  /** Settles every check still open (end of the recording). */
  finish(): TickerCheckCounts {
    while (this.pendingHead < this.pending.length) this.settle(this.pending[this.pendingHead++]!);
    this.compact();
    return this.counts;
  }

  private settle(c: TopAt): void {
    const t = this.latestAtOrBefore(c.u);
    if (!t) {
      this.counts.unchecked++;
      return;
    }
    this.counts.checked++;
    const prices = t.bid === c.bid && t.ask === c.ask;
    if (prices) this.counts.priceMatched++;
    if (prices && t.bidLots === c.bidLots && t.askLots === c.askLots) this.counts.matched++;
    else if (this.mismatches.length < 20) {
      this.mismatches.push({
        u: c.u,
        ours: { bid: c.bid, bidLots: c.bidLots, ask: c.ask, askLots: c.askLots },
        ticker: { updateId: t.updateId, bid: t.bid, bidLots: t.bidLots, ask: t.ask, askLots: t.askLots },
      });
    }
  }

  private latestAtOrBefore(u: number): BookTicker | undefined {
    const i = this.indexAtOrBefore(u);
    return i < 0 ? undefined : this.tickers[i];
  }

  private indexAtOrBefore(u: number): number {
    const ts = this.tickers;
    let lo = 0;
    let hi = ts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (ts[mid]!.updateId <= u) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Forgets tickers and checks no longer needed, keeping the latest ticker at or before the oldest open check. */
  private compact(): void {
    if (this.pendingHead > 1024) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    const oldest = this.pendingHead < this.pending.length ? this.pending[this.pendingHead]!.u : Infinity;
    if (this.tickers.length < 2048) return;
    const keepFrom = this.indexAtOrBefore(oldest);
    if (keepFrom > 1024) this.tickers = this.tickers.slice(keepFrom);
  }
}
