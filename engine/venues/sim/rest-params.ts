// Which parameters each Binance REST route takes, and the refusals Binance gives a request outside them: a repeated
// parameter (-1101), one the endpoint does not read (-1104), a symbol outside its legal range (-1100). Without these an
// engine bug such as a misspelt parameter would be silently ignored by the simulator and pass every e2e test.
import { apiErrors, SimApiError } from './errors.ts';
import { SIM_STP_MODE } from './venue.ts';

/** Binance's legal range for a symbol (errors.ts legalRange names the same pattern). */
const SYMBOL = /^[A-Z0-9-_.]{1,20}$/;

// What SIGNED routes take besides their own parameters.
const SIGNED = ['timestamp', 'recvWindow', 'signature'];

const ORDER = ['symbol', 'side', 'type', 'timeInForce', 'quantity', 'quoteOrderQty', 'price', 'newClientOrderId', 'strategyId', 'strategyType',
  'stopPrice', 'trailingDelta', 'icebergQty', 'newOrderRespType', 'selfTradePreventionMode', 'pegPriceType', 'pegOffsetValue', 'pegOffsetType'];

/** Each route's parameters as Binance's spot REST documentation lists them, keyed as `routes` is. */
const ROUTE_PARAMS: Readonly<Record<string, readonly string[]>> = {
  'GET /api/v3/ping': [],
  'GET /api/v3/time': [],
  'GET /api/v3/exchangeInfo': ['symbol', 'symbols', 'permissions', 'showPermissionSets', 'symbolStatus'],
  'GET /api/v3/depth': ['symbol', 'limit', 'symbolStatus'],
  'GET /api/v3/trades': ['symbol', 'limit'],
  'GET /api/v3/avgPrice': ['symbol'],
  'GET /api/v3/klines': ['symbol', 'interval', 'startTime', 'endTime', 'timeZone', 'limit'],
  'GET /api/v3/ticker/bookTicker': ['symbol', 'symbols', 'symbolStatus'],
  'GET /api/v3/ticker/price': ['symbol', 'symbols', 'symbolStatus'],
  'POST /api/v3/order': ORDER,
  'POST /api/v3/order/cancelReplace': [...ORDER, 'cancelReplaceMode', 'cancelNewClientOrderId', 'cancelOrigClientOrderId', 'cancelOrderId',
    'cancelRestrictions', 'orderRateLimitExceededMode'],
  'DELETE /api/v3/order': ['symbol', 'orderId', 'origClientOrderId', 'newClientOrderId', 'cancelRestrictions'],
  'GET /api/v3/order': ['symbol', 'orderId', 'origClientOrderId'],
  'GET /api/v3/openOrders': ['symbol'],
  'DELETE /api/v3/openOrders': ['symbol'],
  'GET /api/v3/allOrders': ['symbol', 'orderId', 'startTime', 'endTime', 'limit'],
  'GET /api/v3/myTrades': ['symbol', 'orderId', 'startTime', 'endTime', 'fromId', 'limit'],
  'GET /api/v3/account': ['omitZeroBalances'],
};

// Parameters Binance reads that the simulator does not model: refused rather than ignored, so an order never behaves
// otherwise than its request asked. `ok` names a value that changes nothing here (the only STP mode offered is the
// matching engine's EXPIRE_MAKER).
const UNMODELLED: Readonly<Record<string, { ok?: string; err?: () => SimApiError }>> = {
  icebergQty: { err: () => new SimApiError(400, -2010, 'Iceberg orders are not supported for this symbol.') },
  selfTradePreventionMode: { ok: SIM_STP_MODE },
  trailingDelta: {}, strategyId: {}, strategyType: {}, pegPriceType: {}, pegOffsetValue: {}, pegOffsetType: {},
  orderRateLimitExceededMode: { ok: 'DO_NOTHING' }, timeZone: { ok: '0' }, permissions: {}, symbolStatus: {},
};

/** Throws -1100 unless `s` is within Binance's legal range for a symbol (uppercase: Binance does not fold case). */
export function checkSymbol(s: string): void {
  if (!SYMBOL.test(s)) throw apiErrors.illegalChars('symbol', s);
}

/**
 * Checks the parameters of a request to the route `key` as Binance does before reading them: -1101 when one repeats
 * (the handlers would read one of the values, the signature check another), -1104 when one is not the route's,
 * -1100 for a malformed symbol, and a refusal for one the simulator does not model.
 */
export function checkParams(key: string, p: URLSearchParams, signed: boolean): void {
  const allowed = ROUTE_PARAMS[key];
  if (allowed === undefined) throw new Error(`no parameter list for route ${key}`);
  const names = [...p.keys()];
  if (new Set(names).size !== names.length) throw new SimApiError(400, -1101, 'Duplicate values for a parameter detected.');
  const read = names.filter((n) => allowed.includes(n) || (signed && SIGNED.includes(n))).length;
  if (read !== names.length) throw new SimApiError(400, -1104, `Not all sent parameters were read; read '${read}' parameter(s) but was sent '${names.length}'.`);
  const symbol = p.get('symbol');
  if (symbol !== null) checkSymbol(symbol);
  for (const [n, v] of p) {
    const u = Object.hasOwn(UNMODELLED, n) ? UNMODELLED[n]! : undefined;
    if (u === undefined || v === u.ok) continue;
    throw u.err?.() ?? apiErrors.badParam(`Parameter '${n}' is not supported by the simulator.`);
  }
}
