// The real PaperBooks feeding a PaperVenue over a stub bus, for the paper-books tests: BTC/USDT on its real grid,
// 100,000 USDT, 0.1 % fees, no latency.
import { PaperBooks } from '../../app/paper-books.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { clientOrderId } from '../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../engine/types/instrument.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import { PaperVenue } from '../../engine/venues/paper/paper-venue.ts';
import type { VenueEvent } from '../../engine/venues/venue.ts';

export const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

/** A stub bus that keeps one handler per message type and lets the test publish to it. */
function stubBus() {
  const handlers = new Map<string, (m: never) => void>();
  const bus = { subscribe: (type: string, fn: (m: never) => void) => (handlers.set(type, fn), () => handlers.delete(type)) } as unknown as Bus<EngineMsg>;
  const send = (m: Record<string, unknown> & { type: string }) => handlers.get(m.type)?.({ venue: 'binance', symbol: 'BTC/USDT', tsExchange: 0, tsLocal: 0, ...m } as never);
  return { bus, send };
}

/** Returns the books, the venue, `send` (a message to the books' handlers), `limitBuy` (GTC) and the fills as `lots@price liquidity`. */
export function paperBooksRig() {
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
  const limitBuy = (id: string, price: number, lots: number) =>
    venue.submitNow({ clientOrderId: clientOrderId(id), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', price: price as Ticks, lots: lots as Lots, timeInForce: 'GTC' });
  const fills = () => events.flatMap((e) => (e.kind === 'fill' ? [`${e.fill.lots}@${e.fill.price} ${e.fill.liquidity}`] : []));
  return { books, venue, send, limitBuy, fills };
}
