// The online learner's outcome evaluator across breaks in the data (review of the looped replay, finding 3): it ignored
// md.feedReset, and in a looped replay the holes at the lap seams are filled from the klines archive, so the 1m series
// looked whole across a seam (lap 2's shifted 23:55 followed real 00:06 klines: a jump 2680.17 → 2682.97) and σ or the
// outcome of a prediction was computed across the jump. A prediction whose bars (σ window, decision bar, horizon) reach
// into a break, from the reset until the symbol's data resumed, is now dropped and counted, as the orchestrator's
// evaluator drops one (actors/orchestrator/outcomes.ts).
import { describe, expect, it } from 'vitest';
import type { Action, ModelOutput } from '../../engine/messages/signals.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { PredictionOutcomeEvaluator, type BarSource, type OhlcBar, type PredictionSource } from '../../models/online/outcome-evaluator.ts';
import { realCandles } from './helpers.ts';

const MIN = 60_000;
const LABELS = { volWindow: 20, horizon: 10, ptMult: 1.5, slMult: 1.5 };
const c = realCandles('ETH', 0, 400);
const open = (t: number) => c.openTimeMs[t]!;
const ACTIONS: Action[] = ['BUY', 'SELL', 'HOLD'];
// A prediction 5 s after bar t closed decides at bar t; its bars are t − 20 … t + 10.
const madeAt = (t: number) => open(t) + MIN + 5_000;
const DECIDED = Array.from({ length: 61 }, (_, k) => 100 + k);

const bars: BarSource = {
  bars(_symbol, fromOpen, toOpen): OhlcBar[] {
    const out: OhlcBar[] = [];
    for (let i = 0; i < c.close.length; i++) {
      if (open(i) >= fromOpen && open(i) <= toOpen) out.push({ openTime: open(i), open: c.open[i]!, high: c.high[i]!, low: c.low[i]!, close: c.close[i]! });
    }
    return out;
  },
};

const predictions: PredictionSource = {
  predictions: (model, symbol, range) => DECIDED.map((t) => madeAt(t)).filter((ts) => ts >= range.from && ts < range.to).map((ts, k) => ({
    output: { model, version: 'v1', symbol, ts, action: ACTIONS[k % 3]!, probabilities: [0.4, 0.3, 0.3], confidence: 0.4 } satisfies ModelOutput,
  })),
};

function evaluator(clock: SimulatedClock): PredictionOutcomeEvaluator {
  return new PredictionOutcomeEvaluator({ clock, predictions, bars, series: [{ model: 'cnn', symbol: 'ETH/USDT' }] }, { barMs: MIN, ...LABELS, windows: [50] });
}

describe('PredictionOutcomeEvaluator across breaks in the data', () => {
  it('drops and counts the predictions whose bars reach into a break, from the reset to where the data resumed', () => {
    const clock = new SimulatedClock(open(101));
    const ev = evaluator(clock);
    ev.onReset('ETH/USDT', open(125) + 30_000);
    expect(ev.inBreak('ETH/USDT')).toBe(true);
    ev.onData('ETH/USDT', open(127) + 10_000);
    expect(ev.inBreak('ETH/USDT')).toBe(false);
    ev.onReset('BTC/USDT', open(105)); // another symbol's break changes nothing here
    clock.set(open(200));
    const labelled = ev.poll();

    // Bars t − 20 … t + 10 meet bars 125 … 127 for t in 115 … 147.
    const dropped = DECIDED.filter((t) => t + 10 >= 125 && t - 20 <= 127);
    expect(dropped).toHaveLength(33);
    expect(labelled.map((l) => l.t0Ms)).toEqual(DECIDED.filter((t) => !dropped.includes(t)).map(open));
    expect(ev.stats).toMatchObject({ read: 61, labelled: 28, acrossReset: 33, missingBars: 0, pending: 0 });
    // The others are labelled as without the break.
    const plain = evaluator(new SimulatedClock(open(200)));
    const all = new Map(plain.poll().map((l) => [l.t0Ms, l.label]));
    expect(labelled.map((l) => l.label)).toEqual(labelled.map((l) => all.get(l.t0Ms)));
  });

  it('drops every prediction whose bars reach past a reset while the data has not resumed', () => {
    const clock = new SimulatedClock(open(101));
    const ev = evaluator(clock);
    ev.onReset('ETH/USDT', open(140) + 1_000);
    ev.onReset('ETH/USDT', open(150)); // within the same break: it began at the first
    clock.set(open(200));
    const labelled = ev.poll();

    expect(labelled.map((l) => l.t0Ms)).toEqual(DECIDED.filter((t) => t + 10 < 140).map(open));
    expect(ev.stats.acrossReset).toBe(DECIDED.filter((t) => t + 10 >= 140).length);
  });

  it('polled every minute, drops the same predictions as polled once (a break is kept while a window may reach it)', () => {
    const clock = new SimulatedClock(open(101));
    const ev = evaluator(clock);
    const labelled: number[] = [];
    for (let t = 102; t <= 200; t++) {
      clock.set(open(t) + 20_000);
      if (t === 125) ev.onReset('ETH/USDT', open(125) + 30_000);
      if (t === 127) ev.onData('ETH/USDT', open(127) + 10_000);
      labelled.push(...ev.poll().map((l) => l.t0Ms));
    }

    expect(labelled).toEqual(DECIDED.filter((t) => !(t + 10 >= 125 && t - 20 <= 127)).map(open));
    expect(ev.stats).toMatchObject({ labelled: 28, acrossReset: 33 });
  });

  it('refuses a reset time that is not a time', () => {
    const ev = evaluator(new SimulatedClock(0));
    expect(() => ev.onReset('ETH/USDT', Number.NaN)).toThrow('outcome evaluator: reset of ETH/USDT at NaN, not a time');
  });
});
