// Task H5: CcxtExecVenue.fetchOrderTrades reads one order's trades by myTrades' orderId, past one answer's cap: Binance
// by fromId (1000 an answer), MEXC by time (100 an answer, newest first), over a stub answering as each venue does.
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { VenueOrderId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import { CcxtExecVenue, type CcxtOrderApi } from '../../../engine/venues/ccxt-exec.ts';

const NOW = 1_723_161_300_000;

interface RawTrade { id: number; orderId: number; time: number }

/** myTrades over `trades` (ascending ids), selected as the venue does; every request's parameters are kept. */
function tradesApi(dialect: 'binance' | 'mexc', trades: readonly RawTrade[]) {
  const asked: Array<Record<string, unknown>> = [];
  const row = (t: RawTrade) => ({
    info: { id: String(t.id), orderId: String(t.orderId), price: '60000.00', qty: '0.00100', commission: '0.06', commissionAsset: 'USDT', time: t.time, isBuyer: true, isMaker: false },
  });
  const api: CcxtOrderApi = {
    createOrder: async () => { throw new Error('not in this test'); },
    cancelOrder: async () => { throw new Error('not in this test'); },
    fetchOrder: async () => { throw new Error('not in this test'); },
    fetchOpenOrders: async () => [],
    fetchBalance: async () => ({}),
    fetchMyTrades: async (_symbol, since, limit, params = {}) => {
      asked.push({ since, limit, ...params });
      const orderId = params['orderId'] !== undefined ? Number(params['orderId']) : undefined;
      const until = params['until'] !== undefined ? Number(params['until']) : undefined;
      const fromId = params['fromId'] !== undefined ? Number(params['fromId']) : undefined;
      const rows = trades.filter((t) => (orderId === undefined || t.orderId === orderId) && (fromId === undefined || t.id >= fromId)
        && (since === undefined || t.time >= since) && (until === undefined || t.time <= until));
      const cap = Math.min(limit ?? 500, dialect === 'mexc' ? 100 : 1000);
      // From fromId on: the oldest; otherwise the newest (both venues).
      return (fromId !== undefined ? rows.slice(0, cap) : rows.slice(Math.max(0, rows.length - cap))).map(row);
    },
  };
  return { api, asked };
}

const venueOf = (dialect: 'binance' | 'mexc', api: CcxtOrderApi) => new CcxtExecVenue({
  exchange: api, venue: dialect, instruments: [makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: dialect })], clock: new SimulatedClock(NOW),
});

/** `n` trades of order `orderId` from id `firstId`, `perMs` to a millisecond from `t0`, each other one interleaved with one of order 99. */
function trades(orderId: number, n: number, perMs: number, t0: number): RawTrade[] {
  const out: RawTrade[] = [];
  for (let i = 0, id = 1; i < n; i++) {
    const time = t0 + Math.floor(i / perMs);
    out.push({ id: id++, orderId, time });
    if (i % 2 === 0) out.push({ id: id++, orderId: 99, time });
  }
  return out;
}

describe('CcxtExecVenue.fetchOrderTrades', () => {
  it('Binance: pages the order\'s trades by fromId past 1000, from trade id 0, and only that order\'s', async () => {
    const all = trades(7, 1_500, 10, NOW - 60_000);
    const { api, asked } = tradesApi('binance', all);

    const got = await venueOf('binance', api).fetchOrderTrades('BTC/USDT', '7' as VenueOrderId);

    expect(got.map((t) => t.tradeId)).toEqual(all.filter((t) => t.orderId === 7).map((t) => String(t.id)));
    expect(asked.map((p) => [p['orderId'], p['fromId'], p['limit']])).toEqual([['7', '0', 1000], ['7', String(all.filter((t) => t.orderId === 7)[999]!.id + 1), 1000]]);
  });

  it('MEXC: reads the order\'s trades by time past the 100 of one answer', async () => {
    const all = trades(7, 250, 50, NOW - 60_000);
    const { api, asked } = tradesApi('mexc', all);

    const got = await venueOf('mexc', api).fetchOrderTrades('BTC/USDT', '7' as VenueOrderId);

    expect(got.map((t) => t.tradeId)).toEqual(all.filter((t) => t.orderId === 7).map((t) => String(t.id)));
    expect(asked.every((p) => p['orderId'] === '7')).toBe(true);
  });
});
