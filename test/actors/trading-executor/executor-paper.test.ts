// The TradingExecutor end to end on the bus: the paper venue matching against the real BTC/USDT book of
// data/recordings/spot_btcusdt_20240808, a SimulatedClock, and the exec store in a temporary LMDB environment.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { notional } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';
import type { Lots } from '../../../engine/types/price.ts';
import { PaperVenue } from '../../../engine/venues/paper/paper-venue.ts';
import { ReplayFeed } from '../../engine/venues/paper/replay-feed.ts';
import { intent, limitIntent, recordingBus, tempStore } from './helpers.ts';

const FILE = 'data/recordings/spot_btcusdt_20240808.jsonl.gz';
const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

function world() {
  const clock = new SimulatedClock(0);
  const feed = new ReplayFeed(FILE, 'BTC/USDT', clock);
  clock.set(feed.startMs);
  const venue = new PaperVenue({
    clock, instruments: [feed.inst], books: { 'BTC/USDT': feed.sync.book }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 0,
    balances: { USDT: money('10000') },
  });
  feed.venue = venue;
  feed.primeUntilLive();
  feed.advanceTo(clock.now() + 5_000);
  const s = tempStore();
  stores.push(s);
  const rec = recordingBus();
  const make = () => new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [feed.inst] });
  return { clock, feed, venue, store: s.store, ...rec, make, inst: feed.inst };
}

const approve = (w: ReturnType<typeof world>, i: ReturnType<typeof intent>) => w.bus.publish({ type: 'risk.orderApproved', intent: i, ts: w.clock.now() });

describe('TradingExecutor with the paper venue', () => {
  it('turns an approval into submitted, accepted, filled, persisted before each event is published', async () => {
    const w = world();
    const ex = w.make();
    await ex.start();
    const cid = clientOrderIdFor('i-market');
    const persistedAtPublish: unknown[] = [];
    w.bus.subscribePrefix('exec.order', (m) => persistedAtPublish.push(w.store.order(cid)?.status));
    w.bus.subscribe('exec.orderFilled', (m) => persistedAtPublish.push(w.store.hasFill('paper', 'BTC/USDT', m.fill.tradeId)));
    const ask = w.feed.sync.book.bestAsk()!;

    approve(w, intent('i-market'));
    await ex.idle();
    const filled = w.of('exec.orderFilled')[0]!;

    expect(w.execTypes()).toEqual(['exec.orderSubmitted', 'exec.orderAccepted', 'exec.orderFilled']);
    expect(persistedAtPublish).toEqual(['submitted', 'accepted', 'filled', true]);
    expect(filled.fill).toMatchObject({ clientOrderId: cid, price: ask, lots: 100, liquidity: 'taker', feeAsset: 'BTC', fee: 1_000n });
    expect(w.store.order(cid)).toMatchObject({ status: 'filled', filledLots: 100, filledQuote: notional(w.inst, ask, 100 as Lots) });
    expect(w.store.position('paper', 'BTC/USDT')).toMatchObject({ netLots: 100, boughtLots: 100, fees: { BTC: 1_000n } });
    expect(w.store.lastTradeId('paper', 'BTC/USDT')).toBe(filled.fill.tradeId);
  });

  it('sends one order for an approval seen twice (idempotent client order id)', async () => {
    const w = world();
    const ex = w.make();
    await ex.start();
    const i = limitIntent('i-dup', w.feed.sync.book.bestBid()! - 5_000);
    approve(w, i);
    approve(w, i);
    await ex.idle();
    expect((await w.venue.fetchOpenOrders()).map((o) => o.clientOrderId)).toEqual([clientOrderIdFor('i-dup')]);
    expect(w.of('exec.orderSubmitted')).toHaveLength(1);
  });

  it('keeps only unfinished orders in memory; finished ones read back from the store, and stay idempotent', async () => {
    const w = world();
    const ex = w.make();
    await ex.start();
    const bid = w.feed.sync.book.bestBid()!;
    for (let k = 0; k < 6; k++) approve(w, intent(`mkt-${k}`));
    approve(w, limitIntent('far', bid - 5_000));
    approve(w, limitIntent('gone', bid - 6_000));
    await ex.idle();
    w.bus.publish({ type: 'exec.cancelOrder', clientOrderId: clientOrderIdFor('gone'), reason: 'test' });
    await ex.idle();
    const held = ex.memory;
    const submitted = w.of('exec.orderSubmitted').length;
    // The same approvals again, after their orders finished and left memory: nothing is sent.
    approve(w, intent('mkt-0'));
    approve(w, limitIntent('gone', bid - 6_000));
    await ex.idle();

    expect(w.of('exec.orderFilled')).toHaveLength(6);
    expect(held).toEqual({ orders: 1, venueIds: 1, cancelling: 0 });
    expect(ex.openOrders().map((o) => o.clientOrderId)).toEqual([clientOrderIdFor('far')]);
    expect(ex.order(clientOrderIdFor('mkt-3'))).toMatchObject({ status: 'filled', filledLots: 100 });
    expect(ex.order(clientOrderIdFor('gone'))).toMatchObject({ status: 'cancelled', reason: 'test' });
    expect(ex.allOrders()).toHaveLength(8);
    expect(w.of('exec.orderSubmitted')).toHaveLength(submitted);
    expect(submitted).toBe(8);
  });

  it('cancels every open order when risk halts trading', async () => {
    const w = world();
    const ex = w.make();
    await ex.start();
    const bid = w.feed.sync.book.bestBid()!;
    approve(w, limitIntent('far-1', bid - 5_000));
    approve(w, limitIntent('far-2', bid - 6_000));
    await ex.idle();
    const openBefore = (await w.venue.fetchOpenOrders()).length;

    w.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'drawdown', ts: w.clock.now() });
    await ex.idle();

    expect(openBefore).toBe(2);
    expect(await w.venue.fetchOpenOrders()).toEqual([]);
    expect(w.of('exec.orderCancelled').map((m) => m.reason)).toEqual(['trading halted: drawdown', 'trading halted: drawdown']);
    expect(ex.allOrders().map((o) => o.status)).toEqual(['cancelled', 'cancelled']);
  });

  it('fills a resting limit order from the replayed market and books partial fills to the position', async () => {
    const w = world();
    const ex = w.make();
    await ex.start();
    approve(w, limitIntent('rest', w.feed.sync.book.bestBid()!, { lots: 2_000 as Lots }));
    await ex.idle();
    for (let i = 0; i < 120 && ex.order(clientOrderIdFor('rest'))?.status !== 'filled'; i++) {
      w.feed.advanceTo(w.clock.now() + 1_000);
      await ex.idle();
    }
    const o = ex.order(clientOrderIdFor('rest'))!;
    const fills = [...w.of('exec.orderPartiallyFilled').map((m) => m.fill), ...w.of('exec.orderFilled').map((m) => m.fill)];
    expect(o.status).toBe('filled');
    expect(fills.reduce((a, f) => a + f.lots, 0)).toBe(2_000);
    expect(fills.every((f) => f.liquidity === 'maker')).toBe(true);
    expect(w.store.position('paper', 'BTC/USDT')?.netLots).toBe(2_000);
  });

  it('after a restart, books the fills made while it was down, once, and a second reconciliation changes nothing', async () => {
    const w = world();
    const ex1 = w.make();
    await ex1.start();
    approve(w, limitIntent('overnight', w.feed.sync.book.bestBid()!));
    await ex1.idle();
    ex1.stop();
    // The market trades through the resting order while no executor listens.
    for (let i = 0; i < 120 && (await w.venue.fetchOpenOrders()).length > 0; i++) w.feed.advanceTo(w.clock.now() + 1_000);
    const before = w.seen.length;

    const ex2 = w.make();
    const first = await ex2.start();
    const afterFirst = w.seen.slice(before).filter((m) => m.type.startsWith('exec.order')).map((m) => m.type);
    const snapshot = JSON.stringify([w.store.allOrders(), w.store.fillsOf('paper', 'BTC/USDT'), w.store.allPositions('paper')], (_, v) => (typeof v === 'bigint' ? String(v) : v));
    const second = await ex2.reconcile({ balances: true });
    await ex2.idle();
    const afterSecond = w.seen.slice(before).filter((m) => m.type.startsWith('exec.order')).length;
    const snapshot2 = JSON.stringify([w.store.allOrders(), w.store.fillsOf('paper', 'BTC/USDT'), w.store.allPositions('paper')], (_, v) => (typeof v === 'bigint' ? String(v) : v));

    expect(await w.venue.fetchOpenOrders()).toEqual([]);
    expect(first.fillsApplied).toBe(1);
    expect(afterFirst).toEqual(['exec.orderFilled']);
    expect(ex2.order(clientOrderIdFor('overnight'))?.status).toBe('filled');
    expect(second).toMatchObject({ fillsApplied: 0, ordersClosed: 0, ordersAdopted: 0, ordersAccepted: 0, positionMismatches: [] });
    expect(afterSecond).toBe(afterFirst.length);
    expect(snapshot2).toBe(snapshot);
  });
});

describe('tradingExecutorActor', () => {
  it('starts an executor as an xstate child and stops it on cleanup', async () => {
    const { createActor } = await import('xstate');
    const { tradingExecutorActor } = await import('../../../actors/trading-executor/index.ts');
    const w = world();
    let ex: TradingExecutor | undefined;
    const actor = createActor(tradingExecutorActor((e) => (ex = e)), {
      input: { bus: w.bus, clock: w.clock, venue: w.venue, store: w.store, instruments: [w.inst] },
    });
    actor.start();
    for (let i = 0; i < 1_000_000 && ex?.state !== 'live'; i++) await new Promise((r) => setImmediate(r));
    const live = ex?.state;
    actor.stop();
    expect([live, ex?.state]).toEqual(['live', 'stopped']);
  });
});
