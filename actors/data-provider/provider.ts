// The DataProvider: OHLCV series 1s/1m/1h/1d per symbol (1500 bars each), built from trades and kline streams,
// rolled up from finer bars, loaded and backfilled from klines (REST failover live, the CSV archive in replays),
// a live price with a 500 ms cache, and the BaseDataInput assembled from all of it on request.
import { ReceiveLag } from '../../engine/market/receive-lag.ts';
import { log as rootLog, type Logger } from '../../engine/log.ts';
import { BdiAssembler, type BaseDataInput, type BdiSources, type BdiValidation } from '../../engine/market/base-data-input.ts';
import { CANDLE_CAPACITY, CandleBuilder, CandleRollup, CandleSeries, type Hole } from '../../engine/market/candles.ts';
import type { CobSnapshot } from '../../engine/market/cob.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { FeedReset, FeedStatusMsg } from '../../engine/messages/feed.ts';
import type { Candle, CandleMsg, Trade } from '../../engine/messages/market.ts';
import type { Bus, Unsubscribe } from '../../engine/runtime/bus.ts';
import { LiveClock, type Clock, type TimerHandle } from '../../engine/runtime/clock.ts';
import type { CandleCache, SeriesWrite } from '../../engine/store/candle-cache.ts';
import type { ModelOutputStore } from '../../engine/store/model-output-store.ts';
import { ParseError, VenueError } from '../../engine/types/errors.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, ticksToFloat, type Instrument, type InstrumentSpec, type VenueId } from '../../engine/types/instrument.ts';
import { timeframeMs, type Timeframe, type TsMs } from '../../engine/types/time.ts';
import { TtlCache } from '../../engine/venues/ttl-cache.ts';
import {
  closedInGap, COARSER, gapsToFill, isWholeRollup, KLINE_TIMEFRAMES, lastClosedOpen, leadGap, mergeCandles, plainCandle, splitGap, TIMEFRAMES,
} from './logic.ts';
import type { KlineSource, SourcedPrice } from './market-source.ts';

/** What the DataProvider asks the COB for: the latest consolidated snapshot of a symbol (the COBAggregator answers). */
export interface CobQuery {
  latest(symbol: string): CobSnapshot | undefined;
}

/** Where REST prices come from (the FailoverMarket). */
export interface PriceSource {
  price(symbol: string): Promise<SourcedPrice>;
}

/** Options of a DataProvider. */
export interface DataProviderOptions {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  /** Primary (traded) symbol, default ETH/USDT. */
  readonly primary?: string;
  /** Reference symbol, default BTC/USDT. */
  readonly reference?: string;
  /** Increments per symbol (default: the bundled Binance spot increments). */
  readonly instruments?: ReadonlyMap<string, Instrument>;
  /** Klines for the initial load and backfills: the FailoverMarket live, a KlinesArchive in replays. */
  readonly history?: KlineSource;
  /** REST prices (FailoverMarket); without it the price is the trade stream's. */
  readonly prices?: PriceSource;
  readonly cob?: CobQuery;
  readonly modelOutputs?: ModelOutputStore;
  /** Bars per series (default 1500). */
  readonly capacity?: number;
  /** Maintenance period (default 60 s); 0 turns the loop off (a caller runs `maintain()` itself). */
  readonly maintenanceMs?: number;
  /** How long after a 1s bar's end it is closed without a later trade (default 1 s: trades arrive late). */
  readonly closeGraceMs?: number;
  /**
   * What closes a 1s bar. 'clock' (default; live and replays): a trade of a later second, or the clock passing the
   * bar's end by `closeGraceMs`. 'trades' (bars built offline from a recording): only a trade of a later second, by
   * exchange time, so a receive clock running ahead of trade time makes no trade late. With 'trades' the first bar
   * after the start and after each stream break is left out (trades before the first one received may be missing),
   * and a trade more than `MAX_QUIET_MS` after the previous one with no break between throws a ParseError.
   */
  readonly closeBy?: 'clock' | 'trades';
  /** How long after a bar's end the maintenance loop fetches it when no stream produced it (default 5 s). */
  readonly backfillGraceMs?: number;
  /** Live price cache lifetime (default 500 ms). */
  readonly priceTtlMs?: number;
  /** Bars per kline request (default 1000, Binance's maximum). */
  readonly requestBars?: number;
  /** Venue named in published messages (default binance). */
  readonly venue?: VenueId;
  /** Bus subscriptions are made with this owner, so a throwing handler counts as this actor failing. */
  readonly owner?: string;
  /**
   * Where the series survive a restart (a daemon on live data only: app/system.ts). The bars still usable are
   * loaded at start, before the history; closed bars are saved every `cacheSaveMs` and at stop.
   */
  readonly candleCache?: CandleCache;
  /** How often (clock ms) closed bars are saved to `candleCache` (default 5 s: what a kill -9 may lose). */
  readonly cacheSaveMs?: number;
  /**
   * The wall clock a stop's wait for the kline requests in flight (STOP_HISTORY_WAIT_MS) runs on (default: a
   * LiveClock); `clock` may be simulated or scaled, the venue's answers and the close hooks after the stop are not.
   */
  readonly wallClock?: Clock;
  /**
   * How long a stop waits for the kline requests in flight (wall ms, default STOP_HISTORY_WAIT_MS); 0: no wait (on a
   * simulated clock nobody moves during a stop, a request paced on it cannot end).
   */
  readonly stopHistoryWaitMs?: number;
  readonly log?: Logger;
}

/** Counters of a DataProvider. */
export interface DataProviderStats {
  trades: number;
  /** Messages of symbols the provider does not keep. */
  unknownSymbol: number;
  /** Klines of a timeframe the provider does not keep, or not on their timeframe's grid: skipped. */
  malformedKlines: number;
  /**
   * Trades refused because their 1s bar had already closed (or was dropped at a stream break). Each marks the 1m bar
   * holding it partial, or the 1h (1d) one when that minute (hour) already went out (see `markLate`).
   */
  lateTrades: number;
  /** 1s bars left out because the stream may have begun inside them (closeBy 'trades': the first after each start or break). */
  partialBars: number;
  /** Breaks in a symbol's trade stream (md.feedReset, or a feed status other than live): its forming 1s bar was dropped. */
  streamBreaks: number;
  klines: number;
  /** Rolled-up bars dropped because a finer bar of their period was missing or a trade of theirs came late (their slot is left for backfill). */
  partialRollups: number;
  backfillRequests: number;
  backfillFailures: number;
  backfilledBars: number;
  /** Bars that went out without a late trade (see `markLate`), replaced by the venue's bar fetched again. */
  refetchedBars: number;
  candlesPublished: number;
  /** Bars loaded from the candles cache at start. */
  cachedBars: number;
  /** Saves to the candles cache that failed (logged; their bars go back to be saved by the next save). */
  cacheSaveFailures: number;
}

/** What one maintenance pass did. */
export interface MaintenanceReport {
  readonly gaps: number;
  readonly requests: number;
  readonly failures: number;
  readonly filled: number;
}

interface SymbolState {
  readonly symbol: string;
  readonly inst: Instrument;
  readonly builder: CandleBuilder;
  readonly series: Record<Timeframe, CandleSeries>;
  /** Roll-up into each coarser timeframe from the next finer one. */
  readonly rollups: Partial<Record<Timeframe, CandleRollup>>;
  /** Timeframes a kline stream delivers; roll-ups into them are not used. */
  readonly streamed: Set<Timeframe>;
  /** closeBy 'trades': the next 1s bar closed is the first of a stream, left out. */
  skipFirst: boolean;
  /** closeBy 'trades': exchange time of the last trade taken since the last break; NaN after one. */
  lastTradeMs: number;
  /** Receive-minus-trade times of the trades over the last 10–20 s of clock time. */
  readonly lag: ReceiveLag;
  /** The clock-ahead warning was logged. */
  warnedAhead: boolean;
  /** Open times, per rolled-up timeframe, of bars not closed yet that lack a trade refused as late: they are left out. */
  readonly lateIn: Partial<Record<Timeframe, Set<number>>>;
  /**
   * Open times, per rolled-up timeframe, of bars that went out without a trade (or finer bar) refused as late: the
   * next maintenance pass fetches them again and the venue's bar replaces each. Kept only with a history source.
   */
  readonly refetch: Partial<Record<Timeframe, Set<number>>>;
  /** Bars that entered a series since the last save to the candles cache (kept only with a cache). */
  readonly unsaved: Partial<Record<Timeframe, Candle[]>>;
}

/**
 * 'clock' closing reads the local clock against exchange trade times. A local clock running ahead of the exchange's
 * (no NTP, a VM that drifted) would close each 1s bar before its trades arrive, refusing them as late: most of them
 * once it is over a second ahead. The smallest receive-minus-trade time over the last 10–20 s bounds how far ahead it
 * runs (latency only adds to it), and idle bars close that much later. A clock behind the exchange's is left alone:
 * its bars close late, none is lost. Capped, so wrong trade times cannot hold bars open for long.
 */
const MAX_CLOCK_AHEAD_MS = 30_000;
const WARN_CLOCK_AHEAD_MS = 500;

const VOLUME_DECIMALS = 8;

/**
 * closeBy 'trades': the longest run of trade time without a trade (and without a break in the stream) taken as a
 * quiet market, filled with flat 1s bars (86,400 of them). Longer means a wrong trade time: a year of flat bars
 * would not fit in memory.
 */
export const MAX_QUIET_MS = 86_400_000;

/** How long after a bar's end the maintenance pass fetches it when no stream produced it (the default `backfillGraceMs`). */
export const BACKFILL_GRACE_MS = 5_000;

/** How often closed bars are saved to the candles cache (the default `cacheSaveMs`): at most this much is lost to a kill -9. */
export const CACHE_SAVE_MS = 5_000;

/**
 * How long (wall ms, on `wallClock`) a stop waits for the kline requests in flight (history load, maintenance pass)
 * before its last save, so that their bars are saved too; an answer later than that is dropped (the next start
 * fetches those bars). Wall time, not the engine clock's: a simulated clock that nobody moves would hold the stop for
 * ever, and a scaled one would drop a prompt answer at --speed 1000 or outlast the 30 s close hook at --speed 0.1.
 */
export const STOP_HISTORY_WAIT_MS = 5_000;

/**
 * A history fetch (the load at start, a maintenance pass). A stop halts the fetches in flight (they send no more kline
 * requests), then seals them once its last save took the unsaved bars (an answer coming after enters no series).
 */
interface Fetch {
  halted: boolean;
  sealed: boolean;
}

type Counts = { -readonly [K in keyof MaintenanceReport]: number };

/**
 * Returns an instrument map of `symbols` from `specs`: a configured run's (config `instruments` over the bundled
 * ones, engine/config instrumentSpecsOf), else the bundled Binance spot increments.
 */
export function defaultInstruments(symbols: readonly string[], specs: Readonly<Record<string, InstrumentSpec>> = BINANCE_SPOT_DEFAULTS): Map<string, Instrument> {
  const m = new Map<string, Instrument>();
  for (const s of symbols) {
    const spec = specs[s];
    if (!spec) throw new VenueError(`no instrument increments for ${s} (known: ${Object.keys(specs).join(', ')}): add them under the config's instruments or pass options.instruments`);
    m.set(s, makeInstrument(spec));
  }
  return m;
}

/**
 * Keeps the candle series and the live price of the primary and reference symbols. Drive it with bus messages
 * (`md.trade`, `md.candle` klines) after `start()`; `maintain()` runs on the clock every `maintenanceMs`.
 */
export class DataProvider {
  readonly primary: string;
  readonly reference: string;
  readonly stats: DataProviderStats = {
    trades: 0, unknownSymbol: 0, malformedKlines: 0, lateTrades: 0, partialBars: 0, streamBreaks: 0, klines: 0, partialRollups: 0, backfillRequests: 0, backfillFailures: 0, backfilledBars: 0, refetchedBars: 0, candlesPublished: 0,
    cachedBars: 0, cacheSaveFailures: 0,
  };
  private readonly states = new Map<string, SymbolState>();
  private readonly priceCache: TtlCache<string, SourcedPrice>;
  // Keeps each series' packed block between ticks: only series whose newest 300 bars changed are walked again.
  private readonly assembler = new BdiAssembler();
  private readonly own = new WeakSet<object>();
  private readonly log: Logger;
  private readonly wallClock: Clock;
  private unsubs: Unsubscribe[] = [];
  private tickTimer: TimerHandle | undefined;
  private maintTimer: TimerHandle | undefined;
  private cacheTimer: TimerHandle | undefined;
  private maintaining: Promise<MaintenanceReport> | undefined;
  /** The history load of start(), while in flight. */
  private loading: Promise<void> | undefined;
  private readonly fetches = new Set<Fetch>();
  /** Saves to the candles cache not settled yet (they never reject). */
  private readonly saves = new Set<Promise<void>>();
  private running = false;
  /** The close and maintenance timers are armed (by the first market message). */
  private armed = false;

  constructor(private readonly opts: DataProviderOptions) {
    this.primary = opts.primary ?? 'ETH/USDT';
    this.reference = opts.reference ?? 'BTC/USDT';
    this.log = opts.log ?? rootLog().child({ actor: 'dataProvider' });
    this.wallClock = opts.wallClock ?? new LiveClock();
    const symbols = this.primary === this.reference ? [this.primary] : [this.primary, this.reference];
    const insts = opts.instruments ?? defaultInstruments(symbols);
    const capacity = opts.capacity ?? CANDLE_CAPACITY;
    for (const symbol of symbols) {
      const inst = insts.get(symbol);
      if (!inst) throw new VenueError(`no instrument for ${symbol}`);
      const series = Object.fromEntries(TIMEFRAMES.map((tf) => [tf, new CandleSeries(tf, capacity)])) as Record<Timeframe, CandleSeries>;
      this.states.set(symbol, {
        symbol, inst, series, streamed: new Set(), skipFirst: opts.closeBy === 'trades', lastTradeMs: NaN,
        lag: new ReceiveLag(), warnedAhead: false, lateIn: {}, refetch: {}, unsaved: {},
        builder: new CandleBuilder({ timeframe: '1s', tickSize: inst.tickSize, lotSize: inst.lotSize }),
        rollups: { '1m': newRollup('1m'), '1h': newRollup('1h'), '1d': newRollup('1d') },
      });
    }
    this.priceCache = new TtlCache(opts.clock, opts.priceTtlMs ?? 500);
  }

  /** Returns the symbols kept, primary first. */
  get symbols(): string[] {
    return [...this.states.keys()];
  }

  /** Returns the series of `symbol` and `tf`; throws for a symbol the provider does not keep. */
  series(symbol: string, tf: Timeframe): CandleSeries {
    return this.state(symbol).series[tf];
  }

  /**
   * Loads the candles cache, subscribes to the bus, loads history and starts the close and maintenance timers;
   * history failures are logged, not thrown.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const restored = this.restoreFromCache();
    const { bus, owner } = this.opts;
    this.unsubs.push(
      bus.subscribe('md.trade', (m) => this.onTrade(m), owner),
      bus.subscribe('md.candle', (m) => this.onKline(m), owner),
      bus.subscribe('md.feedReset', (m) => this.onFeedReset(m), owner),
      bus.subscribe('md.feedStatus', (m) => this.onFeedStatus(m), owner),
    );
    const loading = this.loadHistory(restored);
    this.loading = loading;
    try {
      await loading;
    } finally {
      if (this.loading === loading) this.loading = undefined;
    }
  }

  /**
   * Unsubscribes, cancels the timers, sends no more kline requests and saves the bars not saved yet to the candles
   * cache, those of the requests in flight included when they answer within STOP_HISTORY_WAIT_MS; resolves when that
   * save and every save still in flight have settled. Await it before closing the cache's store: a save's
   * transactions after its first are issued one commit after another, and a closed store refuses them (their bars
   * are then lost).
   */
  stop(): Promise<void> {
    const saved = this.running ? this.saveAtStop([...this.fetches]) : this.savesSettled();
    this.running = false;
    for (const u of this.unsubs) u();
    this.unsubs = [];
    if (this.tickTimer) this.opts.clock.clearTimeout(this.tickTimer);
    if (this.maintTimer) this.opts.clock.clearTimeout(this.maintTimer);
    if (this.cacheTimer) this.opts.clock.clearTimeout(this.cacheTimer);
    this.tickTimer = this.maintTimer = this.cacheTimer = undefined;
    this.armed = false;
    return saved;
  }

  /**
   * Saves the bars closed or fetched since the last save to the candles cache (CandleCache.save: transactions of at
   * most 64 writes) and resolves at the last commit; a failure is logged and counted (`stats.cacheSaveFailures`) and
   * its bars are put back for the next save, never thrown: the cache only shortens the next start's warm-up.
   */
  saveCandles(): Promise<void> {
    const cache = this.opts.candleCache;
    if (!cache) return Promise.resolve();
    const p = this.saveTo(cache, this.takeUnsaved());
    this.saves.add(p);
    void p.then(() => this.saves.delete(p));
    return p;
  }

  private async saveTo(cache: CandleCache, writes: SeriesWrite[]): Promise<void> {
    try {
      await cache.save(writes);
    } catch (err) {
      this.stats.cacheSaveFailures++;
      this.putBackUnsaved(writes);
      this.log.warn({ err: (err as Error).message, code: 'CANDLES_CACHE_NOT_SAVED', series: writes.length }, 'candles cache not saved: a restart may find fewer bars');
    }
  }

  // The final save starts at once, so that its first transaction is issued even for a caller that closes the store
  // without awaiting stop(); the bars the kline requests in flight bring are saved after it. A save that failed
  // meanwhile (its bars put back) gets one more try.
  private async saveAtStop(inFlight: readonly Fetch[]): Promise<void> {
    const failures = this.stats.cacheSaveFailures;
    for (const f of inFlight) f.halted = true;
    void this.saveCandles();
    await this.fetchesSettled();
    for (const f of inFlight) f.sealed = true;
    if (this.hasUnsaved()) void this.saveCandles();
    await this.savesSettled();
    if (this.stats.cacheSaveFailures > failures && this.hasUnsaved()) await this.saveCandles();
  }

  // Bounded: a venue that does not answer must not hold up the stop, nor the close of the store after it. Without a
  // candles cache there is nothing to save the answers to: no wait.
  private async fetchesSettled(): Promise<void> {
    const inFlight = [this.loading, this.maintaining].filter((p) => p !== undefined);
    const waitMs = this.opts.stopHistoryWaitMs ?? STOP_HISTORY_WAIT_MS;
    if (inFlight.length === 0 || !this.opts.candleCache || waitMs <= 0) return;
    if (await this.settlesWithin(Promise.allSettled(inFlight), waitMs)) return;
    this.log.warn({ waitedMs: waitMs, code: 'HISTORY_UNANSWERED_AT_STOP' },
      'a kline request in flight at stop got no answer in time: its bars are dropped, the next start fetches them');
  }

  // True when `work` settles before `ms` of wall time pass.
  private settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
    const clock = this.wallClock;
    return new Promise((resolve) => {
      const timer = clock.setTimeout(() => resolve(false), ms);
      void work.then(() => {
        clock.clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private async savesSettled(): Promise<void> {
    while (this.saves.size > 0) await Promise.all([...this.saves]);
  }

  /** Adds a trade: builds 1s bars (and what rolls up from them) and refreshes the stream price. */
  onTrade(t: Trade): void {
    const st = this.states.get(t.symbol);
    if (!st) {
      this.stats.unknownSymbol++;
      return;
    }
    if (this.byTrades && t.tsExchange - st.lastTradeMs > MAX_QUIET_MS) {
      throw new ParseError(`${t.symbol} trade ${t.tradeId} at ${new Date(t.tsExchange).toISOString()} comes `
        + `${((t.tsExchange - st.lastTradeMs) / 3_600_000).toFixed(1)} h after the previous trade `
        + `(${new Date(st.lastTradeMs).toISOString()}) with no break in the stream: a trade time is wrong; not filling the gap with empty 1s bars`);
    }
    this.stats.trades++;
    this.armTimers();
    const now = this.opts.clock.now();
    if (!this.byTrades) this.noteLag(st, now - t.tsExchange, now);
    const late = st.builder.late;
    const closed = st.builder.addTrade(t);
    if (st.builder.late !== late) {
      this.stats.lateTrades++;
      this.markLate(st, t.tsExchange);
    } else if (this.byTrades) st.lastTradeMs = t.tsExchange;
    for (const c of closed) {
      if (st.skipFirst) {
        st.skipFirst = false;
        this.stats.partialBars++;
      } else this.closeBar(st, '1s', c);
    }
    this.priceCache.put(t.symbol, { price: ticksToFloat(st.inst, t.price), source: 'stream', ts: now });
  }

  /** How far (ms) the local clock runs ahead of `symbol`'s trade times, as idle closing allows for it (see MAX_CLOCK_AHEAD_MS). */
  clockAheadMs(symbol: string): number {
    const st = this.states.get(symbol);
    return st ? this.aheadOf(st) : 0;
  }

  private aheadOf(st: SymbolState): number {
    return Math.min(st.lag.least(), MAX_CLOCK_AHEAD_MS);
  }

  private noteLag(st: SymbolState, lag: number, now: TsMs): void {
    st.lag.note(lag, now);
    if (!st.warnedAhead && st.lag.settled && st.lag.least() > WARN_CLOCK_AHEAD_MS) {
      st.warnedAhead = true;
      this.log.warn({ symbol: st.symbol, aheadMs: Math.round(this.aheadOf(st)) },
        'the local clock runs ahead of the exchange\'s trade times: 1s bars close that much later (check NTP)');
    }
  }

  /** Adds a venue kline (`md.candle`); closed bars enter the series, and that timeframe stops being rolled up. */
  onKline(m: CandleMsg): void {
    if (this.own.has(m)) return;
    const st = this.states.get(m.symbol);
    if (!st) {
      this.stats.unknownSymbol++;
      return;
    }
    if (!TIMEFRAMES.includes(m.timeframe) || m.candle.openTime % timeframeMs(m.timeframe) !== 0) {
      this.stats.malformedKlines++;
      return;
    }
    this.stats.klines++;
    this.armTimers();
    st.streamed.add(m.timeframe);
    if (m.candle.closed) this.closeBar(st, m.timeframe, m.candle, false);
  }

  /**
   * A symbol's stream restarted (reconnect, replay lap): trades may have been lost since the last one received. The
   * forming 1s bar is dropped and no flat bars are made until trades resume, so the 1s bars of the break stay holes,
   * the 1m (1h, 1d) roll-ups over it stay partial, and the maintenance loop backfills those slots from klines.
   */
  onFeedReset(m: FeedReset): void {
    const st = this.states.get(m.symbol);
    if (st) this.breakStream(st);
  }

  /** A feed left `live` (dropped, ended, stopped, failed): every symbol's trade stream breaks as on md.feedReset. */
  onFeedStatus(m: FeedStatusMsg): void {
    if (m.status === 'live') return;
    for (const st of this.states.values()) this.breakStream(st);
  }

  /** Closes 1s bars whose end passed `closeGraceMs` ago without a later trade. */
  closeIdleBars(now: TsMs = this.opts.clock.now()): void {
    for (const st of this.states.values()) this.closeIdleBarsOf(st, now);
  }

  /** Fills holes and missing recent bars of the kline timeframes from the history source; one pass at a time. */
  maintain(): Promise<MaintenanceReport> {
    this.maintaining ??= this.backfill().finally(() => {
      this.maintaining = undefined;
    });
    return this.maintaining;
  }

  /** Returns the live price: the stream's or a REST venue's within the cache lifetime, else a fresh REST price. */
  async price(symbol: string): Promise<SourcedPrice> {
    this.state(symbol);
    const prices = this.opts.prices;
    if (!prices) {
      // Replays have no REST venue: the last trade is the price however old it is.
      const hit = this.priceCache.peek(symbol);
      if (!hit) throw new VenueError(`no price for ${symbol} yet: no trade seen and no REST venue configured`);
      this.log.debug({ symbol, price: hit.v.price, source: hit.v.source, ageMs: hit.ageMs }, 'price');
      return hit.v;
    }
    const p = await this.priceCache.get(symbol, async () => {
      const fresh = await prices.price(symbol);
      this.publish({ type: 'md.price', venue: this.venue, symbol, price: fresh.price, source: fresh.source, tsExchange: fresh.ts, tsLocal: fresh.ts });
      return fresh;
    });
    this.log.debug({ symbol, price: p.price, source: p.source }, 'price');
    return p;
  }

  /** Returns the sources of a BaseDataInput: the primary's four series, the reference 1s, the COB and the latest model outputs. */
  inputSources(): BdiSources {
    const p = this.state(this.primary);
    const r = this.state(this.reference);
    const store = this.opts.modelOutputs;
    const models = store ? { cnn: store.latest('cnn', this.primary), dqn: store.latest('dqn', this.primary) } : undefined;
    return {
      now: this.opts.clock.now(), primary: p.series, reference1s: r.series['1s'], cob: this.opts.cob?.latest(this.primary),
      models, primarySymbol: this.primary, referenceSymbol: this.reference,
    };
  }

  /** Returns the packed BaseDataInput with its validation (`out` may be a reused buffer). */
  assembleInput(out?: Float32Array): BaseDataInput {
    return this.assembler.assemble(this.inputSources(), out);
  }

  /** Returns the validation of the current input (completeness, quality, reasons) without packing it. */
  validateInput(): BdiValidation {
    return this.assembler.validate(this.inputSources());
  }

  private get byTrades(): boolean {
    return this.opts.closeBy === 'trades';
  }

  private get venue(): VenueId {
    return this.opts.venue ?? 'binance';
  }

  private state(symbol: string): SymbolState {
    const st = this.states.get(symbol);
    if (!st) throw new VenueError(`the data provider does not keep ${symbol} (it keeps ${this.symbols.join(', ')})`);
    return st;
  }

  // A closed bar enters its series, goes out on the bus (unless it came from the bus: a venue kline), and feeds the
  // roll-up into the next coarser timeframe.
  private closeBar(st: SymbolState, tf: Timeframe, c: Candle, publish = true): void {
    const series = st.series[tf];
    const last = series.last();
    const prior = last !== undefined && c.openTime <= last.openTime ? barAt(series, c.openTime) : undefined;
    if (last === undefined || c.openTime >= last.openTime) series.push(c);
    else mergeCandles(series, [c]);
    this.noteUnsaved(st, tf, [c]);
    const now = this.opts.clock.now();
    if (publish) this.publish({ type: 'md.candle', venue: this.venue, symbol: st.symbol, timeframe: tf, candle: c, tsExchange: c.openTime + timeframeMs(tf), tsLocal: now });
    if (publish && tf === '1s') {
      this.publish({ type: 'md.price', venue: this.venue, symbol: st.symbol, price: c.close, source: 'stream', tsExchange: c.openTime + 1_000, tsLocal: now });
    }
    const coarse = COARSER[tf];
    if (coarse === undefined) return;
    const rollup = st.rollups[coarse]!;
    const late = rollup.late;
    const done = rollup.add(c);
    // A venue kline refused by the roll-up (older than the newest one, or of a bar already out) that changes the bar
    // the series held: the coarser bar holding it lacks it, as with a late trade. The same kline sent again changes nothing.
    if (rollup.late !== late && !sameBar(prior, c)) this.markLate(st, c.openTime, coarse);
    if (done === undefined || st.streamed.has(coarse)) return;
    if (isWholeRollup(done, coarse, tf) && !this.lostTrade(st, coarse, done.openTime)) this.closeBar(st, coarse, plainCandle(done));
    else this.stats.partialRollups++;
  }

  // A trade refused as late (its 1s bar had closed: a stall then a burst, or a bar dropped at a break) is in no bar.
  // The 1s bar already went out and stays in the series (a bus message cannot be taken back; no venue has 1s klines
  // to replace it). The finest rolled-up bar holding the trade that has not gone out yet is marked, so it is left out
  // like a bar missing a part (the coarser ones then lack it and are left out too) and its slot is backfilled. Each
  // rolled-up bar below it went out without the trade: it is fetched again (`refetch`), or it would stay wrong (a 1h
  // bar goes out ~2 s after its hour: a stall across the hour delivers its last trades after that). A timeframe a
  // kline stream delivers holds the venue's bar, whole: nothing from it up needs marking. `from`: the finest
  // rolled-up timeframe the late data belongs to (a late venue kline's is the next coarser one).
  private markLate(st: SymbolState, tsExchange: number, from: Timeframe | undefined = COARSER['1s']): void {
    for (let tf = from; tf !== undefined; tf = COARSER[tf]) {
      if (st.streamed.has(tf)) return;
      const ms = timeframeMs(tf);
      const open = Math.floor(tsExchange / ms) * ms;
      // Not `current()`: a 1h (1d) bar closes with its last finer bar, so none may be forming after one went out.
      if (open >= st.rollups[tf]!.pendingFrom) {
        (st.lateIn[tf] ??= new Set()).add(open);
        return;
      }
      this.noteRefetch(st, tf, open);
      this.log.debug({ symbol: st.symbol, tf, openTime: open }, 'a late trade\'s bar already went out: fetching it again, marking the next coarser one');
    }
  }

  // Without a history source nothing would fetch the slot: none is kept. Slots older than the series window go.
  private noteRefetch(st: SymbolState, tf: Timeframe, open: number): void {
    if (!this.opts.history) return;
    const marks = (st.refetch[tf] ??= new Set());
    marks.add(open);
    const last = st.series[tf].last();
    if (last === undefined) return;
    const oldest = last.openTime - (st.series[tf].capacity - 1) * timeframeMs(tf);
    for (const m of marks) if (m < oldest) marks.delete(m);
  }

  // The slots of `tf` to fetch again now (closed `grace` ago). A slot the series does not hold is a hole (fetched as
  // one) or out of its window: it is dropped, as are those past the window.
  private refetchDue(st: SymbolState, tf: Timeframe, now: TsMs, grace: number): number[] {
    const marks = st.refetch[tf];
    if (marks === undefined || marks.size === 0) return [];
    const series = st.series[tf];
    const end = lastClosedOpen(tf, now, grace);
    const oldest = end - (series.capacity - 1) * timeframeMs(tf);
    const due: number[] = [];
    for (const open of [...marks].sort((a, b) => a - b)) {
      if (open > end) continue;
      if (open < oldest || barAt(series, open) === undefined) marks.delete(open);
      else due.push(open);
    }
    return due;
  }

  // True when the `tf` bar opening at `openTime` lacks a late trade. Marks up to it are spent: later bars of `tf` close
  // after it, and a mark older than it belongs to a bar that never formed (left out anyway).
  private lostTrade(st: SymbolState, tf: Timeframe, openTime: number): boolean {
    const marks = st.lateIn[tf];
    if (marks === undefined || marks.size === 0) return false;
    const lost = marks.has(openTime);
    for (const m of marks) if (m <= openTime) marks.delete(m);
    return lost;
  }

  private breakStream(st: SymbolState): void {
    // Bars that closed before the break are complete; the grace window's bars close now (by trades: every bar before
    // the forming one already has), the forming one is dropped.
    if (!this.byTrades) this.closeIdleBarsOf(st, this.opts.clock.now());
    st.builder.interrupt();
    st.skipFirst = this.byTrades;
    st.lastTradeMs = NaN;
    this.stats.streamBreaks++;
  }

  private closeIdleBarsOf(st: SymbolState, now: TsMs): void {
    for (const c of st.builder.closeUntil(now - (this.opts.closeGraceMs ?? 1_000) - this.aheadOf(st))) this.closeBar(st, '1s', c);
  }

  private publish(m: EngineMsg): void {
    if (m.type === 'md.candle') {
      this.own.add(m);
      this.stats.candlesPublished++;
    }
    this.opts.bus.publish(m);
  }

  // Timers start with the first market message, not at start(): a replay's SimulatedClock may jump from 0 to the
  // recording's time, and a periodic timer armed before the jump would fire once per period in between.
  private armTimers(): void {
    if (this.armed || !this.running) return;
    this.armed = true;
    if (!this.byTrades) this.scheduleTick();
    const every = this.opts.maintenanceMs ?? 60_000;
    if (every > 0) this.scheduleMaintenance(every);
    if (this.opts.candleCache) this.scheduleCacheSave(this.opts.cacheSaveMs ?? CACHE_SAVE_MS);
  }

  private scheduleCacheSave(every: number): void {
    this.cacheTimer = this.opts.clock.setTimeout(() => {
      if (!this.running) return;
      void this.saveCandles();
      this.scheduleCacheSave(every);
    }, every);
  }

  private noteUnsaved(st: SymbolState, tf: Timeframe, bars: readonly Candle[]): void {
    if (this.opts.candleCache && bars.length > 0) (st.unsaved[tf] ??= []).push(...bars);
  }

  // The unsaved bars of every series, with the window each series holds now (its newest bar and `capacity` slots
  // back), and the lists emptied: a save that fails puts them back (putBackUnsaved). The window reaches up to the
  // newest bar closed by now at least: only bars from the future (another time line) are removed, never newer bars
  // that another provider on the same cache wrote (a restarted one, while this one's stop still saves).
  private takeUnsaved(): SeriesWrite[] {
    const writes: SeriesWrite[] = [];
    const now = this.opts.clock.now();
    for (const st of this.states.values()) {
      for (const tf of TIMEFRAMES) {
        const bars = st.unsaved[tf];
        const last = st.series[tf].last();
        if (bars === undefined || bars.length === 0 || last === undefined) continue;
        st.unsaved[tf] = [];
        const keepFromMs = last.openTime - (st.series[tf].capacity - 1) * timeframeMs(tf);
        const keepToMs = Math.max(last.openTime, lastClosedOpen(tf, now, 0));
        writes.push({ symbol: st.symbol, timeframe: tf, bars, keepFromMs, keepToMs });
      }
    }
    return writes;
  }

  // A failed save's bars go back in front of the unsaved ones, as the series holds them now (a later save may have
  // written a newer version of a bar, which this one's must not overwrite), once each and only those still in the
  // series: a store that keeps failing holds at most a series' worth of them per series.
  private putBackUnsaved(writes: readonly SeriesWrite[]): void {
    for (const w of writes) {
      const st = this.state(w.symbol);
      const failed = new Set(w.bars.map((c) => c.openTime));
      const series = st.series[w.timeframe];
      const again = series.tail(series.length).filter((c) => failed.has(c.openTime) && c.closed);
      if (again.length > 0) st.unsaved[w.timeframe] = [...again, ...(st.unsaved[w.timeframe] ?? [])];
    }
  }

  private hasUnsaved(): boolean {
    for (const st of this.states.values()) if (TIMEFRAMES.some((tf) => (st.unsaved[tf]?.length ?? 0) > 0)) return true;
    return false;
  }

  // The candles cache's bars still usable now enter the empty series (before the bus is subscribed: no live bar is
  // in them yet). Nothing bridges the time the engine was down: the 1s builder starts without a price, so the first
  // live bar opens after a hole, and the 1m (1h, 1d) bars of that time are backfilled as holes are. Returns the bars loaded.
  private restoreFromCache(): number {
    const cache = this.opts.candleCache;
    if (!cache) return 0;
    const now = this.opts.clock.now();
    let loaded = 0;
    for (const st of this.states.values()) {
      const got: Partial<Record<Timeframe, number>> = {};
      for (const tf of TIMEFRAMES) {
        const series = st.series[tf];
        let bars: Candle[] = [];
        try {
          bars = cache.restore(st.symbol, tf, now, series.capacity).bars;
        } catch (err) {
          // An unreadable cache costs the warm-up it would have saved, not the start.
          this.log.warn({ err: (err as Error).message, code: 'CANDLES_CACHE_UNREADABLE', symbol: st.symbol, tf }, 'candles cache not read: the series starts empty');
        }
        series.pushAll(bars);
        got[tf] = bars.length;
        loaded += bars.length;
      }
      this.log.info({ symbol: st.symbol, bars: got }, 'series restored from the candles cache');
    }
    this.stats.cachedBars += loaded;
    return loaded;
  }

  private scheduleTick(): void {
    this.tickTimer = this.opts.clock.setTimeout(() => {
      if (!this.running) return;
      this.closeIdleBars();
      this.scheduleTick();
    }, 1_000);
  }

  private scheduleMaintenance(every: number): void {
    this.maintTimer = this.opts.clock.setTimeout(() => {
      if (!this.running) return;
      void this.maintain();
      this.scheduleMaintenance(every);
    }, every);
  }

  // History: the newest bars of every kline timeframe, then the roll-up of the forming coarser period rebuilt from
  // the series, so the first rolled-up bar can be whole. The series already holds the bars that closed while the
  // load was in flight (the bus is subscribed first, so no trade or kline is missed), and those bars are in the
  // roll-up too: it is rebuilt rather than added to, or they would count twice. Bars restored from the candles cache
  // (`restored` of them) are in the series before the backfill, which then fetches only what they lack.
  private async loadHistory(restored: number): Promise<void> {
    if (!this.opts.history && restored === 0) return;
    if (this.opts.history) await this.backfill(restored > 0);
    if (!this.running) return;
    for (const st of this.states.values()) {
      for (const tf of KLINE_TIMEFRAMES) {
        const coarse = COARSER[tf];
        if (coarse === undefined) continue;
        const ms = timeframeMs(coarse);
        const periodStart = Math.floor(this.opts.clock.now() / ms) * ms;
        const rollup = newRollup(coarse);
        const s = st.series[tf];
        for (let i = 0; i < s.length; i++) {
          const c = s.get(i)!;
          if (c.openTime >= periodStart) rollup.add(c);
        }
        st.rollups[coarse] = rollup;
      }
    }
  }

  // `lead`: also the bars before each series' oldest one (leadGap), asked for once at start after a cache restore.
  private async backfill(lead = false): Promise<MaintenanceReport> {
    const counts: Counts = { gaps: 0, requests: 0, failures: 0, filled: 0 };
    const history = this.opts.history;
    if (!history) return counts;
    const fetch: Fetch = { halted: false, sealed: false };
    this.fetches.add(fetch);
    try {
      for (const st of this.states.values()) {
        for (const tf of KLINE_TIMEFRAMES) {
          if (fetch.halted) return counts;
          await this.fillHoles(history, st, tf, lead, fetch, counts);
        }
      }
      return counts;
    } finally {
      this.fetches.delete(fetch);
    }
  }

  // A halted fetch sends no request, and an answer coming once it is sealed enters no series: no save would write it.
  private async fillHoles(history: KlineSource, st: SymbolState, tf: Timeframe, lead: boolean, fetch: Fetch, counts: Counts): Promise<void> {
    const grace = this.opts.backfillGraceMs ?? BACKFILL_GRACE_MS;
    const maxBars = this.opts.requestBars ?? 1_000;
    const now = this.opts.clock.now();
    const found: Hole[] = gapsToFill(st.series[tf], now, grace);
    const before = lead ? leadGap(st.series[tf], now, grace) : undefined;
    if (before) found.unshift(before);
    counts.gaps += found.length;
    for (const gap of found.flatMap((g) => splitGap(g, tf, maxBars))) {
      if (fetch.halted) return;
      counts.requests++;
      this.stats.backfillRequests++;
      const endTime = gap.from + (gap.count - 1) * timeframeMs(tf);
      try {
        const r = await history.klines(st.symbol, tf, { startTime: gap.from, endTime, limit: gap.count, nowMs: this.opts.clock.now() });
        if (fetch.sealed) return;
        const bars = closedInGap(r.candles, tf, gap, this.opts.clock.now());
        const n = mergeCandles(st.series[tf], bars);
        this.noteUnsaved(st, tf, bars);
        counts.filled += n;
        this.stats.backfilledBars += n;
        this.log.debug({ symbol: st.symbol, tf, from: gap.from, wanted: gap.count, got: n, source: r.source }, 'backfill');
      } catch (err) {
        counts.failures++;
        this.stats.backfillFailures++;
        this.log.warn({ symbol: st.symbol, tf, from: gap.from, count: gap.count, err: (err as Error).message }, 'backfill failed');
      }
    }
    for (const open of this.refetchDue(st, tf, now, grace)) {
      if (fetch.halted) return;
      counts.requests++;
      this.stats.backfillRequests++;
      try {
        const r = await history.klines(st.symbol, tf, { startTime: open, endTime: open, limit: 1, nowMs: this.opts.clock.now() });
        if (fetch.sealed) return;
        const bars = closedInGap(r.candles, tf, { from: open, count: 1 }, this.opts.clock.now());
        // Fetched once: a venue without the bar leaves the one that went out (nothing better to hold).
        st.refetch[tf]?.delete(open);
        mergeCandles(st.series[tf], bars);
        this.noteUnsaved(st, tf, bars);
        this.stats.refetchedBars += bars.length;
        this.log.debug({ symbol: st.symbol, tf, openTime: open, got: bars.length, source: r.source }, 'bar that went out without a late trade fetched again');
      } catch (err) {
        counts.failures++;
        this.stats.backfillFailures++;
        this.log.warn({ symbol: st.symbol, tf, openTime: open, err: (err as Error).message }, 'fetching again a bar that went out without a late trade failed');
      }
    }
  }
}

/** Returns the bar of `series` opening at `open`, searched from the newest. */
function barAt(series: CandleSeries, open: number): Candle | undefined {
  for (let i = series.length - 1; i >= 0; i--) {
    const c = series.get(i)!;
    if (c.openTime === open) return c;
    if (c.openTime < open) return undefined;
  }
  return undefined;
}

function sameBar(a: Candle | undefined, b: Candle): boolean {
  return a !== undefined && a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close && a.volume === b.volume && a.trades === b.trades;
}

// 1h and 1d close with the bar that ends them: at H:00:10 training's maintenance has backfilled the hour just closed,
// so a running engine must hold it too whatever its maintenance phase. 1m still closes on the next 1s bar, so a trade
// up to a second late still marks its minute (markLate) rather than the hour.
function newRollup(tf: Timeframe): CandleRollup {
  const closeAfter = tf === '1h' ? '1m' : tf === '1d' ? '1h' : undefined;
  return new CandleRollup(tf, { volumeDecimals: VOLUME_DECIMALS, closeAfter });
}
