// While trading is halted every open order of ours is cancelled, and the cancel sticks: a cancel that failed every
// attempt is sent again on the executor's clock with backoff until the venue has cancelled the order, and a start into
// a halted RiskManager (which announces nothing) cancels what the last run left open. The RiskManager's own exits are
// left working. Regressions of the review scripts /tmp/rv/ctl/halt-cancel-fails.ts and restart-halted.ts: an order
// whose cancel timed out three times rested at the venue and filled while halted; after a restart no cancel was sent.
import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { TradingExecutor, type RiskStateView } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import type { RiskState } from '../../../actors/risk-manager/index.ts';
import { riskChild } from '../../../app/risk-child.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { RISK_EXIT_PREFIX, type ClientOrderId } from '../../../engine/types/ids.ts';
import { money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { limits } from '../risk-manager/helpers.ts';
import { BTC, capturingLogger, limitIntent, recordingBus, storeWritesDone, tempStore } from './helpers.ts';
import { PushVenue } from './push-venue.ts';
import { until } from '../../wait-until.ts';

const T0 = 1_723_161_300_000;
/** Recorded BTC/USDT trade 3735683259: 61837.63. */
const PX = 6_183_763 as Ticks;
const BID = (PX - 500) as Ticks;

const stores: Array<ReturnType<typeof tempStore>> = [];
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) s();
  for (const s of stores.splice(0)) await s.cleanup();
});

/** Lets promises and store writes finish and moves the simulated clock by `ms` in `stepMs` steps. */
async function advance(clock: SimulatedClock, ms: number, stepMs = 100): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    await storeWritesDone();
    clock.advance(stepMs);
  }
  await storeWritesDone();
}

function executor(o: { bus: Bus<EngineMsg>; clock: SimulatedClock; venue: PushVenue; store: ReturnType<typeof tempStore>; riskState?: () => RiskStateView | undefined }) {
  const cap = capturingLogger();
  const ex = new TradingExecutor({
    bus: o.bus, clock: o.clock, venue: o.venue, store: o.store.store, instruments: [BTC], log: cap.logger, rng: () => 0.5,
    ...(o.riskState ? { riskState: o.riskState } : {}),
  });
  stops.push(() => ex.stop());
  return { ex, cap };
}

/** The real RiskManager child on `bus`, its control state persisted in `store`; `state()` reads its state. */
function riskManager(bus: Bus<EngineMsg>, clock: SimulatedClock, store: ReturnType<typeof tempStore>) {
  let read: (() => RiskState) | undefined;
  const initial = {
    limits: limits({ maxOrderNotional: money('100000'), maxPositionNotional: money('100000'), maxExposure: money('100000'), maxSubmitsPerSecond: 100 }),
    instruments: [BTC], cash: money('10000'),
  };
  const risk = createActor(riskChild, { input: { bus, clock, initial, fills: () => [], store: store.lmdb, onState: (g) => void (read = g) } });
  return { risk, state: () => read?.() };
}

/** A strategy's resting limit buy, proposed to the RiskManager at `ts`. */
const propose = (bus: Bus<EngineMsg>, id: string, ts: number) => {
  bus.publish({ type: 'risk.mark', symbol: 'BTC/USDT', price: PX, ts });
  bus.publish({ type: 'risk.intent', intent: limitIntent(id, BID, { lots: 100 as Lots, ts }) });
};

describe('cancelling open orders while halted', () => {
  it('sends a cancel that failed every attempt again, on the clock with backoff, until the venue has cancelled the order', async () => {
    const s = tempStore(undefined, { syncCommits: true });
    stores.push(s);
    const clock = new SimulatedClock(T0);
    const venue = new PushVenue();
    const rec = recordingBus();
    const rm = riskManager(rec.bus, clock, s);
    const { ex, cap } = executor({ bus: rec.bus, clock, venue, store: s, riskState: rm.state });
    rm.risk.start();
    stops.push(() => rm.risk.stop());
    await ex.start();
    propose(rec.bus, 'strat-limit-buy', clock.now());
    await ex.idle();
    const cid = clientOrderIdFor('strat-limit-buy');
    const before = ex.order(cid)?.status;
    venue.cancelFails = 7; // two rounds of three attempts, and the first cancel of the third round

    rec.bus.publish({ type: 'risk.killSwitch', on: true, reason: 'dashboard: operator stop', ts: clock.now() });
    await advance(clock, 20_000);
    const filledWhileHalted = venue.fill(cid, 100, BID); // the market comes down to the bid

    expect(before).toBe('accepted');
    expect(rm.state()?.tradingState).toBe('halted');
    expect(venue.cancels).toBe(8);
    expect(venue.orders.get(cid)?.status).toBe('cancelled');
    expect(filledWhileHalted).toBe(false);
    expect(ex.order(cid)?.status).toBe('cancelled');
    expect(rec.of('exec.orderCancelled').map((m) => m.clientOrderId)).toEqual([cid]);
    expect(cap.codes().filter((c) => c === 'CANCEL_FAILED')).toHaveLength(2);
    expect(rm.state()?.portfolio.positions['BTC/USDT']?.lots ?? 0).toBe(0);
  });

  it('keeps at it no more than a round per 15 s while the venue refuses every cancel, and stops when trading resumes', async () => {
    const s = tempStore(undefined, { syncCommits: true });
    stores.push(s);
    const clock = new SimulatedClock(T0);
    const venue = new PushVenue();
    const rec = recordingBus();
    const { ex } = executor({ bus: rec.bus, clock, venue, store: s });
    await ex.start();
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('strat-1', BID), ts: clock.now() });
    await ex.idle();
    venue.cancelDown = true;

    rec.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'drawdown', ts: clock.now() });
    await advance(clock, 300_000, 500);
    const afterFiveMin = venue.cancels;
    await advance(clock, 300_000, 500);
    const secondFiveMin = venue.cancels - afterFiveMin;
    rec.bus.publish({ type: 'risk.stateChanged', state: 'active', reason: 'operator resume', ts: clock.now() });
    await advance(clock, 5_000, 500);
    const atResume = venue.cancels;
    await advance(clock, 300_000, 500);

    // Rounds back off to at most 30 s apart (at least 15 s with the jitter), three attempts each.
    expect(secondFiveMin).toBeGreaterThanOrEqual(3);
    expect(secondFiveMin).toBeLessThanOrEqual(3 * (300 / 15));
    expect(venue.cancels).toBe(atResume);
    expect(venue.isOpen(clientOrderIdFor('strat-1'))).toBe(true);
  });

  it("leaves the RiskManager's own exits working and cancels every other order", async () => {
    const s = tempStore(undefined, { syncCommits: true });
    stores.push(s);
    const clock = new SimulatedClock(T0);
    const venue = new PushVenue();
    const rec = recordingBus();
    const { ex } = executor({ bus: rec.bus, clock, venue, store: s });
    await ex.start();
    // An exit as the RiskManager's exitIntent names it: its intent id starts with RISK_EXIT_PREFIX.
    const exitId = `${RISK_EXIT_PREFIX}flatten-BTC/USDT-${T0}-1`;
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('strat-1', BID), ts: clock.now() });
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent(exitId, PX, { side: 'sell', reduceOnly: true, reason: 'flatten' }), ts: clock.now() });
    await ex.idle();

    rec.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'kill switch: operator', ts: clock.now() });
    await advance(clock, 60_000);

    const exitCid = clientOrderIdFor(exitId);
    expect(venue.orders.get(clientOrderIdFor('strat-1'))?.status).toBe('cancelled');
    expect(venue.isOpen(exitCid)).toBe(true);
    expect(venue.calls).not.toContain(`cancel ${exitCid}`);
    expect(ex.order(exitCid)?.status).toBe('accepted');
  });

  // 'after': the reconciliation ends before the RiskManager has started (a paper venue answers at once): the executor
  // reads its state again a second later.
  it.each(['with', 'after'] as const)('cancels, once reconciled, the orders the last run left open when the RiskManager starts halted (%s the executor)', async (order) => {
    const s1 = tempStore();
    const clock1 = new SimulatedClock(T0);
    const venue = new PushVenue();
    const rec1 = recordingBus();
    const rm1 = riskManager(rec1.bus, clock1, s1);
    const run1 = executor({ bus: rec1.bus, clock: clock1, venue, store: s1, riskState: rm1.state });
    rm1.risk.start();
    await run1.ex.start();
    propose(rec1.bus, 'strat-limit-buy', clock1.now());
    await run1.ex.idle();
    const cid = clientOrderIdFor('strat-limit-buy') as ClientOrderId;
    venue.cancelGate = new Promise<void>(() => undefined); // the cancel never completes: the process dies first
    rec1.bus.publish({ type: 'risk.killSwitch', on: true, reason: 'dashboard: operator stop', ts: clock1.now() });
    await advance(clock1, 100);
    await s1.lmdb.flush();
    const haltedBefore = rm1.state()?.tradingState;
    // kill -9: nothing else of run 1 runs; the store keeps what was flushed.
    run1.ex.stop();
    await s1.lmdb.close();
    rm1.risk.stop();
    venue.cancelGate = undefined;
    venue.calls.length = 0;

    const s2 = tempStore(s1.dir);
    stores.push(s2);
    const clock2 = new SimulatedClock(T0 + 60_000);
    const rec2 = recordingBus();
    const rm2 = riskManager(rec2.bus, clock2, s2);
    const run2 = executor({ bus: rec2.bus, clock: clock2, venue, store: s2, riskState: rm2.state });
    // As the supervisor starts them: the executor first, then the RiskManager, which starts halted and says nothing.
    const started = run2.ex.start();
    if (order === 'after') await started;
    rm2.risk.start();
    stops.push(() => rm2.risk.stop());
    await started;
    await advance(clock2, 5_000);
    // The cancel's commit is LMDB I/O: on a loaded machine it may land after the simulated seconds above.
    await until(() => run2.ex.order(cid)?.status !== 'accepted', 'the executor to book the end of the order');

    expect(haltedBefore).toBe('halted');
    expect(rm2.state()).toMatchObject({ tradingState: 'halted', killSwitch: true });
    expect(rec2.of('risk.stateChanged')).toEqual([]);
    expect(venue.calls).toContain(`cancel ${cid}`);
    expect(venue.orders.get(cid)?.status).toBe('cancelled');
    expect(run2.ex.order(cid)?.status).toBe('cancelled');
    expect(rec2.of('exec.orderCancelled').map((m) => m.reason)).toEqual(['trading halted: kill switch: dashboard: operator stop']);
  });

  it('cancels an order it adopts from the venue while halted', async () => {
    const s = tempStore(undefined, { syncCommits: true });
    stores.push(s);
    const clock = new SimulatedClock(T0);
    const venue = new PushVenue();
    const rec = recordingBus();
    const { ex } = executor({ bus: rec.bus, clock, venue, store: s });
    await ex.start();
    rec.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'drawdown', ts: clock.now() });
    await advance(clock, 5_000);
    // Placed on the account by someone else while halted; found by the next reconciliation.
    await venue.submit({ clientOrderId: 'manual-1' as ClientOrderId, symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', price: BID, lots: 100 as Lots, timeInForce: 'GTC' });

    await ex.reconcile({ balances: false });
    await advance(clock, 5_000);

    expect(ex.order('manual-1')).toMatchObject({ adopted: true, status: 'cancelled' });
    expect(venue.orders.get('manual-1')?.status).toBe('cancelled');
  });
});
