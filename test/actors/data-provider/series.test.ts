import { describe, expect, it } from 'vitest';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import type { Candle, CandleMsg, EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { Timeframe } from '../../../engine/types/time.ts';
import { archive } from './helpers.ts';

const H22 = Date.UTC(2024, 7, 8, 22);
const D8 = Date.UTC(2024, 7, 8);

function setup() {
  const clock = new SimulatedClock(H22);
  const bus = new Bus<EngineMsg>();
  const dp = new DataProvider({ bus, clock, maintenanceMs: 0 });
  void dp.start(); // no history source: subscribes and resolves
  const out: CandleMsg[] = [];
  bus.subscribe('md.candle', (m) => out.push(m));
  const kline = (tf: Timeframe, c: Candle, symbol = 'ETH/USDT') => {
    clock.set(c.openTime + 1);
    bus.publish({ type: 'md.candle', venue: 'binance', symbol, timeframe: tf, tsExchange: c.openTime, tsLocal: c.openTime, candle: { ...c, closed: true } });
  };
  return { clock, bus, dp, out, kline };
}

const bars = (tf: Timeframe, from: number, to: number, symbol = 'ETH/USDT') => archive.all(symbol, tf).filter((c) => c.openTime >= from && c.openTime < to);

describe('DataProvider series', () => {
  it.each(['ETH/USDT', 'BTC/USDT'])('rolls %s 1m klines up into the 1h bar of the bundled 1h file', (symbol) => {
    const { dp, out, kline } = setup();
    for (const c of bars('1m', H22, H22 + 3_600_000 + 60_000, symbol)) kline('1m', c, symbol);
    const want = bars('1h', H22, H22 + 3_600_000, symbol)[0]!;
    const got = dp.series(symbol, '1h').last()!;
    expect(dp.series(symbol, '1h').length).toBe(1);
    expect([got.openTime, got.open, got.high, got.low, got.close, got.volume]).toEqual([want.openTime, want.open, want.high, want.low, want.close, want.volume]);
    expect(out.filter((m) => m.timeframe === '1h' && m.symbol === symbol)).toHaveLength(1);
  });

  it('rolls the 24 bundled 1h bars of a day up into that day\'s 1d bar', () => {
    const { dp, kline } = setup();
    for (const c of bars('1h', D8, D8 + 86_400_000 + 3_600_000)) kline('1h', c);
    const want = bars('1d', D8, D8 + 1)[0]!;
    const got = dp.series('ETH/USDT', '1d').last()!;
    expect([got.openTime, got.open, got.high, got.low, got.close]).toEqual([want.openTime, want.open, want.high, want.low, want.close]);
    expect(got.volume).toBeCloseTo(want.volume, 4);
  });

  it('keeps a streamed timeframe as the venue sends it and drops the roll-up into it', () => {
    const { dp, out, kline } = setup();
    const venueBar = { ...bars('1h', H22, H22 + 1)[0]!, volume: 1 }; // marked, to tell it from a roll-up
    kline('1h', venueBar);
    for (const c of bars('1m', H22, H22 + 3_600_000 + 60_000)) kline('1m', c);
    expect(dp.series('ETH/USDT', '1h').tail(5)).toEqual([{ ...venueBar, closed: true }]);
    expect(out.filter((m) => m.timeframe === '1h')).toHaveLength(1); // the venue's own message, not republished
    expect(dp.stats.partialRollups).toBe(0);
  });

  it('leaves a partial roll-up out (a missing 1m bar) and counts it', () => {
    const { dp, kline } = setup();
    for (const c of bars('1m', H22, H22 + 3_600_000 + 60_000)) if (c.openTime !== H22 + 17 * 60_000) kline('1m', c);
    expect(dp.series('ETH/USDT', '1h').length).toBe(0);
    expect(dp.stats.partialRollups).toBe(1);
    expect(dp.series('ETH/USDT', '1m').holes()).toEqual([{ from: H22 + 17 * 60_000, count: 1 }]);
  });

  it('publishes each bar it closes once, with its timeframe, and counts messages of symbols it does not keep', () => {
    const { dp, out, kline } = setup();
    for (const c of bars('1m', H22, H22 + 5 * 60_000)) kline('1m', c);
    kline('1m', bars('1m', H22, H22 + 1, 'BTC/USDT')[0]!, 'SOL/USDT');
    expect(out.map((m) => m.timeframe)).toEqual(['1m', '1m', '1m', '1m', '1m', '1m']);
    expect(dp.stats.candlesPublished).toBe(0); // venue klines are stored, not re-sent
    expect(dp.stats.unknownSymbol).toBe(1);
    expect(dp.series('ETH/USDT', '1m').length).toBe(5);
  });
});

describe('DataProvider 1s bars from trades', () => {
  it('closes a quiet second on the clock, without waiting for the next trade', async () => {
    const { BinanceFrameDecoder, classifyFrame } = await import('../../../engine/venues/binance/frames.ts');
    const { readRecordingLinesSync } = await import('../../../engine/venues/replay/recording.ts');
    const { ETH } = await import('./helpers.ts');
    const dec = new BinanceFrameDecoder(ETH);
    const trades = readRecordingLinesSync(['data/recordings/spot_ethusdt_20240808.jsonl.gz'])
      .filter((l) => classifyFrame(l.text) === 'trade').slice(0, 200)
      .map((l) => dec.decode(l)).filter((m) => m.type === 'md.trade');
    const firstSecond = Math.floor(trades[0]!.tsExchange / 1_000) * 1_000;
    const inFirst = trades.filter((t) => t.tsExchange < firstSecond + 1_000);
    const clock = new SimulatedClock(trades[0]!.tsExchange);
    const bus = new Bus<EngineMsg>();
    const dp = new DataProvider({ bus, clock, maintenanceMs: 0, closeGraceMs: 1_000 });
    await dp.start();
    for (const t of inFirst) bus.publish(t);
    const before = dp.series('ETH/USDT', '1s').length;
    clock.set(firstSecond + 1_999); // the bar ended at +1 s; the grace runs until +2 s
    const atGrace = dp.series('ETH/USDT', '1s').length;
    clock.set(firstSecond + 3_000);
    dp.stop();
    const bar = dp.series('ETH/USDT', '1s').get(0)!;
    expect(before).toBe(0);
    expect(atGrace).toBe(0);
    expect(dp.series('ETH/USDT', '1s').length).toBeGreaterThanOrEqual(1);
    expect(bar.openTime).toBe(firstSecond);
    expect(bar.trades).toBe(inFirst.length);
    expect(bar.high).toBe(Math.max(...inFirst.map((t) => t.price)) / 100);
  });
});
