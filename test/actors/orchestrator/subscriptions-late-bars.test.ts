// Trigger bars as the DataProvider really publishes them: late on the local clock (its close grace, its 1 s idle timer,
// a local clock running ahead of the exchange's), and the same 1s bar twice on live Binance (the venue's kline_1s and
// the provider's trade-built bar). Real 1s bars of the bundled recording; a real Orchestrator where decisions count.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Orchestrator } from '../../../actors/orchestrator/orchestrator.ts';
import { ModelRegistry, type ModelRunner } from '../../../actors/orchestrator/registry.ts';
import { SubscriptionManager, type DroppedTick } from '../../../actors/orchestrator/subscriptions.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle, CandleMsg, Trade } from '../../../engine/messages/market.ts';
import type { Decision } from '../../../engine/messages/signals.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';
import type { VenueId } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { loadRealWorld, realInput } from './real-input.ts';

const world = loadRealWorld();
const bars: Candle[] = world.primary['1s'].filter((c) => c.openTime + 1_000 <= world.end).slice(-60);

const candleMsg = (c: Candle, now: number, venue: VenueId = 'binance'): CandleMsg => ({
  type: 'md.candle', venue, symbol: 'ETH/USDT', timeframe: '1s', candle: { ...c, closed: true }, tsExchange: c.openTime + 1_000, tsLocal: now,
});
// A trade of bar `c` at `intoBarMs` into it (exchange time), received `lagMs` later on the local clock.
const tradeMsg = (c: Candle, intoBarMs: number, lagMs: number): Trade => ({
  type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tradeId: c.openTime + intoBarMs, price: Math.round(c.close * 100) as Ticks,
  lots: 10 as Lots, buyerMaker: false, tsExchange: c.openTime + intoBarMs, tsLocal: c.openTime + intoBarMs + lagMs,
});

const buys: ModelRunner = async (_x, ctx) => ({
  model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action: 'BUY', confidence: 0.9, probabilities: [0.9, 0.05, 0.05],
});

function capturingLogger() {
  const records: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), records };
}

function rig() {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(bars[0]!.openTime);
  const registry = new ModelRegistry();
  registry.register('m', { version: 'v1', run: buys }, clock.now());
  const { logger, records } = capturingLogger();
  const orch = new Orchestrator({
    bus, clock, registry, outputs: new ModelOutputStore(), logger,
    input: (tick) => realInput(world, tick.ts),
    thresholds: { buy: 0.6, sell: 0.6, minConfidence: 0 },
    subscriptions: { symbol: 'ETH/USDT', triggerTimeframe: '1s', requireCob: false },
    outcomes: { horizonMs: 5_000, deadBandBps: 1 },
  });
  const decisions: Decision[] = [];
  bus.subscribe('signal.decision', (m) => void decisions.push(m));
  orch.start();
  // Publishes at `at` on the local clock (the clock never goes back).
  const at = (t: number, m: EngineMsg): void => {
    clock.set(Math.max(clock.now(), t));
    bus.publish(m);
  };
  const dropped = () => records.filter((r) => r['code'] === 'ORCH_TICK_DROPPED');
  return { bus, clock, orch, decisions, at, dropped };
}

describe('trigger bars closed late by the DataProvider', () => {
  // Trades and the bars they close, all seen `lagMs` after they happened on the exchange.
  async function lagging(r: ReturnType<typeof rig>, some: readonly Candle[], lagMs: number): Promise<void> {
    for (const b of some) {
      r.at(b.openTime + 400 + lagMs, tradeMsg(b, 400, lagMs));
      // The next second's first trade closes the bar.
      r.at(b.openTime + 1_000 + 200 + lagMs, candleMsg(b, b.openTime + 1_000 + 200 + lagMs));
      await r.orch.idle();
    }
  }

  it('decides every 1s bar with the local clock 2.5 s ahead of the exchange', async () => {
    const r = rig();
    const some = bars.slice(10, 40);
    await lagging(r, some, 2_530);
    expect(r.decisions.map((d) => d.ts)).toHaveLength(some.length);
    expect(r.orch.subscriptions.status(r.clock.now())).toMatchObject({ ticks: some.length, expired: 0, coalesced: 0 });
    expect(r.orch.subscriptions.clockAheadMs()).toBe(2_530);
    expect(r.dropped()).toEqual([]);
  });

  it('decides no bar when trades arrive 25 s late (a clock that far ahead reads as a stream that far behind), and says so', async () => {
    const r = rig();
    await lagging(r, bars.slice(10, 40), 25_000);
    expect(r.decisions).toHaveLength(0);
    expect(r.orch.subscriptions.clockAheadMs()).toBe(3_000);
    expect(r.dropped()[0]).toMatchObject({ code: 'ORCH_TICK_DROPPED', blockers: [expect.stringContaining('trades arrive 25000 ms after their exchange time')] });
  });

  it('decides the quiet seconds\' bars its idle timer closes (close grace 1 s, timer every 1 s)', async () => {
    const r = rig();
    const some = bars.slice(10, 40);
    for (let i = 0; i < some.length; i++) {
      const b = some[i]!;
      r.at(b.openTime + 200 + 80, tradeMsg(b, 200, 80));
      const timerPhase = ((i * 37) % 100) * 10; // 0..990 ms
      const closedAt = b.openTime + 1_000 + 1_000 + 80 + timerPhase;
      r.at(closedAt, candleMsg(b, closedAt));
      await r.orch.idle();
    }
    expect(r.decisions).toHaveLength(some.length);
    expect(r.dropped()).toEqual([]);
  });

  it('still makes no tick of a bar old on the exchange\'s time (a stalled feed catching up), and says so once a minute', async () => {
    const r = rig();
    const some = bars.slice(10, 20);
    // Trades arrive 50 ms after they happened (the clock is right), the bars 6 s after their close.
    const stale = (b: Candle, t: number): void => {
      r.at(t, tradeMsg({ ...b, openTime: t - 1_000 }, 950, 50));
      r.at(t, candleMsg(b, t));
    };
    for (const b of some) {
      stale(b, b.openTime + 7_000);
      await r.orch.idle();
    }
    expect(r.decisions).toHaveLength(0);
    const st = r.orch.subscriptions.status(r.clock.now());
    expect(st.pending?.blockers).toEqual(['last 1s close 6000 ms ago (the local clock runs 50 ms ahead)']);
    expect(st.coalesced).toBe(some.length - 1);
    // One line for the first dropped tick; the others within the minute are counted into the next line.
    expect(r.dropped()).toHaveLength(1);
    expect(r.dropped()[0]).toMatchObject({ level: 40, reason: 'replaced', dropped: 1, blockers: [expect.stringContaining('last 1s close')] });
    // A minute on, the trade is first: the last tick, pending since, expires and the count comes out.
    const t = r.clock.now() + 61_000;
    stale({ ...some[0]!, openTime: t - 7_000 }, t);
    await r.orch.idle();
    expect(r.dropped().map((d) => [d['reason'], d['dropped']])).toEqual([['replaced', 1], ['expired', some.length - 1]]);
    expect(r.decisions).toHaveLength(0);
  });
});

describe('one tick per trigger close', () => {
  it('makes none of the same close again (venue kline and provider bar) or of an older close, after the tick ran', async () => {
    const r = rig();
    const [older, b] = [bars[9]!, bars[10]!];
    r.at(b.openTime + 1_050, candleMsg(b, b.openTime + 1_050)); // the provider's trade-built bar
    await r.orch.idle();
    r.at(b.openTime + 1_200, candleMsg({ ...b }, b.openTime + 1_200)); // the venue's kline_1s close of the same second
    await r.orch.idle();
    r.at(b.openTime + 1_400, candleMsg(older, b.openTime + 1_400));
    await r.orch.idle();
    expect(r.decisions.map((d) => d.ts)).toEqual([b.openTime + 1_050]);
    expect(r.orch.stats.ticks).toBe(1);
    expect(r.orch.subscriptions.status(r.clock.now()).repeats).toBe(2);
    const next = bars[11]!;
    r.at(next.openTime + 1_050, candleMsg(next, next.openTime + 1_050));
    await r.orch.idle();
    expect(r.decisions.map((d) => d.ts)).toEqual([b.openTime + 1_050, next.openTime + 1_050]);
  });

  it('keeps out a repeat of a close whose tick expired, and tells of the drop', () => {
    const drops: DroppedTick[] = [];
    const s = new SubscriptionManager({ symbol: 'ETH/USDT', triggerTimeframe: '1s', cobMaxAgeMs: 500, maxWaitMs: 1_000 }, (d) => drops.push(d));
    const b = bars[20]!;
    const close = (b.openTime + 1_000) as TsMs;
    s.onCandle(candleMsg(b, close), close);
    expect(s.poll((close + 1_001) as TsMs)).toBeUndefined();
    expect(drops).toEqual([{ candleClose: close, reason: 'expired', blockers: ['no COB snapshot yet'] }]);
    s.onCandle(candleMsg(b, close + 1_100, 'binance'), (close + 1_100) as TsMs);
    expect(s.status((close + 1_100) as TsMs).repeats).toBe(1);
    expect(s.status((close + 1_100) as TsMs).pending).toBeUndefined();
  });
});
