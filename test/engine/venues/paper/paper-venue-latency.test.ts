// A latency-delayed market buy on the paper venue must not spend more quote than the account holds
// (found by a review): its lock is the cost the book showed at submission, the book may offer more by
// activation. Real Binance BTC/USDT increments.
import { describe, expect, it } from 'vitest';
import { OrderBook } from '../../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { PaperVenue } from '../../../../engine/venues/paper/paper-venue.ts';
import type { VenueEvent } from '../../../../engine/venues/venue.ts';
import { clientOrderId } from '../../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { money } from '../../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

function setup(usdt: string) {
  const clock = new SimulatedClock(1_000);
  const book = new OrderBook('BTCUSDT');
  const venue = new PaperVenue({
    clock, instruments: [BTC], books: { 'BTC/USDT': book }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 50,
    balances: { USDT: money(usdt) },
  });
  const events: VenueEvent[] = [];
  venue.onEvent((e) => events.push(e));
  const bal = async (asset: string) => (await venue.fetchBalances()).find((b) => b.asset === asset) ?? { free: 0n, locked: 0n };
  return { clock, book, venue, events, bal };
}

describe('PaperVenue market buy under latency', () => {
  it('fills only what free funds plus its lock pay for when the ask refills before activation, and expires the rest', async () => {
    const s = setup('1000');
    s.book.set('bid', 99_900 as Ticks, 1_000 as Lots);
    s.book.set('ask', 100_000 as Ticks, 1_000 as Lots); // 0.01 BTC shown: the lock is 10 USDT
    const res = s.venue.submitNow({ clientOrderId: clientOrderId('m1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: 500_000 as Lots, timeInForce: 'GTC' });
    s.book.set('ask', 100_000 as Ticks, 500_000 as Lots);
    s.clock.advance(60);
    const usdt = await s.bal('USDT');
    const btc = await s.bal('BTC');

    expect(res.status).toBe('accepted');
    expect(s.events.map((e) => (e.kind === 'fill' ? `fill ${e.fill.lots}@${e.fill.price}` : e.status))).toEqual([
      'fill 100000@100000', 'expired',
    ]);
    expect(usdt.free).toBe(0n);
    expect(usdt.locked).toBe(0n);
    expect(btc.free).toBe(money('0.999')); // 1 BTC less the 0.1% fee in BTC
  });

  it('does not touch funds another open order has locked', async () => {
    const s = setup('1000');
    s.book.set('bid', 99_900 as Ticks, 1_000 as Lots);
    s.book.set('ask', 100_000 as Ticks, 1_000 as Lots);
    s.venue.submitNow({ clientOrderId: clientOrderId('l1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', price: 90_000 as Ticks, lots: 50_000 as Lots, timeInForce: 'GTC' });
    s.venue.submitNow({ clientOrderId: clientOrderId('m1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: 500_000 as Lots, timeInForce: 'GTC' });
    s.book.set('ask', 100_000 as Ticks, 500_000 as Lots);
    s.clock.advance(60);
    const usdt = await s.bal('USDT');

    expect(usdt.locked).toBe(money('450')); // the limit buy's 0.5 BTC at 900
    expect(usdt.free).toBe(0n); // the market buy spent the other 550
    expect((await s.bal('BTC')).free).toBe(money('0.54945')); // 0.55 BTC less 0.1%
  });
});
