// MEXC's history has no trade-id cursor: it is read by time from the cursor trade's millisecond (that trade left out),
// ids are not numbers, and one answer holds every later trade (myTradesComplete). Two of our trades in one millisecond
// made the cursor flip between them on every reconcile, each flip an LMDB write (/tmp/rv/recon2/mexc-flipflop.mts).
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { venueOrderId } from '../../../engine/types/ids.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { VenueTrade } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const stores: Array<ReturnType<typeof tempStore>> = [];
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const s of stores.splice(0)) await s.cleanup();
});

class MexcLike extends PollVenue {
  readonly myTradesComplete = true;
  override async fetchMyTrades(_s: string, since?: string): Promise<VenueTrade[]> {
    this.calls.push('fetchMyTrades');
    const from = since === undefined ? undefined : this.trades.find((t) => t.tradeId === since)?.ts;
    return this.trades.filter((t) => t.tradeId !== since && (from === undefined || t.ts >= from))
      .sort((x, y) => x.ts - y.ts || (x.tradeId < y.tradeId ? -1 : 1));
  }
}

const trade = (id: string, ts: number): VenueTrade => ({
  venueOrderId: venueOrderId('77'), tradeId: id, venue: 'paper', symbol: 'BTC/USDT', side: 'buy', price: 6_183_763 as Ticks, lots: 1 as Lots,
  fee: 0n as Money, feeAsset: 'USDT', liquidity: 'taker', ts,
});

describe('the trade cursor with trades sharing a millisecond (MEXC)', () => {
  it('stays put, and is not written, when reconciles find nothing new; a new trade still moves it', async () => {
    const venue = new MexcLike();
    venue.trades.push(trade('b', 100), trade('c', 100));
    const s = tempStore(undefined, { syncCommits: true });
    stores.push(s);
    let writes = 0;
    const set = s.store.setLastTradeId.bind(s.store);
    s.store.setLastTradeId = async (v, sym, id) => { writes++; return set(v, sym, id); };
    const clock = new SimulatedClock(1_723_161_300_000);
    const ex = new TradingExecutor({ bus: recordingBus().bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: capturingLogger().logger, pollMs: 2000, rng: () => 0.5 });
    stops.push(() => ex.stop());
    await ex.start();
    const cursor = () => s.store.lastTradeId('paper', 'BTC/USDT');
    const first = cursor();
    const afterStart = writes;
    const seen: Array<string | undefined> = [];
    for (let i = 0; i < 6; i++) {
      await ex.reconcile({ balances: false });
      seen.push(cursor());
    }
    expect(seen).toEqual(Array(6).fill(first));
    expect(writes).toBe(afterStart);
    expect(ex.order('venue-77')?.filledLots).toBe(2);

    venue.trades.push(trade('a', 101));
    await ex.reconcile({ balances: false });
    expect(cursor()).toBe('a');
    expect(ex.order('venue-77')?.filledLots).toBe(3);
  });
});
