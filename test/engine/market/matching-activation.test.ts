// What happens when a latency-delayed order activates into a book that changed since submission (found by a
// review of the paper venue): funds caps on market buys, post-only orders, books being re-synced, and
// queue accounting with several sim orders at one price. Real Binance spot increments (BTC/USDT, ETH/USDT).
import { describe, expect, it } from 'vitest';
import { MatchingEngine, liveBookView, type MatchEvent, type MatchFill, type NewOrder } from '../../../engine/market/matching.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, notional, type Instrument } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const T = (n: number) => n as Ticks;
const L = (n: number) => n as Lots;

function setup(opts: { inst?: Instrument; latencyMs?: number; funds?: bigint; feeIn?: 'received' | 'quote' } = {}) {
  const book = new OrderBook('X');
  const state = { live: true };
  const clock = new SimulatedClock(1_000);
  const eng = new MatchingEngine({
    instrument: opts.inst ?? BTC, book: liveBookView(book, () => state.live), clock, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n,
    latencyMs: opts.latencyMs ?? 0, feeIn: opts.feeIn ?? 'received',
    ...(opts.funds !== undefined ? { marketBuyFunds: () => opts.funds! } : {}),
  });
  const events: MatchEvent[] = [];
  eng.on((e) => events.push(e));
  const fills = (orderId?: number): MatchFill[] =>
    events.flatMap((e) => (e.kind === 'fill' && (orderId === undefined || e.fill.orderId === orderId) ? [e.fill] : []));
  const submit = (o: Partial<NewOrder> & Pick<NewOrder, 'side' | 'lots'>) =>
    eng.submit({ type: o.price === undefined ? 'market' : 'limit', timeInForce: 'GTC', ...o });
  return { book, state, clock, eng, events, fills, submit };
}

describe('MatchingEngine market buys capped by funds', () => {
  it('fills a latency-delayed market buy only up to the funds it can pay and expires the rest', () => {
    // 1000 USDT; at submission the ask showed 0.001 BTC, by activation 5 BTC at 1000.00 and 5 BTC at 1000.01.
    const s = setup({ latencyMs: 50, funds: money('1000') });
    s.book.set('ask', T(100_000), L(100));
    const o = s.submit({ side: 'buy', lots: L(500_000) });
    s.book.set('ask', T(100_000), L(500_000));
    s.book.set('ask', T(100_001), L(500_000));
    s.clock.advance(60);
    const spent = s.fills(o.id).reduce((a, f) => a + (f.quote as bigint), 0n);

    expect(s.fills(o.id).map((f) => [f.price, f.lots, f.liquidity])).toEqual([[100_000, 100_000, 'taker']]); // 1 BTC = 1000 USDT
    expect(spent).toBe(money('1000'));
    expect(o.status).toBe('expired');
  });

  it('stops at the level where the funds run out, taking the lots they still pay for there', () => {
    // ETH: 1000.00 for 0.1 ETH (100 USDT), then 1000.50; 150 USDT buys 0.1 ETH + 0.0499 ETH at 1000.50 (49.92495 USDT).
    const s = setup({ inst: ETH, funds: money('150') });
    s.book.set('ask', T(100_000), L(1_000));
    s.book.set('ask', T(100_050), L(10_000));
    const o = s.submit({ side: 'buy', lots: L(5_000) });
    const spent = s.fills(o.id).reduce((a, f) => a + (f.quote as bigint), 0n);

    expect(s.fills(o.id).map((f) => [f.price, f.lots])).toEqual([[100_000, 1_000], [100_050, 499]]);
    expect(spent).toBeLessThanOrEqual(money('150'));
    expect(money('150') - spent).toBeLessThan(notional(ETH, T(100_050), L(1)));
    expect(o.status).toBe('expired');
  });

  it('counts a quote-currency fee against the funds', () => {
    const s = setup({ funds: money('1001'), feeIn: 'quote' }); // 1 BTC at 1000.00 costs 1000 + 1 fee
    s.book.set('ask', T(100_000), L(500_000));
    const o = s.submit({ side: 'buy', lots: L(200_000) });
    const f = s.fills(o.id);

    expect(f.map((x) => x.lots)).toEqual([100_000]);
    expect((f[0]!.quote as bigint) + (f[0]!.fee as bigint)).toBe(money('1001'));
  });

  it('leaves a market buy that the funds cover unchanged', () => {
    const s = setup({ funds: money('1000000') });
    s.book.set('ask', T(100_000), L(100));
    s.book.set('ask', T(100_001), L(100));
    const o = s.submit({ side: 'buy', lots: L(150) });
    expect(s.fills(o.id).map((f) => [f.price, f.lots])).toEqual([[100_000, 100], [100_001, 50]]);
    expect(o.status).toBe('filled');
  });
});

describe('MatchingEngine post-only orders', () => {
  it('expires a post-only buy that the ask crossed during its latency instead of taking', () => {
    const s = setup({ latencyMs: 50 });
    s.book.set('bid', T(99_900), L(1_000));
    s.book.set('ask', T(100_000), L(1_000));
    const o = s.submit({ side: 'buy', lots: L(1_000), price: T(99_999), postOnly: true });
    s.book.set('ask', T(100_000), L(0));
    s.book.set('ask', T(99_950), L(5_000));
    s.clock.advance(60);
    expect(s.fills()).toEqual([]);
    expect(o.status).toBe('expired');
  });

  it('rests a post-only order that does not cross when it activates', () => {
    const s = setup({ latencyMs: 50 });
    s.book.set('bid', T(99_900), L(1_000));
    s.book.set('ask', T(100_000), L(1_000));
    const o = s.submit({ side: 'buy', lots: L(1_000), price: T(99_999), postOnly: true });
    s.clock.advance(60);
    expect(o.status).toBe('open');
    expect(o.queueAhead).toBe(0);
  });
});

describe('MatchingEngine while the book is re-synced', () => {
  it('keeps queue positions through an empty, not-live book and caps them again once it is live', () => {
    const s = setup();
    s.book.set('bid', T(99_900), L(50_000));
    s.book.set('ask', T(100_000), L(50_000));
    const o = s.submit({ side: 'buy', lots: L(100), price: T(99_900) });
    s.state.live = false;
    s.book.clear();
    s.eng.onSnapshot();
    const duringResync = o.queueAhead;
    s.book.set('bid', T(99_900), L(30_000));
    s.book.set('ask', T(100_000), L(50_000));
    s.state.live = true;
    s.eng.onSnapshot();
    const afterResync = o.queueAhead;
    s.eng.onTrade(T(99_900), L(100), true);

    expect(duringResync).toBe(50_000);
    expect(afterResync).toBe(30_000);
    expect(s.fills()).toEqual([]);
  });

  it('holds an order that activates while the book is not live and then takes at the book price', () => {
    const s = setup();
    s.state.live = false;
    const o = s.submit({ side: 'buy', lots: L(1_000), price: T(101_000) });
    const held = o.status;
    s.book.set('bid', T(99_900), L(5_000));
    s.book.set('ask', T(100_000), L(5_000));
    s.state.live = true;
    s.eng.onSnapshot();

    expect(held).toBe('pending');
    expect(s.fills(o.id).map((f) => [f.price, f.lots, f.liquidity])).toEqual([[100_000, 1_000, 'taker']]);
    expect(o.status).toBe('filled');
  });

  it('joins the back of the live queue when a held order activates behind the book', () => {
    const s = setup();
    s.state.live = false;
    const o = s.submit({ side: 'buy', lots: L(100), price: T(99_900) });
    s.book.set('bid', T(99_900), L(5_000));
    s.book.set('ask', T(100_000), L(5_000));
    s.state.live = true;
    s.eng.onSnapshot();
    expect(o.status).toBe('open');
    expect(o.queueAhead).toBe(5_000);
  });

  it('does not activate a held order that was cancelled before the book came back', () => {
    const s = setup();
    s.state.live = false;
    const o = s.submit({ side: 'buy', lots: L(100), price: T(101_000) });
    s.eng.cancel(o.id);
    s.book.set('ask', T(100_000), L(5_000));
    s.state.live = true;
    s.eng.onSnapshot();
    expect(o.status).toBe('cancelled');
    expect(s.fills()).toEqual([]);
  });
});

describe('MatchingEngine queue accounting with several sim orders at one price', () => {
  it('keeps the market lots between two sim orders ahead of the later one when a print fills the earlier one', () => {
    const s = setup();
    s.book.set('bid', T(99_900), L(500));
    s.book.set('ask', T(100_000), L(500));
    const a = s.submit({ side: 'buy', lots: L(500), price: T(99_900) });
    s.book.set('bid', T(99_900), L(1_000));
    s.eng.onDepth([[T(99_900), L(1_000)]], []); // 500 market lots join behind A
    const b = s.submit({ side: 'buy', lots: L(500), price: T(99_900) });
    // 1200 sold: 500 ahead of A, A's 500, 200 of the 500 between A and B.
    s.eng.onTrade(T(99_900), L(1_200), true);
    const afterFirst = b.queueAhead;
    s.eng.onTrade(T(99_900), L(100), true);
    const afterSecond = b.queueAhead;
    s.eng.onTrade(T(99_900), L(250), true);

    expect(a.status).toBe('filled');
    expect(afterFirst).toBe(300);
    expect(afterSecond).toBe(200);
    expect(s.fills(b.id).map((f) => f.lots)).toEqual([50]);
  });

  it('moves the later order only by the market lots a print reached when it stops inside the earlier order', () => {
    const s = setup();
    s.book.set('bid', T(99_900), L(500));
    const a = s.submit({ side: 'buy', lots: L(500), price: T(99_900) });
    s.book.set('bid', T(99_900), L(1_000));
    s.eng.onDepth([[T(99_900), L(1_000)]], []);
    const b = s.submit({ side: 'buy', lots: L(500), price: T(99_900) });
    s.eng.onTrade(T(99_900), L(700), true); // 500 ahead of A, then 200 of A

    expect(a.filledLots).toBe(200);
    expect(b.queueAhead).toBe(500);
  });
});
