import { describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { restoreRiskState, riskManager, snapshotRiskState, type RiskMachineInput } from '../../../actors/risk-manager/machine.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import type { OrderIntent } from '../../../engine/messages/orders.ts';
import { clientOrderId } from '../../../engine/types/ids.ts';
import { ETH, ETH_PX, fill, intent, limits, lots } from './helpers.ts';

const T0 = 1_723_161_255_611; // time of the recording's first ETH trade

function start(over: Partial<RiskLimits> = {}, input?: RiskMachineInput) {
  const clock = new SimulatedClock(T0);
  const actor = createActor(riskManager, {
    input: input ?? {
      limits: limits({ stopLossBps: 30, ...over }),
      instruments: [ETH],
      cash: money('8658.1'),
      positions: { 'ETH/USDT': { lots: lots(5000), cost: money('1341.9') } },
    },
    clock,
  });
  const seen: string[] = [];
  actor.on('*', (e) => {
    seen.push(e.type === 'risk.orderDenied' ? `denied:${e.reason.code}` : e.type === 'risk.alert' ? `alert:${e.code}` : e.type === 'risk.stateChanged' ? `state:${e.state}` : e.type);
  });
  actor.start();
  const mark = (price: number) => actor.send({ type: 'risk.mark', symbol: 'ETH/USDT', price: price as Ticks, ts: clock.now() });
  return { actor, clock, seen, mark };
}

describe('riskManager actor', () => {
  it('approves an intent in limits and stamps it with the clock time', () => {
    const { actor, clock } = start();
    const spy = vi.fn();
    actor.on('risk.orderApproved', spy);
    clock.advance(250);
    actor.send({ type: 'risk.intent', intent: intent({ ts: 0 }) });
    expect(spy.mock.calls.map(([e]) => e.ts)).toEqual([T0 + 250]);
  });

  it('denies intents while halted by the kill switch, refuses resume until it is off', () => {
    const { actor, seen } = start();
    actor.send({ type: 'risk.killSwitch', on: true, reason: 'test', ts: T0 });
    actor.send({ type: 'risk.intent', intent: intent() });
    actor.send({ type: 'risk.resume', ts: T0 });
    actor.send({ type: 'risk.killSwitch', on: false, ts: T0 });
    actor.send({ type: 'risk.intent', intent: intent() });
    actor.send({ type: 'risk.resume', ts: T0 });
    actor.send({ type: 'risk.intent', intent: intent() });
    expect(seen).toEqual([
      'alert:KILL_SWITCH', 'state:halted', 'denied:KILL_SWITCH', 'alert:RESUME_REFUSED',
      'alert:KILL_SWITCH', 'denied:TRADING_HALTED', 'state:active', 'risk.orderApproved',
    ]);
    expect(actor.getSnapshot().value).toBe('active');
  });

  it('halts on drawdown, denies while halted, and resumes with a reset peak', () => {
    // 3.7 ETH at 2683.80 + 69.94 cash = 10 000; 2673.60 is a 37 bps drawdown
    const { actor, seen, mark } = start({}, {
      limits: limits({ maxDrawdownBps: 35, reduceAtDrawdownBps: 30, maxPositionNotional: money('20000'), maxExposure: money('20000') }),
      instruments: [ETH],
      cash: money('69.94'),
      positions: { 'ETH/USDT': { lots: lots(37000), cost: money('9930.06') } },
    });
    mark(ETH_PX.t1520538925);
    mark(267500); // 32 bps
    actor.send({ type: 'risk.intent', intent: intent() });
    mark(ETH_PX.t1520547382); // 37 bps
    actor.send({ type: 'risk.intent', intent: intent({ side: 'sell' }) });
    const halted = actor.getSnapshot();
    actor.send({ type: 'risk.resume', resetPeak: true, ts: T0 });
    mark(ETH_PX.t1520547382);
    expect(seen).toEqual([
      'alert:DRAWDOWN', 'state:reducing', 'denied:REDUCING_ONLY',
      'alert:DRAWDOWN', 'state:halted', 'denied:TRADING_HALTED',
      'state:active',
    ]);
    expect([halted.value, halted.context.stateReason, actor.getSnapshot().value]).toEqual(['halted', 'drawdown 37 bps reached the maximum 35 bps', 'active']);
  });

  it('fires the stop-loss once, as a reduce-only approved exit', () => {
    const { actor, mark } = start();
    const spy = vi.fn();
    actor.on('risk.orderApproved', spy);
    for (const px of [ETH_PX.t1520538925, 267574, ETH_PX.t1520547382, 267400, 267000]) mark(px);
    expect(spy.mock.calls.map(([e]) => [e.intent.reason, e.intent.lots, e.intent.reduceOnly])).toEqual([['stop-loss', 5000, true]]);
  });

  // Review finding 4: the IOC exit of a thin book, or one the executor or venue rejects, left the rest of the position
  // with no stop at all.
  it('arms the stop again when its exit expires part-filled or is rejected, and fires it at most once per mark', () => {
    const { actor, clock, mark } = start();
    const exits: OrderIntent[] = [];
    actor.on('risk.orderApproved', (e) => void exits.push(e.intent));
    const cid = (i: number) => clientOrderIdFor(exits[i]!.id);
    mark(267500); // 0.5 ETH bought at 2,683.80: 2,675.00 is 32 bps down, past the 30 bps stop
    mark(ETH_PX.t1520547382); // still fired: nothing
    // The IOC exit fills 0.2 ETH at 2,675.00, and the venue expires the rest.
    actor.send({ type: 'exec.orderPartiallyFilled', fill: fill('sell', 267500 as Ticks, 2000, money('0.535'), { clientOrderId: cid(0) }), leavesLots: lots(3000), ts: clock.now() });
    mark(ETH_PX.t1520547382); // the rest may still fill: nothing
    actor.send({ type: 'exec.orderExpired', clientOrderId: cid(0), ts: clock.now() });
    clock.advance(100);
    mark(ETH_PX.t1520547382); // armed again: the 0.3 ETH left
    mark(267300);
    // An order that is not the exit ending changes nothing; the exit's rejection arms the stop again.
    actor.send({ type: 'exec.orderCancelled', clientOrderId: clientOrderId('cbNotTheExit'), reason: 'strategy', ts: clock.now() });
    mark(267300);
    actor.send({ type: 'exec.orderRejected', clientOrderId: cid(1), code: 'VENUE_CIRCUIT_OPEN', message: 'circuit open', ts: clock.now() });
    clock.advance(999);
    mark(267300); // a rejected stop exit waits 1 s before the next: nothing
    clock.advance(1);
    mark(267300);
    // This one fills whole: flat, nothing more to sell.
    actor.send({ type: 'exec.orderFilled', fill: fill('sell', 267300 as Ticks, 3000, money('0.8019'), { clientOrderId: cid(2) }), ts: clock.now() });
    mark(267000);
    expect(exits.map((e) => [e.reason, e.lots])).toEqual([['stop-loss', 5000], ['stop-loss', 3000], ['stop-loss', 3000]]);
    expect(new Set(exits.map((e) => e.id)).size).toBe(3);
    const p = actor.getSnapshot().context.portfolio.positions['ETH/USDT'];
    expect([p.lots, p.exitFired, actor.getSnapshot().context.exitOrders]).toEqual([0, false, {}]);
  });

  it('holds a stop armed again back while the submit window is full, and sends it on the first mark after', () => {
    const { actor, clock, mark } = start({ maxSubmitsPerSecond: 1 });
    const exits: OrderIntent[] = [];
    actor.on('risk.orderApproved', (e) => void exits.push(e.intent));
    mark(267500);
    actor.send({ type: 'exec.orderRejected', clientOrderId: clientOrderIdFor(exits[0]!.id), code: 'EXECUTOR_NOT_READY', message: 'reconciling', ts: clock.now() });
    clock.advance(999);
    mark(267500); // the first exit is still in (now − 1000, now]
    clock.advance(1);
    mark(267500);
    expect(exits.map((e) => e.ts - T0)).toEqual([0, 1000]);
  });

  it('limits submits over a sliding one-second window as the clock advances', () => {
    // Flat, with room for every buy: approved buys count as open toward the position limits, and this tests the window.
    const { actor, clock, seen } = start({}, { limits: limits({ maxSubmitsPerSecond: 3 }), instruments: [ETH], cash: money('8658.1') });
    const send = () => actor.send({ type: 'risk.intent', intent: intent({ ts: 0 }) });
    send(); clock.advance(400); send(); clock.advance(400); send();
    send(); // t=800: 4th in (−200, 800]
    clock.advance(199); send(); // t=999: the t=0 submit is still inside (−1, 999]
    clock.advance(1); send(); // t=1000: t=0 dropped out of (0, 1000]
    send(); // t=1000: window holds 400, 800, 1000
    expect(seen).toEqual(['risk.orderApproved', 'risk.orderApproved', 'risk.orderApproved', 'denied:SUBMIT_RATE', 'denied:SUBMIT_RATE', 'risk.orderApproved', 'denied:SUBMIT_RATE']);
  });

  it('applies full and partial fills once each, even when delivered twice', () => {
    const { actor } = start();
    const f1 = fill('sell', ETH_PX.t1520543725, 1000, money('0.268496'));
    const f2 = fill('sell', ETH_PX.t1520543725, 2000, money('0.536992'));
    actor.send({ type: 'exec.orderPartiallyFilled', fill: f1, leavesLots: lots(2000), ts: T0 });
    actor.send({ type: 'exec.orderPartiallyFilled', fill: f1, leavesLots: lots(2000), ts: T0 });
    actor.send({ type: 'exec.orderFilled', fill: f2, ts: T0 });
    const p = actor.getSnapshot().context.portfolio.positions['ETH/USDT'];
    // 0.3 of the 0.5 ETH at 2683.80 closed at 2684.96: +0.348
    expect([p.lots, p.cost, p.realised, p.fees]).toEqual([2000, money('536.76'), money('0.348'), money('0.805488')]);
  });

  it('refuses an invalid limit set and applies a valid one', () => {
    const { actor, seen } = start();
    actor.send({ type: 'risk.setLimits', limits: { maxDrawdownBps: 20_000 }, ts: T0 });
    actor.send({ type: 'risk.setLimits', limits: { maxOrderNotional: money('100') }, ts: T0 });
    actor.send({ type: 'risk.intent', intent: intent() }); // 268.017 > 100
    expect(seen).toEqual(['alert:LIMITS_INVALID', 'risk.limitsChanged', 'denied:NOTIONAL_EXCEEDS_MAX']);
    expect(actor.getSnapshot().context.limits.maxDrawdownBps).toBe(1_000);
  });

  it('restores a halted state with its positions from a snapshot', () => {
    const { actor } = start();
    actor.send({ type: 'risk.killSwitch', on: true, ts: T0 });
    const saved = structuredClone(snapshotRiskState(actor));
    actor.stop();
    const restored = start({}, restoreRiskState(saved));
    restored.actor.send({ type: 'risk.intent', intent: intent() });
    restored.actor.send({ type: 'risk.flatten', reason: 'operator', ts: T0 });
    expect([restored.actor.getSnapshot().value, restored.actor.getSnapshot().context.portfolio.positions['ETH/USDT'].cost]).toEqual(['halted', money('1341.9')]);
    expect(restored.seen).toEqual(['denied:KILL_SWITCH', 'risk.orderApproved']);
  });
});
