// Takers against a depth book that lags the market (review bt20, finding 1): the depth@100ms book is up to ~100 ms
// old, while a bookTicker newer than it (update id above the book's) and prints timed after its last diff show levels
// already gone. Paper and sim takers filled at those levels, better than the real-time touch, and a stop triggered by a
// print sold above that very print. The engine now clips the book a taker walks (engine/market/touch-overlay.ts).
// Unit grid: 1 tick, 1 lot.
import { describe, expect, it } from 'vitest';
import { liveBookView, MatchingEngine, type MatchEvent, type MatchFill, type NewOrder, type TouchTicker } from '../../../engine/market/matching.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';

const UNIT = makeInstrument({ symbol: 'X/USD', venue: 'sim', tickSize: '1', lotSize: '1', minNotional: '0' });
const T = (n: number) => n as Ticks;
const L = (n: number) => n as Lots;

/** Bids 100/99/98 and asks 101/102/103, 5 lots each; the book at update id 10, its last diff at exchange time 1 000. */
function setup() {
  const book = new OrderBook('X');
  for (const p of [100, 99, 98]) book.set('bid', T(p), L(5));
  for (const p of [101, 102, 103]) book.set('ask', T(p), L(5));
  const state: { u: number; ticker: TouchTicker | undefined } = { u: 10, ticker: undefined };
  const view = liveBookView(book, () => true, { lastUpdateId: () => state.u, touch: () => state.ticker });
  const clock = new SimulatedClock(1_000);
  const eng = new MatchingEngine({ instrument: UNIT, book: view, clock, makerFeeRate9: 0n, takerFeeRate9: 0n, feeIn: 'quote' });
  const events: MatchEvent[] = [];
  eng.on((e) => events.push(e));
  eng.onDepth([], [], 1_000 as TsMs);
  const fills = (id?: number): MatchFill[] => events.flatMap((e) => (e.kind === 'fill' && (id === undefined || e.fill.orderId === id) ? [e.fill] : []));
  const pq = (id?: number) => fills(id).map((f) => [f.price, f.lots]);
  const ticker = (updateId: number, bid: number, bidLots: number, ask: number, askLots: number) => {
    state.ticker = { updateId, bid: T(bid), bidLots: L(bidLots), ask: T(ask), askLots: L(askLots) };
  };
  /** A diff with final update id `u` at exchange time `ts` setting the listed levels. */
  const diff = (u: number, ts: number, bids: Array<[number, number]> = [], asks: Array<[number, number]> = []) => {
    for (const [p, q] of bids) book.set('bid', T(p), L(q));
    for (const [p, q] of asks) book.set('ask', T(p), L(q));
    state.u = u;
    eng.onDepth(bids.map(([p, q]) => [T(p), L(q)] as const), asks.map(([p, q]) => [T(p), L(q)] as const), ts as TsMs);
  };
  const print = (price: number, lots: number, buyerMaker: boolean, ts?: number) => eng.onTrade(T(price), L(lots), buyerMaker, ts as TsMs | undefined);
  const submit = (o: Partial<NewOrder> & Pick<NewOrder, 'side' | 'lots'>) =>
    eng.submit({ type: o.price === undefined ? 'market' : 'limit', timeInForce: 'GTC', ...o });
  return { book, eng, state, ticker, diff, print, submit, pq };
}

describe('MatchingEngine: a bookTicker newer than the depth book clips what a taker reaches', () => {
  it.each([
    ['asks below its ask are gone and its ask holds its size', 'buy', [100, 5, 102, 2], [[102, 2], [103, 5]]],
    ['bids above its bid are gone and its bid holds its size', 'sell', [99, 3, 101, 5], [[99, 3], [98, 5]]],
    ['a touch better than the book is reached at its size, then the book', 'buy', [100, 5, 100, 2], [[100, 2], [101, 5], [102, 3]]],
  ] as const)('%s', (_name, side, [bid, bidLots, ask, askLots], want) => {
    const s = setup();
    s.ticker(11, bid, bidLots, ask, askLots);
    const o = s.submit({ side, lots: L(10) });

    expect(s.pq(o.id)).toEqual(want);
  });

  it('ignores a ticker not newer than the book (update id at or below the last applied diff)', () => {
    const s = setup();
    s.ticker(10, 99, 1, 102, 1);
    const o = s.submit({ side: 'buy', lots: L(7) });

    expect(s.pq(o.id)).toEqual([[101, 5], [102, 2]]);
  });

  it('stops applying once a diff at or past its update id is applied, and not before', () => {
    const s = setup();
    s.ticker(12, 99, 1, 102, 1);
    s.diff(11, 1_050);
    const before = s.eng.previewTake('buy', L(3));
    s.diff(12, 1_100);
    const after = s.eng.previewTake('buy', L(3));

    expect([before.lots, before.quote, after.lots, after.quote]).toEqual([3, 102n * 1_000_000_000n + 2n * 103n * 1_000_000_000n, 3, 303n * 1_000_000_000n]);
  });

  it('remembers lots a taker took at the ticker level against the ticker size; a ticker showing more offers only the new lots', () => {
    const s = setup();
    s.ticker(11, 100, 5, 102, 2);
    const first = s.submit({ side: 'buy', lots: L(2) });
    const second = s.submit({ side: 'buy', lots: L(1) });
    s.ticker(13, 100, 5, 102, 3);
    const third = s.submit({ side: 'buy', lots: L(1) });

    expect([s.pq(first.id), s.pq(second.id), s.pq(third.id)]).toEqual([[[102, 2]], [[103, 1]], [[102, 1]]]);
  });
});

describe('MatchingEngine: prints after the depth book\'s last diff consume the levels they went through', () => {
  it.each([
    ['a seller-aggressor print: no bid above it, its lots off its level', 'sell', 99, true, [[99, 3], [98, 5]]],
    ['a buyer-aggressor print: no ask below it, its lots off its level', 'buy', 102, false, [[102, 3], [103, 5]]],
  ] as const)('%s', (_name, side, price, buyerMaker, want) => {
    const s = setup();
    s.print(price, 2, buyerMaker, 1_010);
    const o = s.submit({ side, lots: L(8) });

    expect(s.pq(o.id)).toEqual(want);
  });

  it('clips by the furthest print and takes the lots of every print at it', () => {
    const s = setup();
    s.print(100, 4, true, 1_010);
    s.print(99, 1, true, 1_020);
    s.print(99, 2, true, 1_030);
    s.print(100, 1, true, 1_040); // the bid came back to 100 after the 99 prints: still clipped at 99 until a diff
    const o = s.submit({ side: 'sell', lots: L(4) });

    expect(s.pq(o.id)).toEqual([[99, 2], [98, 2]]);
  });

  it.each([
    ['at the last diff\'s time (already in the book)', 1_000],
    ['before it', 990],
    ['without a time', undefined],
  ])('does not clip by a print %s', (_name, ts) => {
    const s = setup();
    s.print(99, 2, true, ts);
    const o = s.submit({ side: 'sell', lots: L(6) });

    expect(s.pq(o.id)).toEqual([[100, 5], [99, 1]]);
  });

  it('keeps a print until a diff timed at or after it is applied', () => {
    const s = setup();
    s.print(99, 2, true, 1_060);
    s.diff(11, 1_050);
    const kept = s.eng.previewTake('sell', L(1));
    s.diff(12, 1_060);
    const gone = s.eng.previewTake('sell', L(1));

    expect([kept.quote, gone.quote]).toEqual([99n * 1_000_000_000n, 100n * 1_000_000_000n]);
  });

  it('forgets prints when the book is replaced, and after a snapshot keeps only those after the diff that made it live', () => {
    const s = setup();
    s.print(99, 2, true, 1_060);
    s.print(99, 1, true, 1_200);
    s.eng.onSnapshot(1_100 as TsMs);
    const after = s.submit({ side: 'sell', lots: L(5) });

    expect(s.pq(after.id)).toEqual([[99, 4], [98, 1]]);
  });

  it('takes a print at the ticker\'s price off the ticker\'s size, and the more restrictive of the two wins', () => {
    const s = setup();
    s.ticker(11, 99, 3, 101, 5);
    s.print(99, 1, true, 1_010);
    const atTouch = s.eng.previewTake('sell', L(3));
    s.print(98, 1, true, 1_020);
    const pastTouch = s.eng.previewTake('sell', L(5));

    expect([atTouch.lots, atTouch.quote]).toEqual([3, (2n * 99n + 98n) * 1_000_000_000n]);
    expect([pastTouch.lots, pastTouch.quote]).toEqual([4, 4n * 98n * 1_000_000_000n]);
  });

  it('adds a print to the lots a taker already took at its level', () => {
    const s = setup();
    const first = s.submit({ side: 'sell', lots: L(3) }); // 3 of the 5 at 100
    s.print(100, 1, true, 1_010);
    const second = s.submit({ side: 'sell', lots: L(2) });

    expect([s.pq(first.id), s.pq(second.id)]).toEqual([[[100, 3]], [[100, 1], [99, 1]]]);
  });
});

describe('MatchingEngine: resting orders and the clipped book', () => {
  it('does not fill a resting buy from an ask the newer ticker shows gone when a diff older than the ticker comes', () => {
    const s = setup();
    s.ticker(12, 100, 5, 102, 5);
    const o = s.submit({ side: 'buy', lots: L(2), price: T(101) }); // 101 is gone: it rests
    s.diff(11, 1_050, [], [[101, 6]]);

    expect([o.status, s.pq(o.id)]).toEqual(['open', []]);
  });

  it('still fills a resting order from the book once the diff past the ticker shows the crossing liquidity', () => {
    const s = setup();
    s.ticker(12, 100, 5, 102, 5);
    const o = s.submit({ side: 'buy', lots: L(2), price: T(101) });
    s.diff(12, 1_100, [], [[101, 6]]);

    expect([o.status, s.pq(o.id)]).toEqual(['filled', [[101, 2]]]);
  });
});

// Review s20r4: a print received before the newer ticker is already in it (the ticker's price and size are newer), so
// it must not clip again; a resting order joins behind the ticker's size at its price when the lagging book lacks it.
describe('MatchingEngine: prints the newer ticker already shows, and queues at its price', () => {
  it('does not take a print at the ticker\'s price off a ticker size received after it (A)', () => {
    const s = setup();
    s.print(101, 2, false, 1_010);
    s.ticker(11, 100, 5, 101, 3);
    const o = s.submit({ side: 'buy', lots: L(3) });

    expect(s.pq(o.id)).toEqual([[101, 3]]);
  });

  it('does not clip by a dip print when a ticker received after it shows the bid back (B)', () => {
    const s = setup();
    s.print(99, 1, true, 1_010);
    s.ticker(11, 100, 5, 101, 5);
    const o = s.submit({ side: 'sell', lots: L(3) });

    expect(s.pq(o.id)).toEqual([[100, 3]]);
  });

  it('clips by a print received after the ticker, and by earlier ones again once a diff past the ticker applies', () => {
    const s = setup();
    s.print(99, 1, true, 1_010);
    s.ticker(11, 100, 5, 101, 5);
    s.print(100, 2, true, 1_020);
    const afterTicker = s.eng.previewTake('sell', L(4));
    s.diff(11, 1_005); // past the ticker, older than both prints: neither is in the book yet
    const afterDiff = s.eng.previewTake('sell', L(4));

    expect([afterTicker.lots, afterTicker.quote]).toEqual([4, (3n * 100n + 99n) * 1_000_000_000n]);
    expect([afterDiff.lots, afterDiff.quote]).toEqual([4, 4n * 99n * 1_000_000_000n]);
  });

  it('joins a resting order behind the newer ticker\'s size at its price when the book lacks the level (C)', () => {
    const book = new OrderBook('X');
    for (const p of [98, 97]) book.set('bid', T(p), L(5));
    for (const p of [101, 102]) book.set('ask', T(p), L(5));
    const state = { u: 10 };
    const ticker: TouchTicker = { updateId: 11, bid: T(99), bidLots: L(7), ask: T(101), askLots: L(5) };
    const view = liveBookView(book, () => true, { lastUpdateId: () => state.u, touch: () => ticker });
    const eng = new MatchingEngine({ instrument: UNIT, book: view, clock: new SimulatedClock(1_000), makerFeeRate9: 0n, takerFeeRate9: 0n, feeIn: 'quote' });
    eng.onDepth([], [], 1_000 as TsMs);
    const o = eng.submit({ side: 'buy', type: 'limit', price: T(99), timeInForce: 'GTC', lots: L(1) });
    const joined = eng.order(o.id)!.queueAhead;
    book.set('bid', T(99), L(7));
    state.u = 12;
    eng.onDepth([[T(99), L(7)]], [], 1_100 as TsMs);
    eng.onTrade(T(99), L(1), true, 1_150 as TsMs);

    expect([joined, eng.order(o.id)!.status, eng.order(o.id)!.queueAhead]).toEqual([7, 'open', 6]);
  });

  it('joins behind the book\'s size when it shows more than the ticker at that price, and ignores a ticker elsewhere', () => {
    const s = setup();
    s.ticker(11, 100, 3, 101, 5);
    const atTouch = s.submit({ side: 'buy', lots: L(1), price: T(100) });
    const below = s.submit({ side: 'buy', lots: L(1), price: T(99) });

    expect([s.eng.order(atTouch.id)!.queueAhead, s.eng.order(below.id)!.queueAhead]).toEqual([5, 5]);
  });
});
