// A restored order's place in its queue (NewOrder.queueAhead, used by the paper venue after a restart; a known review
// finding: restored orders joined the back of their level). Real BTC/USDT grid.
import { describe, expect, it } from 'vitest';
import { MatchingEngine, liveBookView } from '../../../engine/market/matching.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const BID = 99_900 as Ticks;

function setup(live: boolean) {
  const book = new OrderBook('BTCUSDT');
  book.set('bid', BID, 1_000 as Lots);
  book.set('ask', 100_000 as Ticks, 1_000 as Lots);
  const state = { live };
  const eng = new MatchingEngine({ instrument: BTC, book: liveBookView(book, () => state.live), clock: new SimulatedClock(1_000), makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n });
  const restore = (queueAhead: number) =>
    eng.submit({ side: 'buy', type: 'limit', timeInForce: 'GTC', price: BID, lots: 500 as Lots, queueAhead: queueAhead as Lots });
  return { book, state, eng, restore };
}

describe('MatchingEngine restored queue positions', () => {
  it.each([
    { name: 'a place near the front', stored: 200, ahead: 200 },
    { name: 'a place beyond the displayed size', stored: 5_000, ahead: 1_000 },
  ])('joins with the queue ahead it is restored with, capped at the level: $name', ({ stored, ahead }) => {
    const s = setup(true);
    const o = s.restore(stored);

    expect(o.status).toBe('open');
    expect(o.queueAhead).toBe(ahead);
  });

  it.each([
    { shown: 1_200, ahead: 800 },
    { shown: 300, ahead: 300 },
  ])('waits for the live book and caps the restored queue at what it shows then ($shown lots)', ({ shown, ahead }) => {
    const s = setup(false);
    s.book.set('bid', BID, 0 as Lots); // emptied while it re-syncs
    const o = s.restore(800);
    const before = o.status;
    s.book.set('bid', BID, shown as Lots);
    s.state.live = true;
    s.eng.onSnapshot();

    expect(before).toBe('pending');
    expect(o.status).toBe('open');
    expect(o.queueAhead).toBe(ahead);
  });

  it.each([-1, 1.5, Number.NaN])('refuses a restored queue ahead of %s lots with a RangeError naming it', (bad) => {
    const s = setup(true);
    expect(() => s.restore(bad)).toThrow(/queueAhead .* must be a non-negative integer/);
  });
});
