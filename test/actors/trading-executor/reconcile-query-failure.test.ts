// Reconciliation with one order whose status query fails (a timeout, a 5xx, an unreadable answer): the other orders'
// fills, closes and the balance check still happen, the failing order is left as it was and reported, a trade that
// may be its own is never adopted as a stranger's, and a rate limit or ban ends the run at once.
// Regression: one such order made reconcile() throw, so no fill of any symbol was booked while it lasted.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor, newOrder, type OrderRecord } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { venueOrderId, type ClientOrderId } from '../../../engine/types/ids.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { VenueCallError, type VenueOrder, type VenueTrade } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const T0 = 1_723_161_300_000;
const PX = 6_183_763 as Ticks;
const POLL_MS = 2_000;

const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

const vid = (cid: string) => venueOrderId(`v-${cid}`);
const vo = (cid: string, over: Partial<VenueOrder> = {}): VenueOrder => ({
  clientOrderId: cid as ClientOrderId, venueOrderId: vid(cid), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', timeInForce: 'GTC',
  price: PX, lots: 500 as Lots, filledLots: 0 as Lots, status: 'accepted', ts: T0, ...over,
});
const trade = (tradeId: number, cid: string, lots: number): VenueTrade => ({
  venueOrderId: vid(cid), tradeId: String(tradeId), venue: 'paper', symbol: 'BTC/USDT', side: 'buy', price: PX, lots: lots as Lots,
  fee: 0n as Money, feeAsset: 'BTC', liquidity: 'maker', ts: T0,
});
const accepted = (id: string): OrderRecord => {
  const o = newOrder(limitIntent(id, PX, { lots: 500 as Lots }), 'paper', T0 - 60_000);
  return { ...o, status: 'accepted', venueOrderId: vid(o.clientOrderId) };
};
const submitted = (id: string): OrderRecord => ({ ...newOrder(limitIntent(id, PX, { lots: 500 as Lots }), 'paper', T0 - 60_000), status: 'submitted' });

/** A venue whose status query fails for the client ids in `failing` with `error` (an unreadable answer by default). */
function world() {
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const clock = new SimulatedClock(T0);
  const venue = new PollVenue();
  const failing = new Set<string>();
  let error = (): Error => new VenueCallError('unknown', 'BAD_RESPONSE', 'order answer lacks an order id or client id: {}');
  const fetchOrder = venue.fetchOrder.bind(venue);
  venue.fetchOrder = async (sym, cid) => {
    if (!failing.has(cid)) return fetchOrder(sym, cid);
    venue.calls.push('fetchOrder');
    throw error();
  };
  const rec = recordingBus();
  const cap = capturingLogger();
  const make = () => new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: POLL_MS, rng: () => 0.5 });
  const dump = () => JSON.stringify([s.store.allOrders(), s.store.fillsOf('paper', 'BTC/USDT'), s.store.allPositions('paper'), s.store.lastTradeId('paper', 'BTC/USDT')],
    (_, v) => (typeof v === 'bigint' ? String(v) : v));
  const failWith = (f: () => Error) => (error = f);
  /**
   * Starts `ex` and expects it live within a few simulated seconds: a start-up reconciliation that throws is retried
   * forever, so the executor is then stopped and the test fails on its state instead of hanging.
   */
  const startLive = async (ex: TradingExecutor) => {
    const started = ex.start();
    started.catch(() => undefined);
    await drive(clock, () => ex.state !== 'reconciling', 100, 50).catch(() => undefined);
    const state = ex.state;
    if (state !== 'live') ex.stop();
    expect(state).toBe('live');
    return started;
  };
  return { ...s, clock, venue, failing, failWith, ...rec, ...cap, make, dump, startLive };
}

describe('reconciliation with an order whose status query fails', () => {
  it('books the other orders\' fills and closes, checks balances, and leaves the failing order as it was — twice alike', async () => {
    const w = world();
    const stuck = accepted('stuck'); // closed at the venue, so it is queried; the query fails
    const open = accepted('open'); // still open, with a fill we never saw
    const done = accepted('done'); // cancelled at the venue after a partial fill, while we were down
    for (const o of [stuck, open, done]) await w.store.commit({ order: o });
    w.failing.add(stuck.clientOrderId);
    w.venue.orders = [
      vo(stuck.clientOrderId, { status: 'cancelled' }),
      vo(open.clientOrderId, { status: 'partiallyFilled', filledLots: 100 as Lots }),
      vo(done.clientOrderId, { status: 'cancelled', filledLots: 200 as Lots }),
    ];
    w.venue.trades = [trade(11, open.clientOrderId, 100), trade(12, done.clientOrderId, 200)];

    const ex = w.make();
    const first = await w.startLive(ex);
    await ex.idle();
    const eventsFirst = w.execTypes();
    const afterFirst = w.dump();
    const second = await ex.reconcile({ balances: true });
    await ex.idle();

    expect(ex.state).toBe('live');
    expect(first).toMatchObject({ ordersUnresolved: [stuck.clientOrderId], fillsApplied: 2, ordersClosed: 1, tradesDeferred: [], fillsMissing: [] });
    expect(first.balances).toEqual([]);
    expect(ex.order(stuck.clientOrderId)).toEqual(stuck);
    expect(ex.order(open.clientOrderId)).toMatchObject({ status: 'partiallyFilled', filledLots: 100, tradeIds: ['11'] });
    expect(ex.order(done.clientOrderId)).toMatchObject({ status: 'cancelled', filledLots: 200, tradeIds: ['12'] });
    expect(w.codes()).toContain('RECONCILE_ORDER_QUERY_FAILED');
    expect(w.codes()).not.toContain('RECONCILE_FAILED');
    expect(w.records.find((r) => r['code'] === 'RECONCILE_ORDER_QUERY_FAILED')).toMatchObject({ clientOrderId: stuck.clientOrderId, venueCode: 'BAD_RESPONSE', level: 50 });
    expect(second).toMatchObject({ ordersUnresolved: [stuck.clientOrderId], fillsApplied: 0, ordersClosed: 0, ordersAccepted: 0, ordersRejected: 0 });
    expect(w.execTypes()).toEqual(eventsFirst);
    expect(w.dump()).toBe(afterFirst);
  });

  it('never adopts a trade that may be the unresolved order\'s: books the known ones before it, then stops the symbol until the order can be read', async () => {
    const w = world();
    const s = submitted('s'); // its answer never came: no venue id yet, and its query fails
    const b = accepted('b');
    for (const o of [s, b]) await w.store.commit({ order: o });
    w.failing.add(s.clientOrderId);
    w.venue.orders = [vo(s.clientOrderId, { status: 'filled', filledLots: 500 as Lots }), vo(b.clientOrderId, { status: 'filled', filledLots: 500 as Lots })];
    // Trade 12 names only the venue id of s, which we do not know yet.
    w.venue.trades = [trade(11, b.clientOrderId, 200), trade(12, s.clientOrderId, 500), trade(13, b.clientOrderId, 300)];

    const ex = w.make();
    const first = await w.startLive(ex);
    await ex.idle();
    const afterFirst = w.dump();
    const eventsFirst = w.execTypes();
    const lastTradeFirst = w.store.lastTradeId('paper', 'BTC/USDT');
    const statusFirst = ex.order(s.clientOrderId)?.status;
    const again = await ex.reconcile({ balances: false });
    await ex.idle();
    const afterAgain = w.dump();
    const eventsAgain = w.execTypes();
    w.failing.clear(); // the venue answers the query again
    const recovered = await ex.reconcile({ balances: false });
    await ex.idle();
    const afterRecovered = w.dump();
    const settled = await ex.reconcile({ balances: false });
    await ex.idle();

    expect(first).toMatchObject({ ordersUnresolved: [s.clientOrderId], tradesDeferred: ['BTC/USDT'], fillsApplied: 1, tradesAdopted: 0, ordersClosed: 0 });
    expect([lastTradeFirst, statusFirst]).toEqual(['11', 'submitted']);
    expect(again).toMatchObject({ ordersUnresolved: [s.clientOrderId], tradesDeferred: ['BTC/USDT'], fillsApplied: 0, tradesAdopted: 0, ordersClosed: 0 });
    expect([afterAgain, eventsAgain]).toEqual([afterFirst, eventsFirst]);
    expect(recovered).toMatchObject({ ordersUnresolved: [], tradesDeferred: [], ordersAccepted: 1, fillsApplied: 2, tradesAdopted: 0, ordersClosed: 0, fillsMissing: [] });
    expect(ex.order(s.clientOrderId)).toMatchObject({ status: 'filled', filledLots: 500, tradeIds: ['12'], venueOrderId: vid(s.clientOrderId) });
    expect(ex.order(b.clientOrderId)).toMatchObject({ status: 'filled', filledLots: 500, tradeIds: ['11', '13'] });
    expect(ex.allOrders().filter((o) => o.adopted)).toEqual([]);
    expect(w.codes()).not.toContain('ADOPTED_TRADE');
    expect(w.codes()).not.toContain('FILLS_MISSING');
    expect(settled).toMatchObject({ ordersUnresolved: [], fillsApplied: 0, ordersAccepted: 0, ordersClosed: 0 });
    expect(w.dump()).toBe(afterRecovered);
  });

  it.each([
    ['rateLimited', 'VENUE_RATE_LIMITED'],
    ['banned', 'VENUE_IP_BANNED'],
  ] as const)('a %s answer ends the run at the first query, sending nothing more', async (kind, code) => {
    const w = world();
    const orders = [accepted('x'), accepted('y'), accepted('z')];
    for (const o of orders) await w.store.commit({ order: o });
    w.venue.orders = orders.map((o) => vo(o.clientOrderId));
    const ex = w.make();
    await w.startLive(ex);
    // All three closed at the venue since, so each would be queried; the venue now refuses every call.
    w.venue.orders = orders.map((o) => vo(o.clientOrderId, { status: 'cancelled' }));
    for (const o of orders) w.failing.add(o.clientOrderId);
    w.failWith(() => new VenueCallError(kind, code, `${code}: fetchOrder not sent`, 60_000));
    w.venue.calls.length = 0;
    const before = w.dump();

    const run = ex.reconcile({ balances: false });

    await expect(run).rejects.toMatchObject({ kind, code });
    expect(w.venue.calls).toEqual(['fetchOpenOrders', 'fetchOrder']);
    expect(w.dump()).toBe(before);
  });
});

describe('the poll of a venue that pushes no events, with one order whose query keeps failing', () => {
  it('keeps booking the other orders\' fills', async () => {
    const w = world();
    const ex = w.make();
    await w.startLive(ex);
    const settle = () => drive(w.clock, () => !ex.busy);
    for (const id of ['a', 'b']) w.bus.publish({ type: 'risk.orderApproved', intent: limitIntent(id, PX, { lots: 500 as Lots }), ts: w.clock.now() });
    await settle();
    const a = clientOrderIdFor('a');
    const b = clientOrderIdFor('b');
    // a is closed at the venue (so the poll queries it) and the venue answers garbage for it; b fills.
    w.venue.orders = w.venue.orders.map((o) => (o.clientOrderId === a ? { ...o, status: 'cancelled' } : o));
    w.failing.add(a);
    w.venue.fill(b, 200);

    for (let i = 0; i < 3; i++) {
      w.clock.advance(POLL_MS);
      await settle();
    }

    expect(ex.order(b)).toMatchObject({ status: 'partiallyFilled', filledLots: 200 });
    expect(ex.position('BTC/USDT')?.netLots).toBe(200);
    expect(ex.order(a)).toMatchObject({ status: 'accepted' });
    expect(w.codes()).toContain('RECONCILE_ORDER_QUERY_FAILED');
    expect(w.codes()).not.toContain('POLL_FAILED');
  });

  it('publishes exec.reconciled with the unresolved count at every poll while the query fails, and the close once it answers', async () => {
    const w = world();
    const ex = w.make();
    await w.startLive(ex);
    const settle = () => drive(w.clock, () => !ex.busy);
    w.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('a', PX, { lots: 500 as Lots }), ts: w.clock.now() });
    await settle();
    const a = clientOrderIdFor('a');
    w.venue.orders = w.venue.orders.map((o) => (o.clientOrderId === a ? { ...o, status: 'cancelled' } : o));
    w.failing.add(a);
    const poll = async () => {
      const before = w.of('exec.reconciled').length;
      w.clock.advance(POLL_MS);
      await settle();
      return w.of('exec.reconciled').slice(before).map(({ ordersUnresolved, ordersClosed }) => ({ ordersUnresolved, ordersClosed }));
    };

    const failing = [await poll(), await poll()];
    w.failing.clear();
    const answered = await poll();
    const after = await poll();

    expect(failing).toEqual([[{ ordersUnresolved: 1, ordersClosed: 0 }], [{ ordersUnresolved: 1, ordersClosed: 0 }]]);
    expect(answered).toEqual([{ ordersUnresolved: 0, ordersClosed: 1 }]);
    expect(after).toEqual([]);
  });
});
