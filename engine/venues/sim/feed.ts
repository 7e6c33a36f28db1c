// Market state of one symbol in the simulator, moved by recorded lines: the synced book (BookSync), recent trades,
// the last bookTicker, 1m klines, and the matching engine that sim orders trade in. It also hands each recorded
// payload to the WebSocket hub. Sim orders match the synced depth book clipped by the newest bookTicker and the prints
// after the book's last diff (engine/market/touch-overlay.ts), as the paper venue does.
import { BookSync } from '../binance/book-sync.ts';
import { BinanceFrameDecoder, classifyFrame } from '../binance/frames.ts';
import { MatchingEngine, liveBookView, type SimOrder } from '../../market/matching.ts';
import type { BookTicker, Trade } from '../../messages/market.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Instrument } from '../../types/instrument.ts';
import type { Lots, Ticks } from '../../types/price.ts';
import { nsToMs } from '../../types/time.ts';
import { fmtPx, fmtQty } from './format.ts';
import { KlineSeries, type KlineHistory } from './klines.ts';

/** Stream kinds the hub serves per symbol. */
export type StreamKind = 'depth' | 'trade' | 'aggTrade' | 'bookTicker' | 'kline_1m';

/** Where the feed sends stream payloads (raw JSON of the event, without the combined-stream envelope). */
export type Publish = (symbolLower: string, kind: StreamKind, payload: string) => void;

/** Settings shared by every symbol's matching engine. */
export interface FeedEngineConfig {
  readonly clock: Clock;
  readonly makerFeeRate9: bigint;
  readonly takerFeeRate9: bigint;
  readonly latencyMs: number;
  readonly nextOrderId: () => number;
  readonly nextTradeId: () => number;
  /** What a market buy may spend at activation (SimVenue.marketBuyFunds); see MatchingConfig. */
  readonly marketBuyFunds?: (order: SimOrder) => bigint;
}

/** Counters of one symbol's feed. */
export interface FeedCounters {
  lines: number;
  depth: number;
  trades: number;
  bookTickers: number;
  snapshots: number;
  malformed: number;
  ignored: number;
}

const RECENT_TRADES = 1000;
/** Binance pushes kline updates every 2 s (1 s for kline_1s). */
const KLINE_PUSH_MS = 2000;

/** The simulator's market of one symbol. */
export class SymbolMarket {
  readonly decoder: BinanceFrameDecoder;
  readonly sync: BookSync;
  readonly engine: MatchingEngine;
  readonly klines: KlineSeries;
  readonly counters: FeedCounters = { lines: 0, depth: 0, trades: 0, bookTickers: 0, snapshots: 0, malformed: 0, ignored: 0 };
  /** The most recent trades, oldest first. */
  readonly trades: Trade[] = [];
  bookTicker: BookTicker | undefined;
  private readonly lower: string;
  private readonly printListeners: Array<(price: Ticks) => void> = [];
  private lastKlinePush = -Infinity;

  constructor(readonly inst: Instrument, cfg: FeedEngineConfig, history: KlineHistory, private readonly publish: Publish, private readonly clock: Clock) {
    this.decoder = new BinanceFrameDecoder(inst, 'sim');
    this.sync = new BookSync(inst.venueSymbol, { rules: 'spot' });
    this.engine = new MatchingEngine({
      // The newest bookTicker and the book's update id: a taker reaches nothing the newer real-time touch shows gone.
      instrument: inst, book: liveBookView(this.sync.book, () => this.sync.isLive(), { lastUpdateId: () => this.sync.lastUpdateId, touch: () => this.bookTicker }), clock: cfg.clock, makerFeeRate9: cfg.makerFeeRate9, takerFeeRate9: cfg.takerFeeRate9,
      latencyMs: cfg.latencyMs, feeIn: 'received', nextOrderId: cfg.nextOrderId, nextTradeId: cfg.nextTradeId,
      ...(cfg.marketBuyFunds ? { marketBuyFunds: cfg.marketBuyFunds } : {}),
    });
    this.klines = new KlineSeries(inst, history);
    this.lower = inst.venueSymbol.toLowerCase();
  }

  /** Applies one recorded line (its JSON text) received at `tsLocalNs`; the clock has already been moved. */
  onLine(text: string, tsLocalNs: bigint): void {
    this.counters.lines++;
    const now = this.clock.now();
    this.klines.start(now);
    const kind = classifyFrame(text);
    const tsLocal = nsToMs(tsLocalNs);
    switch (kind) {
      case 'depth': {
        const f = this.decoder.decodeDepthFrame(text);
        if (typeof f === 'string') {
          this.counters.malformed++;
          this.sync.onMalformed();
          return;
        }
        if (f.symbol !== this.inst.venueSymbol) {
          this.counters.ignored++;
          return;
        }
        this.counters.depth++;
        const wasLive = this.sync.isLive();
        const out = this.sync.onDepth(f);
        if (!wasLive && this.sync.isLive()) this.engine.onSnapshot();
        else if (out === 'applied') this.engine.onDepth(pairs(f.bids, f.bidCount), pairs(f.asks, f.askCount), f.eventTime);
        this.publish(this.lower, 'depth', payloadOf(text));
        return;
      }
      case 'snapshot': {
        const m = this.decoder.decodeText(text, tsLocal, kind);
        if (m.type !== 'md.snapshot') return this.skip(m.type);
        this.counters.snapshots++;
        const wasLive = this.sync.isLive();
        this.sync.onSnapshot(m);
        if (!wasLive && this.sync.isLive()) this.engine.onSnapshot();
        return;
      }
      case 'trade': {
        const m = this.decoder.decodeText(text, tsLocal, kind);
        if (m.type !== 'md.trade') return this.skip(m.type);
        this.counters.trades++;
        this.trades.push(m);
        if (this.trades.length > RECENT_TRADES * 2) this.trades.splice(0, this.trades.length - RECENT_TRADES);
        // With the exchange times a diff that already showed this print is not followed by a second queue move.
        this.engine.onTrade(m.price, m.lots, m.buyerMaker, m.tsExchange);
        for (const fn of this.printListeners) fn(m.price);
        const payload = payloadOf(text);
        this.publish(this.lower, 'trade', payload);
        this.publish(this.lower, 'aggTrade', this.aggTrade(m));
        const closed = this.klines.onTrade(m, now);
        if (closed) this.publish(this.lower, 'kline_1m', this.klines.event(closed, m.tsExchange, true));
        if (closed || now - this.lastKlinePush >= KLINE_PUSH_MS) {
          const bar = this.klines.currentBar();
          if (bar) this.publish(this.lower, 'kline_1m', this.klines.event(bar, m.tsExchange, false));
          this.lastKlinePush = now;
        }
        return;
      }
      case 'bookTicker': {
        const m = this.decoder.decodeText(text, tsLocal, kind);
        if (m.type !== 'md.bookTicker') return this.skip(m.type);
        this.counters.bookTickers++;
        this.bookTicker = m;
        this.publish(this.lower, 'bookTicker', payloadOf(text));
        return;
      }
      case 'kline':
      case 'other':
        this.counters.ignored++;
        return;
    }
  }

  /** Registers a listener told the price of each recorded print, after the matching engine saw it (stop triggers). */
  onPrint(fn: (price: Ticks) => void): void {
    this.printListeners.push(fn);
  }

  /** Returns the price of the newest print, or undefined before the first. */
  lastPrice(): Ticks | undefined {
    return this.trades[this.trades.length - 1]?.price;
  }

  /** Returns the recent trades, oldest first, at most `limit`. */
  recentTrades(limit: number): Trade[] {
    return this.trades.slice(Math.max(0, this.trades.length - limit));
  }

  private skip(type: string): void {
    if (type === 'malformed') this.counters.malformed++;
    else this.counters.ignored++;
  }

  private aggTrade(t: Trade): string {
    // The recording holds raw trades; each becomes its own aggregate (a = f = l = trade id).
    return JSON.stringify({
      e: 'aggTrade', E: t.tsExchange, s: this.inst.venueSymbol, a: t.tradeId, p: fmtPx(this.inst, t.price),
      q: fmtQty(this.inst, t.lots), f: t.tradeId, l: t.tradeId, T: t.tsExchange, m: t.buyerMaker, M: true,
    });
  }
}

/** Returns the `data` part of a combined-stream envelope `{"stream":"…","data":{…}}` (or the text when bare). */
export function payloadOf(text: string): string {
  if (!text.startsWith('{"stream":"')) return text;
  const at = text.indexOf('"data":');
  return at < 0 ? text : text.slice(at + 7, text.length - 1);
}

function pairs(flat: ArrayLike<number>, n: number): Array<readonly [Ticks, Lots]> {
  const out: Array<readonly [Ticks, Lots]> = new Array(n);
  for (let i = 0; i < n; i++) out[i] = [flat[2 * i]! as Ticks, flat[2 * i + 1]! as Lots];
  return out;
}
