// COBAggregator logic: one BookSync + OrderBook per (venue, symbol), merged per symbol by a ConsolidatedBook
// (engine/market/cob.ts) that also keeps the imbalance moving averages and the heatmap.
//
// In:  md.depthRaw (parsed here, once, straight into the book), md.depth, md.snapshot, md.feedReset.
// Out: md.bookStatus on every sync state change (syncing / live / resyncing, and stale after `staleMs` without an
//      update), cob.snapshot per symbol at `publishHz` on the injected clock, cob.heatmap once per finished second.
// Snapshots are asked for through the SnapshotSource port when a book needs one (start, gap, crossed, reset).
// The publish timer starts with the first book message, so a SimulatedClock moved by the data never has to walk
// through the years between 0 and the recording; ticks sit on multiples of the period (100 ms at 10 Hz).
// A symbol with no live venue publishes no cob.snapshot (consumers see md.bookStatus instead), and its imbalance
// averages start over once one is back.
import type { Config } from '../../engine/config/schema.ts';
import type { Logger } from '../../engine/log.ts';
import { ConsolidatedBook, type CobSnapshot } from '../../engine/market/cob.ts';
import type { HeatmapMatrix, HeatmapMetric } from '../../engine/market/heatmap.ts';
import type { OrderBook } from '../../engine/market/order-book.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { FeedReset, RawDepth } from '../../engine/messages/feed.ts';
import type { BookStatus, DepthDiff, DepthSnapshot } from '../../engine/messages/market.ts';
import type { Bus, Unsubscribe } from '../../engine/runtime/bus.ts';
import type { Clock, TimerHandle } from '../../engine/runtime/clock.ts';
import type { Instrument, VenueId } from '../../engine/types/instrument.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { BookSync, type SyncRules, type SyncState } from '../../engine/venues/binance/book-sync.ts';
import { DepthParser, instrumentGrid } from '../../engine/venues/binance/parse-depth.ts';
import type { SnapshotSource } from '../../engine/venues/feed.ts';

/** One symbol the aggregator keeps: its instrument on each venue (all with the same tick size) and bucket width. */
export interface CobSymbolSpec {
  /** Unified symbol (`BTC/USDT`). */
  readonly symbol: string;
  /** Bucket width in quote units, a decimal string ('10' for BTC/USDT). */
  readonly bucketSize: string;
  /** The instrument on each venue; Binance alone by default. */
  readonly venues: readonly Instrument[];
}

/** Publication and bucket settings (engine config `cob`). */
export interface CobSettings {
  readonly publishHz: number;
  /** Buckets on each side of the mid bucket. */
  readonly range: number;
  /** Width of the near imbalance and its averages: within (imbalanceRange + ½) buckets of the mid (CobConfig). */
  readonly imbalanceRange: number;
  readonly maWindowsMs: readonly number[];
  /** Heatmap columns (s) and rows per side; false for none. */
  readonly heatmap: { readonly seconds: number; readonly range: number } | false;
  /** Publish each finished heatmap column as cob.heatmap (default true). */
  readonly publishHeatmap: boolean;
  /** A live book with no update for this long is reported stale and left out of the merge. */
  readonly staleMs: number;
}

/** Returns the default settings: 10 Hz, ±20 buckets, ±5 for imbalance, MAs 1/5/15/60 s, heatmap 300 s × ±10. */
export const DEFAULT_COB_SETTINGS: CobSettings = {
  publishHz: 10, range: 20, imbalanceRange: 5, maWindowsMs: [1_000, 5_000, 15_000, 60_000],
  heatmap: { seconds: 300, range: 10 }, publishHeatmap: true, staleMs: 5_000,
};

/** Returns the settings in the engine config's `cob` section. */
export function cobSettingsFromConfig(cob: Config['cob']): CobSettings {
  return {
    ...DEFAULT_COB_SETTINGS,
    publishHz: cob.publishHz,
    range: cob.buckets,
    imbalanceRange: cob.imbalanceBuckets,
    maWindowsMs: cob.imbalanceWindowsMs,
    heatmap: { seconds: cob.heatmap.seconds, range: cob.heatmap.buckets },
  };
}

/** Returns one spec per symbol of `instruments` (grouped across venues), with the config's bucket sizes. */
export function cobSymbolsFromConfig(config: Pick<Config, 'symbols'>, instruments: readonly Instrument[]): CobSymbolSpec[] {
  const by = new Map<string, Instrument[]>();
  for (const i of instruments) by.set(i.symbol, [...(by.get(i.symbol) ?? []), i]);
  return [...by].map(([symbol, venues]) => {
    const bucketSize = config.symbols.cobBucketSize[symbol];
    if (bucketSize === undefined) throw new TypeError(`config symbols.cobBucketSize has no bucket size for ${symbol}`);
    return { symbol, bucketSize, venues };
  });
}

/** Read access for BaseDataInput assembly and the dashboard. */
export interface CobReader {
  /** Returns the symbols kept. */
  symbols(): string[];
  /** Returns the last published snapshot of `symbol`, if any. */
  latest(symbol: string): CobSnapshot | undefined;
  /** Returns the heatmap of `symbol` for `metric` (oldest column first), if kept. */
  heatmap(symbol: string, metric?: HeatmapMetric): HeatmapMatrix | undefined;
  /** Returns the sync state of `symbol`'s book on `venue` (default: its first venue). */
  bookState(symbol: string, venue?: VenueId): SyncState | undefined;
}

/** Counters of an aggregator, summed over its books. */
export interface CobAggregatorCounters {
  /** Depth frames offered to the books. */
  frames: number;
  applied: number;
  gaps: number;
  resyncs: number;
  crossed: number;
  malformed: number;
  duplicates: number;
  snapshots: number;
  snapshotRequests: number;
  /** Depth frames naming another symbol than the message they came in. */
  misrouted: number;
  /** Depth quantities off the lot grid, rounded onto it by the parser. */
  qtyRounded: number;
  /** cob.snapshot messages published. */
  published: number;
  /** cob.heatmap messages published. */
  heatmapColumns: number;
  /** Ticks where a symbol had no live venue (no snapshot published). */
  skippedNotLive: number;
}

/** Options of an aggregator. */
export interface CobAggregatorOptions {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  readonly snapshots: SnapshotSource;
  readonly symbols: readonly CobSymbolSpec[];
  readonly settings?: Partial<CobSettings>;
  /** Sequence rules (default: chosen from the first diff). */
  readonly rules?: SyncRules | 'auto';
  /** Bus owner id (the supervised child's id): a throwing handler then counts as this actor failing. */
  readonly owner?: string;
  /** Called when the publish timer throws (the supervised wrapper reports it as this actor failing). */
  readonly onFailure?: (error: unknown) => void;
  readonly logger?: Logger;
}

/** One venue's book of one symbol. */
class VenueBook {
  readonly sync: BookSync;
  readonly parser: DepthParser;
  state: SyncState;
  stale = false;
  reason = '';
  lastUpdate = -Infinity;
  misrouted = 0;
  qtyRounded = 0;

  constructor(readonly inst: Instrument, readonly sym: SymbolBook, agg: CobAggregator, rules: SyncRules | 'auto', logger: Logger | undefined) {
    this.sync = new BookSync(inst.venueSymbol, {
      rules,
      ...(logger ? { log: logger } : {}),
      requestSnapshot: (reason) => {
        this.reason = reason;
        agg.snapshotSource.requestSnapshot(inst.venue, inst.symbol, reason);
      },
      onApplied: () => {
        this.lastUpdate = agg.clock.now();
        sym.cob.touch(inst.venue, this.lastUpdate);
      },
    });
    this.parser = new DepthParser(instrumentGrid(inst));
    this.state = this.sync.state;
  }
}

/** One symbol: its consolidated book and its venues' books. */
class SymbolBook {
  readonly venues = new Map<VenueId, VenueBook>();
  readonly first: VenueBook;
  lastColumn = NaN;

  constructor(readonly spec: CobSymbolSpec, readonly cob: ConsolidatedBook, agg: CobAggregator, rules: SyncRules | 'auto', logger: Logger | undefined) {
    if (spec.venues.length === 0) throw new TypeError(`cob ${spec.symbol}: no venue given`);
    for (const inst of spec.venues) {
      if (inst.symbol !== spec.symbol) throw new TypeError(`cob ${spec.symbol}: instrument ${inst.symbol} belongs to another symbol`);
      if (this.venues.has(inst.venue)) throw new TypeError(`cob ${spec.symbol}: venue ${inst.venue} given twice`);
      const vb = new VenueBook(inst, this, agg, rules, logger);
      this.venues.set(inst.venue, vb);
      const bucketTicks = cob.addVenue({ venue: inst.venue, book: vb.sync.book, tickSize: inst.tickSize, lotSize: inst.lotSize, coverage: () => vb.sync.coverage });
      // The book keeps per-bucket sums, so each snapshot reads 2·range+1 buckets instead of walking every level.
      vb.sync.book.trackBuckets(bucketTicks);
      // Not live until synced: a syncing venue must not count as an empty book.
      cob.setLive(inst.venue, false);
    }
    this.first = this.venues.get(spec.venues[0]!.venue)!;
  }

  anyLive(): boolean {
    for (const vb of this.venues.values()) if (vb.state === 'live' && !vb.stale) return true;
    return false;
  }
}

/**
 * Keeps every symbol's books in sync and publishes the consolidated book. A plain class so tests and benchmarks
 * can drive it directly (`onDepthRaw`, `publishNow`); `start()` wires it to the bus and the clock.
 */
export class CobAggregator implements CobReader {
  readonly clock: Clock;
  readonly snapshotSource: SnapshotSource;
  readonly settings: CobSettings;
  private readonly bus: Bus<EngineMsg>;
  private readonly owner: string | undefined;
  private readonly onFailure: ((error: unknown) => void) | undefined;
  private readonly books = new Map<string, SymbolBook>();
  private readonly byVenue = new Map<VenueId, Map<string, VenueBook>>();
  private readonly periodMs: number;
  private subs: Unsubscribe[] = [];
  private timer: TimerHandle | undefined;
  private tickIndex = 0;
  private running = false;
  private published = 0;
  private heatmapColumns = 0;
  private skippedNotLive = 0;

  /** Creates the books (all 'syncing'); nothing is subscribed until `start`. */
  constructor(opts: CobAggregatorOptions) {
    this.bus = opts.bus;
    this.clock = opts.clock;
    this.snapshotSource = opts.snapshots;
    this.owner = opts.owner;
    this.onFailure = opts.onFailure;
    const s = (this.settings = { ...DEFAULT_COB_SETTINGS, ...opts.settings });
    if (!(s.publishHz > 0 && s.publishHz <= 1000)) throw new TypeError(`cob publishHz ${s.publishHz} must be in (0, 1000]`);
    this.periodMs = 1000 / s.publishHz;
    for (const spec of opts.symbols) {
      if (this.books.has(spec.symbol)) throw new TypeError(`cob symbol ${spec.symbol} given twice`);
      const cob = new ConsolidatedBook({
        symbol: spec.symbol, bucketSize: spec.bucketSize, range: s.range, imbalanceRange: s.imbalanceRange,
        staleMs: s.staleMs, publishPeriodMs: this.periodMs, maWindowsMs: s.maWindowsMs, heatmap: s.heatmap,
      });
      const sb = new SymbolBook(spec, cob, this, opts.rules ?? 'auto', opts.logger);
      this.books.set(spec.symbol, sb);
      for (const [venue, vb] of sb.venues) {
        let m = this.byVenue.get(venue);
        if (!m) this.byVenue.set(venue, (m = new Map()));
        m.set(spec.symbol, vb);
      }
    }
  }

  /** Subscribes to the bus; the publish timer starts with the first book message. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const o = this.owner;
    this.subs = [
      this.bus.subscribe('md.depthRaw', (m) => this.onDepthRaw(m), o),
      this.bus.subscribe('md.depth', (m) => this.onDepth(m), o),
      this.bus.subscribe('md.snapshot', (m) => this.onSnapshot(m), o),
      this.bus.subscribe('md.feedReset', (m) => this.onFeedReset(m), o),
    ];
  }

  /** Unsubscribes and stops the timer; the books keep their last state for reading. */
  stop(): void {
    this.running = false;
    for (const u of this.subs) u();
    this.subs = [];
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Applies a raw depth frame (the hot path: parsed into the parser's reusable frame, no per-level allocation). */
  onDepthRaw(m: RawDepth): void {
    const vb = this.byVenue.get(m.venue)?.get(m.symbol);
    if (!vb) return;
    this.ensureTicking();
    const p = vb.parser;
    if (!p.parse(m.data)) vb.sync.onMalformed();
    else if (p.frame.symbol !== vb.inst.venueSymbol) vb.misrouted++;
    else {
      vb.qtyRounded += p.frame.qtyRounded;
      vb.sync.onDepth(p.frame);
    }
    if (vb.state !== vb.sync.state) this.stateChanged(vb);
  }

  /** Applies a decoded depth diff. */
  onDepth(m: DepthDiff): void {
    const vb = this.byVenue.get(m.venue)?.get(m.symbol);
    if (!vb) return;
    this.ensureTicking();
    vb.sync.onDiff(m);
    if (vb.state !== vb.sync.state) this.stateChanged(vb);
  }

  /** Takes a snapshot (requested or recorded). */
  onSnapshot(m: DepthSnapshot): void {
    const vb = this.byVenue.get(m.venue)?.get(m.symbol);
    if (!vb) return;
    this.ensureTicking();
    vb.sync.onSnapshot(m);
    if (vb.state !== vb.sync.state) this.stateChanged(vb);
  }

  /** The feed restarted the symbol's stream: drop the book and re-sync. */
  onFeedReset(m: FeedReset): void {
    if (m.scope === 'trades') return;
    const vb = this.byVenue.get(m.venue)?.get(m.symbol);
    if (!vb) return;
    vb.sync.resync(`feed reset: ${m.reason}`);
    vb.reason = `feed reset: ${m.reason}`;
    // resync() always lands in 'resyncing'; announce it even when the book was already resyncing.
    this.stateChanged(vb, true);
  }

  /** Publishes one cob.snapshot per symbol with a live venue (and finished heatmap columns) at the clock's now. */
  publishNow(): void {
    const now = this.clock.now();
    for (const sb of this.books.values()) {
      for (const vb of sb.venues.values()) this.checkStale(vb, now);
      if (!sb.anyLive()) {
        this.skippedNotLive++;
        // Out of view (resyncing or stale) until a venue is live again: the imbalance averages must not bridge it.
        sb.cob.resetAverages();
        continue;
      }
      const cob = sb.cob.update(now);
      this.published++;
      this.bus.publish({ type: 'cob.snapshot', symbol: sb.spec.symbol, ts: now, cob });
      if (this.settings.publishHeatmap && sb.cob.heatmap) this.publishColumns(sb, now);
    }
  }

  /** Returns the symbols kept. */
  symbols(): string[] {
    return [...this.books.keys()];
  }

  /** Returns the last published snapshot of `symbol`. */
  latest(symbol: string): CobSnapshot | undefined {
    return this.books.get(symbol)?.cob.latest();
  }

  /** Returns the heatmap of `symbol` (default metric: imbalance). */
  heatmap(symbol: string, metric: HeatmapMetric = 'imbalance'): HeatmapMatrix | undefined {
    return this.books.get(symbol)?.cob.heatmap?.matrix(metric);
  }

  /** Returns the sync state of a book. */
  bookState(symbol: string, venue?: VenueId): SyncState | undefined {
    const sb = this.books.get(symbol);
    return (venue === undefined ? sb?.first : sb?.venues.get(venue))?.sync.state;
  }

  /** Returns a venue's book of `symbol` with its sync position, for inspection (do not modify the book). */
  book(symbol: string, venue?: VenueId): { readonly book: OrderBook; readonly state: SyncState; readonly lastUpdateId: number } | undefined {
    const sb = this.books.get(symbol);
    const vb = venue === undefined ? sb?.first : sb?.venues.get(venue);
    return vb ? { book: vb.sync.book, state: vb.sync.state, lastUpdateId: vb.sync.lastUpdateId } : undefined;
  }

  /** Returns each venue book's gap and resync counts (the dashboard's per-book metrics). */
  bookCounters(): { venue: VenueId; symbol: string; gaps: number; resyncs: number }[] {
    const out: { venue: VenueId; symbol: string; gaps: number; resyncs: number }[] = [];
    for (const [venue, m] of this.byVenue) {
      for (const [symbol, vb] of m) out.push({ venue, symbol, gaps: vb.sync.counters.gaps, resyncs: vb.sync.counters.resyncs });
    }
    return out;
  }

  /** Returns the counters summed over every book. */
  counters(): CobAggregatorCounters {
    const c: CobAggregatorCounters = {
      frames: 0, applied: 0, gaps: 0, resyncs: 0, crossed: 0, malformed: 0, duplicates: 0, snapshots: 0, snapshotRequests: 0,
      misrouted: 0, qtyRounded: 0, published: this.published, heatmapColumns: this.heatmapColumns, skippedNotLive: this.skippedNotLive,
    };
    for (const m of this.byVenue.values()) {
      for (const vb of m.values()) {
        const s = vb.sync.counters;
        c.frames += s.frames;
        c.applied += s.applied;
        c.gaps += s.gaps;
        c.resyncs += s.resyncs;
        c.crossed += s.crossed;
        c.malformed += s.malformed;
        c.duplicates += s.duplicates;
        c.snapshots += s.snapshots;
        c.snapshotRequests += s.snapshotRequests;
        c.misrouted += vb.misrouted;
        c.qtyRounded += vb.qtyRounded;
      }
    }
    return c;
  }

  private stateChanged(vb: VenueBook, force = false): void {
    const state = vb.sync.state;
    if (!force && state === vb.state) return;
    vb.state = state;
    vb.stale = false;
    vb.sym.cob.setLive(vb.inst.venue, state === 'live');
    this.publishStatus(vb, state, state === 'live' ? undefined : vb.reason);
  }

  private checkStale(vb: VenueBook, now: TsMs): void {
    if (vb.state !== 'live') return;
    const stale = now - vb.lastUpdate > this.settings.staleMs;
    if (stale === vb.stale) return;
    vb.stale = stale;
    this.publishStatus(vb, stale ? 'stale' : 'live', stale ? `no update for ${Math.round(now - vb.lastUpdate)} ms` : undefined);
  }

  private publishStatus(vb: VenueBook, status: BookStatus['status'], reason: string | undefined): void {
    const now = this.clock.now();
    const base = { type: 'md.bookStatus', venue: vb.inst.venue, symbol: vb.inst.symbol, tsExchange: now, tsLocal: now, status } as const;
    this.bus.publish(reason === undefined || reason === '' ? base : { ...base, reason });
  }

  // Publishes every column finished since the last call (the newest column is still filling).
  private publishColumns(sb: SymbolBook, now: TsMs): void {
    const hm = sb.cob.heatmap!;
    const newest = hm.newestTime();
    if (Number.isNaN(sb.lastColumn)) {
      sb.lastColumn = newest;
      return;
    }
    if (!(newest > sb.lastColumn)) return;
    // The columns completed since the last publication (all but the forming newest), oldest first: usually one.
    let from = hm.length - 1;
    while (from > 0 && hm.columnTime(from - 1) >= sb.lastColumn) from--;
    for (let j = from; j < hm.length - 1; j++) {
      const col = hm.column(j)!;
      this.heatmapColumns++;
      this.bus.publish({
        type: 'cob.heatmap', symbol: sb.spec.symbol, ts: now, time: col.time, center: col.center, bucketSize: col.bucketSize,
        range: hm.range, bid: col.bid, ask: col.ask, spread: col.spread, samples: col.samples,
      });
    }
    sb.lastColumn = newest;
  }

  private ensureTicking(): void {
    if (this.timer !== undefined || !this.running) return;
    this.tickIndex = Math.floor(this.clock.now() / this.periodMs);
    this.schedule();
  }

  private schedule(): void {
    const now = this.clock.now();
    // After a long stall (or a clock jump) skip the missed ticks instead of publishing a burst of them.
    if ((this.tickIndex + 1) * this.periodMs <= now - this.periodMs) this.tickIndex = Math.floor(now / this.periodMs);
    const at = (this.tickIndex + 1) * this.periodMs;
    this.timer = this.clock.setTimeout(() => {
      this.tickIndex++;
      this.timer = undefined;
      if (!this.running) return;
      try {
        this.publishNow();
      } catch (err) {
        // A timer is not a bus handler: report the failure to whoever supervises us, else let it surface.
        if (!this.onFailure) throw err;
        this.onFailure(err);
        return;
      }
      if (this.running) this.schedule();
    }, at - now);
  }
}
