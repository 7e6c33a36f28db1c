// Request shapes Binance refuses and selectors it documents (review findings 3 and 4): allOrders by orderId and time,
// myTrades by time, -1104 for an unknown parameter, -1101 for a duplicated one, -2010 for an iceberg on a symbol
// without icebergAllowed, -1100 for a lowercase symbol, -1104 for MEXC's clientOrderId on a cancel. A misspelt parameter in the engine must fail here as on Binance.
import { describe, expect, it } from 'vitest';
import { useSignedSim } from './signed-sim.ts';

const rig = useSignedSim({ key: 'paramsTestKey001', secret: 'params-test-secret-0001', balances: { USDT: '100000', BTC: '1' } });
const { raw } = rig;
const signed = (method: string, path: string, p: Record<string, string>) => raw(method, path, new URLSearchParams(p).toString());
const LIMIT = 'symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&price=50000.00';

describe('exchange simulator request parameters', () => {
  it('selects allOrders by orderId (>=) and by startTime / endTime, and myTrades by time', async () => {
    const a = (await signed('POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.01' })).body;
    await rig.sim.replay.advanceBy(60_000);
    const t1 = Math.floor(rig.sim.clock.now());
    const b = (await signed('POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: '0.005' })).body;
    await rig.sim.replay.advanceBy(60_000);
    const c = (await signed('POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: '0.002' })).body;
    const ids = (r: { body: Array<{ orderId: number }> }) => r.body.map((o) => o.orderId);
    expect(ids(await signed('GET', '/api/v3/allOrders', { symbol: 'BTCUSDT', orderId: String(b.orderId) }))).toEqual([b.orderId, c.orderId]);
    expect(ids(await signed('GET', '/api/v3/allOrders', { symbol: 'BTCUSDT', orderId: String(a.orderId), limit: '2' }))).toEqual([a.orderId, b.orderId]);
    expect(ids(await signed('GET', '/api/v3/allOrders', { symbol: 'BTCUSDT', startTime: String(t1), endTime: String(t1) }))).toEqual([b.orderId]);
    expect(ids(await signed('GET', '/api/v3/allOrders', { symbol: 'BTCUSDT', endTime: String(t1 - 1) }))).toEqual([a.orderId]);
    const trades = await signed('GET', '/api/v3/myTrades', { symbol: 'BTCUSDT', startTime: String(t1), endTime: String(t1) });
    expect(trades.body.length).toBeGreaterThan(0);
    expect(new Set(trades.body.map((t: { orderId: number }) => t.orderId))).toEqual(new Set([b.orderId]));
  });

  it('refuses a time window over 24 hours, and myTrades fromId with a time', async () => {
    const day = 24 * 3600_000;
    expect(await signed('GET', '/api/v3/allOrders', { symbol: 'BTCUSDT', startTime: '0', endTime: String(day + 1) }))
      .toEqual({ status: 400, body: { code: -1127, msg: 'More than 24 hours between startTime and endTime.' } });
    expect((await signed('GET', '/api/v3/myTrades', { symbol: 'BTCUSDT', startTime: '0', endTime: String(day + 1) })).body.code).toBe(-1127);
    expect(await signed('GET', '/api/v3/myTrades', { symbol: 'BTCUSDT', fromId: '0', startTime: '0' }))
      .toEqual({ status: 400, body: { code: -1128, msg: 'Combination of optional parameters invalid.' } });
  });

  it('refuses an unknown parameter with -1104, on signed and public routes', async () => {
    expect(await raw('POST', '/api/v3/order', `${LIMIT}&quantity=0.001&foo=1`))
      .toEqual({ status: 400, body: { code: -1104, msg: "Not all sent parameters were read; read '8' parameter(s) but was sent '9'." } });
    const r = await fetch(`${rig.sim.url}/api/v3/depth?symbol=BTCUSDT&limt=5`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { code: number }).code).toBe(-1104);
    expect((await signed('GET', '/api/v3/openOrders', { symbol: 'BTCUSDT' })).status).toBe(200);
  });

  it('refuses clientOrderId on a Binance cancel (ccxt\'s MEXC client sends it; Binance reads origClientOrderId)', async () => {
    const placed = await raw('POST', '/api/v3/order', `${LIMIT}&quantity=0.001&newClientOrderId=cancelMe1`);
    const r = await signed('DELETE', '/api/v3/order', { symbol: 'BTCUSDT', origClientOrderId: 'cancelMe1', clientOrderId: 'cancelMe1' });
    const left = await signed('DELETE', '/api/v3/order', { symbol: 'BTCUSDT', orderId: String(placed.body.orderId) });
    expect([r.status, r.body.code, left.body.status]).toEqual([400, -1104, 'CANCELED']);
  });

  it('refuses a duplicated parameter with -1101 instead of using one of the values', async () => {
    expect(await raw('POST', '/api/v3/order', `${LIMIT}&quantity=0.001&quantity=0.003`))
      .toEqual({ status: 400, body: { code: -1101, msg: 'Duplicate values for a parameter detected.' } });
    expect((await signed('GET', '/api/v3/openOrders', { symbol: 'BTCUSDT' })).body).toEqual([]);
  });

  it('refuses icebergQty on a symbol whose exchangeInfo says icebergAllowed false', async () => {
    expect(await raw('POST', '/api/v3/order', `${LIMIT}&quantity=0.002&icebergQty=0.001`))
      .toEqual({ status: 400, body: { code: -2010, msg: 'Iceberg orders are not supported for this symbol.' } });
  });

  it('refuses a lowercase symbol with -1100, as Binance\'s legal range for symbol says', async () => {
    expect(await raw('POST', '/api/v3/order', 'symbol=btcusdt&side=BUY&type=LIMIT&timeInForce=GTC&price=50000.00&quantity=0.001'))
      .toEqual({ status: 400, body: { code: -1100, msg: "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'." } });
    expect((await fetch(`${rig.sim.url}/api/v3/ticker/bookTicker?symbols=${encodeURIComponent('["btcusdt"]')}`)).status).toBe(400);
  });
});
