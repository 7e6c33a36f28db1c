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

  // Review of 5b8d4e4 (finding 1): a change held back by the 250 ms throttle was lost when the book went quiet after it.
  it('marks a spread change held back by the 250 ms throttle once it is up, with the newest bid/ask, although the book then goes quiet', () => {
    const r = rig();
    r.quote(0, 268380, 268381);
    r.trade(10, 268380);
    r.quote(100, 268380, 268382); // marked (the last spread mark)
    r.quote(200, 265700, 271060); // held back
    r.quote(300, 265700, 271070); // held back too: the timer marks this one
    r.clock.set((1_000_000 + 5_000) as TsMs);
    expect(r.marks).toEqual([[10, 268380, 268380, 268381], [100, 268380, 268380, 268382], [350, 268380, 265700, 271070]]);
  });

  it('sends no held-back mark when a trade mark carried the newest quote first, or the spread went back to the last mark\'s', () => {
    const r = rig();
    r.trade(0, 268380);
    r.quote(10, 268380, 268381); // marked
    r.quote(100, 265700, 271060); // held back
    r.trade(150, 268390); // a price change carries it
    r.quote(400, 268380, 268381); // 390 ms after the spread mark: marked at once
    r.quote(500, 265700, 271060); // held back
    r.quote(600, 268380, 268381); // back to the last mark's spread before the timer
    r.clock.set((1_000_000 + 900) as TsMs);
    expect(r.marks).toEqual([[0, 268380, undefined, undefined], [10, 268380, 268380, 268381], [150, 268390, 265700, 271060], [400, 268390, 268380, 268381]]);
    expect(r.clock.pendingCount).toBe(0);
  });

  it('drops a held-back spread mark when unsubscribed', () => {
    const r = rig();
    r.trade(0, 268380);
    r.quote(10, 268380, 268381);
    r.quote(100, 265700, 271060); // held back
    r.off();
    r.clock.set((1_000_000 + 1_000) as TsMs);
    expect([r.marks.length, r.clock.pendingCount]).toEqual([2, 0]);
  });

  // Review of 5b8d4e4 (finding 3): whether quotes kept the stale guard quiet depended on the spread changing.
  it('marks the last trade price once a second while bookTickers arrive at an unchanged spread, and nothing once they stop', () => {
    const r = rig();
    r.trade(0, 268380);
    for (let dt = 100; dt <= 3_000; dt += 100) r.quote(dt, 268380 + (dt / 100) % 5, 268381 + (dt / 100) % 5);
    r.clock.set((1_000_000 + 10_000) as TsMs);
    expect(r.marks.map(([dt, price]) => [dt, price])).toEqual([[0, 268380], [100, 268380], [1_100, 268380], [2_100, 268380]]);
  });
});

// A bus, a simulated clock at 1,000,000 and publishMarks on ETH/USDT; `marks` holds [ms from the start, price, bid, ask].
function rig() {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(1_000_000 as TsMs);
  const marks: [number, number, number | undefined, number | undefined][] = [];
  bus.subscribe('risk.mark', (m) => marks.push([m.ts - 1_000_000, m.price, m.bid, m.ask]));
  const off = publishMarks(bus, clock, 'ETH/USDT');
  let id = 0;
  const at = (dt: number): TsMs => {
    clock.set((1_000_000 + dt) as TsMs);
    return clock.now();
  };
  const trade = (dt: number, price: number): void => {
    const ts = at(dt);
    bus.publish({ type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tsExchange: ts, tsLocal: ts, tradeId: ++id, price: price as Ticks, lots: 1 as Lots, buyerMaker: false });
  };
  const quote = (dt: number, bid: number, ask: number): void => {
    const ts = at(dt);
    bus.publish({ type: 'md.bookTicker', venue: 'binance', symbol: 'ETH/USDT', tsExchange: ts, tsLocal: ts, updateId: ++id, bid: bid as Ticks, bidLots: 1 as Lots, ask: ask as Ticks, askLots: 1 as Lots });
  };
  return { clock, marks, off, trade, quote };
}
