// A resting paper order's place in its queue across a restart (app/paper-state.ts). A known review finding: the
// queue ahead was not stored, so an order near the front of its level was put behind the whole level after a
// restart. It is stored now and restored, capped at what the level displays once the book is live.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PersistentPaperVenue, type PaperState } from '../../app/paper-state.ts';
import { instrumentOf } from '../../app/live-venue.ts';
import { liveBookView } from '../../engine/market/matching.ts';
import { OrderBook } from '../../engine/market/order-book.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { clientOrderId } from '../../engine/types/ids.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { VenueEvent } from '../../engine/venues/venue.ts';
import { createLogger } from '../../engine/log.ts';

// ETHUSDT 2024-08-08 23:54 (the recording's top of book): 2 ETH bid at 2680.00.
const ETH = instrumentOf('ETH/USDT', 'paper');
const BID = 268_000 as Ticks;
const silent = createLogger({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A paper venue over a book showing `bidLots` at the bid; `live` false: the book is still being synced. */
function start(store: LmdbStore, clock: SimulatedClock, bidLots: number, live = true) {
  const book = new OrderBook('ETHUSDT');
  book.replace([[BID, bidLots as Lots]], [[268_001 as Ticks, 20_000 as Lots]]);
  const state = { live };
  const venue = new PersistentPaperVenue({
    clock, instruments: [ETH], books: { [ETH.symbol]: liveBookView(book, () => state.live) }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n,
    latencyMs: 0, initialBalances: { USDT: money('10000') }, store, logger: silent,
  });
  const fills: number[] = [];
  venue.onEvent((e: VenueEvent) => {
    if (e.kind === 'fill') fills.push(e.fill.lots);
  });
  const goLive = (lots: number) => {
    book.replace([[BID, lots as Lots]], [[268_001 as Ticks, 20_000 as Lots]]);
    state.live = true;
    venue.onSnapshot(ETH.symbol);
  };
  const ahead = () => venue.inner.queueAhead(ETH.symbol, clientOrderId('rest1'));
  return { venue, fills, goLive, ahead };
}

function tempStore(): { dir: string; open: () => LmdbStore } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-paper-queue-'));
  dirs.push(dir);
  return { dir, open: () => LmdbStore.open({ path: dir, noSync: true }) };
}

/** Rests a 0.1 ETH buy behind the 2 ETH bid, then 1.9 ETH sells there: 0.1 ETH stays ahead of it. */
async function restNearFront(open: () => LmdbStore, clock: SimulatedClock): Promise<void> {
  const store = open();
  const a = start(store, clock, 20_000);
  await a.venue.submit({ clientOrderId: clientOrderId('rest1'), symbol: ETH.symbol, side: 'buy', orderType: 'limit', lots: 1_000 as Lots, price: BID, timeInForce: 'GTC' });
  a.venue.onTrade(ETH.symbol, BID, 19_000 as Lots, true);
  await a.venue.flush();
  await store.close();
}

describe('persistent paper venue: queue position across a restart', () => {
  it('keeps a resting order near the front of its queue after a restart', async () => {
    const { open } = tempStore();
    const clock = new SimulatedClock(1_723_161_253_937);
    await restNearFront(open, clock);

    const store = open();
    const b = start(store, clock, 20_000);
    const restoredAhead = b.ahead();
    b.venue.onTrade(ETH.symbol, BID, 1_500 as Lots, true);
    await b.venue.flush();
    await store.close();

    expect(restoredAhead).toBe(1_000);
    expect(b.fills).toEqual([500]);
  });

  it.each([
    { name: 'a level larger than the stored queue', shown: 20_000, ahead: 1_000 },
    { name: 'a level smaller than the stored queue', shown: 400, ahead: 400 },
  ])('restores the queue once the book is live, capped at what the level shows: $name', async ({ shown, ahead }) => {
    const { open } = tempStore();
    const clock = new SimulatedClock(1_723_161_253_937);
    await restNearFront(open, clock);

    const store = open();
    const b = start(store, clock, 0, false); // the book is not synced yet at start
    const whileSyncing = b.ahead();
    b.goLive(shown);
    const restoredAhead = b.ahead();
    await b.venue.flush();
    await store.close();

    expect(whileSyncing).toBeUndefined(); // not resting yet: it waits for the live book
    expect(restoredAhead).toBe(ahead);
  });

  it('keeps the stored queue of an order that has not rested again through a second restart', async () => {
    const { open } = tempStore();
    const clock = new SimulatedClock(1_723_161_253_937);
    await restNearFront(open, clock);
    let store = open();
    const b = start(store, clock, 0, false);
    await b.venue.flush(); // written while the order waits for the book
    await store.close();

    store = open();
    const c = start(store, clock, 20_000);
    const restoredAhead = c.ahead();
    await c.venue.flush();
    await store.close();

    expect(restoredAhead).toBe(1_000);
  });

  it('places an order of a state stored without queue positions at the back of its queue', async () => {
    const { open } = tempStore();
    const clock = new SimulatedClock(1_723_161_253_937);
    await restNearFront(open, clock);
    let store = open();
    const db = store.db<string, PaperState>('paper.state');
    const saved = db.get('state')!;
    const stored = saved.open.map((o) => o.queueAhead);
    await db.put('state', { ...saved, open: saved.open.map(({ queueAhead: _, ...o }) => o) });
    await store.close();

    store = open();
    const b = start(store, clock, 20_000);
    const restoredAhead = b.ahead();
    await b.venue.flush();
    await store.close();

    expect(stored).toEqual([1_000]);
    expect(b.venue.restored.openOrders).toBe(1);
    expect(restoredAhead).toBe(20_000);
  });

  it('ends a stored order with a malformed queue position as expired, without placing it', async () => {
    const { open } = tempStore();
    const clock = new SimulatedClock(1_723_161_253_937);
    await restNearFront(open, clock);
    let store = open();
    const db = store.db<string, PaperState>('paper.state');
    const saved = db.get('state')!;
    await db.put('state', { ...saved, open: saved.open.map((o) => ({ ...o, queueAhead: -5 as Lots })) });
    await store.close();

    store = open();
    const b = start(store, clock, 20_000);
    const order = await b.venue.fetchOrder(ETH.symbol, clientOrderId('rest1'));
    const usdt = (await b.venue.fetchBalances()).find((x) => x.asset === 'USDT');
    await b.venue.flush();
    await store.close();

    expect(b.venue.restored.openOrders).toBe(0);
    expect(order).toMatchObject({ status: 'expired', filledLots: 0 });
    expect(usdt?.locked).toBe(0n);
  });
});
