// An order the venue reports filled while its trade history lacks some fills (reconcile FILLS_MISSING) is closed as
// filled here and publishes no end: the venue holds what it filled, so the RiskManager keeps the unbooked rest counted
// as open. Published as a cancel (a8616f6) it freed that rest, and a second buy went past the position cap at the venue
// (re-review): 200 booked + 300 unbooked at the venue + a new 300 = 800 against 600.
import { afterEach, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { createRiskState, onExecFill, onIntent, onMark, onOrderEnd, onOrderSeen, type RiskState } from '../../../actors/risk-manager/logic.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { limits } from '../risk-manager/helpers.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';
import { openOrderOf } from '../../../actors/risk-manager/open-orders.ts';

const T0 = 1_723_161_300_000;
const PX = 6_183_763;
const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

it('an order closed as filled with fills missing publishes no end: the RiskManager keeps holding its unbooked rest', async () => {
  const clock = new SimulatedClock(T0);
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const venue = new PollVenue();
  const rec = recordingBus();
  const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: capturingLogger().logger, pollMs: 2000, rng: () => 0.5 });
  await ex.start();
  const settle = (): Promise<void> => drive(clock, () => !ex.busy);
  let risk: RiskState = createRiskState({
    limits: limits({
      maxOrderNotional: money('100000'), maxPositionNotional: money('100000'), maxExposure: money('100000'), symbols: { 'BTC/USDT': { maxPositionLots: 600 as Lots } },
    }),
    instruments: [{ ...BTC }], cash: money('10000'),
  });
  risk = onMark(risk, 'BTC/USDT', PX as Ticks, T0 as TsMs).state;
  // The RiskManager's handlers fed from the bus, as its machine is.
  rec.bus.subscribePrefix('*', (m: EngineMsg) => {
    const now = clock.now() as TsMs;
    if (m.type === 'exec.orderSubmitted') risk = onOrderSeen(risk, m.clientOrderId);
    else if (m.type === 'exec.orderFilled') risk = onExecFill(risk, m.fill, true, now).state;
    else if (m.type === 'exec.orderPartiallyFilled') risk = onExecFill(risk, m.fill, false, now).state;
    else if (m.type === 'exec.orderRejected' || m.type === 'exec.orderCancelled' || m.type === 'exec.orderExpired') risk = onOrderEnd(risk, m.clientOrderId, m.type, now).state;
  });
  const v = onIntent(risk, limitIntent('a', PX, { lots: 500 as Lots }), clock.now() as TsMs);
  risk = v.state;
  expect(v.out[0]?.type).toBe('risk.orderApproved');
  rec.bus.publish(v.out[0] as EngineMsg);
  await settle();
  const cid = clientOrderIdFor('a');
  // The venue's trade history shows only the first of three fills.
  venue.historyLength = 1;
  venue.fill(cid, 200);
  venue.fill(cid, 200);
  venue.fill(cid, 100);
  for (let i = 0; i < 3; i++) {
    clock.advance(2000);
    await settle();
  }
  expect(ex.order(cid)?.status).toBe('filled');
  const ends = rec.seen.filter((m) => (m.type === 'exec.orderCancelled' || m.type === 'exec.orderExpired' || m.type === 'exec.orderRejected') && m.clientOrderId === cid);
  expect(ends).toHaveLength(0);
  expect(risk.portfolio.positions['BTC/USDT']?.lots).toBe(200);
  expect(openOrderOf(risk.openOrders, cid)?.lots).toBe(300);
  // 200 booked + 300 the venue filled unseen + 300 = 800 > 600.
  const second = onIntent(risk, limitIntent('b', PX, { lots: 300 as Lots }), clock.now() as TsMs).out[0];
  expect(second?.type).toBe('risk.orderDenied');
  expect(second?.type === 'risk.orderDenied' && second.reason.code).toBe('POSITION_LIMIT');
});
