// Review finding: BinanceRest wrapped ccxt's error in a VenueError that dropped the HTTP status and Retry-After, so no
// caller could honour a 429's back-off or a 418's ban. Against the exchange simulator (127.0.0.1) with a tiny weight
// limit: a depth snapshot (weight 50) is refused at once, and requests ignoring the 429 end in an IP ban.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { venueBlockOf } from '../../../../engine/venues/binance/backoff.ts';
import { BinanceRest, BinanceRestError } from '../../../../engine/venues/binance/rest.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

describe('BinanceRest against a rate-limiting venue', () => {
  let sim: ExchangeSim;
  beforeAll(async () => {
    sim = await startExchangeSim({ files: ['data/recordings/spot_btcusdt_20240808.jsonl.gz'], speed: 'manual', weightLimitPerMinute: 40 });
  }, 60_000);
  afterAll(async () => {
    await sim?.close();
  });

  it('keeps the HTTP status and Retry-After of a 429 and of a 418 on the error it throws', async () => {
    const rest = new BinanceRest({ baseUrl: sim.url, rateLimit: false });
    const errors: BinanceRestError[] = [];
    // The simulator bans the IP after 10 requests sent inside a 429's window; a turning wall minute can restart that count.
    for (let i = 0; i < 40 && !errors.some((e) => e.httpStatus === 418); i++) {
      const err = await rest.depthSnapshot(BTC, 1000).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(BinanceRestError);
      errors.push(err as BinanceRestError);
    }
    const limited = errors[0]!;
    const banned = errors.find((e) => e.httpStatus === 418)!;
    expect(limited.httpStatus).toBe(429);
    expect(limited.block?.kind).toBe('rateLimited');
    expect(limited.block!.retryAfterMs).toBeGreaterThan(0);
    expect(limited.block!.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(banned.block?.kind).toBe('banned');
    // The first ban lasts 2 minutes.
    expect(banned.block!.retryAfterMs).toBeGreaterThan(60_000);
    expect(banned.block!.retryAfterMs).toBeLessThanOrEqual(120_000);
    expect(venueBlockOf(banned)).toEqual(banned.block);
  });
});
