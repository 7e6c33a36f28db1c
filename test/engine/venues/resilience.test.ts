import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { CircuitBreaker } from '../../../engine/venues/circuit-breaker.ts';
import { withRetry } from '../../../engine/venues/retry.ts';
import { TtlCache } from '../../../engine/venues/ttl-cache.ts';

const flush = () => new Promise((r) => setImmediate(r));

describe('CircuitBreaker', () => {
  it('opens after the threshold, probes once after the cool-down, and closes on success', () => {
    const clock = new SimulatedClock(0);
    const changes: string[] = [];
    const b = new CircuitBreaker(clock, { failureThreshold: 3, openMs: 1000 }, (s) => changes.push(s));
    b.failure();
    b.failure();
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.allow()).toBe(false);
    clock.advance(999);
    expect(b.allow()).toBe(false);
    clock.advance(1);
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false);
    b.success();
    expect(b.allow()).toBe(true);
    expect(changes).toEqual(['open', 'halfOpen', 'closed']);
  });

  it('reopens when the probe fails', () => {
    const clock = new SimulatedClock(0);
    const b = new CircuitBreaker(clock, { failureThreshold: 1, openMs: 500 });
    b.failure();
    clock.advance(500);
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state).toBe('open');
    expect(b.opens).toBe(2);
  });
  it('an inconclusive probe reopens the breaker; an inconclusive call outside a probe changes nothing', () => {
    const clock = new SimulatedClock(0);
    const b = new CircuitBreaker(clock, { failureThreshold: 2, openMs: 500 });
    b.failure();
    b.inconclusive();
    const afterOneFailure = b.state;
    b.failure();
    clock.advance(500);
    const probeAllowed = b.allow();
    b.inconclusive();
    const afterProbe = b.state;
    clock.advance(500);
    expect(afterOneFailure).toBe('closed');
    expect(probeAllowed).toBe(true);
    expect(afterProbe).toBe('open');
    expect(b.allow()).toBe(true);
  });
});

describe('withRetry', () => {
  it('retries retryable errors after backoff delays on the clock and returns the success', async () => {
    const clock = new SimulatedClock(0);
    let calls = 0;
    const p = withRetry(async () => {
      calls++;
      if (calls < 3) throw new Error('timeout');
      return 'ok';
    }, { attempts: 5, clock, rng: () => 1, backoff: { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 }, retryable: () => true });
    await flush();
    expect(calls).toBe(1);
    clock.advance(99);
    await flush();
    expect(calls).toBe(1);
    clock.advance(1);
    await flush();
    expect(calls).toBe(2);
    clock.advance(200);
    await expect(p).resolves.toBe('ok');
    expect(calls).toBe(3);
  });

  it('rethrows a non-retryable error at once', async () => {
    const clock = new SimulatedClock(0);
    let calls = 0;
    const err = new Error('insufficient balance');
    await expect(withRetry(async () => { calls++; throw err; }, { attempts: 5, clock, backoff: { initialMs: 1, maxMs: 1, factor: 1, jitter: 0 }, retryable: () => false })).rejects.toBe(err);
    expect(calls).toBe(1);
  });
});

describe('TtlCache', () => {
  it('serves a value for its TTL, shares one load between concurrent misses, and reloads after expiry', async () => {
    const clock = new SimulatedClock(0);
    const cache = new TtlCache<string, number>(clock, 500);
    let loads = 0;
    const load = async () => ++loads;
    const [a, b] = await Promise.all([cache.get('ETH/USDT', load), cache.get('ETH/USDT', load)]);
    expect([a, b, loads]).toEqual([1, 1, 1]);
    clock.advance(499);
    expect(await cache.get('ETH/USDT', load)).toBe(1);
    clock.advance(1);
    expect(await cache.get('ETH/USDT', load)).toBe(2);
    expect(cache.hits).toBe(1);
  });

  it('does not cache failures', async () => {
    const clock = new SimulatedClock(0);
    const cache = new TtlCache<string, number>(clock, 500);
    await expect(cache.get('k', async () => { throw new Error('down'); })).rejects.toThrow('down');
    expect(await cache.get('k', async () => 7)).toBe(7);
  });
});

describe('rewriteApiUrls', () => {
  it('moves every URL onto the base, keeping paths, and leaves path-less URLs without a trailing slash', async () => {
    const { rewriteApiUrls } = await import('../../../engine/venues/binance/rest.ts');
    const out = rewriteApiUrls({ spot: 'https://api.mexc.com', v3: 'https://api.binance.com/api/v3', ws: { spot: 'wss://stream.binance.com:9443/ws' } },
      'http://127.0.0.1:9443') as Record<string, unknown>;
    expect(out).toEqual({ spot: 'http://127.0.0.1:9443', v3: 'http://127.0.0.1:9443/api/v3', ws: { spot: 'ws://127.0.0.1:9443/ws' } });
  });
});
