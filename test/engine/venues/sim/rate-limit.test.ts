// The simulator's request-weight limit as Binance enforces it (review_sim finding 3): a 429 carries Retry-After (the
// seconds until the minute turns), and a client that keeps sending while a 429 is in force gets an IP ban, HTTP 418
// with Retry-After and "IP banned until <ms>". The engine's venue adapter (CcxtExecVenue, through the real ccxt
// binance client) must read both and hold its calls back locally.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ccxt from 'ccxt';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { binanceCcxtOptions } from '../../../../engine/venues/binance/rest.ts';
import { CcxtExecVenue } from '../../../../engine/venues/ccxt-exec.ts';
import { BAN_AFTER_IGNORED_429, FIRST_BAN_MS } from '../../../../engine/venues/sim/rate-limit.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const KEY = 'rateTestKey0001';
const SECRET = 'rate-test-secret-0001';
const BTC = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'sim' });
// 10 s into a wall-clock minute: a 429 now has 50 s left to run.
const T0 = Math.floor(Date.now() / 60_000) * 60_000 + 60_000 + 10_000;

let sim: ExchangeSim;
const wall = new SimulatedClock(T0);

beforeAll(async () => {
  sim = await startExchangeSim({
    files: FILES, speed: 'manual', wallClock: wall, weightLimitPerMinute: 100,
    accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '1000' } }],
  });
}, 60_000);
afterAll(async () => {
  await sim?.close();
});

const ping = async () => {
  const r = await fetch(`${sim.url}/api/v3/ping`);
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() as { code?: number; msg?: string } };
};

describe('exchange simulator rate limit', () => {
  it('answers 429 with Retry-After, then 418 with Retry-After once a client ignores it; the engine honours both', async () => {
    const exchange = new ccxt.binance(binanceCcxtOptions({ baseUrl: sim.url, apiKey: KEY, secret: SECRET, rateLimit: false }) as never) as InstanceType<typeof ccxt.binance>;
    // ccxt stamps signed requests with its own clock: make it the simulator's wall clock.
    exchange.nonce = () => wall.now();
    await exchange.loadMarkets();
    const venue = new CcxtExecVenue({ exchange: exchange as never, venue: 'sim', instruments: [BTC], clock: wall });
    wall.set(T0 + 60_000); // a fresh minute, 10 s in

    const fill: number[] = [];
    for (let i = 0; i < 5; i++) fill.push((await fetch(`${sim.url}/api/v3/exchangeInfo`)).status); // weight 20 each: 100 of 100
    const limited = await ping();
    wall.advance(5_000);
    const engine429 = await venue.fetchBalances().catch((e: unknown) => e);
    const block429 = venue.blocked;
    // Another process on the same IP keeps sending while the 429 is in force.
    const ignored: number[] = [];
    for (let i = 0; i < BAN_AFTER_IGNORED_429 - 2; i++) ignored.push((await ping()).status);
    const ban = await ping();
    const banStart = wall.now();
    wall.advance(60_000); // the 429 has run out, the engine sends again: into the ban
    const engine418 = await venue.fetchBalances().catch((e: unknown) => e);
    const block418 = venue.blocked;
    const heldBack = await venue.fetchBalances().catch((e: unknown) => e);
    wall.set(banStart + FIRST_BAN_MS);
    const afterBan = await venue.fetchBalances();

    expect(fill).toEqual([200, 200, 200, 200, 200]);
    expect(limited).toEqual({
      status: 429, retryAfter: '50',
      body: { code: -1003, msg: 'Too much request weight used; current limit is 100 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.' },
    });
    expect(engine429).toMatchObject({ kind: 'rateLimited', code: 'VENUE_RATE_LIMITED', retryAfterMs: 45_000 });
    expect(block429).toEqual({ kind: 'rateLimited', untilTs: T0 + 60_000 + 50_000 });
    expect(ignored.every((s) => s === 429)).toBe(true);
    expect(ban).toEqual({
      status: 418, retryAfter: String(FIRST_BAN_MS / 1000),
      body: { code: -1003, msg: `Way too much request weight used; IP banned until ${banStart + FIRST_BAN_MS}. Please use WebSocket Streams for live updates to avoid bans.` },
    });
    expect(engine418).toMatchObject({ kind: 'banned', code: 'VENUE_IP_BANNED', retryAfterMs: FIRST_BAN_MS - 60_000 });
    expect(block418).toEqual({ kind: 'banned', untilTs: banStart + FIRST_BAN_MS });
    expect(heldBack).toMatchObject({ kind: 'banned', code: 'VENUE_IP_BANNED' });
    expect(venue.counters.blockedLocally).toBe(1);
    expect(afterBan.find((b) => b.asset === 'USDT')?.free).toBe(1_000_000_000_000n);
  });

  it('bans a repeat offender twice as long', async () => {
    wall.advance(120_000);
    for (let i = 0; i < 5; i++) await fetch(`${sim.url}/api/v3/exchangeInfo`);
    const statuses: number[] = [];
    let last = await ping();
    statuses.push(last.status);
    for (let i = 0; i < 5 * BAN_AFTER_IGNORED_429 && last.status === 429; i++) {
      last = await ping();
      statuses.push(last.status);
    }
    expect(statuses).toEqual([...Array<number>(BAN_AFTER_IGNORED_429).fill(429), 418]);
    expect(last.retryAfter).toBe(String((2 * FIRST_BAN_MS) / 1000));
  });
});
