// Task H2 (reconciliation paging and MEXC fills), against the simulator with the real ccxt clients:
// 1. MEXC's adapter answers every trade after the cursor at once, so a reconcile that found trades must not ask again
//    (it sent one more myTrades request than needed); Binance (fromId, 1000 a page) still pages until a page is empty.
// 2. MEXC answers at most 100 trades and selects by time: more than 100 of our fills in one millisecond were lost
//    (their orders reported FILLS_MISSING). MEXC's myTrades also selects by orderId: that millisecond is read per order.
import ccxt from 'ccxt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reconcile } from '../../../actors/trading-executor/reconcile.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots } from '../../../engine/types/price.ts';
import { binanceCcxtOptions } from '../../../engine/venues/binance/rest.ts';
import { CcxtExecVenue } from '../../../engine/venues/ccxt-exec.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import type { VenueTrade } from '../../../engine/venues/venue.ts';
import { bookingHost } from './booking-host.ts';
import { mexcSimVenue } from './mexc-sim-venue.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const KEY = 'h2TradesKey0001';
const SECRET = 'h2-trades-secret-0001';

let sim: ExchangeSim;
const myTradesRequests: string[] = [];
beforeEach(async () => {
  sim = await startExchangeSim({ files: FILES, speed: 'manual', accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '100000000' } }] });
  await sim.replay.advanceBy(5_000);
  myTradesRequests.length = 0;
  sim.events.on('request', (r: { path: string }) => {
    if (r.path.endsWith('/api/v3/myTrades')) myTradesRequests.push(r.path);
  });
});
afterEach(async () => {
  await sim?.close();
});

const mexcVenue = (): CcxtExecVenue => mexcSimVenue(sim, { apiKey: KEY, secret: SECRET });

const binanceVenue = (): CcxtExecVenue => new CcxtExecVenue({
  exchange: new ccxt.binance(binanceCcxtOptions({ baseUrl: sim.url, apiKey: KEY, secret: SECRET, rateLimit: false }) as never) as never,
  venue: 'sim', instruments: [makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'sim' })], clock: new SimulatedClock(sim.clock.now()),
});

const buy = async (venue: CcxtExecVenue, cid: string, lots: number): Promise<void> => {
  const r = await venue.submit({ clientOrderId: clientOrderId(cid), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: lots as Lots, timeInForce: 'GTC' });
  expect(r.status).toBe('accepted');
};

const simTrades = () => [...sim.venue.accounts.values()][0]!.trades;

describe('reconcile asks a venue whose answer holds every trade only once', () => {
  it('on MEXC: one myTrades request per run that finds trades, none repeated', async () => {
    const venue = mexcVenue();
    const booked = new Map<string, VenueTrade>();
    await buy(venue, 'cbH2Small1', 100);
    await sim.replay.advanceBy(1_000);
    const before = myTradesRequests.length;

    const run = await reconcile(bookingHost(venue, booked), { balances: false, symbols: ['BTC/USDT'] });

    expect(run.fillsApplied).toBe(1);
    expect(myTradesRequests.length - before).toBe(1);
  });

  it('on Binance: still pages (fromId) until a page brings nothing new', async () => {
    const venue = binanceVenue();
    const booked = new Map<string, VenueTrade>();
    await buy(venue, 'cbH2Small2', 100);
    await sim.replay.advanceBy(1_000);
    const before = myTradesRequests.length;

    const run = await reconcile(bookingHost(venue, booked), { balances: false, symbols: ['BTC/USDT'] });

    expect(run.fillsApplied).toBe(1);
    expect(myTradesRequests.length - before).toBe(2);
  });
});

describe('MEXC: a millisecond holding more than a page of our trades', () => {
  it('is read per order id, so every fill of the orders on its page is booked and each order\'s booked lots match the venue', async () => {
    // Two sweeps of 10 BTC in the same replayed millisecond: over 100 trades there, each order with fewer than 100.
    const venue = mexcVenue();
    const booked = new Map<string, VenueTrade>();
    await buy(venue, 'cbH2Sweep1', 1_000_000);
    await buy(venue, 'cbH2Sweep2', 1_000_000);
    const all = simTrades();
    const perOrder = new Map<number, number>();
    for (const t of all) perOrder.set(t.fill.orderId, (perOrder.get(t.fill.orderId) ?? 0) + 1);

    const run = await reconcile(bookingHost(venue, booked), { balances: false, symbols: ['BTC/USDT'] });
    const again = await reconcile(bookingHost(venue, booked), { balances: false, symbols: ['BTC/USDT'] });

    expect(all.length).toBeGreaterThan(100);
    expect(new Set(all.map((t) => Math.floor(t.fill.ts))).size).toBe(1);
    expect(perOrder.size).toBe(2);
    expect([...perOrder.values()].every((n) => n < 100)).toBe(true);
    expect(run.fillsApplied).toBe(all.length);
    expect([...booked.keys()].sort()).toEqual(all.map((t) => String(t.fill.tradeId)).sort());
    for (const cid of ['cbH2Sweep1', 'cbH2Sweep2']) {
      const o = (await venue.fetchOrder('BTC/USDT', clientOrderId(cid)))!;
      const lots = [...booked.values()].filter((t) => t.venueOrderId === o.venueOrderId).reduce((a, t) => a + t.lots, 0);
      expect(o.status).toBe('filled');
      expect(lots).toBe(o.filledLots);
    }
    expect(again.fillsApplied).toBe(0);
  });
});
