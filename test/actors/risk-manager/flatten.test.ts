// The kill switch's flatten as a standing request per symbol ("flatten until flat"), and the resume refusals, on the
// RiskManager machine with a simulated clock. Review of the dashboard controls (kill switch), findings 1, 2, 4 and 5:
// one flatten order sized from the fills booked so far left the lots of an order filled after it, a refused one was
// never sent again, a second kill sent a second full-size sell, and a resume went active over a drawdown past the maximum.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderIdFor } from '../../../engine/types/ids.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { OrderIntent } from '../../../engine/messages/orders.ts';
import { createRiskState, onFlatten, onMark, type RiskInput, type RiskOut } from '../../../actors/risk-manager/logic.ts';
import { riskManager } from '../../../actors/risk-manager/machine.ts';
import { ETH, ETH_PX, fill, intent, limits, lots } from './helpers.ts';

const T0 = 1_723_161_255_611; // time of the recording's first ETH trade
const SYM = 'ETH/USDT';

/** 0.5 ETH held at 2,683.80 (or `held` lots) and 8,658.10 USDT. */
function start(over: Partial<RiskInput> = {}, held = 5000) {
  const clock = new SimulatedClock(T0);
  const actor = createActor(riskManager, {
    input: {
      limits: limits(), instruments: [ETH], cash: money('8658.1'),
      ...(held > 0 ? { positions: { [SYM]: { lots: lots(held), cost: money(((held * 268_380) / 1e6).toFixed(4)) } } } : {}),
      ...over,
    },
    clock,
  });
  const seen: string[] = [];
  const exits: OrderIntent[] = [];
  const alerts: { code: string; message: string; at: number }[] = [];
  actor.on('*', (e) => {
    seen.push(e.type === 'risk.orderDenied' ? `denied:${e.reason.code}` : e.type === 'risk.alert' ? `alert:${e.code}` : e.type === 'risk.stateChanged' ? `state:${e.state}` : e.type);
    if (e.type === 'risk.orderApproved' && e.intent.reduceOnly) exits.push(e.intent);
    if (e.type === 'risk.alert') alerts.push({ code: e.code, message: e.message, at: clock.now() - T0 });
  });
  actor.start();
  const mark = (price: number) => actor.send({ type: 'risk.mark', symbol: SYM, price: price as Ticks, ts: clock.now() });
  const kill = () => {
    actor.send({ type: 'risk.killSwitch', on: true, reason: 'dashboard: operator kill switch', ts: clock.now() });
    actor.send({ type: 'risk.flatten', reason: 'dashboard: operator kill switch', ts: clock.now() });
  };
  const cid = (i: number) => clientOrderIdFor(exits[i]!.id);
  const reject = (i: number) => actor.send({ type: 'exec.orderRejected', clientOrderId: cid(i), code: 'INSUFFICIENT_FUNDS', message: 'Account has insufficient balance for requested action.', ts: clock.now() });
  const sellFill = (i: number, n: number, complete = true) => {
    const f = fill('sell', ETH_PX.t1520538925, n, money('0'), { clientOrderId: cid(i) });
    actor.send(complete ? { type: 'exec.orderFilled', fill: f, ts: clock.now() } : { type: 'exec.orderPartiallyFilled', fill: f, leavesLots: lots(0), ts: clock.now() });
  };
  const ctx = () => actor.getSnapshot().context;
  return { actor, clock, seen, exits, alerts, mark, kill, cid, reject, sellFill, ctx };
}

describe('standing flatten', () => {
  // Finding 1: a strategy buy waiting on the venue's answer filled after the kill's one flatten was sized.
  it('sells the lots of an order that fills after the kill, and says when the position is flat', () => {
    const r = start({}, 0);
    r.mark(ETH_PX.t1520538925);
    const buy = intent({ orderType: 'market', price: undefined, timeInForce: 'IOC', lots: lots(1000) });
    r.actor.send({ type: 'risk.intent', intent: buy });
    r.kill(); // flat: nothing to sell yet, but the request stands while halted
    const standing = Object.keys(r.ctx().flatten);
    r.actor.send({ type: 'exec.orderFilled', fill: fill('buy', ETH_PX.t1520538925, 1000, money('0.26838'), { clientOrderId: clientOrderIdFor(buy.id) }), ts: r.clock.now() });
    expect([standing, r.exits.map((e) => [e.reason, e.side, e.lots, e.reduceOnly])]).toEqual([[SYM], [['flatten', 'sell', 1000, true]]]);
    r.sellFill(0, 1000);
    r.mark(ETH_PX.t1520547382);
    expect(r.exits.length).toBe(1);
    expect(r.seen).toEqual(['risk.orderApproved', 'alert:KILL_SWITCH', 'state:halted', 'risk.orderApproved', 'alert:FLATTENED']);
    expect([r.ctx().portfolio.positions[SYM].lots, r.ctx().tradingState, Object.keys(r.ctx().flatten)]).toEqual([0, 'halted', [SYM]]);
  });

  // Finding 2: the venue's refusal of the single flatten order (INSUFFICIENT_FUNDS, circuit open, a ban) ended it.
  it('sends a refused exit again after a backoff on the clock (no mark needed), alerting at most once a minute', () => {
    const r = start();
    r.mark(ETH_PX.t1520538925);
    r.kill();
    // Every exit is refused at once; the clock moves in 500 ms steps and no mark arrives.
    let refused = 0;
    for (let t = 0; t <= 70_000; t += 500) {
      if (t > 0) r.clock.advance(500);
      while (refused < r.exits.length) r.reject(refused++);
    }
    expect(r.exits.map((e) => e.ts - T0)).toEqual([0, 1_000, 3_000, 7_000, 15_000, 31_000, 63_000]);
    expect(r.exits.every((e) => e.lots === 5000 && e.reduceOnly)).toBe(true);
    expect(r.alerts.filter((a) => a.code === 'FLATTEN_INCOMPLETE').map((a) => a.at)).toEqual([0, 63_000]);
    expect(r.alerts.find((a) => a.code === 'FLATTEN_INCOMPLETE')!.message).toContain('rejected INSUFFICIENT_FUNDS');
    // A fill ends the refusals: the rest goes out at once.
    r.clock.advance(60_000);
    r.sellFill(7, 2000, false);
    r.actor.send({ type: 'exec.orderExpired', clientOrderId: r.cid(7), ts: r.clock.now() });
    r.clock.advance(1_000);
    expect(r.exits.slice(8).map((e) => e.lots)).toEqual([3000]);
  });

  // Finding 5: a double click on kill, or a kill while a stop-loss exit is in flight, approved a second full-size sell.
  it('never has two exits of one symbol in flight: a second kill adds none', () => {
    const r = start();
    r.mark(ETH_PX.t1520538925);
    r.kill();
    r.kill();
    r.mark(ETH_PX.t1520547382);
    expect(r.exits.map((e) => [e.reason, e.lots])).toEqual([['flatten', 5000]]);
  });

  it('lets a stop-loss exit in flight finish before the kill\'s flatten sells what it left', () => {
    const r = start({ limits: limits({ stopLossBps: 30 }) });
    r.mark(267500); // 32 bps under the entry: the stop fires
    r.kill();
    r.sellFill(0, 2000, false); // the stop's IOC fills 0.2 ETH, the rest expires
    r.actor.send({ type: 'exec.orderExpired', clientOrderId: r.cid(0), ts: r.clock.now() });
    const before = r.exits.length;
    r.clock.advance(1_000);
    expect([before, r.exits.map((e) => [e.reason, e.lots])]).toEqual([1, [['stop-loss', 5000], ['flatten', 3000]]]);
  });

  it('waits for the submit window rather than send the exit faster than any other order', () => {
    const r = start({ limits: limits({ maxSubmitsPerSecond: 1 }) });
    r.mark(ETH_PX.t1520538925);
    r.actor.send({ type: 'risk.intent', intent: intent({ side: 'sell', lots: lots(1000) }) });
    r.clock.advance(500);
    r.kill();
    const during = r.exits.length;
    r.clock.advance(499);
    const stillDuring = r.exits.length;
    r.clock.advance(1);
    expect([during, stillDuring, r.exits.map((e) => e.ts - T0)]).toEqual([0, 0, [1_000]]);
  });

  it('stops at dust that can never be sold with one alert naming it, rather than loop', () => {
    // 10 lots (0.001 ETH, ~2.68 USDT) are under the 5 USDT minimum notional.
    const active = start({}, 10);
    active.mark(ETH_PX.t1520538925);
    active.actor.send({ type: 'risk.flatten', reason: 'operator', ts: active.clock.now() });
    const halted = start({}, 10);
    halted.mark(ETH_PX.t1520538925);
    halted.kill();
    for (let i = 0; i < 5; i++) {
      halted.clock.advance(1_000);
      halted.mark(ETH_PX.t1520538925 - i);
    }
    expect([active.exits.length, active.alerts.map((a) => a.code), Object.keys(active.ctx().flatten)]).toEqual([0, ['FLATTEN_INCOMPLETE'], []]);
    expect(active.alerts[0]!.message).toContain('10 lots held');
    expect([halted.exits.length, halted.alerts.map((a) => a.code)]).toEqual([0, ['KILL_SWITCH', 'FLATTEN_INCOMPLETE']]);
  });

  it('ends on an operator resume (FLATTEN_ENDED), and on its own when flat while trading', () => {
    const r = start({}, 0);
    r.mark(ETH_PX.t1520538925);
    r.actor.send({ type: 'risk.flatten', reason: 'operator', ts: r.clock.now() });
    const whileActive = Object.keys(r.ctx().flatten);
    r.kill();
    const whileHalted = Object.keys(r.ctx().flatten);
    r.actor.send({ type: 'risk.killSwitch', on: false, ts: r.clock.now() });
    r.actor.send({ type: 'risk.resume', ts: r.clock.now() });
    expect([whileActive, whileHalted, Object.keys(r.ctx().flatten), r.actor.getSnapshot().value]).toEqual([[], [SYM], [], 'active']);
    expect(r.alerts.map((a) => a.code)).toEqual(['KILL_SWITCH', 'KILL_SWITCH', 'FLATTEN_ENDED']);
  });

  // Review of today's standing flatten: an exit the executor left submitted or accepted for ever (a venue that never
  // answers, a poll that keeps failing) kept the flatten waiting without a word.
  it('reports an exit left in flight for 30 s on the clock (no mark needed), at most once a minute, and sends no second exit', () => {
    const r = start();
    r.mark(ETH_PX.t1520538925);
    r.kill(); // the exit goes out at 0 and the executor never ends it
    const late = () => r.alerts.filter((a) => a.code === 'FLATTEN_INCOMPLETE').map((a) => a.at);
    r.clock.advance(29_999);
    const before = late();
    r.clock.advance(1);
    const at30 = late();
    r.clock.advance(60_000);
    r.mark(ETH_PX.t1520547382);
    r.clock.advance(60_000);
    expect([before, at30, late(), r.exits.length]).toEqual([[], [30_000], [30_000, 90_000, 150_000], 1]);
    expect(r.alerts.find((a) => a.code === 'FLATTEN_INCOMPLETE')!.message).toContain(`exit ${r.cid(0)} has been in flight for 30000 ms`);
    // Its late end is a refusal as before (reported at once); the next exit is late 30 s after it was sent, no sooner
    // than a minute after the last report.
    r.clock.advance(5_000);
    r.reject(0);
    r.clock.advance(1_000);
    r.clock.advance(60_000);
    expect([late(), r.exits.map((e) => e.ts - T0)]).toEqual([[30_000, 90_000, 150_000, 155_000, 210_000], [0, 156_000]]);
  });

  it('reports a late exit on a mark as well as on the timer', () => {
    const s0 = createRiskState({ limits: limits(), instruments: [ETH], cash: money('8658.1'), positions: { [SYM]: { lots: lots(5000), cost: money('1341.9') } } });
    const s1 = onMark(s0, SYM, ETH_PX.t1520538925, T0).state;
    const s2 = onFlatten(s1, SYM, T0, 'operator').state;
    const early = onMark(s2, SYM, ETH_PX.t1520547382, T0 + 29_999);
    const due = onMark(s2, SYM, ETH_PX.t1520547382, T0 + 30_000);
    const codes = (out: readonly RiskOut[]) => out.map((o) => (o.type === 'risk.alert' ? o.code : o.type));
    expect([codes(early.out), codes(due.out)]).toEqual([[], ['FLATTEN_INCOMPLETE']]);
    expect(due.state.flatten[SYM]!.lateAlertedAt).toBe(T0 + 30_000);
  });

  it('refuses a flatten of a symbol it does not trade, naming it', () => {
    const r = start();
    r.actor.send({ type: 'risk.flatten', symbol: 'SOL/USDT', reason: 'operator', ts: r.clock.now() });
    expect([r.exits.length, r.alerts.map((a) => a.message)]).toEqual([0, ['flatten refused: SOL/USDT is not an instrument of the risk manager (ETH/USDT)']]);
  });
});

describe('resume refusals', () => {
  // Finding 4: `start` without resetPeak went active over a drawdown past the maximum and approved buys until the
  // next mark that moved the price.
  it('refuses a resume while drawdown is at or above the maximum, unless the peak is reset', () => {
    // 3.7 ETH at 2,683.80 + 69.94 cash = 10,000; 2,673.60 is 37 bps down.
    const r = start({
      limits: limits({ maxDrawdownBps: 35, maxPositionNotional: money('20000'), maxExposure: money('20000') }),
      cash: money('69.94'), positions: { [SYM]: { lots: lots(37000), cost: money('9930.06') } },
    });
    r.mark(ETH_PX.t1520538925);
    r.mark(ETH_PX.t1520547382);
    r.actor.send({ type: 'risk.resume', ts: r.clock.now() });
    r.actor.send({ type: 'risk.intent', intent: intent() });
    const refusedIn = r.actor.getSnapshot().value;
    r.actor.send({ type: 'risk.resume', resetPeak: true, ts: r.clock.now() });
    expect(r.seen).toEqual(['alert:DRAWDOWN', 'state:halted', 'alert:RESUME_REFUSED', 'denied:TRADING_HALTED', 'state:active']);
    expect([refusedIn, r.alerts[1]!.message]).toEqual(['halted', 'resume refused: drawdown 37 bps is at or above the maximum 35 bps; resume with resetPeak to measure drawdown from the current equity']);
  });

  it('refuses a resume after an engine failure even once the kill switch is off', () => {
    const r = start();
    r.actor.send({ type: 'risk.killSwitch', on: true, reason: "system halted: actor 'dataProvider' failed 6 times", source: 'engine', ts: r.clock.now() });
    r.actor.send({ type: 'risk.killSwitch', on: false, reason: 'dashboard: operator start', ts: r.clock.now() });
    r.actor.send({ type: 'risk.resume', resetPeak: true, ts: r.clock.now() });
    expect([r.actor.getSnapshot().value, r.seen]).toEqual(['halted', ['alert:KILL_SWITCH', 'state:halted', 'alert:KILL_SWITCH', 'alert:RESUME_REFUSED']]);
    expect(r.alerts[2]!.message).toContain("the engine halted for a failure (system halted: actor 'dataProvider' failed 6 times)");
  });
});
