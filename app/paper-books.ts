// The paper venue's own view of the market: one BookSync per traded symbol, fed from the same bus messages the
// COBAggregator reads (md.depthRaw / md.depth / md.snapshot / md.feedReset) plus md.trade, telling the paper venue
// what changed after each applied diff, with the exchange times of diffs and trades (the matching engine tells a
// diff that already shows a trade from one that does not), and of the diff that made a (re)loaded book live: a REST
// snapshot has no exchange time, and a print from before that diff arriving after it is already in the book. A second
// book (rather than the COBAggregator's) keeps the venue independent of the aggregator's restarts: a COB restart must
// not wipe the book resting paper orders are matched against.
// Cost: a copy of the COBAggregator's parsed frame (the DepthParser memo: same text, same grid), not a second parse.
// The book's view also carries its last update id and the newest md.bookTicker of the symbol: the depth@100ms book lags
// the real-time touch, and the matching engine clips what a taker reaches by a ticker newer than the book
// (engine/market/touch-overlay.ts). The feed publishes bookTicker for the traded symbol, the only one booked here.
import type { EngineMsg } from '../engine/messages/index.ts';
import type { Bus, Unsubscribe } from '../engine/runtime/bus.ts';
import type { Instrument } from '../engine/types/instrument.ts';
import type { Lots, Ticks } from '../engine/types/price.ts';
import type { TsMs } from '../engine/types/time.ts';
import { BookSync } from '../engine/venues/binance/book-sync.ts';
import { DepthParser, instrumentGrid, type DepthFrame } from '../engine/venues/binance/parse-depth.ts';
import { liveBookView, type BookView, type TouchTicker } from '../engine/market/matching.ts';

/** What the books tell about changes (the PaperVenue implements it). */
export interface BookListener {
  /** An applied diff with its exchange event time; with no levels when `wantsDepth` said no (the time still counts). */
  onDepth(symbol: string, bids: ReadonlyArray<readonly [Ticks, Lots]>, asks: ReadonlyArray<readonly [Ticks, Lots]>, tsExchange: TsMs): void;
  /**
   * The book was replaced: it became live again (`tsExchange`: the event time of the diff that completed the sync) or
   * stopped being live (no time).
   */
  onSnapshot(symbol: string, tsExchange?: TsMs): void;
  /** A print with its trade time. */
  onTrade(symbol: string, price: Ticks, lots: Lots, buyerMaker: boolean, tsExchange: TsMs): void;
  /** False when the levels of a diff would change nothing for `symbol` (no resting order): they are not built. */
  wantsDepth?(symbol: string): boolean;
}

const NO_LEVELS: ReadonlyArray<readonly [Ticks, Lots]> = [];

interface Lane {
  readonly inst: Instrument;
  readonly sync: BookSync;
  readonly parser: DepthParser;
  readonly view: BookView;
  /**
   * Event time of the newest diff given to the sync. When a snapshot makes the book live, the sync has applied every
   * diff it buffered, this one last: it is the diff that completed the sync.
   */
  diffTs: TsMs | undefined;
  /** The newest bookTicker since the feed last reset (a lap's update ids start again below the last lap's). */
  touch: TouchTicker | undefined;
}

/** Per-symbol synced books for the paper venue; see the header. */
export class PaperBooks {
  private readonly lanes = new Map<string, Lane>();
  private listener: BookListener | undefined;
  private subs: Unsubscribe[] = [];
  /** Frames that did not parse, and frames whose symbol did not match their message. */
  readonly counters = { malformed: 0, misrouted: 0, applied: 0, trades: 0, tickers: 0 };

  constructor(private readonly bus: Bus<EngineMsg>, instruments: readonly Instrument[]) {
    for (const inst of instruments) {
      const sync = new BookSync(inst.venueSymbol, { rules: 'auto' });
      // The view says when the book is re-syncing, so the matching engine keeps queues and holds activations then.
      const view = liveBookView(sync.book, () => sync.isLive(), { lastUpdateId: () => sync.lastUpdateId, touch: () => lane.touch });
      const lane: Lane = { inst, sync, parser: new DepthParser(instrumentGrid(inst)), view, diffTs: undefined, touch: undefined };
      this.lanes.set(inst.symbol, lane);
    }
  }

  /** Returns the book of `symbol` (one object for the life of the books, emptied while re-syncing; `isLive` says when). */
  book(symbol: string): BookView {
    const lane = this.lanes.get(symbol);
    if (!lane) throw new TypeError(`paper books: no book for ${symbol}`);
    return lane.view;
  }

  /** Returns every symbol's book. */
  books(): Record<string, BookView> {
    return Object.fromEntries([...this.lanes].map(([s, l]) => [s, l.view]));
  }

  /** Returns true when `symbol`'s book is in sync. */
  isLive(symbol: string): boolean {
    return this.lanes.get(symbol)?.sync.isLive() ?? false;
  }

  /** Subscribes to the bus and reports changes to `listener`. */
  start(listener: BookListener): void {
    this.listener = listener;
    if (this.subs.length > 0) return;
    this.subs = [
      this.bus.subscribe('md.depthRaw', (m) => {
        const lane = this.lanes.get(m.symbol);
        if (!lane) return;
        if (!lane.parser.parse(m.data)) {
          this.counters.malformed++;
          lane.sync.onMalformed();
          return;
        }
        if (lane.parser.frame.symbol !== lane.inst.venueSymbol) {
          this.counters.misrouted++;
          return;
        }
        this.onFrame(lane, lane.parser.frame, m.shiftMs ?? 0);
      }),
      this.bus.subscribe('md.depth', (m) => {
        const lane = this.lanes.get(m.symbol);
        if (!lane) return;
        const was = lane.sync.isLive();
        lane.diffTs = m.tsExchange;
        const out = lane.sync.onDiff(m);
        this.after(lane, was, out === 'applied' ? () => this.listener?.onDepth(m.symbol, m.bids, m.asks, m.tsExchange) : undefined);
      }),
      this.bus.subscribe('md.snapshot', (m) => {
        const lane = this.lanes.get(m.symbol);
        if (!lane) return;
        const was = lane.sync.isLive();
        lane.sync.onSnapshot(m);
        this.after(lane, was, undefined);
      }),
      this.bus.subscribe('md.feedReset', (m) => {
        const lane = this.lanes.get(m.symbol);
        if (!lane || m.scope === 'trades') return;
        lane.sync.resync(`feed reset: ${m.reason}`);
        lane.touch = undefined;
        this.listener?.onSnapshot(m.symbol);
      }),
      this.bus.subscribe('md.bookTicker', (m) => {
        const lane = this.lanes.get(m.symbol);
        if (!lane) return;
        this.counters.tickers++;
        lane.touch = m;
      }),
      this.bus.subscribe('md.trade', (m) => {
        if (!this.lanes.has(m.symbol)) return;
        this.counters.trades++;
        this.listener?.onTrade(m.symbol, m.price, m.lots, m.buyerMaker, m.tsExchange);
      }),
    ];
  }

  /** Unsubscribes. */
  stop(): void {
    for (const u of this.subs) u();
    this.subs = [];
  }

  // `shiftMs`: a looped replay's lap shift, which the frame's recorded event time lacks and the trades' times have.
  private onFrame(lane: Lane, f: DepthFrame, shiftMs: number): void {
    const was = lane.sync.isLive();
    const ts: TsMs = f.eventTime + shiftMs;
    lane.diffTs = ts;
    const out = lane.sync.onDepth(f);
    this.after(lane, was, out === 'applied' ? () => this.listener?.onDepth(lane.inst.symbol, pairs(f.bids, f.bidCount), pairs(f.asks, f.askCount), ts) : undefined);
  }

  // A book that (re)became live was replaced wholesale: the matching engine re-reads it instead of a diff.
  private after(lane: Lane, wasLive: boolean, applied: (() => void) | undefined): void {
    const live = lane.sync.isLive();
    if (live && !wasLive) this.listener?.onSnapshot(lane.inst.symbol, lane.diffTs);
    else if (applied && live) {
      this.counters.applied++;
      if (this.listener?.wantsDepth?.(lane.inst.symbol) !== false) applied();
      // No levels built, but the time: an order that joins next reads a book that already shows the prints up to it.
      else if (lane.diffTs !== undefined) this.listener?.onDepth(lane.inst.symbol, NO_LEVELS, NO_LEVELS, lane.diffTs);
    } else if (!live && wasLive) this.listener?.onSnapshot(lane.inst.symbol);
  }
}

function pairs(flat: ArrayLike<number>, n: number): Array<readonly [Ticks, Lots]> {
  const out: Array<readonly [Ticks, Lots]> = new Array(n);
  for (let i = 0; i < n; i++) out[i] = [flat[2 * i]! as Ticks, flat[2 * i + 1]! as Lots];
  return out;
}
