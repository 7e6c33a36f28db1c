// An order we never placed (by hand, another client, or ours with its record lost) that filled in several trades: the
// first trade adopts it as venue-<orderId>, sized by that trade alone, so each later trade of it grows the adopted size.
// Refused as fills on a filled order, they would be read again by every run and lost once the cursor moved past them.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { venueOrderId } from '../../../engine/types/ids.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { VenueTrade } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

const trade = (id: number, vid: string, lots: number): VenueTrade => ({
  venueOrderId: venueOrderId(vid), tradeId: String(id), venue: 'paper', symbol: 'BTC/USDT', side: 'buy', price: (6_183_763 + id) as Ticks,
  lots: lots as Lots, fee: 0n as Money, feeAsset: 'USDT', liquidity: 'taker', ts: id,
});

function world() {
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const venue = new PollVenue();
  const rec = recordingBus();
  const cap = capturingLogger();
  const ex = new TradingExecutor({ bus: rec.bus, clock: new SimulatedClock(1_000), venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: 1_000_000 });
  const dump = () => JSON.stringify([s.store.allOrders(), s.store.fillsOf('paper', 'BTC/USDT'), s.store.allPositions('paper'), s.store.lastTradeId('paper', 'BTC/USDT')],
    (_, v) => (typeof v === 'bigint' ? String(v) : v));
  return { ...s, venue, ex, ...rec, ...cap, dump };
}

describe('trades of an order this engine never placed', () => {
  it('books every trade of an unknown order filled in three, to one adopted record, and a second run changes nothing', async () => {
    const w = world();
    // A manual buy of 300 lots, filled in 3 trades while the engine was down: closed, so not in the open orders.
    w.venue.trades = [trade(1, 'v-manual', 100), trade(2, 'v-manual', 120), trade(3, 'v-manual', 80)];
    const first = await w.ex.start();
    await w.ex.idle();
    expect(first).toMatchObject({ fillsApplied: 3, fillsIllegal: 0, tradesAdopted: 1 });
    expect(w.ex.order('venue-v-manual')).toMatchObject({ status: 'filled', filledLots: 300, intent: { lots: 300 }, adopted: true, tradeIds: ['1', '2', '3'] });
    expect(w.ex.position('BTC/USDT')?.netLots).toBe(300);
    expect(w.store.fillsOf('paper', 'BTC/USDT').map((f) => [f.tradeId, f.clientOrderId])).toEqual([['1', 'venue-v-manual'], ['2', 'venue-v-manual'], ['3', 'venue-v-manual']]);
    expect(w.store.lastTradeId('paper', 'BTC/USDT')).toBe('3');
    expect(w.codes()).not.toContain('ILLEGAL_TRANSITION');
    expect(w.of('exec.orderFilled').map((m) => [m.fill.tradeId, m.fill.lots])).toEqual([['1', 100], ['2', 120], ['3', 80]]);

    const before = w.dump();
    const published = w.seen.length;
    const second = await w.ex.reconcile({ balances: true });
    await w.ex.idle();
    expect(second).toMatchObject({ fillsApplied: 0, fillsIllegal: 0, tradesAdopted: 0, fillsDuplicate: 0 });
    expect(w.dump()).toBe(before);
    expect(w.seen.slice(published).filter((m) => m.type.startsWith('exec.order'))).toEqual([]);
  });

  it('grows the adopted record with trades read by later runs, one run per trade', async () => {
    const w = world();
    w.venue.trades = [trade(1, 'v-manual', 100)];
    await w.ex.start();
    for (const t of [trade(2, 'v-manual', 100), trade(3, 'v-manual', 100)]) {
      w.venue.trades.push(t);
      expect(await w.ex.reconcile({ balances: false })).toMatchObject({ fillsApplied: 1, fillsIllegal: 0, tradesAdopted: 0 });
    }
    await w.ex.idle();
    expect(w.ex.order('venue-v-manual')).toMatchObject({ status: 'filled', filledLots: 300, intent: { lots: 300 } });
    expect(w.ex.position('BTC/USDT')?.netLots).toBe(300);
    expect(w.store.allOrders().map((o) => o.clientOrderId)).toEqual(['venue-v-manual']);
  });
});
