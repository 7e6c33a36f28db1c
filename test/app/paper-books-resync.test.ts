// Resting paper orders across a book resync, through the real PaperBooks (found by a review): a
// md.feedReset empties the book; queue positions must survive it, and an order placed while the book is empty must
// match the book that comes back (as taker at its prices), not rest at the front of an empty level.
import { describe, expect, it } from 'vitest';
import { PaperBooks } from '../../app/paper-books.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { PaperVenue } from '../../engine/venues/paper/paper-venue.ts';
import type { VenueEvent } from '../../engine/venues/venue.ts';
import { clientOrderId } from '../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../engine/types/instrument.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

/** A stub bus that keeps one handler per message type and lets the test publish to it. */
function stubBus() {
  const handlers = new Map<string, (m: never) => void>();
  const bus = { subscribe: (type: string, fn: (m: never) => void) => (handlers.set(type, fn), () => handlers.delete(type)) } as unknown as Bus<EngineMsg>;
  const send = (m: Record<string, unknown> & { type: string }) => handlers.get(m.type)?.({ venue: 'binance', symbol: 'BTC/USDT', tsExchange: 0, tsLocal: 0, ...m } as never);
  return { bus, send };
}

function setup() {
  const { bus, send } = stubBus();
  const books = new PaperBooks(bus, [BTC]);
  const clock = new SimulatedClock(1_000);
  const venue = new PaperVenue({
    clock, instruments: [BTC], books: books.books(), makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 0,
    balances: { USDT: money('100000') },
  });
  books.start(venue);
  const events: VenueEvent[] = [];
  venue.onEvent((e) => events.push(e));
  const load = (id: number, bids: Array<[number, number]>, asks: Array<[number, number]>) => {
    send({ type: 'md.snapshot', lastUpdateId: id, bids, asks });
    send({ type: 'md.depth', firstUpdateId: id + 1, finalUpdateId: id + 1, bids: [], asks: [] });
  };
  const limitBuy = (id: string, price: number, lots: number) =>
    venue.submitNow({ clientOrderId: clientOrderId(id), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', price: price as Ticks, lots: lots as Lots, timeInForce: 'GTC' });
  const fills = () => events.flatMap((e) => (e.kind === 'fill' ? [`${e.fill.lots}@${e.fill.price} ${e.fill.liquidity}`] : []));
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
