// The executor over a venue that pushes no events (ccxt REST): fills reach it only through the poll's reconciliation,
// so every path that closes an order must still read that order's trades.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { Lots } from '../../../engine/types/price.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const T0 = 1_723_161_300_000;
const POLL_MS = 2_000;
const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

async function setup() {
  const clock = new SimulatedClock(T0);
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const venue = new PollVenue();
  const rec = recordingBus();
  const cap = capturingLogger();
  const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: POLL_MS, rng: () => 0.5 });
  await ex.start();
  const settle = () => drive(clock, () => !ex.busy);
  const approve = async (id: string, lots: number) => {
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent(id, 6_183_763, { lots: lots as Lots }), ts: clock.now() });
    await settle();
    return clientOrderIdFor(id);
  };
  const cancel = async (id: string) => {
    rec.bus.publish({ type: 'exec.cancelOrder', clientOrderId: clientOrderIdFor(id), reason: 'strategy' });
    await settle();
  };
  /** Lets `n` poll periods pass. */
  const polls = async (n: number) => {
    for (let i = 0; i < n; i++) {
      clock.advance(POLL_MS);
      await settle();
    }
  };
  return { clock, venue, ex, ...rec, ...cap, settle, approve, cancel, polls };
}

describe('TradingExecutor over a venue that pushes no events', () => {
  // The cancelled order left no open order on its symbol, so no poll read the fills it got before.
  it('books the fills a partly filled order got before its cancel, with no other order open', async () => {
    const w = await setup();
    const cid = await w.approve('a', 500);
    w.venue.fill(cid, 200);
    await w.cancel('a');
    await w.polls(3);
    const o = w.ex.order(cid);
    expect([o?.status, o?.filledLots]).toEqual(['cancelled', 200]);
    expect(w.ex.position('BTC/USDT')?.netLots).toBe(200);
    expect(w.of('exec.orderPartiallyFilled').map((m) => [m.fill.clientOrderId, m.fill.lots])).toEqual([[cid, 200]]);
  });

  it('books the fills of an order the venue closed itself when our cancel finds it no longer open', async () => {
    const w = await setup();
    const cid = await w.approve('a', 500);
    w.venue.fill(cid, 200);
    w.venue.orders = w.venue.orders.map((o) => (o.clientOrderId === cid ? { ...o, status: 'expired' } : o));
    await w.cancel('a');
    await w.polls(3);
    const o = w.ex.order(cid);
    expect([o?.status, o?.filledLots]).toEqual(['expired', 200]);
    expect(w.ex.position('BTC/USDT')?.netLots).toBe(200);
  });

  // Reconciliation read one page of trades, closed the order as filled with fills missing, then
  // refused the order's remaining real fills.
  it('reads every page of trades before it closes an order the venue reports filled', async () => {
    const w = await setup();
    w.venue.pageSize = 1;
    const cid = await w.approve('a', 500);
    w.venue.fill(cid, 200);
    w.venue.fill(cid, 200);
    w.venue.fill(cid, 100);
    await w.polls(1);
    const o = w.ex.order(cid);
    expect([o?.status, o?.filledLots]).toEqual(['filled', 500]);
    expect(w.ex.position('BTC/USDT')?.netLots).toBe(500);
    expect(w.codes()).not.toContain('FILLS_MISSING');
    expect(w.of('exec.orderFilled').map((m) => m.fill.tradeId)).toEqual(['3']);
  });

  it('books the real fills of an order closed as filled while the trade history lacked them', async () => {
    const w = await setup();
    const cid = await w.approve('a', 500);
    w.venue.historyLength = 1;
    w.venue.fill(cid, 200);
    w.venue.fill(cid, 200);
    w.venue.fill(cid, 100);
    await w.polls(1);
    const closed = w.ex.order(cid);
    w.venue.historyLength = undefined;
    await w.approve('b', 100); // an open order on the symbol keeps it polled
    await w.polls(2);
    const o = w.ex.order(cid);
    expect([closed?.status, closed?.filledLots]).toEqual(['filled', 200]);
    expect([o?.status, o?.filledLots, o?.tradeIds]).toEqual(['filled', 500, ['1', '2', '3']]);
    expect(w.ex.position('BTC/USDT')?.netLots).toBe(500);
    expect(w.codes()).toContain('FILLS_MISSING');
    expect(w.codes()).not.toContain('ILLEGAL_TRANSITION');
    expect(w.of('exec.orderPartiallyFilled').map((m) => [m.fill.tradeId, m.leavesLots])).toEqual([['1', 300], ['2', 100]]);
    expect(w.of('exec.orderFilled').map((m) => m.fill.tradeId)).toEqual(['3']);
  });

  // A poll that read a trade of an order whose submission answer was still on the way booked it to
  // an adopted "venue-<id>" order, and the real order was closed as filled with no fills.
  it('leaves a trade of an order still being submitted to the next poll instead of adopting it', async () => {
    const w = await setup();
    await w.approve('a', 100); // an open order keeps the symbol polled
    const turns = async (n: number) => {
      for (let k = 0; k < n; k++) await new Promise<void>((r) => setImmediate(r));
    };
    let releaseOpen!: () => void;
    const openGate = new Promise<void>((r) => (releaseOpen = r));
    const fetchOpen = w.venue.fetchOpenOrders.bind(w.venue);
    let gated = true;
    w.venue.fetchOpenOrders = async () => {
      if (gated) {
        gated = false;
        await openGate;
      }
      return fetchOpen();
    };
    let tradesRead = false;
    const fetchTrades = w.venue.fetchMyTrades.bind(w.venue);
    w.venue.fetchMyTrades = async (sym, since) => {
      const page = await fetchTrades(sym, since);
      tradesRead = true;
      return page;
    };
    let releaseAnswer!: () => void;
    const answerGate = new Promise<void>((r) => (releaseAnswer = r));
    const b = clientOrderIdFor('b');
    w.venue.submitHook = async (req) => {
      if (req.clientOrderId !== b) return;
      w.venue.fill(b, 300); // placed and filled at once; the answer is slow
      await answerGate;
    };
    w.clock.advance(POLL_MS); // the poll starts and waits in fetchOpenOrders
    await turns(20);
    w.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('b', 6_183_763, { lots: 300 as Lots }), ts: w.clock.now() });
    await turns(20);
    releaseOpen();
    for (let k = 0; k < 50 && !tradesRead; k++) await turns(1);
    await turns(20);
    releaseAnswer();
    await w.settle();
    await w.polls(3);
    const o = w.ex.order(b);
    expect([o?.status, o?.filledLots, o?.tradeIds]).toEqual(['filled', 300, ['1']]);
    expect(w.ex.allOrders().filter((x) => x.adopted)).toEqual([]);
    expect(w.of('exec.orderFilled').map((m) => m.fill.clientOrderId)).toEqual([b]);
    expect(w.codes()).not.toContain('ADOPTED_TRADE');
    expect(w.ex.position('BTC/USDT')?.netLots).toBe(300);
  });
});
