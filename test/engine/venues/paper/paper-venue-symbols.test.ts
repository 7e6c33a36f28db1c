// The paper venue with two markets on hand-set books (prices from data/recordings/spot_{btc,eth}usdt_20240808: BTC
// 61,837.63, ETH 2,683.80): a market order into an empty side, and order queries that name the wrong market.
import { describe, expect, it } from 'vitest';
import { OrderBook } from '../../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { clientOrderId } from '../../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { money } from '../../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';
import { PaperVenue } from '../../../../engine/venues/paper/paper-venue.ts';
import type { VenueOrderRequest } from '../../../../engine/venues/venue.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);

function setup() {
  const btcBook = new OrderBook('BTCUSDT');
  btcBook.replace([[6_183_763 as Ticks, 50_000 as Lots]], [[6_183_764 as Ticks, 50_000 as Lots]]);
  // ETH has bids only: nothing to buy at market.
  const ethBook = new OrderBook('ETHUSDT');
  ethBook.replace([[268_380 as Ticks, 100_000 as Lots]], []);
  const venue = new PaperVenue({
    clock: new SimulatedClock(1_723_075_200_000), instruments: [BTC, ETH], books: { 'BTC/USDT': btcBook, 'ETH/USDT': ethBook },
    makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 0, balances: { USDT: money('10000'), ETH: money('1') },
  });
  return { venue, btcBook, ethBook };
}

const order = (id: string, over: Partial<VenueOrderRequest>): VenueOrderRequest => ({
  clientOrderId: clientOrderId(id), symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots: 1_000 as Lots, timeInForce: 'GTC', ...over,
});

const locked = async (v: PaperVenue, asset: string) => (await v.fetchBalances()).find((b) => b.asset === asset)?.locked ?? 0n;

describe('PaperVenue market orders without liquidity', () => {
  it('refuses a market buy into an empty ask side with NO_LIQUIDITY, locking nothing and keeping no order', async () => {
    const { venue } = setup();
    const res = await venue.submit(order('mb', { orderType: 'market' }));
    expect(res).toEqual({ status: 'rejected', code: 'NO_LIQUIDITY', message: 'the ETH/USDT book has no liquidity for a market buy' });
    expect(await locked(venue, 'USDT')).toBe(0n);
    expect(await venue.fetchOrder('ETH/USDT', clientOrderId('mb'))).toBeUndefined();
  });

  it('refuses a market sell into an empty bid side the same way', async () => {
    const { venue, ethBook } = setup();
    ethBook.replace([], [[268_381 as Ticks, 100_000 as Lots]]);
    const res = await venue.submit(order('ms', { orderType: 'market', side: 'sell' }));
    expect(res).toMatchObject({ status: 'rejected', code: 'NO_LIQUIDITY' });
    expect(await locked(venue, 'ETH')).toBe(0n);
  });
});

describe('PaperVenue order queries name the order’s market', () => {
  // A resting ETH buy below the best bid and a resting BTC buy: each market has an open order.
  async function twoResting() {
    const s = setup();
    expect((await s.venue.submit(order('eth-1', { price: 268_000 as Ticks }))).status).toBe('accepted');
    expect((await s.venue.submit(order('btc-1', { symbol: 'BTC/USDT', price: 6_180_000 as Ticks, lots: 100 as Lots }))).status).toBe('accepted');
    return s;
  }

  it('does not cancel an order when the cancel names another market, and cancels it on its own', async () => {
    const { venue } = await twoResting();
    const lockedBefore = await locked(venue, 'USDT');
    const wrong = await venue.cancel('BTC/USDT', clientOrderId('eth-1'));
    const stillOpen = (await venue.fetchOpenOrders()).map((o) => o.clientOrderId);
    const lockedAfterWrong = await locked(venue, 'USDT');
    const right = await venue.cancel('ETH/USDT', clientOrderId('eth-1'));
    expect(wrong).toEqual({ status: 'notOpen' });
    expect(stillOpen).toEqual(['btc-1', 'eth-1']); // by market (BTC first), then age
    expect(lockedAfterWrong).toBe(lockedBefore);
    expect(right.status).toBe('cancelled');
    expect((await venue.fetchOpenOrders()).map((o) => o.clientOrderId)).toEqual(['btc-1']);
  });

  it('answers fetchOrder only for the order’s own market', async () => {
    const { venue } = await twoResting();
    expect(await venue.fetchOrder('BTC/USDT', clientOrderId('eth-1'))).toBeUndefined();
    expect(await venue.fetchOrder('ETH/USDT', clientOrderId('btc-1'))).toBeUndefined();
    expect(await venue.fetchOrder('ETH/USDT', clientOrderId('eth-1'))).toMatchObject({ symbol: 'ETH/USDT', status: 'accepted', price: 268_000, lots: 1_000 });
    expect(await venue.fetchOrder('BTC/USDT', clientOrderId('btc-1'))).toMatchObject({ symbol: 'BTC/USDT', status: 'accepted', price: 6_180_000, lots: 100 });
  });
});
