import { describe, expect, it } from 'vitest';
import { FailoverMarket } from '../../../actors/data-provider/market-source.ts';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg, PriceMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { VenueError } from '../../../engine/types/errors.ts';
import { REC_START, StubVenue } from './helpers.ts';

// ETH/USDT last prices of the two venues at the start of the recording (2683.80 on Binance's book).
const BINANCE_PX = 2683.8;
const MEXC_PX = 2683.79;

function setup(attempts = 1) {
  const clock = new SimulatedClock(REC_START);
  const bus = new Bus<EngineMsg>();
  const binance = new StubVenue('binance', BINANCE_PX);
  const mexc = new StubVenue('mexc', MEXC_PX);
  const failover = new FailoverMarket(binance, mexc, {
    clock, failureThreshold: 3, cooldownMs: 30_000, attempts, backoff: { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0 },
  });
  const dp = new DataProvider({ bus, clock, prices: failover, history: failover });
  const published: PriceMsg[] = [];
  bus.subscribe('md.price', (m) => published.push(m));
  return { clock, bus, binance, mexc, failover, dp, published };
}

/** Awaits `p` while moving the clock, so backoff delays on the SimulatedClock elapse. */
async function drive<T>(p: Promise<T>, clock: SimulatedClock, stepMs = 100): Promise<T> {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 1_000 && !done; i++) {
    await new Promise((r) => setImmediate(r));
    if (!done) clock.advance(stepMs);
  }
  return p;
}

describe('DataProvider price failover (Binance first, MEXC fallback)', () => {
  it('moves to MEXC after the breaker opens and back to Binance after a successful half-open probe', async () => {
    const { clock, binance, mexc, failover, dp, published } = setup();
    const sources: string[] = [];
    const ask = async () => {
      clock.advance(600); // past the 500 ms cache
      const p = await dp.price('ETH/USDT');
      sources.push(p.source);
      return p;
    };

    await ask();
    binance.down = true;
    for (let i = 0; i < 3; i++) await ask();
    const stateAfterThreshold = failover.breaker.state;
    const binanceCallsWhenOpened = binance.calls;
    await ask(); // open: Binance is not asked at all
    const binanceCallsWhileOpen = binance.calls;
    binance.down = false;
    clock.advance(30_000 - 3 * 600); // still inside the cool-down
    await ask();
    const stillOpen = failover.breaker.state;
    clock.advance(3 * 600); // cool-down over: the next call is the probe
    const back = await ask();

    expect(sources).toEqual(['binance', 'mexc', 'mexc', 'mexc', 'mexc', 'mexc', 'binance']);
    expect(stateAfterThreshold).toBe('open');
    expect(binanceCallsWhenOpened).toBe(4);
    expect(binanceCallsWhileOpen).toBe(4);
    expect(stillOpen).toBe('open');
    expect(back).toMatchObject({ price: BINANCE_PX, source: 'binance' });
    expect(failover.breaker.state).toBe('closed');
    expect(failover.breaker.opens).toBe(1);
    expect(mexc.calls).toBe(5);
    expect(published.map((m) => [m.source, m.price])).toEqual([
      ['binance', BINANCE_PX], ['mexc', MEXC_PX], ['mexc', MEXC_PX], ['mexc', MEXC_PX], ['mexc', MEXC_PX], ['mexc', MEXC_PX], ['binance', BINANCE_PX],
    ]);
  });

  it('keeps MEXC when the half-open probe fails, and reopens the breaker', async () => {
    const { clock, binance, failover, dp } = setup();
    binance.down = true;
    for (let i = 0; i < 3; i++) {
      clock.advance(600);
      await dp.price('ETH/USDT');
    }
    clock.advance(30_000);
    const probe = await dp.price('ETH/USDT');
    expect(probe.source).toBe('mexc');
    expect(failover.breaker.state).toBe('open');
    expect(failover.breaker.opens).toBe(2);
  });

  it('answers from the 500 ms cache without asking a venue, then asks again', async () => {
    const { clock, binance, dp } = setup();
    await dp.price('ETH/USDT');
    clock.advance(499);
    await dp.price('ETH/USDT');
    const within = binance.calls;
    clock.advance(1);
    await dp.price('ETH/USDT');
    expect(within).toBe(1);
    expect(binance.calls).toBe(2);
  });

  it('retries Binance with backoff on the clock before counting one failure', async () => {
    const { clock, binance, failover, dp } = setup(3);
    binance.down = true;
    const p = await drive(dp.price('ETH/USDT'), clock);
    expect(p.source).toBe('mexc');
    expect(binance.calls).toBe(3);
    expect(failover.stats.primaryFailures).toBe(1);
    expect(failover.breaker.state).toBe('closed');
  });

  it('rejects with a VenueError naming both venues when both fail, and serves again once one recovers', async () => {
    const { clock, binance, mexc, dp } = setup();
    binance.down = true;
    mexc.down = true;
    const err = await dp.price('ETH/USDT').catch((e: unknown) => e);
    mexc.down = false;
    clock.advance(600);
    const after = await dp.price('ETH/USDT');
    expect(err).toBeInstanceOf(VenueError);
    expect((err as Error).message).toMatch(/binance: .*503.*mexc: .*503/);
    expect(after.source).toBe('mexc');
  });

  it('prefers the trade stream price while it is fresh', async () => {
    const { clock, binance, dp } = setup();
    dp.onTrade({ type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tsExchange: clock.now(), tsLocal: clock.now(), tradeId: 1, price: 268_381 as never, lots: 5 as never, buyerMaker: false });
    clock.advance(200);
    const p = await dp.price('ETH/USDT');
    expect(p).toMatchObject({ price: 2683.81, source: 'stream' });
    expect(binance.calls).toBe(0);
  });
});
