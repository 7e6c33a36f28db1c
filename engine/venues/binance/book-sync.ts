// Keeps one local L2 book in sync with Binance's diff stream and REST snapshots, per Binance's "How to manage a
// local order book correctly" (spot and USD-M futures). States: syncing -(snapshot + straddling diff)-> live
// -(gap | crossed book)-> resyncing -(snapshot + straddling diff)-> live. While not live, diffs are buffered.
import type { Logger } from '../../log.ts';
import type { BookCoverage } from '../../market/cob.ts';
import { OrderBook } from '../../market/order-book.ts';
import type { DepthDiff, DepthSnapshot } from '../../messages/market.ts';
import type { Lots, Ticks } from '../../types/price.ts';
import { diffToDepthFrame } from './frames.ts';
import type { DepthFrame } from './parse-depth.ts';

// The reason a book's owner (cob-aggregator, paper-books) gives for a looped replay's new lap: `feed reset: ` + the
// replay feed's `replay lap N`. The message carries no other mark of a planned reset.
const PLANNED_RESET = /^feed reset: replay lap \d+$/;

/** Where the book stands: waiting for a first sync, in sync, or re-syncing after a break. */
export type SyncState = 'syncing' | 'live' | 'resyncing';

/**
 * Which continuity rules apply. Spot: drop `u <= lastUpdateId`, first diff has `U <= lastUpdateId+1 <= u`, then
 * `U == previous u + 1`. USD-M futures: drop `u < lastUpdateId`, first diff has `U <= lastUpdateId <= u`, then
 * `pu == previous u`. 'auto' picks futures rules when the first diff carries `pu`.
 */
export type SyncRules = 'spot' | 'usdm';

/** Counters of one BookSync since creation. */
export interface BookSyncCounters {
  /** Depth frames offered (well-formed plus those reported malformed). */
  frames: number;
  /** Diffs applied to the book. */
  applied: number;
  /** Diffs held while waiting for a snapshot. */
  buffered: number;
  /** Depth frames that could not be parsed (reported through `onMalformed`). */
  malformed: number;
  /** Breaks in the update-id chain while live. */
  gaps: number;
  /** Times the book was dropped and a new snapshot requested (gap or crossed book). */
  resyncs: number;
  /** Diffs after which the book was crossed (an integrity failure: the book is dropped and re-synced). */
  crossed: number;
  /** Diffs already covered by the book (`u <= last applied`), skipped. */
  duplicates: number;
  /** Snapshots older than the oldest buffered diff (a hole between them): discarded, another requested. */
  staleSnapshots: number;
  /** Snapshots loaded. */
  snapshots: number;
  /** Snapshots received while live, unused. */
  snapshotsIgnored: number;
  /** Buffered diffs older than a snapshot, dropped as the procedure says. */
  droppedBeforeSnapshot: number;
  /** Buffered diffs thrown away because the buffer was full. */
  bufferOverflow: number;
  /** Snapshot requests made through `requestSnapshot`. */
  snapshotRequests: number;
}

/** What happened to one diff. */
export type DiffOutcome = 'applied' | 'buffered' | 'duplicate' | 'dropped' | 'gap' | 'crossed';
/** What happened to one snapshot: book live, loaded (awaiting the next diff), stale, or ignored (already live). */
export type SnapshotOutcome = 'live' | 'loaded' | 'stale' | 'ignored' | 'gap' | 'crossed';

/** Options of a BookSync. */
export interface BookSyncOptions {
  rules?: SyncRules | 'auto';
  /** Called when a (new) snapshot is needed; the answer comes back later through `onSnapshot`. */
  requestSnapshot?: (reason: string) => void;
  /** Most diffs buffered while not live (oldest dropped beyond it); default 10,000 (~16 min at 100 ms). */
  maxBuffer?: number;
  /** Called after each diff is applied and the book checked (not crossed), with the diff's final update id. */
  onApplied?: (finalUpdateId: number) => void;
  log?: Logger;
}

/** Keeps `book` in sync from diffs and snapshots; never leaves a crossed or gapped book in the 'live' state. */
export class BookSync {
  /** The synced book; empty while not live after a break. */
  readonly book: OrderBook;
  /** Counters since creation. */
  readonly counters: BookSyncCounters = {
    frames: 0, applied: 0, buffered: 0, malformed: 0, gaps: 0, resyncs: 0, crossed: 0, duplicates: 0,
    staleSnapshots: 0, snapshots: 0, snapshotsIgnored: 0, droppedBeforeSnapshot: 0, bufferOverflow: 0, snapshotRequests: 0,
  };
  private st: SyncState = 'syncing';
  private rules: SyncRules | undefined;
  private last = -1;
  /** A snapshot is in the book but no diff has been applied on top of it yet. */
  private awaitingFirst = false;
  private requested = false;
  /** Stale snapshots since the book was last live (their warnings are thinned out, see `stale`). */
  private staleStreak = 0;
  private cover: BookCoverage | undefined;
  private buffer: DepthFrame[] = [];
  private readonly maxBuffer: number;
  private readonly request: (reason: string) => void;
  private readonly log: Logger | undefined;
  private readonly onApplied: ((u: number) => void) | undefined;

  /** Creates a sync for `symbol` with an empty book in the 'syncing' state. */
  constructor(readonly symbol: string, opts: BookSyncOptions = {}) {
    this.book = new OrderBook(symbol);
    this.rules = opts.rules === 'auto' || opts.rules === undefined ? undefined : opts.rules;
    this.maxBuffer = opts.maxBuffer ?? 10_000;
    this.request = opts.requestSnapshot ?? (() => {});
    this.log = opts.log;
    this.onApplied = opts.onApplied;
  }

  /** The current state. */
  get state(): SyncState {
    return this.st;
  }

  /** The final update id the book reflects (the snapshot's or the last applied diff's); -1 before any. */
  get lastUpdateId(): number {
    return this.last;
  }

  /**
   * What the snapshot under the current book covered; undefined while no snapshot is loaded. Diffs do not widen it: a
   * diff-only level beyond it says nothing of the resting levels around it.
   */
  get coverage(): BookCoverage | undefined {
    return this.cover;
  }

  /** The rules in force, once known. */
  get syncRules(): SyncRules | undefined {
    return this.rules;
  }

  /** Returns true when the book is live and may be read. */
  isLive(): boolean {
    return this.st === 'live';
  }

  /** Counts a depth frame that could not be parsed; the next diff's chain check catches what it carried. */
  onMalformed(): void {
    this.counters.frames++;
    this.counters.malformed++;
  }

  /** Takes a DepthDiff message (converted to the flat frame form). */
  onDiff(d: DepthDiff): DiffOutcome {
    return this.onDepth(diffToDepthFrame(d));
  }

  /** Takes one parsed diff. The frame may be the parser's reusable one: it is cloned when buffered. */
  onDepth(f: DepthFrame): DiffOutcome {
    this.counters.frames++;
    this.rules ??= f.prevFinalUpdateId >= 0 ? 'usdm' : 'spot';
    if (this.st === 'live') return this.applyLive(f);
    if (this.awaitingFirst) return this.applyFirst(f, false);
    this.hold(f.clone());
    return 'buffered';
  }

  /** Takes a snapshot, requested or not; while live it is ignored. */
  onSnapshot(s: DepthSnapshot): SnapshotOutcome {
    if (this.st === 'live') {
      this.counters.snapshotsIgnored++;
      return 'ignored';
    }
    this.requested = false;
    const L = s.lastUpdateId;
    const usdm = this.rules === 'usdm';
    let drop = 0;
    while (drop < this.buffer.length && (usdm ? this.buffer[drop]!.finalUpdateId < L : this.buffer[drop]!.finalUpdateId <= L)) drop++;
    if (drop > 0) {
      this.counters.droppedBeforeSnapshot += drop;
      this.buffer.splice(0, drop);
    }
    const first = this.buffer[0];
    if (first && !this.straddles(first, L)) return this.stale(L, first.firstUpdateId);
    this.counters.snapshots++;
    this.book.replace(s.bids, s.asks);
    this.cover = coverageOf(s);
    this.last = L;
    this.awaitingFirst = true;
    if (!first) return 'loaded';
    const pending = this.buffer;
    this.buffer = [];
    for (let i = 0; i < pending.length; i++) {
      const out = i === 0 ? this.applyFirst(pending[i]!, true) : this.applyLive(pending[i]!, true);
      if (out === 'gap' || out === 'crossed') {
        // Later buffered diffs wait for the next snapshot, like any diff arriving while resyncing.
        for (let j = i + 1; j < pending.length; j++) this.hold(pending[j]!);
        return out;
      }
    }
    return 'live';
  }

  /** Drops the book and asks for a new snapshot (e.g. after a reconnect). */
  resync(reason: string): void {
    this.counters.resyncs++;
    this.st = 'resyncing';
    this.book.clear();
    this.cover = undefined;
    this.buffer = [];
    this.awaitingFirst = false;
    this.last = -1;
    // A looped replay's lap seam is a planned reset, met at every lap: info. Gaps, crossed books and reconnects: warn.
    if (PLANNED_RESET.test(reason)) this.log?.info({ symbol: this.symbol, reason }, 'order book resync');
    else this.log?.warn({ symbol: this.symbol, reason }, 'order book resync');
    this.ask(reason);
  }

  /** Returns the best bid/ask and their sizes, or undefined when not live or a side is empty. */
  top(): { bid: Ticks; bidLots: Lots; ask: Ticks; askLots: Lots } | undefined {
    if (this.st !== 'live') return undefined;
    const bid = this.book.bestBid();
    const ask = this.book.bestAsk();
    if (bid === undefined || ask === undefined) return undefined;
    return { bid, bidLots: this.book.bestBidLots(), ask, askLots: this.book.bestAskLots() };
  }

  private straddles(f: DepthFrame, L: number): boolean {
    return this.rules === 'usdm'
      ? f.firstUpdateId <= L && L <= f.finalUpdateId
      : f.firstUpdateId <= L + 1 && L + 1 <= f.finalUpdateId;
  }

  private stale(L: number, firstU: number): 'stale' {
    this.counters.staleSnapshots++;
    // Under heavy activity Binance often serves a snapshot behind the stream, and the feed retries it with backoff:
    // warn on the first of a streak and then on every power of two, so a long streak stays one line in a while.
    const n = ++this.staleStreak;
    if ((n & (n - 1)) === 0) this.log?.warn({ symbol: this.symbol, lastUpdateId: L, firstBuffered: firstU, streak: n }, 'snapshot older than the buffered diffs');
    this.ask(`snapshot ${L} is older than the buffered diffs (first U ${firstU})`);
    return 'stale';
  }

  /** The first diff on top of a fresh snapshot: drop what the snapshot covers, then it must straddle. */
  private applyFirst(f: DepthFrame, owned: boolean): DiffOutcome {
    const L = this.last;
    if (this.rules === 'usdm' ? f.finalUpdateId < L : f.finalUpdateId <= L) {
      this.counters.droppedBeforeSnapshot++;
      return 'dropped';
    }
    if (!this.straddles(f, L)) {
      // The snapshot is older than the stream: there is a hole between them.
      this.book.clear();
      this.cover = undefined;
      this.awaitingFirst = false;
      this.last = -1;
      this.stale(L, f.firstUpdateId);
      this.hold(owned ? f : f.clone());
      return 'buffered';
    }
    this.awaitingFirst = false;
    this.st = 'live';
    this.staleStreak = 0;
    return this.apply(f);
  }

  private applyLive(f: DepthFrame, owned = false): DiffOutcome {
    const u = f.finalUpdateId;
    if (u <= this.last) {
      this.counters.duplicates++;
      return 'duplicate';
    }
    const chained = this.rules === 'usdm' ? f.prevFinalUpdateId === this.last : f.firstUpdateId === this.last + 1;
    if (!chained) {
      this.counters.gaps++;
      this.log?.warn({ symbol: this.symbol, last: this.last, U: f.firstUpdateId, u, pu: f.prevFinalUpdateId }, 'depth sequence gap');
      this.resync(`gap after update ${this.last}: next diff U=${f.firstUpdateId} pu=${f.prevFinalUpdateId}`);
      this.hold(owned ? f : f.clone());
      return 'gap';
    }
    return this.apply(f);
  }

  private apply(f: DepthFrame): DiffOutcome {
    const book = this.book;
    const b = f.bids;
    for (let i = 0, n = f.bidCount * 2; i < n; i += 2) book.setBid(b[i] as Ticks, b[i + 1] as Lots);
    const a = f.asks;
    for (let i = 0, n = f.askCount * 2; i < n; i += 2) book.setAsk(a[i] as Ticks, a[i + 1] as Lots);
    this.last = f.finalUpdateId;
    this.counters.applied++;
    if (book.crossed()) {
      this.counters.crossed++;
      this.log?.error({ symbol: this.symbol, u: f.finalUpdateId, bid: book.bestBid(), ask: book.bestAsk() }, 'order book crossed');
      this.resync(`book crossed after update ${f.finalUpdateId}`);
      return 'crossed';
    }
    this.onApplied?.(f.finalUpdateId);
    return 'applied';
  }

  private hold(f: DepthFrame): void {
    if (this.buffer.length >= this.maxBuffer) {
      this.buffer.shift();
      this.counters.bufferOverflow++;
    }
    this.buffer.push(f);
    this.counters.buffered++;
    this.ask('no snapshot yet');
  }

  private ask(reason: string): void {
    if (this.requested) return;
    this.requested = true;
    this.counters.snapshotRequests++;
    this.request(reason);
  }
}

/**
 * Returns the prices `s` covered: its lowest bid and highest ask. An empty side covers that whole side (the venue had
 * no orders on it): -Infinity / +Infinity.
 */
function coverageOf(s: DepthSnapshot): BookCoverage {
  let lowestBid = -Infinity;
  let highestAsk = Infinity;
  for (const [p] of s.bids) if (lowestBid === -Infinity || p < lowestBid) lowestBid = p;
  for (const [p] of s.asks) if (highestAsk === Infinity || p > highestAsk) highestAsk = p;
  return { lowestBid, highestAsk };
}
