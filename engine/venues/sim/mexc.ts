// The simulator's MEXC spot v3 dialect, served under the /mexc path prefix by the same server, accounts and matching
// engine as the Binance one: a test (or a trader rehearsing) can take market data from the Binance side and send
// orders to the MEXC side. MEXC's v3 spot API copies Binance's paths and most shapes; what differs, and is modelled:
// - the API key travels in `X-MEXC-APIKEY` (the HMAC-SHA256 signature over the query is the same);
// - exchangeInfo gives precisions (decimal places) and minimums instead of Binance's filters, and ccxt also asks the
//   futures contract list while loading markets (answered empty: the simulator has no futures);
// - a limit order carries no timeInForce: IOC and FOK are order types (IMMEDIATE_OR_CANCEL, FILL_OR_KILL);
// - an IOC remainder ends CANCELED / PARTIALLY_CANCELED (Binance: EXPIRED);
// - errors use MEXC's codes where they differ (30004 insufficient position, 700002 bad signature, 10072 bad key,
//   700003 stale timestamp, 30002 below the minimum, 429 too many requests), which ccxt's MEXC exception map turns
//   into the same classes; the IP ban stays an HTTP 418 whose text names its end ("IP banned until <ms>");
// - myTrades has no fromId: it selects by orderId and by time (startTime / endTime, inclusive) and answers at most
//   100 trades (MEXC's documented maximum; a larger limit gets 100), the newest of what it selects.
import type { OrderParams } from './venue.ts';
import { apiErrors, SimApiError } from './errors.ts';
import { binanceRoutes, intParam, mexcKlinesRoute, optInt, type Route, type RouteCtx } from './rest.ts';
import type { SymbolMarket } from './feed.ts';
import { formatFixed } from '../../types/decimal.ts';
import { fmtDec } from './format.ts';

/** Path prefix of the MEXC dialect: `http://127.0.0.1:<port>/mexc` is the base URL a MEXC client is given. */
export const MEXC_PREFIX = '/mexc';

/** The most trades one MEXC myTrades answer holds (MEXC spot v3: "Default 100; max 100"). */
const MEXC_MY_TRADES_MAX = 100;

/** Header carrying the API key in the MEXC dialect. */
export const MEXC_KEY_HEADER = 'x-mexc-apikey';

// Decimal places of an increment that is a power of ten ('0.01' -> 2); MEXC states increments that way.
function places(mantissa: bigint, scale: number): number {
  if (mantissa !== 1n) throw new Error(`increment ${fmtDec(mantissa, scale)} is not a power of ten: MEXC's precision fields cannot state it`);
  return scale;
}

/** Returns one symbol's entry of MEXC's /api/v3/exchangeInfo (status '1' = online). */
export function mexcSymbolInfo(m: SymbolMarket): Record<string, unknown> {
  const i = m.inst;
  const lot = places(i.lotSize.mantissa, i.lotSize.scale);
  const tick = places(i.tickSize.mantissa, i.tickSize.scale);
  const minValue = formatFixed(i.minNotional);
  return {
    symbol: i.venueSymbol, status: '1', baseAsset: i.base, baseAssetPrecision: lot, quoteAsset: i.quote, quotePrecision: tick, quoteAssetPrecision: tick,
    baseCommissionPrecision: lot, quoteCommissionPrecision: tick,
    orderTypes: ['LIMIT', 'MARKET', 'LIMIT_MAKER', 'IMMEDIATE_OR_CANCEL', 'FILL_OR_KILL'],
    isSpotTradingAllowed: true, isMarginTradingAllowed: false,
    quoteAmountPrecision: minValue, baseSizePrecision: fmtDec(i.lotSize.mantissa, i.lotSize.scale),
    permissions: ['SPOT'], filters: [], maxQuoteAmount: '2000000', makerCommission: '0.001', takerCommission: '0.001',
    quoteAmountPrecisionMarket: minValue, maxQuoteAmountMarket: '100000', fullName: i.base, tradeSideType: 1,
  };
}

/** Routes the MEXC dialect answers differently (or only it has); the others are the Binance routes. */
export const mexcRoutes: Readonly<Record<string, Route>> = {
  'GET /api/v3/exchangeInfo': {
    weight: 10, auth: 'none',
    handle: ({ venue, params }) => {
      const one = params.get('symbol');
      const ms = one !== null ? [venue.market(one)] : [...venue.markets.values()];
      return { timezone: 'CST', serverTime: Math.floor(venue.clock.now()), rateLimits: [], exchangeFilters: [], symbols: ms.map(mexcSymbolInfo) };
    },
  },
  // MEXC's interval names ('60m' for the hour; no 1s).
  'GET /api/v3/klines': mexcKlinesRoute,
  // ccxt's MEXC client loads the futures contracts with the spot markets; the simulator lists none.
  'GET /api/v1/contract/detail': { weight: 1, auth: 'none', handle: () => ({ success: true, code: 0, data: [] }) },
  'POST /api/v3/order': {
    weight: 1, auth: 'signed',
    handle: ({ venue, params, account }) => mexcOrderView(venue.placeOrder(account!, mexcOrderParams(Object.fromEntries(params)))),
  },
  'GET /api/v3/myTrades': {
    weight: 10, auth: 'signed',
    handle: ({ venue, params, account }) => venue.myTrades(account!, params.get('symbol') ?? undefined, {
      limit: Math.min(intParam(params, 'limit', MEXC_MY_TRADES_MAX, 1, Number.MAX_SAFE_INTEGER), MEXC_MY_TRADES_MAX),
      orderId: optInt(params, 'orderId'), startTime: optInt(params, 'startTime'), endTime: optInt(params, 'endTime'),
    }),
  },
  // MEXC spot has no cancel-replace: without this the request would reach the Binance route.
  'POST /api/v3/order/cancelReplace': { weight: 1, auth: 'none', handle: () => { throw apiErrors.notFound('/api/v3/order/cancelReplace'); } },
  // The Binance routes answering orders, with the answers in MEXC's words. Unchecked: rest-params.ts lists Binance's
  // parameters, and ccxt's MEXC client sends its own (clientOrderId beside origClientOrderId on a cancel).
  ...Object.fromEntries(['DELETE /api/v3/order', 'GET /api/v3/order', 'GET /api/v3/openOrders', 'DELETE /api/v3/openOrders', 'GET /api/v3/allOrders'].map((k) => {
    const r = binanceRoutes[k]!;
    return [k, { ...r, handle: (ctx: RouteCtx) => mexcOrderView(r.handle(ctx)) }];
  })),
};

const TYPE_TIF: Readonly<Record<string, string>> = { IMMEDIATE_OR_CANCEL: 'IOC', FILL_OR_KILL: 'FOK' };

/** Returns a MEXC order request in the Binance engine's terms (IOC/FOK types -> LIMIT + timeInForce; LIMIT is GTC). */
export function mexcOrderParams(p: OrderParams): OrderParams {
  const type = p['type']?.toUpperCase();
  if (p['timeInForce'] !== undefined) throw new SimApiError(400, 700004, `Parameter 'timeInForce' is not supported: MEXC expresses IOC and FOK as order types.`);
  const tif = type !== undefined ? TYPE_TIF[type] : undefined;
  if (tif !== undefined) return { ...p, type: 'LIMIT', timeInForce: tif };
  if (type === 'LIMIT') return { ...p, timeInForce: 'GTC' };
  return p;
}

/** Returns an order answer of the Binance engine as MEXC words it (order type, end states). */
export function mexcOrderView(o: unknown): unknown {
  if (Array.isArray(o)) return o.map(mexcOrderView);
  if (typeof o !== 'object' || o === null || !('status' in o || 'type' in o)) return o;
  const r = { ...(o as Record<string, unknown>) };
  const tif = r['timeInForce'];
  if (r['type'] === 'LIMIT' && (tif === 'IOC' || tif === 'FOK')) r['type'] = tif === 'IOC' ? 'IMMEDIATE_OR_CANCEL' : 'FILL_OR_KILL';
  if (r['status'] === 'EXPIRED' || r['status'] === 'EXPIRED_IN_MATCH' || (r['status'] === 'CANCELED' && Number(r['executedQty'] ?? 0) > 0)) {
    r['status'] = Number(r['executedQty'] ?? 0) > 0 ? 'PARTIALLY_CANCELED' : 'CANCELED';
  }
  delete r['timeInForce'];
  return r;
}

// Binance code -> MEXC code, where MEXC's differs (MEXC keeps -1121, -2011, -2013 and others as Binance has them).
const CODES: Readonly<Record<number, { code: number; msg?: string }>> = {
  [-2015]: { code: 10072, msg: 'Api key info invalid' },
  [-2014]: { code: 10072, msg: 'Api key info invalid' },
  [-1022]: { code: 700002, msg: 'Signature for this request is not valid.' },
  [-1021]: { code: 700003, msg: 'Timestamp for this request is outside of the recvWindow.' },
  [-1003]: { code: 429, msg: 'Too Many Requests' },
};

/** Returns a simulator error as the MEXC dialect answers it. */
export function mexcError(e: SimApiError): SimApiError {
  if (e.code === -2010 && /insufficient balance/i.test(e.message)) return new SimApiError(400, 30004, 'Insufficient position');
  if (e.code === -1013) return new SimApiError(400, 30002, `The minimum transaction volume cannot be less than the symbol's minimum (${e.message})`);
  // A ban keeps its status and the text naming its end: only the rate limit's words change.
  if (e.code === -1003 && e.http === 418) return new SimApiError(418, 429, e.message, e.headers);
  const m = CODES[e.code];
  return m ? new SimApiError(e.http, m.code, m.msg ?? e.message, e.headers) : e;
}
