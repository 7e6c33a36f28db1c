// Binance's average price of a symbol (GET /api/v3/avgPrice, the reference of PERCENT_PRICE_BY_SIDE): the
// volume-weighted price of the prints of the last `avgPriceMins` minutes, kept per symbol by the simulator's venue.

/** An average price in ticks, `num / den` (a volume-weighted one is not on the tick grid). */
export interface AvgPrice {
  readonly num: bigint;
  readonly den: bigint;
  /** Exchange time of the newest print it includes. */
  readonly lastTs: number;
}

/**
 * The recorded prints of one symbol over the last `avgPriceMins` minutes of sim time, for Binance's average price
 * (GET /api/v3/avgPrice, PERCENT_PRICE_BY_SIDE). The market's own trade list keeps a fixed count, which a busy
 * minute outgrows. With no print in the window the newest one stands alone; before the first there is no average.
 */
export class PrintWindow {
  private readonly prints: Array<{ readonly ts: number; readonly price: number; readonly lots: number }> = [];
  private head = 0;
  private pxLots = 0n;
  private lots = 0n;
  private last: { ts: number; price: number } | undefined;

  constructor(private readonly spanMs: number) {}

  add(ts: number, price: number, lots: number): void {
    // Prints arrive in time order. Those two spans older than this one can never be in a window again (the sim clock
    // runs within about a second of the newest print): dropped here too, or a replay without priced orders, which
    // never calls `at`, would keep every print (~185 MB per symbol per replayed day).
    this.expire(ts - 2 * this.spanMs);
    this.prints.push({ ts, price, lots });
    this.pxLots += BigInt(price) * BigInt(lots);
    this.lots += BigInt(lots);
    this.last = { ts, price };
  }

  /** Prints held (bounded by two spans of prints). */
  get size(): number {
    return this.prints.length - this.head;
  }

  at(now: number): AvgPrice | undefined {
    this.expire(now - this.spanMs);
    if (!this.last) return undefined;
    return this.lots > 0n ? { num: this.pxLots, den: this.lots, lastTs: this.last.ts } : { num: BigInt(this.last.price), den: 1n, lastTs: this.last.ts };
  }

  // Drops the prints at or before `cutoff`.
  private expire(cutoff: number): void {
    while (this.head < this.prints.length && this.prints[this.head]!.ts <= cutoff) {
      const p = this.prints[this.head++]!;
      this.pxLots -= BigInt(p.price) * BigInt(p.lots);
      this.lots -= BigInt(p.lots);
    }
    if (this.head > 4096 && this.head * 2 > this.prints.length) {
      this.prints.splice(0, this.head);
      this.head = 0;
    }
  }
}
