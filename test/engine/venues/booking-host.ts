// A ReconcileHost reduced to its trade book, for tests that drive reconcile() against a venue adapter: every trade is
// booked (or adopted) by id, the cursor is the newest id booked, and nothing else is known.
import type { ReconcileHost } from '../../../actors/trading-executor/reconcile.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { VenueTrade } from '../../../engine/venues/venue.ts';

export const SILENT = { info() {}, warn() {}, error() {}, debug() {} } as unknown as ReconcileHost['log'];

/** Returns a host booking into `booked` (trade id -> trade). */
export function bookingHost(venue: ReconcileHost['venue'], booked: Map<string, VenueTrade>): ReconcileHost {
  const newest = (): string | undefined => [...booked.keys()].sort((a, b) => Number(a) - Number(b)).at(-1);
  return {
    venue, clock: new SimulatedClock(0), log: SILENT,
    openOrders: () => [], order: () => undefined, orderByVenueId: () => undefined, position: () => undefined,
    lastTradeId: newest, hasFill: (_s, id) => booked.has(id),
    apply: async () => ({ kind: 'noop' }) as never,
    applyTrade: async (t) => {
      if (booked.has(t.tradeId)) return 'duplicate';
      booked.set(t.tradeId, t);
      return 'booked';
    },
    adoptOpenOrder: async () => false, baseOf: () => 0n, publishBus: () => {},
  };
}
