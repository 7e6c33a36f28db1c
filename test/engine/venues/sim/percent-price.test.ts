// PERCENT_PRICE_BY_SIDE in the exchange simulator, as Binance spot has it on BTCUSDT (bid and ask 0.2 to 5 times the
// 5-minute average price): advertised in exchangeInfo, the average served by GET /api/v3/avgPrice, and a limit price
// outside the side's band refused with -1013 before anything else happens (a cancelReplace keeps its old order).
import { describe, expect, it } from 'vitest';
import { useSignedSim } from './signed-sim.ts';

const rig = useSignedSim({ key: 'pctPriceTestKey1', secret: 'pct-price-test-secret-1', balances: { USDT: '100000000', BTC: '10' } });
const { signed } = rig;
const REFUSED = { status: 400, body: { code: -1013, msg: 'Filter failure: PERCENT_PRICE_BY_SIDE' } };
const order = (p: Record<string, string>) => signed('POST', '/api/v3/order', { symbol: 'BTCUSDT', quantity: '0.001', ...p });
const limit = (side: string, price: string) => order({ side, type: 'LIMIT', timeInForce: 'GTC', price });
const pub = async (path: string) => (await fetch(`${rig.sim.url}${path}`)).json() as Promise<Record<string, unknown>>;

// The volume-weighted price of the replayed prints (all within 5 minutes this early), in cents.
function vwapCents(): number {
  const ts = rig.sim.venue.market('BTCUSDT').trades;
  const cutoff = rig.sim.clock.now() - 300_000;
  const within = ts.filter((t) => t.tsExchange > cutoff);
  return within.reduce((s, t) => s + t.price * t.lots, 0) / within.reduce((s, t) => s + t.lots, 0);
}
const usd = (cents: number) => (cents / 100).toFixed(2);

describe('exchange simulator PERCENT_PRICE_BY_SIDE', () => {
  it('advertises the filter with Binance\'s BTCUSDT multipliers and serves the average it is checked against', async () => {
    const info = await pub('/api/v3/exchangeInfo?symbol=BTCUSDT');
    const filters = (info['symbols'] as Array<{ filters: Array<Record<string, unknown>> }>)[0]!.filters;
    expect(filters.find((f) => f['filterType'] === 'PERCENT_PRICE_BY_SIDE')).toEqual({
      filterType: 'PERCENT_PRICE_BY_SIDE', bidMultiplierUp: '5', bidMultiplierDown: '0.2', askMultiplierUp: '5', askMultiplierDown: '0.2', avgPriceMins: 5,
    });
    const avg = await pub('/api/v3/avgPrice?symbol=BTCUSDT');
    const m = rig.sim.venue.market('BTCUSDT');
    expect(avg['mins']).toBe(5);
    expect(avg['closeTime']).toBe(m.trades[m.trades.length - 1]!.tsExchange);
    expect(Number(avg['price']) * 100).toBeCloseTo(vwapCents(), 4);
  });

  it('refuses a buy below 0.2x or above 5x the average and a sell outside the same band; accepts the edges', async () => {
    const avg = vwapCents();
    const lo = Math.ceil(avg * 0.2);
    const hi = Math.floor(avg * 5);
    expect(await limit('BUY', usd(lo - 1))).toEqual(REFUSED);
    expect(await limit('SELL', usd(hi + 1))).toEqual(REFUSED);
    // The executor's protective stop sells STOP_LOSS_LIMIT: its limit price is held to the band too.
    expect(await order({ side: 'SELL', type: 'STOP_LOSS_LIMIT', timeInForce: 'GTC', price: usd(lo - 1), stopPrice: usd(lo + 100) })).toEqual(REFUSED);
    expect(await order({ side: 'BUY', type: 'LIMIT_MAKER', price: usd(lo - 1) })).toEqual(REFUSED);
    const edges = [await limit('BUY', usd(lo)), await limit('SELL', usd(hi))];
    expect(edges.map((r) => [r.status, r.body['status']])).toEqual([[200, 'NEW'], [200, 'NEW']]);
    // A market order has no price to check.
    expect((await order({ side: 'BUY', type: 'MARKET' })).body['status']).toBe('FILLED');
    await signed('DELETE', '/api/v3/openOrders', { symbol: 'BTCUSDT' });
  });

  it('refuses a cancelReplace to a price outside the band before cancelling the old order', async () => {
    const first = await limit('BUY', usd(Math.round(vwapCents() * 0.9)));
    const r = await signed('POST', '/api/v3/order/cancelReplace', {
      symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.001', price: '1000.00',
      cancelReplaceMode: 'STOP_ON_FAILURE', cancelOrderId: String(first.body['orderId']),
    });
    expect(r).toEqual(REFUSED);
    const open = (await signed('GET', '/api/v3/openOrders', { symbol: 'BTCUSDT' })).body as unknown as Array<{ orderId: number }>;
    expect(open.map((o) => o.orderId)).toEqual([first.body['orderId']]);
    await signed('DELETE', '/api/v3/openOrders', { symbol: 'BTCUSDT' });
  });

  it('averages over the last 5 minutes of sim time: the band follows the prints', async () => {
    await rig.sim.replay.advanceBy(900_000);
    const m = rig.sim.venue.market('BTCUSDT');
    const now = rig.sim.clock.now();
    const within = m.trades.filter((t) => t.tsExchange > now - 300_000);
    // The market's list reaches back past the window here, so `within` is every print of it.
    expect(m.trades[0]!.tsExchange).toBeLessThanOrEqual(now - 300_000);
    const avg = await pub('/api/v3/avgPrice?symbol=BTCUSDT');
    // The prints older than 5 minutes are out of the average; with none in the window it is the newest print.
    const expected = within.length > 0
      ? within.reduce((s, t) => s + t.price * t.lots, 0) / within.reduce((s, t) => s + t.lots, 0)
      : m.trades[m.trades.length - 1]!.price;
    expect(Number(avg['price']) * 100).toBeCloseTo(expected, 4);
  });
});
