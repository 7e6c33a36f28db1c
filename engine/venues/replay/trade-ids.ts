// Holes in a recording. A recorder stop or reconnect leaves no marker, but two things show one:
// - Binance numbers each symbol's trades (`t` of @trade, `a` of @aggTrade) one by one: an id that does not follow the
//   last one taken means trades were lost (or repeat, or come out of order) there. Seen at the first trade after the
//   hole, so the clock has already crossed the hole when it is found.
// - A symbol's lines stop (`RecordingLookahead`): the replay reads ahead, so it sees the silence before the clock
//   enters it. Without that, the first line after a stop (usually a bookTicker or depth frame, not a trade) moved the
//   clock across the hole, the DataProvider's 1 s close timer made a flat zero-volume 1s bar of every second of it,
//   and every minute inside the hole rolled up "whole".
// The replay feed and the backtest both watch for the two and publish md.feedReset scoped to trades, so the candles
// over a hole are cut (the DataProvider leaves its minutes partial); the backtest also breaks the books at a silence
// across which the symbol's depth lost updates (`depthChains`).
import type { Logger } from '../../log.ts';
import type { EngineMsg } from '../../messages/index.ts';
import type { Bus } from '../../runtime/bus.ts';
import type { VenueId } from '../../types/instrument.ts';
import type { TsMs } from '../../types/time.ts';
import type { BinanceFramePublisher } from '../binance/binance-feed.ts';
import { classifyFrame } from '../binance/frames.ts';

/**
 * Returns the trade id of a recorded trade (`t`) or aggTrade (`a`) frame, both consecutive per symbol, or undefined
 * when the text is no trade frame or has no such id.
 */
export function recordedTradeId(text: string): number | undefined {
  if (classifyFrame(text) !== 'trade') return undefined;
  const key = text.includes('"e":"aggTrade"') ? '"a":' : '"t":';
  let i = text.indexOf(key);
  if (i < 0) return undefined;
  i += key.length;
  while (text.charCodeAt(i) === 32) i++;
  const start = i;
  let id = 0;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) id = id * 10 + c - 48;
  return i > start && Number.isSafeInteger(id) ? id : undefined;
}

/** The last trade id taken per (venue) symbol, and the holes found. */
export class TradeIdWatch {
  /** Trades whose id did not follow their symbol's previous one. */
  gaps = 0;
  private readonly last = new Map<string, number>();

  /** Returns why trade `id` of `symbol` breaks the stream (counted), or undefined when it follows (or is the first). */
  check(symbol: string, id: number): string | undefined {
    const last = this.last.get(symbol);
    if (last === undefined || id === last + 1) return undefined;
    this.gaps++;
    return id > last ? `trade id jumps from ${last} to ${id} (${id - last - 1} trades missing)` : `trade id goes back from ${last} to ${id}`;
  }

  /** Trade `id` was published: the next one of `symbol` must follow it. (A trade that did not decode is not taken.) */
  took(symbol: string, id: number): void {
    this.last.set(symbol, id);
  }

  /** Forgets every symbol's last id (a new replay lap starts its own stream). */
  clear(): void {
    this.last.clear();
  }
}

/**
 * Longest time (ms) without a line of a symbol whose recording holds frames other than trades (depth, bookTicker,
 * kline) that is still taken for a quiet market; a longer silence is a hole. Measured on the bundled recordings
 * (2024-08-08/09, the recorder's default depth@100ms + trade + bookTicker, BTC/USDT and ETH/USDT): a symbol never
 * went more than 300 ms without a line; the depth stream alone at most 300 ms, the bookTicker stream alone 874 ms
 * (the trade stream alone 3.8 s, see below). Binance pushes kline streams every 1-2 s. 3 s is over 3 times the
 * longest bookTicker silence and 1.5 times a kline push; a recorder stop shorter than it is still found by the
 * trade ids, but only once the clock has crossed it (its flat seconds made first).
 */
export const SILENCE_MS = 3_000;

/**
 * The same for a symbol whose recording holds trades only. A quiet market goes seconds without a trade: the bundled
 * recordings up to 2.0 s (BTC/USDT) and 3.8 s (ETH/USDT), at midnight UTC in two of the busiest markets. In such a
 * recording a silence whose trade ids still chain lost nothing (its flat bars are right); a stop that lost trades is
 * also found by the ids. A silence taken for a hole that was none costs the minutes around it (left partial, then
 * backfilled); 10 s is 2.6 times the longest quiet seen.
 */
export const TRADES_ONLY_SILENCE_MS = 10_000;

/** A symbol's recording falls silent after the line just taken (see `RecordingLookahead`). */
export interface Silence {
  /** Venue symbol (`BTCUSDT`). */
  readonly symbol: string;
  /** Receive time (ms) of its last line before the silence. */
  readonly fromMs: number;
  /** Receive time of its next line; undefined when the symbol has no later line within the look-ahead. */
  readonly nextMs: number | undefined;
  /** The bound the silence exceeded (`SILENCE_MS` or `TRADES_ONLY_SILENCE_MS`). */
  readonly boundMs: number;
}

/** Returns the md.feedReset reason of a silence: what was found, in words. */
export function silenceReason(s: Silence): string {
  const next = s.nextMs === undefined ? `none within ${s.boundMs} ms` : `the next ${Math.round(s.nextMs - s.fromMs)} ms later`;
  return `no line of ${s.symbol} after ${new Date(s.fromMs).toISOString()} (${next}; a quiet stream stays under ${s.boundMs} ms): a hole in the recording`;
}

/**
 * A recording's lines, read ahead of the replay: `push` them in merge order while `needsMore`, then `take` the oldest
 * one; `silence` then says whether its symbol's next line is more than the symbol's bound later (`SILENCE_MS`, or
 * `TRADES_ONLY_SILENCE_MS` while the symbol has shown nothing but trades), so the replay can cut the symbol's candles
 * at that line, before the clock moves into the hole. The look-ahead reaches one line past the bound.
 * - The end of the recording within the bound is no silence (the feed's end breaks every stream anyway); a symbol
 *   whose files end while other symbols go on is silent from its last line.
 * - A next line far ahead whose own next line is back within the bound is a bad timestamp, not a hole: one line
 *   stamped a day late must not cut a recording that lost nothing.
 */
export class RecordingLookahead<T> {
  /** The line taken last, its receive time and venue symbol. */
  item: T | undefined;
  ts = NaN;
  symbol = '';
  /** The taken line's trade id as given to `push` (read once per line: parsing it is a cost on the hot path). */
  tradeId: number | undefined;
  /** Set by `take` when the taken line's symbol falls silent after it; undefined otherwise. */
  silence: Silence | undefined;
  // A ring of the lines read ahead, by absolute index (line k at k & mask): the line, its receive time, its trade id
  // (NaN: none), its symbol, and the absolute index of the same symbol's next line (-1 while unknown).
  private mask = 1023;
  private items: (T | undefined)[] = new Array<T | undefined>(1024);
  private times = new Float64Array(1024);
  private ids = new Float64Array(1024);
  private lanes: (LookaheadLane | undefined)[] = new Array<LookaheadLane | undefined>(1024);
  private nexts = new Float64Array(1024);
  /** Absolute index of the next line to take, and of the next line to push. */
  private head = 0;
  private tail = 0;
  private ended = false;
  private readonly bySymbol = new Map<string, LookaheadLane>();

  /** Returns the silence bound of `symbol` as its lines so far show it. */
  boundOf(symbol: string): number {
    return this.bySymbol.get(symbol)?.bound ?? TRADES_ONLY_SILENCE_MS;
  }

  /** True while the next `take` needs more lines first: `push` the next one, or `end` when there is none. */
  get needsMore(): boolean {
    if (this.ended) return false;
    if (this.tail - this.head < 3) return true;
    // Read until one line past the first line beyond the bound (the stray-timestamp check needs it).
    const h = this.head & this.mask;
    return !(this.times[(this.tail - 2) & this.mask]! > this.times[h]! + this.lanes[h]!.bound);
  }

  /**
   * Adds the next line of the recording (merge order): its receive time, venue symbol and trade id (`recordedTradeId`;
   * undefined: no trade, which makes the symbol's bound `SILENCE_MS`).
   */
  push(item: T, ts: number, symbol: string, tradeId: number | undefined): void {
    if (this.tail - this.head > this.mask) this.grow();
    const at = this.tail++;
    let lane = this.bySymbol.get(symbol);
    if (lane === undefined) this.bySymbol.set(symbol, (lane = { symbol, last: -1, bound: TRADES_ONLY_SILENCE_MS }));
    else if (lane.last >= this.head) this.nexts[lane.last & this.mask] = at;
    lane.last = at;
    if (tradeId === undefined) lane.bound = SILENCE_MS;
    const k = at & this.mask;
    this.items[k] = item;
    this.times[k] = ts;
    this.ids[k] = tradeId ?? NaN;
    this.lanes[k] = lane;
    this.nexts[k] = -1;
  }

  /** No more lines. */
  end(): void {
    this.ended = true;
  }

  /** Returns the `k`-th line pushed after the one taken last (0: the next one to take); undefined past the last pushed. */
  peek(k: number): T | undefined {
    const at = this.head + k;
    return k >= 0 && at < this.tail ? this.items[at & this.mask] : undefined;
  }

  /** Takes the oldest line (`item`, `ts`, `symbol`, `tradeId`, `silence`); false when none is left. Call once `needsMore` is false. */
  take(): boolean {
    if (this.head >= this.tail) {
      this.item = undefined;
      this.tradeId = undefined;
      this.silence = undefined;
      return false;
    }
    const mask = this.mask;
    const times = this.times;
    const i = this.head++ & mask;
    const ts = times[i]!;
    const lane = this.lanes[i]!;
    this.item = this.items[i];
    this.items[i] = undefined; // the replay holds it now
    this.ts = ts;
    const id = this.ids[i]!;
    this.tradeId = Number.isNaN(id) ? undefined : id;
    this.symbol = lane.symbol;
    const bound = lane.bound;
    const n = this.nexts[i]!;
    this.silence = undefined;
    if (n >= 0) {
      const nextMs = times[n & mask]!;
      const after = this.nexts[n & mask]!;
      if (nextMs - ts > bound && !(after >= 0 && times[after & mask]! < nextMs - bound)) this.silence = { symbol: lane.symbol, fromMs: ts, nextMs, boundMs: bound };
    } else if (!this.ended || times[(this.tail - 1) & mask]! > ts + bound) {
      this.silence = { symbol: lane.symbol, fromMs: ts, nextMs: undefined, boundMs: bound };
    }
    return true;
  }

  // Doubles the ring, keeping every line at its absolute index.
  private grow(): void {
    const size = (this.mask + 1) * 2;
    const mask = size - 1;
    const items = new Array<T | undefined>(size);
    const times = new Float64Array(size);
    const ids = new Float64Array(size);
    const lanes = new Array<LookaheadLane | undefined>(size);
    const nexts = new Float64Array(size);
    for (let a = this.head; a < this.tail; a++) {
      const from = a & this.mask;
      const to = a & mask;
      items[to] = this.items[from];
      times[to] = this.times[from]!;
      ids[to] = this.ids[from]!;
      lanes[to] = this.lanes[from];
      nexts[to] = this.nexts[from]!;
    }
    this.mask = mask;
    this.items = items;
    this.times = times;
    this.ids = ids;
    this.lanes = lanes;
    this.nexts = nexts;
  }
}

/** A symbol in a RecordingLookahead: the absolute index of its last line pushed and its silence bound. */
interface LookaheadLane {
  readonly symbol: string;
  last: number;
  bound: number;
}

/** Options of `RecordingHoles`. */
export interface RecordingHolesOptions {
  readonly bus: Bus<EngineMsg>;
  readonly venue: VenueId;
  /** The publisher the lines go through: the symbols whose trades it publishes are watched (others' holes cut nothing). */
  readonly publisher: Pick<BinanceFramePublisher, 'lanes'>;
  readonly logger: Logger;
  /** Called once per md.feedReset published, with what found the hole. */
  readonly onCut?: (found: 'tradeId' | 'silence') => void;
}

/** The update ids of a depth diff: first (`U`), final (`u`) and, on USD-M futures, the previous diff's final (`pu`; -1 when absent). */
export interface DepthIds {
  readonly first: number;
  readonly final: number;
  readonly prevFinal: number;
}

/**
 * Returns whether depth diff `next` continues the update-id chain whose last diff ended at `lastFinal`, by the rules
 * of engine/venues/binance/book-sync.ts: `pu == lastFinal` when the diff carries `pu` (USD-M), else (spot)
 * `U <= lastFinal + 1 <= u`. A silence across which the chain holds lost no depth (a delivery stall, not a recorder stop).
 */
export function depthChains(lastFinal: number, next: DepthIds): boolean {
  if (next.prevFinal >= 0) return next.prevFinal === lastFinal;
  return next.first <= lastFinal + 1 && lastFinal + 1 <= next.final;
}

/** A symbol whose trades are published, as `RecordingHoles.lane` finds it: its venue and engine symbols. */
export interface HoleLane {
  /** Venue symbol (`BTCUSDT`): its trade ids are watched under it. */
  readonly venueSymbol: string;
  /** Engine symbol (`BTC/USDT`): its candles are cut. */
  readonly symbol: string;
}

/**
 * The holes of one replay, as the replay feed and the backtest both cut them: per line of a symbol whose trades are
 * published (its `lane`, looked up once per line), `before` (ahead of the clock moving to the line) cuts a break in the
 * trade ids at the previous line's time, and `after` (once the line is published) takes its id and cuts a silence
 * after it at its own time. Each cut is an md.feedReset scoped to trades: a book synced from a snapshot recorded after
 * the hole must not be dropped (its depth update ids already say whether the depth broke too, and it would wait for a
 * snapshot the recording may not hold). A silence whose caller says the depth broke across it (`breakBooks`) breaks
 * the books too; see `after`.
 */
export class RecordingHoles {
  /** Silences cut. */
  silences = 0;
  private readonly ids = new TradeIdWatch();
  /** Venue symbol -> the lane of the symbols whose trades are published. */
  private readonly lanes: ReadonlyMap<string, HoleLane>;

  constructor(private readonly opts: RecordingHolesOptions) {
    this.lanes = new Map(opts.publisher.lanes.filter((l) => l.kinds === undefined || l.kinds.has('trade'))
      .map((l) => [l.inst.venueSymbol, { venueSymbol: l.inst.venueSymbol, symbol: l.inst.symbol }]));
  }

  /** Breaks in the trade ids cut. */
  get tradeIdGaps(): number {
    return this.ids.gaps;
  }

  /** Returns the lane of a line of `venueSymbol` for `before` and `after`; undefined when its trades are not published (nothing to cut). */
  lane(venueSymbol: string): HoleLane | undefined {
    return this.lanes.get(venueSymbol);
  }

  /** Before the clock moves to a line of `lane` with trade id `tradeId`: cuts at `prevTs` when the id does not follow. */
  before(lane: HoleLane | undefined, tradeId: number | undefined, prevTs: number): void {
    if (tradeId === undefined || lane === undefined) return;
    const reason = this.ids.check(lane.venueSymbol, tradeId);
    if (reason === undefined) return;
    this.opts.logger.warn({ symbol: lane.symbol, tradeId, ts: prevTs, reason }, 'recording has a hole in the trade stream');
    this.cut(lane.symbol, reason, prevTs, 'tradeId');
  }

  /**
   * After the line of `lane` was published at `ts`: `decoded` false (a trade that did not decode is lost, so the next
   * id does not follow and marks the hole) leaves its id untaken; `silence` (the look-ahead's, in recorded time, `shift`
   * ms behind `ts`) cuts the symbol before the clock moves into the hole.
   * `breakBooks` (a backtest, when the symbol's next depth diff after the silence does not chain, `depthChains`) makes
   * the cut unscoped, as a live reconnect: the books drop and wait for the recording's next snapshot. Otherwise the book
   * from before a recorder stop counted as live until the first depth diff after it showed the gap, and a stopped
   * recorder usually brings trades and bookTicker back first: orders filled on a book as old as the hole. A silence
   * is found before the clock enters the hole, so no snapshot recorded after it is dropped. Not for a silence that
   * lost no depth (a delivery stall): the recorder writes snapshots only at start and after a reconnect, so the book
   * would stay down to the end.
   */
  after(lane: HoleLane | undefined, tradeId: number | undefined, decoded: boolean, silence: Silence | undefined, ts: number, shift = 0, breakBooks = false): void {
    if (lane === undefined) return;
    if (tradeId !== undefined && decoded) this.ids.took(lane.venueSymbol, tradeId);
    if (silence === undefined) return;
    const reason = silenceReason(shift === 0 ? silence : { ...silence, fromMs: silence.fromMs + shift, nextMs: silence.nextMs === undefined ? undefined : silence.nextMs + shift });
    this.silences++;
    this.opts.logger.warn({ symbol: lane.symbol, ts, reason }, 'recording falls silent: a hole in the recording');
    this.cut(lane.symbol, reason, ts, 'silence', breakBooks);
  }

  /** Forgets every symbol's last trade id (a new replay lap starts its own stream). */
  clear(): void {
    this.ids.clear();
  }

  private cut(symbol: string, reason: string, ts: number, found: 'tradeId' | 'silence', books = false): void {
    this.opts.onCut?.(found);
    this.opts.bus.publish({ type: 'md.feedReset', venue: this.opts.venue, symbol, reason, ts: ts as TsMs, ...(books ? {} : { scope: 'trades' as const }) });
  }
}
