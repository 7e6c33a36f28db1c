// Review finding (live trading safety): the feed's depth snapshots, the DataProvider's klines and prices, and the
// executor's ccxt client each kept their own view of a 429/418, so while one was told to back off the others kept
// sending, and on Binance requests inside a 429's window end in a 418 IP ban that refuses orders and cancels too.
// Against the exchange simulator on 127.0.0.1 (a 429 with Retry-After, a 418 with "IP banned until"), on a simulated
// wall clock that the simulator's limiter and the process-wide gate registry share: a block one client meets holds
// back every other client of that origin, without a request reaching the venue, until it ends.
import ccxt from 'ccxt';
import { afterEach, describe, expect, it } from 'vitest';
import { binanceSource } from '../../../actors/data-provider/market-source.ts';
import { liveVenue } from '../../../app/live-venue.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { BinanceRest, binanceCcxtOptions, BinanceRestError } from '../../../engine/venues/binance/rest.ts';
import { CcxtExecVenue } from '../../../engine/venues/ccxt-exec.ts';
import { MexcRest } from '../../../engine/venues/mexc/rest.ts';
import { resetRestGates, restGateFor } from '../../../engine/venues/rest-gate.ts';
import { BAN_AFTER_IGNORED_429, FIRST_BAN_MS } from '../../../engine/venues/sim/rate-limit.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import { VenueCallError, type VenueBalance } from '../../../engine/venues/venue.ts';
import { testConfig } from '../../e2e/helpers.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const KEY = 'gateTestKey0001';
const SECRET = 'gate-test-secret-0001';
const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const BTC_SIM = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'sim' });
// 10 s into a wall-clock minute: a 429 answered then has Retry-After 50 s.
const T0 = Math.floor(Date.now() / 60_000) * 60_000 + 60_000 + 10_000;

const sims: ExchangeSim[] = [];
afterEach(async () => {
  for (const s of sims.splice(0)) await s.close();
  resetRestGates();
});

/** A simulator on `wall` with a 100-weight minute, the request log it answered, and a gate registry on `wall`. */
async function simOn(wall: SimulatedClock, weightLimitPerMinute = 100) {
  const sim = await startExchangeSim({
    files: FILES, speed: 'manual', wallClock: wall, weightLimitPerMinute, accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '1000' } }],
  });
  sims.push(sim);
  const seen: string[] = [];
  sim.events.on('request', (r: { method: string; path: string; status: number }) => seen.push(`${r.method} ${r.path} ${r.status}`));
  return { sim, seen };
}

/** The executor's venue as the daemon builds it on Binance, sharing the gate of `sim`'s origin, on its own clock. */
async function executorOn(sim: ExchangeSim, wall: SimulatedClock) {
  const exchange = new ccxt.binance(binanceCcxtOptions({ baseUrl: sim.url, apiKey: KEY, secret: SECRET, rateLimit: false }) as never) as InstanceType<typeof ccxt.binance>;
  // ccxt stamps signed requests with its own clock: make it the simulator's wall clock.
  exchange.nonce = () => wall.now();
  await exchange.loadMarkets();
  // The engine's clock is the recording's time here, years before the wall clock the venue and the gate run on.
  const clock = new SimulatedClock(sim.clock.now());
  return { venue: new CcxtExecVenue({ exchange: exchange as never, venue: 'sim', instruments: [BTC_SIM], clock, gate: restGateFor(sim.url) }), clock };
}

// A buy far below the market (BTC about 56 000 USDT here): it rests.
const order = (id: string) => ({ clientOrderId: clientOrderId(id), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', lots: 100 as Lots, price: 3_000_000 as Ticks, timeInForce: 'GTC' } as const);
// Uses up the minute's 100 weight (exchangeInfo weighs 20), as another process on the same IP would.
const fillWeight = async (sim: ExchangeSim) => {
  for (let i = 0; i < 5; i++) await fetch(`${sim.url}/api/v3/exchangeInfo`);
};

describe('one 429/418 gate per REST origin, shared by every REST user in the process', () => {
  it("a 429 met by the depth snapshot client holds back the executor's next order until Retry-After has passed", async () => {
    const wall = new SimulatedClock(T0);
    resetRestGates(wall);
    const { sim, seen } = await simOn(wall);
    const { venue, clock } = await executorOn(sim, wall);
    const feedRest = new BinanceRest({ baseUrl: sim.url, rateLimit: false });
    wall.set(T0 + 60_000); // a fresh minute, 10 s in
    await fillWeight(sim);

    const snapshot = await feedRest.depthSnapshot(BTC, 5).catch((e: unknown) => e);
    const mark = seen.length;
    const refused = await venue.submit(order('gate429a')).catch((e: unknown) => e);
    const blocked = venue.blocked;
    const execNow = clock.now();
    wall.advance(49_999);
    const refusedLate = await venue.submit(order('gate429b')).catch((e: unknown) => e);
    const duringWindow = seen.slice(mark);
    wall.advance(1); // Retry-After has passed: a new minute on the venue too
    const after = await venue.submit(order('gate429c')).catch((e: unknown) => e);

    expect(duringWindow).toEqual([]);
    expect(snapshot).toBeInstanceOf(BinanceRestError);
    expect(snapshot).toMatchObject({ httpStatus: 429, block: { kind: 'rateLimited', retryAfterMs: 50_000 } });
    expect(refused).toBeInstanceOf(VenueCallError);
    expect(refused).toMatchObject({ kind: 'rateLimited', code: 'VENUE_RATE_LIMITED', retryAfterMs: 50_000 });
    // On the executor's own clock: the time left carried over from the gate's.
    expect(blocked).toEqual({ kind: 'rateLimited', untilTs: execNow + 50_000 });
    expect(refusedLate).toMatchObject({ kind: 'rateLimited', code: 'VENUE_RATE_LIMITED', retryAfterMs: 1 });
    expect(after).toMatchObject({ status: 'accepted' });
    expect(seen.slice(mark)).toEqual(['POST /api/v3/order 200']);
    expect(venue.counters.blockedLocally).toBe(2);
    expect(restGateFor(sim.url).counters).toMatchObject({ refused: 2, blocks: 1 });
  });

  it('a 418 met by the executor holds back klines, prices and depth snapshots until the ban ends', async () => {
    const wall = new SimulatedClock(T0);
    resetRestGates(wall);
    const { sim, seen } = await simOn(wall);
    const { venue } = await executorOn(sim, wall);
    // The DataProvider's Binance client (klines, prices), its MEXC client on the simulator's MEXC dialect, and the feed's.
    const market = binanceSource(new BinanceRest({ baseUrl: sim.url, rateLimit: false }), new Map([['BTC/USDT', BTC]]));
    const mexc = new MexcRest({ baseUrl: `${sim.url}/mexc`, rateLimit: false });
    const feedRest = new BinanceRest({ baseUrl: sim.url, rateLimit: false });
    wall.set(T0 + 60_000);
    await fillWeight(sim);
    // Another process on the IP ignores the 429 until one more request is a ban: the executor's.
    const ignored: number[] = [];
    for (let i = 0; i < BAN_AFTER_IGNORED_429; i++) ignored.push((await fetch(`${sim.url}/api/v3/ping`)).status);
    const ban = await venue.fetchBalances().catch((e: unknown) => e);
    const mark = seen.length;
    const calls = () => Promise.all([
      market.klines('BTC/USDT', '1m', { limit: 3, nowMs: sim.clock.now() }).then(() => 'ok', (e: unknown) => e),
      market.price('BTC/USDT').then(() => 'ok', (e: unknown) => e),
      feedRest.depthSnapshot(BTC, 5).then(() => 'ok', (e: unknown) => e),
      mexc.klines('BTC/USDT', '1m', { limit: 3 }).then(() => 'ok', (e: unknown) => e),
    ]);
    const [klines, price, snapshot, mexcKlines] = await calls();
    wall.advance(FIRST_BAN_MS - 1);
    const lastMs = await calls();
    const duringBan = seen.slice(mark);
    wall.advance(1);
    const afterBan = await calls();
    const balances = await venue.fetchBalances().catch((e: unknown) => e);

    expect(duringBan).toEqual([]);
    expect(ignored.every((s) => s === 429)).toBe(true);
    expect(ban).toMatchObject({ kind: 'banned', code: 'VENUE_IP_BANNED', retryAfterMs: FIRST_BAN_MS });
    expect(klines).toBeInstanceOf(BinanceRestError);
    expect(klines).toMatchObject({ httpStatus: undefined, block: { kind: 'banned', retryAfterMs: FIRST_BAN_MS } });
    expect(price).toMatchObject({ httpStatus: undefined, block: { kind: 'banned', retryAfterMs: FIRST_BAN_MS } });
    expect(snapshot).toMatchObject({ httpStatus: undefined, block: { kind: 'banned', retryAfterMs: FIRST_BAN_MS } });
    expect((mexcKlines as Error).message).toMatch(/^mexc klines not sent: http:\/\/127\.0\.0\.1:\d+ this IP is banned for 120000 ms more$/);
    expect(lastMs.slice(0, 3).map((e) => (e as BinanceRestError).block)).toEqual(Array(3).fill({ kind: 'banned', retryAfterMs: 1 }));
    expect(afterBan).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect((balances as VenueBalance[]).find((b) => b.asset === 'USDT')?.free).toBe(1_000_000_000_000n);
  });

  it("a 429 met by one MEXC client holds back another of that origin until Retry-After has passed", async () => {
    const wall = new SimulatedClock(T0);
    resetRestGates(wall);
    const { sim, seen } = await simOn(wall);
    const dataMexc = new MexcRest({ baseUrl: `${sim.url}/mexc`, rateLimit: false });
    const otherMexc = new MexcRest({ baseUrl: `${sim.url}/mexc`, rateLimit: false });
    wall.set(T0 + 60_000);
    await fillWeight(sim);

    const limited = await dataMexc.tickerPrice('BTC/USDT').catch((e: unknown) => e);
    const mark = seen.length;
    const refused = await otherMexc.klines('BTC/USDT', '1m', { limit: 3 }).catch((e: unknown) => e);
    const duringWindow = seen.slice(mark);
    wall.advance(50_000);
    const after = await otherMexc.klines('BTC/USDT', '1m', { limit: 3 });

    expect((limited as Error).message).toMatch(/^mexc ticker\/price failed: .*429/);
    expect((refused as Error).message).toMatch(/^mexc klines not sent: http:\/\/127\.0\.0\.1:\d+ rate limited for 50000 ms more$/);
    expect(duringWindow).toEqual([]);
    expect(Array.isArray(after)).toBe(true);
    expect(seen.slice(mark)).toEqual(['GET /mexc/api/v3/klines 200']);
  });

  it('a block at one origin holds back nothing at another', async () => {
    const wall = new SimulatedClock(T0);
    resetRestGates(wall);
    const { sim: limited } = await simOn(wall);
    const { sim: other, seen: otherSeen } = await simOn(wall, 6000);
    const limitedRest = new BinanceRest({ baseUrl: limited.url, rateLimit: false });
    const otherRest = new BinanceRest({ baseUrl: other.url, rateLimit: false });
    const { venue } = await executorOn(other, wall);
    wall.set(T0 + 60_000);
    await fillWeight(limited);

    const refused = await limitedRest.depthSnapshot(BTC, 5).catch((e: unknown) => e);
    const mark = otherSeen.length;
    const snap = await otherRest.depthSnapshot(BTC, 5);
    const balances = await venue.fetchBalances();

    expect(refused).toMatchObject({ httpStatus: 429, block: { kind: 'rateLimited' } });
    expect(snap.bids.length).toBeGreaterThan(0);
    expect(balances.length).toBeGreaterThan(0);
    expect(otherSeen.slice(mark)).toEqual(['GET /api/v3/depth 200', 'GET /api/v3/account 200']);
  });

  it.each(['binance', 'mexc'] as const)('liveVenue on %s sends orders through the gate of its REST URL\'s origin', async (name) => {
    // The simulator on the real wall clock (ccxt signs with it); the gate registry on a clock the test moves.
    const gateClock = new SimulatedClock(Date.now());
    resetRestGates(gateClock);
    const sim = await startExchangeSim({ files: FILES, speed: 'manual', accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '1000' } }] });
    sims.push(sim);
    const config = testConfig({
      symbols: { primary: 'BTC/USDT', reference: 'ETH/USDT' }, execution: { venue: name },
      venues: { binance: { restUrl: sim.url, wsUrl: sim.wsUrl }, mexc: { enabled: false, restUrl: `${sim.url}/mexc` } },
    });
    const venue = await liveVenue(config, { binanceApiKey: KEY, binanceApiSecret: SECRET, mexcApiKey: KEY, mexcApiSecret: SECRET }, new SimulatedClock(sim.clock.now()));
    const seen: string[] = [];
    sim.events.on('request', (r: { path: string }) => seen.push(r.path));
    // The DataProvider's client of the same origin met a 429 with Retry-After 30 s.
    restGateFor(sim.url).block('rateLimited', 30_000);

    const refused = await venue.fetchBalances().catch((e: unknown) => e);
    const duringBlock = [...seen];
    gateClock.advance(30_000);
    const balances = await venue.fetchBalances();

    expect(duringBlock).toEqual([]);
    expect(refused).toMatchObject({ kind: 'rateLimited', code: 'VENUE_RATE_LIMITED', retryAfterMs: 30_000 });
    expect(balances.find((b) => b.asset === 'USDT')?.free).toBe(1_000_000_000_000n);
    expect(venue.gate).toBe(restGateFor(sim.url));
  });
});
