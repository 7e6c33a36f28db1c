// Review finding (MEXC live execution #1): MEXC's myTrades has no trade-id cursor and answers at most 100 trades, so a
// reconciliation that asked for "recent trades" booked only the newest page and lost the older ones for good. The real
// reconcile() with CcxtExecVenue and ccxt's MEXC client against the simulator's MEXC dialect (which selects by time and
// answers at most 100 trades, the newest of its range): every trade after the last booked one is booked, once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reconcile } from '../../../actors/trading-executor/reconcile.ts';
import { clientOrderId } from '../../../engine/types/ids.ts';
import type { Lots } from '../../../engine/types/price.ts';
import type { CcxtExecVenue } from '../../../engine/venues/ccxt-exec.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import type { VenueTrade } from '../../../engine/venues/venue.ts';
import { bookingHost } from './booking-host.ts';
import { mexcSimVenue } from './mexc-sim-venue.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const KEY = 'mexcTradesKey0001';
const SECRET = 'mexc-trades-secret-0001';

let sim: ExchangeSim;
beforeEach(async () => {
  sim = await startExchangeSim({ files: FILES, speed: 'manual', accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '100000000' } }] });
  await sim.replay.advanceBy(5_000);
});
afterEach(async () => {
  await sim?.close();
});

/** A fresh CcxtExecVenue on the MEXC dialect (as a new process has: no trade read yet). */
const mexcVenue = (): CcxtExecVenue => mexcSimVenue(sim, { apiKey: KEY, secret: SECRET });

/** Market buys of 8 BTC one replayed second apart: well over 100 trades, in four milliseconds that each hold fewer. */
async function sweeps(venue: CcxtExecVenue): Promise<void> {
  for (let i = 1; i <= 4; i++) {
    const r = await venue.submit({ clientOrderId: clientOrderId(`cbSweep${i}`), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: 800_000 as Lots, timeInForce: 'GTC' });
    expect(r.status).toBe('accepted');
    await sim.replay.advanceBy(1_000);
  }
}

const venueTradeIds = (): string[] => [...sim.venue.accounts.values()][0]!.trades.map((t) => String(t.fill.tradeId));

describe('CcxtExecVenue on MEXC: trade history read by time', () => {
  it('books every trade since the last booked one when more than one MEXC page of them arrived, and a second run changes nothing', async () => {
    const venue = mexcVenue();
    const booked = new Map<string, VenueTrade>();
    const host = bookingHost(venue, booked);
    await venue.submit({ clientOrderId: clientOrderId('cbSmall1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: 100 as Lots, timeInForce: 'GTC' });
    await sim.replay.advanceBy(1_000);
    const first = await reconcile(host, { balances: false, symbols: ['BTC/USDT'] });
    await sweeps(venue);

    const run1 = await reconcile(host, { balances: false, symbols: ['BTC/USDT'] });
    const run2 = await reconcile(host, { balances: false, symbols: ['BTC/USDT'] });

    const all = venueTradeIds();
    expect(first.fillsApplied).toBe(1);
    expect(all.length - 1).toBeGreaterThan(100);
    expect(run1.fillsApplied).toBe(all.length - 1);
    expect([...booked.keys()].sort()).toEqual([...all].sort());
    expect(run2.fillsApplied).toBe(0);
    expect(booked.size).toBe(all.length);
    const orderLots = await Promise.all([1, 2, 3, 4].map(async (i) => (await venue.fetchOrder('BTC/USDT', clientOrderId(`cbSweep${i}`)))!.filledLots));
    expect([...booked.values()].reduce((a, t) => a + t.lots, 0)).toBe(100 + orderLots.reduce((a, l) => a + l, 0));
  });

  it('after a restart (a trade id it has not read) finds that trade by walking back in time and returns every later one, oldest first', async () => {
    const before = mexcVenue();
    await before.submit({ clientOrderId: clientOrderId('cbSmall2'), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: 100 as Lots, timeInForce: 'GTC' });
    await sim.replay.advanceBy(1_000);
    const cursor = (await before.fetchMyTrades('BTC/USDT')).at(-1)!.tradeId;
    await sweeps(before);

    const after = await mexcVenue().fetchMyTrades('BTC/USDT', cursor);

    expect(after.map((t) => t.tradeId)).toEqual(venueTradeIds().filter((id) => id !== cursor));
    expect(after.map((t) => t.ts)).toEqual([...after.map((t) => t.ts)].sort((a, b) => a - b));
  });

  it('returns the page MEXC lists for a millisecond holding more of our trades than a page, without looping or failing', async () => {
    // One sweep of 30 BTC: over 100 trades in one millisecond, which no time range can split (see MEXC_TRADES_PAGE_FULL).
    const venue = mexcVenue();
    await venue.submit({ clientOrderId: clientOrderId('cbHuge1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: 3_000_000 as Lots, timeInForce: 'GTC' });

    const trades = await venue.fetchMyTrades('BTC/USDT');

    expect(venueTradeIds().length).toBeGreaterThan(100);
    expect(new Set([...sim.venue.accounts.values()][0]!.trades.map((t) => Math.floor(t.fill.ts))).size).toBe(1);
    expect(trades.length).toBe(100);
    expect(trades.map((t) => t.tradeId)).toEqual(venueTradeIds().slice(-100));
  });
});
