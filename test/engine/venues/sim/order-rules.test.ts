// Order entry rules the simulator advertises and Binance enforces (review_sim findings 4, 5a and 6): PRICE_FILTER
// maxPrice, LOT_SIZE maxQty, NOTIONAL maxNotional, MAX_NUM_ORDERS, the ORDERS 100 / 10 s limit, timeInForce on a
// LIMIT_MAKER, and myTrades filtered by orderId.
import { describe, expect, it } from 'vitest';
import { useSignedSim } from './signed-sim.ts';

const rig = useSignedSim({ key: 'rulesTestKey0001', secret: 'rules-test-secret-0001', balances: { USDT: '100000000', BTC: '10' } });
const { wall, signed } = rig;
const order = (p: Record<string, string>) => signed('POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', ...p });

describe('exchange simulator order rules', () => {
  const LIMIT = { type: 'LIMIT', timeInForce: 'GTC' };
  it.each([
    ['a price above maxPrice', { ...LIMIT, quantity: '0.001', price: '1000000.01' }, { code: -1013, msg: 'Filter failure: PRICE_FILTER' }],
    ['a quantity above maxQty', { ...LIMIT, quantity: '9000.00001', price: '1' }, { code: -1013, msg: 'Filter failure: LOT_SIZE' }],
    ['a market quantity above maxQty', { type: 'MARKET', quantity: '9000.00001' }, { code: -1013, msg: 'Filter failure: MARKET_LOT_SIZE' }],
    ['a limit notional above maxNotional', { ...LIMIT, quantity: '100', price: '90000.01' }, { code: -1013, msg: 'Filter failure: NOTIONAL' }],
    ['timeInForce on a LIMIT_MAKER', { type: 'LIMIT_MAKER', timeInForce: 'GTC', quantity: '0.001', price: '50000' }, { code: -1106, msg: "Parameter 'timeInForce' sent when not required." }],
  ])('refuses %s as Binance does', async (_what, p, body) => {
    const r = await signed('POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'BUY', ...p });
    expect(r).toEqual({ status: 400, body });
  });

  it('returns only the given order\'s fills from myTrades orderId', async () => {
    const mkt = (await signed('POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.01' })).body as { orderId: number; fills: unknown[] };
    const rest = (await order({ quantity: '0.001', price: '50000' })).body as { orderId: number };
    const ofMarket = (await signed('GET', '/api/v3/myTrades', { symbol: 'BTCUSDT', orderId: String(mkt.orderId) })).body as Array<{ orderId: number }>;
    const ofResting = (await signed('GET', '/api/v3/myTrades', { symbol: 'BTCUSDT', orderId: String(rest.orderId) })).body;
    await signed('DELETE', '/api/v3/openOrders', { symbol: 'BTCUSDT' });
    expect(mkt.fills.length).toBeGreaterThan(0);
    expect(ofMarket).toHaveLength(mkt.fills.length);
    expect(ofMarket.every((t) => t.orderId === mkt.orderId)).toBe(true);
    expect(ofResting).toEqual([]);
  });

  it('answers -1015 past 100 new orders in 10 s and -1013 MAX_NUM_ORDERS past 200 open orders on a symbol', async () => {
    wall.set(Math.ceil(wall.now() / 10_000) * 10_000 + 10_000);
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) statuses.push((await order({ quantity: '0.001', price: String(50000 + i) })).status);
    const tooMany = await order({ quantity: '0.001', price: '52000' });
    wall.advance(10_000);
    for (let i = 0; i < 100; i++) statuses.push((await order({ quantity: '0.001', price: String(51000 + i) })).status);
    wall.advance(10_000);
    const full = await order({ quantity: '0.001', price: '52001' });
    const open = (await signed('GET', '/api/v3/openOrders', { symbol: 'BTCUSDT' })).body as unknown[];
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(tooMany).toEqual({ status: 429, body: { code: -1015, msg: 'Too many new orders; current limit is 100 orders per TEN_SECONDS.' } });
    expect(full).toEqual({ status: 400, body: { code: -1013, msg: 'Filter failure: MAX_NUM_ORDERS' } });
    expect(open).toHaveLength(200);
  });
});
