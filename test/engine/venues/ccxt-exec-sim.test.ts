// CcxtExecVenue with the real ccxt binance client against the exchange simulator on 127.0.0.1, replaying
// data/recordings/spot_btcusdt_20240808 (Binance spot, 2024-08-08).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ccxt from 'ccxt';
import { CcxtExecVenue } from '../../../engine/venues/ccxt-exec.ts';
import { binanceCcxtOptions } from '../../../engine/venues/binance/rest.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, notional } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const KEY = 'execTestKey0001';
const SECRET = 'exec-test-secret-0001';
const BTC = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'sim' });

let sim: ExchangeSim;
let venue: CcxtExecVenue;

beforeAll(async () => {
  sim = await startExchangeSim({ files: FILES, speed: 'manual', accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '10000' } }] });
  await sim.replay.advanceBy(5_000);
  const exchange = new ccxt.binance(binanceCcxtOptions({ baseUrl: sim.url, apiKey: KEY, secret: SECRET, rateLimit: false }) as never);
  venue = new CcxtExecVenue({ exchange: exchange as never, venue: 'sim', instruments: [BTC], clock: new SimulatedClock(sim.clock.now()) });
});
afterAll(async () => {
  await sim?.close();
});

describe('CcxtExecVenue against the simulator', () => {
  it('places market and limit orders with our client ids, lists, queries and cancels them, and reads balances and trades', async () => {
    const book = sim.venue.market('BTCUSDT').sync.book;
    const ask = book.bestAsk()! as Ticks;
    const farBid = (book.bestBid()! - 100_000) as Ticks; // 1000 USDT below: rests
    const mkt = await venue.submit({ clientOrderId: clientOrderId('cbMarket1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: 100 as Lots, timeInForce: 'GTC' });
    const lim = await venue.submit({ clientOrderId: clientOrderId('cbLimit1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', lots: 200 as Lots, price: farBid, timeInForce: 'GTC' });
    const open = await venue.fetchOpenOrders();
    const byCid = await venue.fetchOrder('BTC/USDT', clientOrderId('cbLimit1'));
    const missing = await venue.fetchOrder('BTC/USDT', clientOrderId('cbNeverSent'));
    const balancesOpen = await venue.fetchBalances();
    const trades = await venue.fetchMyTrades('BTC/USDT');
    const cancel = await venue.cancel('BTC/USDT', clientOrderId('cbLimit1'));
    const cancelAgain = await venue.cancel('BTC/USDT', clientOrderId('cbLimit1'));
    const afterCancel = await venue.fetchOrder('BTC/USDT', clientOrderId('cbLimit1'));
    const openAfter = await venue.fetchOpenOrders('BTC/USDT');
    const sinceLast = await venue.fetchMyTrades('BTC/USDT', trades.at(-1)!.tradeId);
    const usdt = (await venue.fetchBalances()).find((b) => b.asset === 'USDT')!;

    expect(mkt.status).toBe('accepted');
    expect(lim.status).toBe('accepted');
    expect(open).toEqual([expect.objectContaining({
      clientOrderId: 'cbLimit1', venueOrderId: lim.status === 'accepted' ? lim.venueOrderId : '', side: 'buy', orderType: 'limit', price: farBid, lots: 200, filledLots: 0, status: 'accepted',
    })]);
    expect(byCid).toMatchObject({ clientOrderId: 'cbLimit1', status: 'accepted', price: farBid });
    expect(missing).toBeUndefined();
    expect(balancesOpen.find((b) => b.asset === 'USDT')!.locked).toBe(notional(BTC, farBid, 200 as Lots));
    expect(balancesOpen.find((b) => b.asset === 'BTC')!.free).toBe(1_000_000n - 1_000n);
    expect(trades).toEqual([expect.objectContaining({
      venueOrderId: mkt.status === 'accepted' ? mkt.venueOrderId : '', side: 'buy', price: ask, lots: 100, fee: 1_000n, feeAsset: 'BTC', liquidity: 'taker', venue: 'sim',
    })]);
    expect([cancel.status, cancelAgain.status]).toEqual(['cancelled', 'notOpen']);
    expect(afterCancel?.status).toBe('cancelled');
    expect(openAfter).toEqual([]);
    expect(sinceLast).toEqual([]);
    expect(usdt).toEqual({ asset: 'USDT', free: money('10000') - notional(BTC, ask, 100 as Lots), locked: 0n });
  });

  it('returns a venue rejection as a classified error: insufficient funds is rejected, never retried', async () => {
    const err = await venue.submit({ clientOrderId: clientOrderId('cbTooBig'), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', lots: 1_000_000 as Lots, price: 6_000_000 as Ticks, timeInForce: 'GTC' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'rejected', code: 'INSUFFICIENT_FUNDS' });
  });
});
