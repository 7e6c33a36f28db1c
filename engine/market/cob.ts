// Consolidated order book (COB): per-venue L2 books of one symbol merged by price into fixed-size price buckets
// around the mid, with order-book imbalance and its time-weighted moving averages.
//
// The buckets sit on an absolute price grid (the heatmap and the dashboard need columns that line up over time), but
// the imbalances are summed over a price window centred on the mid itself. Whole grid buckets around the bucket that
// holds the mid gave the bids 5 + f buckets of depth and the asks 6 − f (f: the mid's place in its bucket), so on the
// recordings the near imbalance followed the price modulo the bucket size (correlation 0.65 with f on ETH).
import type { Decimal } from '../types/decimal.ts';
import { ConfigError } from '../types/errors.ts';
import type { VenueId } from '../types/instrument.ts';
import { stepsToFloat, toSteps, type Ticks } from '../types/price.ts';
import type { TsMs } from '../types/time.ts';
import { IMBALANCE_MA_WINDOWS_MS, TimeWeightedMeans } from './cob-ma.ts';
import { CobHeatmap, type HeatmapConfig } from './heatmap.ts';
import type { OrderBook } from './order-book.ts';

/**
 * What the COB reads from a book; `OrderBook` satisfies it. A book that keeps bucket sums of the COB's bucket width
 * (`OrderBook.trackBuckets`) is read through them; any other is walked level by level, with the same result.
 */
export type BookView = Pick<OrderBook, 'bestBid' | 'bestAsk' | 'forEachLevel' | 'size' | 'lotsIn'> & Partial<Pick<OrderBook, 'bucketTicks' | 'bucketRange'>>;

/** Configuration of one symbol's COB. */
export interface CobConfig {
  readonly symbol: string;
  /** Bucket width in quote units as a decimal string, e.g. '1' for ETH/USDT, '10' for BTC/USDT. */
  readonly bucketSize: string;
  /** Buckets kept on each side of the mid bucket (default 20: 41 buckets). */
  readonly range?: number;
  /**
   * Width of the near imbalance and its moving averages, in buckets each side of the mid bucket (default 5, at most
   * range): the imbalance is taken over the prices within (imbalanceRange + ½) buckets of the mid, as wide as the
   * 2·imbalanceRange + 1 buckets (within range buckets when imbalanceRange = range).
   */
  readonly imbalanceRange?: number;
  /** A venue with no update for longer than this is stale and left out of the merge (default 5000 ms). */
  readonly staleMs?: number;
  /**
   * Time between the owner's `update` calls (the aggregator's publish period; default 0: unknown). A gap longer than
   * max(staleMs, 2 × this) between updates means the book went unobserved and restarts the imbalance averages: below
   * 0.2 Hz a period is longer than the default staleMs, which alone would restart them at every update.
   */
  readonly publishPeriodMs?: number;
  /** Windows of the imbalance moving averages (default 1 s, 5 s, 15 s, 60 s). */
  readonly maWindowsMs?: readonly number[];
  /** Heatmap kept from every update (default 300 s × ±10 buckets); false for none. */
  readonly heatmap?: HeatmapConfig | false;
}

/**
 * The prices (ticks) the snapshot under a venue's book covered: bids at or above `lowestBid`, asks at or below
 * `highestAsk` (BookSync.coverage). Beyond them the book knows only the levels diffs have touched since.
 */
export interface BookCoverage {
  readonly lowestBid: number;
  readonly highestAsk: number;
}

/** One venue feeding the COB: its book and the increments its ticks and lots are counted in. */
export interface CobVenue {
  readonly venue: VenueId;
  readonly book: BookView;
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
  /** What the book's snapshot covered, undefined while none is loaded; omitted for a book not built from snapshots. */
  readonly coverage?: () => BookCoverage | undefined;
}

/** How one venue looked at snapshot time. */
export interface CobVenueStatus {
  readonly venue: VenueId;
  /** False while the venue's book is not synced (set by the aggregator) or has never updated. */
  readonly live: boolean;
  readonly stale: boolean;
  /** ms since the venue's last update (Infinity when never). */
  readonly ageMs: number;
  readonly bidLevels: number;
  readonly askLevels: number;
}

/** Conditions that make a snapshot partial; a consumer must not mistake them for a quiet market. */
export interface CobFlags {
  readonly emptyBid: boolean;
  readonly emptyAsk: boolean;
  /** The best bid of one venue is at or above the best ask of another (or of itself). */
  readonly crossed: boolean;
  readonly staleVenues: readonly VenueId[];
  /** No venue is live and fresh: the snapshot holds no book at all. */
  readonly noLiveVenue: boolean;
  /**
   * Buckets per side not wholly inside the depth snapshot of every merged venue (a REST snapshot holds a fixed
   * number of levels, e.g. 1000: about ±$200 of BTC): there the book has only levels diffs touched since, and resting
   * orders may be missing, so a thin bucket there is not proof of a thin market. Absent when no merged venue's book
   * says what its snapshot covered.
   */
  readonly beyondSnapshot?: { readonly bid: number; readonly ask: number };
}

/**
 * One COB state (what the aggregator publishes at 10 Hz). Bucket k of `bidBuckets`/`askBuckets` (0..2·range)
 * is the absolute bucket `centerBucket − range + k`, covering prices [b·bucketSize, (b+1)·bucketSize); values
 * are base-asset quantities summed over live venues.
 */
export interface CobSnapshot {
  readonly symbol: string;
  readonly ts: TsMs;
  /** Best bid and ask across live venues (floats, quote units); NaN when that side is empty. */
  readonly bestBid: number;
  readonly bestAsk: number;
  /** (bestBid + bestAsk) / 2; NaN when a side is empty. */
  readonly mid: number;
  /** bestAsk − bestBid in quote units and in basis points of the mid; NaN when a side is empty. */
  readonly spread: number;
  readonly spreadBps: number;
  readonly bucketSize: number;
  readonly range: number;
  /** Bucket holding the mid (or the only side's best price); NaN when both sides are empty. */
  readonly centerBucket: number;
  readonly bidBuckets: Float64Array;
  readonly askBuckets: Float64Array;
  /**
   * (bid − ask) / (bid + ask) of the quantities within range·bucketSize of the mid (of the only side's best price
   * when a side is empty: then ±1, or 0 when both are empty). Equal widths each side, wherever the mid sits in its bucket.
   */
  readonly imbalance: number;
  /** The same within min(imbalanceRange + ½, range)·bucketSize of the mid. */
  readonly imbalanceNear: number;
  readonly imbalanceRange: number;
  /**
   * Time-weighted means of `imbalanceNear` over `maWindowsMs`, in that order, over the samples since the book was last
   * out of view (see `ConsolidatedBook.update`); NaN when there is none (also on a one-sided snapshot).
   */
  readonly imbalanceMa: readonly number[];
  readonly maWindowsMs: readonly number[];
  readonly venues: readonly CobVenueStatus[];
  readonly flags: CobFlags;
}

interface VenueState {
  readonly spec: CobVenue;
  readonly bucketTicks: number;
  // stepsToFloat(x, lotSize) is (x * mantissa) / 10^scale: both factors kept as numbers, so the ~80 conversions per
  // snapshot skip the bigint -> number step and give the same floats.
  readonly lotMant: number;
  readonly lotDiv: number;
  lastUpdate: number;
  live: boolean;
}

/** Snapshots whose bucket arrays share one backing store (ConsolidatedBook.bucketArrays). */
const SLAB_SNAPSHOTS = 64;

/** Returns (bid − ask) / (bid + ask), or 0 when both are zero. */
export function imbalanceOf(bid: number, ask: number): number {
  const s = bid + ask;
  return s > 0 ? (bid - ask) / s : 0;
}

/**
 * Returns `side`'s lots at prices from..to (ticks) of a book whose lots per bucket of `bt` ticks, buckets lo.., are
 * `sums`; the window must lie inside those buckets. Whole buckets come from the sums; a bucket the window cuts is
 * summed in one `lotsIn` (by blocks of 64 prices in a tracking book) over its smaller part: at most bt/2 prices, or
 * the sum less the rest. A read per price made the cost grow with the bucket width (~60 µs p50 for BTC $50 buckets).
 */
function windowLots(book: BookView, side: 'bid' | 'ask', sums: Float64Array, lo: number, bt: number, from: number, to: number): number {
  let total = 0;
  for (let b = Math.floor(from / bt); b <= Math.floor(to / bt); b++) {
    const q = sums[b - lo]!;
    if (q === 0) continue;
    const start = b * bt;
    const end = start + bt - 1;
    const a = Math.max(from, start);
    const z = Math.min(to, end);
    if (a === start && z === end) total += q;
    else if (2 * (z - a + 1) <= bt) total += book.lotsIn(side, a as Ticks, z as Ticks);
    else total += q - book.lotsIn(side, start as Ticks, (a - 1) as Ticks) - book.lotsIn(side, (z + 1) as Ticks, end as Ticks);
  }
  return total;
}

/**
 * Counts, per side, the buckets lo..lo+n-1 (of `bt` ticks) that reach beyond some venue's snapshot coverage: a bid
 * bucket with a price below the venue's lowest snapshot bid, an ask bucket with one above its highest snapshot ask.
 * Returns undefined when no venue tells its coverage.
 */
function beyondSnapshot(used: readonly VenueState[], bt: number, lo: number, n: number): { bid: number; ask: number } | undefined {
  let out: { bid: number; ask: number } | undefined;
  for (const v of used) {
    if (v.spec.coverage === undefined) continue;
    out ??= { bid: 0, ask: 0 };
    const c = v.spec.coverage();
    // No snapshot under the book (a live book always has one): nothing it holds is vouched for.
    if (c === undefined) return { bid: n, ask: n };
    // Bucket b is short on bids when b·bt < lowestBid, on asks when (b+1)·bt − 1 > highestAsk.
    const bid = Math.min(n, Math.max(0, Math.ceil(c.lowestBid / bt) - lo));
    const ask = Math.min(n, Math.max(0, lo + n - Math.floor((c.highestAsk + 1) / bt)));
    if (bid > out.bid) out.bid = bid;
    if (ask > out.ask) out.ask = ask;
  }
  return out;
}

/**
 * The consolidated book of one symbol. The aggregator applies depth to each venue's `OrderBook`, then calls
 * `touch(venue, now)` and `update(now)`; `update` recomputes the buckets and feeds the imbalance averages.
 * All venues must count prices in the same tick size, so their ticks can be compared directly.
 */
export class ConsolidatedBook {
  readonly symbol: string;
  readonly range: number;
  readonly imbalanceRange: number;
  readonly staleMs: number;
  /** A longer gap between two updates restarts the imbalance averages: max(staleMs, 2 × publishPeriodMs). */
  readonly gapMs: number;
  readonly bucketSize: number;
  private readonly bucketSizeText: string;
  private readonly venues: VenueState[] = [];
  private readonly mas: TimeWeightedMeans;
  /** The time × price heatmap fed by `update`, unless disabled in the config. */
  readonly heatmap: CobHeatmap | undefined;
  private tickSize: Decimal | undefined;
  private last: CobSnapshot | undefined;
  /** Time of the last `update`, to see a stretch the book went unobserved. */
  private lastUpdateAt = -Infinity;
  private readonly scratchBid: Float64Array;
  private readonly scratchAsk: Float64Array;
  /** Backing store the snapshots' bucket arrays are cut from (see `bucketArrays`), and the next free index in it. */
  private slab: Float64Array = new Float64Array(0);
  private slabAt = 0;

  /** Creates an empty COB; throws ConfigError for a bad bucket size or range. */
  constructor(cfg: CobConfig) {
    this.symbol = cfg.symbol;
    this.range = cfg.range ?? 20;
    this.imbalanceRange = cfg.imbalanceRange ?? Math.min(5, this.range);
    this.staleMs = cfg.staleMs ?? 5_000;
    const period = cfg.publishPeriodMs ?? 0;
    if (!(period >= 0 && Number.isFinite(period))) throw new ConfigError(`cob ${cfg.symbol}: publishPeriodMs ${period} must be a finite number >= 0`);
    this.gapMs = Math.max(this.staleMs, 2 * period);
    if (!Number.isInteger(this.range) || this.range < 1) throw new ConfigError(`cob ${cfg.symbol}: range ${this.range} must be a positive integer`);
    if (!Number.isInteger(this.imbalanceRange) || this.imbalanceRange < 0 || this.imbalanceRange > this.range) {
      throw new ConfigError(`cob ${cfg.symbol}: imbalanceRange ${this.imbalanceRange} must be an integer in 0..${this.range}`);
    }
    this.bucketSizeText = cfg.bucketSize;
    this.bucketSize = Number(cfg.bucketSize);
    if (!/^\d+(\.\d+)?$/.test(cfg.bucketSize) || !(this.bucketSize > 0)) {
      throw new ConfigError(`cob ${cfg.symbol}: bucketSize '${cfg.bucketSize}' must be a positive decimal string`);
    }
    this.scratchBid = new Float64Array(2 * this.range + 1);
    this.scratchAsk = new Float64Array(2 * this.range + 1);
    this.mas = new TimeWeightedMeans(cfg.maWindowsMs ?? IMBALANCE_MA_WINDOWS_MS);
    this.heatmap = cfg.heatmap === false ? undefined : new CobHeatmap(cfg.heatmap ?? {});
    if (this.heatmap && this.heatmap.range > this.range) {
      throw new ConfigError(`cob ${cfg.symbol}: heatmap range ${this.heatmap.range} exceeds the COB range ${this.range}`);
    }
  }

  /**
   * Adds a venue's book and returns the bucket width in its ticks (what `OrderBook.trackBuckets` takes); throws
   * ConfigError when the bucket size is not a whole number of its ticks.
   */
  addVenue(spec: CobVenue): number {
    if (this.venues.some((v) => v.spec.venue === spec.venue)) throw new ConfigError(`cob ${this.symbol}: venue ${spec.venue} added twice`);
    if (this.tickSize && (this.tickSize.mantissa * 10n ** BigInt(spec.tickSize.scale) !== spec.tickSize.mantissa * 10n ** BigInt(this.tickSize.scale))) {
      throw new ConfigError(`cob ${this.symbol}: venue ${spec.venue} counts prices in another tick size than the first venue`);
    }
    let bucketTicks: number;
    try {
      bucketTicks = toSteps(this.bucketSizeText, spec.tickSize, 'price');
    } catch (err) {
      throw new ConfigError(`cob ${this.symbol}: bucketSize '${this.bucketSizeText}' is not a whole number of ${spec.venue} ticks`, { cause: err });
    }
    this.tickSize ??= spec.tickSize;
    this.venues.push({ spec, bucketTicks, lotMant: Number(spec.lotSize.mantissa), lotDiv: 10 ** spec.lotSize.scale, lastUpdate: -Infinity, live: true });
    return bucketTicks;
  }

  /** Records that `venue`'s book changed at `ts` (it counts as fresh from then on). */
  touch(venue: VenueId, ts: TsMs): void {
    const v = this.venues.find((s) => s.spec.venue === venue);
    if (v) v.lastUpdate = ts;
  }

  /**
   * Marks a venue's book as synced (live) or not (resyncing, disconnected): a non-live venue is left out. When the last
   * live venue leaves, the imbalance averages start over (`resetAverages`), however soon a venue is back.
   */
  setLive(venue: VenueId, live: boolean): void {
    const v = this.venues.find((s) => s.spec.venue === venue);
    if (!v) return;
    v.live = live;
    if (!live && !this.venues.some((s) => s.live)) this.resetAverages();
  }

  /**
   * Drops the imbalance averages' history: the book was out of view (the aggregator calls this on each tick it
   * publishes nothing because no venue is live or fresh). A sample holds until the next one, so without this the
   * pre-outage imbalance would fill the outage and every window, 1 s included, would report it once the book is back.
   */
  resetAverages(): void {
    this.mas.clear();
  }

  /** Returns the last snapshot made by `update`, if any. */
  latest(): CobSnapshot | undefined {
    return this.last;
  }

  /**
   * Recomputes the snapshot at `now`, feeds the imbalance averages and records it into the heatmap. The averages start
   * over on a snapshot without both sides (a one-sided book would read as ±1; it is not sampled) and after more than
   * `gapMs` without an update (the book went unobserved): windows never bridge such a stretch.
   */
  update(now: TsMs): CobSnapshot {
    const snap = this.compute(now);
    const twoSided = !snap.flags.emptyBid && !snap.flags.emptyAsk;
    if (!twoSided || now - this.lastUpdateAt > this.gapMs) this.mas.clear();
    this.lastUpdateAt = now;
    if (twoSided) this.mas.add(now, snap.imbalanceNear);
    // Filled in place (the snapshot is not shared yet): `{ ...snap, imbalanceMa }` built a slow-shaped copy.
    snap.imbalanceMa = this.mas.means(now);
    this.last = snap;
    this.heatmap?.record(snap);
    return snap;
  }

  private compute(now: TsMs): Omit<CobSnapshot, 'imbalanceMa'> & { imbalanceMa: readonly number[] } {
    const statuses: CobVenueStatus[] = [];
    const staleVenues: VenueId[] = [];
    const used: VenueState[] = [];
    let bb = -Infinity;
    let ba = Infinity;
    let crossed = false;
    for (const v of this.venues) {
      const age = now - v.lastUpdate;
      const stale = age > this.staleMs;
      const book = v.spec.book;
      statuses.push({ venue: v.spec.venue, live: v.live && v.lastUpdate > -Infinity, stale, ageMs: age, bidLevels: book.size('bid'), askLevels: book.size('ask') });
      if (stale) staleVenues.push(v.spec.venue);
      if (stale || !v.live) continue;
      used.push(v);
      const b = book.bestBid();
      const a = book.bestAsk();
      if (b !== undefined && b > bb) bb = b;
      if (a !== undefined && a < ba) ba = a;
    }
    if (bb > -Infinity && ba < Infinity && bb >= ba) crossed = true;
    const emptyBid = bb === -Infinity;
    const emptyAsk = ba === Infinity;
    const n = 2 * this.range + 1;
    const bids = this.bucketArrays(n);
    const asks = this.bucketArrays(n);
    const tick = this.tickSize;
    let center = NaN;
    let beyond: { bid: number; ask: number } | undefined;
    let bidAll = 0;
    let askAll = 0;
    let bidNear = 0;
    let askNear = 0;
    if (used.length > 0 && (!emptyBid || !emptyAsk)) {
      const bt = used[0]!.bucketTicks;
      // Integer tick arithmetic: floor((bb + ba) / 2 / bucketTicks) is exact for safe-integer ticks.
      center = !emptyBid && !emptyAsk ? Math.floor((bb + ba) / (2 * bt)) : Math.floor((emptyBid ? ba : bb) / bt);
      const lo = center - this.range;
      // The imbalance windows in ticks, [mid − w/2, mid + w/2] for w in ticks, from twice the mid (an integer):
      // prices p with |2p − twoMid| <= w. Both stay inside the buckets lo..lo+n-1.
      const twoMid = !emptyBid && !emptyAsk ? bb + ba : 2 * (emptyBid ? ba : bb);
      const wAll = 2 * this.range * bt;
      const wNear = Math.min(2 * this.imbalanceRange + 1, 2 * this.range) * bt;
      const allFrom = Math.ceil((twoMid - wAll) / 2);
      const allTo = Math.floor((twoMid + wAll) / 2);
      const nearFrom = Math.ceil((twoMid - wNear) / 2);
      const nearTo = Math.floor((twoMid + wNear) / 2);
      // Sum integer lots per bucket (exact, and no float conversion per level), then convert once per bucket.
      const bl = this.scratchBid;
      const al = this.scratchAsk;
      for (const v of used) {
        const { lotMant, lotDiv } = v;
        const book = v.spec.book;
        if (book.bucketTicks === bt && book.bucketRange !== undefined) {
          // The book keeps these sums: they are the walk's integer sums over the same levels (every level whose
          // bucket lies in lo..lo+n-1, wherever the best prices are), so the floats below are the same too.
          book.bucketRange('bid', lo, bl);
          book.bucketRange('ask', lo, al);
        } else {
          bl.fill(0);
          al.fill(0);
          this.walkInto(book, bt, lo, bl, al);
        }
        for (let k = 0; k < n; k++) {
          if (bl[k] !== 0) bids[k] += (bl[k]! * lotMant) / lotDiv;
          if (al[k] !== 0) asks[k] += (al[k]! * lotMant) / lotDiv;
        }
        bidAll += (windowLots(book, 'bid', bl, lo, bt, allFrom, allTo) * lotMant) / lotDiv;
        askAll += (windowLots(book, 'ask', al, lo, bt, allFrom, allTo) * lotMant) / lotDiv;
        bidNear += (windowLots(book, 'bid', bl, lo, bt, nearFrom, nearTo) * lotMant) / lotDiv;
        askNear += (windowLots(book, 'ask', al, lo, bt, nearFrom, nearTo) * lotMant) / lotDiv;
      }
      beyond = beyondSnapshot(used, bt, lo, n);
    }
    const bestBid = emptyBid || !tick ? NaN : stepsToFloat(bb, tick);
    const bestAsk = emptyAsk || !tick ? NaN : stepsToFloat(ba, tick);
    const mid = (bestBid + bestAsk) / 2;
    const spread = bestAsk - bestBid;
    return {
      symbol: this.symbol,
      ts: now,
      bestBid,
      bestAsk,
      mid,
      spread,
      spreadBps: (spread / mid) * 10_000,
      bucketSize: this.bucketSize,
      range: this.range,
      centerBucket: center,
      bidBuckets: bids,
      askBuckets: asks,
      imbalance: imbalanceOf(bidAll, askAll),
      imbalanceNear: imbalanceOf(bidNear, askNear),
      imbalanceRange: this.imbalanceRange,
      imbalanceMa: [],
      maWindowsMs: this.mas.windowsMs,
      venues: statuses,
      flags: beyond === undefined
        ? { emptyBid, emptyAsk, crossed, staleVenues, noLiveVenue: used.length === 0 }
        : { emptyBid, emptyAsk, crossed, staleVenues, noLiveVenue: used.length === 0, beyondSnapshot: beyond },
    };
  }

  /**
   * Returns `n` zeroed floats for a new snapshot, a view into a shared backing store of SLAB_SNAPSHOTS snapshots' worth.
   * Two `new Float64Array(n)` per snapshot were the process's commonest ArrayBuffers (10 per second per symbol, ~13k
   * in a backtest of the bundled recording): each young one is an external allocation V8 frees in every scavenge
   * (0.5-1 ms of a ~3 ms scavenge pause there). A view keeps its slab alive, ~42 KB, which a retained snapshot pins.
   */
  private bucketArrays(n: number): Float64Array {
    if (this.slabAt + n > this.slab.length) {
      this.slab = new Float64Array(n * 2 * SLAB_SNAPSHOTS);
      this.slabAt = 0;
    }
    const out = this.slab.subarray(this.slabAt, this.slabAt + n);
    this.slabAt += n;
    return out;
  }

  // The walk's integer lot sums of buckets lo..lo+n-1 (n = bl.length) from a book that keeps no bucket sums.
  private walkInto(book: BookView, bt: number, lo: number, bl: Float64Array, al: Float64Array): void {
    const n = bl.length;
    // Levels come best first, so the bucket index only moves one way: keep the current bucket's price bounds
    // and divide only when a level leaves them (once per bucket, not once per level).
    let k = 0;
    let from = Infinity; // bids: lowest price of bucket k
    book.forEachLevel('bid', (price, lots) => {
      if (price < from) {
        k = Math.floor(price / bt) - lo;
        if (k < 0) return false;
        from = (k + lo) * bt;
      }
      if (k < n) bl[k] += lots;
      return true;
    });
    let until = -Infinity; // asks: first price above bucket k
    book.forEachLevel('ask', (price, lots) => {
      if (price >= until) {
        k = Math.floor(price / bt) - lo;
        if (k >= n) return false;
        until = (k + lo + 1) * bt;
      }
      if (k >= 0) al[k] += lots;
      return true;
    });
  }
}
