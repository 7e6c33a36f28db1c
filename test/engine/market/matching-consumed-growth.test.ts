// Review (paper s1/s4): the lots a taker consumed at a level were forgotten as soon as the size shown there changed in
// any way, growth included, so everything already taken became available again: a resting buy that had taken 3 of 3
// lots at 100 filled 7 more when one lot joined the level, and with a bookTicker newer than the book (whose size
// changes every few ms) nearly every update handed the taken lots back. Releasing them by each drop (the re-review)
// handed them back too, one lot flickering at the back at a time, and counted a print twice (once before its diff,
// once as the diff's drop). Consumed lots now stay while the level lasts, capped at what it shows.
import { describe, expect, it } from 'vitest';
import { MatchingEngine, liveBookView, type MatchEvent, type MatchFill, type NewOrder, type TouchTicker } from '../../../engine/market/matching.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';

const UNIT = makeInstrument({ symbol: 'X/USD', venue: 'sim', tickSize: '1', lotSize: '1', minNotional: '0' });
const T = (n: number) => n as Ticks;
const L = (n: number) => n as Lots;

/** Bid 99×10, asks as given; the book at update id 10, with a settable newer ticker. */
function setup(asks: Array<[number, number]>) {
  const book = new OrderBook('X');
  book.set('bid', T(99), L(10));
  for (const [p, q] of asks) book.set('ask', T(p), L(q));
  const state: { ticker: TouchTicker | undefined } = { ticker: undefined };
  const view = liveBookView(book, () => true, { lastUpdateId: () => 10, touch: () => state.ticker });
  const eng = new MatchingEngine({ instrument: UNIT, book: view, clock: new SimulatedClock(1_000), makerFeeRate9: 0n, takerFeeRate9: 0n, feeIn: 'quote' });
  const events: MatchEvent[] = [];
  eng.on((e) => events.push(e));
  const fills = (id: number): MatchFill[] => events.flatMap((e) => (e.kind === 'fill' && e.fill.orderId === id ? [e.fill] : []));
  const pq = (id: number) => fills(id).map((f) => [f.price, f.lots]);
  const ask = (p: number, q: number) => {
    book.set('ask', T(p), L(q));
    eng.onDepth([], [[T(p), L(q)]]);
  };
  const ticker = (updateId: number, askPx: number, askLots: number) => {
    state.ticker = { updateId, bid: T(99), bidLots: L(10), ask: T(askPx), askLots: L(askLots) };
  };
  const submit = (o: Partial<NewOrder> & Pick<NewOrder, 'side' | 'lots'>) =>
    eng.submit({ type: o.price === undefined ? 'market' : 'limit', timeInForce: o.price === undefined ? 'IOC' : 'GTC', ...o });
  return { eng, pq, ask, ticker, submit };
}

describe('MatchingEngine: consumed market lots when a level\'s size changes', () => {
  it('fills a resting buy only from the lot that joined a level it had emptied (s1 A)', () => {
    const s = setup([[100, 3], [101, 5]]);
    const o = s.submit({ side: 'buy', lots: L(10), price: T(100) });
    s.ask(100, 4);

    expect([s.pq(o.id), s.eng.order(o.id)!.filledLots]).toEqual([[[100, 3], [100, 1]], 4]);
  });

  it('offers a later taker only the new lot, then the next level (s1 B)', () => {
    const s = setup([[100, 3], [101, 5]]);
    s.submit({ side: 'buy', lots: L(3) });
    s.ask(100, 4);
    const second = s.submit({ side: 'buy', lots: L(4) });

    expect(s.pq(second.id)).toEqual([[100, 1], [101, 3]]);
  });

  it('offers only the new lot when a newer ticker shows the level grown (s4)', () => {
    const s = setup([[100, 3], [105, 100]]);
    s.ticker(11, 100, 3);
    s.submit({ side: 'buy', lots: L(3) });
    s.ticker(12, 100, 4);
    const second = s.submit({ side: 'buy', lots: L(4) });

    expect(s.pq(second.id)).toEqual([[100, 1], [105, 3]]);
  });

  it('keeps consumed lots through drops and growth, caps them at what the level shows, forgets them once it is gone', () => {
    const s = setup([[100, 5], [101, 5]]);
    s.submit({ side: 'buy', lots: L(3) }); // 3 of 5 consumed
    s.ask(100, 4); // lost 1: still 3 consumed, 1 left
    s.ask(100, 6); // grew by 2: still 3 consumed, 3 left
    const second = s.submit({ side: 'buy', lots: L(5) }); // 3 more consumed: 6 of 6
    s.ask(100, 2); // capped at 2: nothing left
    const third = s.submit({ side: 'buy', lots: L(1) });
    s.ask(100, 0);
    s.ask(100, 2);
    const fourth = s.submit({ side: 'buy', lots: L(2) });

    expect([s.pq(second.id), s.pq(third.id), s.pq(fourth.id)]).toEqual([[[100, 3], [101, 2]], [[101, 1]], [[100, 2]]]);
  });

  it('does not give the front lots back when one lot joins and leaves at the back, over and over', () => {
    const s = setup([[100, 10], [105, 100]]);
    s.submit({ side: 'buy', lots: L(10) });
    for (let i = 0; i < 10; i++) {
      s.ask(100, 11);
      s.ask(100, 10);
    }
    const second = s.submit({ side: 'buy', lots: L(10) });

    expect(s.pq(second.id)).toEqual([[105, 10]]);
  });

  it('counts a real print once: before its diff and after it, the same lots are left', () => {
    const s = setup([[100, 10], [105, 100]]);
    s.submit({ side: 'buy', lots: L(3) });
    s.eng.onTrade(T(100), L(4), false, 1_001 as TsMs); // a real buyer took 4 at 100, the book not updated yet
    const beforeDiff = s.eng.previewTake('buy', L(1_000), T(100)).lots;
    s.ask(100, 6); // the diff that shows that print
    const afterDiff = s.eng.previewTake('buy', L(1_000), T(100)).lots;

    expect([beforeDiff, afterDiff]).toEqual([3, 3]);
  });
});
