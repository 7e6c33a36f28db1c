// The spread guard's wiring: a quote on md.bookTicker reaches the RiskManager child through publishMarks' risk.mark
// (bid/ask), through the held steps and the machine alike, and the dashboard's breaker figures show it.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { breakerFigures } from '../../app/dashboard-providers.ts';
import { riskChild } from '../../app/risk-child.ts';
import { publishMarks } from '../../app/system.ts';
import type { RiskState } from '../../actors/risk-manager/index.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { ETH, ETH_PX, intent, limits } from '../actors/risk-manager/helpers.ts';

const SYM = 'ETH/USDT';
const T0 = 1_723_161_253_000;
const PX = ETH_PX.t1520538925; // 2683.80, the recording's first trade

describe('spread guard wiring', () => {
  it('denies a buy once the book stayed 200 bps wide for 2 s, shows it on the dashboard, and allows buys once it is back', () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(T0 as TsMs);
    let read: (() => RiskState) | undefined;
    const initial = { limits: limits({ maxSpreadBps: 50, spreadMs: 2_000 }), instruments: [ETH], cash: money('5000') };
    const actor = createActor(riskChild, { input: { bus, clock, initial, fills: () => [], onState: (g) => void (read = g) } }).start();
    publishMarks(bus, clock, SYM);
    const verdicts: string[] = [];
    bus.subscribe('risk.orderDenied', (m) => verdicts.push(m.reason.code));
    bus.subscribe('risk.orderApproved', () => verdicts.push('approved'));
    const alerts: string[] = [];
    bus.subscribe('risk.alert', (m) => alerts.push(m.code));
    let id = 0;
    const at = (ms: number): TsMs => {
      clock.set((T0 + ms) as TsMs);
      return clock.now();
    };
    const quote = (ms: number, bid: number, ask: number): void => {
      const ts = at(ms);
      bus.publish({ type: 'md.bookTicker', venue: 'binance', symbol: SYM, tsExchange: ts, tsLocal: ts, updateId: ++id, bid: bid as Ticks, bidLots: 1 as Lots, ask: ask as Ticks, askLots: 1 as Lots });
    };
    const trade = (ms: number): void => {
      const ts = at(ms);
      bus.publish({ type: 'md.trade', venue: 'binance', symbol: SYM, tsExchange: ts, tsLocal: ts, tradeId: ++id, price: PX, lots: 1 as Lots, buyerMaker: false });
    };
    const buy = (ms: number): void => void bus.publish({ type: 'risk.intent', intent: intent({ price: PX, ts: at(ms) }) });
    quote(0, PX, PX + 1);
    trade(10);
    quote(500, Math.round(PX * 0.99), Math.round(PX * 1.01));
    buy(1_000); // wide for 500 ms: allowed
    trade(2_600); // wide for 2.1 s: the mark reports it
    buy(2_700);
    const shown = breakerFigures(read!(), clock.now());
    quote(3_000, PX, PX + 1);
    buy(3_100);
    actor.stop();
    expect([verdicts, alerts]).toEqual([['approved', 'MARKET_SPREAD', 'approved'], ['MARKET_SPREAD', 'MARKET_CLEARED']]);
    expect(shown).toMatchObject({ maxSpreadBps: 50, spreadMs: 2_000, symbols: { [SYM]: { move: null, stale: null, spread: { spreadBps: 202, wideForMs: 2_200 } } } });
  });
});
