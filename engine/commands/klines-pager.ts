// Paging a venue's REST klines for `cobalt klines fetch`, through the engine's own clients (BinanceRest, MexcRest) and
// so through the process-wide 429/418 gate of the base URL's origin (engine/venues/rest-gate.ts). Binance spot
// documents GET /api/v3/klines at weight 2 and at most 1000 bars per request (MEXC: the same maximum); ccxt's rate
// limiter (enableRateLimit, as the clients set it) paces requests far below the 6000 weight a minute per IP. A 429 is
// waited out for as long as its Retry-After says and the request sent again; a 418 (IP ban) stops the fetch at once,
// since every request sent during a ban lengthens it; a network error or a 5xx is retried a few times with backoff.
// Binance answers some 5xx with a JSON body (-1000 unknown error, -1001 internal error, -1008 server overloaded) that
// ccxt turns into OperationFailed or ExchangeError, not a NetworkError: those are transient too.
import ccxt, { type Exchange } from 'ccxt';
import { constants } from 'node:os';
import type { Candle } from '../messages/market.ts';
import { VenueError } from '../types/errors.ts';
import type { Timeframe } from '../types/time.ts';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from '../venues/binance/backoff.ts';
import { BinanceRest } from '../venues/binance/rest.ts';
import { classifyOnGate, httpStatusOf } from '../venues/ccxt-exec.ts';
import { MexcRest, type MexcInterval } from '../venues/mexc/rest.ts';
import type { RestGate } from '../venues/rest-gate.ts';

/** The venues `cobalt klines fetch` reads. */
export type KlinesVenueName = 'binance' | 'mexc';

/** One venue's klines of one symbol and timeframe, as the pager asks for them. */
export interface KlinesVenue {
  readonly name: KlinesVenueName;
  /** The 429/418 gate of the client's REST origin. */
  readonly gate: RestGate;
  /** Checks the symbol where the venue can tell (Binance: exchangeInfo); throws a VenueError naming it otherwise. */
  prepare(): Promise<void>;
  /** Returns the venue's clock (GET /api/v3/time), which says which bars have closed. */
  serverTimeMs(): Promise<number>;
  /** Returns up to `limit` bars opening in [startMs, endMs], oldest first, as the venue sent them. */
  page(startMs: number, endMs: number, limit: number): Promise<Candle[]>;
}

/** Returns the klines of `symbol` (unified, `ETH/USDT`) and `tf` on `venue` at `baseUrl`; MEXC has no 1s klines. */
export function openKlinesVenue(venue: KlinesVenueName, baseUrl: string, symbol: string, tf: Timeframe): KlinesVenue {
  return venue === 'binance' ? binanceKlines(baseUrl, symbol, tf) : mexcKlines(baseUrl, symbol, tf);
}

function binanceKlines(baseUrl: string, symbol: string, tf: Timeframe): KlinesVenue {
  const rest = new BinanceRest({ baseUrl });
  let inst: Awaited<ReturnType<BinanceRest['instruments']>>[number] | undefined;
  return {
    name: 'binance',
    gate: rest.gate,
    prepare: async () => {
      [inst] = await rest.instruments([symbol]);
    },
    serverTimeMs: () => gatedTime(rest.gate, rest.exchange, 'binance'),
    page: (startMs, endMs, limit) => {
      if (!inst) throw new Error('binance klines: prepare() must run first');
      // Every bar asked for lies before the server time read at the start: `closed` is not used.
      return rest.klines(inst, tf, { startTime: startMs, endTime: endMs, limit, nowMs: Number.POSITIVE_INFINITY });
    },
  };
}

function mexcKlines(baseUrl: string, symbol: string, tf: Timeframe): KlinesVenue {
  if (tf === '1s') throw new VenueError('mexc has no 1s klines: fetch them from binance');
  const rest = new MexcRest({ baseUrl });
  return {
    name: 'mexc',
    gate: rest.gate,
    // MEXC's klines answer names an unknown symbol on the first page.
    prepare: () => Promise.resolve(),
    serverTimeMs: () => gatedTime(rest.gate, rest.exchange, 'mexc'),
    page: async (startMs, endMs, limit) => {
      const rows = await rest.klines(symbol, tf as MexcInterval, { startTime: startMs, endTime: endMs, limit });
      return rows.map((r) => ({
        openTime: r.openTime, open: Number(r.open), high: Number(r.high), low: Number(r.low), close: Number(r.close), volume: Number(r.volume), closed: true,
      }));
    },
  };
}

// GET /api/v3/time through the gate, as the clients' own calls go (they have no server-time method).
async function gatedTime(gate: RestGate, exchange: Exchange, venue: string): Promise<number> {
  const refused = gate.admit();
  if (refused) throw new VenueError(`${venue} time not sent: ${gate.refusal(refused)}`);
  try {
    const t = await exchange.fetchTime();
    if (typeof t !== 'number' || !Number.isSafeInteger(t)) throw new VenueError(`${venue} time answered ${JSON.stringify(t)}, expected epoch milliseconds`);
    return t;
  } catch (err) {
    if (err instanceof VenueError) throw err;
    classifyOnGate(gate, err, exchange.last_response_headers as Record<string, string> | undefined);
    throw new VenueError(`${venue} time failed: ${(err as Error).message}`, { cause: err });
  }
}

/** How the pager waits and how often it tries again. */
export interface RetryPolicy {
  /** Resolves after `ms`; tests move a simulated clock instead of sleeping. */
  readonly sleep: (ms: number) => Promise<void>;
  /** 429s waited out in a row before giving up. */
  readonly rateLimitWaits: number;
  /** Network errors and 5xx answers retried in a row before giving up. */
  readonly transientRetries: number;
  readonly backoff: BackoffPolicy;
  readonly onRetry?: (what: string, reason: string, waitMs: number) => void;
}

/** The default policy: real sleeps, 5 waits for a 429, 4 retries with backoff (250 ms doubling) for the rest. */
export const DEFAULT_RETRY: RetryPolicy = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), rateLimitWaits: 5, transientRetries: 4, backoff: DEFAULT_BACKOFF,
};

/** Returns `fn()`, waiting out 429s and retrying transient failures under `policy`; see the header. */
export async function retrying<T>(gate: RestGate, what: string, fn: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  let waits = 0;
  let retries = 0;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const block = gate.blocked;
      if (block?.kind === 'banned') {
        throw new VenueError(`${what} stopped: ${gate.refusal(block)} (HTTP 418); nothing more was sent, as requests during a ban lengthen it`, { cause: err });
      }
      if (block?.kind === 'rateLimited') {
        if (++waits > policy.rateLimitWaits) throw new VenueError(`${what} still rate limited (HTTP 429) after ${policy.rateLimitWaits} waits: ${(err as Error).message}`, { cause: err });
        policy.onRetry?.(what, 'rate limited (HTTP 429)', block.remainingMs);
        await policy.sleep(block.remainingMs);
        continue;
      }
      if (!isTransient(err) || ++retries > policy.transientRetries) throw err;
      const ms = backoffDelay(policy.backoff, retries - 1);
      policy.onRetry?.(what, (err as Error).message, ms);
      await policy.sleep(ms);
    }
  }
}

// Binance's codes for a failure on its side that a later request may not meet: -1000 UNKNOWN, -1001 DISCONNECTED
// (internal error), -1008 SERVER_BUSY (overloaded).
const TRANSIENT_CODES = new Set([-1000, -1001, -1008]);

/** @internal True for a failure worth sending again: a network failure, a timeout, an HTTP 5xx, or a transient Binance code. */
export function isTransient(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ccxt.NetworkError) return true;
    const status = (e as { httpStatus?: unknown }).httpStatus ?? httpStatusOf(e.message);
    if (typeof status === 'number' && status >= 500) return true;
    // ccxt puts the body in the message: `binance {"code":-1000,"msg":"…"}`.
    const code = /"code"\s*:\s*(-?\d+)/.exec(e.message);
    if (code && TRANSIENT_CODES.has(Number(code[1]))) return true;
  }
  return false;
}

/** Why a fetch stopped early when the user interrupted it (Ctrl-C, or a SIGTERM): carries the signal's exit code. */
export class FetchInterrupted extends Error {
  /** 128 + the signal's number, as a shell reports a process the signal ended (SIGINT 130, SIGTERM 143). */
  readonly exitCode: number;

  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
    this.name = 'FetchInterrupted';
    this.exitCode = 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0);
  }
}

/** Returns `work`, or rejects with a FetchInterrupted as soon as `stop` aborts (its reason names the signal). */
export function unlessStopped<T>(work: Promise<T>, stop: AbortSignal | undefined): Promise<T> {
  if (!stop) return work;
  const interrupted = (): FetchInterrupted => new FetchInterrupted(typeof stop.reason === 'string' ? stop.reason : 'SIGINT');
  if (stop.aborted) return Promise.reject(interrupted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(interrupted());
    stop.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => stop.removeEventListener('abort', onAbort));
  });
}

/** What the pager fetched: the bars in order, the requests sent, and the failure that stopped it early, if any. */
export interface PagedKlines {
  readonly candles: Candle[];
  readonly requests: number;
  readonly error?: Error;
}

/**
 * Returns the bars opening in [fromMs, untilMs) (fromMs on the `stepMs` grid), page after page of `pageLimit` from
 * `fromMs` up, until a page comes back empty. A short page does not end it: a venue may cap `limit` lower than asked.
 * A failure that retrying does not cure ends it with what was fetched so far and the error; so does `stop` aborting
 * (a FetchInterrupted), at once: the page in flight is not waited for.
 */
export async function pageKlines(
  v: KlinesVenue, q: { fromMs: number; untilMs: number; stepMs: number; pageLimit: number }, policy: RetryPolicy,
  onPage?: (lastOpenMs: number, count: number) => void, stop?: AbortSignal,
): Promise<PagedKlines> {
  const candles: Candle[] = [];
  let requests = 0;
  let cursor = q.fromMs;
  const what = `${v.name} klines`;
  try {
    while (cursor < q.untilMs) {
      const page = await unlessStopped(retrying(v.gate, what, () => {
        requests++;
        return v.page(cursor, q.untilMs - 1, q.pageLimit);
      }, policy), stop);
      const inRange = page.filter((c) => c.openTime >= cursor && c.openTime < q.untilMs);
      if (inRange.length === 0) break;
      for (const c of inRange) {
        const prev = candles[candles.length - 1];
        if (c.openTime % q.stepMs !== 0) throw new VenueError(`${what} sent a bar opening at ${new Date(c.openTime).toISOString()}, off the ${q.stepMs} ms grid`);
        if (prev && c.openTime <= prev.openTime) throw new VenueError(`${what} sent a bar opening at ${new Date(c.openTime).toISOString()} after one opening at ${new Date(prev.openTime).toISOString()}`);
        candles.push(c);
      }
      cursor = candles[candles.length - 1]!.openTime + q.stepMs;
      onPage?.(cursor, candles.length);
    }
  } catch (err) {
    return { candles, requests, error: err as Error };
  }
  return { candles, requests };
}
