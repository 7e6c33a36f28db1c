// A protective stop refused is rejected once: one exec.orderRejected and one rejected record in the exec store per
// refused stop order, whichever path refused it (the venue's answer through apply(); the executor's own refusal
// through rejectNow() when the breaker's half-open probe is taken; apply() again when the breaker opens during an
// unknown submission outcome). Every rejection goes through applyNow under the executor's mutex, and a rejected order
// cannot be rejected again (logic.ts transition), so the two paths cannot both publish or store one for the same order.
import { afterEach, describe, expect, it } from 'vitest';
import type { TradingExecutorOptions } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor, type OrderRecord, type PositionRecord } from '../../../actors/trading-executor/logic.ts';
import type { ExecChange } from '../../../engine/store/exec-store.ts';
import type { VenueOrderRequest } from '../../../engine/venues/venue.ts';
import { stopRig, type Cleanups } from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function rig(extra: Partial<TradingExecutorOptions> = {}) {
  const r = stopRig(cleanups, extra);
  const { ex, rec, store } = r;
  // Every rejected order record the executor commits, by client order id.
  const rejectedCommits = new Map<string, number>();
  const commit = store.commit.bind(store);
  store.commit = (batch: ExecChange<OrderRecord, PositionRecord>) => {
    const o = batch.order;
    if (o?.status === 'rejected') rejectedCommits.set(o.clientOrderId, (rejectedCommits.get(o.clientOrderId) ?? 0) + 1);
    return commit(batch);
  };
  const approveEntry = () => r.approve('entry-1', 10_000);
  const refusedStops = () => ex.allOrders().filter((o) => o.clientOrderId.startsWith('pstop-') && o.status === 'rejected');
  // Per refused stop: its rejections on the bus and its rejected records in the store.
  const tally = () => refusedStops().map((o) => ({
    code: o.rejectCode,
    messages: rec.of('exec.orderRejected').filter((m) => m.clientOrderId === o.clientOrderId).length,
    records: rejectedCommits.get(o.clientOrderId) ?? 0,
  }));
  return { ...r, approveEntry, refusedStops, tally };
}

describe('a refused protective stop is rejected once', () => {
  it('when the venue refuses it (apply)', async () => {
    const r = rig();
    const submit = r.venue.submit.bind(r.venue);
    r.venue.submit = async (req: VenueOrderRequest) => (req.orderType === 'stopLossLimit'
      ? { status: 'rejected', code: 'VENUE_REJECTED', message: 'Account has insufficient balance for requested action.' } : submit(req));
    await r.ex.start();
    await r.approveEntry();
    r.venue.fill(clientOrderIdFor('entry-1'), 10_000);
    await r.run(60);

    expect(r.refusedStops().length).toBeGreaterThan(1);
    for (const t of r.tally()) expect(t).toEqual({ code: 'VENUE_REJECTED', messages: 1, records: 1 });
  });

  it('when the executor refuses it with the breaker\'s probe taken (rejectNow)', async () => {
    const r = rig({ breaker: { failureThreshold: 1, openMs: 30_000 } });
    await r.ex.start();
    await r.approveEntry();
    r.ex.breaker.failure();
    await r.run(31);
    // Half-open, its one probe in flight elsewhere: the stop is let through the symbol's check and refused locally.
    expect(r.ex.breaker.allow()).toBe(true);
    r.venue.fill(clientOrderIdFor('entry-1'), 10_000);
    await r.run(30);

    expect(r.refusedStops().length).toBeGreaterThan(0);
    for (const t of r.tally()) expect(t).toEqual({ code: 'VENUE_CIRCUIT_OPEN', messages: 1, records: 1 });
  });

  it('when the breaker opens on an unknown submission outcome (apply after the query)', async () => {
    const r = rig({ breaker: { failureThreshold: 1, openMs: 30_000 } });
    r.failFirstStopSubmit();
    await r.ex.start();
    await r.approveEntry();
    r.venue.fill(clientOrderIdFor('entry-1'), 10_000);
    await r.run(60);

    expect(r.tally()).toEqual([{ code: 'VENUE_CIRCUIT_OPEN', messages: 1, records: 1 }]);
  });
});
