// Orders the RiskManager approved and that have not ended count against its limits (review of the RiskManager, #1):
// four buys of 3000 lots approved before any fill made a 12,000-lot position over maxPositionLots 6000, and a strategy
// sell of the lots a stop exit was already selling was approved.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { createRiskState, onExecFill, onIntent, onMark, onOrderEnd, onOrderSeen, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { riskManager } from '../../../actors/risk-manager/machine.ts';
import { riskChild } from '../../../app/risk-child.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { OrderIntent } from '../../../engine/messages/orders.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderIdFor } from '../../../engine/types/ids.ts';
import { money, type Money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { ETH, ETH_PX, fill, intent, limits, lots } from './helpers.ts';
import { openOrderOf } from '../../../actors/risk-manager/open-orders.ts';

const T = 1_723_161_300_000 as TsMs;
const P = ETH_PX.t1520543125; // 2680.17: 3000 lots (0.3 ETH) are 804.051 USDT

function state(cash: string, over: Partial<RiskLimits> = {}): RiskState {
  return { ...createRiskState({ limits: limits({ maxSubmitsPerSecond: 10, ...over }), instruments: [ETH], cash: money(cash) }), marks: { 'ETH/USDT': P } };
}

// Proposes `intents` one ms apart from `s`; returns the state and each verdict (denials as their code).
function propose(s0: RiskState, intents: readonly OrderIntent[], t0 = T): { s: RiskState; verdicts: string[]; reasons: unknown[] } {
  let s = s0;
  const verdicts: string[] = [];
  const reasons: unknown[] = [];
  intents.forEach((it, i) => {
    const st = onIntent(s, it, (t0 + i) as TsMs);
    s = st.state;
    const o = st.out[st.out.length - 1]!;
    verdicts.push(o.type === 'risk.orderDenied' ? o.reason.code : 'approved');
    reasons.push(o.type === 'risk.orderDenied' ? o.reason : undefined);
  });
  return { s, verdicts, reasons };
}

const buy = (n: number): OrderIntent => intent({ lots: lots(n) });

describe('open orders', () => {
  it('counts approved buys not yet filled toward position lots, and says so in the denial', () => {
    const { verdicts, reasons } = propose(state('10000'), [buy(3000), buy(3000), buy(3000), buy(3000)]);
    expect(verdicts).toEqual(['approved', 'approved', 'POSITION_LIMIT', 'POSITION_LIMIT']);
    expect(reasons[2]).toMatchObject({ code: 'POSITION_LIMIT', position: 9000, max: 6000, including: '6000 lots of open buys' });
  });

  it('counts open buys toward position notional and exposure', () => {
    // No lot cap: 804.051 + 804.051 = 1608.10; a third makes 2412.15, over maxPositionNotional 2000.
    const { verdicts, reasons } = propose(state('10000', { symbols: {} }), [buy(3000), buy(3000), buy(3000)]);
    expect(verdicts).toEqual(['approved', 'approved', 'POSITION_NOTIONAL_LIMIT']);
    expect(reasons[2]).toMatchObject({ notional: money('2412.153'), including: 'open buys of 6000 lots worth 1608.102 USDT' });
    const e = propose(state('10000', { symbols: {}, maxPositionNotional: money('5000'), maxExposure: money('2000') }), [buy(3000), buy(3000), buy(3000)]);
    expect(e.verdicts).toEqual(['approved', 'approved', 'EXPOSURE_LIMIT']);
    expect(e.reasons[2]).toMatchObject({ exposure: money('2412.153') });
  });

  it('reserves cash with the fee reserve for open buys', () => {
    // Each buy needs 804.051 + 0.1% = 804.855051; 1500 holds two only if nothing is reserved.
    const { verdicts, reasons } = propose(state('1500'), [buy(3000), buy(3000)]);
    expect(verdicts).toEqual(['approved', 'INSUFFICIENT_BALANCE']);
    expect(reasons[1]).toMatchObject({ needed: money('804.855051'), available: money('695.144949'), including: '804.855051 USDT reserved for open buys' });
  });

  it('releases a buy as it fills and when it ends without a fill', () => {
    const a = buy(3000);
    const cid = clientOrderIdFor(a.id);
    let { s } = propose(state('10000'), [a, buy(3000)]);
    // 1000 of the first fill: 1000 lots held and 5000 open, the cap of 6000 reached.
    s = onExecFill(s, fill('buy', P, 1000, money('0'), { clientOrderId: cid }), false, T).state;
    expect(s.portfolio.positions['ETH/USDT']?.lots).toBe(1000);
    expect(propose(s, [buy(100)], (T + 10) as TsMs).reasons[0]).toMatchObject({ code: 'POSITION_LIMIT', position: 6100, including: '5000 lots of open buys' });
    // Its rest is rejected: 1000 held and 3000 open, so 2000 more fit and 2100 do not.
    s = onOrderEnd(s, cid, 'rejected VENUE: test', T).state;
    expect(openOrderOf(s.openOrders, cid)).toBeUndefined();
    expect(propose(s, [buy(2000)], (T + 10) as TsMs).verdicts).toEqual(['approved']);
    expect(propose(s, [buy(2100)], (T + 10) as TsMs).verdicts).toEqual(['POSITION_LIMIT']);
  });

  it('denies a strategy sell of the lots a stop exit is already selling', () => {
    let s = createRiskState({ limits: limits({ stopLossBps: 200 }), instruments: [ETH], cash: money('8000'), positions: { 'ETH/USDT': { lots: lots(3000), cost: money('804.051') } } });
    const m = onMark(s, 'ETH/USDT', 260000 as Ticks, T);
    s = m.state;
    expect(m.out.some((o) => o.type === 'risk.orderApproved')).toBe(true);
    const { verdicts, reasons } = propose(s, [intent({ side: 'sell', reduceOnly: true, lots: lots(3000), price: 260000 as Ticks })], (T + 1) as TsMs);
    expect(verdicts).toEqual(['INSUFFICIENT_POSITION']);
    expect(reasons[0]).toMatchObject({ available: 0, including: '3000 lots in open sells' });
  });

  it('sizes a stop exit without the lots an open strategy sell is selling', () => {
    let s = createRiskState({ limits: limits({ stopLossBps: 200 }), instruments: [ETH], cash: money('8000'), positions: { 'ETH/USDT': { lots: lots(5000), cost: money('1340.085') } } });
    s = { ...s, marks: { 'ETH/USDT': P } };
    s = propose(s, [intent({ side: 'sell', lots: lots(2000) })]).s;
    const m = onMark(s, 'ETH/USDT', 260000 as Ticks, (T + 10) as TsMs);
    const exit = m.out.find((o) => o.type === 'risk.orderApproved');
    expect(exit?.type === 'risk.orderApproved' && exit.intent.lots).toBe(3000);
  });

  it('releases an approval the executor never took up after 120 s, and keeps one it did', () => {
    const a = buy(3000);
    let { s } = propose(state('10000'), [a, buy(3000)]);
    s = onOrderSeen(s, clientOrderIdFor(a.id));
    expect(propose(s, [buy(3000)], (T + 119_000) as TsMs).verdicts).toEqual(['POSITION_LIMIT']);
    // The second, never taken up, no longer counts; the first does.
    expect(propose(s, [buy(3000), buy(100)], (T + 121_000) as TsMs).verdicts).toEqual(['approved', 'POSITION_LIMIT']);
  });

  it('the machine releases a buy the executor rejects', () => {
    const clock = new SimulatedClock(T);
    const actor = createActor(riskManager, { input: { limits: limits({ maxSubmitsPerSecond: 10 }), instruments: [ETH], cash: money('10000') }, clock });
    const seen: string[] = [];
    actor.on('*', (e) => void seen.push(e.type === 'risk.orderDenied' ? e.reason.code : e.type));
    actor.start();
    actor.send({ type: 'risk.mark', symbol: 'ETH/USDT', price: P, ts: T });
    const a = buy(3000);
    for (const it of [a, buy(3000), buy(3000)]) actor.send({ type: 'risk.intent', intent: it });
    actor.send({ type: 'exec.orderSubmitted', clientOrderId: clientOrderIdFor(a.id), intentId: a.id, ts: T });
    actor.send({ type: 'exec.orderRejected', clientOrderId: clientOrderIdFor(a.id), code: 'X', message: 'test', ts: T });
    actor.send({ type: 'risk.intent', intent: buy(3000) });
    expect(seen).toEqual(['risk.orderApproved', 'risk.orderApproved', 'POSITION_LIMIT', 'risk.orderApproved']);
  });

  it('the risk child forwards the rejection of a strategy order it approved on its held state', () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(T);
    const seen: string[] = [];
    bus.subscribe('risk.orderApproved', () => void seen.push('approved'));
    bus.subscribe('risk.orderDenied', (m) => void seen.push(m.reason.code));
    const actor = createActor(riskChild, { input: { bus, clock, initial: { limits: limits({ maxSubmitsPerSecond: 10 }), instruments: [ETH], cash: money('10000') as Money }, fills: () => [] } });
    actor.start();
    bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price: P, ts: T });
    const a = buy(3000);
    for (const it of [a, buy(3000), buy(3000)]) bus.publish({ type: 'risk.intent', intent: it });
    bus.publish({ type: 'exec.orderRejected', clientOrderId: clientOrderIdFor(a.id), code: 'X', message: 'test', ts: T });
    bus.publish({ type: 'risk.intent', intent: buy(3000) });
    actor.stop();
    expect(seen).toEqual(['approved', 'approved', 'POSITION_LIMIT', 'approved']);
  });
});
