import ccxt, { type Exchange } from 'ccxt';
import { VenueError } from '../../types/errors.ts';
import { makeInstrument, type Instrument, type VenueId } from '../../types/instrument.ts';
import type { Lots, Ticks } from '../../types/price.ts';
import { stepsOf } from './frames.ts';
import { instrumentGrid } from './parse-depth.ts';
import type { Candle, DepthSnapshot, Level } from '../../messages/market.ts';
import type { Clock } from '../../runtime/clock.ts';
import { classifyOnGate, httpStatusOf } from '../ccxt-exec.ts';
import { restGateFor, type RestGate } from '../rest-gate.ts';
import type { VenueBlock } from './backoff.ts';

import { BINANCE_REST_URL } from '../rest-urls.ts';

export { BINANCE_REST_URL };

/** Options for the Binance REST client. Without `baseUrl` it talks to Binance itself. */
export interface BinanceRestOptions {
  /** e.g. `http://127.0.0.1:9443` for the exchange simulator; every ccxt API URL is rewritten onto it. */
  readonly baseUrl?: string;
  /** Base URL of the websocket side, used by ccxt.pro clients built from the same options. */
  readonly wsUrl?: string;
  readonly apiKey?: string;
  readonly secret?: string;
  readonly timeoutMs?: number;
  readonly venue?: VenueId;
  /** ccxt's limiter queues bursts; rollingWindow keeps weights honest without serialising every call. */
  readonly rateLimit?: boolean;
  /**
   * recvWindow signed into every private request (ccxt's default is 10 000 ms). The executor waits this long after an
   * unknown submission outcome before it queries the order, so the two must be the same value.
   */
  readonly recvWindowMs?: number;
}

/**
 * Rewrites every URL under `urls.api` onto `baseUrl` (keeping paths), so an exchange pointed at the simulator
 * cannot reach the real venue through an endpoint we forgot to override.
 */
export function rewriteApiUrls(api: unknown, baseUrl: string, wsUrl?: string): unknown {
  const base = new URL(baseUrl);
  const ws = wsUrl ? new URL(wsUrl) : undefined;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string' && /^(https?|wss?):\/\//.test(v)) {
      const u = new URL(v);
      const isWs = u.protocol.startsWith('ws');
      const target = isWs ? (ws ?? new URL(base.href.replace(/^http/, 'ws'))) : base;
      // A URL without a path ('https://api.mexc.com') must stay without one: ccxt appends '/api/v3/…' to it.
      const path = /^[a-z]+:\/\/[^/]+$/i.test(v) ? '' : u.pathname;
      // The target's own path is kept in front (the simulator serves its MEXC dialect under /mexc).
      const prefix = target.pathname.replace(/\/+$/, '');
      return `${target.protocol}//${target.host}${prefix}${path}${u.search}`;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(api);
}

/** Returns the ccxt constructor options for Binance spot, pointed at `baseUrl` when given. */
export function binanceCcxtOptions(opts: BinanceRestOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {
    enableRateLimit: opts.rateLimit ?? true,
    rateLimiterAlgorithm: 'rollingWindow',
    timeout: opts.timeoutMs ?? 10_000,
    options: {
      defaultType: 'spot', fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false,
      ...(opts.recvWindowMs !== undefined ? { recvWindow: opts.recvWindowMs } : {}),
    },
  };
  if (opts.apiKey) out.apiKey = opts.apiKey;
  if (opts.secret) out.secret = opts.secret;
  if (opts.baseUrl) {
    const proto = new ccxt.binance() as unknown as { urls: { api: unknown } };
    out.urls = { api: rewriteApiUrls(proto.urls.api, opts.baseUrl, opts.wsUrl) };
  }
  return out;
}

// CloudFront's 403 page for a blocked country, and Binance's "restricted location" wording.
const GEO_BLOCK = /block access from your country|restricted location|could not be satisfied/i;

/**
 * Returns a ccxt Binance spot client with `opts` (binanceCcxtOptions) that reads the HTTP status before the body.
 * Binance: "HTTP 403 return code is used when the WAF Limit (Web Application Firewall) has been violated", which ccxt
 * throws as ExchangeNotAvailable (an HTML page) or a plain ExchangeError (JSON), neither a limit on the origin; and
 * "HTTP 5XX ... the execution status is UNKNOWN", whatever code the body carries (ccxt calls a code its map lacks a
 * plain ExchangeError, which classifyCcxtError takes for a refusal). Both are thrown in the shape of ccxt's own 418
 * ("<id> <status> <reason> <body>"), whose status classifyCcxtError reads: a 403 as the WAF limit, recorded on the
 * origin's gate, a 5xx as an unknown outcome.
 */
export function binanceExchange(opts: BinanceRestOptions): Exchange {
  const exchange = new ccxt.binance(binanceCcxtOptions(opts) as never) as Exchange;
  const handleErrors = exchange.handleErrors.bind(exchange);
  exchange.handleErrors = (code, reason, url, method, headers, body, response, requestHeaders, requestBody) => {
    const head = `${exchange.id} ${code} ${reason} ${body}`;
    // A country block (CloudFront's page) is no limit that passes: a refusal naming it, not a minute's back-off for ever.
    if (code === 403 && GEO_BLOCK.test(body)) throw new ccxt.PermissionDenied(`${head}: access from this location is blocked by the venue`);
    if (code === 403) throw new ccxt.RateLimitExceeded(head);
    if (code >= 500) throw new ccxt.ExchangeNotAvailable(head);
    return handleErrors(code, reason, url, method, headers, body, response, requestHeaders, requestBody);
  };
  return exchange;
}

interface RawFilter { filterType: string; tickSize?: string; stepSize?: string; minNotional?: string; notional?: string }
interface RawSymbol { symbol: string; baseAsset: string; quoteAsset: string; status: string; filters: RawFilter[] }

/**
 * A failed Binance REST call. `httpStatus` is the venue's answer when one came; `block` is set for a 429 (rate limited)
 * or 418 (IP banned) with how long nothing may be sent (Retry-After, or the ban's end), which the caller must honour:
 * Binance bans the whole IP, order placement included, for requests sent inside that window. A call the origin's gate
 * refused before sending (a block another client met) has no `httpStatus` and the time left as `block`.
 */
export class BinanceRestError extends VenueError {
  constructor(message: string, readonly httpStatus: number | undefined, readonly block: VenueBlock | undefined, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Binance spot REST through ccxt's implicit API, which returns the venue's raw decimal strings (never floats). Every
 * call passes the process-wide 429/418 gate of the base URL's origin (rest-gate.ts), shared with the executor.
 */
export class BinanceRest {
  readonly exchange: Exchange;
  /** The 429/418 gate of this client's REST origin. */
  readonly gate: RestGate;
  private readonly venue: VenueId;

  constructor(opts: BinanceRestOptions = {}) {
    this.exchange = binanceExchange(opts);
    this.venue = opts.venue ?? 'binance';
    this.gate = restGateFor(opts.baseUrl ?? BINANCE_REST_URL);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const refused = this.gate.admit();
    if (refused) {
      throw new BinanceRestError(`binance ${what} not sent: ${this.gate.refusal(refused)}`, undefined, { kind: refused.kind, retryAfterMs: refused.remainingMs });
    }
    try {
      return await fn();
    } catch (err) {
      // The executor's classifier reads 429/418 and Retry-After (and scrubs signed URLs from the message).
      const { block } = classifyOnGate(this.gate, err, this.exchange.last_response_headers as Record<string, string> | undefined);
      throw new BinanceRestError(`binance ${what} failed: ${(err as Error).message}`, httpStatusOf((err as Error)?.message ?? ''), block, { cause: err });
    }
  }

  /** Returns instruments for `symbols` (unified `ETH/USDT` form) from exchangeInfo's raw filter strings. */
  async instruments(symbols: readonly string[]): Promise<Instrument[]> {
    const ids = symbols.map((s) => s.replace('/', ''));
    const info = await this.call('exchangeInfo', () =>
      (this.exchange as unknown as { publicGetExchangeInfo(p: object): Promise<{ symbols: RawSymbol[] }> })
        .publicGetExchangeInfo({ symbols: JSON.stringify(ids) }));
    return symbols.map((symbol, i) => {
      const raw = info.symbols.find((s) => s.symbol === ids[i]);
      if (!raw) throw new VenueError(`binance exchangeInfo has no symbol ${ids[i]}`);
      const f = (t: string) => raw.filters.find((x) => x.filterType === t);
      const tick = f('PRICE_FILTER')?.tickSize;
      const step = f('LOT_SIZE')?.stepSize;
      const minNotional = f('NOTIONAL')?.minNotional ?? f('MIN_NOTIONAL')?.minNotional ?? '0';
      if (!tick || !step) throw new VenueError(`binance exchangeInfo for ${raw.symbol} lacks PRICE_FILTER or LOT_SIZE`);
      return makeInstrument({ symbol, venueSymbol: raw.symbol, venue: this.venue, tickSize: tick, lotSize: step, minNotional });
    });
  }

  /**
   * Returns a REST depth snapshot in ticks and lots, by the grid rule the stream's frames go through: real books hold
   * quantities off today's lot grid (orders placed under an older step size, e.g. 191.389006 BTC at 100,000), which
   * are rounded to the lot and would otherwise fail every snapshot while such a level is within the 1000 returned.
   */
  async depthSnapshot(inst: Instrument, limit = 1000, clock?: Clock): Promise<DepthSnapshot> {
    const raw = await this.depthAnswer(inst, limit) as { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] };
    const grid = instrumentGrid(inst);
    const steps = (v: string, isPrice: boolean): number => {
      const n = stepsOf(grid, v, isPrice);
      if (typeof n === 'string') throw new VenueError(`binance depth snapshot of ${inst.venueSymbol}: ${n}`);
      return n;
    };
    const lv = (rows: [string, string][]): Level[] => rows.map(([p, q]) => [steps(p, true) as Ticks, steps(q, false) as Lots] as const);
    const now = clock?.now() ?? Date.now();
    return { type: 'md.snapshot', venue: this.venue, symbol: inst.symbol, lastUpdateId: Number(raw.lastUpdateId), bids: lv(raw.bids), asks: lv(raw.asks), tsExchange: now, tsLocal: now };
  }

  /** Returns /api/v3/depth's answer for `inst` as the venue sent it (the recorder writes it verbatim). */
  depthAnswer(inst: Instrument, limit = 1000): Promise<unknown> {
    return this.call('depth', () =>
      (this.exchange as unknown as { publicGetDepth(p: object): Promise<unknown> }).publicGetDepth({ symbol: inst.venueSymbol, limit }));
  }

  /** Returns /api/v3/ticker/price's answer for `inst` as the venue sent it (`{ symbol, price }`, price a decimal string). */
  tickerPriceAnswer(inst: Instrument): Promise<unknown> {
    return this.call('ticker/price', () =>
      (this.exchange as unknown as { publicGetTickerPrice(p: object): Promise<unknown> }).publicGetTickerPrice({ symbol: inst.venueSymbol }));
  }

  /** Returns klines (closed and forming) as float candles; `closed` is judged against `nowMs`. */
  async klines(inst: Instrument, interval: '1s' | '1m' | '1h' | '1d', opts: { startTime?: number; endTime?: number; limit?: number; nowMs: number }): Promise<Candle[]> {
    const params: Record<string, unknown> = { symbol: inst.venueSymbol, interval, limit: opts.limit ?? 1000 };
    if (opts.startTime !== undefined) params.startTime = opts.startTime;
    if (opts.endTime !== undefined) params.endTime = opts.endTime;
    const rows = await this.call('klines', () =>
      (this.exchange as unknown as { publicGetKlines(p: object): Promise<unknown[][]> }).publicGetKlines(params));
    return rows.map((r) => ({
      openTime: Number(r[0]),
      open: Number(r[1]),
      high: Number(r[2]),
      low: Number(r[3]),
      close: Number(r[4]),
      volume: Number(r[5]),
      trades: Number(r[8]),
      closed: Number(r[6]) < opts.nowMs,
    }));
  }
}
