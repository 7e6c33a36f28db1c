// The TradingExecutor over the paper venue when a cancel races a fill (paper-venue.ts cancel): the venue answers
// notOpen for an order the market filled while the cancel was on the way, and the executor must book the fill, not a
// cancel, and refuse nothing (what it does for Binance's -2011 on a filled order). Hand-set book, explicit prints.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../../actors/trading-executor/logic.ts';
import { OrderBook } from '../../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { money } from '../../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';
import { PaperVenue } from '../../../../engine/venues/paper/paper-venue.ts';
import { BTC, limitIntent, recordingBus, storeWritesDone, tempStore } from '../../../actors/trading-executor/helpers.ts';

const ASK = 100_000 as Ticks;
const LATENCY = 50;
const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

/** An executor with a resting paper sell of 0.01 BTC at the best ask, active, and its cancel sent. */
async function cancelSent() {
  const clock = new SimulatedClock(1_000);
  const book = new OrderBook('BTCUSDT');
  book.set('bid', 99_900 as Ticks, 1_000 as Lots);
  book.set('ask', ASK, 1_000 as Lots);
  const venue = new PaperVenue({
    clock, instruments: [BTC], books: { 'BTC/USDT': book }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: LATENCY,
    balances: { BTC: money('1') },
  });
  const s = tempStore();
  stores.push(s);
  const rec = recordingBus();
  const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [BTC] });
  await ex.start();
  rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('s1', ASK, { side: 'sell', lots: 1_000 as Lots }), ts: clock.now() });
  await ex.idle();
  clock.advance(LATENCY + 1);
  await storeWritesDone();
  const cid = clientOrderIdFor('s1');
  rec.bus.publish({ type: 'exec.cancelOrder', clientOrderId: cid, reason: 'stop-loss' });
  // The executor sends the cancel; it is on its way now (the executor stays busy until it lands).
  await storeWritesDone();
  const printThrough = (): void => venue.onTrade('BTC/USDT', (ASK + 10) as Ticks, 5_000 as Lots, false, clock.now());
  return { clock, ex, cid, printThrough, ...rec };
}

describe('TradingExecutor over the paper venue: cancel/fill race', () => {
  it('books the fill of an order the market filled before its cancel landed, and no cancel', async () => {
    const w = await cancelSent();
    const busyWhileInFlight = w.ex.busy;
    w.clock.advance(20);
    w.printThrough();
    w.clock.advance(LATENCY);
    await w.ex.idle();

    expect(busyWhileInFlight).toBe(true);
    expect(w.ex.order(w.cid)).toMatchObject({ status: 'filled', filledLots: 1_000 });
    expect(w.of('exec.orderFilled').map((m) => m.fill.lots)).toEqual([1_000]);
    expect(w.of('exec.orderCancelled')).toEqual([]);
    expect(w.of('exec.cancelRejected')).toEqual([]);
  });

  it('books the cancel when it lands before the print', async () => {
    const w = await cancelSent();
    w.clock.advance(LATENCY);
    await w.ex.idle();
    w.printThrough();
    await w.ex.idle();

    expect(w.ex.order(w.cid)).toMatchObject({ status: 'cancelled', filledLots: 0, reason: 'stop-loss' });
    expect(w.of('exec.orderFilled')).toEqual([]);
  });
});
