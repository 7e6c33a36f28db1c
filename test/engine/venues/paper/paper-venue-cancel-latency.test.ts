// A cancel reaches a real venue `latencyMs` after it is sent: a resting order can still fill in that window (the
// cancel/fill race), and then the venue answers -2011 (notOpen). The paper venue must show the same race, or paper
// results are kinder than live. Real Binance BTC/USDT increments, a hand-set book, prints told explicitly.
import { describe, expect, it } from 'vitest';
import { OrderBook } from '../../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { PaperVenue } from '../../../../engine/venues/paper/paper-venue.ts';
import type { CancelResult, VenueEvent } from '../../../../engine/venues/venue.ts';
import { clientOrderId } from '../../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { money } from '../../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const ASK = 100_000 as Ticks;

/** A resting sell of 0.01 BTC at the best ask (behind 1_000 market lots), active once the latency passed. */
function resting(latencyMs: number) {
  const clock = new SimulatedClock(1_000);
  const book = new OrderBook('BTCUSDT');
  book.set('bid', 99_900 as Ticks, 1_000 as Lots);
  book.set('ask', ASK, 1_000 as Lots);
  const venue = new PaperVenue({
    clock, instruments: [BTC], books: { 'BTC/USDT': book }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs,
    balances: { BTC: money('1') },
  });
  const events: VenueEvent[] = [];
  venue.onEvent((e) => events.push(e));
  const cid = clientOrderId('s1');
  venue.submitNow({ clientOrderId: cid, symbol: 'BTC/USDT', side: 'sell', orderType: 'limit', price: ASK, lots: 1_000 as Lots, timeInForce: 'GTC' });
  clock.advance(latencyMs + 1);
  const answers: CancelResult[] = [];
  const cancel = (): Promise<CancelResult> => venue.cancel('BTC/USDT', cid).then((r) => (answers.push(r), r));
  // A buy print above the ask goes through the resting sell: it fills completely.
  const printThrough = (): void => venue.onTrade('BTC/USDT', (ASK + 10) as Ticks, 5_000 as Lots, false, clock.now());
  const shown = (): string[] => events.map((e) => (e.kind === 'fill' ? `fill ${e.fill.lots}@${e.fill.price}` : `${e.status}@${e.ts}`));
  return { clock, venue, events, cid, answers, cancel, printThrough, shown };
}

describe('PaperVenue cancel under latency', () => {
  it('fills an order the market trades through before the cancel lands, and answers the cancel notOpen', async () => {
    const s = resting(50);
    const sent = s.clock.now();
    const answer = s.cancel();
    s.clock.advance(20);
    s.printThrough();
    s.clock.advance(30);

    expect(await answer).toEqual({ status: 'notOpen' });
    expect(s.shown()).toEqual(['fill 1000@100000']);
    expect((await s.venue.fetchOrder('BTC/USDT', s.cid))?.status).toBe('filled');
    expect(s.clock.now()).toBe(sent + 50);
  });

  it('cancels when the cancel lands before the print, and answers then, not when sent', async () => {
    const s = resting(50);
    const sent = s.clock.now();
    const answer = s.cancel();
    await Promise.resolve();
    const openWhileInFlight = (await s.venue.fetchOpenOrders()).map((o) => o.clientOrderId);
    const answeredEarly = s.answers.length;
    const inFlight = s.venue.cancelsInFlight;
    s.clock.advance(50);
    s.printThrough();

    expect(openWhileInFlight).toEqual([s.cid]);
    expect(answeredEarly).toBe(0);
    expect([inFlight, s.venue.cancelsInFlight]).toEqual([1, 0]);
    expect(await answer).toEqual({ status: 'cancelled', ts: sent + 50 });
    expect(s.shown()).toEqual([`cancelled@${sent + 50}`]);
  });

  it('answers a second cancel of the same order notOpen once the first landed', async () => {
    const s = resting(50);
    const first = s.cancel();
    s.clock.advance(10);
    const second = s.cancel();
    s.clock.advance(50);

    expect([(await first).status, (await second).status]).toEqual(['cancelled', 'notOpen']);
  });

  it('with latency 0 cancels at once, before the clock moves', async () => {
    const s = resting(0);
    const at = s.clock.now();
    const answer = await s.cancel();
    s.printThrough();

    expect(answer).toEqual({ status: 'cancelled', ts: at });
    expect(s.shown()).toEqual([`cancelled@${at}`]);
  });
});
