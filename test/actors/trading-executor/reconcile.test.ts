// Start-up reconciliation against a stub venue port: missing fills applied and published once, closed orders
// marked from the venue, unknown orders adopted, a second run changes nothing, and no fill is ever invented; then
// one case per branch of reconcile.ts (closing status, unknown order, symbol filter, deferred trades, trade paging).
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor, emptyPosition, newOrder, positionAfterFill, type OrderRecord } from '../../../actors/trading-executor/logic.ts';
import type { Fill } from '../../../engine/messages/orders.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderId, venueOrderId, type ClientOrderId } from '../../../engine/types/ids.ts';
import { notional } from '../../../engine/types/instrument.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type {
  CancelResult, ExecutionVenue, SubmitResult, VenueBalance, VenueEvent, VenueOrder, VenueOrderRequest, VenueTrade,
} from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, limitIntent, recordingBus, tempStore } from './helpers.ts';

const T0 = 1_723_161_300_000;
const PX = 6_183_763 as Ticks;

/** A venue port holding fixed state: what a real venue would answer after our process was down. */
class StubVenue implements ExecutionVenue {
  readonly id = 'paper' as const;
  readonly pushesEvents = true;
  readonly submitSettleMs = 0;
  symbols: readonly string[] = ['BTC/USDT'];
  orders: VenueOrder[] = [];
  trades: VenueTrade[] = [];
  balances: VenueBalance[] = [];
  readonly calls: string[] = [];
  /** The `since` of every fetchMyTrades, in call order. */
  readonly tradeCursors: Array<string | undefined> = [];
  /** Trades per page (the first ones after `since`), answered newest first when `newestFirst`. */
  page: { size: number; newestFirst: boolean } | undefined;
  /** When set, submit waits for it and then accepts the order as `v-<client id>`; unset, reconciliation must not submit. */
  submitGate: Promise<void> | undefined;
  submits = 0;
  async submit(req: VenueOrderRequest): Promise<SubmitResult> {
    if (!this.submitGate) throw new Error('reconciliation must not submit orders');
    this.submits++;
    await this.submitGate;
    return { status: 'accepted', venueOrderId: venueOrderId(`v-${req.clientOrderId}`), ts: T0 };
  }
  async cancel(): Promise<CancelResult> {
    throw new Error('reconciliation must not cancel orders');
  }
  async fetchOrder(s: string, cid: ClientOrderId) {
    this.calls.push('fetchOrder');
    return this.orders.find((o) => o.clientOrderId === cid && o.symbol === s);
  }
  async fetchOpenOrders(s?: string) {
    this.calls.push('fetchOpenOrders');
    return this.orders.filter((o) => (s === undefined || o.symbol === s) && (o.status === 'accepted' || o.status === 'partiallyFilled'));
  }
  async fetchBalances() {
    return this.balances;
  }
  async fetchMyTrades(s: string, since?: string) {
    this.tradeCursors.push(since);
    const after = this.trades.filter((t) => t.symbol === s && (since === undefined || Number(t.tradeId) > Number(since)));
    if (!this.page) return after;
    const page = after.slice(0, this.page.size);
    return this.page.newestFirst ? page.reverse() : page;
  }
  onEvent(_fn: (e: VenueEvent) => void) {
    return () => {};
  }
}

const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

const vo = (cid: string, over: Partial<VenueOrder> = {}): VenueOrder => ({
  clientOrderId: clientOrderId(cid), venueOrderId: venueOrderId(`v-${cid}`), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', timeInForce: 'GTC',
  price: PX, lots: 500 as Lots, filledLots: 0 as Lots, status: 'accepted', ts: T0, ...over,
});
const trade = (tradeId: number, vid: string, lots: number, over: Partial<VenueTrade> = {}): VenueTrade => ({
  venueOrderId: venueOrderId(vid), tradeId: String(tradeId), venue: 'paper', symbol: 'BTC/USDT', side: 'buy', price: PX, lots: lots as Lots,
  fee: 0n as Money, feeAsset: 'BTC', liquidity: 'maker', ts: T0, ...over,
});

function accepted(id: string, lots = 500): OrderRecord {
  return { ...newOrder(limitIntent(id, PX, { lots: lots as Lots }), 'paper', T0 - 60_000), status: 'accepted', venueOrderId: venueOrderId(`v-${clientOrderIdFor(id)}`) };
}

function world() {
  const s = tempStore();
  stores.push(s);
  const clock = new SimulatedClock(T0);
  const venue = new StubVenue();
  const rec = recordingBus();
  const cap = capturingLogger();
  const make = () => new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger });
  const dump = () => JSON.stringify([s.store.allOrders(), s.store.fillsOf('paper', 'BTC/USDT'), s.store.allPositions('paper'), s.store.lastTradeId('paper', 'BTC/USDT')],
    (_, v) => (typeof v === 'bigint' ? String(v) : v));
  return { ...s, clock, venue, ...rec, ...cap, make, dump };
}

describe('reconciliation at start', () => {
  it('applies missing fills, closes what the venue closed, adopts what it did not know — and a second run changes nothing', async () => {
    const w = world();
    const gone = accepted('gone'); // cancelled at the venue after a partial fill we never saw
    const stillOpen = accepted('open'); // still open with a fill we never saw
    const neverSent = { ...newOrder(limitIntent('never', PX), 'paper', T0 - 60_000), status: 'submitted' as const };
    for (const o of [gone, stillOpen, neverSent]) await w.store.commit({ order: o });
    w.venue.orders = [
      vo(gone.clientOrderId, { status: 'cancelled', filledLots: 200 as Lots }),
      vo(stillOpen.clientOrderId, { status: 'partiallyFilled', filledLots: 100 as Lots }),
      vo('someoneElse', { lots: 300 as Lots, filledLots: 50 as Lots, status: 'partiallyFilled' }),
    ];
    w.venue.trades = [
      trade(11, `v-${gone.clientOrderId}`, 200),
      trade(12, `v-${stillOpen.clientOrderId}`, 100),
      trade(13, 'v-someoneElse', 50),
      trade(14, 'v-manual', 70, { side: 'sell' }), // an order placed by hand, long gone
    ];

    const ex = w.make();
    const first = await ex.start();
    await ex.idle();
    const eventsFirst = w.execTypes();
    const afterFirst = w.dump();
    const second = await ex.reconcile({ balances: true });
    await ex.idle();
    const third = await ex.reconcile({ balances: true });

    expect(first).toMatchObject({ fillsApplied: 4, tradesAdopted: 1, ordersClosed: 1, ordersRejected: 1, ordersAdopted: 1, fillsMissing: [] });
    expect(ex.order(gone.clientOrderId)).toMatchObject({ status: 'cancelled', filledLots: 200 });
    expect(ex.order(stillOpen.clientOrderId)).toMatchObject({ status: 'partiallyFilled', filledLots: 100 });
    expect(ex.order(neverSent.clientOrderId)).toMatchObject({ status: 'rejected', rejectCode: 'VENUE_UNKNOWN_ORDER' });
    expect(ex.order('someoneElse')).toMatchObject({ status: 'partiallyFilled', filledLots: 50, adopted: true });
    expect(ex.order('venue-v-manual')).toMatchObject({ status: 'filled', filledLots: 70, adopted: true });
    expect(eventsFirst.sort()).toEqual([
      'exec.orderAccepted', // adoption of someoneElse
      'exec.orderCancelled', 'exec.orderFilled', // venue-v-manual: one fill completes the adopted record
      'exec.orderPartiallyFilled', 'exec.orderPartiallyFilled', 'exec.orderPartiallyFilled', 'exec.orderRejected',
    ].sort());
    expect(w.store.position('paper', 'BTC/USDT')?.netLots).toBe(200 + 100 + 50 - 70);
    expect(w.store.lastTradeId('paper', 'BTC/USDT')).toBe('14');
    expect(w.codes()).toEqual(expect.arrayContaining(['ADOPTED_ORDER', 'ADOPTED_TRADE', 'VENUE_UNKNOWN_ORDER']));
    for (const r of [second, third]) {
      expect(r).toMatchObject({ fillsApplied: 0, tradesAdopted: 0, ordersClosed: 0, ordersRejected: 0, ordersAdopted: 0, ordersAccepted: 0 });
    }
    expect(w.execTypes()).toHaveLength(eventsFirst.length);
    expect(w.dump()).toBe(afterFirst);
  });

  it('never invents a fill: a position the trade history does not explain is reported, not flattened', async () => {
    const w = world();
    // Before the restart: 300 of 500 lots filled and booked.
    const o = accepted('half');
    const f: Fill = { ...trade(21, `v-${o.clientOrderId}`, 300), clientOrderId: o.clientOrderId };
    const booked = { ...o, status: 'partiallyFilled' as const, filledLots: 300 as Lots, filledQuote: notional(BTC, PX, 300 as Lots), tradeIds: ['21'] };
    await w.store.commit({ order: booked, fill: f, position: positionAfterFill(emptyPosition('paper', 'BTC/USDT', T0), f, notional(BTC, PX, 300 as Lots)) });
    // The venue says the order filled completely, but its trade history (past our last id) shows nothing more,
    // and the account holds no BTC at all.
    w.venue.orders = [vo(o.clientOrderId, { status: 'filled', filledLots: 500 as Lots })];
    w.venue.trades = [trade(21, `v-${o.clientOrderId}`, 300)];
    w.venue.balances = [{ asset: 'USDT', free: 0n as Money, locked: 0n as Money }];
    const fillsBefore = w.store.fillsOf('paper', 'BTC/USDT').length;

    const ex = w.make();
    const report = await ex.start();
    await ex.idle();

    expect(w.of('exec.orderFilled')).toEqual([]);
    expect(w.of('exec.orderPartiallyFilled')).toEqual([]);
    expect(w.store.fillsOf('paper', 'BTC/USDT')).toHaveLength(fillsBefore);
    expect(w.store.position('paper', 'BTC/USDT')?.netLots).toBe(300);
    expect(ex.order(o.clientOrderId)).toMatchObject({ status: 'filled', filledLots: 300 });
    expect(report.fillsMissing).toEqual([o.clientOrderId]);
    expect(report.positionMismatches).toEqual([{ symbol: 'BTC/USDT', asset: 'BTC', booked: 3_000_000n, venue: 0n }]);
    expect(w.codes()).toEqual(expect.arrayContaining(['FILLS_MISSING', 'POSITION_MISMATCH']));
    const published = w.of('exec.reconciled').at(-1)!;
    expect(published.positionMismatches).toEqual(['BTC/USDT']);
    // Exact decimals of the base asset, which survive the JSON the dashboard sends it as.
    expect(published.positionQuantities).toEqual([{ symbol: 'BTC/USDT', asset: 'BTC', booked: '0.003', venue: '0' }]);
    expect(JSON.parse(JSON.stringify(published))).toEqual(published);
  });

  it('loads only unfinished orders, and books a late trade naming a finished order\'s venue id to that order', async () => {
    const w = world();
    // A store written before the order indexes existed: orders only, put straight into exec.orders.
    const done = { ...accepted('done'), status: 'cancelled' as const, reason: 'stale' };
    const open = accepted('still');
    const raw = w.lmdb.db<string, OrderRecord>('exec.orders');
    for (const o of [done, open]) await raw.put(o.clientOrderId, o);
    w.venue.orders = [vo(open.clientOrderId)];
    // Binance's trade history carries no client id: the trade names the venue's order id only.
    w.venue.trades = [trade(31, `v-${done.clientOrderId}`, 100)];

    const ex = w.make();
    const report = await ex.start();
    await ex.idle();
    const memory = ex.memory;
    ex.stop();
    const again = await w.store.ensureIndexed();

    expect(memory).toEqual({ orders: 1, venueIds: 1, cancelling: 0 });
    expect(report).toMatchObject({ fillsApplied: 1, tradesAdopted: 0 });
    expect(ex.order(done.clientOrderId)).toMatchObject({ status: 'cancelled', filledLots: 100, tradeIds: ['31'] });
    expect(ex.order(`venue-v-${done.clientOrderId}`)).toBeUndefined();
    expect(w.codes()).toContain('LATE_FILL');
    expect(w.codes()).not.toContain('ADOPTED_TRADE');
    expect(w.records.some((r) => r['orders'] === 2 && String(r['msg']).startsWith('order indexes built'))).toBe(true);
    expect(again).toBe(0);
  });

  it('refuses approvals while the start-up reconciliation has not finished', async () => {
    const w = world();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const orig = w.venue.fetchOpenOrders.bind(w.venue);
    w.venue.fetchOpenOrders = async () => {
      await gate;
      return orig();
    };
    const ex = w.make();
    const started = ex.start();
    w.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('early', PX), ts: T0 });
    // The rejection follows an LMDB commit on another thread: wait for the event itself (bounded), not a fixed count of
    // turns, or a loaded machine lets the gate open first and the test would race the reconciliation.
    for (let i = 0; i < 1_000_000 && w.of('exec.orderRejected').length === 0; i++) await new Promise((r) => setImmediate(r));
    const stateWhileWaiting = ex.state;
    release();
    await started;
    expect(w.of('exec.orderRejected').map((m) => m.code)).toEqual(['EXECUTOR_NOT_READY']);
    expect([stateWhileWaiting, ex.state]).toEqual(['reconciling', 'live']);
  });
});

describe('reconciliation, one branch at a time', () => {
  it.each([
    ['cancelled', 'exec.orderCancelled'],
    ['expired', 'exec.orderExpired'],
  ] as const)('an order the venue closed as %s ends so, published as %s', async (venueStatus, event) => {
    const w = world();
    const o = accepted('closed');
    await w.store.commit({ order: o });
    w.venue.orders = [vo(o.clientOrderId, { status: venueStatus })];
    const ex = w.make();
    const report = await ex.start();
    await ex.idle();
    expect(report).toMatchObject({ ordersClosed: 1, fillsMissing: [] });
    expect(ex.order(o.clientOrderId)?.status).toBe(venueStatus);
    expect(w.execTypes()).toEqual([event]);
  });

  it.each([
    ['submitted', 'rejected', 'VENUE_UNKNOWN_ORDER', ['exec.orderRejected']],
    ['accepted', 'accepted', 'VENUE_LOST_ORDER', []],
  ] as const)('an order %s that the venue does not know ends %s (%s)', async (status, after, code, events) => {
    const w = world();
    const o: OrderRecord = status === 'accepted' ? accepted('unknown') : { ...newOrder(limitIntent('unknown', PX), 'paper', T0 - 60_000), status };
    await w.store.commit({ order: o });
    const ex = w.make();
    const report = await ex.start();
    await ex.idle();
    expect(ex.order(o.clientOrderId)?.status).toBe(after);
    expect(report.ordersRejected).toBe(after === 'rejected' ? 1 : 0);
    expect(w.execTypes()).toEqual(events);
    expect(w.codes()).toContain(code);
    expect(w.codes()).not.toContain(code === 'VENUE_LOST_ORDER' ? 'VENUE_UNKNOWN_ORDER' : 'VENUE_LOST_ORDER');
    expect(ex.counters.illegalTransitions).toBe(0);
  });

  it('a run for some symbols leaves the orders of the others alone, so none is closed without its trades read', async () => {
    const w = world();
    w.venue.symbols = ['BTC/USDT', 'ETH/USDT'];
    const o = accepted('btc');
    await w.store.commit({ order: o });
    w.venue.orders = [vo(o.clientOrderId)];
    const ex = w.make();
    await ex.start();
    // Filled at the venue since; the poll of ETH/USDT comes first.
    w.venue.orders = [vo(o.clientOrderId, { status: 'filled', filledLots: 500 as Lots })];
    w.venue.trades = [trade(51, `v-${o.clientOrderId}`, 500)];
    const eth = await ex.reconcile({ balances: false, symbols: ['ETH/USDT'] });
    const statusAfterEth = ex.order(o.clientOrderId)?.status;
    const btc = await ex.reconcile({ balances: false, symbols: ['BTC/USDT'] });
    await ex.idle();
    expect(eth).toMatchObject({ ordersClosed: 0, fillsApplied: 0, fillsMissing: [] });
    expect(statusAfterEth).toBe('accepted');
    expect(btc).toMatchObject({ fillsApplied: 1, fillsMissing: [] });
    expect(ex.order(o.clientOrderId)).toMatchObject({ status: 'filled', filledLots: 500, tradeIds: ['51'] });
    expect(w.codes()).not.toContain('FILLS_MISSING');
  });

  it('does not close an order on a symbol whose trades were deferred behind a submission; the next run books and closes it', async () => {
    const w = world();
    const b = accepted('b');
    await w.store.commit({ order: b });
    w.venue.orders = [vo(b.clientOrderId)];
    const ex = w.make();
    await ex.start();
    // An order on the same symbol is being submitted (its answer, hence its venue id, not back yet)...
    let answer!: () => void;
    w.venue.submitGate = new Promise<void>((r) => (answer = r));
    w.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('a', PX), ts: T0 });
    for (let i = 0; i < 1_000_000 && w.venue.submits === 0; i++) await new Promise((r) => setImmediate(r));
    const a = clientOrderIdFor('a');
    // ...and filled: its trade comes first in the history, before the one that fills b.
    w.venue.orders = [vo(a, { lots: 100 as Lots, filledLots: 100 as Lots, status: 'filled' }), vo(b.clientOrderId, { status: 'filled', filledLots: 500 as Lots })];
    w.venue.trades = [trade(41, `v-${a}`, 100), trade(42, `v-${b.clientOrderId}`, 500)];
    const during = await ex.reconcile({ balances: false });
    const bDuring = ex.order(b.clientOrderId)?.status;
    answer();
    await ex.idle();
    const after = await ex.reconcile({ balances: false });
    await ex.idle();
    expect(during).toMatchObject({ tradesDeferred: ['BTC/USDT'], fillsApplied: 0, ordersClosed: 0, fillsMissing: [] });
    expect(bDuring).toBe('accepted');
    expect(after).toMatchObject({ tradesDeferred: [], fillsApplied: 2, fillsMissing: [] });
    expect(ex.order(a)).toMatchObject({ status: 'filled', filledLots: 100, tradeIds: ['41'] });
    expect(ex.order(b.clientOrderId)).toMatchObject({ status: 'filled', filledLots: 500, tradeIds: ['42'] });
    expect(w.codes()).not.toContain('FILLS_MISSING');
  });

  it('reads the next trade page after the highest trade id read, also when the venue answers a page newest first', async () => {
    const w = world();
    const o = accepted('big');
    await w.store.commit({ order: o });
    w.venue.orders = [vo(o.clientOrderId, { status: 'filled', filledLots: 500 as Lots })];
    w.venue.trades = [61, 62, 63, 64, 65].map((id) => trade(id, `v-${o.clientOrderId}`, 100));
    w.venue.page = { size: 2, newestFirst: true };
    const ex = w.make();
    const report = await ex.start();
    await ex.idle();
    expect(w.venue.tradeCursors).toEqual([undefined, '62', '64', '65']);
    expect(report).toMatchObject({ fillsApplied: 5, fillsMissing: [] });
    expect(ex.order(o.clientOrderId)).toMatchObject({ status: 'filled', filledLots: 500 });
    expect(w.store.lastTradeId('paper', 'BTC/USDT')).toBe('65');
  });
});
