// A cancel on a polling venue whose trade history lags the order endpoint (Binance: myTrades?orderId= is the same
// lagging index as myTrades?fromId=): the cancelled order's end frees its unfilled rest at the RiskManager, so it must
// not be published before the fills the venue reports for it are booked. Regression of /tmp/rv/recon2/cancel-lag.mts:
// the poll started by the cancel closed the order `cancelled` with 300 of its lots filled at the venue and none booked.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { VenueOrderId } from '../../../engine/types/ids.ts';
import type { Lots } from '../../../engine/types/price.ts';
import type { VenueTrade } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const stores: Array<ReturnType<typeof tempStore>> = [];
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const s of stores.splice(0)) await s.cleanup();
});

/** Trades by order id read from the same lagging history. */
class LagVenue extends PollVenue {
  async fetchOrderTrades(_s: string, id: VenueOrderId): Promise<VenueTrade[]> {
    this.calls.push('fetchOrderTrades');
    return this.trades.slice(0, this.historyLength).filter((t) => t.venueOrderId === id);
  }
}

async function cancelWithLaggingHistory(venue: PollVenue) {
  const clock = new SimulatedClock(1_723_161_300_000);
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const rec = recordingBus();
  const cap = capturingLogger();
  const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: 2000, rng: () => 0.5 });
  stops.push(() => ex.stop());
  await ex.start();
  const settle = () => drive(clock, () => !ex.busy);
  rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('a', 6_183_763, { lots: 500 as Lots }), ts: clock.now() });
  await settle();
  const a = clientOrderIdFor('a');
  venue.historyLength = 0;
  venue.fill(a, 300);
  rec.bus.publish({ type: 'exec.cancelOrder', clientOrderId: a, reason: 'stop-loss' });
  await settle();
  const poll = async (n: number, ms = 2000) => {
    for (let i = 0; i < n; i++) { clock.advance(ms); await settle(); }
  };
  const ended = () => rec.seen.filter((m) => m.type === 'exec.orderCancelled' && m.clientOrderId === a);
  return { ex, venue, rec, cap, a, poll, ended };
}

describe.each([
  ['trades by order id from the lagging history', () => new LagVenue()],
  ['no trades by order id', () => new PollVenue()],
])('a cancelled order whose fills the history has not shown (%s)', (_name, make) => {
  it('stays open, its rest counted, until the fills are booked; then it ends after them', async () => {
    const w = await cancelWithLaggingHistory(make());
    await w.poll(5);
    expect(w.ended()).toEqual([]);
    expect(w.ex.order(w.a)).toMatchObject({ status: 'accepted', filledLots: 0 });
    // The venue's history catches up: the fills book first, then the end.
    w.venue.historyLength = undefined;
    await w.poll(2);
    expect(w.ex.order(w.a)).toMatchObject({ status: 'cancelled', filledLots: 300 });
    const kinds = w.rec.seen.filter((m) => 'clientOrderId' in m && m.clientOrderId === w.a || m.type === 'exec.orderPartiallyFilled').map((m) => m.type);
    expect(kinds.slice(-2)).toEqual(['exec.orderPartiallyFilled', 'exec.orderCancelled']);
    expect(w.ended()).toHaveLength(1);
  });

  it('says once, after a long wait, that the fills are missing, and keeps waiting', async () => {
    const w = await cancelWithLaggingHistory(make());
    await w.poll(40, 30_000);
    expect(w.ended()).toEqual([]);
    expect(w.ex.order(w.a)?.status).toBe('accepted');
    const errs = w.cap.records.filter((r) => r['code'] === 'CANCEL_FILLS_MISSING');
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ clientOrderId: w.a, bookedLots: 0, venueFilledLots: 300 });
  });
});
