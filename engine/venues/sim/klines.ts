// 1m klines of one symbol for the simulator: closed history from the bundled CSV (data/klines), and candles built
// from the replayed trades. A candle built from the first trade of its minute (the replay started before the minute
// opened) is exact and preferred; the minute in progress is always the built one, so nothing after the sim's "now"
// ever leaks out of the CSV. Longer intervals (3m .. 1d, Binance's set) are rolled up from those 1m bars, on Binance's
// UTC-aligned buckets; the bucket in progress holds the minutes up to now. Quote volume, trade count and taker
// volumes of a rolled-up bar are known only when every minute in it was built from trades (else they read as zero,
// as for the CSV's own bars). Before the 1m history begins, closed buckets come from that interval's own CSV when the
// klines folder has one (the bundled 1h since 2024-01, 1d since 2022-11), as Binance serves years of them.
import type { Candle, Trade } from '../../messages/market.ts';
import { floatToSteps } from '../../types/price.ts';
import { notional, type Instrument } from '../../types/instrument.ts';
import { fmtMoney, fmtPx, fmtQty } from './format.ts';

const MINUTE = 60_000;

/** Kline intervals the simulator serves (Binance's spot set without 1s, 3d, 1w and 1M), in ms. */
export const SIM_INTERVALS: Readonly<Record<string, number>> = {
  '1m': MINUTE, '3m': 3 * MINUTE, '5m': 5 * MINUTE, '15m': 15 * MINUTE, '30m': 30 * MINUTE, '1h': 60 * MINUTE, '2h': 120 * MINUTE,
  '4h': 240 * MINUTE, '6h': 360 * MINUTE, '8h': 480 * MINUTE, '12h': 720 * MINUTE, '1d': 1_440 * MINUTE,
};

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

/** The closed kline history of one symbol: 1m candles, and longer intervals' own candles by interval (ms). */
export interface KlineHistory {
  readonly m1: readonly Candle[];
  readonly native?: ReadonlyMap<number, readonly Candle[]>;
}

/** Keeps the 1m klines of one symbol, and serves longer intervals from them (and from their own history). */
export class KlineSeries {
  private readonly history = new Map<number, KlineBar>();
  private readonly native = new Map<number, Map<number, KlineBar>>();
  private readonly built = new Map<number, KlineBar>();
  private current: KlineBar | undefined;
  private startedAt: number | undefined;
  /** Latest openTime in `history` / `built` (-Infinity while empty): the walks stop there. */
  private historyLast = -Infinity;
  private builtLast = -Infinity;

  /** Creates a series from closed history candles (float units, on the instrument's grid). */
  constructor(private readonly inst: Instrument, history: KlineHistory = { m1: [] }) {
    const bar = (c: Candle): KlineBar => ({
      openTime: c.openTime,
      open: floatToSteps(c.open, inst.tickSize),
      high: floatToSteps(c.high, inst.tickSize),
      low: floatToSteps(c.low, inst.tickSize),
      close: floatToSteps(c.close, inst.tickSize),
      volumeLots: floatToSteps(c.volume, inst.lotSize),
      quoteVolume: undefined, trades: undefined, takerBuyLots: undefined, takerBuyQuote: undefined,
      firstTradeId: -1, lastTradeId: -1, complete: true, updatedAt: c.openTime,
    });
    for (const c of history.m1) {
      this.history.set(c.openTime, bar(c));
      this.historyLast = Math.max(this.historyLast, c.openTime);
    }
    for (const [ms, candles] of history.native ?? []) {
      if (ms <= MINUTE) continue;
      const m = new Map<number, KlineBar>();
      for (const c of candles) if (c.openTime % ms === 0) m.set(c.openTime, bar(c));
      this.native.set(ms, m);
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
      this.builtLast = Math.max(this.builtLast, openTime);
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
    const lows = this.lowestOpen();
    if (lows.length === 0) return [];
    // No bar opens after the last one known: the walk need not go past it (endTime may be far in the future).
    const hi = Math.min(endTime ?? Infinity, curOpen, Math.max(this.historyLast, this.builtLast));
    const pick = (t: number): KlineBar | undefined => {
      const b = this.built.get(t);
      if (t === curOpen) return b;
      if (b && b.complete) return b;
      return this.history.get(t) ?? b;
    };
    return walkBuckets(MINUTE, hi, Math.min(...lows), limit, startTime, pick);
  }

  /**
   * Returns the `intervalMs` bars (a multiple of a minute) with openTime in [startTime, endTime] known at `now`, rolled
   * up from the 1m bars, oldest first, at most `limit` (the latest ones unless startTime is given). A bucket without any
   * minute is left out, as Binance leaves out a kline no trade made.
   */
  rolledBars(now: number, intervalMs: number, limit: number, startTime?: number, endTime?: number): KlineBar[] {
    if (intervalMs === MINUTE) return this.bars(now, limit, startTime, endTime);
    if (!(intervalMs > MINUTE && intervalMs % MINUTE === 0)) throw new RangeError(`rolledBars: interval ${intervalMs} ms is not a whole number of minutes`);
    const lows = this.lowestOpen();
    const first1m = lows.length > 0 ? Math.min(...lows) : Infinity;
    const own = this.native.get(intervalMs);
    const firstOwn = own && own.size > 0 ? Math.min(...own.keys()) : Infinity;
    const lowest = Math.min(first1m, firstOwn);
    if (lowest === Infinity) return [];
    const last = Math.max(this.historyLast, this.builtLast, own && own.size > 0 ? Math.max(...own.keys()) : -Infinity);
    const hi = Math.min(endTime ?? Infinity, Math.floor(now / intervalMs) * intervalMs, Math.floor(last / intervalMs) * intervalMs);
    const bucket = (open: number): KlineBar | undefined => {
      // Before the 1m history, a closed bucket is the interval's own bar (never one still open at `now`).
      if (open < first1m && open + intervalMs <= now) {
        const b = own?.get(open);
        if (b) return b;
      }
      const mins = this.bars(now, intervalMs / MINUTE, open, open + intervalMs - MINUTE);
      return mins.length === 0 ? undefined : rollUp(open, mins);
    };
    return walkBuckets(intervalMs, hi, Math.floor(lowest / intervalMs) * intervalMs, limit, startTime, bucket);
  }

  private lowestOpen(): number[] {
    const lows: number[] = [];
    for (const m of [this.history, this.built]) {
      const first = m.keys().next();
      if (!first.done) lows.push(first.value);
    }
    return lows;
  }

  /** Returns a bar of `intervalMs` (default a minute) as Binance's REST kline row. */
  row(b: KlineBar, intervalMs = MINUTE): Array<string | number> {
    return [
      b.openTime, fmtPx(this.inst, b.open), fmtPx(this.inst, b.high), fmtPx(this.inst, b.low), fmtPx(this.inst, b.close),
      fmtQty(this.inst, b.volumeLots), b.openTime + intervalMs - 1,
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

/**
 * Returns the bars `pick` gives for buckets of `step` ms in [floor, hi] (the callers' first and last bar: no bucket
 * outside holds one): from startTime up when it is given, else the latest `limit` down; oldest first. The start is
 * clamped to `floor`, so a startTime long before the data (0) no longer walks every empty bucket since 1970, which took
 * seconds and held every other request and the replay.
 */
export function walkBuckets(step: number, hi: number, floor: number, limit: number, startTime: number | undefined, pick: (t: number) => KlineBar | undefined): KlineBar[] {
  const out: KlineBar[] = [];
  if (startTime !== undefined) {
    const from = Math.max(Math.ceil(startTime / step), Math.floor(floor / step)) * step;
    for (let t = from; t <= hi && out.length < limit; t += step) {
      const b = pick(t);
      if (b) out.push(b);
    }
    return out;
  }
  for (let t = Math.floor(hi / step) * step; t >= floor && out.length < limit; t -= step) {
    const b = pick(t);
    if (b) out.push(b);
  }
  return out.reverse();
}

// One bar of the 1m bars `mins` (oldest first, all inside the bucket opening at `openTime`).
function rollUp(openTime: number, mins: readonly KlineBar[]): KlineBar {
  const first = mins[0]!;
  const last = mins[mins.length - 1]!;
  let high = first.high, low = first.low, volumeLots = 0, updatedAt = first.updatedAt;
  const built = mins.every((m) => m.quoteVolume !== undefined && m.trades !== undefined && m.takerBuyLots !== undefined && m.takerBuyQuote !== undefined);
  let quoteVolume = 0n, trades = 0, takerBuyLots = 0, takerBuyQuote = 0n;
  for (const m of mins) {
    high = Math.max(high, m.high);
    low = Math.min(low, m.low);
    volumeLots += m.volumeLots;
    updatedAt = Math.max(updatedAt, m.updatedAt);
    if (built) {
      quoteVolume += m.quoteVolume!;
      trades += m.trades!;
      takerBuyLots += m.takerBuyLots!;
      takerBuyQuote += m.takerBuyQuote!;
    }
  }
  return {
    openTime, open: first.open, high, low, close: last.close, volumeLots,
    quoteVolume: built ? quoteVolume : undefined, trades: built ? trades : undefined,
    takerBuyLots: built ? takerBuyLots : undefined, takerBuyQuote: built ? takerBuyQuote : undefined,
    firstTradeId: first.firstTradeId, lastTradeId: last.lastTradeId, complete: mins.every((m) => m.complete), updatedAt,
  };
}
