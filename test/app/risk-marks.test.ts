// The traded symbol's trades become risk.mark: one per price change, and one a second at an unchanged price, so the
// breaker's stale check (risk.breaker.staleMs) sees a market that trades at one price as alive.
import { describe, expect, it } from 'vitest';
import { publishMarks } from '../../app/system.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';

describe('publishMarks', () => {
  it('marks each price change and refreshes an unchanged price once a second', () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(1_000_000 as TsMs);
    const marks: [number, number][] = [];
    bus.subscribe('risk.mark', (m) => marks.push([m.ts - 1_000_000, m.price]));
    publishMarks(bus, clock, 'ETH/USDT');
    let id = 0;
    const trade = (dt: number, price: number, symbol = 'ETH/USDT'): void => {
      clock.set((1_000_000 + dt) as TsMs);
      bus.publish({ type: 'md.trade', venue: 'binance', symbol, tsExchange: clock.now(), tsLocal: clock.now(), tradeId: ++id, price: price as Ticks, lots: 1 as Lots, buyerMaker: false });
    };
    trade(0, 100);
    trade(200, 100); // same price within the second: no mark
    trade(400, 101); // a change: marked at once
    trade(900, 101);
    trade(1_300, 101); // 900 ms after the last mark: none yet
    trade(1_400, 101); // a second after it: refreshed
    trade(1_500, 999, 'BTC/USDT'); // another symbol: never
    trade(3_000, 101);
    expect(marks).toEqual([[0, 100], [400, 101], [1_400, 101], [3_000, 101]]);
  });
});
