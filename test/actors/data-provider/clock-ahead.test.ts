// A local clock running ahead of the exchange's trade times (no NTP, a drifted VM) must not make the DataProvider
// close 1s bars before their trades arrive: with the clock 3 s ahead, the old closing refused most trades as late.
import { describe, expect, it } from 'vitest';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle, Trade } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const T0 = Date.UTC(2024, 7, 8, 23, 55);

async function run(lagMs: (i: number) => number, seconds = 30, heldBack?: number) {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(T0 - 60_000);
  const dp = new DataProvider({ bus, clock, primary: 'ETH/USDT', reference: 'ETH/USDT', maintenanceMs: 0 });
  const secs: Candle[] = [];
  bus.subscribe('md.candle', (m) => {
    if (m.timeframe === '1s' && m.symbol === 'ETH/USDT') secs.push(m.candle);
  });
  await dp.start();
  // A trade every 100 ms of exchange time, received lagMs(i) later on the local clock (timers fire on the way).
  const deliver = (i: number, at: number) => {
    const ts = T0 + i * 100;
    if (at > clock.now()) clock.set(at);
    dp.onTrade({ type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tradeId: i + 1, price: (268_000 + (i % 7)) as Ticks, lots: 10 as Lots, buyerMaker: false, tsExchange: ts, tsLocal: at } satisfies Trade);
  };
  for (let i = 0; i < seconds * 10; i++) {
    if (i === heldBack) continue;
    deliver(i, T0 + i * 100 + lagMs(i));
    if (heldBack !== undefined && i === heldBack + 25) deliver(heldBack, T0 + heldBack * 100 + 2_500);
  }
  return { dp, secs };
}

describe('DataProvider closing 1s bars by the clock', () => {
  it('loses no trade when the local clock runs 3 s ahead of the trade times (latency 20–220 ms on top)', async () => {
    const { dp, secs } = await run((i) => 3_000 + 20 + ((i * 37) % 200));
    expect(dp.stats.lateTrades).toBe(0);
    expect(secs.length).toBeGreaterThan(20);
    expect(secs.every((c) => c.trades === 10)).toBe(true);
    expect(dp.clockAheadMs('ETH/USDT')).toBeGreaterThanOrEqual(3_000);
    expect(dp.clockAheadMs('ETH/USDT')).toBeLessThan(3_100);
  });

  it('closes as before when the clock runs behind the trade times (the bundled recording: about 1.25 s)', async () => {
    const { dp, secs } = await run(() => -1_250);
    expect(dp.clockAheadMs('ETH/USDT')).toBe(0);
    expect(dp.stats.lateTrades).toBe(0);
    expect(secs.every((c) => c.trades === 10)).toBe(true);
  });

  it('still refuses a trade that really comes after its bar closed', async () => {
    // 50 ms latency; trade 150 is held back and delivered 2.5 s late, after the later ones: its bar had closed by the
    // clock (1 s grace past the 50 ms latency floor).
    const { dp } = await run((i) => (i === 150 ? NaN : 50), 30, 150);
    expect(dp.clockAheadMs('ETH/USDT')).toBe(50);
    expect(dp.stats.lateTrades).toBe(1);
  });
});
