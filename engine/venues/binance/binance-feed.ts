// Live Binance market data: one combined-stream connection (BinanceStreamClient: reconnect, backoff, liveness, one
// SUBSCRIBE per connection, 24 h rotation) for every instrument, plus REST depth snapshots on request.
// States (md.feedStatus): idle -> connecting -> live <-> waiting (dropped, backing off) ; stop() -> stopped.
// A drop publishes md.feedReset for every symbol that had data, so books re-sync from a snapshot taken on the new
// connection (fetched only once that symbol's depth stream is flowing again, as Binance's procedure requires).
// Snapshots are fetched one at a time per venue, symbols taken in turn. A request that follows a delivered snapshot
// before the book reported live (md.bookStatus) is a retry: the snapshot was older than the buffered diffs (Binance
// serves such under heavy activity) or crossed the book; it waits snapshotRetry's backoff, growing until the book is
// live, so one lagging symbol neither floods the IP's request weight nor starves the others. A 429 (Retry-After) or
// 418 (IP ban) answer blocks every symbol's fetch until it has passed: Binance bans the whole IP, order placement
// included, for requests sent inside it. The REST client's origin gate (rest-gate.ts) refuses a snapshot, without
// sending it, while a block met by another REST user of the origin (the executor, the DataProvider) is in force; that
// refusal carries the time left and is waited out the same way.
import type { Logger } from '../../log.ts';
import { log as rootLog } from '../../log.ts';
import type { EngineMsg } from '../../messages/index.ts';
import type { FeedState } from '../../messages/feed.ts';
import type { BookStatus, BookTicker, CandleMsg, DepthDiff, DepthSnapshot, Trade } from '../../messages/market.ts';
import type { Bus, Unsubscribe } from '../../runtime/bus.ts';
import type { Clock, TimerHandle } from '../../runtime/clock.ts';
import type { Instrument, VenueId } from '../../types/instrument.ts';
import type { TsMs } from '../../types/time.ts';
import { emptyFeedCounters, type DepthDelivery, type FeedCounters, type MarketFeed } from '../feed.ts';
import { backoffDelay, venueBlockOf, type BackoffPolicy, type VenueBlock } from './backoff.ts';
import { BinanceFrameDecoder, classifyFrame, classifyStream, depthFrameToDiff, type FrameKind } from './frames.ts';
import type { BinanceRest } from './rest.ts';
import { BinanceStreamClient, type StreamClientOptions, type StreamStatus } from './stream-client.ts';

/** One instrument's route through a publisher. */
export interface FeedLane {
  readonly inst: Instrument;
  readonly decoder: BinanceFrameDecoder;
  /** Lower-case venue symbol, as in stream names (`btcusdt`). */
  readonly lower: string;
  /** A frame arrived since the last reset (so a restart must reset this symbol). */
  dirty: boolean;
  /** Frame kinds published for this symbol (the publisher's `kinds` and its `kindsBySymbol` entry); undefined: all. */
  readonly kinds: ReadonlySet<FrameKind> | undefined;
}

/** Options of a frame publisher. */
export interface FramePublisherOptions {
  readonly bus: Bus<EngineMsg>;
  readonly venue: VenueId;
  readonly instruments: readonly Instrument[];
  readonly depth?: DepthDelivery;
  /** Frame kinds to publish (default all); others are skipped undecoded and counted as ignored. */
  readonly kinds?: readonly FrameKind[];
  /** Narrower kinds for some symbols (unified symbol -> kinds), e.g. no bookTicker where nothing reads it. */
  readonly kindsBySymbol?: Readonly<Record<string, readonly FrameKind[]>>;
  readonly counters?: FeedCounters;
}

const ENVELOPE = '{"stream":"';
const AT = 64;

type Decoded = DepthDiff | DepthSnapshot | Trade | BookTicker | CandleMsg;

/** Returns `m` with every timestamp moved by `shiftMs` (a looped replay's lap offset); `m` itself when 0. */
export function shiftTimestamps<M extends Decoded>(m: M, shiftMs: number): M {
  if (shiftMs === 0) return m;
  if (m.type === 'md.candle') {
    return { ...m, tsLocal: m.tsLocal + shiftMs, tsExchange: m.tsExchange + shiftMs, candle: { ...m.candle, openTime: m.candle.openTime + shiftMs } };
  }
  return { ...m, tsLocal: m.tsLocal + shiftMs, tsExchange: m.tsExchange + shiftMs };
}

/**
 * Turns Binance frames (combined-stream envelopes, bare events, REST snapshots) of several instruments into bus
 * messages; shared by the live and the replay feed so both publish exactly the same messages. Depth goes out raw
 * (`md.depthRaw`) or decoded (`md.depth`), see engine/venues/feed.ts.
 */
export class BinanceFramePublisher {
  readonly counters: FeedCounters;
  readonly lanes: readonly FeedLane[];
  /** The lane and kind of the last frame `publish` routed (undefined lane: not routed). */
  lastLane: FeedLane | undefined;
  lastKind: FrameKind = 'other';
  private readonly bus: Bus<EngineMsg>;
  private readonly venue: VenueId;
  private readonly depth: DepthDelivery;
  private readonly byVenueSymbol = new Map<string, FeedLane>();
  /** No venue symbol holds an `@`, so a routed stream name's first `@` follows the symbol. */
  private readonly plainSymbols: boolean;

  /** Creates a publisher for `instruments` (each needs its own venue symbol). */
  constructor(opts: FramePublisherOptions) {
    this.bus = opts.bus;
    this.venue = opts.venue;
    this.depth = opts.depth ?? 'raw';
    this.counters = opts.counters ?? emptyFeedCounters();
    const lanes: FeedLane[] = [];
    for (const inst of opts.instruments) {
      if (this.byVenueSymbol.has(inst.venueSymbol)) throw new TypeError(`instrument ${inst.venueSymbol} is given twice`);
      const only = opts.kindsBySymbol?.[inst.symbol];
      const kinds = only && opts.kinds ? only.filter((k) => opts.kinds!.includes(k)) : only ?? opts.kinds;
      const lane: FeedLane = { inst, decoder: new BinanceFrameDecoder(inst, opts.venue), lower: inst.venueSymbol.toLowerCase(), dirty: false, kinds: kinds ? new Set(kinds) : undefined };
      lanes.push(lane);
      this.byVenueSymbol.set(inst.venueSymbol, lane);
    }
    this.lanes = lanes;
    this.plainSymbols = lanes.every((l) => !l.lower.includes('@'));
  }

  /** Returns the lane of a venue symbol (`BTCUSDT`), if the publisher has it. */
  lane(venueSymbol: string): FeedLane | undefined {
    return this.byVenueSymbol.get(venueSymbol);
  }

  /**
   * Publishes one frame received at `tsLocal` (ms, before any shift). `venueSymbol` routes frames that do not
   * name their stream (a replay lane's bare REST snapshot); `shiftMs` moves every timestamp (replay laps).
   */
  publish(text: string, tsLocal: TsMs, venueSymbol?: string, shiftMs = 0): void {
    const c = this.counters;
    let lane: FeedLane | undefined;
    let kind: FrameKind;
    if (venueSymbol !== undefined) {
      lane = this.byVenueSymbol.get(venueSymbol);
      kind = classifyFrame(text);
    } else if (text.startsWith(ENVELOPE)) {
      // Routing has found the stream name's `@`: classify from there rather than scan the name again.
      lane = this.laneOfStream(text);
      kind = lane !== undefined && this.plainSymbols ? classifyStream(text, ENVELOPE.length + lane.lower.length) : classifyFrame(text);
    } else {
      lane = this.laneOfEvent(text);
      kind = classifyFrame(text);
    }
    if (!this.admit(lane, kind)) return;
    if (kind === 'depth') {
      c.depth++;
      if (this.depth === 'raw') {
        // The text keeps its recorded `E`: the shift goes with it, for readers of the event time (app/paper-books.ts).
        this.emit({ type: 'md.depthRaw', venue: this.venue, symbol: lane.inst.symbol, tsLocal: tsLocal + shiftMs, data: text, ...(shiftMs !== 0 ? { shiftMs } : {}) });
        return;
      }
      const f = lane.decoder.decodeDepthFrame(text);
      if (typeof f === 'string') {
        c.depth--;
        c.malformed++;
        return;
      }
      if (f.symbol !== lane.inst.venueSymbol) {
        c.depth--;
        c.ignored++;
        return;
      }
      this.emit(shiftTimestamps(depthFrameToDiff(f, this.venue, lane.inst.symbol, tsLocal), shiftMs));
      return;
    }
    const msg = lane.decoder.decodeText(text, tsLocal, kind);
    switch (msg.type) {
      case 'malformed': c.malformed++; return;
      case 'ignored': c.ignored++; return;
      case 'md.snapshot': c.snapshots++; break;
      case 'md.trade': c.trades++; break;
      case 'md.bookTicker': c.bookTickers++; break;
      case 'md.candle': c.candles++; break;
      case 'md.depth': c.depth++; break;
    }
    this.emit(shiftTimestamps(msg, shiftMs));
  }

  /**
   * Counts a frame routed to `lane` as `kind` and returns whether it is published: false (counted ignored) when it
   * has no lane, is of no kind a publisher knows, or its lane does not publish the kind. `publish` starts with it;
   * so does a replay catalog's frame decoded ahead of time (engine/venues/replay/catalog.ts), before `emitDecoded`.
   */
  admit(lane: FeedLane | undefined, kind: FrameKind): lane is FeedLane {
    const c = this.counters;
    c.frames++;
    this.lastLane = lane;
    this.lastKind = kind;
    if (lane === undefined || kind === 'other' || (lane.kinds !== undefined && !lane.kinds.has(kind))) {
      c.ignored++;
      return false;
    }
    lane.dirty = true;
    return true;
  }

  /** Publishes an admitted frame decoded ahead of time with the counters `publish` keeps for its text. */
  emitDecoded(lane: FeedLane, kind: 'trade' | 'bookTicker' | 'depth', msg: EngineMsg): void {
    const c = this.counters;
    if (kind === 'depth') {
      if (this.depth !== 'raw') throw new TypeError('a decoded depth frame needs a publisher with depth: raw');
      c.depth++;
    } else {
      lane.decoder.counters.decoded++;
      if (kind === 'trade') c.trades++;
      else c.bookTickers++;
    }
    this.emit(msg);
  }

  /** Publishes a snapshot obtained elsewhere (REST) for `lane`. */
  publishSnapshot(snap: DepthSnapshot): void {
    this.counters.snapshots++;
    this.emit(snap);
  }

  /** Publishes `md.feedReset` for every lane that carried data since its last reset (all lanes with `all`). */
  reset(reason: string, ts: TsMs, all = false): number {
    let n = 0;
    for (const lane of this.lanes) {
      if (!lane.dirty && !all) continue;
      lane.dirty = false;
      this.counters.resets++;
      this.emit({ type: 'md.feedReset', venue: this.venue, symbol: lane.inst.symbol, reason, ts });
      n++;
    }
    return n;
  }

  /** Publishes a feed status change. */
  status(source: string, status: FeedState, ts: TsMs, detail?: string): void {
    this.emit(detail === undefined
      ? { type: 'md.feedStatus', venue: this.venue, source, status, ts }
      : { type: 'md.feedStatus', venue: this.venue, source, status, detail, ts });
  }

  private emit(msg: EngineMsg): void {
    this.counters.published++;
    this.bus.publish(msg);
  }

  /** Finds the lane of a combined-stream envelope (`text` starts with ENVELOPE) by its stream name, without slicing. */
  private laneOfStream(text: string): FeedLane | undefined {
    for (const lane of this.lanes) {
      if (text.charCodeAt(ENVELOPE.length + lane.lower.length) === AT && text.startsWith(lane.lower, ENVELOPE.length)) return lane;
    }
    return undefined;
  }

  /** Finds the lane of a bare event by its `s`. */
  private laneOfEvent(text: string): FeedLane | undefined {
    const m = /"s":"([A-Za-z0-9]+)"/.exec(text.slice(0, 200));
    return m ? this.byVenueSymbol.get(m[1]!.toUpperCase()) : undefined;
  }
}

/** Stream kinds the live feed subscribes to per symbol. */
export type BinanceStreamKind = 'depth@100ms' | 'depth' | 'trade' | 'aggTrade' | 'bookTicker' | 'kline_1m' | 'kline_1s' | 'kline_1h' | 'kline_1d';

/**
 * Default streams: 100 ms depth diffs, trades, best bid/ask, 1m klines. No kline_1s: the DataProvider builds the 1s
 * bars from the trades, as in every replay and backtest (recordings hold no klines); with the venue's 1s kline as well,
 * two versions of each second's bar went out (the orchestrator decided each second twice, the series kept the later).
 */
export const DEFAULT_STREAMS: readonly BinanceStreamKind[] = ['depth@100ms', 'trade', 'bookTicker', 'kline_1m'];

// The frame kind each stream produces.
const STREAM_FRAME: Readonly<Record<BinanceStreamKind, FrameKind>> = {
  'depth@100ms': 'depth', depth: 'depth', trade: 'trade', aggTrade: 'trade', bookTicker: 'bookTicker',
  kline_1m: 'kline', kline_1s: 'kline', kline_1h: 'kline', kline_1d: 'kline',
};

/**
 * Returns the stream names to subscribe (`btcusdt@depth@100ms`, …): `kinds` for every instrument, less the streams
 * whose frames `kindsBySymbol` leaves out for that symbol (they would only be dropped on arrival).
 */
export function streamNames(instruments: readonly Instrument[], kinds: readonly BinanceStreamKind[], kindsBySymbol?: Readonly<Record<string, readonly FrameKind[]>>): string[] {
  return instruments.flatMap((i) => {
    const only = kindsBySymbol?.[i.symbol];
    return kinds.filter((k) => only === undefined || only.includes(STREAM_FRAME[k])).map((k) => `${i.venueSymbol.toLowerCase()}@${k}`);
  });
}

/** Options of a live Binance feed. */
export interface BinanceFeedOptions {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  readonly instruments: readonly Instrument[];
  /** Combined-stream endpoint (`wss://stream.binance.com:9443/stream`); a URL with no path gets `/stream`. */
  readonly wsUrl: string;
  /** REST client for depth snapshots (BinanceRest, or a stub in tests). */
  readonly rest: Pick<BinanceRest, 'depthSnapshot'>;
  readonly venue?: VenueId;
  readonly streams?: readonly BinanceStreamKind[];
  /** Frame kinds to publish for some symbols (see FramePublisherOptions.kindsBySymbol). */
  readonly kindsBySymbol?: Readonly<Record<string, readonly FrameKind[]>>;
  /** Levels per REST snapshot (default 1000). */
  readonly snapshotLimit?: number;
  readonly depth?: DepthDelivery;
  /** Reconnect backoff of the stream client. */
  readonly backoff?: BackoffPolicy;
  /** Retry backoff of failed snapshot fetches and of snapshots that did not sync the book (default 500 ms doubling to 10 s). */
  readonly snapshotRetry?: BackoffPolicy;
  readonly rng?: () => number;
  /** Further stream client settings (ping interval, liveness, rotation). */
  readonly stream?: Partial<Pick<StreamClientOptions, 'pingIntervalMs' | 'livenessMs' | 'dataSilenceMs' | 'stableAfterMs' | 'rotateAfterMs' | 'rotateRetry'>>;
  readonly logger?: Logger;
}

const SNAPSHOT_RETRY: BackoffPolicy = { initialMs: 500, maxMs: 10_000, factor: 2, jitter: 0.5 };
// A request this long (at least) after the last delivered snapshot is a fresh one even with no md.bookStatus seen
// (a book owner that publishes none); retries come at most snapshotRetry.maxMs apart, well inside it.
const RETRY_QUIET_MS = 60_000;
// At most one retry warning per symbol per this much clock time; the lines between are counted.
const RETRY_LOG_EVERY_MS = 60_000;

interface SnapshotState {
  pending: boolean;
  inflight: boolean;
  /** Depth has arrived on the current connection: a snapshot taken now overlaps the buffered diffs. */
  flowing: boolean;
  attempt: number;
  retry: TimerHandle | undefined;
  reason: string;
  /** A snapshot was published and the book has not reported live since: the next request is a retry. */
  delivered: boolean;
  deliveredAt: number;
  /** Clock time of the last retry warning (-Infinity: none yet) and retries since it. */
  retryLoggedAt: number;
  retriesUnlogged: number;
}

/** Returns the combined-stream URL: `url` itself when it has a path, else `url` + `/stream`. */
export function combinedStreamUrl(url: string): string {
  const u = new URL(url);
  return u.pathname === '/' || u.pathname === '' ? `${url.replace(/\/$/, '')}/stream` : url;
}

/** Live Binance market data for a set of instruments, published on the bus; also the books' SnapshotSource. */
export class BinanceFeed implements MarketFeed {
  readonly venue: VenueId;
  readonly instruments: readonly Instrument[];
  readonly counters: FeedCounters = emptyFeedCounters();
  /** The stream client (its `stats` count connects, drops and SUBSCRIBE messages). */
  readonly client: BinanceStreamClient;
  private readonly publisher: BinanceFramePublisher;
  private readonly snaps = new Map<string, SnapshotState>();
  private readonly log: Logger;
  private st: FeedState = 'idle';
  private connections = 0;
  /** Clock time until which no snapshot is fetched, for any symbol: the venue answered 429 or 418. */
  private blockedUntil = 0;
  private bannedUntil = 0;
  private unsubscribe: Unsubscribe | undefined;
  private readonly quietMs: number;

  constructor(private readonly opts: BinanceFeedOptions) {
    if (opts.instruments.length === 0) throw new TypeError('a Binance feed needs at least one instrument');
    this.venue = opts.venue ?? 'binance';
    this.instruments = opts.instruments;
    this.log = opts.logger ?? rootLog().child({ component: 'binance-feed' });
    this.publisher = new BinanceFramePublisher({ bus: opts.bus, venue: this.venue, instruments: opts.instruments, depth: opts.depth ?? 'raw', counters: this.counters,
      ...(opts.kindsBySymbol ? { kindsBySymbol: opts.kindsBySymbol } : {}),
    });
    for (const inst of opts.instruments) {
      this.snaps.set(inst.symbol, {
        pending: false, inflight: false, flowing: false, attempt: 0, retry: undefined, reason: '',
        delivered: false, deliveredAt: 0, retryLoggedAt: -Infinity, retriesUnlogged: 0,
      });
    }
    this.quietMs = Math.max(RETRY_QUIET_MS, 3 * (opts.snapshotRetry ?? SNAPSHOT_RETRY).maxMs);
    this.client = new BinanceStreamClient({
      url: combinedStreamUrl(opts.wsUrl),
      clock: opts.clock,
      onMessage: (data, ts) => this.onFrame(data, ts),
      onStatus: (s, detail) => this.onStatus(s, detail),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.rng ? { rng: opts.rng } : {}),
      ...opts.stream,
      logger: this.log,
    });
    this.client.subscribe(streamNames(opts.instruments, opts.streams ?? DEFAULT_STREAMS, opts.kindsBySymbol));
  }

  /** Where the feed stands. */
  get status(): FeedState {
    return this.st;
  }

  /** Returns how many REST snapshot fetches are under way. */
  get snapshotsInFlight(): number {
    let n = 0;
    for (const s of this.snaps.values()) if (s.inflight) n++;
    return n;
  }

  /** Opens the connection (it reconnects by itself from then on). */
  async start(): Promise<void> {
    this.unsubscribe ??= this.opts.bus.subscribe('md.bookStatus', (m) => this.onBookStatus(m));
    this.client.start();
  }

  /** Closes the connection and cancels snapshot retries. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.client.stop();
    for (const s of this.snaps.values()) {
      if (s.retry) this.opts.clock.clearTimeout(s.retry);
      s.retry = undefined;
      s.pending = false;
    }
  }

  /** Queues a REST snapshot of `symbol`; it is fetched once depth flows on the current connection. */
  requestSnapshot(venue: VenueId, symbol: string, reason: string): void {
    const s = this.snaps.get(symbol);
    if (venue !== this.venue || !s) return;
    this.counters.snapshotRequests++;
    s.pending = true;
    s.reason = reason;
    if (this.isRetry(s)) this.scheduleRetry(symbol, s);
    else this.maybeFetch(symbol, s);
  }

  /** A book went live: the snapshot it was built from served, so its next request starts a fresh backoff. */
  private onBookStatus(m: BookStatus): void {
    if (m.venue !== this.venue || m.status !== 'live') return;
    const s = this.snaps.get(m.symbol);
    if (!s) return;
    s.delivered = false;
    s.attempt = 0;
  }

  /** Returns whether a request follows a delivered snapshot that has not synced the book (stale, or crossed). */
  private isRetry(s: SnapshotState): boolean {
    if (!s.delivered) return false;
    if (this.opts.clock.now() - s.deliveredAt < this.quietMs) return true;
    s.delivered = false;
    s.attempt = 0;
    return false;
  }

  /** Fetches `symbol` again after the backoff of its attempt; the other symbols' fetches go meanwhile. */
  private scheduleRetry(symbol: string, s: SnapshotState): void {
    if (s.retry || s.inflight || this.st === 'stopped') return;
    const delay = backoffDelay(this.opts.snapshotRetry ?? SNAPSHOT_RETRY, s.attempt++, this.opts.rng);
    this.logRetry(symbol, s, delay);
    s.retry = this.opts.clock.setTimeout(() => {
      s.retry = undefined;
      this.maybeFetch(symbol, s);
    }, delay);
  }

  private logRetry(symbol: string, s: SnapshotState, delay: number): void {
    const now = this.opts.clock.now();
    if (now - s.retryLoggedAt < RETRY_LOG_EVERY_MS) {
      s.retriesUnlogged++;
      return;
    }
    // The reason is BookSync's: for a stale snapshot it names the snapshot's lastUpdateId and the first buffered U.
    this.log.warn({ symbol, reason: s.reason, attempt: s.attempt, retryInMs: delay, retriesSinceLastLine: s.retriesUnlogged }, 'depth snapshot did not sync the book; retrying');
    s.retryLoggedAt = now;
    s.retriesUnlogged = 0;
  }

  private onFrame(data: Buffer, tsLocal: number): void {
    // Frames are ASCII: latin1 is a flat copy, no UTF-8 decode.
    this.publisher.publish(data.toString('latin1'), tsLocal);
    const lane = this.publisher.lastLane;
    if (lane === undefined || this.publisher.lastKind !== 'depth') return;
    const s = this.snaps.get(lane.inst.symbol)!;
    if (s.flowing) return;
    s.flowing = true;
    this.maybeFetch(lane.inst.symbol, s);
  }

  private onStatus(s: StreamStatus, detail?: string): void {
    const now = this.opts.clock.now();
    if (s === 'waiting') {
      // The stream broke: diffs were lost. Books built on the old connection cannot continue.
      for (const st of this.snaps.values()) st.flowing = false;
      this.publisher.reset(`stream dropped (${detail ?? 'closed'})`, now);
    }
    if (s === 'live') this.connections++;
    const state: FeedState = s;
    if (state === this.st) return;
    this.st = state;
    this.publisher.status('live', state, now, detail ?? (s === 'live' ? `connection ${this.connections}` : undefined));
  }

  private maybeFetch(symbol: string, s: SnapshotState): void {
    if (!s.pending || s.inflight || !s.flowing || s.retry || this.st === 'stopped') return;
    // One fetch at a time per venue: a resync of many symbols must not burst the IP's request weight.
    if (this.snapshotsInFlight > 0) return;
    const blockedMs = this.blockedUntil - this.opts.clock.now();
    if (blockedMs > 0) {
      s.retry = this.opts.clock.setTimeout(() => {
        s.retry = undefined;
        this.maybeFetch(symbol, s);
      }, blockedMs);
      return;
    }
    const inst = this.instruments.find((i) => i.symbol === symbol)!;
    s.pending = false;
    s.inflight = true;
    this.opts.rest.depthSnapshot(inst, this.opts.snapshotLimit ?? 1000, this.opts.clock).then(
      (snap) => {
        s.inflight = false;
        if (this.st === 'stopped') return;
        this.counters.snapshotsFetched++;
        const now = this.opts.clock.now();
        // Set before publishing: the book's owner answers a stale snapshot with a request from inside the publish.
        s.delivered = true;
        s.deliveredAt = now;
        this.publisher.publishSnapshot({ ...snap, venue: this.venue, symbol: inst.symbol, tsLocal: now });
        this.fetchWaiting(symbol);
      },
      (err: unknown) => {
        s.inflight = false;
        if (this.st === 'stopped') return;
        this.counters.snapshotErrors++;
        s.pending = true;
        const block = venueBlockOf(err);
        if (block) this.block(block, symbol, err);
        const backoff = backoffDelay(this.opts.snapshotRetry ?? SNAPSHOT_RETRY, s.attempt++, this.opts.rng);
        const delay = Math.max(backoff, this.blockedUntil - this.opts.clock.now());
        this.log.warn({ symbol, err: (err as Error).message, retryInMs: delay }, 'depth snapshot failed');
        s.retry = this.opts.clock.setTimeout(() => {
          s.retry = undefined;
          this.maybeFetch(symbol, s);
        }, delay);
        this.fetchWaiting(symbol);
      },
    );
  }

  /**
   * Starts the next waiting fetch once `symbol`'s finished, in turn: the symbols after it first, `symbol` last, so
   * one symbol asking again at once cannot keep the others waiting.
   */
  private fetchWaiting(symbol: string): void {
    const order = [...this.snaps.keys()];
    const at = order.indexOf(symbol);
    for (let i = 1; i <= order.length; i++) {
      const sym = order[(at + i) % order.length]!;
      this.maybeFetch(sym, this.snaps.get(sym)!);
    }
  }

  /** Extends the venue-wide block; a ban is logged as an error once per ban, since orders are refused too. */
  private block(b: VenueBlock, symbol: string, err: unknown): void {
    const now = this.opts.clock.now();
    const until = now + b.retryAfterMs;
    const newBan = b.kind === 'banned' && now >= this.bannedUntil;
    if (b.kind === 'banned') this.bannedUntil = Math.max(this.bannedUntil, until);
    this.blockedUntil = Math.max(this.blockedUntil, until);
    if (newBan) this.log.error({ symbol, err: (err as Error).message, bannedForMs: b.retryAfterMs }, 'binance banned this IP (418); no snapshot is fetched until the ban ends');
  }
}
