// The exec store's order indexes: kept in the order's own transaction, per venue, and built once for a store that
// predates them.
import { afterEach, describe, expect, it } from 'vitest';
import { newOrder, type OrderRecord } from '../../../actors/trading-executor/logic.ts';
import type { Fill } from '../../../engine/messages/orders.ts';
import { venueOrderId } from '../../../engine/types/ids.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { VenueId } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { limitIntent, tempStore } from '../../actors/trading-executor/helpers.ts';

const T0 = 1_723_161_300_000;
const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

function order(id: string, status: OrderRecord['status'], venue: VenueId = 'paper', vid?: string): OrderRecord {
  const o = { ...newOrder(limitIntent(id, 6_183_763 as Ticks), venue, T0), status };
  return vid === undefined ? o : { ...o, venueOrderId: venueOrderId(vid) };
}

describe('ExecStore order indexes', () => {
  it('lists unfinished orders per venue and finds orders by venue id, finished ones included', async () => {
    const s = tempStore();
    stores.push(s);
    const a = order('a', 'new');
    await s.store.commit({ order: a });
    await s.store.commit({ order: { ...a, status: 'accepted', venueOrderId: venueOrderId('7') } });
    await s.store.commit({ order: order('b', 'accepted', 'paper', '8') });
    await s.store.commit({ order: order('c', 'accepted', 'binance', '7') });
    const openBefore = s.store.openOrders('paper').map((o) => o.intent.id).sort();
    await s.store.commit({ order: { ...order('b', 'accepted', 'paper', '8'), status: 'filled' } });

    expect(openBefore).toEqual(['a', 'b']);
    expect(s.store.openOrders('paper').map((o) => o.intent.id)).toEqual(['a']);
    expect(s.store.openOrders('binance').map((o) => o.intent.id)).toEqual(['c']);
    expect(s.store.orderByVenueId('paper', '8')).toMatchObject({ status: 'filled' });
    expect(s.store.orderByVenueId('paper', '7')?.intent.id).toBe('a');
    expect(s.store.orderByVenueId('binance', '7')?.intent.id).toBe('c');
    expect(s.store.orderByVenueId('binance', '8')).toBeUndefined();
  });

  it('builds the indexes once for a store written before they existed', async () => {
    const s = tempStore();
    stores.push(s);
    const raw = s.lmdb.db<string, OrderRecord>('exec.orders');
    const older = [order('x', 'accepted', 'paper', '1'), order('y', 'cancelled', 'paper', '2'), order('z', 'partiallyFilled', 'paper', '3')];
    for (const o of older) await raw.put(o.clientOrderId, o);
    const before = { open: s.store.openOrders('paper').length, byId: s.store.orderByVenueId('paper', '2') };

    const built = await s.store.ensureIndexed();
    const again = await s.store.ensureIndexed();

    expect(before).toEqual({ open: 0, byId: undefined });
    expect(built).toBe(3);
    expect(again).toBe(0);
    expect(s.store.openOrders('paper').map((o) => o.intent.id).sort()).toEqual(['x', 'z']);
    expect(s.store.orderByVenueId('paper', '2')?.intent.id).toBe('y');
  });

  it('numbers fills in booking order per venue, so the fills booked after a start are one range read', async () => {
    const s = tempStore();
    stores.push(s);
    const o = order('f', 'accepted', 'paper', '9');
    const fill = (tradeId: string, venue: VenueId = 'paper', symbol = 'BTC/USDT'): Fill => ({
      clientOrderId: o.clientOrderId, venueOrderId: venueOrderId('9'), tradeId, venue, symbol, side: 'buy', price: 6_183_763 as Ticks, lots: 10 as Lots,
      fee: 0n as Money, feeAsset: 'BTC', liquidity: 'taker', ts: T0,
    });
    // A store from before the sequence: a fill booked without a number.
    await s.lmdb.db<[string, string, string], Fill>('exec.fills').put(['paper', 'BTC/USDT', '7'], fill('7'));
    const atStart = s.store.lastFillSeq('paper');
    // Issued together, as the executor's commits can be: each still gets its own number.
    await Promise.all([s.store.commit({ fill: fill('10') }), s.store.commit({ fill: fill('9') }), s.store.commit({ fill: fill('3', 'binance') })]);
    await s.store.commit({ fill: fill('10') }); // seen again: keeps its number
    await s.store.commit({ fill: fill('11', 'paper', 'ETH/USDT') });

    expect(atStart).toBe(0);
    expect([s.store.lastFillSeq('paper'), s.store.lastFillSeq('binance')]).toEqual([3, 1]);
    expect(s.store.fillsBookedAfter('paper', 'BTC/USDT', atStart).map((f) => f.tradeId)).toEqual(['10', '9']);
    expect(s.store.fillsBookedAfter('paper', 'BTC/USDT', 1).map((f) => f.tradeId)).toEqual(['9']);
    expect(s.store.fillsBookedAfter('paper', 'ETH/USDT', 0).map((f) => f.tradeId)).toEqual(['11']);
    // The same order from the index alone (storedFills' range read).
    expect(s.store.tradeIdsBookedAfter('paper', 'BTC/USDT', 0)).toEqual(['10', '9']);
    expect(s.store.tradeIdsBookedAfter('paper', 'ETH/USDT', 0)).toEqual(['11']);
    expect(s.store.fillsOf('paper', 'BTC/USDT').map((f) => f.tradeId).sort()).toEqual(['10', '7', '9']);
  });
});
