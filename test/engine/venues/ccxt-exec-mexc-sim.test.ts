// CcxtExecVenue with the real ccxt MEXC client against the simulator's MEXC dialect (/mexc on the same server),
// replaying data/recordings/spot_btcusdt_20240808: signed requests with X-MEXC-APIKEY, client ids as
// newClientOrderId / origClientOrderId, IOC as an order type, MEXC's error codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ccxt from 'ccxt';
import { CcxtExecVenue } from '../../../engine/venues/ccxt-exec.ts';
import { mexcCcxtOptions } from '../../../engine/venues/mexc/rest.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, notional } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const KEY = 'mexcTestKey0001';
const SECRET = 'mexc-test-secret-0001';
const BTC = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'mexc' });

let sim: ExchangeSim;
let venue: CcxtExecVenue;
const paths: string[] = [];

beforeAll(async () => {
  sim = await startExchangeSim({ files: FILES, speed: 'manual', accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '10000' } }] });
  await sim.replay.advanceBy(5_000);
  sim.events.on('request', (r: { path: string }) => paths.push(r.path));
  const exchange = new ccxt.mexc(mexcCcxtOptions({ baseUrl: `${sim.url}/mexc`, apiKey: KEY, secret: SECRET, rateLimit: false }) as never);
  venue = new CcxtExecVenue({ exchange: exchange as never, venue: 'mexc', instruments: [BTC], clock: new SimulatedClock(sim.clock.now()) });
});
afterAll(async () => {
  await sim?.close();
});

describe('CcxtExecVenue on MEXC (simulator dialect)', () => {
  it('places market and limit orders with our client ids, lists, queries and cancels them, and reads balances and trades', async () => {
    const book = sim.venue.market('BTCUSDT').sync.book;
    const ask = book.bestAsk()! as Ticks;
    const farBid = (book.bestBid()! - 100_000) as Ticks;
    const mkt = await venue.submit({ clientOrderId: clientOrderId('cbMexcMkt1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: 100 as Lots, timeInForce: 'GTC' });
    const lim = await venue.submit({ clientOrderId: clientOrderId('cbMexcLim1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', lots: 200 as Lots, price: farBid, timeInForce: 'GTC' });
    const open = await venue.fetchOpenOrders();
    const byCid = await venue.fetchOrder('BTC/USDT', clientOrderId('cbMexcLim1'));
    const missing = await venue.fetchOrder('BTC/USDT', clientOrderId('cbNeverSent'));
    const balancesOpen = await venue.fetchBalances();
    const trades = await venue.fetchMyTrades('BTC/USDT');
    const cancel = await venue.cancel('BTC/USDT', clientOrderId('cbMexcLim1'));
    const cancelAgain = await venue.cancel('BTC/USDT', clientOrderId('cbMexcLim1'));
    const afterCancel = await venue.fetchOrder('BTC/USDT', clientOrderId('cbMexcLim1'));
    const usdt = (await venue.fetchBalances()).find((b) => b.asset === 'USDT')!;

    expect(mkt.status).toBe('accepted');
    expect(lim.status).toBe('accepted');
    expect(open).toEqual([expect.objectContaining({ clientOrderId: 'cbMexcLim1', side: 'buy', orderType: 'limit', price: farBid, lots: 200, filledLots: 0, status: 'accepted', timeInForce: 'GTC' })]);
    expect(byCid).toMatchObject({ clientOrderId: 'cbMexcLim1', status: 'accepted', price: farBid });
    expect(missing).toBeUndefined();
    expect(balancesOpen.find((b) => b.asset === 'USDT')!.locked).toBe(notional(BTC, farBid, 200 as Lots));
    expect(trades).toEqual([expect.objectContaining({
      venueOrderId: mkt.status === 'accepted' ? mkt.venueOrderId : '', side: 'buy', price: ask, lots: 100, liquidity: 'taker', venue: 'mexc',
    })]);
    expect([cancel.status, cancelAgain.status]).toEqual(['cancelled', 'notOpen']);
    expect(afterCancel?.status).toBe('cancelled');
    expect(usdt).toEqual({ asset: 'USDT', free: money('10000') - notional(BTC, ask, 100 as Lots), locked: 0n });
    // Everything went through the MEXC dialect, markets included (spot exchangeInfo and the empty contract list).
    expect(paths.every((p) => p.startsWith('/mexc/'))).toBe(true);
    expect(paths).toEqual(expect.arrayContaining(['/mexc/api/v3/exchangeInfo', '/mexc/api/v1/contract/detail', '/mexc/api/v3/order']));
  });

  it('sends IOC as MEXC order type and reads it back: an IOC bid far below the market ends cancelled, unfilled', async () => {
    const farBid = (sim.venue.market('BTCUSDT').sync.book.bestBid()! - 100_000) as Ticks;
    const r = await venue.submit({ clientOrderId: clientOrderId('cbMexcIoc1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', lots: 200 as Lots, price: farBid, timeInForce: 'IOC' });
    expect(r.status).toBe('accepted');
    await sim.replay.advanceBy(1_000);
    expect(await venue.fetchOrder('BTC/USDT', clientOrderId('cbMexcIoc1'))).toMatchObject({ status: 'cancelled', timeInForce: 'IOC', filledLots: 0 });
  });

  it('returns MEXC rejections as classified errors: insufficient funds (30004) is rejected, never retried', async () => {
    const err = await venue.submit({ clientOrderId: clientOrderId('cbMexcBig'), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', lots: 1_000_000 as Lots, price: 6_000_000 as Ticks, timeInForce: 'GTC' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'rejected', code: 'INSUFFICIENT_FUNDS' });
    expect((err as Error).message).toContain('30004');
  });

  it('refuses a request signed the Binance way on the MEXC side, with MEXC\'s code', async () => {
    const res = await fetch(`${sim.url}/mexc/api/v3/account?timestamp=1`, { headers: { 'X-MBX-APIKEY': KEY } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 10072, msg: 'Api key info invalid' });
  });
});
