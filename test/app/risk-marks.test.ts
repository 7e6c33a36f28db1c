// The traded symbol's trades become risk.mark: one per price change, and one a second at an unchanged price, so the
// breaker's stale check (risk.breaker.staleMs) sees a market that trades at one price as alive. Each mark carries the
// newest bookTicker's bid/ask (the spread guard, risk.breaker.maxSpreadBps), and a spread change marks again.
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

  it('carries the newest bid/ask, and marks a spread change at the last trade price at most every 250 ms', () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(1_000_000 as TsMs);
    const marks: [number, number, number | undefined, number | undefined][] = [];
    bus.subscribe('risk.mark', (m) => marks.push([m.ts - 1_000_000, m.price, m.bid, m.ask]));
    publishMarks(bus, clock, 'ETH/USDT');
    let id = 0;
    const at = (dt: number): TsMs => {
      clock.set((1_000_000 + dt) as TsMs);
      return clock.now();
    };
    const trade = (dt: number, price: number): void => {
      const ts = at(dt);
      bus.publish({ type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tsExchange: ts, tsLocal: ts, tradeId: ++id, price: price as Ticks, lots: 1 as Lots, buyerMaker: false });
    };
    const quote = (dt: number, bid: number, ask: number, symbol = 'ETH/USDT'): void => {
      const ts = at(dt);
      bus.publish({ type: 'md.bookTicker', venue: 'binance', symbol, tsExchange: ts, tsLocal: ts, updateId: ++id, bid: bid as Ticks, bidLots: 1 as Lots, ask: ask as Ticks, askLots: 1 as Lots });
    };
    quote(0, 268380, 268381); // no trade price yet: no mark
    trade(10, 268380); // carries the quote
    quote(20, 268380, 268381); // same spread: nothing
    quote(30, 268381, 268382); // moved, same spread: nothing
    quote(40, 265700, 271060); // wide, 30 ms after the trade's mark: marked at the last trade price
    quote(100, 265700, 271070); // another spread 60 ms later: waits
    quote(200, 268380, 268381); // back within 250 ms: waits
    quote(290, 268380, 268381); // 250 ms on, the spread differs from the last mark's: marked
    quote(300, 999, 1_000_000, 'BTC/USDT'); // another symbol: never
    trade(400, 268390); // a price change carries the newest quote
    expect(marks).toEqual([
      [10, 268380, 268380, 268381], [40, 268380, 265700, 271060], [290, 268380, 268380, 268381], [400, 268390, 268380, 268381],
    ]);
  });
});
