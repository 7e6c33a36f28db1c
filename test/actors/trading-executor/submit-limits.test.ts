// The bounds of the submission retries, over CcxtExecVenue and the stub exchange on a SimulatedClock (no real waits):
// a 429 is resent at most maxAttempts times in all, an open circuit breaker stops a resend after an unknown outcome,
// an order found after a timeout is synced at once rather than at the next regular poll, and a ban answered to the
// query after a timeout stops the queries.
import ccxt from 'ccxt';
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import { CcxtExecVenue } from '../../../engine/venues/ccxt-exec.ts';
import { capturingLogger, drive, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { StubExchange, type Fault } from './stub-exchange.ts';

const BTC = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'binance' });
const T0 = 1_723_161_300_000;
const RECV_WINDOW_MS = 10_000;
const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

const rateLimited = (): Fault => ({ err: new ccxt.RateLimitExceeded('binance {"code":-1003,"msg":"Too many requests"}'), headers: { 'Retry-After': '1' } });
const unavailable = (): Fault => ({ err: new ccxt.ExchangeNotAvailable('binance POST 503 Service Unavailable') });

async function setup(o: { faults?: Partial<Record<keyof StubExchange['faults'], Fault[]>>; failureThreshold?: number; pollMs?: number } = {}) {
  const clock = new SimulatedClock(T0);
  const stub = new StubExchange();
  for (const [m, fs] of Object.entries(o.faults ?? {})) stub.faults[m as keyof StubExchange['faults']].push(...fs!);
  const venue = new CcxtExecVenue({ exchange: stub, venue: 'binance', instruments: [BTC], clock, recvWindowMs: RECV_WINDOW_MS });
  // Commits on the calling thread, so `drive` never moves the clock while a commit waits on lmdb's write thread.
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const rec = recordingBus();
  const cap = capturingLogger();
  const ex = new TradingExecutor({
    bus: rec.bus, clock, venue, store: s.store, instruments: [BTC], log: cap.logger, rng: () => 0.5, pollMs: o.pollMs ?? 1_000,
    retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5_000 }, breaker: { failureThreshold: o.failureThreshold ?? 5, openMs: 30_000 },
  });
  await ex.start();
  const approve = (id: string) => rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent(id, 5_000_000), ts: clock.now() });
  const settle = () => drive(clock, () => !ex.busy);
  const status = (id: string) => ex.order(clientOrderIdFor(id))?.status;
  return { clock, stub, venue, ex, ...rec, ...cap, approve, settle, status, store: s.store };
}

describe('TradingExecutor submission limits', () => {
  it('429 on every send: rejected VENUE_RATE_LIMITED after maxAttempts sends, never a fourth', async () => {
    const w = await setup({ faults: { createOrder: [rateLimited(), rateLimited(), rateLimited(), rateLimited()] } });
    w.approve('rl');
    await w.settle();
    expect(w.stub.calls.createOrder).toBe(3);
    expect(w.stub.sentClientIds).toEqual(Array(3).fill(clientOrderIdFor('rl')));
    expect(w.status('rl')).toBe('rejected');
    expect(w.of('exec.orderRejected').map((m) => m.code)).toEqual(['VENUE_RATE_LIMITED']);
    expect(w.stub.orders.size).toBe(0);
  });

  it('an unknown outcome that opens the breaker: the resend is refused locally (VENUE_CIRCUIT_OPEN), not sent', async () => {
    // Threshold 2 < maxAttempts 3: the second failure opens the breaker while one attempt is still left.
    const w = await setup({ failureThreshold: 2 });
    w.stub.always.createOrder = unavailable();
    w.approve('down');
    await w.settle();
    expect(w.ex.breaker.state).toBe('open');
    expect(w.stub.calls.createOrder).toBe(2);
    expect(w.status('down')).toBe('rejected');
    expect(w.of('exec.orderRejected').map((m) => m.code)).toEqual(['VENUE_CIRCUIT_OPEN']);
  });

  it('an order found after a timeout is synced at once: its fill is booked without waiting for the next regular poll', async () => {
    const w = await setup({ faults: { createOrder: [{ err: new ccxt.RequestTimeout('binance POST /api/v3/order request timed out (10000 ms)'), applied: true }] }, pollMs: 600_000 });
    w.approve('to');
    await drive(w.clock, () => w.stub.calls.createOrder === 1);
    // The venue filled it while the answer was lost.
    w.stub.fill(clientOrderIdFor('to'));
    await w.settle();
    w.clock.advance(0); // fires a poll due now; the regular one is 10 minutes away
    await w.settle();
    const cid = clientOrderIdFor('to');
    expect(w.clock.now() - T0).toBeLessThan(60_000);
    expect(w.stub.calls.createOrder).toBe(1);
    expect(w.status('to')).toBe('filled');
    expect(w.store.fillsOf('binance', 'BTC/USDT').map((f) => f.clientOrderId)).toEqual([cid]);
    expect(w.of('exec.orderFilled').map((m) => m.fill.clientOrderId)).toEqual([cid]);
    expect(w.codes()).not.toContain('FILLS_MISSING');
  });

  it('a 418 answered to the query after a timeout: venue status banned, no further query, the order left submitted', async () => {
    const w = await setup({
      faults: {
        createOrder: [{ err: new ccxt.RequestTimeout('binance POST /api/v3/order request timed out (10000 ms)'), applied: true }],
        fetchOrder: [{ err: new ccxt.DDoSProtection('binance GET 418 I\'m a teapot'), headers: { 'Retry-After': '120' } }],
      },
    });
    w.approve('ban');
    await w.settle();
    const banned = w.of('exec.venueStatus').filter((m) => m.status === 'banned');
    expect(banned.map((m) => m.untilTs! - m.ts)).toEqual([120_000]);
    expect(w.ex.counters.queriedAfterUnknown).toBe(1);
    expect(w.stub.calls.createOrder).toBe(1);
    expect(w.status('ban')).toBe('submitted');
    expect(w.codes()).toContain('SUBMIT_UNRESOLVED');
  });
});
