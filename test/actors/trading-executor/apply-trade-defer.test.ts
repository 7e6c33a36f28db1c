// Task H2 #3: reconcile deferred a trade of an unknown order on a symbol with an unresolved order through its own
// copy of applyTrade's known-order lookup, outside the executor's serial queue. applyTrade now takes `deferSymbols`:
// one defer path, decided at the trade's turn in the queue.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { newOrder } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { venueOrderId } from '../../../engine/types/ids.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { VenueTrade } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const T0 = 1_723_161_300_000;
const PX = 6_183_763 as Ticks;

const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

const trade = (tradeId: number, vid: string, lots: number): VenueTrade => ({
  venueOrderId: venueOrderId(vid), tradeId: String(tradeId), venue: 'paper', symbol: 'BTC/USDT', side: 'buy', price: PX, lots: lots as Lots,
  fee: 0n as Money, feeAsset: 'BTC', liquidity: 'maker', ts: T0,
});

function world() {
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const ex = new TradingExecutor({
    bus: recordingBus().bus, clock: new SimulatedClock(T0), venue: new PollVenue(), store: s.store, instruments: [{ ...BTC }], log: capturingLogger().logger,
  });
  return { ...s, ex };
}

describe('applyTrade with deferSymbols', () => {
  it('leaves a trade of an unknown order on such a symbol unbooked, and adopts it without the option', async () => {
    const w = world();
    const deferSymbols = new Set(['BTC/USDT']);

    const deferred = await w.ex.applyTrade(trade(21, 'v-stranger', 100), { deferSymbols });
    const fillsAfterDefer = w.store.fillsOf('paper', 'BTC/USDT').length;
    const adopted = await w.ex.applyTrade(trade(21, 'v-stranger', 100));

    expect([deferred, fillsAfterDefer]).toEqual(['deferred', 0]);
    expect(adopted).toBe('adopted');
  });

  it('books a trade of an order whose venue id an event queued before it teaches (the lookup runs at its turn)', async () => {
    const w = world();
    const o = { ...newOrder(limitIntent('q', PX, { lots: 500 as Lots }), 'paper', T0 - 60_000), status: 'submitted' as const };
    await w.store.commit({ order: o });
    const vid = venueOrderId('v-q');

    const accepted = w.ex.apply(o.clientOrderId, { type: 'accepted', venueOrderId: vid });
    const out = await w.ex.applyTrade(trade(31, vid, 200), { deferWhileSubmitting: true, deferSymbols: new Set(['BTC/USDT']) });
    await accepted;

    expect(out).toBe('booked');
    expect(w.ex.order(o.clientOrderId)).toMatchObject({ filledLots: 200, tradeIds: ['31'] });
  });
});
