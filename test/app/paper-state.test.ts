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
import { createLogger } from '../../engine/log.ts';

const ETH = instrumentOf('ETH/USDT', 'paper');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const BTC = instrumentOf('BTC/USDT', 'paper');
const silent = createLogger({ level: 'silent' });

function venue(store: LmdbStore, clock: SimulatedClock, inst = ETH): PersistentPaperVenue {
  const book = new OrderBook(inst.symbol.replace('/', ''));
  // A real top of book from the recording (ETHUSDT 2024-08-08 23:54): 2 lots of depth on each side.
  book.replace([[268_000 as Ticks, 20_000 as Lots]], [[268_001 as Ticks, 20_000 as Lots]]);
  return new PersistentPaperVenue({
    clock, instruments: [inst], books: { [inst.symbol]: book }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 0,
    initialBalances: { USDT: money('10000') }, store, logger: silent,
  });
}

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-paper-'));
  dirs.push(dir);
  return dir;
}

const cid = clientOrderId;

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

  // Review of the persistence code, finding 1: a 40-lot buy with 30 filled left a 10-lot remainder (2.67 USDT, below
  // the 5 USDT minimum notional); placing it again at start was rejected and the order was then reported filled 30/30.
  it('keeps a partly filled order open after a restart when its remainder is below the minimum notional', async () => {
    const dir = tempDir();
    const clock = new SimulatedClock(1_723_161_253_937);
    let store = LmdbStore.open({ path: dir, noSync: true });
    const a = venue(store, clock);
    const placed = await a.submit({ clientOrderId: cid('rest1'), symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots: 40 as Lots, price: 267_000 as Ticks, timeInForce: 'GTC' });
    clock.advance(1);
    a.onTrade('ETH/USDT', 267_000 as Ticks, 30 as Lots, true);
    clock.advance(1);
    const balancesBefore = await a.fetchBalances();
    await a.flush();
    await store.close();

    store = LmdbStore.open({ path: dir, noSync: true });
    const b = venue(store, clock);
    const open = await b.fetchOpenOrders();
    const fetched = await b.fetchOrder('ETH/USDT', cid('rest1'));
    const balancesAfter = await b.fetchBalances();
    const events: VenueEvent[] = [];
    b.onEvent((e) => events.push(e));
    b.onTrade('ETH/USDT', 267_000 as Ticks, 10 as Lots, true);
    const afterFill = await b.fetchOrder('ETH/USDT', cid('rest1'));
    await b.flush();
    await store.close();

    const venueOrderId = placed.status === 'accepted' ? placed.venueOrderId : '';
    const resting = { clientOrderId: 'rest1', venueOrderId, lots: 40, filledLots: 30, status: 'partiallyFilled', price: 267_000 };
    expect(b.restored.openOrders).toBe(1);
    expect(open).toEqual([expect.objectContaining(resting)]);
    expect(fetched).toMatchObject(resting);
    expect(balancesAfter).toEqual(balancesBefore);
    expect(events).toEqual([{ kind: 'fill', fill: expect.objectContaining({ clientOrderId: 'rest1', venueOrderId, lots: 10 }) }]);
    expect(afterFill).toMatchObject({ lots: 40, filledLots: 40, status: 'filled' });
  });

  it('ends a stored open order that cannot be placed again as expired with its filled part, not as filled', async () => {
    const dir = tempDir();
    const clock = new SimulatedClock(1_723_161_253_937);
    let store = LmdbStore.open({ path: dir, noSync: true });
    const a = venue(store, clock);
    await a.submit({ clientOrderId: cid('rest1'), symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots: 40 as Lots, price: 267_000 as Ticks, timeInForce: 'GTC' });
    a.onTrade('ETH/USDT', 267_000 as Ticks, 30 as Lots, true);
    await a.flush();
    await store.close();

    // The next start trades another symbol only: ETH/USDT's order has no market to rest in.
    store = LmdbStore.open({ path: dir, noSync: true });
    const b = venue(store, clock, BTC);
    const fetched = await b.fetchOrder('ETH/USDT', cid('rest1'));
    await b.flush();
    await store.close();
    store = LmdbStore.open({ path: dir, noSync: true });
    const c = venue(store, clock, ETH);
    const fetchedAgain = await c.fetchOrder('ETH/USDT', cid('rest1'));
    const openAgain = await c.fetchOpenOrders();
    await store.close();

    expect(b.restored.openOrders).toBe(0);
    expect(fetched).toMatchObject({ clientOrderId: 'rest1', lots: 40, filledLots: 30, status: 'expired' });
    expect(fetchedAgain).toMatchObject({ clientOrderId: 'rest1', lots: 40, filledLots: 30, status: 'expired' });
    expect(openAgain).toEqual([]);
  });

  // Review finding 2: the state kept only open orders, so an order cancelled just before a crash was unknown after it.
  it.each([
    ['without fills', 0, 0],
    ['after a partial fill', 30, 30],
  ])('answers fetchOrder with cancelled after a restart for an order cancelled %s', async (_name, printLots, filledLots) => {
    const dir = tempDir();
    const clock = new SimulatedClock(1_723_161_253_937);
    let store = LmdbStore.open({ path: dir, noSync: true });
    const a = venue(store, clock);
    await a.submit({ clientOrderId: cid('c1'), symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots: 100 as Lots, price: 267_000 as Ticks, timeInForce: 'GTC' });
    if (printLots > 0) a.onTrade('ETH/USDT', 267_000 as Ticks, printLots as Lots, true);
    const cancel = await a.cancel('ETH/USDT', cid('c1'));
    await a.flush();
    await store.close();

    store = LmdbStore.open({ path: dir, noSync: true });
    const b = venue(store, clock);
    const fetched = await b.fetchOrder('ETH/USDT', cid('c1'));
    const open = await b.fetchOpenOrders();
    await store.close();

    expect(cancel.status).toBe('cancelled');
    expect(open).toEqual([]);
    expect(fetched).toMatchObject({ clientOrderId: 'c1', lots: 100, filledLots, status: 'cancelled' });
  });

  it('keeps only the newest closed orders, up to keep', async () => {
    const dir = tempDir();
    const clock = new SimulatedClock(1_723_161_253_937);
    let store = LmdbStore.open({ path: dir, noSync: true });
    const book = new OrderBook('ETHUSDT');
    book.replace([[268_000 as Ticks, 20_000 as Lots]], [[268_001 as Ticks, 20_000 as Lots]]);
    const make = (): PersistentPaperVenue => new PersistentPaperVenue({
      clock, instruments: [ETH], books: { 'ETH/USDT': book }, makerFeeRate9: 0n, takerFeeRate9: 0n, latencyMs: 0,
      initialBalances: { USDT: money('10000') }, store, logger: silent, keep: 2,
    });
    const a = make();
    for (const id of ['k1', 'k2', 'k3']) {
      await a.submit({ clientOrderId: cid(id), symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots: 100 as Lots, price: 260_000 as Ticks, timeInForce: 'GTC' });
      await a.cancel('ETH/USDT', cid(id));
    }
    await a.flush();
    await store.close();

    store = LmdbStore.open({ path: dir, noSync: true });
    const b = make();
    const found = await Promise.all(['k1', 'k2', 'k3'].map(async (id) => (await b.fetchOrder('ETH/USDT', cid(id)))?.status));
    await store.close();

    expect(found).toEqual([undefined, 'cancelled', 'cancelled']);
  });
});
