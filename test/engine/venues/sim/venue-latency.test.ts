// The exchange simulator's order entry with --latency-ms > 0 (found by a review): an order is
// checked against the book at submission and matched against the book of its activation, which may have moved.
// Real Binance BTC/USDT increments; the book is made live through BookSync as a recording would.
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { SimAccount } from '../../../../engine/venues/sim/accounts.ts';
import { SymbolMarket } from '../../../../engine/venues/sim/feed.ts';
import { SimVenue } from '../../../../engine/venues/sim/venue.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { money } from '../../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

function setup(usdt: string) {
  const clock = new SimulatedClock(1_000);
  const venue = new SimVenue(clock, '0.001', '0.001');
  const cfg = {
    clock, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 50,
    nextOrderId: venue.nextOrderId, nextTradeId: venue.nextTradeId, marketBuyFunds: venue.marketBuyFunds,
  };
  const m = new SymbolMarket(BTC, cfg, { m1: [] }, () => {}, clock);
  venue.addMarket(m);
  const acct = new SimAccount('a1', 'apikey1234', 'secret1234', { USDT: usdt });
  venue.addAccount(acct);
  const base = { venue: 'binance' as const, symbol: 'BTC/USDT', tsExchange: 0, tsLocal: 0 };
  m.sync.onSnapshot({ ...base, type: 'md.snapshot', lastUpdateId: 10, bids: [[99_900 as Ticks, 1_000 as Lots]], asks: [[100_000 as Ticks, 1_000 as Lots]] });
  m.sync.onDiff({ ...base, type: 'md.depth', firstUpdateId: 11, finalUpdateId: 11, bids: [], asks: [] });
  m.engine.onSnapshot();
  return { clock, venue, m, acct };
}

describe('SimVenue orders under latency', () => {
  it('expires a LIMIT_MAKER buy that the ask crossed before it activated, without trading', () => {
    const s = setup('100000');
    const r = s.venue.placeOrder(s.acct, { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT_MAKER', quantity: '0.01', price: '999.99' });
    s.m.sync.book.set('ask', 100_000 as Ticks, 0 as Lots);
    s.m.sync.book.set('ask', 99_950 as Ticks, 5_000 as Lots);
    s.clock.advance(60);
    const q = s.venue.queryOrder(s.acct, { symbol: 'BTCUSDT', orderId: String(r['orderId']) });

    expect(s.m.sync.isLive()).toBe(true);
    expect(s.acct.trades).toEqual([]);
    expect(q).toMatchObject({ status: 'EXPIRED', type: 'LIMIT_MAKER', executedQty: '0.00000000' });
    expect(s.acct.lockedOf('USDT')).toBe(0n);
  });

  it('fills a MARKET buy only up to the account funds when the ask refilled before activation', () => {
    const s = setup('1000');
    const r = s.venue.placeOrder(s.acct, { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '5' });
    s.m.sync.book.set('ask', 100_000 as Ticks, 500_000 as Lots);
    s.clock.advance(60);
    const q = s.venue.queryOrder(s.acct, { symbol: 'BTCUSDT', orderId: String(r['orderId']) });

    expect(q).toMatchObject({ status: 'EXPIRED', executedQty: '1.00000000', cummulativeQuoteQty: '1000.00000000' });
    expect(s.acct.freeOf('USDT')).toBe(0n);
    expect(s.acct.freeOf('BTC')).toBe(money('0.999'));
  });
});
