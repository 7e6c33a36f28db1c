// Bars across a break in the trade stream (a replay lap, a dropped connection, the end of the data) and bars that
// close while history loads. Regression tests of the market-data review (/tmp/review_data.md findings 1, 2 and 3).
import { describe, expect, it } from 'vitest';
import type { KlineSource } from '../../../actors/data-provider/market-source.ts';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import { loadKlinesCsv } from '../../../engine/market/klines-csv.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ReplayFeed } from '../../../engine/venues/replay/replay-feed.ts';
import { archive } from './helpers.ts';

const ETH_FILES = ['data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz'];
const csv = (file: string) => new Map(loadKlinesCsv(`data/klines/${file}`, { strict: true }).candles.map((c) => [c.openTime, c]));
const ohlcv = (c: Candle | undefined) => c && [c.openTime, c.open, c.high, c.low, c.close, c.volume];
const at = (h: number, m: number, s = 0) => Date.UTC(2024, 7, h >= 12 ? 8 : 9, h, m, s);

describe('DataProvider across a break in the trade stream', () => {
  // Finding 1: lap 2 started in the minute lap 1 ended in, and the close timer's flat seconds between the laps made
  // that 1m bar "whole": lap 1's 00:05:00-00:05:04 trades plus lap 2's shifted 23:54 trades.
  it('publishes no 1m bar holding trades of two replay laps, and leaves the junction minutes out', async () => {
    const clock = new SimulatedClock(0);
    const bus = new Bus<EngineMsg>();
    const dp = new DataProvider({ bus, clock, primary: 'ETH/USDT', reference: 'ETH/USDT', maintenanceMs: 0 });
    let lap = 1;
    bus.subscribe('md.feedReset', () => lap++);
    const lapsByMinute = new Map<number, Set<number>>();
    bus.subscribe('md.trade', (m) => {
      const minute = Math.floor(m.tsExchange / 60_000) * 60_000;
      lapsByMinute.set(minute, (lapsByMinute.get(minute) ?? new Set()).add(lap));
    });
    const published: Candle[] = [];
    bus.subscribe('md.candle', (m) => {
      if (m.timeframe === '1m') published.push(m.candle);
    });
    await dp.start();
    const feed = new ReplayFeed({ bus, clock, files: ETH_FILES, loop: true, maxLaps: 2, kinds: ['trade'] });
    await feed.start();
    await feed.done;
    clock.advance(200_000);
    dp.stop();
    const lapMs = feed.lapLengthMs;
    const mixed = published.filter((c) => (lapsByMinute.get(c.openTime)?.size ?? 0) > 1).map((c) => new Date(c.openTime).toISOString());
    const times = published.map((c) => c.openTime);
    const lap1 = [...Array(10).keys()].map((i) => at(23, 55) + i * 60_000); // 23:55 .. 00:04: the whole minutes
    expect(mixed).toEqual([]);
    expect(times).toEqual([...lap1, ...lap1.map((t) => t + lapMs)]);
    // Lap 2's bars are lap 1's, shifted.
    expect(published.slice(10).map((c) => ohlcv({ ...c, openTime: c.openTime - lapMs }))).toEqual(published.slice(0, 10).map(ohlcv));
  }, 30_000);

  // Finding 2: with the trade stream down, the close timer made flat 1s bars, the 1m roll-ups had 60 parts, and
  // 23:57-23:59 were stored as whole (flat, or 30 s of trades) and never backfilled.
  it('leaves the minutes of a dropped stream to the backfill, which restores the venue\'s own bars', async () => {
    const lo = at(23, 57);
    const hi = at(23, 59, 30);
    const clock = new SimulatedClock(0);
    const feedBus = new Bus<EngineMsg>();
    const bus = new Bus<EngineMsg>();
    // The stream drops at the first trade at or after 23:57:00 (exchange time) and is back at 23:59:30, as a live
    // BinanceFeed reports it: md.feedReset and status waiting at the drop, status live on reconnect.
    let down = false;
    feedBus.subscribePrefix('md.', (m) => {
      if (m.type === 'md.trade' && m.tsExchange >= lo && m.tsExchange < hi) {
        if (!down) {
          down = true;
          bus.publish({ type: 'md.feedReset', venue: 'binance', symbol: m.symbol, reason: 'stream dropped', ts: clock.now() });
          bus.publish({ type: 'md.feedStatus', venue: 'binance', source: 'live', status: 'waiting', ts: clock.now() });
        }
        return;
      }
      if (m.type === 'md.trade' && down) {
        down = false;
        bus.publish({ type: 'md.feedStatus', venue: 'binance', source: 'live', status: 'live', ts: clock.now() });
      }
      bus.publish(m);
    });
    const dp = new DataProvider({ bus, clock, primary: 'ETH/USDT', reference: 'ETH/USDT', history: archive, maintenanceMs: 0 });
    clock.set(at(23, 54, 13));
    await dp.start();
    const feed = new ReplayFeed({ bus: feedBus, clock, files: ETH_FILES, kinds: ['trade'] });
    await feed.start();
    await feed.done;
    const beforeBackfill = dp.series('ETH/USDT', '1m').tail(12).map((c) => c.openTime);
    await dp.maintain();
    const real = csv('mintanam-ftrade_ETH_USDT-1m.csv.gz');
    const got = dp.series('ETH/USDT', '1m').tail(12).filter((c) => c.openTime >= at(23, 55) && c.openTime < at(0, 5));
    expect(beforeBackfill).not.toContain(at(23, 57));
    expect(beforeBackfill).not.toContain(at(23, 58));
    expect(beforeBackfill).not.toContain(at(23, 59));
    expect(got.map(ohlcv)).toEqual(got.map((c) => ohlcv(real.get(c.openTime))));
    expect(got.length).toBe(10);
    expect(dp.stats.streamBreaks).toBeGreaterThanOrEqual(1);
  }, 30_000);

  // Finding 2, end of the data: the 00:05 bar held 4.5 s of trades and was published as whole, then flat 00:06, 00:07.
  it('publishes no bar past the end of a replay, and backfills its cut-off last minute', async () => {
    const clock = new SimulatedClock(0);
    const bus = new Bus<EngineMsg>();
    const dp = new DataProvider({ bus, clock, primary: 'ETH/USDT', reference: 'ETH/USDT', history: archive, maintenanceMs: 0 });
    const published: Candle[] = [];
    bus.subscribe('md.candle', (m) => {
      if (m.timeframe === '1m') published.push(m.candle);
    });
    clock.set(at(23, 54, 13));
    await dp.start();
    const feed = new ReplayFeed({ bus, clock, files: ETH_FILES, kinds: ['trade'] });
    await feed.start();
    await feed.done;
    for (let i = 0; i < 200; i++) clock.advance(1_000);
    await dp.maintain();
    dp.stop();
    const last = dp.series('ETH/USDT', '1m').last();
    expect(published.at(-1)?.openTime).toBe(at(0, 4));
    expect(dp.series('ETH/USDT', '1s').last()!.openTime).toBeLessThan(at(0, 5, 6));
    expect(ohlcv(last)).toEqual(ohlcv(csv('mintanam-ftrade_ETH_USDT-1m.csv.gz').get(last!.openTime)));
    expect(last!.openTime).toBe(at(0, 7)); // backfilled up to the last bar closed 5 s ago: the archive's real bars
  }, 30_000);
});

describe('DataProvider start while bars arrive', () => {
  // Finding 3: a 1m kline that closed while the history load was in flight went into the 1h roll-up twice (once on
  // arrival, once from the series after the load): 32 parts instead of 31, the open of 20:30 instead of 20:00, and
  // the hour dropped as partial (61 parts).
  it('counts a kline that arrives during the history load once in the 1h roll-up', async () => {
    const H = Date.UTC(2024, 7, 8, 20);
    const m1 = csv('mintanam-ftrade_ETH_USDT-1m.csv.gz');
    const h1 = csv('moudux1-ft_userdata_ETH_USDT-1h.csv.gz');
    const clock = new SimulatedClock(H + 30 * 60_000 + 59_500); // 20:30:59.5
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    // The first REST answer takes until the gate opens (about a second on the clock).
    const history: KlineSource = {
      async klines(symbol, tf, q) {
        if (first) {
          first = false;
          await gate;
        }
        return archive.klines(symbol, tf, q);
      },
    };
    const bus = new Bus<EngineMsg>();
    const dp = new DataProvider({ bus, clock, primary: 'ETH/USDT', reference: 'ETH/USDT', history, maintenanceMs: 0 });
    const hours: Candle[] = [];
    bus.subscribe('md.candle', (m) => {
      if (m.timeframe === '1h') hours.push(m.candle);
    });
    const kline = (t: number) => {
      clock.set(t + 60_000 + 100);
      bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1m', candle: { ...m1.get(t)!, closed: true }, tsExchange: t + 60_000, tsLocal: t + 60_000 });
    };
    const started = dp.start();
    kline(H + 30 * 60_000); // closes during the load
    release();
    await started;
    for (let t = H + 31 * 60_000; t <= H + 60 * 60_000; t += 60_000) kline(t);
    dp.stop();
    expect(ohlcv(hours[0])).toEqual(ohlcv(h1.get(H)));
    expect(hours.length).toBe(1);
    expect(dp.stats.partialRollups).toBe(0);
  });
});
