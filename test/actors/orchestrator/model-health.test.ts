// Model health (actors/orchestrator/model-health.ts): a model's windowed accuracy against always predicting the
// window's most frequent realised move, a one-sided McNemar test on the paired outcomes, hysteresis on recovery, the
// overconfidence flag, and the orchestrator publishing signal.modelHealth on changes only.
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelHealthMonitor, normalCdf, normalQuantile, PendingConfidence } from '../../../actors/orchestrator/model-health.ts';
import { Orchestrator } from '../../../actors/orchestrator/orchestrator.ts';
import { ModelRegistry, type ModelRunner } from '../../../actors/orchestrator/registry.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import type { ModelHealthChange, ModelHealthMsg } from '../../../engine/messages/orchestrator.ts';
import type { Action } from '../../../engine/messages/signals.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';
import { ConfigError } from '../../../engine/types/errors.ts';
import { loadRealWorld, realInput, type RealWorld } from './real-input.ts';

type Outcome = readonly [predicted: Action, realised: Action];

/** `n` outcomes repeating `cycle`. */
const repeat = (cycle: readonly Outcome[], n: number): Outcome[] => Array.from({ length: n }, (_, i) => cycle[i % cycle.length]!);

/** Feeds `outcomes` to `model`; returns each change with the index of the outcome that caused it. */
function feed(h: ModelHealthMonitor, outcomes: readonly Outcome[], confidence = 0.3, model = 'm'): [number, ModelHealthChange][] {
  const seen: [number, ModelHealthChange][] = [];
  outcomes.forEach(([p, r], i) => {
    for (const c of h.record(model, p, r, confidence)) seen.push([i, c]);
  });
  return seen;
}

// Right on 6 of 10 (4 BUY, 2 SELL); the realised moves are 4 BUY, 3 SELL, 3 HOLD: the baseline (always BUY) is right on 4.
const RIGHT_60_BASE_40: Outcome[] = [
  ['BUY', 'BUY'], ['BUY', 'BUY'], ['BUY', 'BUY'], ['BUY', 'BUY'], ['SELL', 'SELL'], ['SELL', 'SELL'],
  ['BUY', 'SELL'], ['BUY', 'HOLD'], ['SELL', 'HOLD'], ['SELL', 'HOLD'],
];
// Right on 2 of 10 (the two SELL); the realised moves are 6 HOLD, 2 BUY, 2 SELL: the baseline (always HOLD) is right on 6.
const RIGHT_20_BASE_60: Outcome[] = [
  ['BUY', 'HOLD'], ['BUY', 'HOLD'], ['SELL', 'HOLD'], ['SELL', 'HOLD'], ['BUY', 'HOLD'], ['SELL', 'HOLD'],
  ['SELL', 'BUY'], ['HOLD', 'BUY'], ['SELL', 'SELL'], ['SELL', 'SELL'],
];
const ALWAYS_RIGHT: Outcome[] = [['BUY', 'BUY'], ['HOLD', 'HOLD'], ['SELL', 'SELL'], ['HOLD', 'HOLD']];

/** The test recomputed from the window's outcomes, without any running count. */
function naiveZ(window: readonly Outcome[]): number {
  const freq = (a: Action): number => window.filter(([, r]) => r === a).length;
  const base = (['BUY', 'SELL', 'HOLD'] as const).reduce((best, a) => (freq(a) > freq(best) ? a : best), 'BUY' as Action);
  const b = window.filter(([p, r]) => r === base && p !== r).length;
  const c = window.filter(([p, r]) => p === r && r !== base).length;
  return b + c === 0 ? -Infinity : (b - c - 1) / Math.sqrt(b + c);
}

describe('ModelHealthMonitor', () => {
  it('leaves a model right 60% against a 40% baseline ok', () => {
    const h = new ModelHealthMonitor();

    const changes = feed(h, repeat(RIGHT_60_BASE_40, 400));

    expect(changes).toEqual([]);
    expect(h.figures('m')).toMatchObject({ state: 'ok', overconfident: false, judged: 200, accuracy: 0.6, baseline: 0.4, baselineAction: 'BUY' });
  });

  it('says degraded at the minJudged-th outcome of a model right 20% against a 60% baseline, not before', () => {
    const h = new ModelHealthMonitor();

    const changes = feed(h, repeat(RIGHT_20_BASE_60, 300));
    const f = h.figures('m')!;

    expect(changes).toEqual([[99, 'degraded']]);
    expect([f.state, f.accuracy, f.baseline, f.baselineAction, f.judged]).toEqual(['degraded', 0.2, 0.6, 'HOLD', 200]);
    expect(f.pValue).toBeLessThan(1e-4);
  });

  it('recovers only after window/4 outcomes in a row that the test does not call worse', () => {
    const h = new ModelHealthMonitor();
    const bad = repeat(RIGHT_20_BASE_60, 200);
    const good = repeat(ALWAYS_RIGHT, 200);
    const all = [...bad, ...good];
    // The first outcome from which the naive test stays silent: recovery comes 49 outcomes later (50 in a row).
    const zc = normalQuantile(0.95);
    const calmFrom = all.findIndex((_, i) => i >= 200 && naiveZ(all.slice(Math.max(0, i - 199), i + 1)) <= zc);

    const changes = feed(h, all);

    expect(calmFrom).toBeGreaterThan(200);
    expect(changes).toEqual([[99, 'degraded'], [calmFrom + 49, 'recovered']]);
    expect(h.figures('m')!.state).toBe('ok');
  });

  it('does not flap while the test hovers at its threshold', () => {
    // After 100 outcomes the model only misses, a stream where z wanders around its threshold: half the outcomes both
    // get (HOLD), and of the rest the baseline alone gets 58.7% and the model alone 41.3% (z = 1.645 at the mean).
    const stream: Outcome[] = [];
    let seed = 11;
    const rand = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 3_000; i++) {
      const u = rand();
      stream.push(i < 100 ? ['SELL', 'HOLD'] : u < 0.5 ? ['HOLD', 'HOLD'] : u < 0.7935 ? ['SELL', 'HOLD'] : ['BUY', 'BUY']);
    }
    const zc = normalQuantile(0.95);
    let crossings = 0;
    for (let i = 300, above = naiveZ(stream.slice(100, 300)) > zc; i < stream.length; i++) {
      const now = naiveZ(stream.slice(i - 199, i + 1)) > zc;
      if (now !== above) crossings++;
      above = now;
    }
    const states = (h: ModelHealthMonitor): [number, ModelHealthChange][] => feed(h, stream).filter(([, c]) => c === 'degraded' || c === 'recovered');

    const held = states(new ModelHealthMonitor());
    const unheld = states(new ModelHealthMonitor({ recoverAfter: 1 }));

    expect(crossings).toBeGreaterThan(50);
    // Without hysteresis the state follows nearly every crossing; with it, a handful of changes, each recovery at
    // least window/4 outcomes after the degradation before it.
    expect(unheld.length).toBeGreaterThan(crossings * 0.9);
    expect(held.length).toBeLessThanOrEqual(crossings / 8);
    expect(held[0]).toEqual([99, 'degraded']);
    held.forEach(([i, c], k) => {
      if (c === 'recovered') expect(i - held[k - 1]![0]).toBeGreaterThanOrEqual(50);
    });
  });

  it('keeps its counts equal to the window recomputed from scratch, outcome after outcome', () => {
    const h = new ModelHealthMonitor({ window: 50, minJudged: 10 });
    const actions: Action[] = ['BUY', 'SELL', 'HOLD'];
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const all: Outcome[] = [];
    for (let i = 0; i < 500; i++) {
      const o: Outcome = [actions[Math.floor(rand() * 3)]!, actions[Math.floor(rand() * (i < 250 ? 3 : 2))]!];
      all.push(o);
      h.record('m', o[0], o[1], 0.5);
      const w = all.slice(-50);
      const f = h.figures('m')!;
      const z = naiveZ(w);
      expect([i, f.judged, f.accuracy]).toEqual([i, w.length, w.filter(([p, r]) => p === r).length / w.length]);
      expect(f.pValue).toBeCloseTo(Number.isFinite(z) ? 1 - normalCdf(z) : 1, 12);
    }
  });

  it('flags a model overconfident when its mean confidence exceeds its accuracy by more than the gap, and clears it later', () => {
    const h = new ModelHealthMonitor({ window: 100, minJudged: 50 });
    const half = repeat([['BUY', 'BUY'], ['SELL', 'HOLD']], 100); // right 50%, as good as the baseline (always BUY)

    const sure = feed(h, half, 0.9);
    const modest = feed(h, half, 0.6);

    expect(sure).toEqual([[49, 'overconfident']]);
    // At the 50th outcome at 0.6 the mean is 0.75 (gap 0.25: within); 25 within in a row (window/4) clear the flag.
    expect(modest).toEqual([[73, 'calibrated']]);
    expect(h.figures('m')).toMatchObject({ state: 'ok', overconfident: false, meanConfidence: 0.6 });
  });

  it('starts a model over on reset (a new version), saying whether it was flagged', () => {
    const h = new ModelHealthMonitor();
    feed(h, repeat(RIGHT_20_BASE_60, 100));

    const wasFlagged = h.reset('m');
    const after = feed(h, repeat(RIGHT_60_BASE_40, 100));

    expect([wasFlagged, h.reset('other')]).toEqual([true, false]);
    expect(after).toEqual([]);
    expect(h.figures('m')).toMatchObject({ state: 'ok', judged: 100, accuracy: 0.6 });
  });

  it('keeps its mean confidence a number when a model states none, and within 0..1', () => {
    const h = new ModelHealthMonitor({ window: 4, minJudged: 1 });
    for (const c of [Number.NaN, 2, -1, 0.5]) h.record('m', 'BUY', 'BUY', c);

    expect(h.figures('m')!.meanConfidence).toBe(0.375);
  });

  it('refuses settings that cannot work', () => {
    expect(() => new ModelHealthMonitor({ minJudged: 300 })).toThrow(ConfigError);
    expect(() => new ModelHealthMonitor({ confidence: 0.4 })).toThrow(/confidence must be in \(0.5, 1\), got 0.4/);
    expect(normalQuantile(0.95)).toBeCloseTo(1.6449, 3);
  });
});

describe('PendingConfidence', () => {
  it('pairs each judged outcome with its prediction\'s confidence, skipping those dropped late or reset', () => {
    const p = new PendingConfidence(1_000);
    p.track('cnn', 'ETH/USDT', 10_000, 0.7);
    p.track('cnn', 'ETH/USDT', 11_000, 0.8);
    p.track('cnn', 'ETH/USDT', 15_000, 0.9);
    p.track('dqn', 'ETH/USDT', 15_000, 0.4);
    p.track('cnn', 'BTC/USDT', 15_000, 0.3);

    // The close at 13 s is the first after 10 s and 11 s, more than 1 s late for both (dropped), and before 15 s.
    const at13 = p.take('cnn', 'ETH/USDT', 13_000);
    const at15 = p.take('cnn', 'ETH/USDT', 15_000);
    const dqn = p.take('dqn', 'ETH/USDT', 16_000);
    p.resetSymbol('BTC/USDT');

    expect([at13, at15, dqn, p.take('cnn', 'BTC/USDT', 15_000)]).toEqual([undefined, 0.9, 0.4, undefined]);
  });
});

// The orchestrator feeds the monitor from its own evaluator and publishes each change once.
let world: RealWorld;
let bars: Candle[];
beforeAll(() => {
  world = loadRealWorld();
  bars = world.primary['1s'].filter((c) => c.openTime + 1_000 <= world.end).slice(-40);
});

const says = (action: Action, confidence: number): ModelRunner => async (_x, ctx) => ({
  model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action, confidence,
  probabilities: action === 'BUY' ? [confidence, 1 - confidence, 0] : action === 'SELL' ? [1 - confidence, confidence, 0] : [0, 1 - confidence, confidence],
});

describe('the orchestrator and model health', () => {
  it('publishes a degraded model once, with its version and figures, and a reset when a new version starts it over', async () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(bars[0]!.openTime);
    const registry = new ModelRegistry();
    registry.register('bull', { version: 'b1', run: says('BUY', 0.9) }, clock.now());
    registry.register('bear', { version: 'r1', run: says('SELL', 0.6) }, clock.now());
    registry.register('bear', { version: 'r2', run: says('SELL', 0.6) }, clock.now());
    registry.activate('bear', 'r1', clock.now());
    const orch = new Orchestrator({
      bus, clock, registry, outputs: new ModelOutputStore(), input: (tick) => realInput(world, tick.ts),
      thresholds: { buy: 0.6, sell: 0.6, minConfidence: 0 },
      subscriptions: { symbol: 'ETH/USDT', triggerTimeframe: '1s', requireCob: false },
      outcomes: { horizonMs: 1_000, deadBandBps: 1 }, health: { window: 20, minJudged: 10 },
    });
    const seen: ModelHealthMsg[] = [];
    bus.subscribe('signal.modelHealth', (m) => void seen.push(m));
    orch.start();
    // The real bars' times, with a close 10 bps above the last every second: BUY is right every time.
    let price = 2_500;
    for (const c of bars.slice(0, 30)) {
      price *= 1.001;
      clock.set(c.openTime + 1_000);
      bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1s', candle: { ...c, close: price }, tsExchange: clock.now(), tsLocal: clock.now() });
      await orch.idle();
    }
    const degraded = seen.map(({ model, version, change, state, accuracy, baseline, baselineAction, judged, meanConfidence }) =>
      ({ model, version, change, state, accuracy, baseline, baselineAction, judged, meanConfidence }));
    const bull = orch.health!.figures('bull');
    orch.activate('bear', 'r2');

    // Wrong every time at 0.6 confidence: worse than always BUY, and 0.6 above its accuracy.
    expect(degraded).toEqual([
      { model: 'bear', version: 'r1', change: 'degraded', state: 'degraded', accuracy: 0, baseline: 1, baselineAction: 'BUY', judged: 10, meanConfidence: 0.6 },
      { model: 'bear', version: 'r1', change: 'overconfident', state: 'degraded', accuracy: 0, baseline: 1, baselineAction: 'BUY', judged: 10, meanConfidence: 0.6 },
    ]);
    expect(bull).toMatchObject({ state: 'ok', overconfident: false, accuracy: 1, judged: 20, meanConfidence: 0.9 });
    expect(seen.slice(2).map((m) => [m.model, m.version, m.change, m.state, m.overconfident, m.judged])).toEqual([['bear', 'r2', 'reset', 'ok', false, 0]]);
    expect(orch.health!.figures('bear')).toBeUndefined();
    orch.stop();
  });

  it('runs no monitor when health is off', () => {
    const orch = new Orchestrator({
      bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), registry: new ModelRegistry(), outputs: new ModelOutputStore(),
      input: () => undefined, thresholds: { buy: 0.6, sell: 0.6, minConfidence: 0 }, health: { enabled: false },
    });

    expect(orch.health).toBeUndefined();
  });
});
