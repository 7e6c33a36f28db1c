// A venue's second rate limit or ban reaches the webhook (review of 5b8d4e4, finding 1): the executor published
// rateLimited/banned but never `up` when it ended, so the webhook took the next episode for a repeat and dropped it.
import ccxt from 'ccxt';
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../actors/trading-executor/executor.ts';
import { venueEvent } from '../../app/alerts-webhook.ts';
import type { VenueStatus } from '../../engine/messages/exec-status.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../engine/types/instrument.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { CcxtExecVenue } from '../../engine/venues/ccxt-exec.ts';
import { capturingLogger, drive, limitIntent, recordingBus, tempStore } from '../actors/trading-executor/helpers.ts';
import { StubExchange, type Fault } from '../actors/trading-executor/stub-exchange.ts';
import { webhookRigs } from './webhook-on-receiver.ts';

const BTC = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'binance' });
const T0 = 1_723_161_300_000;
const HOURS_6 = 6 * 3_600_000;
const rig = webhookRigs({ t0: T0, webhook: { enabled: true }, from: { mode: 'live', account: 'binance' } });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function world() {
  const clock = new SimulatedClock(T0 as TsMs);
  const stub = new StubExchange();
  const venue = new CcxtExecVenue({ exchange: stub, venue: 'binance', instruments: [BTC], clock, recvWindowMs: 10_000 });
  const s = tempStore(undefined, { syncCommits: true });
  cleanups.push(() => s.cleanup());
  const rec = recordingBus();
  const { posted } = await rig({ bus: rec.bus });
  const ex = new TradingExecutor({
    bus: rec.bus, clock, venue, store: s.store, instruments: [BTC], log: capturingLogger().logger, rng: () => 0.5, pollMs: 1_000,
    retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5_000 }, breaker: { failureThreshold: 3, openMs: 30_000 },
  });
  await ex.start();
  cleanups.push(() => ex.stop());
  // One order, the venue answering it with `fault` first when given.
  const order = async (id: string, fault?: Fault) => {
    if (fault) stub.faults.createOrder.push(fault);
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent(id, 5_000_000), ts: clock.now() });
    await drive(clock, () => !ex.busy);
  };
  const pushed = async () => (await posted(2_000)).map((p) => String(p.code));
  return { clock, rec, order, pushed };
}

const rateLimit = (): Fault => ({ err: new ccxt.RateLimitExceeded('binance {"code":-1003,"msg":"Too many requests"}'), headers: { 'Retry-After': '3' } });
const ban = (): Fault => ({ err: new ccxt.DDoSProtection('binance GET 418 I\'m a teapot'), headers: { 'Retry-After': '120' } });

describe('venue rate limits and bans through the executor to the webhook', () => {
  it('says the venue is up on the first answer after a rate limit, and pushes a second rate limit hours later', async () => {
    const w = await world();
    await w.order('a', rateLimit());
    w.clock.advance(HOURS_6);
    await w.order('b');
    await w.order('c', rateLimit());
    const codes = await w.pushed();

    expect(w.rec.of('exec.venueStatus').map((m) => m.status)).toEqual(['reconciling', 'up', 'rateLimited', 'up', 'rateLimited', 'up']);
    expect(codes.filter((c) => c.startsWith('VENUE_'))).toEqual(['VENUE_RATE_LIMITED', 'VENUE_UP', 'VENUE_RATE_LIMITED', 'VENUE_UP']);
  });

  it('says the venue is up on the first answer after a ban ends, and pushes a second ban', async () => {
    const w = await world();
    await w.order('a', ban());
    w.clock.advance(HOURS_6);
    await w.order('b');
    await w.order('c', ban());
    const codes = await w.pushed();

    expect(w.rec.of('exec.venueStatus').map((m) => m.status)).toEqual(['reconciling', 'up', 'banned', 'up', 'banned']);
    expect(codes.filter((c) => c.startsWith('VENUE_'))).toEqual(['VENUE_BANNED', 'VENUE_UP', 'VENUE_BANNED']);
  });
});

describe('venueEvent: episodes', () => {
  const banned = (ts: number, untilTs?: number): VenueStatus =>
    ({ type: 'exec.venueStatus', venue: 'binance', status: 'banned', reason: '418', ts: ts as TsMs, ...(untilTs !== undefined ? { untilTs: untilTs as TsMs } : {}) });

  it('takes a ban reported after the last one ended for a new one, with no `up` between', () => {
    expect(venueEvent(banned(T0 + HOURS_6), 'banned', T0 + 120_000)).toMatchObject({ code: 'VENUE_BANNED' });
  });

  it.each([
    ['within the ban', T0 + 60_000, T0 + 120_000],
    ['as the resend at the end of the wait is limited again', T0 + 120_003, T0 + 120_000],
    ['with no end named', T0 + HOURS_6, undefined],
  ])('takes a ban reported %s for the same one', (_name, ts, wasUntil) => {
    expect(venueEvent(banned(ts), 'banned', wasUntil)).toBeUndefined();
  });
});
