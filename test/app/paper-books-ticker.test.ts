// The paper books give the matching engine the newest md.bookTicker of their symbol with the book's update id (review
// bt20, finding 1: paper takers filled at depth@100ms levels a newer bookTicker showed gone). Real BTC/USDT grid:
// 100_000 ticks = 1000.00, 1_000 lots = 0.01 BTC.
import { describe, expect, it } from 'vitest';
import { clientOrderId } from '../../engine/types/ids.ts';
import type { Lots } from '../../engine/types/price.ts';
import { paperBooksRig } from './paper-books-rig.ts';

function setup() {
  const rig = paperBooksRig();
  const sync = (lastUpdateId: number) => {
    rig.send({ type: 'md.snapshot', lastUpdateId, bids: [[99_900, 2_000]], asks: [[100_000, 5_000], [100_020, 5_000]] });
    rig.send({ type: 'md.depth', firstUpdateId: lastUpdateId + 1, finalUpdateId: lastUpdateId + 1, bids: [], asks: [], tsExchange: 1_000 });
  };
  const ticker = (updateId: number) => rig.send({ type: 'md.bookTicker', updateId, bid: 99_890, bidLots: 1_000, ask: 100_010, askLots: 1_000 });
  const marketBuy = (id: string, lots: number) =>
    rig.venue.submitNow({ clientOrderId: clientOrderId(id), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: lots as Lots, timeInForce: 'IOC' });
  return { ...rig, sync, ticker, marketBuy };
}

describe('PaperBooks: the real-time touch', () => {
  it('has a market buy reach no ask below a bookTicker newer than the book, and the ticker\'s size at its ask', () => {
    const s = setup();
    s.sync(10);
    s.ticker(12);
    s.marketBuy('m1', 3_000);

    expect(s.books.counters).toMatchObject({ tickers: 1 });
    expect(s.fills()).toEqual(['1000@100010 taker', '2000@100020 taker']);
  });

  it('forgets the ticker when the feed resets (a new lap\'s update ids start below the last lap\'s)', () => {
    const s = setup();
    s.sync(10);
    s.ticker(12);
    s.send({ type: 'md.feedReset', reason: 'replay lap 2' });
    s.sync(5);
    s.marketBuy('m1', 3_000);

    expect(s.fills()).toEqual(['3000@100000 taker']);
  });
});
