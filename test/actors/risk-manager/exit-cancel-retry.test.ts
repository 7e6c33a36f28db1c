// A cancel the venue refuses must not leave a stop or flatten waiting in silence: it is asked again after a backoff
// and the held lots are alerted again at most once a minute. A take-profit cancels no strategy sell, and lots a
// stop-loss freed after the mark recovered are said to be held unprotected.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskManager } from '../../../actors/risk-manager/machine.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import {
  nextFlattenCheck, onFlatten, onFlattenCheck, onMark, onOrderEnd, type RiskOut,
} from '../../../actors/risk-manager/logic.ts';
import { clientOrderIdFor } from '../../../engine/types/ids.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import { ETH, intent, limits, lots } from './helpers.ts';
import { at, heldWithSells, SYM, T } from './resting-sells.ts';


const cancels = (out: readonly RiskOut[]): string[] => out.flatMap((o) => (o.type === 'exec.cancelOrder' ? [o.clientOrderId] : []));
const exitLots = (out: readonly RiskOut[]): number[] => out.flatMap((o) => (o.type === 'risk.orderApproved' ? [o.intent.lots] : []));
const alerts = (out: readonly RiskOut[], code: string): string[] => out.flatMap((o) => (o.type === 'risk.alert' && o.code === code ? [o.message] : []));

// The gaps between asks grow from 1 s, doubling, to at most 60 s.
function expectBackoff(askTimes: readonly number[]): void {
  const gaps = askTimes.slice(1).map((t, i) => t - askTimes[i]);
  expect(gaps[0]).toBeGreaterThanOrEqual(1_000);
  for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]);
  for (const g of gaps) expect(g).toBeLessThanOrEqual(61_000);
}

describe('a cancel that never ends', () => {
  it('a stop-loss asks it again after a backoff and repeats STOP_LOSS at most once a minute while the price falls', () => {
    let { s, cids } = heldWithSells({ stopLossBps: 200 }, [3000, 2000]);
    const askTimes: number[] = [];
    const alertTimes: number[] = [];
    const messages: string[] = [];
    let px = 260000;
    for (let t = 1_000; t <= 600_000; t += 1_000) {
      const m = onMark(s, SYM, px as Ticks, at(t));
      s = m.state;
      if (cancels(m.out).length > 0) {
        expect(cancels(m.out)).toEqual(cids);
        askTimes.push(t);
      }
      const a = alerts(m.out, 'STOP_LOSS');
      if (a.length > 0) { alertTimes.push(t); messages.push(...a); }
      expect(exitLots(m.out)).toEqual([]);
      px = Math.round(px * 0.999);
    }
    expect(askTimes.length).toBeGreaterThan(5);
    expectBackoff(askTimes);
    expect(askTimes[askTimes.length - 1] - askTimes[askTimes.length - 2]).toBe(60_000);
    expect(alertTimes.length).toBeGreaterThan(5);
    for (let i = 1; i < alertTimes.length; i++) expect(alertTimes[i] - alertTimes[i - 1]).toBeGreaterThanOrEqual(60_000);
    const last = messages[messages.length - 1];
    expect(last).toContain('5000 lots held by open strategy sells');
    expect(last).toContain(cids[0]);
    expect(last).toMatch(/cancels asked for \d+ ms/);
  });

  it('a flatten asks it again with no marks at all (risk.flattenCheck) and repeats FLATTEN_INCOMPLETE at most once a minute', () => {
    let { s, cids } = heldWithSells({}, [3000, 2000]);
    const f = onFlatten(s, SYM, at(1_000));
    expect(cancels(f.out)).toEqual(cids);
    s = f.state;
    const askTimes = [1_000];
    const alertTimes = [1_000];
    let now = at(1_000);
    for (let i = 0; i < 40; i++) {
      const next = nextFlattenCheck(s, now);
      expect(next).toBeDefined();
      now = next!;
      const c = onFlattenCheck(s, now, false);
      s = c.state;
      if (cancels(c.out).length > 0) {
        expect(cancels(c.out)).toEqual(cids);
        askTimes.push(now - T);
      }
      const a = alerts(c.out, 'FLATTEN_INCOMPLETE');
      if (a.length > 0) {
        alertTimes.push(now - T);
        expect(a[0]).toContain('5000 lots held by open strategy sells');
        expect(a[0]).toMatch(/cancels asked for \d+ ms/);
      }
      expect(exitLots(c.out)).toEqual([]);
    }
    expect(askTimes.length).toBeGreaterThan(10);
    expectBackoff(askTimes);
    expect(alertTimes.length).toBeGreaterThan(5);
    for (let i = 1; i < alertTimes.length; i++) expect(alertTimes[i] - alertTimes[i - 1]).toBeGreaterThanOrEqual(60_000);
    // An end stops the asks for that order; the other's go on.
    const e = onOrderEnd(s, cids[0], 'cancelled (flatten)', now);
    expect(exitLots(e.out)).toEqual([3000]);
  });
});

describe('the machine', () => {
  it("asks a flatten's unanswered cancel again on its clock alone (no mark, no other event)", () => {
    const clock = new SimulatedClock(T);
    const actor = createActor(riskManager, {
      input: { limits: limits({}), instruments: [ETH], cash: money('8000'), positions: { [SYM]: { lots: lots(5000), cost: money('1340.085') } } },
      clock,
    });
    const asked: number[] = [];
    actor.on('exec.cancelOrder', () => asked.push(clock.now() - T));
    actor.start();
    actor.send({ type: 'risk.mark', symbol: SYM, price: 268017 as Ticks, ts: clock.now() });
    for (const n of [3000, 2000]) {
      const g = intent({ side: 'sell', lots: lots(n), price: 300000 as Ticks, timeInForce: 'GTC', ts: clock.now() });
      actor.send({ type: 'risk.intent', intent: g });
      actor.send({ type: 'exec.orderSubmitted', clientOrderId: clientOrderIdFor(g.id), intentId: g.id, ts: clock.now() });
    }
    actor.send({ type: 'risk.flatten', symbol: SYM, reason: 'test', ts: clock.now() });
    for (let t = 0; t < 200; t++) clock.advance(1_000);
    // Two at once, then both again at each step of the backoff: 1 s, 2 s, 4 s, ... 60 s.
    expect(asked.length).toBeGreaterThan(2 * 5);
    expectBackoff(asked.filter((_, i) => i % 2 === 0));
    actor.stop();
  });
});

describe('which strategy sells an exit cancels', () => {
  it('a take-profit cancels none: it sells the free lots and says the rest is left to the resting sells', () => {
    const { s } = heldWithSells({ takeProfitBps: 200 }, [3000], 290000);
    const m = onMark(s, SYM, 274000 as Ticks, at(1_000));
    expect(cancels(m.out)).toEqual([]);
    expect(exitLots(m.out)).toEqual([2000]);
    expect(alerts(m.out, 'TAKE_PROFIT')[0]).toContain('3000 lots held by open strategy sells are left resting');
    expect(cancels(onMark(m.state, SYM, 275000 as Ticks, at(2_000)).out)).toEqual([]);
  });

  it('a stop-loss whose cancel ends after the mark recovered says the freed lots are held unprotected, once', () => {
    const { s, cids } = heldWithSells({ stopLossBps: 200 }, [3000]);
    const m = onMark(s, SYM, 260000 as Ticks, at(1_000));
    expect(cancels(m.out)).toEqual(cids);
    expect(exitLots(m.out)).toEqual([2000]);
    const back = onMark(m.state, SYM, 268000 as Ticks, at(2_000));
    const e = onOrderEnd(back.state, cids[0], 'cancelled (stop-loss)', at(3_000));
    expect(exitLots(e.out)).toEqual([]);
    const a = alerts(e.out, 'STOP_LOSS');
    expect(a).toHaveLength(1);
    expect(a[0]).toContain(`3000 lots freed by cancelling ${cids[0]} are held unprotected by any resting sell`);
  });

  it('no unprotected alert when the freed lots are sold', () => {
    const { s, cids } = heldWithSells({ stopLossBps: 200 }, [3000, 2000]);
    const m = onMark(s, SYM, 260000 as Ticks, at(1_000));
    const e = onOrderEnd(m.state, cids[0], 'cancelled (stop-loss)', at(2_000));
    expect(exitLots(e.out)).toEqual([3000]);
    expect(e.out.filter((o) => o.type === 'risk.alert')).toEqual([]);
  });
});
