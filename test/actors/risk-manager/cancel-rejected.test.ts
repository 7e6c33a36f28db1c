// The executor says a cancel risk asked did not happen (exec.cancelRejected). A failed one is asked again soon and named
// in the next alert; one the engine can never do (the venue no longer trades the symbol, or lists the order open
// after answering "not open" twice) is asked no more, said once, and the exits sell only the free lots.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskManager } from '../../../actors/risk-manager/machine.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import {
  nextFlattenCheck, onCancelRejected, onFlatten, onFlattenCheck, onMark, onOrderEnd, type RiskOut, type RiskState,
} from '../../../actors/risk-manager/logic.ts';
import { clientOrderIdFor, type ClientOrderId } from '../../../engine/types/ids.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { ETH, intent, limits, lots } from './helpers.ts';
import { at, heldWithSells, SYM, T } from './resting-sells.ts';

const FAILED = 'CANCEL_FAILED: 3 attempts, the last TIMEOUT (timeout); the order may still be open at the venue';
const NOT_OPEN = 'CANCEL_NOT_OPEN_BUT_OPEN: the venue answered "not open" but lists the order open';
const UNTRADED = 'UNTRADED_SYMBOL: venue binance no longer trades ETH/USDT; cancel it at the venue by hand';

const cancels = (out: readonly RiskOut[]): string[] => out.flatMap((o) => (o.type === 'exec.cancelOrder' ? [o.clientOrderId] : []));
const exitLots = (out: readonly RiskOut[]): number[] => out.flatMap((o) => (o.type === 'risk.orderApproved' ? [o.intent.lots] : []));
const alerts = (out: readonly RiskOut[]): string[] => out.flatMap((o) => (o.type === 'risk.alert' ? [`${o.code} ${o.message}`] : []));

// Marks each second for `ms`, falling; returns the cancels asked and alerts raised.
function marks(s0: RiskState, from: number, ms: number): { s: RiskState; asked: string[]; said: string[]; sold: number[] } {
  let s = s0;
  const asked: string[] = [];
  const said: string[] = [];
  const sold: number[] = [];
  for (let t = from; t <= from + ms; t += 1_000) {
    const m = onMark(s, SYM, 259000 as Ticks, at(t));
    s = m.state;
    asked.push(...cancels(m.out));
    said.push(...alerts(m.out));
    sold.push(...exitLots(m.out));
  }
  return { s, asked, said, sold };
}

describe('onCancelRejected', () => {
  it('ignores an order whose cancel risk never asked (a halt round, a protective stop) and unknown orders', () => {
    const { s, cids } = heldWithSells({ stopLossBps: 200 }, [3000]);
    expect(onCancelRejected(s, cids[0], FAILED, at(500))).toEqual({ state: s, out: [] });
    expect(onCancelRejected(s, 'nope' as ClientOrderId, UNTRADED, at(500)).state).toBe(s);
  });

  it('CANCEL_FAILED: asks again one step after the failure rather than at the end of a long backoff, keeps the lots held, and the next alert names it', () => {
    let { s, cids } = heldWithSells({}, [3000, 2000]);
    s = onFlatten(s, SYM, at(1_000)).state;
    let now = at(1_000);
    // Unanswered long enough for the asks to be 60 s apart.
    while (true) {
      const next = nextFlattenCheck(s, now)!;
      const c = onFlattenCheck(s, next, false);
      s = c.state;
      if (cancels(c.out).length > 0 && next - now >= 60_000) { now = next; break; }
      now = next;
    }
    const r = onCancelRejected(s, cids[0], FAILED, (now + 5_000) as TsMs);
    expect(r.out).toEqual([]);
    expect(nextFlattenCheck(r.state, (now + 5_000) as TsMs)).toBe(now + 6_000);
    const c = onFlattenCheck(r.state, (now + 6_000) as TsMs, false);
    expect(cancels(c.out)).toEqual([cids[0]]);
    expect(exitLots(c.out)).toEqual([]);
    // The minute alert after it says why the cancel did not happen.
    s = c.state;
    let t = (now + 6_000) as TsMs;
    let said: string[] = [];
    while (said.length === 0 && t < now + 200_000) {
      t = nextFlattenCheck(s, t)!;
      const k = onFlattenCheck(s, t, false);
      s = k.state;
      said = alerts(k.out);
      expect(exitLots(k.out)).toEqual([]);
    }
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('5000 lots held by open strategy sells');
    expect(said[0]).toContain(`last refused: ${cids[0]} ${FAILED}`);
  });

  it('UNTRADED_SYMBOL: that sell is asked no more, said once to need a cancel at the venue, and the stop sells only the free lots', () => {
    const { s, cids } = heldWithSells({ stopLossBps: 200 }, [3000, 2000]);
    const first = marks(s, 1_000, 0);
    expect(first.asked).toEqual(cids);
    const r = onCancelRejected(first.s, cids[0], UNTRADED, at(1_500));
    expect(alerts(r.out)).toHaveLength(1);
    expect(alerts(r.out)[0]).toMatch(/^STOP_LOSS /);
    expect(alerts(r.out)[0]).toContain(`3000 lots held by ${cids[0]} cannot be freed by the engine`);
    expect(alerts(r.out)[0]).toContain('cancel it at the venue by hand');
    const later = marks(r.state, 2_000, 600_000);
    expect(later.asked.filter((c) => c === cids[0])).toEqual([]);
    expect(later.asked.filter((c) => c === cids[1]).length).toBeGreaterThan(3);
    expect(later.said.join('\n')).not.toContain('cannot be freed by the engine');
    expect(later.sold).toEqual([]);
    // The other sell's end frees its 2000 lots: only they are sold.
    expect(exitLots(onOrderEnd(later.s, cids[1], 'cancelled (stop-loss)', at(700_000)).out)).toEqual([2000]);
    // A second rejection of the same kind says nothing more.
    expect(onCancelRejected(r.state, cids[0], UNTRADED, at(1_600)).out).toEqual([]);
  });

  it('CANCEL_NOT_OPEN_BUT_OPEN: asked again after the first, given up after the second', () => {
    const { s, cids } = heldWithSells({ stopLossBps: 200 }, [3000, 2000]);
    const first = marks(s, 1_000, 0);
    const once = onCancelRejected(first.s, cids[0], NOT_OPEN, at(1_200));
    expect(once.out).toEqual([]);
    const again = marks(once.state, 2_000, 10_000);
    expect(again.asked).toContain(cids[0]);
    const twice = onCancelRejected(again.s, cids[0], NOT_OPEN, at(13_000));
    expect(alerts(twice.out)).toHaveLength(1);
    expect(alerts(twice.out)[0]).toContain('cannot be freed by the engine');
    const after = marks(twice.state, 14_000, 300_000).asked;
    expect(after).not.toContain(cids[0]);
    expect(after).toContain(cids[1]);
  });

  it('a flatten whose held sell is given up: FLATTEN_INCOMPLETE once, no more asks or wake-ups for it', () => {
    let { s, cids } = heldWithSells({}, [3000]);
    const f = onFlatten(s, SYM, at(1_000));
    expect(exitLots(f.out)).toEqual([2000]);
    const r = onCancelRejected(f.state, cids[0], UNTRADED, at(1_100));
    expect(alerts(r.out).map((a) => a.split(' ')[0])).toEqual(['FLATTEN_INCOMPLETE']);
    s = r.state;
    // The exit fills its 2000 lots elsewhere in the suite; here it ends unfilled and the next flatten round sells the free lots only.
    const e = onOrderEnd(s, s.exitOrders[SYM]!, 'expired', at(1_200));
    s = e.state;
    let now = at(1_200);
    for (let i = 0; i < 20; i++) {
      const next = nextFlattenCheck(s, now);
      if (next === undefined) break;
      now = next;
      const c = onFlattenCheck(s, now, false);
      s = c.state;
      expect(cancels(c.out)).toEqual([]);
      for (const l of exitLots(c.out)) expect(l).toBeLessThanOrEqual(2000);
      if (exitLots(c.out).length > 0) s = onOrderEnd(s, s.exitOrders[SYM]!, 'expired', now).state;
    }
  });
});

describe('the machine', () => {
  it('routes exec.cancelRejected: a given-up sell is alerted and never asked again on its clock', () => {
    const clock = new SimulatedClock(T);
    const actor = createActor(riskManager, {
      input: { limits: limits({}), instruments: [ETH], cash: money('8000'), positions: { [SYM]: { lots: lots(5000), cost: money('1340.085') } } },
      clock,
    });
    const asked: string[] = [];
    const said: string[] = [];
    actor.on('exec.cancelOrder', (c) => void asked.push(c.clientOrderId));
    actor.on('risk.alert', (a) => void said.push(a.message));
    const exits: string[] = [];
    actor.on('risk.orderApproved', (a) => void (a.intent.reduceOnly && exits.push(clientOrderIdFor(a.intent.id))));
    actor.start();
    actor.send({ type: 'risk.mark', symbol: SYM, price: 268017 as Ticks, ts: clock.now() });
    const g = intent({ side: 'sell', lots: lots(3000), price: 300000 as Ticks, timeInForce: 'GTC', ts: clock.now() });
    const cid = clientOrderIdFor(g.id);
    actor.send({ type: 'risk.intent', intent: g });
    actor.send({ type: 'exec.orderSubmitted', clientOrderId: cid, intentId: g.id, ts: clock.now() });
    actor.send({ type: 'risk.flatten', symbol: SYM, reason: 'test', ts: clock.now() });
    expect(asked).toEqual([cid]);
    clock.advance(500);
    actor.send({ type: 'exec.cancelRejected', clientOrderId: cid, reason: UNTRADED, ts: clock.now() });
    expect(said.filter((m) => m.includes('cannot be freed by the engine'))).toHaveLength(1);
    // Each exit expires unfilled, so the flatten keeps driving (and would keep asking) on its clock.
    let ended = 0;
    for (let t = 0; t < 300; t++) {
      clock.advance(1_000);
      for (; ended < exits.length; ended++) actor.send({ type: 'exec.orderExpired', clientOrderId: exits[ended] as ClientOrderId, ts: clock.now() });
    }
    expect(exits.length).toBeGreaterThan(3);
    expect(asked).toEqual([cid]);
    actor.stop();
  });
});
