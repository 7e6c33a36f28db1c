// Binance-shaped API errors of the exchange simulator: `{"code":-1121,"msg":"Invalid symbol."}` with Binance's HTTP
// status. The texts are Binance's own, so clients (ccxt's exception map) treat them as they treat the real venue.

/** An error answer of the simulator's REST API; thrown inside route handlers, written by the server. */
export class SimApiError extends Error {
  /** `headers`: extra response headers (Retry-After on a 429 or 418). */
  constructor(readonly http: number, readonly code: number, msg: string, readonly headers: Readonly<Record<string, string>> = {}) {
    super(msg);
    this.name = 'SimApiError';
  }

  /** Returns the JSON body Binance sends for this error. */
  body(): { code: number; msg: string } {
    return { code: this.code, msg: this.message };
  }
}

/**
 * The answer of POST /api/v3/order/cancelReplace when part of it failed: -2021 (HTTP 409, "partially failed": with
 * STOP_ON_FAILURE the cancel was done and the new order refused) or -2022 (HTTP 400: the cancel failed, the new order
 * was not attempted), with Binance's `data` naming both outcomes and carrying both answers.
 */
export class CancelReplaceError extends SimApiError {
  constructor(readonly partial: boolean, readonly data: Readonly<Record<string, unknown>>) {
    super(partial ? 409 : 400, partial ? -2021 : -2022, partial ? 'Order cancel-replace partially failed.' : 'Order cancel-replace failed.');
    this.name = 'CancelReplaceError';
  }

  override body(): { code: number; msg: string; data: Readonly<Record<string, unknown>> } {
    return { ...super.body(), data: this.data };
  }
}

/** Returns the errors the simulator raises, by Binance code. */
export const apiErrors = {
  unknown: (msg: string) => new SimApiError(500, -1000, msg),
  tooManyRequests: (limit: number, retryAfterS: number) =>
    new SimApiError(429, -1003, `Too much request weight used; current limit is ${limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`, { 'retry-after': String(retryAfterS) }),
  ipBanned: (untilMs: number, retryAfterS: number) =>
    new SimApiError(418, -1003, `Way too much request weight used; IP banned until ${untilMs}. Please use WebSocket Streams for live updates to avoid bans.`, { 'retry-after': String(retryAfterS) }),
  tooManyOrders: (limit: number, retryAfterS: number) =>
    new SimApiError(429, -1015, `Too many new orders; current limit is ${limit} orders per TEN_SECONDS.`, { 'retry-after': String(retryAfterS) }),
  timestampOutside: () => new SimApiError(400, -1021, 'Timestamp for this request is outside of the recvWindow.'),
  timestampAhead: () => new SimApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."),
  badSignature: () => new SimApiError(400, -1022, 'Signature for this request is not valid.'),
  illegalChars: (name: string, value: string) =>
    new SimApiError(400, -1100, `Illegal characters found in parameter '${name}'; legal range is '${legalRange(name, value)}'.`),
  mandatory: (name: string) => new SimApiError(400, -1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`),
  notRequired: (name: string) => new SimApiError(400, -1106, `Parameter '${name}' sent when not required.`),
  filterFailure: (filter: string) => new SimApiError(400, -1013, `Filter failure: ${filter}`),
  invalidTif: () => new SimApiError(400, -1115, 'Invalid timeInForce.'),
  invalidOrderType: () => new SimApiError(400, -1116, 'Invalid orderType.'),
  invalidSide: () => new SimApiError(400, -1117, 'Invalid side.'),
  invalidSymbol: () => new SimApiError(400, -1121, 'Invalid symbol.'),
  invalidInterval: () => new SimApiError(400, -1120, 'Invalid interval.'),
  recvWindowTooLarge: () => new SimApiError(400, -1131, 'recvWindow must be less than 60000'),
  badParam: (msg: string) => new SimApiError(400, -1130, msg),
  insufficientBalance: () => new SimApiError(400, -2010, 'Account has insufficient balance for requested action.'),
  wouldTake: () => new SimApiError(400, -2010, 'Order would immediately match and take.'),
  stopWouldTrigger: () => new SimApiError(400, -2010, 'Stop price would trigger immediately.'),
  unknownOrder: () => new SimApiError(400, -2011, 'Unknown order sent.'),
  cancelRestricted: () => new SimApiError(400, -2011, 'Order was not canceled due to cancel restrictions.'),
  noSuchOrder: () => new SimApiError(400, -2013, 'Order does not exist.'),
  apiKeyFormat: () => new SimApiError(401, -2014, 'API-key format invalid.'),
  invalidApiKey: () => new SimApiError(401, -2015, 'Invalid API-key, IP, or permissions for action.'),
  duplicateClientId: () => new SimApiError(400, -2010, 'Duplicate order sent.'),
  notFound: (path: string) => new SimApiError(404, -1000, `Unknown endpoint ${path}.`),
} as const;

function legalRange(name: string, value: string): string {
  void value;
  if (name === 'symbol') return '^[A-Z0-9-_.]{1,20}$';
  if (name === 'newClientOrderId' || name === 'origClientOrderId') return '^[a-zA-Z0-9-_]{1,36}$';
  return '^([0-9]{1,20})(\\.[0-9]{1,20})?$';
}
