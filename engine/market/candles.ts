import type { Candle, Trade } from '../messages/market.ts';
import type { Decimal } from '../types/decimal.ts';
import { stepsToFloat, type Lots, type Ticks } from '../types/price.ts';
import { timeframeMs, type Timeframe, type TsMs } from '../types/time.ts';
import { RingBuffer } from './ring-buffer.ts';

/** Bars kept per series (DESIGN: 1500 per series). */
export const CANDLE_CAPACITY = 1500;

/** A run of missing bars: `count` bars starting at open time `from`. */
export interface Hole {
  readonly from: TsMs;
  readonly count: number;
}

/** Returns a timeframe's length in ms; numbers pass through (any positive whole ms). */
export function tfMs(tf: Timeframe | number): number {
  const ms = typeof tf === 'number' ? tf : timeframeMs(tf);
  if (!Number.isInteger(ms) || ms <= 0) throw new RangeError(`timeframe ${tf} must be a positive whole number of ms`);
  return ms;
}

/** Returns the runs of missing bars between the first and last candle (sorted input, one timeframe). */
export function findHoles(candles: ArrayLike<Candle>, tf: Timeframe | number): Hole[] {
  const ms = tfMs(tf);
  const holes: Hole[] = [];
  for (let i = 1; i < candles.length; i++) {
    const gap = (candles[i]!.openTime - candles[i - 1]!.openTime) / ms - 1;
    if (gap >= 1) holes.push({ from: candles[i - 1]!.openTime + ms, count: Math.round(gap) });
  }
  return holes;
}

/** Returns the total number of missing bars in `holes`. */
export const missingBars = (holes: readonly Hole[]): number => holes.reduce((s, h) => s + h.count, 0);

/**
 * The last `capacity` candles of one symbol and timeframe, oldest first. A candle with the newest open time
 * replaces the newest bar (a forming bar updated, then closed); an older one is refused and counted.
 */
export class CandleSeries {
  private readonly ring: RingBuffer<Candle>;
  /** Candles refused because their open time was older than the newest bar. */
  outOfOrder = 0;
  private holesMemo: { readonly version: number; readonly n: number; readonly holes: readonly Hole[] } | undefined;

  /** Creates an empty series of `timeframe` bars keeping at most `capacity` of them. */
  constructor(readonly timeframe: Timeframe, capacity = CANDLE_CAPACITY) {
    this.ring = new RingBuffer<Candle>(capacity);
  }

  /** Returns how many bars are kept. */
  get length(): number {
    return this.ring.length;
  }

  /** Returns the series capacity. */
  get capacity(): number {
    return this.ring.capacity;
  }

  /** Counts mutations (a bar appended or replaced, a clear): an unchanged version means unchanged bars. */
  get version(): number {
    return this.ring.version;
  }

  /** The ring's backing array, read-only: bar i is at `slots[(offset + i) % capacity]` (RingBuffer.slots). */
  get slots(): readonly (Candle | undefined)[] {
    return this.ring.slots;
  }

  /** Index in `slots` of the oldest bar. */
  get offset(): number {
    return this.ring.offset;
  }

  /** Appends or updates a bar; returns false (and counts it) when its open time is older than the newest bar. */
  push(c: Candle): boolean {
    const last = this.ring.last();
    if (last !== undefined) {
      if (c.openTime === last.openTime) {
        this.ring.replaceLast(c);
        return true;
      }
      if (c.openTime < last.openTime) {
        this.outOfOrder++;
        return false;
      }
    }
    this.ring.push(c);
    return true;
  }

  /** Appends every candle of `cs` in order. */
  pushAll(cs: Iterable<Candle>): void {
    for (const c of cs) this.push(c);
  }

  /** Returns bar `i` (0 = oldest kept), or undefined when out of range. */
  get(i: number): Candle | undefined {
    return this.ring.get(i);
  }

  /** Returns the newest bar, or undefined when empty. */
  last(): Candle | undefined {
    return this.ring.last();
  }

  /** Returns the newest `n` bars (or fewer), oldest first. */
  tail(n: number): Candle[] {
    return this.ring.tail(n);
  }

  /** Returns the runs of missing bars among the newest `n` bars (all bars by default). */
  holes(n = this.ring.length): readonly Hole[] {
    // The maintenance pass asks every minute for every series, and a 1h or 1d series changes once an hour (a day):
    // an unchanged version means the same bars, so the same holes, without copying and scanning 1,500 bars again.
    const memo = this.holesMemo;
    if (memo !== undefined && memo.version === this.ring.version && memo.n === n) return memo.holes;
    const holes = findHoles(this.ring.tail(n), this.timeframe);
    this.holesMemo = { version: this.ring.version, n, holes };
    return holes;
  }

  /** Removes every bar. */
  clear(): void {
    this.ring.clear();
  }
}

const NONE: readonly Candle[] = Object.freeze([]);

/** Steps of the instrument, needed to turn integer ticks and lots into float candle fields exactly once. */
export interface CandleBuilderOptions {
  readonly timeframe: Timeframe | number;
  /** Price tick of the trades' `Ticks`. */
  readonly tickSize: Decimal;
  /** Lot size of the trades' `Lots`. */
  readonly lotSize: Decimal;
  /** Emit flat zero-volume bars for periods without trades, as Binance klines do (default true). */
  readonly fillGaps?: boolean;
}

/**
 * Builds candles of one timeframe from trades. A bar opens at floor(tradeTime / tf) · tf; it closes (and is
 * returned) when a trade of a later bar arrives or `closeUntil(ts)` passes its end. Prices and volume are
 * accumulated as integer ticks and lots, so the float fields equal the venue's decimal strings exactly.
 */
export class CandleBuilder {
  private readonly ms: number;
  private readonly fillGaps: boolean;
  private open = 0;
  private high = 0;
  private low = 0;
  private close = 0;
  private lots = 0;
  private trades = 0;
  /** Open time of the forming bar; NaN before the first trade. */
  private openTime = NaN;
  /** True while the forming bar has at least one trade. */
  private forming = false;
  /** True once any trade was seen: gap bars need a previous close. */
  private hasPrice = false;
  /** Trades refused because they fell in a bar already closed. */
  late = 0;

  /** Creates a builder; `opts` carries the timeframe and the steps that turn ticks and lots into floats. */
  constructor(private readonly opts: CandleBuilderOptions) {
    this.ms = tfMs(opts.timeframe);
    this.fillGaps = opts.fillGaps ?? true;
  }

  /** Adds an `md.trade` (bar time from its exchange timestamp); returns the bars it closed, oldest first. */
  addTrade(t: Trade): readonly Candle[] {
    return this.add(t.tsExchange, t.price, t.lots);
  }

  /** Adds one trade at `ts`; returns the bars it closed, oldest first (usually none). */
  add(ts: TsMs, price: Ticks, lots: Lots): readonly Candle[] {
    const barOpen = Math.floor(ts / this.ms) * this.ms;
    let out: readonly Candle[] = NONE;
    if (Number.isNaN(this.openTime)) {
      this.openTime = barOpen;
    } else if (barOpen < this.openTime) {
      this.late++;
      return NONE;
    } else if (barOpen > this.openTime) {
      out = this.advanceTo(barOpen);
    }
    if (!this.forming) {
      this.open = this.high = this.low = price;
      this.lots = 0;
      this.trades = 0;
      this.forming = true;
      this.hasPrice = true;
    } else {
      if (price > this.high) this.high = price;
      if (price < this.low) this.low = price;
    }
    this.close = price;
    this.lots += lots;
    this.trades++;
    return out;
  }

  /** Closes every bar that ends at or before `ts` (clock time without trades); returns them, oldest first. */
  closeUntil(ts: TsMs): readonly Candle[] {
    if (Number.isNaN(this.openTime)) return NONE;
    const barOpen = Math.floor(ts / this.ms) * this.ms;
    return barOpen > this.openTime ? this.advanceTo(barOpen) : NONE;
  }

  /** Returns the forming bar (closed false), or undefined when it has no trade yet. */
  current(): Candle | undefined {
    return this.forming ? this.toCandle(false) : undefined;
  }

  /**
   * Marks a break in the trade stream (a reconnect, a replay lap, the end of the data): trades from here until the
   * next one received may be missing. Drops the forming bar, refuses later trades of its period as late, and emits
   * no flat bars until a trade arrives, so the bars of the break stay holes instead of closing as complete.
   * Returns the dropped bar, if it had trades.
   */
  interrupt(): Candle | undefined {
    if (Number.isNaN(this.openTime)) return undefined;
    const dropped = this.forming ? this.toCandle(false) : undefined;
    this.openTime += this.ms;
    this.forming = false;
    this.hasPrice = false;
    return dropped;
  }

  /** Closes the forming bar and, with gap filling, the empty bars up to (not including) `barOpen`. */
  private advanceTo(barOpen: number): Candle[] {
    const out: Candle[] = [];
    if (this.forming) out.push(this.toCandle(true));
    else if (this.fillGaps && this.hasPrice) out.push(this.flat(this.openTime));
    if (this.fillGaps && this.hasPrice) {
      for (let t = this.openTime + this.ms; t < barOpen; t += this.ms) out.push(this.flat(t));
    }
    this.openTime = barOpen;
    this.forming = false;
    return out;
  }

  private flat(openTime: number): Candle {
    const px = stepsToFloat(this.close, this.opts.tickSize);
    return { openTime, open: px, high: px, low: px, close: px, volume: 0, trades: 0, closed: true };
  }

  private toCandle(closed: boolean): Candle {
    const { tickSize, lotSize } = this.opts;
    return {
      openTime: this.openTime,
      open: stepsToFloat(this.open, tickSize),
      high: stepsToFloat(this.high, tickSize),
      low: stepsToFloat(this.low, tickSize),
      close: stepsToFloat(this.close, tickSize),
      volume: stepsToFloat(this.lots, lotSize),
      trades: this.trades,
      closed,
    };
  }
}

/** A coarser bar made of finer ones; `parts` is how many finer bars it holds (complete when tf / child tf). */
export interface RolledCandle extends Candle {
  readonly parts: number;
}

/** Options of a roll-up. */
export interface RollupOptions {
  /**
   * Decimals of the finer bars' volumes (Binance base volumes have at most 8). Volumes are summed as integers
   * of 10^-decimals so the sum equals the venue's own coarser volume exactly; default 8.
   */
  readonly volumeDecimals?: number;
  /**
   * Timeframe of the finer bars. When given, a whole bar (every finer bar of its period added) is returned with the
   * finer bar that ends its period instead of with the next period's first one, a finer period later.
   */
  readonly closeAfter?: Timeframe | number;
}

/** A coarser bar forming in a CandleRollup; `newest` is the open time of its newest finer bar. */
interface Forming {
  openTime: number; open: number; high: number; low: number; close: number; vol: number; exact: boolean; volFloat: number;
  trades: number; hasTrades: boolean; parts: number; newest: number;
}

/**
 * Rolls closed finer candles (1s → 1m, 1m → 1h, 1h → 1d, …) into bars of `timeframe`, incrementally: `add`
 * returns the coarser bar once a finer bar of a later period arrives (or, with `closeAfter`, once the finer bar
 * ending a whole period does); `flush` returns the last one. Finer bars of a period already returned are refused, and so
 * is one older than the newest finer bar added; that newest one added again replaces itself.
 */
export class CandleRollup {
  private readonly ms: number;
  private readonly scale: number;
  private cur: Forming | undefined;
  /** The forming bar as it was before its newest finer bar (undefined when that was its first): a correction restarts from it. */
  private before: Forming | undefined;
  /** Length of the finer bars with `closeAfter`, else 0. */
  private readonly fineMs: number;
  /** End of the last bar returned: finer bars before it are late. */
  private doneUntil = -Infinity;
  /** Finer bars refused because they were older than the forming coarser bar, or of a bar already returned. */
  late = 0;

  /** Creates a roll-up into `timeframe` bars. */
  constructor(timeframe: Timeframe | number, opts: RollupOptions = {}) {
    this.ms = tfMs(timeframe);
    this.scale = 10 ** (opts.volumeDecimals ?? 8);
    this.fineMs = opts.closeAfter === undefined ? 0 : tfMs(opts.closeAfter);
    if (this.fineMs > 0 && (this.ms % this.fineMs !== 0 || this.fineMs === this.ms)) {
      throw new RangeError(`closeAfter ${opts.closeAfter} must divide timeframe ${timeframe} into more than one bar`);
    }
  }

  /**
   * Open time of the oldest period still taking finer bars: the forming bar's, else the end of the last bar returned
   * (-Infinity before any). A period before it has gone out (or never formed).
   */
  get pendingFrom(): number {
    return this.cur?.openTime ?? this.doneUntil;
  }

  /** Adds a closed finer bar; returns the coarser bar it closed, if any. */
  add(c: Candle): RolledCandle | undefined {
    const barOpen = Math.floor(c.openTime / this.ms) * this.ms;
    const newest = this.cur !== undefined && barOpen === this.cur.openTime ? this.cur.newest : -Infinity;
    if (barOpen < this.pendingFrom || c.openTime < newest) {
      this.late++;
      return undefined;
    }
    // `parts` counts distinct finer bars: the newest one sent again (a venue's corrected kline) takes its own place
    // rather than adding a part, or an hour lacking a minute would reach 60 with one minute twice.
    if (c.openTime === newest) this.cur = this.before === undefined ? undefined : { ...this.before };
    const done = this.cur !== undefined && barOpen !== this.cur.openTime ? this.flush() : undefined;
    if (c.openTime !== newest) this.before = this.cur === undefined ? undefined : { ...this.cur };
    const units = Math.round(c.volume * this.scale);
    const cur = this.cur;
    if (cur === undefined) {
      this.cur = {
        openTime: barOpen, open: c.open, high: c.high, low: c.low, close: c.close, vol: units, exact: Number.isSafeInteger(units),
        volFloat: c.volume, trades: c.trades ?? 0, hasTrades: c.trades !== undefined, parts: 1, newest: c.openTime,
      };
    } else {
      if (c.high > cur.high) cur.high = c.high;
      if (c.low < cur.low) cur.low = c.low;
      cur.close = c.close;
      cur.vol += units;
      // Past 2^53 integer units the exact sum is lost: fall back to the float sum for this bar.
      if (!Number.isSafeInteger(cur.vol)) cur.exact = false;
      cur.volFloat += c.volume;
      cur.trades += c.trades ?? 0;
      cur.hasTrades ||= c.trades !== undefined;
      cur.parts++;
      cur.newest = c.openTime;
    }
    // Only a whole bar closes early; one missing a finer bar still waits for the next period, as before.
    if (this.fineMs > 0 && c.openTime + this.fineMs === barOpen + this.ms && this.cur!.parts === this.ms / this.fineMs) return this.flush();
    return done;
  }

  /** Returns the forming coarser bar as closed and clears it (end of data), or undefined when none. */
  flush(): RolledCandle | undefined {
    const cur = this.cur;
    if (cur === undefined) return undefined;
    this.cur = undefined;
    this.doneUntil = cur.openTime + this.ms;
    return this.make(cur, true);
  }

  /** Returns the forming coarser bar (closed false), or undefined. */
  current(): RolledCandle | undefined {
    return this.cur === undefined ? undefined : this.make(this.cur, false);
  }

  private make(cur: Forming, closed: boolean): RolledCandle {
    const base = {
      openTime: cur.openTime, open: cur.open, high: cur.high, low: cur.low, close: cur.close,
      volume: cur.exact ? cur.vol / this.scale : cur.volFloat, closed, parts: cur.parts,
    };
    return cur.hasTrades ? { ...base, trades: cur.trades } : base;
  }
}

/** Returns `candles` (sorted, closed) rolled up into `timeframe` bars, each with its `parts` count. */
export function rollUp(candles: Iterable<Candle>, timeframe: Timeframe | number, opts: RollupOptions = {}): RolledCandle[] {
  const r = new CandleRollup(timeframe, opts);
  const out: RolledCandle[] = [];
  for (const c of candles) {
    const done = r.add(c);
    if (done) out.push(done);
  }
  const last = r.flush();
  if (last) out.push(last);
  return out;
}
