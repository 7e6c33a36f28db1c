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

const H = 60_000;
/** `n` outcomes repeating `cycle`. */
const repeat = (cycle: readonly Outcome[], n: number): Outcome[] => Array.from({ length: n }, (_, i) => cycle[i % cycle.length]!);

/** Feeds `outcomes` to `model`, one per horizon from `from`; returns each change with the index of the outcome that caused it. */
function feed(h: ModelHealthMonitor, outcomes: readonly Outcome[], confidence = 0.3, model = 'm', from = 0): [number, ModelHealthChange][] {
  const seen: [number, ModelHealthChange][] = [];
  outcomes.forEach(([p, r], i) => {
    for (const c of h.record(model, p, r, confidence, from + i * H)) seen.push([i, c]);
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

/** The most frequent realised class of `outcomes` (ties: BUY, SELL, HOLD). */
function modeOf(outcomes: readonly Outcome[]): Action {
  const freq = (a: Action): number => outcomes.filter(([, r]) => r === a).length;
  return (['BUY', 'SELL', 'HOLD'] as const).reduce((best, a) => (freq(a) > freq(best) ? a : best), 'BUY' as Action);
}

/** The test recomputed from the window's outcomes against always `base`, without any running count. */
function naiveZ(window: readonly Outcome[], base: Action): number {
  const b = window.filter(([p, r]) => r === base && p !== r).length;
  const c = window.filter(([p, r]) => p === r && r !== base).length;
  return b + c === 0 ? -Infinity : (b - c - 1) / Math.sqrt(b + c);
}

/** Seeded uniform in [0, 1). */
function lcg(seed: number): () => number {
  return () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

describe('ModelHealthMonitor', () => {
  it('leaves a model right 60% against a 40% baseline ok', () => {
    const h = new ModelHealthMonitor();

    const changes = feed(h, repeat(RIGHT_60_BASE_40, 600));

    expect(changes).toEqual([]);
    expect(h.figures('m')).toMatchObject({ state: 'ok', overconfident: false, judged: 200, accuracy: 0.6, baseline: 0.4, baselineAction: 'BUY' });
  });

  it('takes at most one outcome per horizon: the ones judged on overlapping moves are left out', () => {
    const h = new ModelHealthMonitor({}, 60_000);
    // One prediction a second, as the engine judges them: 600 s hold 10 horizons.
    for (let t = 0; t < 600; t++) h.record('m', 'BUY', t % 60 === 0 ? 'BUY' : 'SELL', 0.5, 1_000_000 + t * 1_000);

    expect(h.figures('m')).toMatchObject({ judged: 10, accuracy: 1 });
  });

  it('keeps the test near its nominal 5% on a random walk fed one outcome a second (overlapping moves)', () => {
    // An equally good model: always BUY on a driftless walk, against always SELL as the fixed baseline (60 s moves,
    // ±5 bps dead band). Without sampling, ~60 outcomes in a row share a move and the test says "worse" in ~40% of
    // windows; a false-alarm rate of one window in five would be far outside 5% here.
    const rand = lcg(2024);
    const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const n = 60 * 200 * 80;
    const px = new Float64Array(n + 61);
    px[0] = 2_000;
    for (let t = 1; t < px.length; t++) px[t] = px[t - 1]! * (1 + 1.6e-4 * gauss());
    const real = (t: number): Action => {
      const bps = (px[t + 60]! / px[t]! - 1) * 1e4;
      return bps > 5 ? 'BUY' : bps < -5 ? 'SELL' : 'HOLD';
    };
    // The baseline's sample before the window: all SELL, so the window is judged against always SELL.
    const h = new ModelHealthMonitor({ minGapMs: 0 });
    let t0 = 0;
    for (; t0 < 200; t0++) h.record('m', 'SELL', 'SELL', 0.3, t0 * H);
    let windows = 0;
    let flagged = 0;
    for (let t = 0; t < n; t++) {
      h.record('m', 'BUY', real(t), 0.3, t0 * H + t * 1_000);
      if ((t + 1) % (200 * 60) === 0 && t >= 2 * 200 * 60) {
        const f = h.figures('m')!;
        if (f.baselineAction === 'SELL') {
          windows++;
          if (f.pValue < 0.05) flagged++;
        }
      }
    }

    expect([windows > 20, flagged / windows < 0.15]).toEqual([true, true]);
  });

  it('fixes the baseline class from the outcomes before the window, and says nothing until minJudged precede it', () => {
    const h = new ModelHealthMonitor();

    const changes = feed(h, repeat(RIGHT_20_BASE_60, 600));
    const f = h.figures('m')!;

    // 200 fill the window; the 100th outcome after that is the minJudged-th before the window.
    expect(changes).toEqual([[299, 'degraded']]);
    expect([f.state, f.accuracy, f.baseline, f.baselineAction, f.judged]).toEqual(['degraded', 0.2, 0.6, 'HOLD', 200]);
    expect(f.pValue).toBeLessThan(1e-4);
    expect(new ModelHealthMonitor().figures('m')).toBeUndefined();
  });

  it('does not let the window pick its own baseline: a skilled model stays ok when the window\'s own mode would beat it', () => {
    // Before the window: mostly HOLD. In the window: the model is right on 50% and BUY is realised 60% of the time,
    // which the window's own most frequent move (always BUY, 60%) would beat; always HOLD (the baseline fixed before
    // the window) gets 20%.
    const before: Outcome[] = repeat([['HOLD', 'HOLD'], ['HOLD', 'HOLD'], ['BUY', 'BUY'], ['SELL', 'SELL']], 200);
    const window: Outcome[] = repeat([
      ['BUY', 'BUY'], ['BUY', 'BUY'], ['BUY', 'BUY'], ['SELL', 'BUY'], ['SELL', 'BUY'], ['SELL', 'BUY'],
      ['HOLD', 'HOLD'], ['HOLD', 'HOLD'], ['HOLD', 'SELL'], ['BUY', 'SELL'],
    ], 200);
    const h = new ModelHealthMonitor();

    const changes = feed(h, [...before, ...window]);

    expect(modeOf(window)).toBe('BUY');
    expect(naiveZ(window, 'BUY')).toBeGreaterThan(normalQuantile(0.95));
    expect(changes).toEqual([]);
    expect(h.figures('m')).toMatchObject({ state: 'ok', accuracy: 0.5, baselineAction: 'HOLD', baseline: 0.2 });
  });

  it('recovers only after window/2 sampled outcomes in a row that the test does not call worse', () => {
    const h = new ModelHealthMonitor({ minGapMs: 0 });
    const all = [...repeat(RIGHT_20_BASE_60, 400), ...repeat(ALWAYS_RIGHT, 400)];
    // The first outcome from which the naive test (against the window before's mode) stays silent: recovery comes
    // 99 outcomes later (100 in a row).
    const zc = normalQuantile(0.95);
    const zAt = (i: number): number => naiveZ(all.slice(i - 199, i + 1), modeOf(all.slice(Math.max(0, i - 399), i - 199)));
    const calmFrom = all.findIndex((_, i) => i >= 400 && zAt(i) <= zc);

    const changes = feed(h, all);

    expect(calmFrom).toBeGreaterThan(400);
    expect(changes).toEqual([[299, 'degraded'], [calmFrom + 99, 'recovered']]);
    expect(h.figures('m')!.state).toBe('ok');
  });

  it('keeps two changes of the same model and kind at least minGapMs apart', () => {
    const gap = 600 * H;
    const all = [...repeat(RIGHT_20_BASE_60, 60), ...repeat(ALWAYS_RIGHT, 700), ...repeat(RIGHT_20_BASE_60, 1_000)];

    const held = feed(new ModelHealthMonitor({ window: 20, recoverAfter: 1, minGapMs: gap }), all);
    const free = feed(new ModelHealthMonitor({ window: 20, recoverAfter: 1, minGapMs: 0 }), all);

    // Without the gap the model recovers as soon as its window turns good; with it, 600 horizons after degrading.
    expect(free.map(([, c]) => c)).toEqual(['degraded', 'recovered', 'degraded']);
    expect(free[1]![0] - free[0]![0]).toBeLessThan(100);
    expect(held.map(([, c]) => c)).toEqual(['degraded', 'recovered', 'degraded']);
    expect([held[1]![0] - held[0]![0], held[2]![0] - held[1]![0] >= 600]).toEqual([600, true]);
  });

  it('does not flap while the test hovers at its threshold', () => {
    // Before the window: HOLD only (the baseline: always HOLD). Then half the outcomes both get (HOLD), and of the
    // rest the baseline alone gets 58.7% and the model alone 41.3% (z = 1.645 at the mean).
    const stream: Outcome[] = [];
    const rand = lcg(11);
    for (let i = 0; i < 6_000; i++) {
      const u = rand();
      stream.push(i < 200 ? ['SELL', 'HOLD'] : u < 0.5 ? ['HOLD', 'HOLD'] : u < 0.7935 ? ['SELL', 'HOLD'] : ['BUY', 'BUY']);
    }
    const zc = normalQuantile(0.95);
    let crossings = 0;
    for (let i = 600, above = naiveZ(stream.slice(401, 601), 'HOLD') > zc; i < stream.length; i++) {
      const now = naiveZ(stream.slice(i - 199, i + 1), 'HOLD') > zc;
      if (now !== above) crossings++;
      above = now;
    }
    const states = (h: ModelHealthMonitor): [number, ModelHealthChange][] => feed(h, stream).filter(([, c]) => c === 'degraded' || c === 'recovered');

    const held = states(new ModelHealthMonitor());
    const unheld = states(new ModelHealthMonitor({ recoverAfter: 1, minGapMs: 0 }));

    expect(crossings).toBeGreaterThan(50);
    // Without hysteresis the state follows nearly every crossing; with it, a handful of changes, each recovery at
    // least window/2 outcomes after the degradation before it.
    expect(unheld.length).toBeGreaterThan(crossings * 0.9);
    expect(held.length).toBeLessThanOrEqual(crossings / 8);
    held.forEach(([i, c], k) => {
      if (c === 'recovered') expect(i - held[k - 1]![0]).toBeGreaterThanOrEqual(100);
    });
  });

  it('keeps its counts equal to the window recomputed from scratch, outcome after outcome', () => {
    const h = new ModelHealthMonitor({ window: 50, minJudged: 10 });
    const actions: Action[] = ['BUY', 'SELL', 'HOLD'];
    const rand = lcg(7);
    const all: Outcome[] = [];
    for (let i = 0; i < 500; i++) {
      const o: Outcome = [actions[Math.floor(rand() * 3)]!, actions[Math.floor(rand() * (i < 250 ? 3 : 2))]!];
      all.push(o);
      h.record('m', o[0], o[1], 0.5, i * H);
      const w = all.slice(-50);
      const prior = all.slice(Math.max(0, all.length - 100), Math.max(0, all.length - 50));
      const f = h.figures('m')!;
      const z = prior.length >= 10 ? naiveZ(w, modeOf(prior)) : -Infinity;
      expect([i, f.judged, f.accuracy, f.baselineAction]).toEqual([i, w.length, w.filter(([p, r]) => p === r).length / w.length, prior.length >= 10 ? modeOf(prior) : undefined]);
      expect(f.pValue).toBeCloseTo(Number.isFinite(z) ? 1 - normalCdf(z) : 1, 12);
    }
  });

  it('flags a model overconfident when its mean confidence exceeds its accuracy by more than the gap, and clears it later', () => {
    const h = new ModelHealthMonitor({ window: 100, minJudged: 50, minGapMs: 0 });
    const half = repeat([['BUY', 'BUY'], ['SELL', 'HOLD']], 100); // right 50%

    const sure = feed(h, half, 0.9);
    const modest = feed(h, half, 0.6, 'm', 100 * H);

    expect(sure).toEqual([[49, 'overconfident']]);
    // At the 50th outcome at 0.6 the mean is 0.75 (gap 0.25: within); 50 within in a row (window/2) clear the flag.
    expect(modest).toEqual([[98, 'calibrated']]);
    expect(h.figures('m')).toMatchObject({ state: 'ok', overconfident: false, meanConfidence: 0.6 });
  });

  it('holds the confidence flag to minGapMs and recoverAfter as it holds the state, each kind on its own clock', () => {
    const half = repeat([['BUY', 'BUY'], ['SELL', 'HOLD']], 100); // right 50%, no discordant pair: never worse
    const confidence = (minGapMs: number): [number, ModelHealthChange][] => {
      const h = new ModelHealthMonitor({ window: 100, minJudged: 50, recoverAfter: 1, minGapMs });
      return [...feed(h, half, 0.9), ...feed(h, repeat(half, 400), 0.6, 'm', 100 * H)];
    };

    const free = confidence(0);
    const held = confidence(300 * H);
    const both = feed(new ModelHealthMonitor({ minGapMs: 1_000 * H }), repeat(RIGHT_20_BASE_60, 300), 0.9);

    // Within the gap from the 50th outcome at 0.6 on (mean 0.75); held, not before 300 horizons after the flag.
    expect(free).toEqual([[49, 'overconfident'], [49, 'calibrated']]);
    expect(held).toEqual([[49, 'overconfident'], [249, 'calibrated']]);
    // A confidence change does not hold back the state change 200 horizons later.
    expect(both).toEqual([[99, 'overconfident'], [299, 'degraded']]);
  });

  it('starts a model over on reset (a new version), saying whether it was flagged', () => {
    const h = new ModelHealthMonitor();
    feed(h, repeat(RIGHT_20_BASE_60, 300));

    const wasFlagged = h.reset('m');
    const after = feed(h, repeat(RIGHT_60_BASE_40, 100), 0.3, 'm', 300 * H);

    expect([wasFlagged, h.reset('other')]).toEqual([{ degraded: true, overconfident: false }, undefined]);
    expect(after).toEqual([]);
    expect(h.figures('m')).toMatchObject({ state: 'ok', judged: 100, accuracy: 0.6 });
  });

  it('keeps its mean confidence a number when a model states none, and within 0..1', () => {
    const h = new ModelHealthMonitor({ window: 4, minJudged: 1 });
    [Number.NaN, 2, -1, 0.5].forEach((c, i) => h.record('m', 'BUY', 'BUY', c, i * H));

    expect(h.figures('m')!.meanConfidence).toBe(0.375);
  });

  it('defaults minJudged and recoverAfter from the window, and refuses settings that cannot work', () => {
    expect(new ModelHealthMonitor({ window: 50 }).config).toMatchObject({ window: 50, minJudged: 50, recoverAfter: 25, minGapMs: 1_800_000 });
    expect(new ModelHealthMonitor().config).toMatchObject({ window: 200, minJudged: 100, recoverAfter: 100 });
    expect(() => new ModelHealthMonitor({ minJudged: 300 })).toThrow(ConfigError);
    expect(() => new ModelHealthMonitor({ confidence: 0.4 })).toThrow(/confidence must be in \(0.5, 1\), got 0.4/);
    expect(() => new ModelHealthMonitor({ minGapMs: -1 })).toThrow(/minGapMs must be >= 0, got -1/);
    expect(() => new ModelHealthMonitor({}, 0)).toThrow(/horizonMs must be > 0, got 0/);
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

    expect([at13, at15?.confidence, dqn?.confidence, p.take('cnn', 'BTC/USDT', 15_000)]).toEqual([undefined, 0.9, 0.4, undefined]);
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
      outcomes: { horizonMs: 1_000, deadBandBps: 1 }, health: { window: 10, minJudged: 5, minGapMs: 0 },
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

    // Wrong every time at 0.6 confidence: 0.6 above its accuracy from its 5th outcome; worse than always BUY (fixed
    // by the 5 outcomes before its window) from its 15th.
    expect(degraded).toEqual([
      { model: 'bear', version: 'r1', change: 'overconfident', state: 'ok', accuracy: 0, baseline: 0, baselineAction: undefined, judged: 5, meanConfidence: 0.6 },
      { model: 'bear', version: 'r1', change: 'degraded', state: 'degraded', accuracy: 0, baseline: 1, baselineAction: 'BUY', judged: 10, meanConfidence: 0.6 },
    ]);
    expect(bull).toMatchObject({ state: 'ok', overconfident: false, accuracy: 1, judged: 10, meanConfidence: 0.9, baselineAction: 'BUY' });
    expect(seen.slice(2).map((m) => [m.model, m.version, m.change, m.state, m.overconfident, m.judged, m.was])).toEqual([['bear', 'r2', 'reset', 'ok', false, 0, { degraded: true, overconfident: true }]]);
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
