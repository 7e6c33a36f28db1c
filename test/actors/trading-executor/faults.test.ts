// Venue faults: the executor over CcxtExecVenue over a stub exchange that throws ccxt's real error classes.
// Each case ends in a definite order state, a logged stable code, and never a second (bogus) order.
import ccxt from 'ccxt';
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { CcxtExecVenue } from '../../../engine/venues/ccxt-exec.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import { capturingLogger, drive, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { StubExchange, type Fault } from './stub-exchange.ts';

const BTC = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'binance' });
const T0 = 1_723_161_300_000;
const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

async function setup(faults: Partial<Record<keyof StubExchange['faults'], Fault[]>> = {}) {
  const clock = new SimulatedClock(T0);
  const stub = new StubExchange();
  for (const [m, fs] of Object.entries(faults)) stub.faults[m as keyof StubExchange['faults']].push(...fs!);
  const venue = new CcxtExecVenue({ exchange: stub, venue: 'binance', instruments: [BTC], clock, recvWindowMs: 10_000 });
  // Commits on the calling thread: `drive` moves the clock whenever the executor is still busy after a few event-loop
  // turns, so a commit left to lmdb's write thread on a loaded machine let the clock run past the breaker's open time
  // (seen once: a fourth createOrder after the breaker had opened).
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const rec = recordingBus();
  const cap = capturingLogger();
  const ex = new TradingExecutor({
    bus: rec.bus, clock, venue, store: s.store, instruments: [BTC], log: cap.logger, rng: () => 0.5, pollMs: 1_000,
    retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5_000 }, breaker: { failureThreshold: 3, openMs: 30_000 },
  });
  await ex.start();
  const approve = (id: string) => rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent(id, 5_000_000), ts: clock.now() });
  const settle = () => drive(clock, () => !ex.busy);
  const status = (id: string) => ex.order(clientOrderIdFor(id))?.status;
  return { clock, stub, venue, ex, ...rec, ...cap, approve, settle, status, store: s.store };
}

const rejectCodes = (w: Awaited<ReturnType<typeof setup>>) => w.of('exec.orderRejected').map((m) => m.code);

describe('TradingExecutor under venue faults (ccxt error classes)', () => {
  it('429 RateLimitExceeded: sends nothing until Retry-After, then resends the same order once', async () => {
    const w = await setup({ createOrder: [{ err: new ccxt.RateLimitExceeded('binance {"code":-1003,"msg":"Too many requests"}'), headers: { 'Retry-After': '3' } }] });
    w.approve('rl');
    await drive(w.clock, () => w.stub.calls.createOrder === 1);
    w.clock.advance(2_900);
    await drive(w.clock, () => true);
    const callsDuringBackoff = w.stub.calls.createOrder;
    await w.settle();
    expect(callsDuringBackoff).toBe(1);
    expect(w.stub.calls.createOrder).toBe(2);
    expect(new Set(w.stub.sentClientIds)).toEqual(new Set([clientOrderIdFor('rl')]));
    expect(w.status('rl')).toBe('accepted');
    expect(w.stub.orders.size).toBe(1);
    expect(w.of('exec.venueStatus').filter((m) => m.status === 'rateLimited').map((m) => m.untilTs! - m.ts)).toEqual([3_000]);
    expect(w.codes()).toContain('VENUE_RATE_LIMITED');
  });

  it('418 DDoSProtection: rejects the order, then refuses to send anything until the ban ends', async () => {
    const w = await setup({ createOrder: [{ err: new ccxt.DDoSProtection('binance GET 418 I\'m a teapot'), headers: { 'Retry-After': '120' } }] });
    w.approve('ban1');
    await w.settle();
    w.approve('ban2');
    await w.settle();
    const callsDuringBan = w.stub.calls.createOrder;
    w.clock.advance(121_000);
    w.approve('after');
    await w.settle();
    expect(rejectCodes(w)).toEqual(['VENUE_IP_BANNED', 'VENUE_IP_BANNED']);
    expect(callsDuringBan).toBe(1);
    expect(w.venue.counters.blockedLocally).toBeGreaterThanOrEqual(1);
    expect(w.status('after')).toBe('accepted');
    const banned = w.of('exec.venueStatus').filter((m) => m.status === 'banned');
    expect(banned[0]!.untilTs! - banned[0]!.ts).toBe(120_000);
    expect(new Set(banned.map((m) => m.untilTs)).size).toBe(1); // the refused second order names the same end
  });

  it('"IP banned until" in a -1003 answer is a ban until that time', async () => {
    const w = await setup({ createOrder: [{ err: new ccxt.RateLimitExceeded(`binance {"code":-1003,"msg":"Way too much request weight used; IP banned until ${T0 + 600_000}."}`) }] });
    w.approve('b');
    await w.settle();
    expect(rejectCodes(w)).toEqual(['VENUE_IP_BANNED']);
    expect(w.venue.blocked).toEqual({ kind: 'banned', untilTs: T0 + 600_000 });
    expect(w.of('exec.venueStatus').filter((m) => m.status === 'banned').map((m) => m.untilTs)).toEqual([T0 + 600_000]);
  });

  it.each([
    ['InsufficientFunds', new ccxt.InsufficientFunds('binance Account has insufficient balance for requested action.'), 'INSUFFICIENT_FUNDS'],
    ['InvalidOrder', new ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}'), 'INVALID_ORDER'],
    ['AuthenticationError', new ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key"}'), 'AUTH_FAILED'],
  ])('%s: rejected with a stable code, no retry', async (_name, err, code) => {
    const w = await setup({ createOrder: [{ err }] });
    w.approve('r');
    await w.settle();
    expect(w.status('r')).toBe('rejected');
    expect(rejectCodes(w)).toEqual([code]);
    expect(w.stub.calls.createOrder).toBe(1);
    expect(w.stub.calls.fetchOrder).toBe(0);
  });

  it('RequestTimeout after the order reached the venue: queries it by client id and adopts it, never resends', async () => {
    const w = await setup({ createOrder: [{ err: new ccxt.RequestTimeout('binance POST /api/v3/order request timed out (10000 ms)'), applied: true }] });
    w.approve('to');
    await w.settle();
    expect(w.stub.calls.createOrder).toBe(1);
    expect(w.stub.calls.fetchOrder).toBeGreaterThanOrEqual(1);
    expect(w.stub.orders.size).toBe(1);
    expect(w.status('to')).toBe('accepted');
    expect(w.ex.order(clientOrderIdFor('to'))?.venueOrderId).toBe(w.stub.orders.get(clientOrderIdFor('to'))!.orderId);
    expect(w.codes()).toContain('REQUEST_TIMEOUT');
  });

  it('RequestTimeout before the order reached the venue: queries only after recvWindow, finds nothing, resends the same id once', async () => {
    const w = await setup({ createOrder: [{ err: new ccxt.RequestTimeout('binance POST /api/v3/order request timed out (10000 ms)') }] });
    w.approve('lost');
    await drive(w.clock, () => w.stub.calls.createOrder === 1);
    w.clock.advance(9_900);
    await drive(w.clock, () => true);
    const queriesBeforeWindow = w.stub.calls.fetchOrder;
    await w.settle();
    expect(queriesBeforeWindow).toBe(0);
    expect(w.stub.calls.createOrder).toBe(2);
    expect(w.stub.sentClientIds).toEqual([clientOrderIdFor('lost'), clientOrderIdFor('lost')]);
    expect(w.stub.orders.size).toBe(1);
    expect(w.status('lost')).toBe('accepted');
  });

  it('a malformed answer (BadResponse) is never taken for an order: it is queried like a timeout', async () => {
    const w = await setup({
      createOrder: [{ err: new ccxt.BadResponse('binance POST /api/v3/order malformed JSON: {"orderId":12'), applied: true }],
    });
    w.approve('bad');
    await w.settle();
    expect(w.stub.calls.createOrder).toBe(1);
    expect(w.status('bad')).toBe('accepted');
    expect(w.ex.order(clientOrderIdFor('bad'))?.venueOrderId).toBe(w.stub.orders.get(clientOrderIdFor('bad'))!.orderId);
    expect(w.codes()).toContain('BAD_RESPONSE');
  });

  it('an answer without an order id (ccxt handed back junk) is a BadResponse, not an order', async () => {
    const w = await setup({ createOrder: [{ garbage: { info: '<html>502 Bad Gateway</html>' } }] });
    w.approve('junk');
    await w.settle();
    expect(w.codes()).toContain('BAD_RESPONSE');
    // The venue never had it: after recvWindow the query says so, and the same id is sent again.
    expect(w.stub.sentClientIds).toEqual([clientOrderIdFor('junk'), clientOrderIdFor('junk')]);
    expect(w.stub.orders.size).toBe(1);
    expect(w.status('junk')).toBe('accepted');
  });

  it('ExchangeNotAvailable on every try: rejects after the attempts, then the open breaker rejects new orders locally', async () => {
    const w = await setup();
    w.stub.always.createOrder = { err: new ccxt.ExchangeNotAvailable('binance POST 503 Service Unavailable') };
    w.approve('down1');
    await w.settle();
    const callsAfterFirst = w.stub.calls.createOrder;
    w.approve('down2');
    await w.settle();
    expect(w.status('down1')).toBe('rejected');
    expect(rejectCodes(w)).toEqual(['VENUE_UNAVAILABLE', 'VENUE_CIRCUIT_OPEN']);
    expect(callsAfterFirst).toBe(3);
    expect(w.stub.calls.createOrder).toBe(3);
    expect(w.stub.orders.size).toBe(0);
    expect(w.of('exec.venueStatus').some((m) => m.status === 'circuitOpen')).toBe(true);
    expect(w.codes()).toContain('VENUE_CIRCUIT_OPEN');
  });

  // A half-open probe answered 418 or a given-up 429 kept the breaker's probe slot for ever, so every
  // later order was rejected locally (VENUE_CIRCUIT_OPEN) until a restart.
  it.each([
    ['418 DDoSProtection', { err: new ccxt.DDoSProtection('binance POST 418 I\'m a teapot'), headers: { 'Retry-After': '120' } }, 'VENUE_IP_BANNED'],
    ['429 past maxRateLimitWaitMs', { err: new ccxt.RateLimitExceeded('binance {"code":-1003,"msg":"Too many requests"}'), headers: { 'Retry-After': '120' } }, 'VENUE_RATE_LIMITED'],
  ])('a half-open probe answered %s reopens the breaker, which probes again after the cool-down', async (_name, fault, code) => {
    const w = await setup();
    w.stub.always.createOrder = { err: new ccxt.ExchangeNotAvailable('binance POST 503 Service Unavailable') };
    w.approve('down');
    await w.settle();
    delete w.stub.always.createOrder;
    w.stub.faults.createOrder.push(fault);
    w.clock.advance(30_000);
    w.approve('probe');
    await w.settle();
    const stateAfterProbe = w.ex.breaker.state;
    w.clock.advance(3_600_000); // the ban or rate limit long over, the venue healthy
    w.approve('later');
    await w.settle();
    expect(rejectCodes(w)).toEqual(['VENUE_UNAVAILABLE', code]);
    expect(stateAfterProbe).toBe('open');
    expect(w.status('later')).toBe('accepted');
    expect(w.ex.breaker.state).toBe('closed');
  });

  it('timeout and every query failing: the order stays submitted, then the poll settles it', async () => {
    const w = await setup({
      createOrder: [{ err: new ccxt.RequestTimeout('timed out'), applied: true }],
      fetchOrder: [{ err: new ccxt.NetworkError('ECONNRESET') }, { err: new ccxt.NetworkError('ECONNRESET') }, { err: new ccxt.NetworkError('ECONNRESET') }],
    });
    w.approve('limbo');
    await w.settle();
    const stateAfterSubmit = w.status('limbo');
    w.clock.advance(1_000); // next poll
    await w.settle();
    expect(stateAfterSubmit).toBe('submitted');
    expect(w.codes()).toContain('SUBMIT_UNRESOLVED');
    expect(w.status('limbo')).toBe('accepted');
    expect(w.stub.calls.createOrder).toBe(1);
  });
});
