// Orders on Binance and MEXC spot through ccxt (createOrder, cancelOrder, fetchOrder, fetchOpenOrders, fetchBalance,
// fetchMyTrades), with the client order id sent on every order for idempotency. Integer ticks/lots go out as exact
// decimal strings and come back from the venue's raw `info` strings (ccxt's unified floats only as a fallback,
// converted once with floatToSteps).
//
// Errors (see classifyCcxtError): ccxt's classes become VenueCallError kinds the executor acts on:
//   RateLimitExceeded / HTTP 429   -> rateLimited: nothing is sent until Retry-After has passed (Binance: "back off");
//   Binance's -1015 (too many new orders) and -1034 (too many concurrent requests) too, whatever class ccxt gives it (its spot map says RateLimitExceeded, its
//   portfolio-margin map InvalidOrder: the rule holds should a map change)
//   DDoSProtection / HTTP 418 (whatever the body's code), or "IP banned until <ms>" -> banned: nothing is sent until
//                                    the ban ends (without Retry-After or a named end: defaultBanMs)
//   the WAF limit (HTTP 403 on either venue, MEXC's body code 403; see mexcSpotExchange, binanceExchange) ->
//   rateLimited, Retry-After or WAF_BACKOFF_MS
//   InsufficientFunds, InvalidOrder, BadSymbol, AuthenticationError, other ExchangeError subclasses, and a plain
//   ExchangeError with any other body code (ccxt's catch-all: MEXC 30000 symbol suspended, 60005 account abnormal;
//   a Binance code its map lacks) -> rejected (no resend of that order; whether a protective stop is asked for again
//   is the stops' call, see isRefusedForGood)
//   a plain ExchangeError with a venue's internal-error code (INTERNAL_ERROR_CODES) or no code at all -> unknown:
//   nothing proves a refusal and the venue may have acted
//   DuplicateOrderId, or "Duplicate order sent." (-2010: Binance's and MEXC's ccxt clients map it to InvalidOrder /
//   ExchangeError) -> unknown: the order exists; the executor queries it by client id instead of resending
//   RequestTimeout, NetworkError, ExchangeNotAvailable (5xx), BadResponse / unparseable answers -> unknown: the call
//   may have taken effect (Binance: a 5xx "execution status is UNKNOWN"), so a submit is queried before any resend.
// An answer to createOrder without an order id, or with another client id than ours, is a BadResponse, never an order.
// An order listed without a client id (placed by hand in MEXC's UI: `"clientOrderId": null`) is named
// `venue-<orderId>`, as the executor names an order it learns of from a trade; such an id is queried by order id.
// Amounts with more than 9 decimals (MEXC writes a commission unrounded, `0.016798204` or longer) are rounded to 9:
// a fee up, a balance down (see roundedFixed), at most 1e-9 off, with a log line.
// MEXC's myTrades has no trade-id cursor: its history is read by time, and a millisecond holding a full page by order
// id (see mexcTrades, mexcMillisecond); one answer of fetchMyTrades holds every trade after the cursor (myTradesComplete).
// Without a cursor (a first start: nothing booked for the symbol) both venues read every trade they keep, oldest first:
// Binance from trade id 0, 1000 an answer (the caller pages: one request, weight 20, per 1000 trades of the symbol),
// MEXC the month it keeps in one answer.
// fetchOrderTrades reads one order's trades by its order id (myTrades' `orderId`, on both venues), for the fills a
// read by time or by trade id did not show.
// The 429/418 block lives in a RestGate (rest-gate.ts): live-venue.ts passes the one of the venue's REST origin, which
// the feed's snapshots and the DataProvider's klines share, so a block any of them meets holds back orders too.
// Stop-loss-limit orders (the executor's protective stops) go to Binance as type STOP_LOSS_LIMIT with `stopPrice`,
// price and timeInForce GTC, and come back from fetchOrder / fetchOpenOrders with their stopPrice; MEXC spot's API has
// no stop orders, so there they are refused (UNSUPPORTED_ORDER_TYPE) before anything is sent.
// `replace` (Binance only, through ccxt's editOrder: POST /api/v3/order/cancelReplace, STOP_ON_FAILURE, cancel ONLY_NEW) cancels an
// order and places another in one request. Its -2021/-2022 answers reach us as ccxt errors (BadResponse, or
// InvalidOrder when the body names a filter) whose message ends with the venue's body: its `data` says which half
// failed (cancelFailed, with notOpen on -2011; newRejected, coded as a createOrder refusal). Any other failure is
// classified as for createOrder: 429/418 nothing done, a timeout or an unreadable answer an unknown outcome.
import ccxt from 'ccxt';
import { log, scrubErrorChain } from '../log.ts';
import type { OrderStatus, Side, TimeInForce, VenueOrderType } from '../messages/orders.ts';
import type { Clock } from '../runtime/clock.ts';
import { FIXED_SCALE, formatFixed, parseDecimal } from '../types/decimal.ts';
import { ADOPTED_ORDER_PREFIX, clientOrderId, venueOrderId, type ClientOrderId, type VenueOrderId } from '../types/ids.ts';
import { lotsToQty, priceToTicks, qtyToLots, ticksToPrice, type Instrument, type VenueId } from '../types/instrument.ts';
import type { Money } from '../types/money.ts';
import { floatToSteps, type Lots, type Ticks } from '../types/price.ts';
import type { TsMs } from '../types/time.ts';
import { RestGate } from './rest-gate.ts';
import {
  VenueCallError, type CancelResult, type ExecutionVenue, type ReplacedOrderRef, type ReplaceResult, type SubmitResult, type VenueBalance,
  type VenueEvent, type VenueOrder, type VenueOrderRequest, type VenueTrade,
} from './venue.ts';

/** The part of a ccxt exchange this adapter calls (a real `ccxt.binance` / `ccxt.mexc`, or a test stub). */
export interface CcxtOrderApi {
  createOrder(symbol: string, type: string, side: string, amount: number, price?: number, params?: Record<string, unknown>): Promise<unknown>;
  cancelOrder(id: string | undefined, symbol: string, params?: Record<string, unknown>): Promise<unknown>;
  fetchOrder(id: string | undefined, symbol: string, params?: Record<string, unknown>): Promise<unknown>;
  fetchOpenOrders(symbol: string, since?: number, limit?: number, params?: Record<string, unknown>): Promise<unknown[]>;
  fetchBalance(params?: Record<string, unknown>): Promise<unknown>;
  fetchMyTrades(symbol: string, since?: number, limit?: number, params?: Record<string, unknown>): Promise<unknown[]>;
  /** Binance spot: POST /api/v3/order/cancelReplace (ccxt's editOrder); absent on a stub without it. */
  editOrder?(id: string | undefined, symbol: string, type: string, side: string, amount?: number, price?: number, params?: Record<string, unknown>): Promise<unknown>;
  last_response_headers?: Record<string, string> | undefined;
}

/** Options of a ccxt execution venue. */
export interface CcxtExecOptions {
  readonly exchange: CcxtOrderApi;
  /** 'binance' or 'mexc' pick the parameter names; 'sim' behaves like Binance. */
  readonly venue: VenueId;
  readonly instruments: readonly Instrument[];
  readonly clock: Clock;
  /** Binance drops a signed request older than recvWindow (ccxt sends 10 000 ms): after that a query is final. */
  readonly recvWindowMs?: number;
  /** Back-off when a 429 carries no Retry-After (default 1 s); ban length when a 418 names no end (default 2 min). */
  readonly defaultRateLimitMs?: number;
  readonly defaultBanMs?: number;
  /**
   * The 429/418 gate of the venue's REST origin, shared with every other REST user of it in the process
   * (`restGateFor(restUrl)`, see rest-gate.ts). Without it the venue keeps a private gate on `clock`.
   */
  readonly gate?: RestGate;
}

type Raw = Record<string, unknown>;

const isObj = (x: unknown): x is Raw => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (o: Raw | undefined, k: string): string | undefined => {
  const v = o?.[k];
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
};

const BINANCE_STATUS: Record<string, OrderStatus> = {
  NEW: 'accepted', PARTIALLY_FILLED: 'partiallyFilled', FILLED: 'filled', CANCELED: 'cancelled', PENDING_CANCEL: 'cancelled',
  REJECTED: 'rejected', EXPIRED: 'expired', EXPIRED_IN_MATCH: 'expired',
};

/** Returns the Retry-After header of the last response in ms, if any (Binance sends seconds). */
function retryAfterMs(headers: Record<string, string> | undefined): number | undefined {
  if (!headers) return undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== 'retry-after') continue;
    const s = Number(v);
    if (Number.isFinite(s) && s >= 0) return Math.round(s * 1000);
  }
  return undefined;
}

// ccxt's error messages carry the request URL ("binance GET https://…/api/v3/account?timestamp=…&signature=<hmac> 503
// …"), and Binance GET/DELETE and every MEXC call sign in the query string. The signature (and any credential a
// venue might take as a parameter, in a query or a JSON body) is blanked; timestamp and recvWindow stay, they help
// diagnose clock problems and prove nothing.
const SIGNED_QUERY_PARAM = /([?&](?:signature|sign|apiKey|api_key|accessKey|secret|secretKey|token)=)[^&\s"'#]*/gi;
const SIGNED_JSON_FIELD = /("(?:signature|sign|apiKey|api_key|accessKey|secret|secretKey|token)"\s*:\s*")[^"]*/gi;

/** Returns `text` (a venue or ccxt error message) with signatures and credential parameters replaced by '[redacted]'. */
export function scrubVenueMessage(text: string): string {
  return text.replace(SIGNED_QUERY_PARAM, '$1[redacted]').replace(SIGNED_JSON_FIELD, '$1[redacted]');
}

/**
 * Classifies a ccxt error as classifyCcxtError does, a ban's end in its text measured on the gate's clock (wall time,
 * as the venue writes it), and records a 429 or 418 it carries on `gate`, so that every other REST user of the origin
 * holds back too. Returns the classification and that block (undefined when the error is neither).
 */
export function classifyOnGate(
  gate: RestGate, err: unknown, headers: Record<string, string> | undefined, defaults?: { rateLimitMs: number; banMs: number },
): { error: VenueCallError; block: { kind: 'rateLimited' | 'banned'; retryAfterMs: number } | undefined } {
  const error = classifyCcxtError(err, gate.now(), headers, defaults);
  if ((error.kind !== 'rateLimited' && error.kind !== 'banned') || error.retryAfterMs === undefined) return { error, block: undefined };
  const block = { kind: error.kind, retryAfterMs: error.retryAfterMs };
  gate.block(block.kind, block.retryAfterMs);
  return { error, block };
}

/**
 * Returns how a ccxt error should be treated; `now` and headers give the time a 429/418 block lasts. This is where
 * venue errors enter the engine: the message, and the ccxt error kept as `cause` (pino prints it), are scrubbed of
 * signed URL parameters first (scrubVenueMessage), since they travel on to rejections, venue status, logs and the
 * dashboard.
 */
export function classifyCcxtError(err: unknown, now: TsMs, headers?: Record<string, string>, defaults = { rateLimitMs: 1_000, banMs: 120_000 }): VenueCallError {
  if (!(err instanceof VenueCallError)) scrubErrorChain(err, scrubVenueMessage);
  const msg = err instanceof Error ? err.message : scrubVenueMessage(String(err));
  const mk = (kind: VenueCallError['kind'], code: string, retry?: number) => new VenueCallError(kind, code, `${code}: ${msg}`, retry, { cause: err });
  const banned = /banned until (\d{10,})/i.exec(msg);
  if (banned) return mk('banned', 'VENUE_IP_BANNED', Math.max(0, Number(banned[1]) - now));
  // An HTTP 418 is a ban whatever class the body's code gave the error (MEXC's ban body may carry its 429 code): the
  // status leads ccxt's message ("mexc 418 …", or "<id> GET <url> 418 …" from handleHttpStatusCode).
  if (httpStatusOf(msg) === 418) return mk('banned', 'VENUE_IP_BANNED', retryAfterMs(headers) ?? defaults.banMs);
  // Order matters: subclasses before their parents (RateLimitExceeded and DDoSProtection are NetworkErrors,
  // OrderNotFound and DuplicateOrderId are InvalidOrders).
  // The WAF limit (HTTP 403, or MEXC's body code 403, which mexcSpotExchange and binanceExchange throw as
  // RateLimitExceeded): the venues say to stop calling and retry later, naming no time; a second's back-off would keep
  // hitting it.
  if (err instanceof ccxt.RateLimitExceeded && isWafLimit(msg)) return mk('rateLimited', 'VENUE_RATE_LIMITED', retryAfterMs(headers) ?? Math.max(defaults.rateLimitMs, WAF_BACKOFF_MS));
  if (err instanceof ccxt.RateLimitExceeded) return mk('rateLimited', 'VENUE_RATE_LIMITED', retryAfterMs(headers) ?? defaults.rateLimitMs);
  // ccxt's binance throws DDoSProtection for HTTP 429 as well as 418 ("binance 429 Too Many Requests {…}"): a 429
  // is a rate limit (back off, resend), only a 418 is a ban.
  if (err instanceof ccxt.DDoSProtection && /^\S+ 429 /.test(msg)) return mk('rateLimited', 'VENUE_RATE_LIMITED', retryAfterMs(headers) ?? defaults.rateLimitMs);
  if (err instanceof ccxt.DDoSProtection) return mk('banned', 'VENUE_IP_BANNED', retryAfterMs(headers) ?? defaults.banMs);
  // -1015 "Too many new orders" is the venue's order-rate limit (nothing done: send again later), not a refusal of
  // the order. ccxt's Binance spot map already throws RateLimitExceeded for it (caught above); its portfolio-margin map
  // says InvalidOrder, and another client or a later map may say anything: the code decides. So does -1034 "Too many
  // concurrent requests" (absent from ccxt's map: a plain ExchangeError, else taken for a refusal).
  if (err instanceof ccxt.ExchangeError && /"code":\s*-(1015|1034)\b/.test(msg)) return mk('rateLimited', 'VENUE_RATE_LIMITED', retryAfterMs(headers) ?? defaults.rateLimitMs);
  // -2010 "Duplicate order sent." (a client id still open): ccxt's Binance client calls it InvalidOrder, its MEXC
  // client a plain ExchangeError; the order exists, so it is no rejection.
  if (err instanceof ccxt.DuplicateOrderId || (err instanceof ccxt.ExchangeError && /duplicate order/i.test(msg))) return mk('unknown', 'DUPLICATE_CLIENT_ORDER_ID');
  if (err instanceof ccxt.InsufficientFunds) return mk('rejected', 'INSUFFICIENT_FUNDS');
  if (err instanceof ccxt.OrderNotFound) return mk('rejected', 'ORDER_NOT_FOUND');
  if (err instanceof ccxt.InvalidOrder) return mk('rejected', 'INVALID_ORDER');
  if (err instanceof ccxt.BadSymbol) return mk('rejected', 'UNKNOWN_SYMBOL');
  if (err instanceof ccxt.AuthenticationError) return mk('rejected', 'AUTH_FAILED');
  if (err instanceof ccxt.InvalidNonce) return mk('unknown', 'TIMESTAMP_REJECTED');
  if (err instanceof ccxt.RequestTimeout) return mk('unknown', 'REQUEST_TIMEOUT');
  if (err instanceof ccxt.ExchangeNotAvailable) return mk('unknown', 'EXCHANGE_UNAVAILABLE');
  if (err instanceof ccxt.NetworkError) return mk('unknown', 'NETWORK');
  if (err instanceof ccxt.BadResponse) return mk('unknown', 'BAD_RESPONSE');
  // ccxt's MEXC map has no OrderNotFound: MEXC's -2013 "Order does not exist." (and -2011 "Unknown order sent." on a
  // cancel) arrive as plain ExchangeError / BadRequest.
  if (err instanceof ccxt.ExchangeError && /"code":\s*-?(2013|2011)\b.*(order does not exist|unknown order)/i.test(msg)) return mk('rejected', 'ORDER_NOT_FOUND');
  // A plain ExchangeError is ccxt's catch-all for a code its map does not name, refusals (MEXC 30000 "suspended
  // transaction for the symbol", 26 "operation not allowed") and internal failures (MEXC 500, 20002, 730000) alike. An
  // internal failure, or an answer with no code, proves no refusal and the venue may have acted: a submit is queried
  // by client id. Any other code is the venue's refusal: sending it again (and counting each on the circuit breaker)
  // would meet it again.
  if (err instanceof ccxt.ExchangeError && err.constructor === ccxt.ExchangeError && isInternalOrUncoded(msg)) return mk('unknown', 'VENUE_ERROR');
  if (err instanceof ccxt.ExchangeError) return mk('rejected', 'VENUE_REJECTED');
  if (err instanceof SyntaxError) return mk('unknown', 'BAD_RESPONSE');
  if (err instanceof VenueCallError) return err;
  return mk('unknown', 'VENUE_ERROR');
}

// The venues' codes of an internal failure, after which the request may have taken effect: MEXC's 500 "Internal
// error", 20002 "Internal system error", 730000 "Request failed"; Binance's -1000 "An unknown error occurred" and
// -1001 "Internal error" (ccxt's Binance map names them OperationFailed, already unknown: the rule holds should a map
// change).
const INTERNAL_ERROR_CODES: ReadonlySet<string> = new Set(['500', '20002', '730000', '-1000', '-1001']);

// True when the venue body in `msg` ("mexc {"code":20002,…}") carries an internal-error code or no code at all.
function isInternalOrUncoded(msg: string): boolean {
  const code = /"code":\s*"?(-?\d+)/.exec(msg)?.[1];
  return code === undefined || INTERNAL_ERROR_CODES.has(code);
}

/** How long nothing is sent after a WAF limit (HTTP 403) that names no Retry-After. */
export const WAF_BACKOFF_MS = 60_000;

// A WAF limit: HTTP 403 at the head of the message, or a body whose code is 403 ("Access Denied").
function isWafLimit(msg: string): boolean {
  return httpStatusOf(msg) === 403 || /"code":\s*"?403\b/.test(msg);
}

// The HTTP status at the head of a ccxt error message ("binance 418 I'm a teapot {…}", "mexc GET https://… 418 …").
export function httpStatusOf(msg: string): number | undefined {
  const m = /^\S+ (?:(?:GET|POST|PUT|DELETE) \S+ )?(\d{3}) /.exec(msg);
  return m ? Number(m[1]) : undefined;
}


/** The most trades one MEXC myTrades answer holds (MEXC spot v3: "Default 100; max 100"): a page this long may hide more. */
export const MEXC_TRADES_PAGE = 100;
/** The most trades one Binance myTrades answer holds ("Default 500; max 1000"). */
const BINANCE_TRADES_PAGE = 1000;
/** How far back MEXC's myTrades reaches ("only the transaction records in the past 1 month can be queried"). */
const MEXC_TRADES_KEPT_MS = 30 * 24 * 3_600_000;
// The first window of the backward search for a trade id this process has not read (doubling from there).
const MEXC_SEARCH_FIRST_MS = 3_600_000;
// Trade times remembered per symbol (the oldest forgotten first): a cursor among them needs no search.
const TRADE_TIMES_KEPT = 10_000;

/** Binance and MEXC spot orders through ccxt; see the header comment. */
export class CcxtExecVenue implements ExecutionVenue {
  readonly id: VenueId;
  readonly pushesEvents = false;
  readonly submitSettleMs: number;
  /** MEXC: fetchMyTrades reads every trade after the cursor by time (mexcTrades); Binance answers 1000 at a time. */
  readonly myTradesComplete: boolean;
  readonly supportsStopOrders: boolean;
  readonly symbols: readonly string[];
  /** Binance only (MEXC spot has no cancel-replace), and only through a client that has editOrder. */
  readonly replace?: (symbol: string, old: ReplacedOrderRef, req: VenueOrderRequest) => Promise<ReplaceResult>;
  private readonly ex: CcxtOrderApi;
  private readonly clock: Clock;
  private readonly insts = new Map<string, Instrument>();
  private readonly defaults: { rateLimitMs: number; banMs: number };
  /** The 429/418 gate every call passes (shared per REST origin, or private to this venue). */
  readonly gate: RestGate;
  /** Requests refused here because of a 429/418 block, and calls made. */
  readonly counters = { calls: 0, blockedLocally: 0 };
  /** The time of each MEXC trade read, per symbol: MEXC pages its history by time, the executor's cursor is a trade id. */
  private readonly tradeTimes = new Map<string, Map<string, TsMs>>();
  /** Milliseconds already reported as holding a full MEXC page (`symbol@ms`), so a poll does not repeat the error. */
  private readonly fullMsReported = new Set<string>();
  /** Kinds of amount already logged as rounded ('fee' | 'balance'): one info line each, then debug. */
  private readonly roundingLogged = new Set<string>();

  constructor(opts: CcxtExecOptions) {
    this.ex = opts.exchange;
    this.id = opts.venue;
    this.clock = opts.clock;
    for (const i of opts.instruments) this.insts.set(i.symbol, i);
    this.symbols = [...this.insts.keys()];
    this.submitSettleMs = opts.recvWindowMs ?? 10_000;
    this.myTradesComplete = opts.venue === 'mexc';
    this.supportsStopOrders = opts.venue !== 'mexc';
    if (opts.venue !== 'mexc' && typeof opts.exchange.editOrder === 'function') this.replace = (symbol, old, req) => this.cancelReplace(symbol, old, req);
    this.defaults = { rateLimitMs: opts.defaultRateLimitMs ?? 1_000, banMs: opts.defaultBanMs ?? 120_000 };
    this.gate = opts.gate ?? new RestGate(`${opts.venue} (private)`, opts.clock);
  }

  /** The time on this venue's clock until which nothing is sent (a 429 or 418 is in force), or undefined. */
  get blocked(): { kind: 'rateLimited' | 'banned'; untilTs: TsMs } | undefined {
    const b = this.gate.blocked;
    // The gate may run on another clock (a shared one runs on the system clock): carry the time left over.
    return b ? { kind: b.kind, untilTs: this.clock.now() + b.remainingMs } : undefined;
  }

  instrument(symbol: string): Instrument | undefined {
    return this.insts.get(symbol);
  }

  onEvent(_fn: (e: VenueEvent) => void): () => void {
    // ccxt REST has no push: the executor polls (pushesEvents is false).
    return () => {};
  }

  async submit(req: VenueOrderRequest): Promise<SubmitResult> {
    const { type, amount, price, params } = this.orderArgs(req);
    const o = await this.call('createOrder', () => this.ex.createOrder(req.symbol, type, req.side, amount, price, params));
    return this.submitAnswer(req, o, 'createOrder');
  }

  // ccxt's arguments for the order `req` (createOrder's and editOrder's alike).
  private orderArgs(req: VenueOrderRequest): { type: string; amount: number; price: number | undefined; params: Record<string, unknown> } {
    const inst = this.inst(req.symbol);
    const amount = Number(lotsToQty(inst, req.lots));
    const priced = req.orderType !== 'market';
    const price = priced && req.price !== undefined ? Number(ticksToPrice(inst, req.price)) : undefined;
    const params: Record<string, unknown> = this.id === 'mexc' ? { clientOrderId: req.clientOrderId } : { newClientOrderId: req.clientOrderId };
    if (req.orderType === 'limit' && req.timeInForce !== 'GTC') params['timeInForce'] = req.timeInForce;
    let type: string = req.orderType;
    if (req.orderType === 'stopLossLimit') {
      if (!this.supportsStopOrders) throw new VenueCallError('rejected', 'UNSUPPORTED_ORDER_TYPE', `${this.id} spot has no stop-loss-limit orders`);
      if (req.stopPrice === undefined || price === undefined) throw new VenueCallError('rejected', 'INVALID_ORDER', `stop-loss-limit ${req.clientOrderId} needs a price and a stopPrice`);
      type = 'STOP_LOSS_LIMIT';
      // An exact decimal string: ccxt sends it as given after its precision check.
      params['stopPrice'] = ticksToPrice(inst, req.stopPrice);
      params['timeInForce'] = req.timeInForce;
    }
    return { type, amount, price, params };
  }

  // The venue's answer `o` to the placement of `req` (by `what`), checked to name our order.
  private submitAnswer(req: VenueOrderRequest, o: unknown, what: string): SubmitResult {
    if (!isObj(o)) throw new VenueCallError('unknown', 'BAD_RESPONSE', `${what} answered ${typeof o} instead of an order`);
    const info = isObj(o['info']) ? o['info'] : undefined;
    const id = str(info, 'orderId') ?? str(o, 'id');
    const cid = str(info, 'clientOrderId') || str(o, 'clientOrderId') || undefined;
    if (!id) throw new VenueCallError('unknown', 'BAD_RESPONSE', `${what} answer for ${req.clientOrderId} has no order id`);
    if (cid !== undefined && cid !== req.clientOrderId) {
      throw new VenueCallError('unknown', 'BAD_RESPONSE', `${what} answer names client id ${cid}, not ${req.clientOrderId}`);
    }
    const status = str(info, 'status');
    if (status === 'REJECTED') return { status: 'rejected', code: 'VENUE_REJECTED', message: `venue answered REJECTED for ${req.clientOrderId}` };
    const ts = Number(str(info, 'transactTime') ?? o['timestamp'] ?? this.clock.now());
    return { status: 'accepted', venueOrderId: venueOrderId(id), ts };
  }

  // Binance's cancelReplace through ccxt's editOrder (STOP_ON_FAILURE); see ExecutionVenue.replace. A -2021/-2022
  // answer reaches us as a ccxt error whose message ends with the venue's body: its `data` says which half failed.
  private async cancelReplace(symbol: string, old: ReplacedOrderRef, req: VenueOrderRequest): Promise<ReplaceResult> {
    if (req.symbol !== symbol) throw new VenueCallError('rejected', 'INVALID_ORDER', `replace of ${old.clientOrderId} on ${symbol} names another symbol (${req.symbol})`);
    const { type, amount, price, params } = this.orderArgs(req);
    const oldId = old.venueOrderId ?? aliasedOrderId(old.clientOrderId);
    if (oldId === undefined) params['cancelOrigClientOrderId'] = old.clientOrderId;
    params['cancelReplaceMode'] = 'STOP_ON_FAILURE';
    // A stop that began filling is not cancelled (-2011 inside -2022: the caller's cancel-then-place path reads its
    // trades first); cancelled, its replacement would be sized on the position before those fills.
    params['cancelRestrictions'] = 'ONLY_NEW';
    let o: unknown;
    try {
      o = await this.call('editOrder', () => this.ex.editOrder!(oldId, symbol, type, req.side, amount, price, params));
    } catch (err) {
      const data = err instanceof VenueCallError && (err.kind === 'rejected' || err.kind === 'unknown') ? cancelReplaceData(err.message) : undefined;
      if (!data) throw err;
      return replaceFailure(old, req, data, this.clock.now(), err as VenueCallError);
    }
    const placed = this.submitAnswer(req, o, 'editOrder');
    if (placed.status === 'rejected') return { status: 'newRejected', cancelledTs: this.clock.now(), code: placed.code, message: placed.message };
    return { status: 'replaced', cancelledTs: this.clock.now(), placed };
  }

  async cancel(symbol: string, cid: ClientOrderId, vid?: VenueOrderId): Promise<CancelResult> {
    this.inst(symbol);
    const id = vid ?? aliasedOrderId(cid);
    const params = id !== undefined ? {} : this.id === 'mexc' ? { clientOrderId: cid } : { origClientOrderId: cid };
    try {
      await this.call('cancelOrder', () => this.ex.cancelOrder(id, symbol, params));
      return { status: 'cancelled', ts: this.clock.now() };
    } catch (err) {
      if (err instanceof VenueCallError && err.code === 'ORDER_NOT_FOUND') return { status: 'notOpen' };
      // Binance answers -2011 "Unknown order sent." for an order already closed; ccxt maps it to OrderNotFound or,
      // on some endpoints, OperationRejected.
      if (err instanceof VenueCallError && err.kind === 'rejected' && /unknown order/i.test(err.message)) return { status: 'notOpen' };
      throw err;
    }
  }

  async fetchOrder(symbol: string, cid: ClientOrderId): Promise<VenueOrder | undefined> {
    const inst = this.inst(symbol);
    // An order the engine named venue-<orderId> has no client id of ours at the venue: asked by its order id, and
    // answered under the name the engine knows it by.
    const id = aliasedOrderId(cid);
    const params = id !== undefined ? {} : this.id === 'mexc' ? { clientOrderId: cid } : { origClientOrderId: cid };
    try {
      const o = await this.call('fetchOrder', () => this.ex.fetchOrder(id, symbol, params));
      const v = this.toVenueOrder(inst, o);
      return id !== undefined ? { ...v, clientOrderId: cid } : v;
    } catch (err) {
      if (err instanceof VenueCallError && err.code === 'ORDER_NOT_FOUND') return undefined;
      throw err;
    }
  }

  async fetchOpenOrders(symbol?: string): Promise<VenueOrder[]> {
    const out: VenueOrder[] = [];
    // Binance weighs a symbol-less openOrders at 80 and ccxt refuses it by default: ask per symbol.
    for (const s of symbol !== undefined ? [symbol] : this.symbols) {
      const inst = this.inst(s);
      const rows = await this.call('fetchOpenOrders', () => this.ex.fetchOpenOrders(s));
      if (!Array.isArray(rows)) throw new VenueCallError('unknown', 'BAD_RESPONSE', 'fetchOpenOrders answered a non-list');
      for (const r of rows) out.push(this.toVenueOrder(inst, r));
    }
    return out;
  }

  async fetchBalances(): Promise<VenueBalance[]> {
    const b = await this.call('fetchBalance', () => this.ex.fetchBalance());
    const info = isObj(b) && isObj(b['info']) ? b['info'] : undefined;
    const rows = info?.['balances'];
    if (!Array.isArray(rows)) throw new VenueCallError('unknown', 'BAD_RESPONSE', 'fetchBalance answer has no info.balances list');
    return rows.filter(isObj).map((r) => {
      const asset = str(r, 'asset');
      const free = str(r, 'free');
      const locked = str(r, 'locked');
      if (!asset || free === undefined || locked === undefined) throw new VenueCallError('unknown', 'BAD_RESPONSE', `balance row ${JSON.stringify(r)} lacks asset/free/locked`);
      // Rounded down: what the engine may spend is never overstated (an order sized on it would be refused).
      return { asset, free: this.amount(free, 'down', 'balance', asset) as Money, locked: this.amount(locked, 'down', 'balance', asset) as Money };
    });
  }

  async fetchMyTrades(symbol: string, sinceTradeId?: string): Promise<VenueTrade[]> {
    const inst = this.inst(symbol);
    if (this.id === 'mexc') return this.mexcTrades(inst, symbol, sinceTradeId);
    // Binance pages by trade id (fromId is inclusive). Without a cursor, from the first trade (fromId 0): without
    // fromId Binance answers the newest trades, and the next page (past the newest) would leave the older ones unread.
    const params: Record<string, unknown> = { fromId: '0' };
    if (sinceTradeId !== undefined && /^\d+$/.test(sinceTradeId)) params['fromId'] = String(BigInt(sinceTradeId) + 1n);
    const rows = await this.call('fetchMyTrades', () => this.ex.fetchMyTrades(symbol, undefined, BINANCE_TRADES_PAGE, params));
    if (!Array.isArray(rows)) throw new VenueCallError('unknown', 'BAD_RESPONSE', 'fetchMyTrades answered a non-list');
    return rows.map((r) => this.toTrade(inst, r));
  }

  /**
   * Returns every trade of order `id` on `symbol` the venue lists, oldest first, selected by myTrades' orderId. Binance
   * pages by fromId (symbol + orderId + fromId is one of its documented combinations); MEXC by time over the month it
   * keeps, a full page split as in mexcRange, so what stays out of reach is more than MEXC_TRADES_PAGE of this order's
   * trades in one millisecond.
   */
  async fetchOrderTrades(symbol: string, id: VenueOrderId): Promise<VenueTrade[]> {
    const inst = this.inst(symbol);
    const read = this.id === 'mexc'
      ? await this.mexcRange(inst, symbol, this.clock.now() - MEXC_TRADES_KEPT_MS, undefined, id)
      : await this.binanceOrderTrades(inst, symbol, id);
    const byId = new Map<string, VenueTrade>();
    // Kept to what was asked: a venue that ignored orderId would answer other orders' trades too.
    for (const t of read) if (t.venueOrderId === id) byId.set(t.tradeId, t);
    return [...byId.values()].sort(byTimeThenId);
  }

  // Binance: the order's trades, BINANCE_TRADES_PAGE at a time from trade id 0 on (fromId is inclusive).
  private async binanceOrderTrades(inst: Instrument, symbol: string, id: VenueOrderId): Promise<VenueTrade[]> {
    const out: VenueTrade[] = [];
    for (let fromId = 0n; ;) {
      const params = { orderId: id, fromId: String(fromId) };
      const rows = await this.call('fetchMyTrades', () => this.ex.fetchMyTrades(symbol, undefined, BINANCE_TRADES_PAGE, params));
      if (!Array.isArray(rows)) throw new VenueCallError('unknown', 'BAD_RESPONSE', 'fetchMyTrades answered a non-list');
      const page = rows.map((r) => this.toTrade(inst, r));
      out.push(...page);
      let next = fromId;
      for (const t of page) if (/^\d+$/.test(t.tradeId) && BigInt(t.tradeId) >= next) next = BigInt(t.tradeId) + 1n;
      // A short page is the last; so is one that would not move the cursor (ids that are no integers).
      if (page.length < BINANCE_TRADES_PAGE || next === fromId) return out;
      fromId = next;
    }
  }

  /**
   * MEXC's myTrades has no trade-id cursor: it selects by time (startTime, endTime) and answers at most
   * MEXC_TRADES_PAGE trades, so every trade after `sinceTradeId` is read by time, from that trade's time on (known when
   * this process read it; else found by walking back from now, window by window, to the window holding it; without
   * a cursor, the month MEXC keeps). A full page proves nothing about the rest of its range, which is then split
   * (mexcRange). Returns them oldest first, the cursor's own trade left out; trades of its millisecond that were
   * already booked come again and the executor skips them (fills are keyed by trade id).
   */
  private async mexcTrades(inst: Instrument, symbol: string, sinceTradeId: string | undefined): Promise<VenueTrade[]> {
    const now = this.clock.now();
    const oldest = now - MEXC_TRADES_KEPT_MS;
    const byId = new Map<string, VenueTrade>();
    const read = async (from: number, to?: number): Promise<void> => {
      for (const t of await this.mexcRange(inst, symbol, Math.max(from, oldest), to)) byId.set(t.tradeId, t);
    };
    let fromTs = sinceTradeId !== undefined ? this.tradeTimes.get(symbol)?.get(sinceTradeId) : undefined;
    let notKept = false;
    if (sinceTradeId === undefined) await read(oldest);
    else if (fromTs !== undefined) await read(fromTs);
    else {
      // The newest window has no end: a clock behind MEXC's must not hide its latest trades.
      let to: number | undefined;
      for (let span = MEXC_SEARCH_FIRST_MS, end = now; ; span *= 2) {
        const from = Math.max(oldest, end - span);
        await read(from, to);
        fromTs = byId.get(sinceTradeId)?.ts;
        if (fromTs !== undefined) break;
        if (from <= oldest) {
          log().warn({ venue: this.id, symbol, sinceTradeId, code: 'TRADE_CURSOR_NOT_KEPT' },
            'mexc: the last booked trade is older than the month of history MEXC keeps: every trade it keeps is returned');
          notKept = true;
          break;
        }
        end = from - 1;
        to = end;
      }
    }
    const times = this.tradeTimes.get(symbol) ?? new Map<string, TsMs>();
    this.tradeTimes.set(symbol, times);
    for (const t of byId.values()) times.set(t.tradeId, t.ts);
    // Searched once: the next polls read from the start of what MEXC kept then (one request each, not the whole search).
    if (notKept && sinceTradeId !== undefined) times.set(sinceTradeId, oldest as TsMs);
    for (const k of times.keys()) {
      if (times.size <= TRADE_TIMES_KEPT) break;
      times.delete(k);
    }
    return [...byId.values()].filter((t) => t.tradeId !== sinceTradeId && (fromTs === undefined || t.ts >= fromTs)).sort(byTimeThenId);
  }

  /**
   * Returns every trade of `symbol` with a time in [from, to] (no end when `to` is undefined). A page shorter than
   * MEXC_TRADES_PAGE is the whole range; a full one may be its newest or its oldest trades (MEXC does not say which),
   * so the range is read again in parts that each end inside it: up to the page's oldest millisecond, between, and
   * from its newest. A single millisecond holding a full page cannot be split by time: it is read per order
   * (mexcMillisecond); with `orderId` (the trades of that order only) it cannot be split at all (mexcOrderMillisecond).
   */
  private async mexcRange(inst: Instrument, symbol: string, from: number, to: number | undefined, orderId?: string): Promise<VenueTrade[]> {
    const page = await this.mexcPage(inst, symbol, from, to, orderId);
    for (const t of page) {
      if (t.ts < from || (to !== undefined && t.ts > to)) {
        throw new VenueCallError('unknown', 'BAD_RESPONSE', `mexc myTrades for ${symbol} in [${from}, ${to ?? 'now'}] answered trade ${t.tradeId} at ${t.ts}, outside the range asked`);
      }
    }
    if (page.length < MEXC_TRADES_PAGE) return page;
    const lo = Math.min(...page.map((t) => t.ts));
    const hi = Math.max(...page.map((t) => t.ts));
    if (to === undefined) return [...await this.mexcRange(inst, symbol, from, hi, orderId), ...await this.mexcRange(inst, symbol, hi + 1, undefined, orderId)];
    if (from === to) return orderId === undefined ? this.mexcMillisecond(inst, symbol, from, page) : this.mexcOrderMillisecond(symbol, from, orderId, page);
    const parts: Array<[number, number]> = lo === hi ? [[from, lo - 1], [lo, lo], [lo + 1, to]] : [[from, lo], [lo + 1, hi - 1], [hi, to]];
    const out: VenueTrade[] = [];
    for (const [a, b] of parts) if (a <= b) out.push(...await this.mexcRange(inst, symbol, a, b, orderId));
    return out;
  }

  // Millisecond `ms` holds a full page of order `orderId`'s trades: neither time nor orderId selects the rest, so the
  // page is all there is to read (logged once; reconciliation reports the order FILLS_MISSING).
  private mexcOrderMillisecond(symbol: string, ms: number, orderId: string, page: readonly VenueTrade[]): VenueTrade[] {
    const key = `${symbol}@${ms}#${orderId}`;
    if (!this.fullMsReported.has(key)) {
      this.fullMsReported.add(key);
      log().error({ venue: this.id, symbol, ts: ms, orderId, page: page.length, code: 'MEXC_TRADES_PAGE_FULL' },
        'mexc lists a full page of one order\'s trades in one millisecond: more there cannot be read (time and orderId are its only selectors); the order is reported FILLS_MISSING');
    }
    return [...page];
  }

  /**
   * Returns the trades of millisecond `ms`, whose answer was the full `page`. Time cannot split it, but MEXC's myTrades
   * also selects by orderId: each order on the page is read on its own in that millisecond. What stays out of reach
   * is logged once per millisecond (MEXC_TRADES_PAGE_FULL): more than a page of one order's trades there, and the
   * trades of an order none of whose trades made the page (reconciliation reads an order of ours among them by its
   * order id, fetchOrderTrades, once the venue reports it closed with more filled than booked).
   */
  private async mexcMillisecond(inst: Instrument, symbol: string, ms: number, page: readonly VenueTrade[]): Promise<VenueTrade[]> {
    const byId = new Map(page.map((t) => [t.tradeId, t]));
    const fullOrders: string[] = [];
    const orderIds = [...new Set(page.map((t) => t.venueOrderId))];
    for (const orderId of orderIds) {
      const own = await this.mexcPage(inst, symbol, ms, ms, orderId);
      if (own.length >= MEXC_TRADES_PAGE) fullOrders.push(orderId);
      // Kept to what was asked: should MEXC ignore the time range next to orderId, the rest is read by its own range.
      for (const t of own) if (t.ts === ms && t.venueOrderId === orderId) byId.set(t.tradeId, t);
    }
    const key = `${symbol}@${ms}`;
    if (!this.fullMsReported.has(key)) {
      this.fullMsReported.add(key);
      const fields = { venue: this.id, symbol, ts: ms, page: page.length, orders: orderIds.length, trades: byId.size, fullOrders, code: 'MEXC_TRADES_PAGE_FULL' };
      if (fullOrders.length > 0) {
        log().error(fields, 'mexc lists a full page of one order\'s trades in one millisecond: more there cannot be read (time and orderId are its only selectors); the order is reported FILLS_MISSING');
      } else {
        log().warn(fields, 'mexc lists a full page of our trades in one millisecond: read per order id; an order of ours with none of its trades on that page is read by its order id when reconciliation finds it short');
      }
    }
    return [...byId.values()];
  }

  /** Returns one MEXC myTrades answer: trades in [from, to] (no end when `to` is undefined), of `orderId` when given. */
  private async mexcPage(inst: Instrument, symbol: string, from: number, to: number | undefined, orderId?: string): Promise<VenueTrade[]> {
    const params: Record<string, unknown> = { ...(to !== undefined ? { until: to } : {}), ...(orderId !== undefined ? { orderId } : {}) };
    const rows = await this.call('fetchMyTrades', () => this.ex.fetchMyTrades(symbol, from, MEXC_TRADES_PAGE, params));
    if (!Array.isArray(rows)) throw new VenueCallError('unknown', 'BAD_RESPONSE', 'fetchMyTrades answered a non-list');
    return rows.map((r) => this.toTrade(inst, r));
  }

  /** Runs one ccxt call behind the 429/418 gate, classifying what it throws. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const b = this.gate.admit();
    if (b) {
      this.counters.blockedLocally++;
      const code = b.kind === 'banned' ? 'VENUE_IP_BANNED' : 'VENUE_RATE_LIMITED';
      const untilTs = this.clock.now() + b.remainingMs;
      throw new VenueCallError(b.kind, code, `${code}: ${what} not sent, ${this.id} blocks us until ${new Date(untilTs).toISOString()}`, b.remainingMs);
    }
    this.counters.calls++;
    try {
      return await fn();
    } catch (err) {
      const { error: c, block } = classifyOnGate(this.gate, err, this.ex.last_response_headers, this.defaults);
      if (block) {
        const untilTs = this.clock.now() + (this.gate.blocked?.remainingMs ?? 0);
        log().warn({ venue: this.id, call: what, code: c.code, origin: this.gate.origin, untilTs }, `${this.id} ${block.kind === 'banned' ? 'banned this IP' : 'rate-limited us'}: nothing is sent until then`);
      }
      throw c;
    }
  }

  private inst(symbol: string): Instrument {
    const i = this.insts.get(symbol);
    if (!i) throw new VenueCallError('rejected', 'UNKNOWN_SYMBOL', `${this.id} venue has no instrument ${symbol}`);
    return i;
  }

  private toVenueOrder(inst: Instrument, o: unknown): VenueOrder {
    if (!isObj(o)) throw new VenueCallError('unknown', 'BAD_RESPONSE', 'order answer is not an object');
    const info = isObj(o['info']) ? o['info'] : {};
    const id = str(info, 'orderId') ?? str(o, 'id');
    if (!id) throw new VenueCallError('unknown', 'BAD_RESPONSE', `order answer lacks an order id: ${JSON.stringify(info).slice(0, 200)}`);
    // An order placed by hand (MEXC's UI) has no client id: named as the executor names an order it did not place.
    // MEXC lists such an order with `"clientOrderId": null` or `""` (ccxt's samples show both): empty is none.
    const cid = str(info, 'clientOrderId') || str(o, 'clientOrderId') || `${ADOPTED_ORDER_PREFIX}${id}`;
    const rawStatus = str(info, 'status');
    const status = (rawStatus !== undefined ? BINANCE_STATUS[rawStatus] : undefined) ?? unifiedStatus(str(o, 'status'), Number(o['filled'] ?? 0));
    const type = (str(info, 'type') ?? str(o, 'type') ?? 'limit').toLowerCase();
    const orderType: VenueOrderType = type === 'market' ? 'market' : type === 'stop_loss_limit' ? 'stopLossLimit' : 'limit';
    const stopStr = orderType === 'stopLossLimit' ? (str(info, 'stopPrice') ?? str(o, 'triggerPrice') ?? str(o, 'stopPrice')) : undefined;
    const stopPrice = stopStr !== undefined ? this.ticks(inst, stopStr) : undefined;
    const side: Side = (str(info, 'side') ?? str(o, 'side') ?? '').toLowerCase() === 'sell' ? 'sell' : 'buy';
    // MEXC has no timeInForce field (IOC/FOK are order types): ccxt's unified one is read from the type then.
    const tif = (str(info, 'timeInForce') ?? str(o, 'timeInForce') ?? 'GTC') as TimeInForce;
    const priceStr = str(info, 'price');
    const price = orderType !== 'market' ? (priceStr !== undefined ? this.ticks(inst, priceStr) : stepsOr(o['price'], inst, 'price')) : undefined;
    const lots = str(info, 'origQty') !== undefined ? this.lots(inst, str(info, 'origQty')!) : (stepsOr(o['amount'], inst, 'qty') ?? 0);
    const filled = str(info, 'executedQty') !== undefined ? this.lots(inst, str(info, 'executedQty')!) : (stepsOr(o['filled'], inst, 'qty') ?? 0);
    return {
      clientOrderId: clientOrderId(cid), venueOrderId: venueOrderId(id), symbol: inst.symbol, side, orderType, timeInForce: ['GTC', 'IOC', 'FOK'].includes(tif) ? tif : 'GTC',
      ...(price !== undefined && price > 0 ? { price: price as Ticks } : {}), ...(stopPrice !== undefined && stopPrice > 0 ? { stopPrice } : {}), lots: lots as Lots, filledLots: filled as Lots, status,
      ts: Number(str(info, 'updateTime') ?? o['lastUpdateTimestamp'] ?? o['timestamp'] ?? this.clock.now()),
    };
  }

  private toTrade(inst: Instrument, t: unknown): VenueTrade {
    if (!isObj(t)) throw new VenueCallError('unknown', 'BAD_RESPONSE', 'trade answer is not an object');
    const info = isObj(t['info']) ? t['info'] : {};
    const id = str(info, 'id') ?? str(t, 'id');
    const orderId = str(info, 'orderId') ?? str(t, 'order');
    const px = str(info, 'price');
    const qty = str(info, 'qty');
    if (!id || !orderId || px === undefined || qty === undefined) {
      throw new VenueCallError('unknown', 'BAD_RESPONSE', `trade answer lacks id, orderId, price or qty: ${JSON.stringify(info).slice(0, 200)}`);
    }
    const isBuyer = info['isBuyer'];
    const isMaker = info['isMaker'];
    const side: Side = typeof isBuyer === 'boolean' ? (isBuyer ? 'buy' : 'sell') : str(t, 'side') === 'sell' ? 'sell' : 'buy';
    const maker = typeof isMaker === 'boolean' ? isMaker : str(t, 'takerOrMaker') === 'maker';
    return {
      venueOrderId: venueOrderId(orderId), tradeId: id, venue: this.id, symbol: inst.symbol, side, price: this.ticks(inst, px), lots: this.lots(inst, qty),
      // Rounded up: the fee booked is never less than the one paid.
      fee: this.amount(str(info, 'commission') ?? '0', 'up', 'fee', inst.symbol) as Money, feeAsset: str(info, 'commissionAsset') ?? inst.quote, liquidity: maker ? 'maker' : 'taker',
      ts: Number(str(info, 'time') ?? t['timestamp'] ?? this.clock.now()),
    };
  }

  /** Returns `s` in 1e-9 units, rounded `dir` when it has more than 9 decimals (logged: one info line per kind). */
  private amount(s: string, dir: 'up' | 'down', kind: 'fee' | 'balance', of: string): bigint {
    const r = roundedFixed(s, dir);
    if (r.exact) return r.value;
    const fields = { venue: this.id, kind, of, raw: s, rounded: formatFixed(r.value), code: 'AMOUNT_ROUNDED' };
    if (this.roundingLogged.has(kind)) log().debug(fields, `${this.id} ${kind} rounded ${dir} to 9 decimals`);
    else {
      this.roundingLogged.add(kind);
      log().info(fields, `${this.id} sends ${kind} amounts with more than 9 decimals: rounded ${dir} to 9 (at most 1e-9 off); later ones are logged at debug`);
    }
    return r.value;
  }

  private ticks(inst: Instrument, s: string): Ticks {
    try {
      return priceToTicks(inst, s);
    } catch (err) {
      throw new VenueCallError('unknown', 'BAD_RESPONSE', `price '${s}' from ${this.id} is not on ${inst.symbol}'s tick grid`, undefined, { cause: err });
    }
  }

  private lots(inst: Instrument, s: string): Lots {
    try {
      return qtyToLots(inst, s);
    } catch (err) {
      throw new VenueCallError('unknown', 'BAD_RESPONSE', `quantity '${s}' from ${this.id} is not on ${inst.symbol}'s lot grid`, undefined, { cause: err });
    }
  }
}

/**
 * Returns the decimal string `s` in 1e-9 units, rounded `dir` ('up' towards +infinity, 'down' towards -infinity) when
 * it has more than 9 decimals, and whether it was exact; a string that is no plain decimal is a BAD_RESPONSE.
 */
export function roundedFixed(s: string, dir: 'up' | 'down'): { value: bigint; exact: boolean } {
  let d;
  try {
    d = parseDecimal(s);
  } catch (err) {
    throw new VenueCallError('unknown', 'BAD_RESPONSE', `amount '${s}' is not a plain decimal`, undefined, { cause: err });
  }
  if (d.scale <= FIXED_SCALE) return { value: d.mantissa * 10n ** BigInt(FIXED_SCALE - d.scale), exact: true };
  const div = 10n ** BigInt(d.scale - FIXED_SCALE);
  const q = d.mantissa / div; // truncated towards zero
  const rem = d.mantissa % div;
  if (rem === 0n) return { value: q, exact: true };
  return { value: dir === 'up' ? (rem > 0n ? q + 1n : q) : (rem < 0n ? q - 1n : q), exact: false };
}

/** What Binance's -2021/-2022 cancelReplace answer carries in `data`. */
interface CancelReplaceData {
  readonly cancelResult?: unknown;
  readonly newOrderResult?: unknown;
  readonly cancelResponse?: unknown;
  readonly newOrderResponse?: unknown;
}

// The `data` of a -2021/-2022 body at the end of a ccxt error message ("binance {"code":-2022,…,"data":{…}}"), else
// undefined (another error, or a body that does not parse: the error then stands as classified).
function cancelReplaceData(msg: string): CancelReplaceData | undefined {
  const at = msg.search(/\{"code":\s*-202[12]\b/);
  if (at < 0) return undefined;
  try {
    const body: unknown = JSON.parse(msg.slice(at));
    return isObj(body) && isObj(body['data']) ? body['data'] : undefined;
  } catch {
    return undefined;
  }
}

// Our code for the venue's refusal {code, msg} of a cancelReplace's new order, as classifyCcxtError names a
// createOrder's: what the executor's stop logic reads (INSUFFICIENT_FUNDS; the message for "would trigger immediately").
function refusalCode(code: number, msg: string): string {
  if (/insufficient balance/i.test(msg)) return 'INSUFFICIENT_FUNDS';
  if (code === -1121) return 'UNKNOWN_SYMBOL';
  if (code === -1013 || code === -2010 || (code <= -1100 && code > -1200)) return 'INVALID_ORDER';
  return 'VENUE_REJECTED';
}

// The ReplaceResult of a -2021/-2022 answer; a combination STOP_ON_FAILURE cannot give is an unreadable answer.
function replaceFailure(old: ReplacedOrderRef, req: VenueOrderRequest, d: CancelReplaceData, now: TsMs, err: VenueCallError): ReplaceResult {
  const part = (x: unknown): { code: number; msg: string } => ({ code: Number(isObj(x) ? x['code'] : NaN), msg: str(isObj(x) ? x : undefined, 'msg') ?? '' });
  if (d.cancelResult === 'FAILURE' && d.newOrderResult === 'NOT_ATTEMPTED') {
    const c = part(d.cancelResponse);
    // -2011 "Unknown order sent.": the order is not open (filled, cancelled or never there).
    const notOpen = c.code === -2011 && /unknown order/i.test(c.msg);
    return { status: 'cancelFailed', notOpen, code: notOpen ? 'ORDER_NOT_FOUND' : 'CANCEL_REJECTED', message: `cancel of ${old.clientOrderId} failed (${c.code}: ${c.msg}): ${req.clientOrderId} not placed` };
  }
  if (d.cancelResult === 'SUCCESS' && d.newOrderResult === 'FAILURE') {
    const n = part(d.newOrderResponse);
    // The client id is still open at the venue: that order exists, whatever this refusal says.
    if (/duplicate order/i.test(n.msg)) throw new VenueCallError('unknown', 'DUPLICATE_CLIENT_ORDER_ID', `${req.clientOrderId} replacing ${old.clientOrderId}: ${n.msg}`, undefined, { cause: err });
    const code = refusalCode(n.code, n.msg);
    return { status: 'newRejected', cancelledTs: now, code, message: `${code}: ${old.clientOrderId} cancelled, ${req.clientOrderId} refused (${n.code}: ${n.msg})` };
  }
  throw new VenueCallError('unknown', 'BAD_RESPONSE', `cancelReplace answered cancel ${String(d.cancelResult)}, new order ${String(d.newOrderResult)}: not a STOP_ON_FAILURE outcome`, undefined, { cause: err });
}

// The venue's order id a client id of the engine's naming (venue-<orderId>) stands for, else undefined.
function aliasedOrderId(cid: ClientOrderId): string | undefined {
  return cid.startsWith(ADOPTED_ORDER_PREFIX) && cid.length > ADOPTED_ORDER_PREFIX.length ? cid.slice(ADOPTED_ORDER_PREFIX.length) : undefined;
}

// Oldest first; within a millisecond, by trade id (numeric ids by value).
function byTimeThenId(a: VenueTrade, b: VenueTrade): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  const x = a.tradeId;
  const y = b.tradeId;
  if (/^\d+$/.test(x) && /^\d+$/.test(y) && x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

function unifiedStatus(s: string | undefined, filled: number): OrderStatus {
  if (s === 'open') return filled > 0 ? 'partiallyFilled' : 'accepted';
  if (s === 'closed') return 'filled';
  if (s === 'canceled') return 'cancelled';
  if (s === 'expired') return 'expired';
  if (s === 'rejected') return 'rejected';
  throw new VenueCallError('unknown', 'BAD_RESPONSE', `order status '${String(s)}' is not known`);
}

function stepsOr(x: unknown, inst: Instrument, what: 'price' | 'qty'): number | undefined {
  if (typeof x !== 'number' || !Number.isFinite(x)) return undefined;
  return floatToSteps(x, what === 'price' ? inst.tickSize : inst.lotSize);
}
