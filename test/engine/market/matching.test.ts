import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MatchingEngine, type MatchEvent, type MatchFill, type NewOrder } from '../../../engine/market/matching.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { makeInstrument, type Instrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const UNIT = makeInstrument({ symbol: 'X/USD', venue: 'sim', tickSize: '1', lotSize: '1', minNotional: '0' });
const BTC = makeInstrument({ symbol: 'BTC/USDT', venue: 'sim', tickSize: '0.01', lotSize: '0.00001', minNotional: '5' });
const T = (n: number) => n as Ticks;
const L = (n: number) => n as Lots;

function setup(opts: { bids?: Array<[number, number]>; asks?: Array<[number, number]>; latencyMs?: number; inst?: Instrument; feeIn?: 'received' | 'quote' } = {}) {
  const book = new OrderBook('X');
  for (const [p, q] of opts.bids ?? []) book.set('bid', T(p), L(q));
  for (const [p, q] of opts.asks ?? []) book.set('ask', T(p), L(q));
  const clock = new SimulatedClock(1_000);
  const eng = new MatchingEngine({
    instrument: opts.inst ?? UNIT, book, clock, makerFeeRate9: 500_000n, takerFeeRate9: 1_000_000n,
    latencyMs: opts.latencyMs ?? 0, feeIn: opts.feeIn ?? 'quote',
  });
  const events: MatchEvent[] = [];
  eng.on((e) => events.push(e));
  const fills = (orderId?: number): MatchFill[] =>
    events.flatMap((e) => (e.kind === 'fill' && (orderId === undefined || e.fill.orderId === orderId) ? [e.fill] : []));
  const depth = (side: 'bid' | 'ask', p: number, q: number) => {
    book.set(side, T(p), L(q));
    eng.onDepth(side === 'bid' ? [[T(p), L(q)]] : [], side === 'ask' ? [[T(p), L(q)]] : []);
  };
  const submit = (o: Partial<NewOrder> & Pick<NewOrder, 'side' | 'lots'>) =>
    eng.submit({ type: o.price === undefined ? 'market' : 'limit', timeInForce: 'GTC', ...o });
  return { book, clock, eng, events, fills, depth, submit };
}

const pq = (fs: MatchFill[]) => fs.map((f) => [f.price, f.lots]);

describe('MatchingEngine taker orders', () => {
  it('walks the ask levels with a market buy and reports one fill per level', () => {
    const s = setup({ asks: [[100, 5], [101, 5], [102, 5]] });
    const o = s.submit({ side: 'buy', lots: L(12) });
    expect(pq(s.fills(o.id))).toEqual([[100, 5], [101, 5], [102, 2]]);
    expect(o.status).toBe('filled');
    expect(o.filledLots).toBe(12);
    expect(s.fills(o.id).every((f) => f.liquidity === 'taker')).toBe(true);
    expect(new Set(s.fills().map((f) => f.tradeId)).size).toBe(3);
  });

  it('does not consume the same displayed lots twice: a level that grows offers only its new lots', () => {
    const s = setup({ asks: [[100, 5], [101, 5]] });
    s.submit({ side: 'buy', lots: L(4) });
    const second = s.submit({ side: 'buy', lots: L(3) });
    expect(pq(s.fills(second.id))).toEqual([[100, 1], [101, 2]]);
    s.depth('ask', 100, 6); // one lot joined behind the five taken
    const third = s.submit({ side: 'buy', lots: L(2) });
    expect(pq(s.fills(third.id))).toEqual([[100, 1], [101, 1]]);
  });

  it('fills a marketable GTC limit partially and rests the remainder at its price', () => {
    const s = setup({ bids: [[99, 7]], asks: [[100, 5], [101, 5], [102, 5]] });
    const o = s.submit({ side: 'buy', lots: L(12), price: T(101) });
    expect(pq(s.fills(o.id))).toEqual([[100, 5], [101, 5]]);
    expect(o.status).toBe('partiallyFilled');
    expect(o.queueAhead).toBe(0);
    expect(s.eng.openOrders().map((x) => x.id)).toEqual([o.id]);
  });

  it('expires the unfilled remainder of an IOC order', () => {
    const s = setup({ asks: [[100, 5], [101, 5]] });
    const o = s.submit({ side: 'buy', lots: L(8), price: T(100), timeInForce: 'IOC' });
    expect(pq(s.fills(o.id))).toEqual([[100, 5]]);
    expect(o.status).toBe('expired');
    expect(s.eng.openOrders()).toEqual([]);
  });

  it.each([
    [11, 'expired', 0],
    [10, 'filled', 10],
  ])('fills FOK all or nothing: %i lots within the limit -> %s', (lots, status, filled) => {
    const s = setup({ asks: [[100, 5], [101, 5], [102, 5]] });
    const o = s.submit({ side: 'buy', lots: L(lots), price: T(101), timeInForce: 'FOK' });
    expect(o.status).toBe(status);
    expect(o.filledLots).toBe(filled);
    expect(s.fills(o.id).reduce((a, f) => a + f.lots, 0)).toBe(filled);
  });

  it('expires a market order that exhausts the book', () => {
    const s = setup({ bids: [[99, 2], [98, 1]] });
    const o = s.submit({ side: 'sell', lots: L(5) });
    expect(pq(s.fills(o.id))).toEqual([[99, 2], [98, 1]]);
    expect(o.status).toBe('expired');
  });
});

describe('MatchingEngine resting orders', () => {
  it('advances the queue position with trades at its price and fills after the queue ahead is gone', () => {
    const s = setup({ bids: [[99, 10]], asks: [[100, 5]] });
    const o = s.submit({ side: 'buy', lots: L(3), price: T(99) });
    expect(o.queueAhead).toBe(10);
    s.eng.onTrade(T(99), L(4), true);
    const ahead1 = o.queueAhead;
    s.eng.onTrade(T(99), L(7), true);
    const after2 = pq(s.fills(o.id));
    s.eng.onTrade(T(99), L(5), true);
    expect(ahead1).toBe(6);
    expect(after2).toEqual([[99, 1]]);
    expect(pq(s.fills(o.id))).toEqual([[99, 1], [99, 2]]);
    expect(o.status).toBe('filled');
    expect(s.fills(o.id).every((f) => f.liquidity === 'maker')).toBe(true);
  });

  it('ignores trades of the other aggressor side at its price', () => {
    const s = setup({ bids: [[99, 10]], asks: [[100, 5]] });
    const o = s.submit({ side: 'buy', lots: L(3), price: T(99) });
    s.eng.onTrade(T(99), L(4), false);
    expect(o.queueAhead).toBe(10);
  });

  it('takes unexplained size decreases from ahead and behind in proportion, and not trade-explained ones twice', () => {
    const s = setup({ bids: [[99, 10]], asks: [[100, 5]] });
    const o = s.submit({ side: 'buy', lots: L(3), price: T(99) });
    s.depth('bid', 99, 20); // 10 lots join behind
    s.depth('bid', 99, 10); // 10 cancelled, half the queue was ahead
    const afterCancel = o.queueAhead;
    s.eng.onTrade(T(99), L(3), true);
    s.depth('bid', 99, 7); // the 3 lots the trade took, nothing else
    expect(afterCancel).toBe(5);
    expect(o.queueAhead).toBe(2);
    s.depth('bid', 99, 1); // the queue ahead cannot exceed what is displayed
    expect(o.queueAhead).toBe(1);
  });

  it('gives price-time priority between two sim orders at the same price', () => {
    const s = setup({ bids: [[99, 10]], asks: [[100, 5]] });
    const a = s.submit({ side: 'buy', lots: L(3), price: T(99) });
    const b = s.submit({ side: 'buy', lots: L(3), price: T(99) });
    s.eng.onTrade(T(99), L(12), true);
    const afterFirst = [a.filledLots, b.filledLots];
    s.eng.onTrade(T(99), L(3), true);
    expect(afterFirst).toEqual([2, 0]);
    expect([a.filledLots, b.filledLots]).toEqual([3, 2]);
  });

  it('matches an incoming sim taker against resting sim orders in time order', () => {
    const s = setup({ bids: [[98, 10]], asks: [[100, 5]] });
    const a = s.submit({ side: 'buy', lots: L(2), price: T(99), owner: 'A' });
    const b = s.submit({ side: 'buy', lots: L(2), price: T(99), owner: 'B' });
    const c = s.submit({ side: 'sell', lots: L(5), owner: 'C' });
    expect(pq(s.fills(c.id))).toEqual([[99, 2], [99, 2], [98, 1]]);
    expect(s.fills(c.id).map((f) => f.counterOrderId)).toEqual([a.id, b.id, undefined]);
    expect([a.status, b.status]).toEqual(['filled', 'filled']);
    expect(s.fills(a.id)[0]!.tradeId).toBe(s.fills(c.id)[0]!.tradeId);
    expect(s.fills(a.id)[0]!.liquidity).toBe('maker');
  });

  it('fills the whole remainder at its own price when a trade prints through it', () => {
    const s = setup({ bids: [[99, 10]], asks: [[100, 5]] });
    const o = s.submit({ side: 'sell', lots: L(4), price: T(101) });
    s.eng.onTrade(T(102), L(1), false);
    expect(pq(s.fills(o.id))).toEqual([[101, 4]]);
    expect(o.status).toBe('filled');
  });

  it('fills against market liquidity that moves through its price, once', () => {
    const s = setup({ bids: [[98, 10]], asks: [[101, 5]] });
    const o = s.submit({ side: 'buy', lots: L(5), price: T(99) });
    s.depth('ask', 99, 2);
    s.eng.onDepth([], []);
    expect(pq(s.fills(o.id))).toEqual([[99, 2]]);
    expect(o.status).toBe('partiallyFilled');
  });

  it('cancels a resting order and reports it done', () => {
    const s = setup({ bids: [[99, 10]], asks: [[100, 5]] });
    const o = s.submit({ side: 'buy', lots: L(3), price: T(99) });
    expect(s.eng.cancel(o.id)?.status).toBe('cancelled');
    expect(s.eng.cancel(o.id)).toBeUndefined();
    s.eng.onTrade(T(98), L(1), true);
    expect(s.fills(o.id)).toEqual([]);
  });
});

describe('MatchingEngine latency and fees', () => {
  it('activates an order latencyMs after submission, against the book of that moment', () => {
    const s = setup({ asks: [[100, 5]], latencyMs: 50 });
    const o = s.submit({ side: 'buy', lots: L(2) });
    s.depth('ask', 100, 0);
    s.depth('ask', 105, 5);
    s.clock.advance(49);
    const before = o.status;
    s.clock.advance(1);
    expect(before).toBe('pending');
    expect(o.status).toBe('filled');
    expect(o.activeAt).toBe(1_050);
    expect(pq(s.fills(o.id))).toEqual([[105, 2]]);
  });

  it('charges the taker rate on the received asset (Binance without BNB)', () => {
    const s = setup({ inst: BTC, asks: [[6_183_764, 100]], bids: [[6_183_763, 100]], feeIn: 'received' });
    const buy = s.submit({ side: 'buy', lots: L(100) }); // 0.001 BTC at 61837.64
    const sell = s.submit({ side: 'sell', lots: L(100) });
    const [fb] = s.fills(buy.id);
    const [fs] = s.fills(sell.id);
    expect(fb!.quote).toBe(61_837_640_000n); // 61.83764 USDT in 1e-9 units
    expect(fb!.feeAsset).toBe('BTC');
    expect(fb!.fee).toBe(1_000n); // 0.000001 BTC
    expect(fs!.feeAsset).toBe('USDT');
    expect(fs!.fee).toBe(61_837_630n); // 0.1% of 61.83763 USDT
  });

  it('charges the maker rate in quote for a resting fill when feeIn is quote', () => {
    const s = setup({ inst: BTC, bids: [[6_183_763, 100]], asks: [[6_183_764, 100]] });
    const o = s.submit({ side: 'sell', lots: L(200), price: T(6_183_764) });
    s.eng.onTrade(T(6_183_765), L(1), false);
    const [f] = s.fills(o.id);
    expect(f!.liquidity).toBe('maker');
    expect(f!.quote).toBe(123_675_280_000n);
    expect(f!.fee).toBe(61_837_640n); // 0.05% of 123.67528 USDT
  });
});

describe('MatchingEngine invariants', () => {
  it('never fills more than the order size nor at a price worse than the limit', () => {
    const action = fc.oneof(
      fc.record({ k: fc.constant('order' as const), side: fc.constantFrom('buy', 'sell'), lots: fc.integer({ min: 1, max: 30 }),
        price: fc.option(fc.integer({ min: 90, max: 110 }), { nil: undefined }), tif: fc.constantFrom('GTC', 'IOC', 'FOK') }),
      fc.record({ k: fc.constant('trade' as const), price: fc.integer({ min: 90, max: 110 }), lots: fc.integer({ min: 1, max: 20 }), bm: fc.boolean() }),
      fc.record({ k: fc.constant('depth' as const), price: fc.integer({ min: 90, max: 110 }), lots: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ k: fc.constant('cancel' as const), nth: fc.nat() }),
      fc.record({ k: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(fc.property(fc.array(action, { maxLength: 60 }), fc.constantFrom(0, 10), (acts, latencyMs) => {
      const s = setup({ bids: [[99, 5], [98, 5], [97, 5]], asks: [[101, 5], [102, 5], [103, 5]], latencyMs });
      const ids: number[] = [];
      for (const a of acts) {
        if (a.k === 'order') {
          const o = s.submit({ side: a.side as 'buy' | 'sell', lots: L(a.lots), price: a.price === undefined ? undefined : T(a.price), timeInForce: a.tif as 'GTC' });
          ids.push(o.id);
        } else if (a.k === 'trade') s.eng.onTrade(T(a.price), L(a.lots), a.bm);
        else if (a.k === 'depth') {
          // Keep the market book uncrossed, as the sync layer guarantees.
          const side = a.price <= 99 ? 'bid' : a.price >= 101 ? 'ask' : undefined;
          if (side) s.depth(side, a.price, a.lots);
        } else if (a.k === 'cancel' && ids.length > 0) s.eng.cancel(ids[a.nth % ids.length]!);
        else if (a.k === 'time') s.clock.advance(a.ms);
      }
      for (const o of s.eng.allOrders()) {
        const fs = s.fills(o.id);
        const sum = fs.reduce((x, f) => x + f.lots, 0);
        if (sum !== o.filledLots || sum > o.lots) return false;
        if (o.price !== undefined && fs.some((f) => (o.side === 'buy' ? f.price > o.price! : f.price < o.price!))) return false;
        if (o.timeInForce === 'FOK' && sum !== 0 && sum !== o.lots) return false;
      }
      return true;
    }), { numRuns: 300 });
  });
});
