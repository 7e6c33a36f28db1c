import { describe, expect, it } from 'vitest';
import { FailoverMarket } from '../../../actors/data-provider/market-source.ts';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { archive, StubVenue } from './helpers.ts';

const NOW = Date.UTC(2024, 7, 8, 23, 55, 0, 500);
const HOLE_FROM = Date.UTC(2024, 7, 8, 21, 30);
const inHole = (t: number) => t >= HOLE_FROM && t < HOLE_FROM + 7 * 60_000;

function setup() {
  const clock = new SimulatedClock(NOW);
  const bus = new Bus<EngineMsg>();
  const venue = new StubVenue('binance', 0);
  venue.omit = (c, tf) => tf === '1m' && inHole(c.openTime);
  const history = new FailoverMarket(venue, undefined, { clock, failureThreshold: 5, cooldownMs: 30_000, attempts: 1 });
  const dp = new DataProvider({ bus, clock, history, primary: 'ETH/USDT', reference: 'ETH/USDT' });
  return { clock, bus, venue, dp };
}

describe('DataProvider backfill', () => {
  it('loads the newest 1500 slots of every kline series at start, closed bars only', async () => {
    const { dp } = setup();
    await dp.start();
    dp.stop();
    const m1 = dp.series('ETH/USDT', '1m');
    expect(m1.length).toBe(1500 - 7); // the venue lacks the 7 bars of the hole
    // 23:54 closed at 23:55:00, less than the 5 s backfill grace before now: not fetched yet.
    expect(m1.last()!.openTime).toBe(Date.UTC(2024, 7, 8, 23, 53));
    expect(dp.series('ETH/USDT', '1h').last()!.openTime).toBe(Date.UTC(2024, 7, 8, 22));
    expect(dp.series('ETH/USDT', '1d').last()!.openTime).toBe(Date.UTC(2024, 7, 7));
  });

  it('fills a hole through the REST port on the next maintenance pass, with the venue\'s own bars', async () => {
    const { dp, venue } = setup();
    await dp.start();
    const before = dp.series('ETH/USDT', '1m').holes();
    venue.omit = undefined; // the venue now has the bars
    const report = await dp.maintain();
    dp.stop();
    const m1 = dp.series('ETH/USDT', '1m');
    const got = m1.tail(1500).filter((c) => inHole(c.openTime));
    const want = archive.all('ETH/USDT', '1m').filter((c) => inHole(c.openTime));
    expect(before).toEqual([{ from: HOLE_FROM, count: 7 }]);
    expect(report).toMatchObject({ gaps: 1, requests: 1, failures: 0, filled: 7 });
    expect(m1.holes()).toEqual([]);
    expect(m1.length).toBe(1500);
    expect(m1.get(0)!.openTime).toBe(Date.UTC(2024, 7, 8, 23, 53) - 1499 * 60_000);
    expect(got).toEqual(want);
  });

  it('runs maintenance on the clock once market data flows, and fetches bars that closed since', async () => {
    const { dp, clock, bus } = setup();
    await dp.start();
    const requestsAtStart = dp.stats.backfillRequests;
    const forming = archive.all('ETH/USDT', '1m').find((c) => c.openTime === Date.UTC(2024, 7, 8, 23, 55))!;
    bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1m', tsExchange: NOW, tsLocal: NOW, candle: { ...forming, closed: false } });
    clock.advance(59_999);
    const requestsBeforePeriod = dp.stats.backfillRequests;
    clock.advance(1); // one maintenance period after the first market message
    await dp.maintain();
    dp.stop();
    // 23:54 closed more than 5 s ago and came from REST; the 21:30 hole is still missing on the venue.
    expect(requestsBeforePeriod).toBe(requestsAtStart);
    expect(dp.stats.backfillRequests).toBeGreaterThan(requestsAtStart);
    expect(dp.series('ETH/USDT', '1m').last()!.openTime).toBe(Date.UTC(2024, 7, 8, 23, 54));
    expect(dp.series('ETH/USDT', '1m').holes()).toEqual([{ from: HOLE_FROM, count: 7 }]);
  });

  it('counts a failed backfill and keeps the series as it was', async () => {
    const { dp, venue } = setup();
    await dp.start();
    venue.down = true;
    const report = await dp.maintain();
    dp.stop();
    expect(report.failures).toBe(report.requests);
    expect(report.failures).toBeGreaterThan(0);
    expect(dp.series('ETH/USDT', '1m').length).toBe(1500 - 7);
    expect(dp.series('ETH/USDT', '1m').holes()).toEqual([{ from: HOLE_FROM, count: 7 }]);
  });
});
