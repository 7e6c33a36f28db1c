// Where the DataProvider gets klines and prices over REST: one port per venue, and a failover that prefers
// Binance and moves to MEXC while a circuit breaker is open, probing Binance again after the cool-down.
import type { Logger } from '../../engine/log.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { Candle } from '../../engine/messages/market.ts';
import type { Bus } from '../../engine/runtime/bus.ts';
import type { Clock } from '../../engine/runtime/clock.ts';
import type { BinanceRest } from '../../engine/venues/binance/rest.ts';
import type { BackoffPolicy } from '../../engine/venues/binance/backoff.ts';
import { CircuitBreaker, type BreakerState } from '../../engine/venues/circuit-breaker.ts';
import type { MexcRest } from '../../engine/venues/mexc/rest.ts';
import { withRetry } from '../../engine/venues/retry.ts';
import { VenueError } from '../../engine/types/errors.ts';
import type { Instrument } from '../../engine/types/instrument.ts';
import { timeframeMs, type Timeframe, type TsMs } from '../../engine/types/time.ts';

/** A REST venue the DataProvider can ask. */
export type SourceName = 'binance' | 'mexc';
/** Where a price came from: a REST venue or the trade stream. */
export type PriceSourceName = SourceName | 'stream';

/** A kline request: bars with open time in [startTime, endTime]; `nowMs` judges which are closed. */
export interface KlineQuery {
  readonly startTime?: TsMs;
  readonly endTime?: TsMs;
  readonly limit?: number;
  readonly nowMs: TsMs;
}

/** One venue's REST market data. */
export interface MarketSource {
  readonly name: SourceName;
  /** Returns klines oldest first (closed and forming; `closed` judged against `q.nowMs`). */
  klines(symbol: string, tf: Timeframe, q: KlineQuery): Promise<Candle[]>;
  /** Returns the last traded price. */
  price(symbol: string): Promise<number>;
}

/** Anything that answers kline requests and says where the answer came from (REST failover, CSV archive). */
export interface KlineSource {
  klines(symbol: string, tf: Timeframe, q: KlineQuery): Promise<{ candles: Candle[]; source: string }>;
}

/** A price and its source. */
export interface SourcedPrice {
  readonly price: number;
  readonly source: PriceSourceName;
  readonly ts: TsMs;
}

/** Returns a MarketSource over BinanceRest (klines via its raw-string client, price via /api/v3/ticker/price). */
export function binanceSource(rest: BinanceRest, instruments: ReadonlyMap<string, Instrument>): MarketSource {
  const inst = (symbol: string): Instrument => {
    const i = instruments.get(symbol);
    if (!i) throw new VenueError(`binance source has no instrument for ${symbol}`);
    return i;
  };
  return {
    name: 'binance',
    klines: (symbol, tf, q) => rest.klines(inst(symbol), tf, q),
    async price(symbol) {
      // Through BinanceRest, so the price poll passes the origin's 429/418 gate like every other REST call.
      const raw = await rest.tickerPriceAnswer(inst(symbol));
      return decimalPrice((raw as { price?: unknown } | null)?.price, `binance ticker/price for ${symbol}`);
    },
  };
}

/** Returns a MarketSource over MexcRest; 1s klines do not exist on MEXC and are a VenueError. */
export function mexcSource(rest: MexcRest): MarketSource {
  return {
    name: 'mexc',
    async klines(symbol, tf, q) {
      if (tf === '1s') throw new VenueError('mexc has no 1s klines');
      const rows = await rest.klines(symbol, tf, q);
      return rows.map((r) => ({
        openTime: r.openTime, open: Number(r.open), high: Number(r.high), low: Number(r.low), close: Number(r.close),
        volume: Number(r.volume), closed: r.openTime + timeframeMs(tf) <= q.nowMs,
      }));
    },
    async price(symbol) {
      return decimalPrice(await rest.tickerPrice(symbol), `mexc ticker/price for ${symbol}`);
    },
  };
}

function decimalPrice(v: unknown, where: string): number {
  const x = typeof v === 'string' && /^\d+(?:\.\d+)?$/.test(v) ? Number(v) : NaN;
  if (!(x > 0)) throw new VenueError(`${where} has price ${JSON.stringify(v)}, expected a positive decimal string`);
  return x;
}

/** Settings of the failover. */
export interface FailoverOptions {
  readonly clock: Clock;
  /** Consecutive failed calls (after retries) that open the breaker. */
  readonly failureThreshold: number;
  /** How long the breaker stays open before Binance is probed again. */
  readonly cooldownMs: number;
  /** Attempts per call on one venue, with `backoff` between them (default 2). */
  readonly attempts?: number;
  readonly backoff?: BackoffPolicy;
  readonly rng?: () => number;
  readonly log?: Logger;
  /** Where the move to the fallback venue and back is published (md.feedSource), for the operator's alerts. */
  readonly bus?: Bus<EngineMsg>;
}

/** Counters of the failover. */
export interface FailoverStats {
  primaryCalls: number;
  primaryFailures: number;
  fallbackCalls: number;
  fallbackFailures: number;
}

const DEFAULT_RETRY_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 2_000, factor: 2, jitter: 0.5 };

/**
 * Binance first, MEXC as fallback. Each call goes to Binance while its breaker lets it through (closed, or the one
 * half-open probe), with retry and backoff on the clock; a failed call counts once against the breaker and is
 * answered by MEXC. While the breaker is open every call goes to MEXC. A successful probe closes it: back to Binance.
 */
export class FailoverMarket implements KlineSource {
  readonly breaker: CircuitBreaker;
  readonly stats: FailoverStats = { primaryCalls: 0, primaryFailures: 0, fallbackCalls: 0, fallbackFailures: 0 };
  private lastSource: SourceName | undefined;
  private onFallback = false;

  constructor(readonly primary: MarketSource, readonly fallback: MarketSource | undefined, private readonly opts: FailoverOptions) {
    this.breaker = new CircuitBreaker(opts.clock, { failureThreshold: opts.failureThreshold, openMs: opts.cooldownMs }, (s) => this.onBreaker(s));
  }

  /** Returns the venue that answered the last call (undefined before the first). */
  get source(): SourceName | undefined {
    return this.lastSource;
  }

  /** Returns `fn`'s answer from the first venue that gives one, and that venue's name. */
  async call<T>(what: string, fn: (s: MarketSource) => Promise<T>): Promise<{ value: T; source: SourceName }> {
    let primaryErr: unknown;
    if (this.breaker.allow()) {
      this.stats.primaryCalls++;
      try {
        const value = await this.retrying(what, this.primary, fn);
        this.breaker.success();
        this.used(this.primary.name);
        return { value, source: this.primary.name };
      } catch (err) {
        this.stats.primaryFailures++;
        this.breaker.failure();
        primaryErr = err;
        this.opts.log?.warn({ source: this.primary.name, what, err: (err as Error).message, breaker: this.breaker.state }, 'primary venue call failed');
      }
    }
    if (!this.fallback) {
      throw primaryErr ?? new VenueError(`${what}: ${this.primary.name} circuit is open and no fallback venue is configured`);
    }
    this.stats.fallbackCalls++;
    try {
      const value = await this.retrying(what, this.fallback, fn);
      this.used(this.fallback.name);
      return { value, source: this.fallback.name };
    } catch (err) {
      this.stats.fallbackFailures++;
      const first = primaryErr === undefined ? `${this.primary.name} circuit open` : `${this.primary.name}: ${(primaryErr as Error).message}`;
      throw new VenueError(`${what} failed on every venue (${first}; ${this.fallback.name}: ${(err as Error).message})`, { cause: err });
    }
  }

  /** Returns klines from the first venue that answers. */
  async klines(symbol: string, tf: Timeframe, q: KlineQuery): Promise<{ candles: Candle[]; source: string }> {
    const r = await this.call(`klines ${symbol} ${tf}`, (s) => s.klines(symbol, tf, q));
    return { candles: r.value, source: r.source };
  }

  /** Returns the price from the first venue that answers. */
  async price(symbol: string): Promise<SourcedPrice> {
    const r = await this.call(`price ${symbol}`, (s) => s.price(symbol));
    return { price: r.value, source: r.source, ts: this.opts.clock.now() };
  }

  private retrying<T>(what: string, s: MarketSource, fn: (s: MarketSource) => Promise<T>): Promise<T> {
    return withRetry(() => fn(s), {
      attempts: this.opts.attempts ?? 2,
      backoff: this.opts.backoff ?? DEFAULT_RETRY_BACKOFF,
      clock: this.opts.clock,
      rng: this.opts.rng,
      retryable: () => true,
      onRetry: (err, attempt, delayMs) => this.opts.log?.debug({ source: s.name, what, attempt, delayMs, err: (err as Error).message }, 'retrying venue call'),
    });
  }

  private used(source: SourceName): void {
    if (this.lastSource !== source) this.opts.log?.info({ source, previous: this.lastSource ?? null }, 'market data source');
    this.lastSource = source;
  }

  private onBreaker(s: BreakerState): void {
    this.opts.log?.info({ venue: this.primary.name, breaker: s }, 'circuit breaker');
    // The breaker, not the venue that answered one call, marks the switch: one failed call answered by the fallback
    // while the breaker stays closed is not a move, and a failed probe (half-open -> open) keeps the fallback.
    const { bus } = this.opts;
    if (!this.fallback || !bus || s === 'halfOpen' || (s === 'open') === this.onFallback) return;
    this.onFallback = s === 'open';
    const reason = this.onFallback
      ? `${this.primary.name} failed ${this.opts.failureThreshold} call(s) in a row: its circuit breaker is open for ${this.opts.cooldownMs} ms`
      : `a probe of ${this.primary.name} succeeded: its circuit breaker is closed`;
    bus.publish({
      type: 'md.feedSource', status: this.onFallback ? 'fallback' : 'primary', venue: this.onFallback ? this.fallback.name : this.primary.name,
      primary: this.primary.name, fallback: this.fallback.name, reason, ts: this.opts.clock.now(),
    });
  }
}
