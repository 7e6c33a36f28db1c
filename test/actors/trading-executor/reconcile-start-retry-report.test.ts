// The start-up reconciliation is retried until it succeeds; an attempt that failed part way had already booked the
// fills it read (for good: the trade cursor moved past them, so the retry does not read them again). The start's
// report and its exec.reconciled counted the last attempt only, so a start that booked a missed fill said 0.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { newOrder, type OrderRecord } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { venueOrderId, type ClientOrderId } from '../../../engine/types/ids.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { VenueCallError, type VenueBalance } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const T0 = 1_723_161_300_000;
const PX = 6_183_763 as Ticks;

const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

describe('the start-up reconciliation report after a retry', () => {
  it('counts the fill an attempt booked before the connection dropped', async () => {
    const s = tempStore(undefined, { syncCommits: true });
    stores.push(s);
    const clock = new SimulatedClock(T0);
    const venue = new PollVenue();
    const o = newOrder(limitIntent('a', PX, { lots: 500 as Lots }), 'paper', T0 - 60_000);
    const vid = venueOrderId('v-a');
    const accepted: OrderRecord = { ...o, status: 'accepted', venueOrderId: vid };
    await s.store.commit({ order: accepted });
    // While we were down the order filled 100 lots of 500, still open.
    venue.orders = [{ clientOrderId: o.clientOrderId as ClientOrderId, venueOrderId: vid, symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', timeInForce: 'GTC', price: PX, lots: 500 as Lots, filledLots: 100 as Lots, status: 'partiallyFilled', ts: T0 }];
    venue.trades = [{ venueOrderId: vid, tradeId: '11', venue: 'paper', symbol: 'BTC/USDT', side: 'buy', price: PX, lots: 100 as Lots, fee: 0n as Money, feeAsset: 'BTC', liquidity: 'maker', ts: T0 }];
    // The balances come last: the first attempt has booked the fill when its balance read fails.
    let balanceCalls = 0;
    venue.fetchBalances = async (): Promise<VenueBalance[]> => {
      if (balanceCalls++ === 0) throw new VenueCallError('unknown', 'NETWORK', 'read ECONNRESET');
      return [];
    };
    const rec = recordingBus();
    const cap = capturingLogger();
    const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, rng: () => 0.5 });
    const started = ex.start();
    started.catch(() => undefined);
    await drive(clock, () => ex.state !== 'reconciling', 100, 100).catch(() => undefined);
    if (ex.state !== 'live') ex.stop();
    expect(ex.state).toBe('live');
    const report = await started;
    await ex.idle();

    expect(balanceCalls).toBe(2);
    expect(cap.codes()).toContain('RECONCILE_FAILED');
    expect(ex.order(o.clientOrderId)).toMatchObject({ status: 'partiallyFilled', filledLots: 100, tradeIds: ['11'] });
    expect(report).toMatchObject({ fillsApplied: 1 });
    expect(rec.seen.filter((m) => m.type === 'exec.reconciled').at(-1)).toMatchObject({ fillsApplied: 1 });
    ex.stop();
  });
});
