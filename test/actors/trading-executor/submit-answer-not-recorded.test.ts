// The venue answered a submission and the executor could not commit that answer (a store error): the venue did its
// part, so that is neither a venue failure for the breaker nor an unknown outcome to query and resend over.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor, type OrderRecord, type PositionRecord } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { ExecStore } from '../../../engine/store/exec-store.ts';
import { StoreError } from '../../../engine/types/errors.ts';
import type { Lots } from '../../../engine/types/price.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, storeWritesDone, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

// Makes the next commit of an accepted order fail once, as a store that cannot write would.
function failNextAccepted(store: ExecStore<OrderRecord, PositionRecord>, cid?: string): void {
  const commit = store.commit.bind(store);
  let failed = false;
  store.commit = async (w) => {
    if (!failed && w.order?.status === 'accepted' && (cid === undefined || w.order.clientOrderId === cid)) {
      failed = true;
      throw new StoreError('store is closed: cannot write to exec.orders');
    }
    return commit(w);
  };
}

describe('a submission answered by the venue whose answer cannot be committed', () => {
  it('logs SUBMIT_ANSWER_NOT_RECORDED, counts no breaker failure, sends nothing more, and reconciles the order', async () => {
    const clock = new SimulatedClock(1_723_161_300_000);
    const s = tempStore(undefined, { syncCommits: true });
    stores.push(s);
    const venue = new PollVenue();
    const rec = recordingBus();
    const cap = capturingLogger();
    // One failure would open it: a breaker failure shows as an open breaker.
    const ex = new TradingExecutor({
      bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: 2_000, rng: () => 0.5,
      breaker: { failureThreshold: 1, openMs: 30_000 },
    });
    await ex.start();
    failNextAccepted(s.store);
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('a', 6_183_763, { lots: 500 as Lots }), ts: clock.now() });
    await storeWritesDone();
    const cid = clientOrderIdFor('a');

    expect(cap.codes()).toContain('SUBMIT_ANSWER_NOT_RECORDED');
    expect(cap.records.filter((r) => /outcome unknown/.test(String(r['msg'])))).toEqual([]);
    expect(ex.breaker.state).toBe('closed');
    expect(ex.counters.queriedAfterUnknown).toBe(0);
    // The poll run at once asks the venue for it by client id and records the acceptance.
    await drive(clock, () => !ex.busy && ex.order(cid)?.status === 'accepted');
    expect(venue.calls.filter((c) => c === 'submit')).toHaveLength(1);
    expect(s.store.order(cid)?.venueOrderId).toBe(venue.orders[0]!.venueOrderId);
    expect(rec.of('exec.orderAccepted').map((m) => m.clientOrderId)).toEqual([cid]);
    ex.stop();
  });

  it('polls once the other submissions in flight ended, on a venue that pushes events (nothing else would poll)', async () => {
    const clock = new SimulatedClock(1_723_161_300_000);
    const s = tempStore(undefined, { syncCommits: true });
    stores.push(s);
    const venue = new PollVenue();
    Object.defineProperty(venue, 'pushesEvents', { value: true });
    const rec = recordingBus();
    const cap = capturingLogger();
    const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: 2_000, rng: () => 0.5 });
    await ex.start();
    const a = clientOrderIdFor('a');
    const b = clientOrderIdFor('b');
    // b's submission is held at the venue while a's answer fails to commit: the poll run at once finds b in flight.
    let releaseB!: () => void;
    const heldB = new Promise<void>((r) => (releaseB = r));
    venue.submitHook = (req) => (req.clientOrderId === b ? heldB : Promise.resolve());
    failNextAccepted(s.store, a);
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('b', 6_183_000, { lots: 500 as Lots }), ts: clock.now() });
    await storeWritesDone();
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('a', 6_183_763, { lots: 500 as Lots }), ts: clock.now() });
    for (let i = 0; i < 5; i++) {
      await storeWritesDone();
      clock.advance(1);
    }
    expect(cap.codes()).toContain('SUBMIT_ANSWER_NOT_RECORDED');
    expect(ex.order(a)?.status).toBe('submitted');

    releaseB();
    await drive(clock, () => !ex.busy && ex.order(b)?.status === 'accepted', 100, 50);
    await drive(clock, () => !ex.busy && ex.order(a)?.status === 'accepted', 100, 50);
    expect(s.store.order(a)?.venueOrderId).toBe(venue.orders.find((o) => o.clientOrderId === a)!.venueOrderId);
    expect(venue.calls.filter((c) => c === 'submit')).toHaveLength(2);
    ex.stop();
  });
});
