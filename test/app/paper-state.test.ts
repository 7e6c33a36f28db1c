// The paper venue across a restart (app/paper-state.ts): balances, open orders, trade history and id counters come
// back from LMDB, so the executor finds the same venue it left.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PersistentPaperVenue } from '../../app/paper-state.ts';
import { instrumentOf } from '../../app/live-venue.ts';
import { OrderBook } from '../../engine/market/order-book.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { clientOrderId } from '../../engine/types/ids.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { VenueEvent } from '../../engine/venues/venue.ts';

const ETH = instrumentOf('ETH/USDT', 'paper');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function venue(store: LmdbStore, clock: SimulatedClock): PersistentPaperVenue {
  const book = new OrderBook('ETHUSDT');
  // A real top of book from the recording (ETHUSDT 2024-08-08 23:54): 2 lots of depth on each side.
  book.replace([[268_000 as Ticks, 20_000 as Lots]], [[268_001 as Ticks, 20_000 as Lots]]);
  return new PersistentPaperVenue({
    clock, instruments: [ETH], books: { 'ETH/USDT': book }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 0,
    initialBalances: { USDT: money('10000') }, store,
  });
}

describe('persistent paper venue', () => {
  it('restores balances, open orders with their ids, trades, and continues trade ids above the stored ones', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-paper-'));
    dirs.push(dir);
    const clock = new SimulatedClock(1_723_161_253_937);
    let store = LmdbStore.open({ path: dir, noSync: true });
    const a = venue(store, clock);
    const events: VenueEvent[] = [];
    a.onEvent((e) => events.push(e));
    const rest = await a.submit({ clientOrderId: clientOrderId('rest1'), symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots: 100 as Lots, price: 260_000 as Ticks, timeInForce: 'GTC' });
    const take = await a.submit({ clientOrderId: clientOrderId('take1'), symbol: 'ETH/USDT', side: 'buy', orderType: 'market', lots: 100 as Lots, timeInForce: 'GTC' });
    clock.advance(1);
    const balancesBefore = await a.fetchBalances();
    const tradesBefore = await a.fetchMyTrades('ETH/USDT');
    await a.flush();
    await store.close();

    store = LmdbStore.open({ path: dir, noSync: true });
    const b = venue(store, clock);
    const open = await b.fetchOpenOrders();
    const balancesAfter = await b.fetchBalances();
    const tradesAfter = await b.fetchMyTrades('ETH/USDT');
    const again = await b.submit({ clientOrderId: clientOrderId('rest1'), symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots: 1 as Lots, price: 260_000 as Ticks, timeInForce: 'GTC' });
    const next: VenueEvent[] = [];
    b.onEvent((e) => next.push(e));
    await b.submit({ clientOrderId: clientOrderId('take2'), symbol: 'ETH/USDT', side: 'buy', orderType: 'market', lots: 50 as Lots, timeInForce: 'GTC' });
    clock.advance(1);
    await b.flush();
    await store.close();

    expect(rest.status).toBe('accepted');
    expect(take.status).toBe('accepted');
    expect(events.filter((e) => e.kind === 'fill')).toHaveLength(1);
    expect(b.restored).toEqual({ balances: true, openOrders: 1, trades: 1 });
    expect(open).toEqual([expect.objectContaining({ clientOrderId: 'rest1', venueOrderId: rest.status === 'accepted' ? rest.venueOrderId : '', lots: 100, filledLots: 0, price: 260_000 })]);
    expect(balancesAfter).toEqual(balancesBefore);
    expect(tradesAfter).toEqual(tradesBefore);
    expect(again).toMatchObject({ status: 'rejected', code: 'DUPLICATE_CLIENT_ORDER_ID' });
    const fill2 = next.find((e) => e.kind === 'fill');
    expect(fill2 && fill2.kind === 'fill' && Number(fill2.fill.tradeId)).toBeGreaterThan(Number(tradesBefore[0]!.tradeId));
  });
});
