// A first start on an account whose history holds one order of many trades (an order this engine did not place, sized
// by its trades): every trade copied the record's whole tradeIds list and scanned it, so the start grew quadratically
// with the trades of one order (/tmp/rv/recon2/first-start.mts 40000 40000: 56 s). The list kept on the record is
// bounded; a trade seen twice is told by the store's keyed fills, however old it is.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { TRADE_IDS_KEPT, newOrder, transition } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { venueOrderId } from '../../../engine/types/ids.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { VenueTrade } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const stores: Array<ReturnType<typeof tempStore>> = [];
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const s of stores.splice(0)) await s.cleanup();
});

const N = 5_000;
const trade = (i: number): VenueTrade => ({
  venueOrderId: venueOrderId('1000000'), tradeId: String(i), venue: 'paper', symbol: 'BTC/USDT', side: 'buy', price: 6_183_763 as Ticks,
  lots: 1 as Lots, fee: 0n as Money, feeAsset: 'USDT', liquidity: 'taker', ts: 0,
});

describe('an adopted order of many trades', () => {
  it(`books all ${N} at start, keeps a bounded list of trade ids, and still refuses its oldest trade seen again`, async () => {
    const venue = new PollVenue();
    for (let i = 1; i <= N; i++) venue.trades.push(trade(i));
    const s = tempStore(undefined, { syncCommits: false });
    stores.push(s);
    const clock = new SimulatedClock(1_723_161_300_000);
    const ex = new TradingExecutor({ bus: recordingBus().bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: capturingLogger().logger, pollMs: 2000, rng: () => 0.5 });
    stops.push(() => ex.stop());
    await ex.start();
    const o = ex.order('venue-1000000');
    expect(o).toMatchObject({ filledLots: N, intent: { lots: N }, adopted: true });
    expect(ex.position('BTC/USDT')?.netLots).toBe(N);
    expect(s.store.lastTradeId('paper', 'BTC/USDT')).toBe(String(N));
    expect(o!.tradeIds.length).toBeLessThanOrEqual(TRADE_IDS_KEPT);
    expect(o!.tradeIds.at(-1)).toBe(String(N));

    // The first trade, long out of the kept list, read again (a history re-read, a trade by order id): no second booking.
    expect(await ex.applyTrade(trade(1))).toBe('duplicate');
    expect(await ex.applyTrade({ ...trade(1), clientOrderId: o!.clientOrderId })).toBe('duplicate');
    expect(ex.order('venue-1000000')?.filledLots).toBe(N);
    expect(ex.position('BTC/USDT')?.netLots).toBe(N);
  }, 60_000);

  it('transition: a trade the store holds is a no-op even when the record no longer lists it', () => {
    const o = { ...newOrder(limitIntent('x', 6_183_763, { lots: 10 as Lots }), 'paper', 0), status: 'partiallyFilled' as const, filledLots: 2 as Lots };
    const f = { ...trade(1), clientOrderId: o.clientOrderId };
    const r = transition(o, { type: 'fill', fill: f }, 1, () => 0n as Money, (id) => id === '1');
    expect(r.kind).toBe('noop');
    expect(transition(o, { type: 'fill', fill: f }, 1, () => 0n as Money).kind).toBe('ok');
  });

  it('transition keeps at most TRADE_IDS_KEPT trade ids, the newest', () => {
    let o = { ...newOrder(limitIntent('y', 6_183_763, { lots: (TRADE_IDS_KEPT + 5) as Lots }), 'paper', 0), status: 'accepted' as const } as ReturnType<typeof newOrder>;
    for (let i = 1; i <= TRADE_IDS_KEPT + 5; i++) {
      const r = transition(o, { type: 'fill', fill: { ...trade(i), clientOrderId: o.clientOrderId } }, i, () => 0n as Money);
      if (r.kind !== 'ok') throw new Error(r.kind);
      o = r.order;
    }
    expect(o.filledLots).toBe(TRADE_IDS_KEPT + 5);
    expect(o.tradeIds).toHaveLength(TRADE_IDS_KEPT);
    expect(o.tradeIds[0]).toBe('6');
  });
});
