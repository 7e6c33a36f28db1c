// Self-trade prevention in the exchange simulator as Binance spot reports it: the matching engine expires the own
// resting order (EXPIRE_MAKER), so exchangeInfo and every order answer name EXPIRE_MAKER, the maker ends
// EXPIRED_IN_MATCH, and a request asking for another mode is refused rather than ignored.
import { describe, expect, it } from 'vitest';
import { useSignedSim } from './signed-sim.ts';

const rig = useSignedSim({ key: 'stpTestKey000001', secret: 'stp-test-secret-0001', balances: { USDT: '1000000', BTC: '10' } });
const { signed } = rig;

describe('exchange simulator self-trade prevention', () => {
  it('advertises EXPIRE_MAKER as the default and only mode', async () => {
    const info = await (await fetch(`${rig.sim.url}/api/v3/exchangeInfo?symbol=BTCUSDT`)).json() as { symbols: Array<Record<string, unknown>> };
    const s = info.symbols[0]!;
    expect([s['defaultSelfTradePreventionMode'], s['allowedSelfTradePreventionModes']]).toEqual(['EXPIRE_MAKER', ['EXPIRE_MAKER']]);
  });

  it('ends the own resting order EXPIRED_IN_MATCH when the account\'s taker reaches it', async () => {
    const bt = rig.sim.venue.market('BTCUSDT').bookTicker!;
    const ask = (bt.ask / 100).toFixed(2);
    const base = { symbol: 'BTCUSDT', type: 'LIMIT', quantity: '0.001', price: ask };
    const maker = await signed('POST', '/api/v3/order', { ...base, side: 'SELL', timeInForce: 'GTC', selfTradePreventionMode: 'EXPIRE_MAKER' });
    // More than the market shows at the ask, so that the taker reaches the own order queued behind it.
    const through = ((bt.askLots + 100) / 100_000).toFixed(5);
    const taker = await signed('POST', '/api/v3/order', { ...base, side: 'BUY', timeInForce: 'IOC', quantity: through });
    const q = await signed('GET', '/api/v3/order', { symbol: 'BTCUSDT', orderId: String(maker.body['orderId']) });
    const all = (await signed('GET', '/api/v3/allOrders', { symbol: 'BTCUSDT' })).body as unknown as Array<Record<string, unknown>>;
    expect([maker.body['status'], maker.body['selfTradePreventionMode'], taker.body['selfTradePreventionMode']]).toEqual(['NEW', 'EXPIRE_MAKER', 'EXPIRE_MAKER']);
    expect([q.body['status'], q.body['executedQty'], q.body['selfTradePreventionMode']]).toEqual(['EXPIRED_IN_MATCH', '0.00000000', 'EXPIRE_MAKER']);
    expect(all.find((o) => o['orderId'] === maker.body['orderId'])?.['status']).toBe('EXPIRED_IN_MATCH');
    // The taker's unfilled rest is an ordinary IOC expiry.
    expect(['EXPIRED', 'FILLED']).toContain(taker.body['status']);
  });

  it('refuses a self-trade prevention mode it does not apply', async () => {
    const r = await signed('POST', '/api/v3/order', {
      symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.001', price: '50000.00', selfTradePreventionMode: 'NONE',
    });
    expect([r.status, r.body['code']]).toEqual([400, -1130]);
  });
});
