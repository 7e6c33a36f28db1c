// STOP_LOSS_LIMIT in the exchange simulator, driven through CcxtExecVenue and the unmodified ccxt binance client
// (type STOP_LOSS_LIMIT with stopPrice): the untriggered stop rests listed as NEW with its stopPrice and locks the base
// asset (a market sell of the same quantity is refused), a cancel frees it, a stop at or above the last price is
// refused as Binance refuses it, so is one whose limit price is outside PERCENT_PRICE_BY_SIDE, and a recorded print at
// or below the stop price triggers it into a working limit order under the same order id that fills like any other.
// MEXC spot has no stop orders: refused before any call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { clientOrderId } from '../../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';
import { CcxtExecVenue, type CcxtOrderApi } from '../../../../engine/venues/ccxt-exec.ts';
import type { ExchangeSim } from '../../../../engine/venues/sim/server.ts';
import { VenueCallError } from '../../../../engine/venues/venue.ts';
import { simWithCcxtVenue } from './ccxt-exec-rig.ts';
import { isRefusedForGood } from '../../../../actors/trading-executor/protective-stop.ts';
import type { OrderRecord } from '../../../../actors/trading-executor/logic.ts';

const KEY = 'stopTestKey0001';
const SECRET = 'stop-test-secret-0001';
const LOTS = 10_000 as Lots; // 0.1 BTC

let sim: ExchangeSim;
let venue: CcxtExecVenue;

beforeAll(async () => {
  ({ sim, venue } = await simWithCcxtVenue({ apiKey: KEY, secret: SECRET, balances: { USDT: '100000', BTC: '1' } }));
}, 60_000);
afterAll(async () => {
  await sim?.close();
});

const last = (): Ticks => sim.venue.market('BTCUSDT').lastPrice()!;
const btc = async () => (await venue.fetchBalances()).find((b) => b.asset === 'BTC')!;
const stop = (cid: string, stopPrice: number, price: number) => venue.submit({
  clientOrderId: clientOrderId(cid), symbol: 'BTC/USDT', side: 'sell', orderType: 'stopLossLimit', lots: LOTS, price: price as Ticks, stopPrice: stopPrice as Ticks, timeInForce: 'GTC',
});

describe('STOP_LOSS_LIMIT in the exchange simulator', () => {
  it('rests untriggered with its stop price, locks the base asset until cancelled, and refuses a sell of what it locks', async () => {
    const sp = last() - 50_000; // 500 USDT below the last print
    const placed = await stop('pstop-rest-1', sp, sp - 1_000);
    const pending = sim.venue.pendingStops().map((o) => o.clientOrderId);
    const open = await venue.fetchOpenOrders('BTC/USDT');
    const locked = await btc();
    const sell = await venue.submit({ clientOrderId: clientOrderId('cbSellLocked1'), symbol: 'BTC/USDT', side: 'sell', orderType: 'market', lots: (100_000 - LOTS + 1) as Lots, timeInForce: 'GTC' })
      .catch((e: unknown) => e);
    const cancelled = await venue.cancel('BTC/USDT', clientOrderId('pstop-rest-1'));
    const after = await venue.fetchOrder('BTC/USDT', clientOrderId('pstop-rest-1'));
    const freed = await btc();

    expect(placed.status).toBe('accepted');
    expect(pending).toEqual(['pstop-rest-1']);
    expect(open).toEqual([expect.objectContaining({ clientOrderId: 'pstop-rest-1', orderType: 'stopLossLimit', stopPrice: sp, price: sp - 1_000, lots: LOTS, filledLots: 0, status: 'accepted' })]);
    expect(locked.locked).toBe(100_000_000n); // 0.1 BTC in 1e-9
    expect(sell).toBeInstanceOf(VenueCallError);
    expect((sell as VenueCallError).code).toBe('INSUFFICIENT_FUNDS');
    expect(cancelled.status).toBe('cancelled');
    expect(after).toMatchObject({ orderType: 'stopLossLimit', stopPrice: sp, status: 'cancelled' });
    expect(freed.locked).toBe(0n);
  });

  it('refuses a sell stop at or above the last price: it would trigger at once', async () => {
    const err = await stop('pstop-high-1', last(), last() - 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VenueCallError);
    expect((err as VenueCallError).kind).toBe('rejected');
    expect((err as VenueCallError).message).toContain('Stop price would trigger immediately');
  });

  it('refuses a stop whose limit price is under 0.2 times the average price (PERCENT_PRICE_BY_SIDE), a refusal the protective stop retries', async () => {
    const sp = last() - 50_000;
    const err = await stop('pstop-far-1', sp, Math.floor(last() * 0.15)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VenueCallError);
    expect((err as VenueCallError).kind).toBe('rejected');
    expect((err as VenueCallError).message).toContain('Filter failure: PERCENT_PRICE_BY_SIDE');
    // It clears as the average moves: not one of the refusals the executor holds for good.
    expect(isRefusedForGood({ reason: (err as VenueCallError).message } as OrderRecord)).toBe(false);
    expect(sim.venue.pendingStops()).toEqual([]);
  });

  it('triggers on a print at or below the stop price and fills under the same order id', async () => {
    const at = last();
    const seen: number[] = [];
    sim.venue.market('BTCUSDT').onPrint((p) => void seen.push(p));
    // One tick below the last print: the recording soon prints there or lower (bounded at two minutes of it).
    const placed = await stop('pstop-trig-1', at - 1, at - 2_000);
    const untriggered = sim.venue.pendingStops().map((o) => o.clientOrderId);
    const beforeBtc = await btc();
    for (let i = 0; i < 120 && !seen.some((p) => p <= at - 1); i++) await sim.replay.advanceBy(1_000);
    const low = Math.min(...seen);
    const o = await venue.fetchOrder('BTC/USDT', clientOrderId('pstop-trig-1'));
    const trades = await venue.fetchOrderTrades!('BTC/USDT', o!.venueOrderId);
    const afterBtc = await btc();

    expect(placed.status).toBe('accepted');
    expect(untriggered).toEqual(['pstop-trig-1']);
    expect(low).toBeLessThanOrEqual(at - 1);
    expect(sim.venue.pendingStops()).toEqual([]);
    expect(o).toMatchObject({ orderType: 'stopLossLimit', stopPrice: at - 1, status: 'filled', filledLots: LOTS });
    expect(trades.reduce((n, t) => n + t.lots, 0)).toBe(LOTS);
    expect(trades.every((t) => t.side === 'sell' && t.price >= at - 2_000 && t.venueOrderId === o!.venueOrderId)).toBe(true);
    expect(afterBtc.free + afterBtc.locked).toBe(beforeBtc.free + beforeBtc.locked - 100_000_000n);
  });
});

describe('stop orders on MEXC', () => {
  it('are refused before anything is sent: MEXC spot has no stop orders', async () => {
    let calls = 0;
    const stub = { createOrder: async () => void calls++ } as unknown as CcxtOrderApi;
    const mexc = new CcxtExecVenue({ exchange: stub, venue: 'mexc', instruments: [makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'mexc' })], clock: new SimulatedClock(0) });
    const err = await mexc.submit({ clientOrderId: clientOrderId('pstop-mexc-1'), symbol: 'BTC/USDT', side: 'sell', orderType: 'stopLossLimit', lots: LOTS, price: 1 as Ticks, stopPrice: 2 as Ticks, timeInForce: 'GTC' })
      .catch((e: unknown) => e);
    expect(mexc.supportsStopOrders).toBe(false);
    expect(err).toBeInstanceOf(VenueCallError);
    expect((err as VenueCallError).code).toBe('UNSUPPORTED_ORDER_TYPE');
    expect(calls).toBe(0);
  });
});
