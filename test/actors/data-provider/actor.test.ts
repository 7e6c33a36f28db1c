import { describe, expect, it } from 'vitest';
import { dataProviderChild } from '../../../actors/data-provider/actor.ts';
import type { DataProvider } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { Supervisor } from '../../../engine/runtime/supervisor.ts';
import { archive } from './helpers.ts';

const H22 = Date.UTC(2024, 7, 8, 22);

describe('DataProvider as a supervised child', () => {
  it('runs under the supervisor, is restarted as a fresh instance after a failure, and unsubscribes when stopped', async () => {
    const clock = new SimulatedClock(H22);
    const bus = new Bus<EngineMsg>();
    const instances: (DataProvider | undefined)[] = [];
    const sup = new Supervisor({
      bus, clock, rng: () => 0.5,
      children: [dataProviderChild({ options: { bus, clock, maintenanceMs: 0 }, onInstance: (dp) => instances.push(dp) })],
    });
    sup.start();
    const subsRunning = bus.subscriptionCount;
    const bars = archive.all('ETH/USDT', '1m').filter((c) => c.openTime >= H22).slice(0, 3);
    for (const c of bars) bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1m', tsExchange: c.openTime, tsLocal: c.openTime, candle: c });
    // A kline of a timeframe the provider does not keep is skipped, not a crash.
    bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '5m' as never, tsExchange: H22, tsLocal: H22, candle: bars[0]! });
    const first = instances[0]!;
    const statusAfterBadKline = sup.status()[0]!.state;

    sup.reportFailure('dataProvider', new Error('venue adapter crashed'));
    clock.advance(1_000); // past the first restart delay
    const second = instances.at(-1)!;
    const subsAfterRestart = bus.subscriptionCount;
    sup.stop();

    expect(first.series('ETH/USDT', '1m').length).toBe(3);
    expect(first.stats.malformedKlines).toBe(1);
    expect(statusAfterBadKline).toBe('running');
    expect(second).not.toBe(first);
    expect(second).toBeDefined();
    expect(second.series('ETH/USDT', '1m').length).toBe(0);
    expect(sup.status()[0]!.restarts).toBe(1);
    expect(subsAfterRestart).toBe(subsRunning);
    expect(instances.at(-1)).toBeUndefined();
    expect(bus.subscriptionCount).toBe(subsRunning - 4); // md.trade, md.candle, md.feedReset, md.feedStatus
  });
});
