// Defects in the data lower BaseDataInput completeness with a named reason; none of them throws.
import { describe, expect, it } from 'vitest';
import { FailoverMarket } from '../../../actors/data-provider/market-source.ts';
import { DataProvider, type CobQuery } from '../../../actors/data-provider/provider.ts';
import type { CobSnapshot } from '../../../engine/market/cob.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { archive, ethBook, ethCob, StubVenue } from './helpers.ts';

// 2024-08-08 23:55:10.500 UTC (the 23:54 bar closed more than the 5 s backfill grace ago); 1s bars are taken from the 1m klines' closes below so every series has 300 frames.
const NOW = Date.UTC(2024, 7, 8, 23, 55, 10, 500);
const HOLE_FROM = Date.UTC(2024, 7, 8, 22, 0);

async function provider(opts: { omit?: (openTime: number) => boolean; cob?: CobSnapshot } = {}) {
  const clock = new SimulatedClock(NOW);
  const bus = new Bus<EngineMsg>();
  const venue = new StubVenue('binance', 0);
  if (opts.omit) venue.omit = (c, tf) => tf === '1m' && opts.omit!(c.openTime);
  const history = new FailoverMarket(venue, undefined, { clock, failureThreshold: 5, cooldownMs: 30_000, attempts: 1 });
  const cob: CobQuery = { latest: () => opts.cob };
  const dp = new DataProvider({ bus, clock, history, cob, maintenanceMs: 0 });
  await dp.start();
  // 1s series: 300 seconds of real 1m closes stepped out per second (shape only matters to validation here).
  const m1 = (await archive.klines('ETH/USDT', '1m', { endTime: NOW - 60_000, limit: 300, nowMs: NOW })).candles;
  for (const sym of ['ETH/USDT', 'BTC/USDT']) {
    for (let i = 0; i < 300; i++) {
      const c = m1[i]!;
      const openTime = NOW - 500 - (300 - i) * 1_000;
      dp.onKline({ type: 'md.candle', venue: 'binance', symbol: sym, timeframe: '1s', tsExchange: openTime + 1_000, tsLocal: openTime + 1_000, candle: { ...c, openTime, closed: true } });
    }
  }
  dp.stop();
  return { dp, venue, clock };
}

describe('BaseDataInput quality from the DataProvider', () => {
  it('is complete with full history, a fresh two-sided book and both 1s series', async () => {
    const { dp } = await provider({ cob: ethCob(ethBook(), NOW - 100, NOW).latest() });
    const v = dp.validateInput();
    expect(v.reasons).toEqual([]);
    expect(v.completeness).toBeCloseTo(1, 9);
    expect(v.canInfer).toBe(true);
  });

  it('a 1m series with a hole lowers completeness and names the hole', async () => {
    const cob = ethCob(ethBook(), NOW - 100, NOW).latest();
    const full = (await provider({ cob })).dp.validateInput();
    const { dp } = await provider({ cob, omit: (t) => t >= HOLE_FROM && t < HOLE_FROM + 5 * 60_000 });
    const v = dp.validateInput();
    expect(dp.series('ETH/USDT', '1m').holes()).toEqual([{ from: HOLE_FROM, count: 5 }]);
    expect(v.completeness).toBeLessThan(full.completeness);
    expect(v.reasons).toContain('ETH/USDT 1m series has 5 holes');
  });

  it('a stale venue lowers completeness and says how stale', async () => {
    const fresh = (await provider({ cob: ethCob(ethBook(), NOW - 100, NOW).latest() })).dp.validateInput();
    const { dp } = await provider({ cob: ethCob(ethBook(), NOW - 12_000, NOW).latest() });
    const v = dp.validateInput();
    // The only venue is stale: the COB's share of completeness (1 of 6 parts) is gone.
    expect(v.completeness).toBeCloseTo(fresh.completeness - 1 / 6, 9);
    expect(v.reasons).toContain('venue binance stale for 12.0 s');
  });

  it('an empty bid side lowers completeness and names the side', async () => {
    const book = ethBook();
    for (const [px] of book.levels('bid', 100_000)) book.setBid(px, 0 as never);
    const fresh = (await provider({ cob: ethCob(ethBook(), NOW - 100, NOW).latest() })).dp.validateInput();
    const { dp } = await provider({ cob: ethCob(book, NOW - 100, NOW).latest() });
    const v = dp.validateInput();
    expect(book.size('bid')).toBe(0);
    expect(v.completeness).toBeLessThan(fresh.completeness);
    expect(v.reasons).toContain('COB bid side empty');
    const packed = dp.assembleInput();
    expect(packed.data.every(Number.isFinite)).toBe(true);
  });

  it('no COB at all is a named reason, and packing still works', async () => {
    const { dp } = await provider();
    const bdi = dp.assembleInput();
    expect(bdi.validation.reasons).toContain('COB snapshot absent');
    expect(bdi.data.every(Number.isFinite)).toBe(true);
  });
});
