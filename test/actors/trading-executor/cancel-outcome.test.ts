// A cancel the RiskManager asks for (exec.cancelOrder, to free the lots a strategy sell holds for its stop) must end
// in a message it can act on: the order's end, or exec.cancelRejected when the cancel did not happen (failed every
// attempt; the venue said "not open" while the order is still open; the venue no longer trades the symbol). And the
// end comes after every fill the order got before it, or the exit sized on the freed lots oversells. Regressions of
// /tmp/rv/risk3/cancel-refused.mts: silence left the stop waiting while the price fell 47 %; a 500-lot exit went out
// on a cancel whose 200-lot fill was published a second later.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor, newOrder } from '../../../actors/trading-executor/logic.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { venueOrderId, type ClientOrderId, type VenueOrderId } from '../../../engine/types/ids.ts';
import type { Lots } from '../../../engine/types/price.ts';
import { VenueCallError, type CancelResult, type VenueTrade } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const T0 = 1_723_161_300_000;
const PX = 6_183_763;
const stores: Array<ReturnType<typeof tempStore>> = [];
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const s of stores.splice(0)) await s.cleanup();
});

type Mode = 'ok' | 'network' | 'notOpenStillOpen' | 'unknownSymbol';

class CancelVenue extends PollVenue {
  mode: Mode = 'ok';
  readonly cancelled: string[] = [];
  override async cancel(symbol: string, cid: ClientOrderId): Promise<CancelResult> {
    this.cancelled.push(cid);
    if (!this.symbols.includes(symbol) || this.mode === 'unknownSymbol') throw new VenueCallError('rejected', 'UNKNOWN_SYMBOL', `no market ${symbol}`);
    if (this.mode === 'network') throw new VenueCallError('unknown', 'REQUEST_TIMEOUT', 'timeout');
    if (this.mode === 'notOpenStillOpen') return { status: 'notOpen' };
    return super.cancel(symbol, cid);
  }
}

/** With the trades of one order by its order id (Binance myTrades orderId), and a history that shows none of them. */
class OrderTradesVenue extends CancelVenue {
  override historyLength = 0;
  async fetchOrderTrades(_symbol: string, id: VenueOrderId): Promise<VenueTrade[]> {
    this.calls.push('fetchOrderTrades');
    return this.trades.filter((t) => t.venueOrderId === id);
  }
}

async function rig(venue: CancelVenue, seed?: (s: ReturnType<typeof tempStore>) => Promise<void>) {
  const clock = new SimulatedClock(T0);
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  await seed?.(s);
  const rec = recordingBus();
  const cap = capturingLogger();
  const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: 2_000, rng: () => 0.5 });
  stops.push(() => ex.stop());
  await ex.start();
  const settle = () => drive(clock, () => !ex.busy);
  // A resting GTC strategy sell of 500 lots.
  rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('sell1', PX + 1000, { side: 'sell', lots: 500 as Lots }), ts: clock.now() });
  await settle();
  const cid = clientOrderIdFor('sell1');
  expect(ex.order(cid)?.status).toBe('accepted');
  const ask = async () => {
    rec.bus.publish({ type: 'exec.cancelOrder', clientOrderId: cid, reason: 'stop-loss needs the lots' });
    await settle();
  };
  return { clock, rec, cap, ex, cid, ask, settle };
}

const ofOrder = (seen: readonly EngineMsg[], cid: string) => seen.filter((m) =>
  ('clientOrderId' in m && m.clientOrderId === cid) || ('fill' in m && m.fill.clientOrderId === cid));

describe('a requested cancel that did not happen', () => {
  it('publishes exec.cancelRejected when the cancel failed every attempt', async () => {
    const venue = new CancelVenue();
    const { rec, cap, ex, cid, ask } = await rig(venue);
    venue.mode = 'network';
    await ask();
    expect(venue.cancelled).toHaveLength(3);
    expect(cap.codes()).toContain('CANCEL_FAILED');
    expect(ex.order(cid)?.status).toBe('accepted');
    const r = rec.of('exec.cancelRejected');
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ clientOrderId: cid });
    expect(r[0]!.reason).toMatch(/REQUEST_TIMEOUT/);
  });

  it('publishes exec.cancelRejected and logs when the venue says "not open" but the order is still open there', async () => {
    const venue = new CancelVenue();
    const { rec, cap, ex, cid, ask } = await rig(venue);
    venue.mode = 'notOpenStillOpen';
    await ask();
    expect(ex.order(cid)?.status).toBe('accepted');
    expect(cap.codes()).toContain('CANCEL_NOT_OPEN_BUT_OPEN');
    expect(rec.of('exec.cancelRejected').map((m) => m.clientOrderId)).toEqual([cid]);
    expect(rec.of('exec.orderCancelled')).toHaveLength(0);
  });

  it('publishes exec.cancelRejected at once, with no venue call, for an order on a symbol the venue no longer trades', async () => {
    const venue = new CancelVenue();
    const eth = { ...newOrder(limitIntent('eth-old', 300_000, { symbol: 'ETH/USDT', side: 'sell' }), 'paper', T0), status: 'accepted' as const, venueOrderId: venueOrderId('77') };
    const { rec, ex, settle } = await rig(venue, (s) => s.store.commit({ order: eth }));
    rec.bus.publish({ type: 'exec.cancelOrder', clientOrderId: eth.clientOrderId as ClientOrderId, reason: 'stop-loss needs the lots' });
    await settle();
    expect(venue.cancelled).toEqual([]);
    expect(rec.of('exec.cancelRejected').map((m) => m.clientOrderId)).toEqual([eth.clientOrderId]);
    expect(ex.order(eth.clientOrderId)?.status).toBe('accepted');
  });

  it('the halt rounds leave out an order on a symbol the venue no longer trades', async () => {
    const venue = new CancelVenue();
    const eth = { ...newOrder(limitIntent('eth-old', 300_000, { symbol: 'ETH/USDT', side: 'sell' }), 'paper', T0), status: 'accepted' as const, venueOrderId: venueOrderId('77') };
    const { rec, clock, cid, settle } = await rig(venue, (s) => s.store.commit({ order: eth }));
    rec.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'drawdown', ts: clock.now() });
    await settle();
    for (let i = 0; i < 5; i++) {
      clock.advance(60_000);
      await settle();
    }
    expect(venue.cancelled).toEqual([cid]);
  });
});

describe('a cancelled order that filled in part at the venue', () => {
  for (const [name, make] of [['read from the history', () => new CancelVenue()], ['read by order id', () => new OrderTradesVenue()]] as const) {
    it(`publishes every fill before its end (${name})`, async () => {
      const venue = make();
      const { rec, ex, cid, ask, clock, settle } = await rig(venue);
      venue.fill(cid, 200);
      await ask();
      // A poll or two: a fill only the history shows is read there.
      for (let i = 0; i < 2; i++) {
        clock.advance(2_000);
        await settle();
      }
      const seq = ofOrder(rec.seen, cid).map((m) => m.type).filter((t) => t !== 'exec.cancelOrder');
      expect(seq).toEqual(['exec.orderSubmitted', 'exec.orderAccepted', 'exec.orderPartiallyFilled', 'exec.orderCancelled']);
      expect(ex.order(cid)).toMatchObject({ status: 'cancelled', filledLots: 200 });
      expect(rec.of('exec.cancelRejected')).toHaveLength(0);
    });
  }

  it('ends at once with no fill', async () => {
    const venue = new CancelVenue();
    const { rec, ex, cid, ask } = await rig(venue);
    await ask();
    expect(ex.order(cid)?.status).toBe('cancelled');
    expect(rec.of('exec.orderCancelled')[0]).toMatchObject({ clientOrderId: cid, reason: 'stop-loss needs the lots' });
  });
});
