import type {
  BookTicker, CandleMsg, DepthDiff, DepthSnapshot, Level, Trade,
} from '../../messages/market.ts';
import type { Instrument, VenueId } from '../../types/instrument.ts';
import type { Lots, Ticks } from '../../types/price.ts';
import { nsToMs, type Timeframe, type TsMs } from '../../types/time.ts';
import type { RecordedLine } from '../replay/recording.ts';
import { DepthFrame, DepthParser, instrumentGrid, type DepthGrid } from './parse-depth.ts';
import { TickerParser } from './parse-ticker.ts';

/** What kind of Binance frame a text is, judged from its first bytes (no parse). */
export type FrameKind = 'depth' | 'snapshot' | 'bookTicker' | 'trade' | 'kline' | 'other';

const ENVELOPE = '{"stream":"';

/** Returns the kind of a Binance frame: combined-stream envelopes by stream name, bare objects by their keys. */
export function classifyFrame(text: string): FrameKind {
  if (text.startsWith(ENVELOPE)) return classifyStream(text, text.indexOf('@', ENVELOPE.length));
  if (text.startsWith('{"lastUpdateId"')) return 'snapshot';
  // Bare (non-combined) stream events and snapshots whose keys come in another order.
  const head = text.slice(0, 64);
  if (head.includes('"e":"depthUpdate"')) return 'depth';
  if (head.includes('"e":"trade"') || head.includes('"e":"aggTrade"')) return 'trade';
  if (head.includes('"e":"kline"')) return 'kline';
  if (head.includes('"e":"bookTicker"')) return 'bookTicker';
  if (text.includes('"lastUpdateId"') && text.includes('"bids"')) return 'snapshot';
  if (/^\{"u":\d+,"s":"/.test(head)) return 'bookTicker';
  return 'other';
}

/**
 * Returns the kind of a combined-stream envelope from its stream name's suffix, given the offset of the name's
 * first `@` (-1: none); for a caller that has already found it.
 */
export function classifyStream(text: string, at: number): FrameKind {
  if (at < 0) return 'other';
  const c = text.charCodeAt(at + 1);
  if (c === 100 && text.startsWith('depth', at + 1)) {
    // depth and depth@100ms are diffs; depth5/10/20 (partial books, no update ids to chain) are ignored.
    const next = text.charCodeAt(at + 6);
    return next === 34 || next === 64 ? 'depth' : 'other';
  }
  if (c === 98 && text.startsWith('bookTicker"', at + 1)) return 'bookTicker';
  if (c === 116 && text.startsWith('trade"', at + 1)) return 'trade';
  if (c === 97 && text.startsWith('aggTrade"', at + 1)) return 'trade';
  if (c === 107 && text.startsWith('kline_', at + 1)) return 'kline';
  return 'other';
}

/** A frame that could not be decoded; counted by the decoder and skipped by callers. */
export interface MalformedFrame {
  readonly type: 'malformed';
  readonly kind: FrameKind;
  readonly reason: string;
}

/** A well-formed frame the decoder does not turn into a message (subscription replies, other symbols, depth5…). */
export interface IgnoredFrame {
  readonly type: 'ignored';
  readonly reason: string;
}

/** What `decode` returns. */
export type DecodedFrame = DepthDiff | DepthSnapshot | Trade | BookTicker | CandleMsg | MalformedFrame | IgnoredFrame;

/** Counts kept by a decoder. */
export interface DecoderCounters {
  decoded: number;
  malformed: number;
  ignored: number;
  /** Depth quantities off the lot grid that were rounded (see DepthGrid). */
  qtyRounded: number;
}

class Malformed extends Error {}

const TIMEFRAMES: ReadonlySet<string> = new Set<Timeframe>(['1s', '1m', '1h', '1d']);

/**
 * Turns recorded or live Binance frames (spot and USD-M futures) of one instrument into typed messages.
 * Depth frames go through the byte-level DepthParser, spot bookTicker and trade frames through the byte-level
 * TickerParser, the rest (rare: snapshots, klines, odd layouts) through JSON.parse with field checks.
 * Prices and sizes use the instrument's grid (see DepthGrid for off-grid quantities); timestamps without an
 * exchange time (spot bookTicker and REST snapshot) take the local receive time as `tsExchange`.
 */
export class BinanceFrameDecoder {
  /** Counters since creation. */
  readonly counters: DecoderCounters = { decoded: 0, malformed: 0, ignored: 0, qtyRounded: 0 };
  /** The parser depth frames go through; `decodeDepthFrame` returns its reusable frame. */
  readonly depth: DepthParser;
  private readonly grid: DepthGrid;
  private readonly ticker: TickerParser;

  /** Creates a decoder for `inst` on `venue` (default: the instrument's venue). */
  constructor(readonly inst: Instrument, readonly venue: VenueId = inst.venue, grid: DepthGrid = instrumentGrid(inst)) {
    this.grid = grid;
    this.depth = new DepthParser(grid);
    this.ticker = new TickerParser(grid, inst.venueSymbol);
  }

  /** Returns the decoded message of a recorded line, or a counted malformed / ignored result. */
  decode(line: RecordedLine): DecodedFrame {
    return this.decodeText(line.text, nsToMs(line.tsLocalNs), classifyFrame(line.text));
  }

  /**
   * Returns the decoded message of a frame's text received at `tsLocal`. Spot combined-stream bookTicker and trade
   * frames in Binance's exact layout take the byte-level TickerParser; everything else, and whatever it refuses,
   * takes `decodeJson`, which gives the same message (test/engine/venues/binance/parse-ticker.test.ts checks every
   * recorded line both ways).
   */
  decodeText(text: string, tsLocal: TsMs, kind: FrameKind = classifyFrame(text)): DecodedFrame {
    if (kind === 'bookTicker') {
      const t = this.ticker;
      if (t.bookTicker(text)) {
        this.counters.decoded++;
        // Same keys in the same order as fromJson builds, so both paths give one message shape.
        return {
          type: 'md.bookTicker', venue: this.venue, symbol: this.inst.symbol, tsLocal,
          tsExchange: tsLocal, // the spot layout has no E
          updateId: t.updateId, bid: t.bid as Ticks, bidLots: t.bidLots as Lots, ask: t.ask as Ticks, askLots: t.askLots as Lots,
        };
      }
    } else if (kind === 'trade') {
      const t = this.ticker;
      if (t.trade(text)) {
        this.counters.decoded++;
        return {
          type: 'md.trade', venue: this.venue, symbol: this.inst.symbol, tsLocal,
          tsExchange: t.tradeTime, tradeId: t.tradeId, price: t.price as Ticks, lots: t.lots as Lots, buyerMaker: t.buyerMaker,
        };
      }
    }
    return this.decodeJson(text, tsLocal, kind);
  }

  /**
   * Returns the decoded message of a frame's text the general way: depth through the DepthParser, every other kind
   * through JSON.parse and field checks (any key order, blanks, escapes, futures variants, bare events). The
   * reference the byte-level bookTicker/trade path must match; tests and bench/decode.ts call it directly.
   */
  decodeJson(text: string, tsLocal: TsMs, kind: FrameKind = classifyFrame(text)): DecodedFrame {
    if (kind === 'depth') {
      const f = this.decodeDepthFrame(text);
      if (typeof f === 'string') return { type: 'malformed', kind, reason: f }; // already counted
      if (f.symbol !== this.inst.venueSymbol) return this.ignored(`depth of another symbol ${f.symbol}`, true);
      return depthFrameToDiff(f, this.venue, this.inst.symbol, tsLocal);
    }
    if (kind === 'other') return this.ignored('not a market-data frame');
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      return this.malformed(kind, `invalid JSON: ${(err as Error).message}`);
    }
    try {
      const data = isRecord(obj) && isRecord(obj['data']) && typeof obj['stream'] === 'string' ? obj['data'] : obj;
      if (!isRecord(data)) throw new Malformed('frame is not an object');
      const msg = this.fromJson(kind, data, tsLocal);
      if (typeof msg === 'string') return this.ignored(msg);
      this.counters.decoded++;
      return msg;
    } catch (err) {
      if (err instanceof Malformed) return this.malformed(kind, err.message);
      throw err;
    }
  }

  /**
   * Parses a depth frame's text or bytes into the parser's reusable DepthFrame (hot path: no message allocated);
   * returns the reason as a string when it is malformed (and counts it).
   */
  decodeDepthFrame(text: string | Uint8Array): DepthFrame | string {
    if (!this.depth.parse(text)) {
      this.counters.malformed++;
      return this.depth.frame.error;
    }
    const f = this.depth.frame;
    this.counters.decoded++;
    this.counters.qtyRounded += f.qtyRounded;
    return f;
  }

  private malformed(kind: FrameKind, reason: string): MalformedFrame {
    this.counters.malformed++;
    return { type: 'malformed', kind, reason };
  }

  private ignored(reason: string, wasDecoded = false): IgnoredFrame {
    if (wasDecoded) this.counters.decoded--;
    this.counters.ignored++;
    return { type: 'ignored', reason };
  }

  private fromJson(kind: FrameKind, d: Record<string, unknown>, tsLocal: TsMs): DepthSnapshot | Trade | BookTicker | CandleMsg | string {
    // No `{ ...base, more }`: a spread followed by more keys built each message the slow way (~5 µs, measured) and
    // left it in a shape every handler then read slowly.
    const venue = this.venue;
    const symbol = this.inst.symbol;
    switch (kind) {
      case 'snapshot': {
        // Spot REST has only lastUpdateId; USD-M futures adds E (message time) and T (transaction time).
        return {
          type: 'md.snapshot', venue, symbol, tsLocal,
          tsExchange: d['E'] === undefined ? tsLocal : uint(d, 'E'),
          lastUpdateId: uint(d, 'lastUpdateId'),
          bids: this.levels(d['bids'], 'bids'),
          asks: this.levels(d['asks'], 'asks'),
        };
      }
      case 'bookTicker': {
        if (str(d, 's') !== this.inst.venueSymbol) return `bookTicker of another symbol ${String(d['s'])}`;
        return {
          type: 'md.bookTicker', venue, symbol, tsLocal,
          tsExchange: d['E'] === undefined ? tsLocal : uint(d, 'E'),
          updateId: uint(d, 'u'),
          bid: this.px(str(d, 'b')),
          bidLots: this.qty(str(d, 'B')),
          ask: this.px(str(d, 'a')),
          askLots: this.qty(str(d, 'A')),
        };
      }
      case 'trade': {
        if (str(d, 's') !== this.inst.venueSymbol) return `trade of another symbol ${String(d['s'])}`;
        const isAgg = d['e'] === 'aggTrade';
        if (d['e'] !== 'trade' && !isAgg) throw new Malformed(`trade frame has event type ${String(d['e'])}`);
        if (typeof d['m'] !== 'boolean') throw new Malformed('trade field m is not a boolean');
        return {
          type: 'md.trade', venue, symbol, tsLocal,
          tsExchange: uint(d, 'T'),
          tradeId: uint(d, isAgg ? 'a' : 't'),
          price: this.px(str(d, 'p')),
          lots: this.qty(str(d, 'q')),
          buyerMaker: d['m'],
        };
      }
      case 'kline': {
        if (str(d, 's') !== this.inst.venueSymbol) return `kline of another symbol ${String(d['s'])}`;
        const k = d['k'];
        if (!isRecord(k)) throw new Malformed('kline field k is not an object');
        const tf = str(k, 'i');
        if (!TIMEFRAMES.has(tf)) return `kline interval ${tf} is not kept`;
        if (typeof k['x'] !== 'boolean') throw new Malformed('kline field x is not a boolean');
        return {
          type: 'md.candle', venue, symbol, tsLocal,
          tsExchange: uint(d, 'E'),
          timeframe: tf as Timeframe,
          candle: {
            openTime: uint(k, 't'),
            open: num(k, 'o'),
            high: num(k, 'h'),
            low: num(k, 'l'),
            close: num(k, 'c'),
            volume: num(k, 'v'),
            trades: uint(k, 'n'),
            closed: k['x'],
          },
        };
      }
      case 'depth':
      case 'other':
        throw new Malformed(`unexpected kind ${kind}`);
    }
  }

  private levels(v: unknown, what: string): Level[] {
    if (!Array.isArray(v)) throw new Malformed(`${what} is not an array`);
    return v.map((lv: unknown) => {
      if (!Array.isArray(lv) || lv.length !== 2 || typeof lv[0] !== 'string' || typeof lv[1] !== 'string') {
        throw new Malformed(`${what} level is not ["price","qty"]`);
      }
      return [this.px(lv[0]), this.qty(lv[1])] as const;
    });
  }

  private px(s: string): Ticks {
    const v = this.steps(s, true);
    if (v === 0) throw new Malformed(`price ${s} is zero`);
    return v as Ticks;
  }

  private qty(s: string): Lots {
    return this.steps(s, false) as Lots;
  }

  /** Converts through the same byte-level routine as depth frames, so every frame kind shares one grid rule. */
  private steps(s: string, isPrice: boolean): number {
    const v = stepsOf(this.grid, s, isPrice);
    if (typeof v === 'string') throw new Malformed(v);
    return v;
  }
}

/** Returns a DepthDiff message (integer Level arrays) built from a parsed frame. */
export function depthFrameToDiff(f: DepthFrame, venue: VenueId, symbol: string, tsLocal: TsMs): DepthDiff {
  const bids: Level[] = new Array(f.bidCount);
  for (let i = 0; i < f.bidCount; i++) bids[i] = [f.bids[2 * i]! as Ticks, f.bids[2 * i + 1]! as Lots];
  const asks: Level[] = new Array(f.askCount);
  for (let i = 0; i < f.askCount; i++) asks[i] = [f.asks[2 * i]! as Ticks, f.asks[2 * i + 1]! as Lots];
  const diff: DepthDiff = {
    type: 'md.depth', venue, symbol, tsExchange: f.eventTime, tsLocal,
    firstUpdateId: f.firstUpdateId, finalUpdateId: f.finalUpdateId, bids, asks,
  };
  return f.prevFinalUpdateId >= 0 ? { ...diff, prevFinalUpdateId: f.prevFinalUpdateId } : diff;
}

/** Returns a DepthFrame holding the same update as a DepthDiff message. */
export function diffToDepthFrame(d: DepthDiff): DepthFrame {
  const f = new DepthFrame();
  f.firstUpdateId = d.firstUpdateId;
  f.finalUpdateId = d.finalUpdateId;
  f.prevFinalUpdateId = d.prevFinalUpdateId ?? -1;
  f.eventTime = d.tsExchange;
  f.symbol = d.symbol;
  f.bidCount = d.bids.length;
  f.askCount = d.asks.length;
  f.bids = d.bids.flat();
  f.asks = d.asks.flat();
  return f;
}

const stepParsers = new WeakMap<DepthGrid, DepthParser>();

/** Returns `s` as steps of the grid's price (or quantity) step, or the reason it is malformed. */
export function stepsOf(grid: DepthGrid, s: string, isPrice: boolean): number | string {
  let p = stepParsers.get(grid);
  if (!p) stepParsers.set(grid, (p = new DepthParser(grid)));
  const v = p.steps(s, isPrice);
  return v < 0 ? `${isPrice ? 'price' : 'quantity'} '${s}': ${p.frame.error}` : v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function uint(d: Record<string, unknown>, key: string): number {
  const v = d[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Malformed(`field ${key} is not a non-negative integer`);
  return v;
}

function str(d: Record<string, unknown>, key: string): string {
  const v = d[key];
  if (typeof v !== 'string') throw new Malformed(`field ${key} is not a string`);
  return v;
}

function num(d: Record<string, unknown>, key: string): number {
  const v = Number(str(d, key));
  if (!Number.isFinite(v)) throw new Malformed(`field ${key} is not a number`);
  return v;
}
