// Re-review findings on orders the venue has open that the executor holds rejected (a submission whose answer was
// lost, queried by a lagging endpoint):
//  1. in the live session the poll never looked: it reconciles only symbols with unfinished orders, and the rejected
//     record is final. Now a rejection that is no refusal (no answer after every attempt, any rejection after an
//     answer of unknown outcome) makes the next polls reconcile its symbol, so the order is adopted, its fills booked
//     and a halt cancels it; a refusal brings no poll, and the extra polls end.
//  2. a protective stop so found was adopted as a stranger venue-<id>: never resized, not cleared before an exit,
//     cancelled by a halt. Now it is taken back as the stop it is; a RiskManager exit is adopted keeping its intent.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor, newOrder } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { venueOrderId, type ClientOrderId } from '../../../engine/types/ids.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { VenueCallError, type ExecutionVenue, type SubmitResult, type VenueOrderRequest } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, stopRig, storeWritesDone, tempStore, type Cleanups } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const lost = () => new VenueCallError('unknown', 'NETWORK', 'socket hang up');

/**
 * Makes `venue` place the first order of `which` and lose its answer; its status query answers "no such order" until
 * `lag.on` is cleared. A resend of an order it has answers `resend` (no answer, or a refusal of the duplicate id).
 */
function loseFirstAnswer(venue: PollVenue, which: (req: VenueOrderRequest) => boolean, resend: 'lost' | 'duplicate') {
  const lag = { on: true };
  let first = true;
  const submit = venue.submit.bind(venue);
  venue.submit = async (req: VenueOrderRequest): Promise<SubmitResult> => {
    if (!which(req)) return submit(req);
    if (venue.orders.some((o) => o.clientOrderId === req.clientOrderId)) {
      venue.calls.push('submit');
      throw resend === 'lost' ? lost() : new VenueCallError('rejected', 'DUPLICATE_CLIENT_ORDER_ID', 'Duplicate order sent.');
    }
    if (!first) return submit(req);
    first = false;
    await submit(req);
    throw lost();
  };
  const fetchOrder = venue.fetchOrder.bind(venue);
  venue.fetchOrder = async (symbol, cid) => (lag.on ? (venue.calls.push('fetchOrder'), undefined) : fetchOrder(symbol, cid));
  return lag;
}

/** Runs the clock on a second at a time, the store writes done between steps. */
async function run(clock: SimulatedClock, ex: TradingExecutor, seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    clock.advance(1_000);
    await storeWritesDone();
  }
  await drive(clock, () => !ex.busy);
}

function pollRig() {
  const s = tempStore();
  cleanups.push(s.cleanup);
  const clock = new SimulatedClock(0);
  const rec = recordingBus();
  const cap = capturingLogger();
  const venue = new PollVenue();
  // Cancels by venue order id when given, as CcxtExecVenue does (an adopted venue-<id> is no client id at the venue).
  const cancel = venue.cancel.bind(venue);
  const byVenueId: ExecutionVenue['cancel'] = async (symbol, cid, vid) => cancel(symbol, venue.orders.find((o) => o.venueOrderId === vid)?.clientOrderId ?? cid);
  Object.assign(venue, { cancel: byVenueId });
  const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: 1_000, rng: () => 0.5 });
  cleanups.push(async () => ex.stop());
  const approve = async (id: string) => {
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent(id, 6_183_763, { lots: 500 as Lots }), ts: clock.now() });
    await drive(clock, () => !ex.busy);
  };
  const polls = () => venue.calls.filter((c) => c === 'fetchOpenOrders').length;
  return { s, clock, rec, cap, venue, ex, approve, polls };
}

describe('an order rejected in a live session without a refusal, open at the venue', () => {
  it.each(['lost', 'duplicate'] as const)('is adopted by the next polls, its fills booked, and a halt cancels it (resend %s)', async (resend) => {
    const r = pollRig();
    const lag = loseFirstAnswer(r.venue, () => true, resend);
    await r.ex.start();
    await r.approve('o1');
    const cid = clientOrderIdFor('o1');
    expect(r.ex.order(cid)).toMatchObject({ status: 'rejected', rejectCode: resend === 'lost' ? 'VENUE_UNAVAILABLE' : 'DUPLICATE_CLIENT_ORDER_ID' });
    expect(r.venue.orders).toHaveLength(1);
    lag.on = false;
    r.venue.fill(cid, 300);
    await run(r.clock, r.ex, 3);

    const vid = r.venue.orders[0]!.venueOrderId;
    expect(r.ex.order(`venue-${vid}`)).toMatchObject({ status: 'partiallyFilled', filledLots: 300, venueOrderId: vid, adopted: true });
    expect(r.ex.position('BTC/USDT')?.netLots).toBe(300);
    expect(r.cap.codes()).toContain('ORDER_OPEN_AT_VENUE_REJECTED_LOCALLY');

    r.rec.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'test halt', ts: r.clock.now() } as never);
    await run(r.clock, r.ex, 3);
    expect(r.venue.orders[0]!.status).toBe('cancelled');
    expect(r.ex.order(`venue-${vid}`)?.status).toBe('cancelled');
  });

  it('the extra polls end when the venue has no such order', async () => {
    const r = pollRig();
    loseFirstAnswer(r.venue, () => true, 'lost');
    await r.ex.start();
    await r.approve('o1');
    r.venue.orders.splice(0);
    const atReject = r.polls();
    await run(r.clock, r.ex, 30);
    const after = r.polls();
    await run(r.clock, r.ex, 30);

    expect(r.ex.order(clientOrderIdFor('o1'))?.status).toBe('rejected');
    expect(after).toBeGreaterThan(atReject);
    expect(r.polls()).toBe(after);
  });

  it('a refusal of the venue brings no poll', async () => {
    const r = pollRig();
    r.venue.submit = async () => {
      r.venue.calls.push('submit');
      throw new VenueCallError('rejected', 'INSUFFICIENT_FUNDS', 'Account has insufficient balance for requested action.');
    };
    await r.ex.start();
    const before = r.polls();
    await r.approve('o1');
    await run(r.clock, r.ex, 30);

    expect(r.ex.order(clientOrderIdFor('o1'))?.status).toBe('rejected');
    expect(r.polls()).toBe(before);
  });
});

describe('a protective stop rejected without a refusal, resting at the venue', () => {
  it('is taken back as the stop it is: resized, cleared before an exit, left resting by a halt; reconciling again changes nothing', async () => {
    const r = stopRig(cleanups);
    const isStop = (req: VenueOrderRequest) => req.orderType === 'stopLossLimit';
    const lag = loseFirstAnswer(r.venue, isStop, 'lost');
    // A second stop is refused while one rests: the resting one locks the lots (Binance -2010).
    const submit = r.venue.submit.bind(r.venue);
    r.venue.submit = async (req) => {
      if (isStop(req) && r.stops().some((o) => o.clientOrderId !== req.clientOrderId)) {
        r.venue.calls.push('submit');
        throw new VenueCallError('rejected', 'INSUFFICIENT_FUNDS', 'Account has insufficient balance for requested action.');
      }
      return submit(req);
    };
    await r.ex.start();
    await r.buy('b1', 1000);
    await r.run(3);
    const [stop] = r.stops();
    expect(r.ex.order(stop!.clientOrderId)).toMatchObject({ status: 'rejected', rejectCode: 'VENUE_UNAVAILABLE' });
    lag.on = false;
    await r.run(3);

    expect(r.ex.order(stop!.clientOrderId)).toMatchObject({ status: 'accepted', venueOrderId: stop!.venueOrderId, intent: { lots: 1000 } });
    expect(r.ex.order(`venue-${stop!.venueOrderId}`)).toBeUndefined();
    expect(r.cap.codes()).toContain('PROTECTIVE_STOP_FOUND');
    expect(r.cap.codes()).not.toContain('ADOPTED_ORDER');
    // Its rejection went out on the bus; so does its acceptance now (the dashboard, the metrics).
    expect(r.rec.seen.filter((m) => 'clientOrderId' in m && m.clientOrderId === stop!.clientOrderId).map((m) => m.type).slice(-2))
      .toEqual(['exec.orderRejected', 'exec.orderAccepted']);
    expect(r.stops()).toEqual([expect.objectContaining({ clientOrderId: stop!.clientOrderId, lots: 1000 })]);
    const dump = () => JSON.stringify([r.store.allOrders(), r.store.allPositions('paper')], (_, v) => (typeof v === 'bigint' ? String(v) : v));
    const before = dump();
    for (let i = 0; i < 2; i++) {
      expect(await r.ex.reconcile({ balances: false })).toMatchObject({ ordersAdopted: 0, ordersAccepted: 0, ordersClosed: 0, ordersRejected: 0, fillsApplied: 0 });
    }
    await r.settle();
    expect(dump()).toBe(before);

    // The position grows: the stop is resized to it.
    await r.buy('b2', 2000);
    await r.run(5);
    expect(r.stops().map((o) => o.lots)).toEqual([3000]);
    expect(r.venue.orders.find((o) => o.clientOrderId === stop!.clientOrderId)?.status).toBe('cancelled');

    // A halt leaves it resting.
    r.rec.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'test halt', ts: r.clock.now() } as never);
    await r.run(5);
    expect(r.stops().map((o) => o.lots)).toEqual([3000]);

    // An exit clears it first.
    r.exit('x1', 3000);
    await r.settle();
    expect(r.sent('x1')).toMatchObject({ lots: 3000 });
    expect(r.stops()).toEqual([]);
  });

  it('taken back at a restart is cleared before an exit', async () => {
    const r = stopRig(cleanups);
    const lag = loseFirstAnswer(r.venue, (req) => req.orderType === 'stopLossLimit', 'lost');
    const submit = r.venue.submit.bind(r.venue);
    r.venue.submit = async (req) => {
      if (req.orderType === 'stopLossLimit' && r.stops().length > 0) throw new VenueCallError('rejected', 'INSUFFICIENT_FUNDS', 'Account has insufficient balance for requested action.');
      return submit(req);
    };
    await r.ex.start();
    await r.buy('b1', 1000);
    await r.run(2);
    r.ex.stop();
    const [stop] = r.stops();
    expect(r.ex.order(stop!.clientOrderId)?.status).toBe('rejected');
    lag.on = false;

    const cap = capturingLogger();
    const ex2 = new TradingExecutor({ bus: r.rec.bus, clock: r.clock, venue: r.venue, store: r.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: 1_000, rng: () => 0.5, protectiveStop: { enabled: true, extraBps: 50, limitBps: 100, stopLossBps: 200 } });
    cleanups.push(async () => ex2.stop());
    const report = await ex2.start();
    await drive(r.clock, () => !ex2.busy);
    expect(report.ordersAdopted).toBe(1);
    expect(ex2.order(stop!.clientOrderId)).toMatchObject({ status: 'accepted', venueOrderId: stop!.venueOrderId });
    expect(r.stops()).toEqual([expect.objectContaining({ clientOrderId: stop!.clientOrderId, lots: 1000 })]);

    r.exit('x1', 1000);
    await drive(r.clock, () => !ex2.busy);
    expect(r.sent('x1')).toMatchObject({ lots: 1000 });
    expect(r.venue.orders.find((o) => o.clientOrderId === stop!.clientOrderId)?.status).toBe('cancelled');
  });
});

describe('a RiskManager exit held rejected, open at the venue', () => {
  it('is adopted keeping its intent, so a halt leaves it working; reconciling again adopts nothing', async () => {
    const s = tempStore();
    cleanups.push(s.cleanup);
    const clock = new SimulatedClock(1_723_161_300_000);
    const rec = recordingBus();
    const intent = limitIntent('risk-stopLoss-BTC/USDT-1723161300000-1', 5_800_000, { side: 'sell', lots: 400 as Lots, reduceOnly: true });
    const held = { ...newOrder(intent, 'paper', clock.now()), status: 'rejected' as const, rejectCode: 'VENUE_UNAVAILABLE' };
    await s.store.commit({ order: held });
    const venue = new PollVenue();
    venue.orders = [{
      clientOrderId: held.clientOrderId as ClientOrderId, venueOrderId: venueOrderId('777'), symbol: 'BTC/USDT', side: 'sell', orderType: 'limit', timeInForce: 'GTC',
      price: 5_800_000 as Ticks, lots: 400 as Lots, filledLots: 0 as Lots, status: 'accepted', ts: clock.now(),
    }];
    const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: capturingLogger().logger, pollMs: 1_000, rng: () => 0.5 });
    cleanups.push(async () => ex.stop());

    expect(await ex.start()).toMatchObject({ ordersAdopted: 1 });
    expect(ex.order('venue-777')).toMatchObject({ status: 'accepted', adopted: true, intent: { id: intent.id, reduceOnly: true, lots: 400 } });
    expect(ex.unfinishedOrders().map((o) => o.intent.id)).toEqual([intent.id]);
    expect(await ex.reconcile({ balances: false })).toMatchObject({ ordersAdopted: 0 });

    rec.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'test halt', ts: clock.now() } as never);
    await run(clock, ex, 5);
    expect(venue.calls).not.toContain('cancel');
    expect(venue.orders[0]!.status).toBe('accepted');
  });
});
