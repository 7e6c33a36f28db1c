// A stop or a flatten does not wait on resting strategy sells (GTC limits far above the market): it asks the executor
// to cancel them (once each), sells what is free now, alerts, and sells the freed lots when the cancels end.
import { describe, expect, it } from 'vitest';
import {
  nextFlattenCheck, onExecFill, onFlatten, onMark, onOrderEnd, onOrderSeen, type RiskOut,
} from '../../../actors/risk-manager/logic.ts';
import { clientOrderIdFor } from '../../../engine/types/ids.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { OrderIntent } from '../../../engine/messages/orders.ts';
import { fill } from './helpers.ts';
import { at, heldWithSells, SYM } from './resting-sells.ts';


const cancels = (out: readonly RiskOut[]): string[] => out.flatMap((o) => (o.type === 'exec.cancelOrder' ? [o.clientOrderId] : []));
const exits = (out: readonly RiskOut[]): OrderIntent[] => out.flatMap((o) => (o.type === 'risk.orderApproved' ? [o.intent] : []));
const alerts = (out: readonly RiskOut[], code: string): string[] => out.flatMap((o) => (o.type === 'risk.alert' && o.code === code ? [o.message] : []));

describe('a stop-loss frees the lots of resting strategy sells', () => {
  it('every lot held: asks each cancel once, alerts, and sells the lots each cancel frees', () => {
    let { s, cids } = heldWithSells({ stopLossBps: 200 }, [3000, 2000]);
    const m = onMark(s, SYM, 260000 as Ticks, at(1000));
    expect(cancels(m.out)).toEqual(cids);
    for (const o of m.out) if (o.type === 'exec.cancelOrder') expect(o.reason).toBe(`stop-loss on ${SYM}: freeing lots for the exit`);
    expect(exits(m.out)).toEqual([]);
    const [alert] = alerts(m.out, 'STOP_LOSS');
    expect(alert).toContain('5000 lots held by open strategy sells');
    for (const cid of cids) expect(alert).toContain(cid);
    s = m.state;
    // Later marks within the cancels' backoff (1 s) ask nothing again and send nothing while the sells still rest.
    const m2 = onMark(s, SYM, 250000 as Ticks, at(1500));
    expect(m2.out).toEqual([]);
    s = m2.state;
    // The first cancel ends: its 3000 lots go out at once.
    const e1 = onOrderEnd(s, cids[0], 'cancelled (stop-loss)', at(1800));
    expect(exits(e1.out).map((i) => i.lots)).toEqual([3000]);
    expect(cancels(e1.out)).toEqual([]);
    s = onExecFill(e1.state, fill('sell', 250000 as Ticks, 3000, money('0'), { clientOrderId: clientOrderIdFor(exits(e1.out)[0].id) }), true, at(2600)).state;
    // The second ends: the rest goes out (its exit was re-armed by the fill), and no cancel is asked again.
    const e2 = onOrderEnd(s, cids[1], 'cancelled (stop-loss)', at(3000));
    expect(exits(e2.out).map((i) => i.lots)).toEqual([2000]);
    expect(cancels(e2.out)).toEqual([]);
  });

  it('4000 of 5000 held: sells 1000 now, asks the cancels, then sells what each cancel frees', () => {
    let { s, cids } = heldWithSells({ stopLossBps: 200 }, [2000, 2000]);
    const m = onMark(s, SYM, 260000 as Ticks, at(1000));
    expect(exits(m.out).map((i) => i.lots)).toEqual([1000]);
    expect(cancels(m.out)).toEqual(cids);
    expect(alerts(m.out, 'STOP_LOSS')[0]).toContain('selling 1000 lots; 4000 lots held by open strategy sells');
    s = onExecFill(m.state, fill('sell', 260000 as Ticks, 1000, money('0'), { clientOrderId: clientOrderIdFor(exits(m.out)[0].id) }), true, at(1100)).state;
    // The first cancel's end sends its 2000 lots; the second's, with that exit in flight, sends nothing more.
    const e1 = onOrderEnd(s, cids[0], 'cancelled (stop-loss)', at(1200));
    expect(exits(e1.out).map((i) => i.lots)).toEqual([2000]);
    const e2 = onOrderEnd(e1.state, cids[1], 'cancelled (stop-loss)', at(1300));
    expect(e2.out).toEqual([]);
    s = onExecFill(e2.state, fill('sell', 259000 as Ticks, 2000, money('0'), { clientOrderId: clientOrderIdFor(exits(e1.out)[0].id) }), true, at(1400)).state;
    // The next mark sells the rest the second cancel freed, with no cancel asked again.
    const next = onMark(s, SYM, 259000 as Ticks, at(2000));
    expect(exits(next.out).map((i) => i.lots)).toEqual([2000]);
    expect(cancels(next.out)).toEqual([]);
  });

  it("risk's own exits are never cancelled", () => {
    let { s } = heldWithSells({ stopLossBps: 200 }, []);
    const m = onMark(s, SYM, 260000 as Ticks, at(1000));
    expect(exits(m.out).map((i) => i.lots)).toEqual([5000]);
    s = onOrderSeen(m.state, clientOrderIdFor(exits(m.out)[0].id));
    const f = onFlatten(s, SYM, at(1500));
    expect(cancels(f.out)).toEqual([]);
  });
});

describe('a flatten frees the lots of resting strategy sells', () => {
  it('every lot held: asks the cancels, alerts, and sells the lots each cancel frees', () => {
    let { s, cids } = heldWithSells({ stopLossBps: 200 }, [3000, 2000]);
    const f = onFlatten(s, SYM, at(1000));
    expect(cancels(f.out)).toEqual(cids);
    for (const o of f.out) if (o.type === 'exec.cancelOrder') expect(o.reason).toBe(`flatten on ${SYM}: freeing lots for the exit`);
    expect(alerts(f.out, 'FLATTEN_INCOMPLETE')[0]).toContain('5000 lots held by open strategy sells');
    s = f.state;
    expect(cancels(onFlatten(s, SYM, at(1100)).out)).toEqual([]);
    const e = onOrderEnd(s, cids[1], 'cancelled (flatten)', at(1200));
    expect(exits(e.out).map((i) => i.lots)).toEqual([2000]);
    expect(nextFlattenCheck(e.state, at(1200))).toBeDefined();
  });

  it('after a stop asked the cancels: a flatten asks none again but says what is held', () => {
    let { s, cids } = heldWithSells({ stopLossBps: 200 }, [3000, 2000]);
    s = onMark(s, SYM, 260000 as Ticks, at(1000)).state;
    const f = onFlatten(s, SYM, at(1400));
    expect(cancels(f.out)).toEqual([]);
    expect(alerts(f.out, 'FLATTEN_INCOMPLETE')).toEqual([
      `flatten of ${SYM} incomplete: selling nothing now; 5000 lots held by open strategy sells (their cancels were asked before); the lots they free are sold when they end`,
    ]);
    expect(onFlatten(f.state, SYM, at(1800)).out).toEqual([]);
    expect(exits(onOrderEnd(f.state, cids[0], 'cancelled (stop-loss)', at(3500)).out).map((i) => i.lots)).toEqual([3000]);
  });
});
