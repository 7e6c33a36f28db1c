// Paper fills when a depth diff arrives before the print it already shows, through the real PaperBooks (a known
// review finding: the same traded lots came off a resting order's queue twice, so maker orders filled too early in
// paper trading and backtests). The books pass the diffs' event times (E, raw frames and parsed diffs) and the
// trades' times (T) to the paper venue. Real BTC/USDT grid: 99_900 ticks = 999.00, 1_000 lots = 0.01 BTC.
import { describe, expect, it } from 'vitest';
import { clientOrderId } from '../../engine/types/ids.ts';
import { paperBooksRig } from './paper-books-rig.ts';

function setup() {
  const { books, venue, send, limitBuy: buyAt, fills } = paperBooksRig();
  send({ type: 'md.snapshot', lastUpdateId: 10, bids: [[99_900, 2_000]], asks: [[100_000, 5_000]] });
  send({ type: 'md.depth', firstUpdateId: 11, finalUpdateId: 11, bids: [], asks: [], tsExchange: 1_000 });
  /** A raw diff frame (the live and backtest path) at event time `ts` leaving the 999.00 bid at `qty`. */
  const rawDepth = (id: number, ts: number, qty: string) => send({
    type: 'md.depthRaw',
    data: `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":${ts},"s":"BTCUSDT","U":${id},"u":${id},"b":[["999.00000000","${qty}"]],"a":[]}}`,
  });
  const sold = (lots: number, ts: number) => send({ type: 'md.trade', tradeId: ts, price: 99_900, lots, buyerMaker: true, tsExchange: ts });
  const limitBuy = (id: string, lots: number) => buyAt(id, 99_900, lots);
  return { books, venue, send, rawDepth, sold, limitBuy, fills };
}

describe('PaperBooks: a diff that shows a trade before its print', () => {
  it('fills a buy near the front of its queue by what the print left after the queue ahead, once (raw frames)', () => {
    const s = setup();
    s.limitBuy('l1', 10_000); // 2 000 lots ahead
    s.rawDepth(12, 1_500, '0.10000000'); // 8 000 lots join behind it
    s.rawDepth(13, 3_000, '0.05000000'); // shows the 5 000 lots sold at 2 900
    s.sold(5_000, 2_900);

    expect(s.books.counters).toMatchObject({ applied: 2, malformed: 0, trades: 1 });
    expect(s.fills()).toEqual(['3000@99900 maker']); // 5 000 sold: 2 000 ahead, then 3 000 of the order
  });

  it('does not move a queue by a late print after a parsed diff showed it', () => {
    const s = setup();
    s.limitBuy('l1', 10_000);
    s.send({ type: 'md.depth', firstUpdateId: 12, finalUpdateId: 12, bids: [[99_900, 1_500]], asks: [], tsExchange: 2_000 });
    s.sold(500, 1_990);

    expect(s.venue.queueAhead('BTC/USDT', clientOrderId('l1'))).toBe(1_500);
  });

  it('tells the time of diffs while nothing rests, so an order joining next is not moved by prints its book showed', () => {
    const s = setup();
    s.rawDepth(12, 2_000, '0.01500000'); // nothing rests: the levels are not built
    s.limitBuy('l1', 10_000); // joins behind 1 500
    s.sold(500, 1_990);

    expect(s.venue.queueAhead('BTC/USDT', clientOrderId('l1'))).toBe(1_500);
  });

  it('moves the queue for a print after the last diff, as before', () => {
    const s = setup();
    s.limitBuy('l1', 10_000);
    s.sold(500, 2_100);
    s.rawDepth(12, 2_200, '0.01500000');

    expect(s.venue.queueAhead('BTC/USDT', clientOrderId('l1'))).toBe(1_500);
  });
});
