// The paper state's storage layout (app/paper-state.ts), task H6: an order step rewrote the whole paper state (every
// kept trade and closed order) in LMDB, so its cost grew with the history (0.7 ms per order at 100 orders, 9-10 ms at
// 2,000). Trades and closed orders now have their own keys beside a small record; a store written as one record is
// moved to that layout at start and restores exactly what it did before.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PersistentPaperVenue, readPaperState, type PaperState } from '../../app/paper-state.ts';
import { instrumentOf } from '../../app/live-venue.ts';
import { OrderBook } from '../../engine/market/order-book.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { clientOrderId } from '../../engine/types/ids.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { VenueTrade } from '../../engine/venues/venue.ts';
import { createLogger } from '../../engine/log.ts';

// ETHUSDT 2024-08-08 23:54 (the recording's top of book), deep enough for every market order below.
const ETH = instrumentOf('ETH/USDT', 'paper');
const silent = createLogger({ level: 'silent' });
const cid = clientOrderId;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function openStore(syncCommits = false): () => LmdbStore {
  const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-paper-layout-'));
  dirs.push(dir);
  return () => LmdbStore.open({ path: dir, noSync: true, syncCommits });
}

function venue(store: LmdbStore, clock: SimulatedClock, keep?: number): PersistentPaperVenue {
  const book = new OrderBook('ETHUSDT');
  book.replace([[268_000 as Ticks, 10_000_000 as Lots]], [[268_001 as Ticks, 10_000_000 as Lots]]);
  return new PersistentPaperVenue({
    clock, instruments: [ETH], books: { [ETH.symbol]: book }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 0,
    initialBalances: { USDT: money('100000'), ETH: money('10') }, store, logger: silent, ...(keep !== undefined ? { keep } : {}),
  });
}

/** `n` market orders, buy and sell in turn: one fill each. */
async function trade(v: PersistentPaperVenue, clock: SimulatedClock, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await v.submit({ clientOrderId: cid(`m${i}`), symbol: ETH.symbol, side: i % 2 === 0 ? 'buy' : 'sell', orderType: 'market', lots: 100 as Lots, timeInForce: 'GTC' });
    clock.advance(1_000);
  }
}

/** A limit buy far from the market, cancelled: one closed order. */
async function cancelled(v: PersistentPaperVenue, id: string): Promise<void> {
  await v.submit({ clientOrderId: cid(id), symbol: ETH.symbol, side: 'buy', orderType: 'limit', lots: 100 as Lots, price: 200_000 as Ticks, timeInForce: 'GTC' });
  await v.cancel(ETH.symbol, cid(id));
}

const tradeIds = (ts: readonly VenueTrade[]): string[] => ts.map((t) => t.tradeId);

describe('paper state layout', () => {
  it('stores each trade and closed order under its own key, keeps the rewritten record free of history, and drops the oldest beyond keep', async () => {
    const open = openStore();
    const clock = new SimulatedClock(1_723_161_253_937);
    const store = open();
    const v = venue(store, clock, 3);
    await trade(v, clock, 0, 5);
    for (const id of ['z1', 'a2', 'm3', 'b4']) await cancelled(v, id);
    await v.flush();
    const record = store.db<string, Record<string, unknown>>('paper.state').get('state')!;
    const tradeKeys = [...store.db<number, VenueTrade>('paper.trades').keys()];
    const closedKeys = [...store.db<string, unknown>('paper.closed').keys()].sort();
    const kept = await v.fetchMyTrades(ETH.symbol);
    await store.close();

    expect(Object.keys(record).sort()).toEqual(['balances', 'initial', 'maxOrderId', 'maxTradeId', 'open']);
    expect(tradeIds(kept)).toHaveLength(3);
    expect(tradeKeys).toEqual(kept.map((t) => Number(t.tradeId)));
    expect(closedKeys).toEqual(['a2', 'b4', 'm3']);
  });

  it('restores the newest trades and closed orders in the order they were made across restarts', async () => {
    const open = openStore();
    const clock = new SimulatedClock(1_723_161_253_937);
    let store = open();
    const a = venue(store, clock, 2);
    await trade(a, clock, 0, 3);
    await cancelled(a, 'z1');
    await cancelled(a, 'a2');
    await a.flush();
    await store.close();

    store = open();
    const b = venue(store, clock, 2);
    await cancelled(b, 'm3'); // z1 is the oldest of the stored two, whatever the key order says
    await trade(b, clock, 3, 1);
    const tradesB = await b.fetchMyTrades(ETH.symbol);
    await b.flush();
    await store.close();

    store = open();
    const c = venue(store, clock, 2);
    const statuses = await Promise.all(['z1', 'a2', 'm3'].map(async (id) => (await c.fetchOrder(ETH.symbol, cid(id)))?.status));
    const tradesC = await c.fetchMyTrades(ETH.symbol);
    await store.close();

    expect(statuses).toEqual([undefined, 'cancelled', 'cancelled']);
    expect(tradesC).toEqual(tradesB);
    expect(tradesC).toHaveLength(2);
    expect(Number(tradesC[1]!.tradeId)).toBeGreaterThan(Number(tradesC[0]!.tradeId));
  });

  it('moves a store written as one record to the split layout at start and restores exactly what it held', async () => {
    const open = openStore();
    const clock = new SimulatedClock(1_723_161_253_937);
    let store = open();
    const a = venue(store, clock);
    await trade(a, clock, 0, 4);
    await cancelled(a, 'c1');
    await a.submit({ clientOrderId: cid('rest1'), symbol: ETH.symbol, side: 'buy', orderType: 'limit', lots: 100 as Lots, price: 260_000 as Ticks, timeInForce: 'GTC' });
    await a.flush();
    const before = { trades: await a.fetchMyTrades(ETH.symbol), balances: await a.fetchBalances(), open: await a.fetchOpenOrders(), closed: await a.fetchOrder(ETH.symbol, cid('c1')) };
    // The whole state as one record, as a store written before the split holds it, plus a trade key no longer in it.
    const whole: PaperState = readPaperState(store)!;
    await store.db<string, PaperState>('paper.state').put('state', whole);
    const tradesDb = store.db<number, VenueTrade>('paper.trades');
    for (const k of [...tradesDb.keys()]) await tradesDb.remove(k);
    await tradesDb.put(1, { ...whole.trades[0]!, tradeId: '1' });
    const closedDb = store.db<string, unknown>('paper.closed');
    for (const k of [...closedDb.keys()]) await closedDb.remove(k);
    await store.close();

    store = open();
    const b = venue(store, clock);
    const migrated = { trades: await b.fetchMyTrades(ETH.symbol), balances: await b.fetchBalances(), open: await b.fetchOpenOrders(), closed: await b.fetchOrder(ETH.symbol, cid('c1')) };
    await b.flush();
    const record = store.db<string, Record<string, unknown>>('paper.state').get('state')!;
    const tradeKeys = [...store.db<number, VenueTrade>('paper.trades').keys()];
    await store.close();

    store = open();
    const c = venue(store, clock);
    const again = { trades: await c.fetchMyTrades(ETH.symbol), balances: await c.fetchBalances(), open: await c.fetchOpenOrders(), closed: await c.fetchOrder(ETH.symbol, cid('c1')) };
    const read = readPaperState(store);
    await store.close();

    expect(whole.trades).toHaveLength(4);
    expect(b.restored).toEqual({ balances: true, openOrders: 1, trades: 4 });
    expect(migrated).toEqual(before);
    expect(again).toEqual(before);
    expect(record['trades']).toBeUndefined();
    expect(record['closed']).toBeUndefined();
    expect(tradeKeys).toEqual(tradeIds(before.trades).map(Number));
    expect(read).toEqual(whole);
  });

  it('writes the trades of a step whose write failed with the next write', async () => {
    const open = openStore(true);
    const clock = new SimulatedClock(1_723_161_253_937);
    let store = open();
    const a = venue(store, clock);
    // One failed commit (a full disk, say): the trades database refuses a single put, which aborts that transaction.
    const tradesDb = store.db<number, VenueTrade>('paper.trades');
    const put = tradesDb.put.bind(tradesDb);
    let failures = 0;
    tradesDb.put = (k, v) => {
      if (failures++ === 0) throw new Error('MDB_MAP_FULL: environment mapsize limit reached');
      return put(k, v);
    };
    await trade(a, clock, 0, 2);
    const kept = await a.fetchMyTrades(ETH.symbol);
    await a.flush();
    await store.close();

    store = open();
    const b = venue(store, clock);
    const restored = await b.fetchMyTrades(ETH.symbol);
    await store.close();

    expect(failures).toBeGreaterThan(1); // one refused, the others written
    expect(kept).toHaveLength(2);
    expect(restored).toEqual(kept);
  });

  it('holds after every step the trades and trade counter the venue answers with', async () => {
    // syncCommits: each step's write has committed when the step returns, so the store can be read right after it.
    const store = openStore(true)();
    const clock = new SimulatedClock(1_723_161_253_937);
    const v = venue(store, clock, 2);
    const seen: { maxTradeId: number; ids: string[]; venueIds: string[] }[] = [];
    for (let i = 0; i < 4; i++) {
      await trade(v, clock, i, 1);
      const s = readPaperState(store)!;
      seen.push({ maxTradeId: s.maxTradeId, ids: tradeIds(s.trades), venueIds: tradeIds(await v.fetchMyTrades(ETH.symbol)) });
    }
    await store.close();

    for (const s of seen) {
      expect(s.ids).toEqual(s.venueIds);
      expect(String(s.maxTradeId)).toBe(s.ids.at(-1));
    }
    expect(seen.map((s) => s.ids.length)).toEqual([1, 2, 2, 2]);
  });
});
