// MEXC spot REST through ccxt's implicit API: klines and ticker price as the venue's raw decimal strings.
// MEXC's v3 spot API has Binance's shapes (/api/v3/klines, /api/v3/ticker/price), but its hour interval is '60m'
// and it has no 1s klines. Every call passes the process-wide 429/418 gate of the base URL's origin (rest-gate.ts).
// mexcSpotExchange's client (the executor's too) treats an HTTP 418 as the ban it is, whatever code its body carries,
// an HTTP 5xx as an unknown outcome and an HTTP 403 (MEXC's WAF limit) as a rate limit of the origin.
import ccxt, { type Exchange } from 'ccxt';
import { VenueError } from '../../types/errors.ts';
import { rewriteApiUrls } from '../binance/rest.ts';
import { classifyOnGate } from '../ccxt-exec.ts';
import { restGateFor, type RestGate } from '../rest-gate.ts';

import { MEXC_REST_URL } from '../rest-urls.ts';

export { MEXC_REST_URL };

/** Options of the MEXC REST client. Without `baseUrl` it talks to MEXC itself. */
export interface MexcRestOptions {
  /** e.g. `http://127.0.0.1:9443`; every ccxt API URL is rewritten onto it. */
  readonly baseUrl?: string;
  readonly timeoutMs?: number;
  readonly rateLimit?: boolean;
  /** Keys for the signed (order) endpoints. */
  readonly apiKey?: string;
  readonly secret?: string;
  /** How long MEXC accepts a signed request after its timestamp (MEXC allows at most 60 000 ms). */
  readonly recvWindowMs?: number;
}

/** Kline intervals MEXC serves that the engine keeps (no 1s on MEXC). */
export type MexcInterval = '1m' | '1h' | '1d';

/** One kline exactly as MEXC sends it: times as integers, prices and volumes as decimal strings. */
export interface MexcRawKline {
  readonly openTime: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  readonly volume: string;
  readonly closeTime: number;
}

/** Returns the ccxt constructor options for MEXC spot, pointed at `baseUrl` when given. */
export function mexcCcxtOptions(opts: MexcRestOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {
    enableRateLimit: opts.rateLimit ?? true,
    rateLimiterAlgorithm: 'rollingWindow',
    timeout: opts.timeoutMs ?? 10_000,
    options: { defaultType: 'spot', fetchCurrencies: false, ...(opts.recvWindowMs !== undefined ? { recvWindow: opts.recvWindowMs } : {}) },
  };
  // With keys, ccxt would load currencies from the wallet endpoint (capital/config/getall) before any order: a
  // trade-only key may lack that permission, and the engine needs only the spot markets.
  out.has = { fetchCurrencies: false };
  if (opts.apiKey) out.apiKey = opts.apiKey;
  if (opts.secret) out.secret = opts.secret;
  if (opts.baseUrl) {
    const proto = new ccxt.mexc() as unknown as { urls: { api: unknown } };
    out.urls = { api: rewriteApiUrls(proto.urls.api, opts.baseUrl) };
  }
  return out;
}

// MEXC's body codes of a refused key or signature (10072 invalid key, 700002 bad signature, 602 signature check
// failed): an authentication failure even under an HTTP 403, never the WAF limit.
const MEXC_AUTH_CODES: ReadonlySet<string> = new Set(['10072', '700002', '602']);

/**
 * Returns a ccxt MEXC spot client with `opts` whose loadMarkets reads the spot markets only. ccxt's own fetchMarkets
 * (4.5.x) always fetches the futures contract list as well (contract/detail, another service: no option turns it
 * off), so a futures outage would fail loadMarkets and refuse a spot-only start.
 */
export function mexcSpotExchange(opts: MexcRestOptions): Exchange {
  const exchange = new ccxt.mexc(mexcCcxtOptions(opts) as never);
  exchange.fetchMarkets = async (params = {}) => {
    if (exchange.options['adjustForTimeDifference'] === true) await exchange.loadTimeDifference();
    return exchange.fetchSpotMarkets(params);
  };
  // ccxt's MEXC client classifies an error answer by its body's code alone, and its message drops the HTTP status: a
  // 418 (IP ban) whose body carries MEXC's 429 code would become a rate limit of a second. The status decides first,
  // in the shape ccxt's Binance client gives a ban ("<id> 418 <reason> <body>"), which classifyCcxtError reads.
  // MEXC: "HTTP 5XX ... the execution status is UNKNOWN and could have been a success", whatever the body's code (ccxt
  // calls a body code 500 a plain refusal); "HTTP 403 ... the WAF Limit has been violated" (its body code 403 "Access
  // Denied": stop calling, retry later), a rate limit on the whole origin rather than a refused key.
  const handleErrors = exchange.handleErrors.bind(exchange);
  exchange.handleErrors = (code, reason, url, method, headers, body, response, requestHeaders, requestBody) => {
    const head = `${exchange.id} ${code} ${reason} ${body}`;
    if (code === 418) throw new ccxt.DDoSProtection(head);
    if (code >= 500) throw new ccxt.ExchangeNotAvailable(head);
    const bodyCode = exchange.safeString(response, 'code');
    if ((code === 403 || bodyCode === '403') && !MEXC_AUTH_CODES.has(bodyCode ?? '')) throw new ccxt.RateLimitExceeded(head);
    return handleErrors(code, reason, url, method, headers, body, response, requestHeaders, requestBody);
  };
  return exchange;
}

const MEXC_INTERVAL: Record<MexcInterval, string> = { '1m': '1m', '1h': '60m', '1d': '1d' };
const DECIMAL_RE = /^\d+(?:\.\d+)?$/;

/** Returns the MEXC venue symbol of a unified one (`ETH/USDT` → `ETHUSDT`). */
export const mexcSymbol = (symbol: string): string => symbol.replace('/', '');

interface ImplicitMexc {
  spotPublicGetKlines(p: object): Promise<unknown>;
  spotPublicGetTickerPrice(p: object): Promise<unknown>;
}

/** MEXC spot market data (public endpoints only). */
export class MexcRest {
  readonly exchange: Exchange;
  /** The 429/418 gate of this client's REST origin, shared with the executor when it trades on MEXC. */
  readonly gate: RestGate;

  constructor(opts: MexcRestOptions = {}) {
    this.exchange = mexcSpotExchange(opts);
    this.gate = restGateFor(opts.baseUrl ?? MEXC_REST_URL);
  }

  private get api(): ImplicitMexc {
    return this.exchange as unknown as ImplicitMexc;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const refused = this.gate.admit();
    if (refused) throw new VenueError(`mexc ${what} not sent: ${this.gate.refusal(refused)}`);
    try {
      return await fn();
    } catch (err) {
      // Classified as the executor does (429 with Retry-After, 418 with the ban's end), the block recorded on the gate.
      classifyOnGate(this.gate, err, this.exchange.last_response_headers as Record<string, string> | undefined);
      throw new VenueError(`mexc ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Returns raw klines of `symbol` (unified form), oldest first; a row that is not a kline is a VenueError. */
  async klines(symbol: string, interval: MexcInterval, q: { startTime?: number; endTime?: number; limit?: number } = {}): Promise<MexcRawKline[]> {
    const params: Record<string, unknown> = { symbol: mexcSymbol(symbol), interval: MEXC_INTERVAL[interval], limit: q.limit ?? 1000 };
    if (q.startTime !== undefined) params.startTime = q.startTime;
    if (q.endTime !== undefined) params.endTime = q.endTime;
    const rows = await this.call('klines', () => this.api.spotPublicGetKlines(params));
    if (!Array.isArray(rows)) throw new VenueError(`mexc klines for ${symbol} returned ${typeof rows}, expected an array`);
    return rows.map((r, i) => parseRawKline(r, `mexc klines for ${symbol} row ${i}`));
  }

  /** Returns the last traded price of `symbol` as MEXC's decimal string. */
  async tickerPrice(symbol: string): Promise<string> {
    const raw = await this.call('ticker/price', () => this.api.spotPublicGetTickerPrice({ symbol: mexcSymbol(symbol) }));
    const price = (raw as { price?: unknown } | null)?.price;
    if (typeof price !== 'string' || !DECIMAL_RE.test(price)) {
      throw new VenueError(`mexc ticker/price for ${symbol} has price ${JSON.stringify(price)}, expected a decimal string`);
    }
    return price;
  }
}

/** Returns a kline row `[openTime, o, h, l, c, v, closeTime, …]` checked field by field; throws VenueError naming `where`. */
export function parseRawKline(row: unknown, where: string): MexcRawKline {
  if (!Array.isArray(row) || row.length < 7) throw new VenueError(`${where} is not a kline array of at least 7 fields`);
  const time = (i: number, name: string): number => {
    const v = Number(row[i]);
    if (!Number.isSafeInteger(v) || v < 0) throw new VenueError(`${where}: ${name} ${JSON.stringify(row[i])} is not a time in ms`);
    return v;
  };
  // MEXC sends strings; a number is accepted only in its plain decimal form.
  const dec = (i: number, name: string): string => {
    const v = typeof row[i] === 'number' ? String(row[i]) : row[i];
    if (typeof v !== 'string' || !DECIMAL_RE.test(v)) throw new VenueError(`${where}: ${name} ${JSON.stringify(row[i])} is not a decimal`);
    return v;
  };
  return {
    openTime: time(0, 'open time'), open: dec(1, 'open'), high: dec(2, 'high'), low: dec(3, 'low'), close: dec(4, 'close'),
    volume: dec(5, 'volume'), closeTime: time(6, 'close time'),
  };
}
