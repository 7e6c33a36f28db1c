// The risk child publishes the cancels a stop asks of the executor (exec.cancelOrder) and forwards their ends, which
// send the exit of the lots they free.
import { expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskChild } from '../../../app/risk-child.ts';
import type { CancelOrder, OrderIntent } from '../../../engine/messages/orders.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderIdFor } from '../../../engine/types/ids.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import { ETH, intent, limits, lots } from './helpers.ts';

it('a stop held by a resting strategy sell: exec.cancelOrder on the bus, and the exit once it is cancelled', () => {
  const bus = new Bus();
  const clock = new SimulatedClock(1_723_161_300_000);
  const initial = { limits: limits({ stopLossBps: 200 }), instruments: [ETH], cash: money('8000'), positions: { 'ETH/USDT': { lots: lots(5000), cost: money('1340.085') } } };
  const approved: OrderIntent[] = [];
  const cancels: CancelOrder[] = [];
  bus.subscribe('risk.orderApproved', (m) => void approved.push(m.intent));
  bus.subscribe('exec.cancelOrder', (m) => void cancels.push(m));
  const actor = createActor(riskChild, { input: { bus, clock, initial, fills: () => [] } });
  actor.start();
  try {
    bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price: 268017 as Ticks, ts: clock.now() });
    // Two GTC sells far above the market hold all 5000 lots.
    const gtcs = [1, 2].map(() => intent({ side: 'sell', lots: lots(2500), price: 300000 as Ticks, timeInForce: 'GTC', ts: clock.now() }));
    for (const g of gtcs) bus.publish({ type: 'risk.intent', intent: g });
    expect(approved.map((i) => i.id)).toEqual(gtcs.map((g) => g.id));
    const cids = gtcs.map((g) => clientOrderIdFor(g.id));
    gtcs.forEach((g, i) => bus.publish({ type: 'exec.orderSubmitted', clientOrderId: cids[i]!, intentId: g.id, ts: clock.now() }));
    clock.advance(1000);
    bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price: 260000 as Ticks, ts: clock.now() });
    expect(cancels.map((c) => [c.clientOrderId, c.reason])).toEqual(cids.map((c) => [c, 'stop-loss on ETH/USDT: freeing lots for the exit']));
    expect(approved).toHaveLength(2);
    clock.advance(100);
    bus.publish({ type: 'exec.orderCancelled', clientOrderId: cids[0]!, reason: cancels[0]!.reason, ts: clock.now() });
    expect(approved.slice(2).map((i) => [i.side, i.lots, i.reduceOnly])).toEqual([['sell', 2500, true]]);
    expect(cancels).toHaveLength(2);
  } finally {
    actor.stop();
  }
});
