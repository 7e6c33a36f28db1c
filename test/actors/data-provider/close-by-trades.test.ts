// The DataProvider building bars by trade time (`closeBy: 'trades'`, what `cobalt candles` uses): no clock closes a
// bar, the first bar of a stream is left out, and an impossible trade time is refused. Regression tests of the CLI
// review (findings 3 and 4, the partial first 1s bar).
import { describe, expect, it } from 'vitest';
import { DataProvider, MAX_QUIET_MS } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle, Trade } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ParseError } from '../../../engine/types/errors.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const T0 = Date.UTC(2024, 7, 8, 23, 55);
let id = 1;
/** A trade at exchange time `ts`, received `lagMs` later on the clock. */
function trade(clock: SimulatedClock, ts: number, lagMs = 0): Trade {
  clock.set(ts + lagMs);
  return { type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tradeId: id++, price: 268_000 as Ticks, lots: 10 as Lots, buyerMaker: false, tsExchange: ts, tsLocal: ts + lagMs };
}
async function provider() {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(0);
  const dp = new DataProvider({ bus, clock, primary: 'ETH/USDT', reference: 'ETH/USDT', maintenanceMs: 0, closeBy: 'trades' });
  const secs: Candle[] = [];
  bus.subscribe('md.candle', (m) => {
    if (m.timeframe === '1s') secs.push(m.candle);
  });
  await dp.start();
  return { bus, clock, dp, secs };
}

describe("DataProvider closeBy 'trades'", () => {
  it('arms no close timer: a receive clock 5 s ahead of trade time makes no trade late', async () => {
    const { clock, dp, secs } = await provider();
    for (let t = T0; t < T0 + 10_000; t += 250) dp.onTrade(trade(clock, t, 5_000));
    expect(clock.pendingCount).toBe(0);
    expect(dp.stats.lateTrades).toBe(0);
    // 10 s of trades: the first second (the stream began inside it) and the forming last one are not published.
    expect(secs.map((c) => c.openTime - T0)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((s) => s * 1000));
    expect(secs.every((c) => c.trades === 4)).toBe(true);
    expect(dp.stats.partialBars).toBe(1);
  });

  it('leaves out the first bar after a break, and makes no flat bars over it', async () => {
    const { bus, clock, dp, secs } = await provider();
    for (let t = T0; t < T0 + 3_000; t += 500) dp.onTrade(trade(clock, t));
    bus.publish({ type: 'md.feedReset', venue: 'binance', symbol: 'ETH/USDT', reason: 'test', ts: clock.now() });
    for (let t = T0 + 7_000; t < T0 + 10_000; t += 500) dp.onTrade(trade(clock, t));
    expect(secs.map((c) => c.openTime - T0)).toEqual([1_000, 8_000]);
    expect(dp.stats.partialBars).toBe(2);
  });

  it('refuses a trade more than MAX_QUIET_MS after the previous one, but not the first one after a break', async () => {
    const { bus, clock, dp } = await provider();
    dp.onTrade(trade(clock, T0));
    expect(() => dp.onTrade(trade(clock, T0 + MAX_QUIET_MS + 1_000))).toThrow(ParseError);
    bus.publish({ type: 'md.feedReset', venue: 'binance', symbol: 'ETH/USDT', reason: 'test', ts: clock.now() });
    expect(() => dp.onTrade(trade(clock, T0 + 2 * MAX_QUIET_MS))).not.toThrow();
    expect(dp.stats.trades).toBe(2);
  });
});
