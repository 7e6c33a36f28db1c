// First start (no trade booked yet for the symbol): Binance's myTrades without fromId answers the newest trades
// ("If fromId is not set, the most recent trades are returned"), and the next page, from past the newest, is empty:
// an arbitrary slice of the history would be booked. Without a cursor the history is read from its first trade
// (fromId 0), page by page, as MEXC's adapter reads every trade it keeps.
import { describe, expect, it } from 'vitest';
import { reconcile } from '../../../actors/trading-executor/reconcile.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import { CcxtExecVenue, type CcxtOrderApi } from '../../../engine/venues/ccxt-exec.ts';
import type { VenueTrade } from '../../../engine/venues/venue.ts';
import { bookingHost } from './booking-host.ts';

const NOW = 1_723_161_300_000;

// 1,200 trades: 600 buys of order 1, then 600 sells of order 2 (the account is flat again).
const rows = Array.from({ length: 1_200 }, (_, i) => ({
  info: {
    id: String(i + 1), orderId: i < 600 ? '1' : '2', symbol: 'BTCUSDT', price: '60000.00', qty: '0.00100', commission: '0', commissionAsset: 'USDT',
    time: NOW - 10_000 + i, isBuyer: i < 600, isMaker: false,
  },
}));

function binance() {
  const fromIds: unknown[] = [];
  const api: CcxtOrderApi = {
    createOrder: async () => { throw new Error('not in this test'); },
    cancelOrder: async () => { throw new Error('not in this test'); },
    fetchOrder: async () => { throw new Error('not in this test'); },
    fetchOpenOrders: async () => [],
    fetchBalance: async () => ({}),
    // Oldest first; from fromId (inclusive) the oldest `limit`, without it the newest `limit`.
    fetchMyTrades: async (_symbol, _since, limit = 500, params = {}) => {
      const from = params['fromId'];
      fromIds.push(from);
      const cap = Math.min(limit, 1_000);
      return from === undefined ? rows.slice(-cap) : rows.filter((r) => Number(r.info.id) >= Number(from)).slice(0, cap);
    },
  };
  const venue = new CcxtExecVenue({ exchange: api, venue: 'binance', instruments: [makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'binance' })], clock: new SimulatedClock(NOW) });
  return { venue, fromIds };
}

describe('Binance trade history at a first start', () => {
  it('without a cursor, fetchMyTrades reads from the first trade (fromId 0), oldest first', async () => {
    const { venue, fromIds } = binance();
    const page = await venue.fetchMyTrades('BTC/USDT');
    expect(fromIds).toEqual(['0']);
    expect([page.length, page[0]?.tradeId, page.at(-1)?.tradeId]).toEqual([1_000, '1', '1000']);
  });

  it('a reconciliation on an empty store books the whole history, page by page', async () => {
    const { venue, fromIds } = binance();
    const booked = new Map<string, VenueTrade>();
    const r = await reconcile(bookingHost(venue, booked), { balances: false });
    expect(fromIds).toEqual(['0', '1001', '1201']);
    expect(r.fillsApplied).toBe(1_200);
    expect(booked.has('1') && booked.has('200') && booked.has('1200')).toBe(true);
  });
});
