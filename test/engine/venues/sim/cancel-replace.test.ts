// POST /api/v3/order/cancelReplace (STOP_ON_FAILURE) in the exchange simulator, driven through CcxtExecVenue.replace
// and the unmodified ccxt binance client (editOrder): both halves done in one request; the cancel failing (-2022, new
// order not attempted); the cancel done and the new order refused (-2021); a filter failure answered before the
// cancel. Through a stub ccxt client: a timeout is an unknown outcome, a 429 a rate limit, as for createOrder.
import ccxt from 'ccxt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { clientOrderId } from '../../../../engine/types/ids.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';
import { CcxtExecVenue, type CcxtOrderApi } from '../../../../engine/venues/ccxt-exec.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';
import { signPayload } from '../../../../engine/venues/sim/signing.ts';
import { VenueCallError, type VenueOrderRequest } from '../../../../engine/venues/venue.ts';
import { BINANCE_BTC, BTC_RECORDING, simWithCcxtVenue } from './ccxt-exec-rig.ts';

const KEY = 'replaceTestKey01';
const SECRET = 'replace-test-secret-01';

let sim: ExchangeSim;
let venue: CcxtExecVenue;

beforeAll(async () => {
  ({ sim, venue } = await simWithCcxtVenue({ apiKey: KEY, secret: SECRET, balances: { USDT: '100000', BTC: '1' } }));
}, 60_000);
afterAll(async () => {
  await sim?.close();
});

const last = (): Ticks => sim.venue.market('BTCUSDT').lastPrice()!;
const stopReq = (cid: string, lots: number, below = 50_000): VenueOrderRequest => {
  const sp = last() - below;
  return { clientOrderId: clientOrderId(cid), symbol: 'BTC/USDT', side: 'sell', orderType: 'stopLossLimit', lots: lots as Lots, price: (sp - 1_000) as Ticks, stopPrice: sp as Ticks, timeInForce: 'GTC' };
};
const pending = (): string[] => sim.venue.pendingStops().map((o) => o.clientOrderId);
const place = async (cid: string, lots: number) => {
  const r = await venue.submit(stopReq(cid, lots));
  if (r.status !== 'accepted') throw new Error(`stop ${cid} not placed: ${r.message}`);
  return r;
};

describe('cancelReplace in the exchange simulator through ccxt', () => {
  it('advertises cancelReplaceAllowed in exchangeInfo', async () => {
    const info = await (await fetch(`${sim.url}/api/v3/exchangeInfo?symbol=BTCUSDT`)).json() as { symbols: Array<{ cancelReplaceAllowed: boolean }> };
    expect(info.symbols[0]!.cancelReplaceAllowed).toBe(true);
  });

  it('cancels the old stop and places the new one in one request', async () => {
    const old = await place('rep-old-1', 10_000);
    let requests = 0;
    const count = () => void requests++;
    sim.events.on('request', count);
    const r = await venue.replace!('BTC/USDT', { clientOrderId: clientOrderId('rep-old-1'), venueOrderId: old.venueOrderId }, stopReq('rep-new-1', 20_000));
    sim.events.off('request', count);
    const oldAfter = await venue.fetchOrder('BTC/USDT', clientOrderId('rep-old-1'));
    const newAfter = await venue.fetchOrder('BTC/USDT', clientOrderId('rep-new-1'));

    expect(requests).toBe(1);
    expect(r.status).toBe('replaced');
    expect(r.status === 'replaced' && r.placed.venueOrderId).toBe(newAfter!.venueOrderId);
    expect(oldAfter!.status).toBe('cancelled');
    expect(newAfter).toMatchObject({ status: 'accepted', orderType: 'stopLossLimit', lots: 20_000 });
    expect(pending()).toEqual(['rep-new-1']);
    await venue.cancel('BTC/USDT', clientOrderId('rep-new-1'));
  });

  it('replaces an order known by its client id only', async () => {
    await place('rep-old-2', 10_000);
    const r = await venue.replace!('BTC/USDT', { clientOrderId: clientOrderId('rep-old-2') }, stopReq('rep-new-2', 10_000, 60_000));
    expect(r.status).toBe('replaced');
    expect(pending()).toEqual(['rep-new-2']);
    await venue.cancel('BTC/USDT', clientOrderId('rep-new-2'));
  });

  it('answers cancelFailed (-2022) and places nothing when the old order is no longer open', async () => {
    const old = await place('rep-old-3', 10_000);
    await venue.cancel('BTC/USDT', clientOrderId('rep-old-3'));
    const r = await venue.replace!('BTC/USDT', { clientOrderId: clientOrderId('rep-old-3'), venueOrderId: old.venueOrderId }, stopReq('rep-new-3', 10_000));
    const placed = await venue.fetchOrder('BTC/USDT', clientOrderId('rep-new-3'));

    expect(r).toMatchObject({ status: 'cancelFailed', notOpen: true, code: 'ORDER_NOT_FOUND' });
    expect(placed).toBeUndefined();
    expect(pending()).toEqual([]);
  });

  it('answers newRejected (-2021) with the refusal when the cancel was done and the new order lacks funds', async () => {
    const old = await place('rep-old-4', 10_000);
    const r = await venue.replace!('BTC/USDT', { clientOrderId: clientOrderId('rep-old-4'), venueOrderId: old.venueOrderId }, stopReq('rep-new-4', 150_000));
    const oldAfter = await venue.fetchOrder('BTC/USDT', clientOrderId('rep-old-4'));
    const placed = await venue.fetchOrder('BTC/USDT', clientOrderId('rep-new-4'));

    expect(r).toMatchObject({ status: 'newRejected', code: 'INSUFFICIENT_FUNDS' });
    expect(r.status === 'newRejected' && r.message).toContain('insufficient balance');
    expect(oldAfter!.status).toBe('cancelled');
    expect(placed).toBeUndefined();
    expect(pending()).toEqual([]);
  });

  it('keeps the venue\'s words when the new stop would trigger at once', async () => {
    const old = await place('rep-old-5', 10_000);
    const through = { ...stopReq('rep-new-5', 10_000), stopPrice: last(), price: (last() - 100) as Ticks };
    const r = await venue.replace!('BTC/USDT', { clientOrderId: clientOrderId('rep-old-5'), venueOrderId: old.venueOrderId }, through);
    expect(r).toMatchObject({ status: 'newRejected', code: 'INVALID_ORDER' });
    expect(r.status === 'newRejected' && r.message).toMatch(/would trigger immediately/i);
  });

  it('refuses a new order that fails a filter before the cancel is attempted: the old stop stays', async () => {
    const old = await place('rep-old-6', 10_000);
    const err = await venue.replace!('BTC/USDT', { clientOrderId: clientOrderId('rep-old-6'), venueOrderId: old.venueOrderId }, stopReq('rep-new-6', 1))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VenueCallError);
    expect((err as VenueCallError).kind).toBe('rejected');
    expect(pending()).toEqual(['rep-old-6']);
    await venue.cancel('BTC/USDT', clientOrderId('rep-old-6'));
  });

  it('refuses ALLOW_FAILURE with a Binance-style error', async () => {
    const old = await place('rep-old-7', 10_000);
    const ex = (venue as unknown as { ex: CcxtOrderApi }).ex;
    const err = await ex.editOrder!(old.venueOrderId, 'BTC/USDT', 'STOP_LOSS_LIMIT', 'sell', 0.1, 50_000, { stopPrice: '50001', timeInForce: 'GTC', cancelReplaceMode: 'ALLOW_FAILURE' })
      .catch((e: unknown) => e);
    expect(String(err)).toContain('ALLOW_FAILURE is not supported');
    expect(pending()).toEqual(['rep-old-7']);
    await venue.cancel('BTC/USDT', clientOrderId('rep-old-7'));
  });
});

describe('CcxtExecVenue.replace errors', () => {
  const stubVenue = (editOrder: () => Promise<unknown>, venueId: 'binance' | 'mexc' = 'binance') => {
    const never = () => Promise.reject(new Error('not used'));
    const ex: CcxtOrderApi = {
      createOrder: never, cancelOrder: never, fetchOrder: never, fetchOpenOrders: never, fetchBalance: never, fetchMyTrades: never, editOrder,
      last_response_headers: { 'Retry-After': '3' },
    };
    return new CcxtExecVenue({ exchange: ex, venue: venueId, instruments: [{ ...BINANCE_BTC, venue: venueId }], clock: new SimulatedClock(1_700_000_000_000) });
  };
  const req: VenueOrderRequest = {
    clientOrderId: clientOrderId('stub-new'), symbol: 'BTC/USDT', side: 'sell', orderType: 'stopLossLimit', lots: 10_000 as Lots, price: 5_000_000 as Ticks, stopPrice: 5_001_000 as Ticks, timeInForce: 'GTC',
  };
  const old = { clientOrderId: clientOrderId('stub-old') };

  it('says an answerless request (timeout) is an unknown outcome', async () => {
    const err = await stubVenue(() => Promise.reject(new ccxt.RequestTimeout('binance POST timed out'))).replace!('BTC/USDT', old, req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VenueCallError);
    expect(err).toMatchObject({ kind: 'unknown', code: 'REQUEST_TIMEOUT' });
  });

  it('treats a 429 as a rate limit with its Retry-After, and a malformed answer as unknown', async () => {
    const limited = await stubVenue(() => Promise.reject(new ccxt.DDoSProtection('binance 429 Too Many Requests {"code":-1015}'))).replace!('BTC/USDT', old, req).catch((e: unknown) => e);
    const malformed = await stubVenue(() => Promise.resolve('<html>')).replace!('BTC/USDT', old, req).catch((e: unknown) => e);
    const unreadable = await stubVenue(() => Promise.reject(new ccxt.BadResponse('binance {"code":-2022,"msg":"Order cancel-replace failed.","data":{"cancelResult":"SUCC'))).replace!('BTC/USDT', old, req)
      .catch((e: unknown) => e);
    expect(limited).toMatchObject({ kind: 'rateLimited', retryAfterMs: 3_000 });
    expect(malformed).toMatchObject({ kind: 'unknown', code: 'BAD_RESPONSE' });
    expect(unreadable).toMatchObject({ kind: 'unknown', code: 'BAD_RESPONSE' });
  });

  it('has no replace on MEXC', () => {
    expect(stubVenue(() => Promise.resolve({}), 'mexc').replace).toBeUndefined();
  });
});

describe('cancelReplace on the wire (Binance shapes, ORDERS limit)', () => {
  const RAW_KEY = 'replaceRawKey001';
  const RAW_SECRET = 'replace-raw-secret-001';
  const wall = new SimulatedClock(1_900_000_000_000);
  let raw: ExchangeSim;

  beforeAll(async () => {
    raw = await startExchangeSim({
      files: BTC_RECORDING, speed: 'manual', wallClock: wall, weightLimitPerMinute: 1_000_000,
      accounts: [{ apiKey: RAW_KEY, secret: RAW_SECRET, balances: { USDT: '100000000', BTC: '10' } }],
    });
    await raw.replay.advanceBy(5_000);
  }, 60_000);
  afterAll(async () => {
    await raw?.close();
  });

  const signed = async (method: string, path: string, params: Record<string, string>) => {
    const q = new URLSearchParams({ ...params, timestamp: String(wall.now()) }).toString();
    const r = await fetch(`${raw.url}${path}?${q}&signature=${signPayload(q, RAW_SECRET)}`, { method, headers: { 'X-MBX-APIKEY': RAW_KEY } });
    return { status: r.status, body: await r.json() as Record<string, unknown> };
  };
  const buy = { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.001' };
  const replace = (cancelOrderId: string, p: Record<string, string>) =>
    signed('POST', '/api/v3/order/cancelReplace', { ...buy, cancelReplaceMode: 'STOP_ON_FAILURE', cancelOrderId, ...p });

  it('answers success with both answers, -2022 (400) when the cancel fails and -2021 (409) when the new order is refused', async () => {
    const first = await signed('POST', '/api/v3/order', { ...buy, price: '50000' });
    const ok = await replace(String(first.body['orderId']), { price: '50001' });
    const newId = String((ok.body['newOrderResponse'] as Record<string, unknown>)['orderId']);
    const failed = await replace('99999999', { price: '50002' });
    const partial = await signed('POST', '/api/v3/order/cancelReplace', {
      symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT_MAKER', quantity: '0.001', price: '200000', cancelReplaceMode: 'STOP_ON_FAILURE', cancelOrderId: newId,
    });
    const open = (await signed('GET', '/api/v3/openOrders', { symbol: 'BTCUSDT' })).body as unknown as unknown[];

    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      cancelResult: 'SUCCESS', newOrderResult: 'SUCCESS', cancelResponse: { orderId: first.body['orderId'], status: 'CANCELED' },
      newOrderResponse: { status: 'NEW', price: '50001.00000000' },
    });
    expect(failed).toEqual({
      status: 400,
      body: { code: -2022, msg: 'Order cancel-replace failed.', data: { cancelResult: 'FAILURE', newOrderResult: 'NOT_ATTEMPTED', cancelResponse: { code: -2011, msg: 'Unknown order sent.' }, newOrderResponse: null } },
    });
    expect(partial).toMatchObject({
      status: 409,
      body: {
        code: -2021, msg: 'Order cancel-replace partially failed.',
        data: { cancelResult: 'SUCCESS', newOrderResult: 'FAILURE', cancelResponse: { status: 'CANCELED' }, newOrderResponse: { code: -2010, msg: 'Order would immediately match and take.' } },
      },
    });
    expect(open).toEqual([]);
  });

  it('counts each cancelReplace as a new order against the ORDERS limit', async () => {
    wall.set(Math.ceil(wall.now() / 10_000) * 10_000 + 10_000);
    const first = await signed('POST', '/api/v3/order', { ...buy, price: '50000' });
    let id = String(first.body['orderId']);
    const statuses: number[] = [];
    for (let i = 0; i < 99; i++) {
      const r = await replace(id, { price: String(50001 + i) });
      statuses.push(r.status);
      id = String((r.body['newOrderResponse'] as Record<string, unknown>)['orderId']);
    }
    const tooMany = await replace(id, { price: '52000' });
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(tooMany).toEqual({ status: 429, body: { code: -1015, msg: 'Too many new orders; current limit is 100 orders per TEN_SECONDS.' } });
  });
});
