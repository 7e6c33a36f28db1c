// Resting paper orders across a book resync, through the real PaperBooks (found by a review): a
// md.feedReset empties the book; queue positions must survive it, and an order placed while the book is empty must
// match the book that comes back (as taker at its prices), not rest at the front of an empty level.
import { describe, expect, it } from 'vitest';
import { clientOrderId } from '../../engine/types/ids.ts';
import { paperBooksRig } from './paper-books-rig.ts';

function setup() {
  const { books, venue, send, limitBuy, fills } = paperBooksRig();
  const load = (id: number, bids: Array<[number, number]>, asks: Array<[number, number]>) => {
    send({ type: 'md.snapshot', lastUpdateId: id, bids, asks });
    send({ type: 'md.depth', firstUpdateId: id + 1, finalUpdateId: id + 1, bids: [], asks: [] });
  };
  return { books, venue, send, load, limitBuy, fills };
}

describe('PaperBooks resync and resting paper orders', () => {
  it('keeps a resting order behind its queue through a feed reset and the reload of the same book', async () => {
    const s = setup();
    s.load(10, [[99_900, 50_000]], [[100_000, 50_000]]);
    s.limitBuy('l1', 99_900, 1_000);
    s.send({ type: 'md.feedReset', reason: 'reconnect' });
    const liveDuring = s.books.isLive('BTC/USDT');
    s.load(20, [[99_900, 50_000]], [[100_000, 50_000]]);
    s.send({ type: 'md.trade', tradeId: 1, price: 99_900, lots: 100, buyerMaker: true });
    const [open] = await s.venue.fetchOpenOrders('BTC/USDT');

    expect(liveDuring).toBe(false);
    expect(s.books.isLive('BTC/USDT')).toBe(true);
    expect(s.fills()).toEqual([]); // 49 900 lots are still ahead
    expect(open).toMatchObject({ lots: 1_000, filledLots: 0 });
  });

  // A snapshot has no exchange time: the book goes live with the diff that completes the sync, and a print from before
  // that diff arriving after it is already in the book (review of the arrival-order fix). The diff comes after the
  // snapshot, or before it and is buffered.
  it.each([{ path: 'the diff after the snapshot', diffFirst: false }, { path: 'a buffered diff', diffFirst: true }])(
    'does not move a resting queue by a print from before the diff that made the reloaded book live: $path',
    ({ diffFirst }) => {
      const s = setup();
      s.send({ type: 'md.snapshot', lastUpdateId: 10, bids: [[99_900, 50_000]], asks: [[100_000, 50_000]] });
      s.send({ type: 'md.depth', firstUpdateId: 11, finalUpdateId: 11, bids: [], asks: [], tsExchange: 1_000 });
      s.limitBuy('l1', 99_900, 1_000); // behind 50 000
      s.send({ type: 'md.feedReset', reason: 'reconnect' });
      // 3 000 sold at 1 990 while re-syncing: the book that comes back shows 47 000.
      const snapshot = { type: 'md.snapshot', lastUpdateId: 20, bids: [[99_900, 47_000]], asks: [[100_000, 50_000]] };
      const diff = { type: 'md.depth', firstUpdateId: 21, finalUpdateId: 21, bids: [], asks: [], tsExchange: 2_000 };
      for (const m of diffFirst ? [diff, snapshot] : [snapshot, diff]) s.send(m);
      const live = s.books.isLive('BTC/USDT');
      s.send({ type: 'md.trade', tradeId: 1, price: 99_900, lots: 3_000, buyerMaker: true, tsExchange: 1_990 });

      expect([live, s.venue.queueAhead('BTC/USDT', clientOrderId('l1'))]).toEqual([true, 47_000]);
    },
  );

  it('matches a limit buy placed during the resync against the reloaded book as taker at the ask', () => {
    const s = setup();
    s.load(10, [[99_900, 5_000]], [[100_000, 5_000]]);
    s.send({ type: 'md.feedReset', reason: 'reconnect' });
    const res = s.limitBuy('l1', 101_000, 1_000);
    const before = s.fills();
    s.load(20, [[99_900, 5_000]], [[100_000, 5_000]]);

    expect(res.status).toBe('accepted');
    expect(before).toEqual([]);
    expect(s.fills()).toEqual(['1000@100000 taker']);
  });
});
