// REST routes of the exchange simulator in Binance spot shapes (/api/v3/...). Each route states its request weight
// (Binance's numbers) and whether it needs an API key and signature.
import { FIXED_SCALE, divRound } from '../../types/decimal.ts';
import { notional } from '../../types/instrument.ts';
import type { Lots, Ticks } from '../../types/price.ts';
import { fmtDec, fmtMoney, fmtPx, fmtQty } from './format.ts';
import { apiErrors, SimApiError } from './errors.ts';
import type { SimAccount } from './accounts.ts';
import { PERCENT_PRICE_BY_SIDE, SIM_LIMITS, SIM_STP_MODE, type SimVenue } from './venue.ts';
import type { SymbolMarket } from './feed.ts';
import { SIM_INTERVALS } from './klines.ts';
import { ORDERS_PER_10S } from './rate-limit.ts';
import { checkParams, checkSymbol } from './rest-params.ts';

/** What a route handler gets. */
export interface RouteCtx {
  readonly params: URLSearchParams;
  readonly venue: SimVenue;
  /** The authenticated account (signed routes only). */
  readonly account: SimAccount | undefined;
}

/** One REST route. */
export interface Route {
  /** Request weight, possibly depending on parameters. */
  readonly weight: number | ((p: URLSearchParams) => number);
  /** 'none': public; 'key': API key only; 'signed': key + timestamp + signature. */
  readonly auth: 'none' | 'key' | 'signed';
  readonly handle: (ctx: RouteCtx) => unknown;
}

const get = (p: URLSearchParams, k: string): string | undefined => p.get(k) ?? undefined;

/** Returns the integer parameter `name` (`dflt` when absent); -1100 when it is not digits, -1130 outside [min, max]. */
export function intParam(p: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const s = p.get(name);
  if (s === null) return dflt;
  if (!/^\d{1,15}$/.test(s)) throw apiErrors.illegalChars(name, s);
  const v = Number(s);
  if (v < min || v > max) throw apiErrors.badParam(`Illegal value for parameter '${name}': ${v} is outside [${min}, ${max}].`);
  return v;
}

/** Returns the integer parameter `name`, undefined when absent; -1100 when it is not digits. */
export function optInt(p: URLSearchParams, name: string): number | undefined {
  const s = p.get(name);
  if (s === null) return undefined;
  if (!/^\d{1,15}$/.test(s)) throw apiErrors.illegalChars(name, s);
  return Number(s);
}

function need<T>(v: T | undefined): T {
  if (v === undefined) throw apiErrors.mandatory('symbol');
  return v;
}

/** Returns one symbol's entry of /api/v3/exchangeInfo with Binance's filter shapes and decimal formats. */
export function symbolInfo(m: SymbolMarket): Record<string, unknown> {
  const i = m.inst;
  return {
    symbol: i.venueSymbol, status: 'TRADING', baseAsset: i.base, baseAssetPrecision: 8, quoteAsset: i.quote, quotePrecision: 8,
    quoteAssetPrecision: 8, baseCommissionPrecision: 8, quoteCommissionPrecision: 8,
    orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT'],
    icebergAllowed: false, ocoAllowed: false, otoAllowed: false, quoteOrderQtyMarketAllowed: false, allowTrailingStop: false,
    cancelReplaceAllowed: true, isSpotTradingAllowed: true, isMarginTradingAllowed: false,
    filters: [
      { filterType: 'PRICE_FILTER', minPrice: fmtDec(i.tickSize.mantissa, i.tickSize.scale), maxPrice: SIM_LIMITS.maxPrice, tickSize: fmtDec(i.tickSize.mantissa, i.tickSize.scale) },
      { filterType: 'LOT_SIZE', minQty: fmtDec(i.lotSize.mantissa, i.lotSize.scale), maxQty: SIM_LIMITS.maxQty, stepSize: fmtDec(i.lotSize.mantissa, i.lotSize.scale) },
      { filterType: 'MARKET_LOT_SIZE', minQty: '0.00000000', maxQty: SIM_LIMITS.maxQty, stepSize: '0.00000000' },
      { filterType: 'PERCENT_PRICE_BY_SIDE', ...PERCENT_PRICE_BY_SIDE },
      { filterType: 'NOTIONAL', minNotional: fmtDec(i.minNotional, 9), applyMinToMarket: true, maxNotional: SIM_LIMITS.maxNotional, applyMaxToMarket: false, avgPriceMins: 5 },
      { filterType: 'MAX_NUM_ORDERS', maxNumOrders: SIM_LIMITS.maxNumOrders },
    ],
    permissions: [], permissionSets: [['SPOT']], defaultSelfTradePreventionMode: SIM_STP_MODE, allowedSelfTradePreventionModes: [SIM_STP_MODE],
  };
}

function depthWeight(p: URLSearchParams): number {
  const n = Number(p.get('limit') ?? 100);
  return n <= 100 ? 5 : n <= 500 ? 25 : n <= 1000 ? 50 : 250;
}

function bookTickerOf(m: SymbolMarket): Record<string, string> {
  const i = m.inst;
  const t = m.bookTicker;
  if (t) return { symbol: i.venueSymbol, bidPrice: fmtPx(i, t.bid), bidQty: fmtQty(i, t.bidLots), askPrice: fmtPx(i, t.ask), askQty: fmtQty(i, t.askLots) };
  const b = m.sync.book;
  const bid = b.bestBid();
  const ask = b.bestAsk();
  return {
    symbol: i.venueSymbol, bidPrice: fmtPx(i, bid ?? 0), bidQty: fmtQty(i, b.bestBidLots()), askPrice: fmtPx(i, ask ?? 0), askQty: fmtQty(i, b.bestAskLots()),
  };
}

function symbolsParam(venue: SimVenue, p: URLSearchParams): SymbolMarket[] {
  const one = p.get('symbol');
  if (one !== null) return [venue.market(one)];
  const many = p.get('symbols');
  if (many !== null) {
    let list: unknown;
    try {
      list = JSON.parse(many);
    } catch {
      throw apiErrors.illegalChars('symbols', many);
    }
    if (!Array.isArray(list)) throw apiErrors.illegalChars('symbols', many);
    return list.map((s) => {
      checkSymbol(String(s));
      return venue.market(String(s));
    });
  }
  return [...venue.markets.values()];
}

/**
 * MEXC spot v3 kline intervals the simulator serves, each with the Binance interval it is: MEXC calls the hour `60m`
 * and has no `1s`, `1h`, `3m`, `2h`, `6h`, `8h` or `12h` (ccxt's MEXC spot timeframes; `engine/venues/mexc/rest.ts`
 * sends `1m`, `60m`, `1d`). MEXC's `1W` and `1M` are not modelled.
 */
const MEXC_INTERVALS: Readonly<Record<string, string>> = { '1m': '1m', '5m': '5m', '15m': '15m', '30m': '30m', '60m': '1h', '4h': '4h', '1d': '1d' };

// GET /api/v3/klines with `msOf` naming the bar length (ms) of each interval the dialect knows.
function klinesRoute(msOf: (interval: string) => number | undefined): Route {
  return {
    weight: 2, auth: 'none',
    handle: ({ venue, params }) => {
      const m = venue.market(need(get(params, 'symbol')));
      const interval = params.get('interval');
      if (interval === null) throw apiErrors.mandatory('interval');
      const ms = msOf(interval);
      if (ms === undefined) throw apiErrors.invalidInterval();
      const limit = intParam(params, 'limit', 500, 1, 1000);
      const bars = m.klines.rolledBars(venue.clock.now(), ms, limit, optInt(params, 'startTime'), optInt(params, 'endTime'));
      return bars.map((b) => m.klines.row(b, ms));
    },
  };
}

/**
 * The klines route in MEXC's interval names (`MEXC_INTERVALS`): the Binance route's bars, `60m` for the hour, `1h`
 * and `1s` refused as MEXC refuses them. For the MEXC dialect's `GET /api/v3/klines`: ./mexc.ts `mexcRoutes` must
 * list it, else that dialect falls through to the Binance route and its names.
 */
export const mexcKlinesRoute: Route = klinesRoute((i) => (Object.hasOwn(MEXC_INTERVALS, i) ? SIM_INTERVALS[MEXC_INTERVALS[i]!] : undefined));

const DAY_MS = 24 * 3600_000;

// startTime / endTime of allOrders and myTrades: Binance answers at most 24 hours between them (-1127).
function timeWindow(p: URLSearchParams): { startTime: number | undefined; endTime: number | undefined } {
  const startTime = optInt(p, 'startTime');
  const endTime = optInt(p, 'endTime');
  if (startTime !== undefined && endTime !== undefined && endTime - startTime > DAY_MS) {
    throw new SimApiError(400, -1127, 'More than 24 hours between startTime and endTime.');
  }
  return { startTime, endTime };
}

/**
 * GET /api/v3/allOrders: with `orderId` the oldest `limit` orders from that id on (Binance: "orders >= that orderId"),
 * else the newest `limit`; either within [startTime, endTime] (inclusive, on the order's creation time) when given.
 */
function allOrders({ venue, params, account }: RouteCtx): Record<string, unknown>[] {
  const limit = intParam(params, 'limit', 500, 1, 1000);
  const fromId = optInt(params, 'orderId');
  const { startTime, endTime } = timeWindow(params);
  const rows = venue.allOrders(account!, get(params, 'symbol'), Number.MAX_SAFE_INTEGER).filter((o) => {
    const id = o['orderId'] as number;
    const t = o['time'] as number;
    return (fromId === undefined || id >= fromId) && (startTime === undefined || t >= startTime) && (endTime === undefined || t <= endTime);
  });
  return fromId === undefined ? rows.slice(Math.max(0, rows.length - limit)) : rows.slice(0, limit);
}

// Binance's myTrades takes fromId alone or with orderId, never with a time (-1128).
function myTrades({ venue, params, account }: RouteCtx): Record<string, unknown>[] {
  const fromId = optInt(params, 'fromId');
  const { startTime, endTime } = timeWindow(params);
  if (fromId !== undefined && (startTime !== undefined || endTime !== undefined)) throw new SimApiError(400, -1128, 'Combination of optional parameters invalid.');
  return venue.myTrades(account!, get(params, 'symbol'), {
    limit: intParam(params, 'limit', 500, 1, 1000), fromId, orderId: optInt(params, 'orderId'), startTime, endTime,
  });
}

// GET /api/v3/avgPrice: the average PERCENT_PRICE_BY_SIDE compares with; closeTime is its newest print's time.
function avgPrice({ venue, params }: RouteCtx): Record<string, unknown> {
  const m = venue.market(need(get(params, 'symbol')));
  const avg = venue.avgPrice(m);
  if (!avg) return { mins: PERCENT_PRICE_BY_SIDE.avgPriceMins, price: '0.00000000', closeTime: 0 };
  const t = m.inst.tickSize;
  // Binance prints it to 8 places, rounded: ticks * tickSize in 1e-8 units, then to 1e-9 Money for the formatter.
  const e8 = divRound(avg.num * t.mantissa * 10n ** BigInt(FIXED_SCALE - 1 - t.scale), avg.den);
  return { mins: PERCENT_PRICE_BY_SIDE.avgPriceMins, price: fmtMoney(e8 * 10n), closeTime: avg.lastTs };
}

// Every route checks its parameters (rest-params.ts) before its handler reads them.
function checked(table: Readonly<Record<string, Route>>): Readonly<Record<string, Route>> {
  return Object.fromEntries(Object.entries(table).map(([key, r]) => [key, {
    ...r,
    handle: (ctx: RouteCtx) => {
      checkParams(key, ctx.params, r.auth === 'signed');
      return r.handle(ctx);
    },
  }]));
}

/**
 * The Binance routes, keyed `METHOD path`, without the parameter checks (rest-params.ts lists Binance's parameters):
 * for another dialect that answers through them with its own parameters (mexc.ts).
 */
export const binanceRoutes: Readonly<Record<string, Route>> = {
  'GET /api/v3/ping': { weight: 1, auth: 'none', handle: () => ({}) },
  'GET /api/v3/time': { weight: 1, auth: 'none', handle: ({ venue }) => ({ serverTime: Math.floor(venue.clock.now()) }) },
  'GET /api/v3/exchangeInfo': {
    weight: 20, auth: 'none',
    handle: ({ venue, params }) => ({
      timezone: 'UTC', serverTime: Math.floor(venue.clock.now()),
      rateLimits: [
        { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
        { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: ORDERS_PER_10S },
        { rateLimitType: 'ORDERS', interval: 'DAY', intervalNum: 1, limit: 200000 },
        { rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 61000 },
      ],
      exchangeFilters: [],
      symbols: symbolsParam(venue, params).map(symbolInfo),
    }),
  },
  'GET /api/v3/depth': {
    weight: depthWeight, auth: 'none',
    handle: ({ venue, params }) => {
      const m = venue.market(need(get(params, 'symbol')));
      const limit = intParam(params, 'limit', 100, 1, 5000);
      if (!m.sync.isLive()) throw apiErrors.unknown(`The order book of ${m.inst.venueSymbol} is not synced yet (no snapshot replayed).`);
      const i = m.inst;
      const lv = (side: 'bid' | 'ask') => m.sync.book.levels(side, limit).map(([p, q]) => [fmtPx(i, p), fmtQty(i, q)]);
      return { lastUpdateId: m.sync.lastUpdateId, bids: lv('bid'), asks: lv('ask') };
    },
  },
  'GET /api/v3/trades': {
    weight: 25, auth: 'none',
    handle: ({ venue, params }) => {
      const m = venue.market(need(get(params, 'symbol')));
      const i = m.inst;
      return m.recentTrades(intParam(params, 'limit', 500, 1, 1000)).map((t) => ({
        id: t.tradeId, price: fmtPx(i, t.price), qty: fmtQty(i, t.lots), quoteQty: fmtDecQuote(m, t.price, t.lots),
        time: t.tsExchange, isBuyerMaker: t.buyerMaker, isBestMatch: true,
      }));
    },
  },
  'GET /api/v3/avgPrice': { weight: 2, auth: 'none', handle: avgPrice },
  'GET /api/v3/klines': klinesRoute((i) => (Object.hasOwn(SIM_INTERVALS, i) ? SIM_INTERVALS[i] : undefined)),
  'GET /api/v3/ticker/bookTicker': {
    weight: (p) => (p.has('symbol') ? 2 : 4), auth: 'none',
    handle: ({ venue, params }) => (params.has('symbol') ? bookTickerOf(venue.market(params.get('symbol')!)) : symbolsParam(venue, params).map(bookTickerOf)),
  },
  'GET /api/v3/ticker/price': {
    weight: (p) => (p.has('symbol') ? 2 : 4), auth: 'none',
    handle: ({ venue, params }) => {
      const one = (m: SymbolMarket) => {
        const t = m.trades[m.trades.length - 1];
        return { symbol: m.inst.venueSymbol, price: t ? fmtPx(m.inst, t.price) : '0.00000000' };
      };
      return params.has('symbol') ? one(venue.market(params.get('symbol')!)) : symbolsParam(venue, params).map(one);
    },
  },
  'POST /api/v3/order': { weight: 1, auth: 'signed', handle: ({ venue, params, account }) => venue.placeOrder(account!, Object.fromEntries(params)) },
  'POST /api/v3/order/cancelReplace': { weight: 1, auth: 'signed', handle: ({ venue, params, account }) => venue.cancelReplace(account!, Object.fromEntries(params)) },
  'DELETE /api/v3/order': { weight: 1, auth: 'signed', handle: ({ venue, params, account }) => venue.cancelOrder(account!, Object.fromEntries(params)) },
  'GET /api/v3/order': { weight: 4, auth: 'signed', handle: ({ venue, params, account }) => venue.queryOrder(account!, Object.fromEntries(params)) },
  'GET /api/v3/openOrders': {
    weight: (p) => (p.has('symbol') ? 6 : 80), auth: 'signed',
    handle: ({ venue, params, account }) => venue.openOrders(account!, get(params, 'symbol')),
  },
  'DELETE /api/v3/openOrders': { weight: 1, auth: 'signed', handle: ({ venue, params, account }) => venue.cancelAll(account!, get(params, 'symbol')) },
  'GET /api/v3/allOrders': { weight: 20, auth: 'signed', handle: allOrders },
  'GET /api/v3/myTrades': { weight: 20, auth: 'signed', handle: myTrades },
  'GET /api/v3/account': {
    weight: 20, auth: 'signed',
    handle: ({ venue, params, account }) => {
      const a = account!;
      const omitZero = params.get('omitZeroBalances') === 'true';
      const assets = [...new Set([...a.free.keys(), ...a.locked.keys(), ...[...venue.markets.values()].flatMap((m) => [m.inst.base, m.inst.quote])])].sort();
      const rate = (r: string) => fmtDec(BigInt(r.replace('.', '')), r.includes('.') ? r.length - r.indexOf('.') - 1 : 0);
      return {
        makerCommission: Math.round(Number(venue.makerRate) * 10_000), takerCommission: Math.round(Number(venue.takerRate) * 10_000),
        buyerCommission: 0, sellerCommission: 0,
        commissionRates: { maker: rate(venue.makerRate), taker: rate(venue.takerRate), buyer: '0.00000000', seller: '0.00000000' },
        canTrade: true, canWithdraw: false, canDeposit: false, brokered: false, requireSelfTradePrevention: false, preventSor: false,
        updateTime: Math.floor(a.updateTime), accountType: 'SPOT',
        balances: assets
          .map((asset) => ({ asset, free: fmtMoney(a.freeOf(asset)), locked: fmtMoney(a.lockedOf(asset)) }))
          .filter((b) => !omitZero || b.free !== '0.00000000' || b.locked !== '0.00000000'),
        permissions: ['SPOT'], uid: Number.parseInt(a.id.replace(/\D/g, '') || '0', 10),
      };
    },
  },
};

/** The routes, keyed `METHOD path`. */
export const routes: Readonly<Record<string, Route>> = checked(binanceRoutes);

function fmtDecQuote(m: SymbolMarket, p: Ticks, q: Lots): string {
  return fmtMoney(notional(m.inst, p, q));
}
