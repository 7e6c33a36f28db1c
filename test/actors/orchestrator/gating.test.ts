import { describe, expect, it } from 'vitest';
import { AccuracyTracker, gatingConfig, gatingWeights } from '../../../actors/orchestrator/gating.ts';
import { HorizonOutcomeEvaluator, realisedAction } from '../../../actors/orchestrator/outcomes.ts';
import { loadKlinesCsv } from '../../../engine/market/klines-csv.ts';
import type { Action, ModelOutput } from '../../../engine/messages/signals.ts';

// Real ETH/USDT 1m closes (2024-07-26 → 08-25); predictions every minute judged 5 minutes later.
const bars = loadKlinesCsv('data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz').candles.slice(0, 3_000);
const H = 5;
const out = (model: string, action: Action, ts: number): ModelOutput => ({
  model, version: 'v1', symbol: 'ETH/USDT', ts, action, probabilities: [1 / 3, 1 / 3, 1 / 3], confidence: 0.4,
});

describe('gating weights', () => {
  it.each([
    ['equal accuracies give equal weights', [0.5, 0.5], [0.5, 0.5]],
    ['the floor holds the worse model up', [1, 0], [0.95, 0.05]],
  ])('%s', (_name, acc, want) => {
    const cfg = gatingConfig({ temperature: 0.01, floor: 0.05 });
    const w = gatingWeights(['a', 'b'], (m) => acc[m === 'a' ? 0 : 1]!, cfg);
    expect(w.a).toBeCloseTo(want[0]!, 6);
    expect(w.b).toBeCloseTo(want[1]!, 6);
  });

  it('follows the softmax of accuracy over the temperature', () => {
    const w = gatingWeights(['a', 'b', 'c'], (m) => ({ a: 0.6, b: 0.5, c: 0.4 })[m]!, gatingConfig({ temperature: 0.1, floor: 0 }));
    const e = [Math.exp(6), Math.exp(5), Math.exp(4)];
    const s = e[0]! + e[1]! + e[2]!;
    expect([w.a, w.b, w.c].map((x) => x!.toFixed(9))).toEqual(e.map((x) => (x / s).toFixed(9)));
    expect(gatingWeights(['a', 'b', 'c'], () => 0, gatingConfig({ floor: 0.4 }))).toEqual({ a: 1 / 3, b: 1 / 3, c: 1 / 3 });
  });

  it('gives a new model the prior and keeps a window of outcomes', () => {
    const t = new AccuracyTracker(gatingConfig({ window: 4, priorAccuracy: 0.5, priorCount: 2 }));
    expect(t.accuracy('new')).toEqual({ evaluated: 0, correct: 0, smoothed: 0.5 });
    for (const [p, r] of [['BUY', 'BUY'], ['BUY', 'SELL'], ['HOLD', 'HOLD'], ['SELL', 'SELL'], ['SELL', 'BUY'], ['BUY', 'BUY']] as const) t.recordOutcome('m', p, r);
    // Window of 4: [HOLD✓, SELL✓, SELL✗, BUY✓] → 3 of 4, smoothed (3 + 1) / 6.
    expect(t.accuracy('m')).toEqual({ evaluated: 4, correct: 3, smoothed: 4 / 6 });
    t.reset('m');
    expect(t.accuracy('m').evaluated).toBe(0);
  });

  it('gives its window back oldest first and takes it back (what a restart restores)', () => {
    const t = new AccuracyTracker(gatingConfig({ window: 4 }));
    expect(t.outcomes('m')).toBe('');
    // Past the window, so the ring has wrapped: the string starts at the oldest kept outcome, not at slot 0.
    for (const [p, r] of [['BUY', 'SELL'], ['BUY', 'BUY'], ['HOLD', 'HOLD'], ['SELL', 'BUY'], ['SELL', 'SELL'], ['BUY', 'HOLD']] as const) t.recordOutcome('m', p, r);
    expect(t.outcomes('m')).toBe('1010');
    const back = new AccuracyTracker(gatingConfig({ window: 4 }));
    back.restore('m', t.outcomes('m'));
    expect(back.accuracy('m')).toEqual(t.accuracy('m'));
    expect(back.models()).toEqual(['m']);
    // A longer record (a larger window saved) keeps its newest; the next outcome pushes out the oldest kept one.
    back.restore('m', '0001111');
    expect([back.outcomes('m'), back.accuracy('m').correct]).toEqual(['1111', 4]);
    back.recordOutcome('m', 'BUY', 'SELL');
    expect(back.outcomes('m')).toBe('1110');
    expect(() => back.restore('m', '01x')).toThrow(/string of 0 and 1/);
  });

  it('moves weight toward the more accurate model as real outcomes accrue', () => {
    const cfg = gatingConfig({ window: 200, temperature: 0.1, floor: 0.05, priorCount: 10 });
    // A window over the whole run, so the tracker's accuracy is the one counted independently below.
    const tracker = new AccuracyTracker({ ...cfg, window: 5_000 });
    const ev = new HorizonOutcomeEvaluator(tracker, { horizonMs: H * 60_000, deadBandBps: 5 });
    const trail: number[] = [];
    let momentumHits = 0;
    let contraHits = 0;
    let judged = 0;
    for (let i = 1; i < bars.length; i++) {
      const c = bars[i]!;
      const ts = c.openTime + 60_000;
      ev.onPrice('ETH/USDT', c.close, ts);
      // Two rule models on the last 1m return: momentum follows it, the contrarian fades it.
      const r = realisedAction(bars[i - 1]!.close, c.close, 5);
      const fade: Action = r === 'BUY' ? 'SELL' : r === 'SELL' ? 'BUY' : 'HOLD';
      ev.track(out('momentum', r, ts));
      ev.track(out('contrarian', fade, ts));
      if (i + H < bars.length) {
        const real = realisedAction(c.close, bars[i + H]!.close, 5);
        momentumHits += r === real ? 1 : 0;
        contraHits += fade === real ? 1 : 0;
        judged++;
      }
      if (i % 500 === 0) trail.push(gatingWeights(['momentum', 'contrarian'], (m) => tracker.accuracy(m).smoothed, cfg).momentum!);
    }
    expect(ev.stats.evaluated).toBe(2 * judged);
    // Real markets: which rule wins is the data's business; the weight must side with the measured winner.
    const better = momentumHits > contraHits ? 'momentum' : 'contrarian';
    expect(momentumHits).not.toBe(contraHits);
    const final = gatingWeights(['momentum', 'contrarian'], (m) => tracker.accuracy(m).smoothed, cfg);
    expect(final[better]).toBeGreaterThan(0.5);
    expect(tracker.accuracy('momentum')).toMatchObject({ evaluated: judged, correct: momentumHits });
    expect(tracker.accuracy('contrarian')).toMatchObject({ evaluated: judged, correct: contraHits });

    // A model that is right far more often than the other (it reads the realised move: a test device) takes
    // weight step by step as its outcomes arrive.
    const t2 = new AccuracyTracker(cfg);
    const weights: number[] = [gatingWeights(['informed', 'hold'], (m) => t2.accuracy(m).smoothed, cfg).informed!];
    for (let i = 0; i + H < 400; i++) {
      const real = realisedAction(bars[i]!.close, bars[i + H]!.close, 5);
      t2.recordOutcome('informed', i % 4 === 0 ? 'HOLD' : real, real);
      t2.recordOutcome('hold', 'HOLD', real);
      if (i % 50 === 49) weights.push(gatingWeights(['informed', 'hold'], (m) => t2.accuracy(m).smoothed, cfg).informed!);
    }
    expect(weights[0]).toBeCloseTo(0.5, 9);
    expect(weights.at(-1)!).toBeGreaterThan(0.8);
    expect(weights.slice(1).every((w, k) => w >= weights[k]! - 0.05)).toBe(true);
    expect(trail.length).toBeGreaterThan(3);
  });
});

describe('horizon outcomes', () => {
  it.each([
    [100, 100.06, 5, 'BUY'],
    [100, 99.94, 5, 'SELL'],
    [100, 100.04, 5, 'HOLD'],
    [100, 100.05, 5, 'HOLD'],
  ] as const)('%s → %s with ±%s bps is %s', (p0, p1, band, want) => {
    expect(realisedAction(p0, p1, band)).toBe(want);
  });

  it('judges at the first price at or after the horizon and skips predictions without a price', () => {
    const seen: [string, Action, Action][] = [];
    const ev = new HorizonOutcomeEvaluator({ recordOutcome: (m, p, r) => seen.push([m, p, r]) }, { horizonMs: 60_000, deadBandBps: 5 });
    expect(ev.track(out('a', 'BUY', 0))).toBe(false);
    expect(ev.stats.noPrice).toBe(1);
    ev.onPrice('ETH/USDT', bars[0]!.close, 0);
    ev.track(out('a', 'BUY', 0));
    ev.onPrice('BTC/USDT', 1, 70_000); // other symbol: nothing
    expect(ev.onPrice('ETH/USDT', bars[1]!.close, 59_999)).toBe(0);
    expect(ev.onPrice('ETH/USDT', bars[2]!.close, 60_000)).toBe(1);
    expect(seen).toEqual([['a', 'BUY', realisedAction(bars[0]!.close, bars[2]!.close, 5)]]);
    ev.track(out('b', 'SELL', 60_000));
    ev.drop('b');
    expect(ev.waiting).toBe(0);
  });
});
