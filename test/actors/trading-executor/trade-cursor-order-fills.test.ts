// The symbol's trade cursor (the last trade id the history read reached) must not pass a trade that history has not
// shown yet. Fills read by order id (fetchOrderTrades) come out of the history's order, while myTrades lags the order
// endpoint: were they to move the cursor, an earlier trade of another order would never be read. And an order the venue
// lists open with more filled than the lagging history shows has its trades read by order id.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { reconcile, type ReconcileHost } from '../../../actors/trading-executor/reconcile.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { venueOrderId, type VenueOrderId } from '../../../engine/types/ids.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { VenueTrade } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const T0 = 1_723_161_300_000;
const POLL_MS = 2_000;
const PX = 6_183_763;

/** PollVenue with Binance's read by order id, which (like the order endpoint) does not lag. */
class OrderTradesVenue extends PollVenue {
  /** The cursor of each fetchMyTrades. */
  readonly cursors: Array<string | undefined> = [];
  override async fetchMyTrades(symbol: string, since?: string): Promise<VenueTrade[]> {
    this.cursors.push(since);
    return super.fetchMyTrades(symbol, since);
  }
  async fetchOrderTrades(_symbol: string, id: VenueOrderId): Promise<VenueTrade[]> {
    this.calls.push('fetchOrderTrades');
    return this.trades.filter((t) => t.venueOrderId === id);
  }
}

const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

async function setup() {
  const clock = new SimulatedClock(T0);
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const venue = new OrderTradesVenue();
  const rec = recordingBus();
  const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: capturingLogger().logger, pollMs: POLL_MS, rng: () => 0.5 });
  await ex.start();
  const settle = () => drive(clock, () => !ex.busy);
  const approve = async (id: string, lots: number) => {
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent(id, PX, { lots: lots as Lots }), ts: clock.now() });
    await settle();
    return clientOrderIdFor(id);
  };
  const polls = async (n: number) => {
    for (let i = 0; i < n; i++) {
      clock.advance(POLL_MS);
      await settle();
    }
  };
  return { venue, ex, store: s.store, bus: rec.bus, settle, approve, polls };
}

/** A trade of an order placed elsewhere on the account (by hand), in the venue's history. */
const strangerTrade = (id: number, lots: number): VenueTrade => ({
  venueOrderId: venueOrderId('9999'), tradeId: String(id), venue: 'paper', symbol: 'BTC/USDT', side: 'buy', price: PX as Ticks,
  lots: lots as Lots, fee: 0n as Money, feeAsset: 'USDT', liquidity: 'taker', ts: 0,
});

describe('trade cursor and fills read by order id', () => {
  it('a closed order\'s fills read by order id leave the cursor before a trade the lagging history has not shown', async () => {
    const w = await setup();
    const a = await w.approve('a', 500);
    // Trades 1 and 3 close A; trade 2 is another order's (placed by hand); myTrades shows none of them yet.
    w.venue.historyLength = 0;
    w.venue.fill(a, 250);
    w.venue.trades.push(strangerTrade(2, 100));
    w.venue.fill(a, 250);
    w.venue.trades[2] = { ...w.venue.trades[2]!, tradeId: '3' };
    await w.polls(1);
    expect([w.ex.order(a)?.status, w.ex.order(a)?.filledLots]).toEqual(['filled', 500]);
    expect(w.store.lastTradeId('paper', 'BTC/USDT')).not.toBe('3');

    // The history catches up: trade 2 is read (and adopted) once a poll reads the symbol.
    w.venue.historyLength = undefined;
    await w.approve('b', 10);
    await w.polls(2);
    expect(w.store.hasFill('paper', 'BTC/USDT', '2')).toBe(true);
    expect(w.ex.position('BTC/USDT')?.netLots).toBe(600);
  });

  it('an order the venue lists open with more filled than booked has its trades read by order id', async () => {
    const w = await setup();
    const a = await w.approve('a', 500);
    const b = await w.approve('b', 500);
    w.venue.historyLength = 0;
    w.venue.fill(a, 250);
    w.venue.fill(b, 100);
    w.venue.fill(a, 250);
    await w.polls(1);
    expect(w.ex.order(b)?.filledLots).toBe(100);
    // Cancelled by us once booked: nothing is lost even though the history still shows nothing.
    w.bus.publish({ type: 'exec.cancelOrder', clientOrderId: b, reason: 'test' });
    await w.settle();
    await w.polls(3);
    expect([w.ex.order(b)?.status, w.ex.order(b)?.filledLots]).toEqual(['cancelled', 100]);
    expect(w.ex.position('BTC/USDT')?.netLots).toBe(600);

    // The history catches up with trades all booked by order id: read once, then from past them, not again from the start.
    w.venue.historyLength = undefined;
    await w.approve('c', 10);
    await w.polls(3);
    expect(w.venue.cursors.slice(-2)).toEqual(['3', '3']);
  });

  it('with saveTradeCursor, the history read persists the cursor it read up to, past trades booked by order id', async () => {
    const w = await setup();
    // The executor with the hook (its methods run on this object, so its state is the executor's).
    const host: ReconcileHost = Object.assign(Object.create(w.ex) as TradingExecutor, {
      saveTradeCursor: (symbol: string, id: string) => w.store.setLastTradeId('paper', symbol, id),
    });
    const a = await w.approve('a', 500);
    w.venue.historyLength = 0;
    w.venue.fill(a, 250);
    w.venue.fill(a, 250);
    await reconcile(host, { balances: false, symbols: ['BTC/USDT'] });
    expect([w.ex.order(a)?.status, w.store.lastTradeId('paper', 'BTC/USDT')]).toEqual(['filled', undefined]);
    w.venue.historyLength = undefined;
    const r = await reconcile(host, { balances: false, symbols: ['BTC/USDT'] });
    expect([r.fillsApplied, r.fillsDuplicate, w.store.lastTradeId('paper', 'BTC/USDT')]).toEqual([0, 2, '2']);
  });
});
