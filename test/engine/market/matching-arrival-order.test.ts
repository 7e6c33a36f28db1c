// Depth diffs and trades come on separate Binance streams (@depth with event time E, @trade with trade time T): the
// diff that already shows a trade can arrive before the trade's print. A known review finding: the engine then took
// the same traded lots off a resting order's queue twice (once as a size drop, once as a print) and filled maker
// orders too early. Times below are exchange times in ms; the real BTC/USDT grid (0.01 tick, 0.00001 lot).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { liveBookView, MatchingEngine, type MatchEvent, type NewOrder } from '../../../engine/market/matching.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const T = (n: number) => n as Ticks;
const L = (n: number) => n as Lots;
const BID = 99_900;

function setup() {
  const book = new OrderBook('BTCUSDT');
  book.set('bid', T(BID), L(1_000));
  book.set('ask', T(100_000), L(1_000));
  const clock = new SimulatedClock(1_000);
  // Live unless a test re-syncs it (`sync.live = false`).
  const sync = { live: true };
  const eng = new MatchingEngine({ instrument: BTC, book: liveBookView(book, () => sync.live), clock, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n });
  const events: MatchEvent[] = [];
  eng.on((e) => events.push(e));
  const filled = (id: number) => events.reduce((n, e) => n + (e.kind === 'fill' && e.fill.orderId === id ? e.fill.lots : 0), 0);
  /** A diff at exchange time `ts` that leaves the bid level at `lots`. */
  const depth = (lots: number, ts: number) => {
    book.set('bid', T(BID), L(lots));
    eng.onDepth([[T(BID), L(lots)]], [], ts);
  };
  /** A seller-aggressor print at the bid level at trade time `ts`. */
  const sold = (lots: number, ts: number) => eng.onTrade(T(BID), L(lots), true, ts);
  const buy = (lots: number, o: Partial<NewOrder> = {}) => eng.submit({ side: 'buy', type: 'limit', timeInForce: 'GTC', price: T(BID), lots: L(lots), ...o });
  /** A resync: the book stops being live, then comes back holding `lots` at the bid, live from the diff at `ts`. */
  const resync = (lots: number, ts: number) => {
    sync.live = false;
    eng.onSnapshot();
    book.set('bid', T(BID), L(lots));
    sync.live = true;
    eng.onSnapshot(ts as TsMs);
  };
  return { book, eng, depth, sold, buy, filled, sync, resync };
}

describe('MatchingEngine queue position when a depth diff shows a trade before its print', () => {
  it('takes the traded lots off the queue once when the diff that shows them comes first', () => {
    const s = setup();
    const o = s.buy(500); // behind the 1000 displayed
    s.depth(700, 2_000); // the diff already shows the 300 sold at 1_990
    s.sold(300, 1_990);

    expect(o.queueAhead).toBe(700);
    expect(o.filledLots).toBe(0);
  });

  // Each case: the level holds `before` with the order `ahead` lots from the front; `traded` lots sell at the level
  // and the diff leaves `after`. Trade first (T after the previous diff, before this one) or diff first (its print
  // comes late): the queue and the fills must be the same.
  it.each([
    { name: 'a drop that is only the trade', before: 1_000, ahead: 1_000, traded: 300, after: 700, queue: 700, fill: 0 },
    { name: 'a print that reaches the order near the front', before: 1_000, ahead: 200, traded: 500, after: 500, queue: 0, fill: 300 },
    { name: 'a trade and cancellations', before: 1_000, ahead: 500, traded: 200, after: 500, queue: 188, fill: 0 },
    { name: 'a trade hidden by lots joining behind', before: 1_000, ahead: 1_000, traded: 300, after: 1_100, queue: 700, fill: 0 },
  ])('gives the same queue and fills whichever arrives first: $name', ({ before, ahead, traded, after, queue, fill }) => {
    const run = (diffFirst: boolean) => {
      const s = setup();
      s.depth(ahead, 500);
      const o = s.buy(1_000);
      s.depth(before, 1_000); // the rest of the level joins behind the order
      if (diffFirst) {
        s.depth(after, 2_000);
        s.sold(traded, 1_990);
      } else {
        s.sold(traded, 1_990);
        s.depth(after, 2_000);
      }
      return { queue: o.queueAhead, fill: s.filled(o.id) };
    };
    const tradeFirst = run(false);
    const diffFirst = run(true);

    expect(tradeFirst).toEqual({ queue, fill });
    expect(diffFirst).toEqual(tradeFirst);
  });

  it('gives the same queue and fills for either order of arrival, for any level, place, print and diff', () => {
    const run = (c: { ahead: number; behind: number; prints: number[]; after: number; lots: number }, diffFirst: boolean) => {
      const s = setup();
      s.depth(c.ahead, 500);
      const o = s.buy(c.lots);
      s.depth(c.ahead + c.behind, 1_000);
      if (diffFirst) s.depth(c.after, 2_000);
      c.prints.forEach((v, i) => s.sold(v, 1_900 + i));
      if (!diffFirst) s.depth(c.after, 2_000);
      return [o.queueAhead, s.filled(o.id)];
    };
    const level = fc.record({
      ahead: fc.integer({ min: 0, max: 2_000 }), behind: fc.integer({ min: 0, max: 2_000 }),
      prints: fc.array(fc.integer({ min: 1, max: 1_500 }), { minLength: 1, maxLength: 4 }), after: fc.integer({ min: 0, max: 4_000 }),
      lots: fc.integer({ min: 1, max: 1_000 }),
    });
    fc.assert(fc.property(level, (c) => {
      expect(run(c, true)).toEqual(run(c, false));
    }), { numRuns: 500 });
  });

  it('does not move an order that joined after the diff that already showed the print', () => {
    const s = setup();
    const first = s.buy(500); // rests through the diff
    s.depth(700, 2_000);
    const later = s.buy(500); // joins behind the 700 the diff left
    s.sold(300, 1_990);

    expect([first.queueAhead, later.queueAhead]).toEqual([700, 700]);
  });

  it('does not move the first order to join after a diff told while nothing rested', () => {
    const s = setup();
    s.depth(700, 2_000); // nothing rests yet: the engine only learns the time
    const o = s.buy(500);
    s.sold(300, 1_990);

    expect(o.queueAhead).toBe(700);
  });

  it('moves the queue for a print after the last diff of its level, and does not count it again in the next diff', () => {
    const s = setup();
    const o = s.buy(500);
    s.depth(1_000, 2_000);
    s.sold(300, 2_050);
    const afterPrint = o.queueAhead;
    s.depth(700, 2_100);

    expect(afterPrint).toBe(700);
    expect(o.queueAhead).toBe(700);
  });

  it('still fills a resting buy from a late print below its price', () => {
    const s = setup();
    const o = s.buy(500);
    s.depth(700, 2_000);
    s.eng.onTrade(T(BID - 1), L(10), true, 1_990);

    expect(o.status).toBe('filled');
    expect(s.filled(o.id)).toBe(500);
  });

  // A snapshot carries no exchange time; the book became live with the diff that completed the sync (review of the
  // arrival-order fix: a print from before that diff, arriving after the resync, moved the queue until the next diff).
  it('does not move a queue by a print from before the diff that made a resynced book live', () => {
    const s = setup();
    const o = s.buy(500); // behind 1 000
    s.depth(1_000, 1_000);
    s.resync(700, 2_000); // 300 sold at 1 990 while the book was re-syncing: the reloaded book shows it
    const reloaded = o.queueAhead;
    s.sold(300, 1_990);
    const afterLate = o.queueAhead;
    s.sold(100, 2_050); // a print after the book went live moves it as before

    expect([reloaded, afterLate, o.queueAhead, o.filledLots]).toEqual([700, 700, 600, 0]);
  });

  it('does not move an order that joins at the reload by a print from before the diff that made the book live', () => {
    const s = setup();
    s.depth(1_000, 1_000);
    s.sync.live = false;
    s.eng.onSnapshot();
    const o = s.buy(500); // held until the book is live again, then joins behind what it shows
    s.book.set('bid', T(BID), L(700));
    s.sync.live = true;
    s.eng.onSnapshot(2_000 as TsMs);
    s.sold(300, 1_990);

    expect([o.status, o.queueAhead]).toEqual(['open', 700]);
  });

  it('takes each of several late prints of one diff once', () => {
    const s = setup();
    const o = s.buy(500);
    s.depth(400, 2_000); // 600 sold in three prints, all shown by this diff
    for (const ts of [1_910, 1_950, 1_990]) s.sold(200, ts);

    expect(o.queueAhead).toBe(400);
    expect(o.filledLots).toBe(0);
  });
});
