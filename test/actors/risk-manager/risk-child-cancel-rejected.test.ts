// The risk child forwards exec.cancelRejected for the sells whose cancels risk asked: a cancel the venue can never do
// is said once on the bus and asked no more; rejections of cancels risk never asked are not its business.
import { expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskChild } from '../../../app/risk-child.ts';
import type { CancelOrder } from '../../../engine/messages/orders.ts';
import type { RiskAlert } from '../../../engine/messages/risk.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderIdFor } from '../../../engine/types/ids.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import { ETH, intent, limits, lots } from './helpers.ts';

it('a stop held by a sell whose symbol the venue no longer trades: one alert to cancel it by hand, and no more cancels of it', () => {
  const bus = new Bus();
  const clock = new SimulatedClock(1_723_161_300_000);
  const initial = { limits: limits({ stopLossBps: 200 }), instruments: [ETH], cash: money('8000'), positions: { 'ETH/USDT': { lots: lots(5000), cost: money('1340.085') } } };
  const cancels: CancelOrder[] = [];
  const said: RiskAlert[] = [];
  bus.subscribe('exec.cancelOrder', (m) => void cancels.push(m));
  bus.subscribe('risk.alert', (m) => void said.push(m));
  const actor = createActor(riskChild, { input: { bus, clock, initial, fills: () => [] } });
  actor.start();
  try {
    bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price: 268017 as Ticks, ts: clock.now() });
    const gtcs = [1, 2].map(() => intent({ side: 'sell', lots: lots(2500), price: 300000 as Ticks, timeInForce: 'GTC', ts: clock.now() }));
    for (const g of gtcs) bus.publish({ type: 'risk.intent', intent: g });
    const cids = gtcs.map((g) => clientOrderIdFor(g.id));
    gtcs.forEach((g, i) => bus.publish({ type: 'exec.orderSubmitted', clientOrderId: cids[i]!, intentId: g.id, ts: clock.now() }));
    clock.advance(1000);
    bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price: 260000 as Ticks, ts: clock.now() });
    expect(cancels.map((c) => c.clientOrderId)).toEqual(cids);
    const before = said.length;
    // A halt round's rejection of an order risk never asked about: ignored.
    bus.publish({ type: 'exec.cancelRejected', clientOrderId: 'x-other' as never, reason: 'CANCEL_FAILED: 3 attempts', ts: clock.now() });
    bus.publish({ type: 'exec.cancelRejected', clientOrderId: cids[0]!, reason: 'UNTRADED_SYMBOL: venue binance no longer trades ETH/USDT', ts: clock.now() });
    const now = said.slice(before);
    expect(now.map((a) => a.code)).toEqual(['STOP_LOSS']);
    expect(now[0]!.message).toContain(`2500 lots held by ${cids[0]} cannot be freed by the engine`);
    cancels.length = 0;
    for (let t = 0; t < 300; t++) {
      clock.advance(1000);
      bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price: 259000 as Ticks, ts: clock.now() });
    }
    expect(cancels.some((c) => c.clientOrderId === cids[0])).toBe(false);
    expect(cancels.some((c) => c.clientOrderId === cids[1])).toBe(true);
  } finally {
    actor.stop();
  }
});
