// A 1h (1d) roll-up closes with the minute (hour) that ends it, ~2 s after the hour. A network stall across the top of
// the hour then delivers the hour's last trades after it went out: they marked the next coarser bar, and the hour went
// out and stayed without them (maintenance fills holes only). Review re27: '10:00 h=61000 v=7.194' instead of the
// venue's 'h=61050 v=7.2'. The bars that went out without a late trade are fetched again by the next maintenance pass
// and the venue's bars replace them.
import { describe, expect, it } from 'vitest';
import type { KlineQuery, KlineSource } from '../../../actors/data-provider/market-source.ts';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle, Trade } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { timeframeMs, type Timeframe } from '../../../engine/types/time.ts';

const MIN = 60_000;
const sym = 'BTC/USDT';

/** The venue: a flat bar for every slot before `from`, then the bars `truth` holds (a clean run's). */
class Venue implements KlineSource {
  readonly truth = new Map<Timeframe, Map<number, Candle>>();
  readonly asked: { tf: Timeframe; from: number }[] = [];
  constructor(private readonly from: number) {}
  async klines(_symbol: string, tf: Timeframe, q: KlineQuery): Promise<{ candles: Candle[]; source: string }> {
    this.asked.push({ tf, from: q.startTime! });
    const ms = timeframeMs(tf);
    const candles: Candle[] = [];
    for (let t = q.startTime!; t <= q.endTime!; t += ms) {
      const c = this.truth.get(tf)?.get(t) ?? (t + ms <= this.from ? { openTime: t, open: 61_000, high: 61_000, low: 61_000, close: 61_000, volume: 1, trades: 10, closed: true } : undefined);
      if (c) candles.push(c);
    }
    return { candles, source: 'stub' };
  }
}

/**
 * Trades every 500 ms from two minutes before `end` to three after, the last 3 s before `end` at a higher price; with
 * `stallS`, those and the ones up to `stallS` after `end` are received at `end + stallS`.
 */
function tradesAround(end: number, stallS: number): Trade[] {
  const out: Trade[] = [];
  for (let t = end - 2 * MIN, id = 1; t < end + 3 * MIN; t += 500, id++) {
    const stalled = t >= end - 3_000 && t < end + stallS * 1_000;
    out.push({
      type: 'md.trade', venue: 'binance', symbol: sym, tsExchange: t, tsLocal: stalled ? end + stallS * 1_000 : t + 50, tradeId: id,
      price: (6_100_000 + (t >= end - 3_000 && t < end ? 5_000 : 0)) as Ticks, lots: 100 as Lots, buyerMaker: false,
    });
  }
  return out.sort((a, b) => a.tsLocal - b.tsLocal);
}

/** Runs a provider over `trades` (started 5 s after the first trade's minute, history from `venue`). */
async function run(trades: readonly Trade[], venue: Venue) {
  const start = trades[0]!.tsExchange + 5_001;
  const clock = new SimulatedClock(start);
  const bus = new Bus<EngineMsg>();
  const dp = new DataProvider({ bus, clock, primary: sym, reference: sym, history: venue, maintenanceMs: 0, capacity: 300 });
  const published: Record<Timeframe, Candle[]> = { '1s': [], '1m': [], '1h': [], '1d': [] };
  bus.subscribe('md.candle', (m) => void published[m.timeframe].push(m.candle));
  await dp.start();
  for (const t of trades) {
    clock.set(Math.max(t.tsLocal, start));
    bus.publish(t);
  }
  return { dp, published };
}

const at = (dp: DataProvider, tf: Timeframe, open: number) => dp.series(sym, tf).tail(300).find((c) => c.openTime === open);

describe('DataProvider: a late trade of a bar that already went out', () => {
  it.each([
    ['an hour', Date.UTC(2024, 7, 8, 11), '1h' as Timeframe],
    ['a day', Date.UTC(2024, 7, 9), '1d' as Timeframe],
  ])('has %s that went out without it fetched again and replaced by the venue\'s', async (_, end, tf) => {
    const venue = new Venue(end - 2 * MIN);
    const clean = await run(tradesAround(end, 0), venue);
    for (const t of ['1m', '1h', '1d'] as const) venue.truth.set(t, new Map(clean.dp.series(sym, t).tail(300).map((c) => [c.openTime, c])));
    const ms = timeframeMs(tf);
    const slot = end - ms;
    const good = clean.published[tf].find((c) => c.openTime === slot)!;
    expect(good).toBeDefined();

    const stall = await run(tradesAround(end, 4), venue);
    expect(stall.dp.stats.lateTrades).toBeGreaterThan(0);
    // The bar went out without the late trades (the price of the last 3 s is missing).
    expect(stall.published[tf].find((c) => c.openTime === slot)?.high).toBeLessThan(good.high);

    await stall.dp.maintain();
    expect(at(stall.dp, tf, slot)).toEqual(good);
    expect(at(stall.dp, '1m', end - MIN)).toEqual(at(clean.dp, '1m', end - MIN));
    if (tf === '1d') expect(at(stall.dp, '1h', end - 3_600_000)).toEqual(at(clean.dp, '1h', end - 3_600_000));

    // Fetched once: the next pass asks for nothing more.
    venue.asked.length = 0;
    await stall.dp.maintain();
    expect(venue.asked).toEqual([]);
    await clean.dp.stop();
    await stall.dp.stop();
  }, 60_000);
});

// A 1m kline stream's correction of an hour's last minute after the hour went out: the hour lacks it, as with a late
// trade. The same kline sent again changes nothing and fetches nothing.
describe('DataProvider: a late 1m kline of an hour that already went out', () => {
  it.each([
    ['a correction', true],
    ['the same kline again', false],
  ])('%s', async (_, corrected) => {
    const H = Date.UTC(2024, 7, 8, 10);
    const venue = new Venue(H);
    const venueHour: Candle = { openTime: H, open: 61_000, high: 61_500, low: 60_900, close: 61_400, volume: 77, trades: 700, closed: true };
    venue.truth.set('1h', new Map([[H, venueHour]]));
    const clock = new SimulatedClock(H + 5_001);
    const bus = new Bus<EngineMsg>();
    const dp = new DataProvider({ bus, clock, primary: sym, reference: sym, history: venue, maintenanceMs: 0, capacity: 300 });
    await dp.start();
    const kline = (c: Candle, t: number) => {
      clock.set(t);
      bus.publish({ type: 'md.candle', venue: 'binance', symbol: sym, timeframe: '1m', candle: c, tsExchange: t, tsLocal: t });
    };
    const minutes = Array.from({ length: 60 }, (_, i): Candle => ({ openTime: H + i * MIN, open: 61_000, high: 61_000 + i, low: 61_000, close: 61_000, volume: 1, trades: 10, closed: true }));
    for (const c of minutes) kline(c, c.openTime + MIN);
    const rolled = at(dp, '1h', H)!;
    expect(rolled).toMatchObject({ openTime: H, volume: 60, high: 61_059 });
    kline(corrected ? { ...minutes[59]!, high: 61_500, volume: 2 } : minutes[59]!, H + 60 * MIN + 3_000);
    clock.set(H + 60 * MIN + 30_000);
    venue.asked.length = 0;
    await dp.maintain();
    expect(at(dp, '1h', H)).toEqual(corrected ? venueHour : rolled);
    expect(venue.asked.filter((a) => a.tf === '1h')).toEqual(corrected ? [{ tf: '1h', from: H }] : []);
    await dp.stop();
  });
});
