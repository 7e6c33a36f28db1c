// Review finding: BinanceRest wrapped ccxt's error in a VenueError that dropped the HTTP status and Retry-After, so no
// caller could honour a 429's back-off or a 418's ban. Against the exchange simulator (127.0.0.1) with a tiny weight
// limit: a depth snapshot (weight 50) is refused at once; another process ignoring the 429 gets the IP banned, and the
// client's next request after its Retry-After meets the ban. The simulator's limiter and the process-wide REST gate
// registry (rest-gate.ts) run on one simulated wall clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { venueBlockOf } from '../../../../engine/venues/binance/backoff.ts';
import { BinanceRest, BinanceRestError } from '../../../../engine/venues/binance/rest.ts';
import { resetRestGates } from '../../../../engine/venues/rest-gate.ts';
import { FIRST_BAN_MS } from '../../../../engine/venues/sim/rate-limit.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
// 10 s into a wall-clock minute: a 429 answered then has Retry-After 50 s.
const T0 = Math.floor(Date.now() / 60_000) * 60_000 + 60_000 + 10_000;

describe('BinanceRest against a rate-limiting venue', () => {
  const wall = new SimulatedClock(T0);
  let sim: ExchangeSim;
  beforeAll(async () => {
    sim = await startExchangeSim({ files: ['data/recordings/spot_btcusdt_20240808.jsonl.gz'], speed: 'manual', wallClock: wall, weightLimitPerMinute: 40 });
  }, 60_000);
  afterAll(async () => {
    await sim?.close();
    resetRestGates();
  });

  it('keeps the HTTP status and Retry-After of a 429 and of a 418 on the error it throws', async () => {
    resetRestGates(wall);
    const rest = new BinanceRest({ baseUrl: sim.url, rateLimit: false });
    const limited = await rest.depthSnapshot(BTC, 1000).catch((e: unknown) => e) as BinanceRestError;
    // Another process on the same IP keeps sending while the 429 is in force, until the IP is banned.
    let status = 429;
    for (let i = 0; i < 40 && status === 429; i++) status = (await fetch(`${sim.url}/api/v3/ping`)).status;
    const banStart = wall.now();
    wall.set(T0 + 50_000); // the 429 has run out: the client sends again, into the ban
    const banned = await rest.depthSnapshot(BTC, 1000).catch((e: unknown) => e) as BinanceRestError;

    expect(limited).toBeInstanceOf(BinanceRestError);
    expect(limited.httpStatus).toBe(429);
    expect(limited.block).toEqual({ kind: 'rateLimited', retryAfterMs: 50_000 });
    expect(status).toBe(418);
    expect(banned).toBeInstanceOf(BinanceRestError);
    expect(banned.httpStatus).toBe(418);
    // The ban's end in the answer ("IP banned until <ms>"), measured on the gate's clock.
    expect(banned.block).toEqual({ kind: 'banned', retryAfterMs: banStart + FIRST_BAN_MS - (T0 + 50_000) });
    expect(venueBlockOf(banned)).toEqual(banned.block);
  });
});
