// The spread and stale guards through publishMarks and the RiskManager child when the book goes quiet (review of
// 5b8d4e4, findings 1 and 3): a spread change held back by the 250 ms throttle still reaches the breaker, and a book
// that quotes without trading is a live feed while one that says nothing goes stale.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskChild } from '../../app/risk-child.ts';
import { publishMarks } from '../../app/system.ts';
import type { RiskLimits } from '../../engine/messages/risk.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { ETH, ETH_PX, intent, limits } from '../actors/risk-manager/helpers.ts';

const SYM = 'ETH/USDT';
const T0 = 1_723_161_253_000;
const PX = ETH_PX.t1520538925;
const WIDE: [number, number] = [Math.round(PX * 0.99), Math.round(PX * 1.01)]; // ~202 bps

function rig(l: Partial<RiskLimits> = { maxSpreadBps: 50, spreadMs: 2_000, markStaleMs: 60_000 }) {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(T0 as TsMs);
  const initial = { limits: limits(l), instruments: [ETH], cash: money('5000') };
  const actor = createActor(riskChild, { input: { bus, clock, initial, fills: () => [] } }).start();
  const off = publishMarks(bus, clock, SYM);
  const verdicts: string[] = [];
  bus.subscribe('risk.orderDenied', (m) => verdicts.push(m.reason.code));
  bus.subscribe('risk.orderApproved', () => verdicts.push('approved'));
  let id = 0;
  const at = (ms: number): TsMs => {
    clock.set((T0 + ms) as TsMs);
    return clock.now();
  };
  return {
    verdicts,
    quote: (ms: number, bid: number, ask: number): void => {
      const ts = at(ms);
      bus.publish({ type: 'md.bookTicker', venue: 'binance', symbol: SYM, tsExchange: ts, tsLocal: ts, updateId: ++id, bid: bid as Ticks, bidLots: 1 as Lots, ask: ask as Ticks, askLots: 1 as Lots });
    },
    trade: (ms: number): void => {
      const ts = at(ms);
      bus.publish({ type: 'md.trade', venue: 'binance', symbol: SYM, tsExchange: ts, tsLocal: ts, tradeId: ++id, price: PX, lots: 1 as Lots, buyerMaker: false });
    },
    buy: (ms: number): void => void bus.publish({ type: 'risk.intent', intent: intent({ price: PX, ts: at(ms) }) }),
    stop: (): void => {
      off();
      actor.stop();
    },
  };
}

describe('spread guard on a quiet book', () => {
  it('denies buys when the book widened within 250 ms of the last spread mark and then went quiet', () => {
    const r = rig();
    r.quote(0, PX, PX + 1);
    r.trade(10);
    r.quote(100, PX, PX + 2); // a spread mark
    r.quote(200, ...WIDE); // held back, and nothing moves after it
    r.buy(5_000);
    r.buy(10_000);
    r.stop();
    expect(r.verdicts).toEqual(['MARKET_SPREAD', 'MARKET_SPREAD']);
  });

  it('allows buys when the book narrowed within 250 ms of the last spread mark and then went quiet', () => {
    const r = rig();
    r.quote(0, PX, PX + 1);
    r.trade(10);
    r.quote(100, ...WIDE);
    r.quote(2_200, WIDE[0], WIDE[1] + 1); // wide for 2.1 s: marked, denying
    r.quote(2_300, PX, PX + 1); // back to one tick 100 ms later: held back, and nothing moves after it
    r.buy(5_000);
    r.buy(30_000);
    r.stop();
    expect(r.verdicts).toEqual(['approved', 'approved']);
  });
});

describe('stale guard with quotes and no trades', () => {
  it.each([
    ['a constant one-tick spread', 0],
    ['a spread flickering between one and two ticks', 1],
  ])('allows a buy after 65 s of bookTickers with %s and no trade', (_name, flicker) => {
    const r = rig();
    r.trade(0);
    for (let ms = 100; ms <= 65_000; ms += 100) {
      const bid = PX + (ms / 100) % 5;
      r.quote(ms, bid, bid + 1 + (flicker ? (ms / 100) % 2 : 0));
    }
    r.buy(65_000);
    r.stop();
    expect(r.verdicts).toEqual(['approved']);
  });

  it('denies a buy MARKET_STALE once neither trades nor quotes came for over a minute', () => {
    const r = rig();
    r.trade(0);
    for (let ms = 100; ms <= 5_000; ms += 100) r.quote(ms, PX, PX + 1);
    r.buy(70_000);
    r.stop();
    expect(r.verdicts).toEqual(['MARKET_STALE']);
  });
});
