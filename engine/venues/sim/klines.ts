// 1m klines of one symbol for the simulator: closed history from the bundled CSV (data/klines), and candles built
// from the replayed trades. A candle built from the first trade of its minute (the replay started before the minute
// opened) is exact and preferred; the minute in progress is always the built one, so nothing after the sim's "now"
// ever leaks out of the CSV.
import type { Candle, Trade } from '../../messages/market.ts';
import { floatToSteps } from '../../types/price.ts';
import { notional, type Instrument } from '../../types/instrument.ts';
import { fmtMoney, fmtPx, fmtQty } from './format.ts';

const MINUTE = 60_000;

/** One 1m kline in integer units; quote volume, trade count and taker volumes are known only for built ones. */
export interface KlineBar {
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volumeLots: number;
  quoteVolume: bigint | undefined;
  trades: number | undefined;
  takerBuyLots: number | undefined;
  takerBuyQuote: bigint | undefined;
  firstTradeId: number;
  lastTradeId: number;
  /** Built from trades since the minute opened (exact), as opposed to started mid-minute or read from the CSV. */
  complete: boolean;
  /** Sim time of the last change. */
  updatedAt: number;
}

/** Keeps the 1m klines of one symbol. */
export class KlineSeries {
  private readonly history = new Map<number, KlineBar>();
  private readonly built = new Map<number, KlineBar>();
  private current: KlineBar | undefined;
  private startedAt: number | undefined;

  /** Creates a series; `csv` are the closed history candles (float units, on the instrument's grid). */
  constructor(private readonly inst: Instrument, csv: readonly Candle[] = []) {
    for (const c of csv) {
      this.history.set(c.openTime, {
        openTime: c.openTime,
        open: floatToSteps(c.open, inst.tickSize),
        high: floatToSteps(c.high, inst.tickSize),
        low: floatToSteps(c.low, inst.tickSize),
        close: floatToSteps(c.close, inst.tickSize),
        volumeLots: floatToSteps(c.volume, inst.lotSize),
        quoteVolume: undefined, trades: undefined, takerBuyLots: undefined, takerBuyQuote: undefined,
        firstTradeId: -1, lastTradeId: -1, complete: true, updatedAt: c.openTime,
      });
    }
  }

  /** Marks when the replay began (sim time): minutes opening before it cannot be built completely. */
  start(simNow: number): void {
    this.startedAt ??= simNow;
  }

  /** Adds a trade; returns the bar it closed when the trade opened a new minute. */
  onTrade(t: Trade, simNow: number): KlineBar | undefined {
    const openTime = Math.floor(t.tsExchange / MINUTE) * MINUTE;
    let closed: KlineBar | undefined;
    let bar = this.current;
    if (!bar || bar.openTime !== openTime) {
      closed = bar;
      bar = {
        openTime, open: t.price, high: t.price, low: t.price, close: t.price, volumeLots: 0,
        quoteVolume: 0n, trades: 0, takerBuyLots: 0, takerBuyQuote: 0n, firstTradeId: t.tradeId, lastTradeId: t.tradeId,
        complete: this.startedAt !== undefined && this.startedAt <= openTime, updatedAt: simNow,
      };
      this.current = bar;
      this.built.set(openTime, bar);
    }
    const q = notional(this.inst, t.price, t.lots);
    bar.high = Math.max(bar.high, t.price);
    bar.low = Math.min(bar.low, t.price);
    bar.close = t.price;
    bar.volumeLots += t.lots;
    bar.quoteVolume = (bar.quoteVolume ?? 0n) + q;
    bar.trades = (bar.trades ?? 0) + 1;
    if (!t.buyerMaker) {
      bar.takerBuyLots = (bar.takerBuyLots ?? 0) + t.lots;
      bar.takerBuyQuote = (bar.takerBuyQuote ?? 0n) + q;
    }
    bar.lastTradeId = t.tradeId;
    bar.updatedAt = simNow;
    return closed;
  }

  /** Returns the bar in progress, if a trade of the current minute was seen. */
  currentBar(): KlineBar | undefined {
    return this.current;
  }

  /** Returns the bars with openTime in [startTime, endTime] known at `now`, oldest first, at most `limit` (the latest ones unless startTime is given). */
  bars(now: number, limit: number, startTime?: number, endTime?: number): KlineBar[] {
    const curOpen = Math.floor(now / MINUTE) * MINUTE;
    const hi = Math.min(endTime ?? Infinity, curOpen);
    const pick = (t: number): KlineBar | undefined => {
      const b = this.built.get(t);
      if (t === curOpen) return b;
      if (b && b.complete) return b;
      return this.history.get(t) ?? b;
    };
    const out: KlineBar[] = [];
    if (startTime !== undefined) {
      for (let t = Math.ceil(startTime / MINUTE) * MINUTE; t <= hi && out.length < limit; t += MINUTE) {
        const b = pick(t);
        if (b) out.push(b);
      }
      return out;
    }
    const floor = this.history.size > 0 || this.built.size > 0 ? Math.min(...this.lowestOpen()) : hi;
    for (let t = Math.floor(hi / MINUTE) * MINUTE; t >= floor && out.length < limit; t -= MINUTE) {
      const b = pick(t);
      if (b) out.push(b);
    }
    return out.reverse();
  }

  private lowestOpen(): number[] {
    const lows: number[] = [];
    for (const m of [this.history, this.built]) {
      const first = m.keys().next();
      if (!first.done) lows.push(first.value);
    }
    return lows;
  }

  /** Returns a bar as Binance's REST kline row. */
  row(b: KlineBar): Array<string | number> {
    return [
      b.openTime, fmtPx(this.inst, b.open), fmtPx(this.inst, b.high), fmtPx(this.inst, b.low), fmtPx(this.inst, b.close),
      fmtQty(this.inst, b.volumeLots), b.openTime + MINUTE - 1,
      // The CSV history has no quote volume, trade count or taker volumes: they read as zero there.
      fmtMoney(b.quoteVolume ?? 0n), b.trades ?? 0, fmtQty(this.inst, b.takerBuyLots ?? 0), fmtMoney(b.takerBuyQuote ?? 0n), '0',
    ];
  }

  /** Returns a bar as the payload of a `<symbol>@kline_1m` stream event at event time `eventTime`. */
  event(b: KlineBar, eventTime: number, closed: boolean): string {
    const s = this.inst.venueSymbol;
    const k = {
      t: b.openTime, T: b.openTime + MINUTE - 1, s, i: '1m', f: b.firstTradeId, L: b.lastTradeId,
      o: fmtPx(this.inst, b.open), c: fmtPx(this.inst, b.close), h: fmtPx(this.inst, b.high), l: fmtPx(this.inst, b.low),
      v: fmtQty(this.inst, b.volumeLots), n: b.trades ?? 0, x: closed, q: fmtMoney(b.quoteVolume ?? 0n),
      V: fmtQty(this.inst, b.takerBuyLots ?? 0), Q: fmtMoney(b.takerBuyQuote ?? 0n), B: '0',
    };
    return JSON.stringify({ e: 'kline', E: eventTime, s, k });
  }
}
