// The simulator's klines in MEXC's interval names. The MEXC dialect reused the Binance klines route and its interval
// names, so it refused MEXC's hour `60m` (what MexcRest sends: engine/venues/mexc/rest.ts) and accepted `1h`, which
// MEXC refuses: MEXC 1h fallback could not be tested against the simulator. Regression test of the market-data
// candles review (finding 3).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimApiError } from '../../../../engine/venues/sim/errors.ts';
import { mexcKlinesRoute, routes } from '../../../../engine/venues/sim/rest.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';

let sim: ExchangeSim;
beforeAll(async () => {
  sim = await startExchangeSim({ files: ['data/recordings/spot_ethusdt_20240808.jsonl.gz'], speed: 'manual' });
  await sim.replay.advanceBy(30_000);
});
afterAll(async () => {
  await sim?.close();
});

const ask = (route: typeof mexcKlinesRoute, interval: string) =>
  route.handle({ params: new URLSearchParams({ symbol: 'ETHUSDT', interval, limit: '3' }), venue: sim.venue, account: undefined });
const binanceKlines = routes['GET /api/v3/klines']!;

describe('simulator klines in MEXC\'s interval names', () => {
  it.each([['60m', '1h'], ['1m', '1m'], ['5m', '5m'], ['4h', '4h'], ['1d', '1d']])('answers MEXC\'s %s with the bars of Binance\'s %s', (mexc, binance) => {
    const bars = ask(mexcKlinesRoute, mexc) as unknown[][];
    expect(bars.length).toBe(3);
    expect(bars).toEqual(ask(binanceKlines, binance));
  });

  it.each(['1h', '1s', '3m', '2h', '1w'])('refuses %s as MEXC does, with the invalid-interval error', (interval) => {
    let err: unknown;
    try {
      ask(mexcKlinesRoute, interval);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SimApiError);
    expect((err as SimApiError).body()).toEqual({ code: -1120, msg: 'Invalid interval.' });
  });

  it('keeps Binance\'s names on the Binance route: 1h served, 60m refused', () => {
    expect((ask(binanceKlines, '1h') as unknown[]).length).toBe(3);
    expect(() => ask(binanceKlines, '60m')).toThrow('Invalid interval.');
  });
});
