// The venue circuit breaker's half-open probe: an order let through as the probe that ends before anything is sent to
// the venue (here a sell the protective stop already made, rejected POSITION_GONE) must give the probe slot back, or
// every later order and protective stop is refused VENUE_CIRCUIT_OPEN until a restart.
import { afterEach, expect, it } from 'vitest';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { CircuitBreaker } from '../../../engine/venues/circuit-breaker.ts';
import { stopRig, type Cleanups } from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

it('a half-open probe refused locally before the send leaves the next order free to probe the venue', async () => {
  const r = stopRig(cleanups, { breaker: { failureThreshold: 5, openMs: 30_000 } });
  await r.ex.start();
  await r.buy('b1', 100);
  await r.run(3);
  const stop = r.stops()[0]!;
  expect(stop).toBeDefined();
  // Five venue failures in a row open the breaker; after its cool-down it lets one probe through.
  for (let i = 0; i < 5; i++) r.ex.breaker.failure();
  expect(r.ex.breaker.state).toBe('open');
  await r.run(31);
  expect(r.ex.breaker.state).toBe('halfOpen');
  // The stop sold the position meanwhile; the RiskManager's exit is the probe and is refused here, never sent.
  r.venue.fill(stop.clientOrderId, 100, 6_000_000);
  r.exit('x1', 100);
  await r.settle();
  expect(r.ex.order(clientOrderIdFor('x1'))?.rejectCode).toBe('POSITION_GONE');
  expect(r.sent('x1')).toBeUndefined();
  // The next order is the probe: it reaches the venue, which accepts it, and the breaker closes.
  await r.approve('n1', 10);
  expect(r.sent('n1')).toBeDefined();
  expect(r.ex.order(clientOrderIdFor('n1'))?.status).toBe('accepted');
  expect(r.ex.breaker.state).toBe('closed');
  // Its fill brings a protective stop, placed at the venue too.
  r.venue.fill(clientOrderIdFor('n1'), 10);
  await r.run(3);
  expect(r.stops().map((o) => o.lots)).toEqual([10]);
});

it('a probe given back leaves the breaker half-open with the slot free', () => {
  const clock = new SimulatedClock(0);
  const b = new CircuitBreaker(clock, { failureThreshold: 1, openMs: 1_000 });
  b.failure();
  clock.advance(1_000);
  expect(b.allow()).toBe(true);
  expect(b.allow()).toBe(false);
  b.release();
  expect(b.state).toBe('halfOpen');
  expect(b.allow()).toBe(true);
});
