import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Action } from '../../engine/messages/signals.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { InferenceHistoryStore } from '../../engine/store/inference-history.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { ModelOutputStore } from '../../engine/store/model-output-store.ts';
import { tripleBarrierLabels } from '../../models/labels/triple-barrier.ts';
import { inferenceHistorySource, modelOutputSource, PredictionOutcomeEvaluator, type BarSource, type OhlcBar } from '../../models/online/outcome-evaluator.ts';
import { realCandles } from './helpers.ts';

const MIN = 60_000;
const LABELS = { volWindow: 20, horizon: 10, ptMult: 1.5, slMult: 1.5 };
const c = realCandles('ETH', 0, 400);
const ACTIONS: Action[] = ['BUY', 'SELL', 'HOLD'];

// Real ETH 1m bars; the source fails the test if asked for a bar that had not closed by the clock's now.
function guardedBars(clock: SimulatedClock, asked: { maxOpen: number }): BarSource {
  return {
    bars(_symbol, fromOpen, toOpen): OhlcBar[] {
      asked.maxOpen = Math.max(asked.maxOpen, toOpen);
      if (toOpen + MIN > clock.now()) throw new Error(`asked for bar ${toOpen} before it closed (now ${clock.now()})`);
      const out: OhlcBar[] = [];
      // The source also holds bars after toOpen (the future, from the evaluator's view): it must not use them.
      for (let i = 0; i < c.close.length; i++) {
        if (c.openTimeMs[i]! >= fromOpen && c.openTimeMs[i]! <= toOpen) out.push({ openTime: c.openTimeMs[i]!, open: c.open[i]!, high: c.high[i]!, low: c.low[i]!, close: c.close[i]! });
      }
      return out;
    },
  };
}

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('PredictionOutcomeEvaluator', () => {
  it('labels a prediction only once its horizon has passed, with the training triple-barrier label', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-outcomes-'));
    dirs.push(dir);
    const lmdb = LmdbStore.open({ path: dir, noSync: true });
    const history = new InferenceHistoryStore(lmdb, { retention: { maxRecords: 1000, maxAgeMs: 1e12 }, archiveDir: path.join(dir, 'archive') });
    // Predictions made 5 s after bars 100..119 closed: the decision bar of each is bar t.
    const bars = Array.from({ length: 20 }, (_, k) => 100 + k);
    for (const t of bars) {
      const ts = c.openTimeMs[t]! + MIN + 5_000;
      const action = ACTIONS[t % 3]!;
      await history.record({
        model: 'cnn', symbol: 'ETH/USDT', ts, input: { features: Float32Array.of(t, 1, 2), shape: [3], timeframe: '1m' },
        output: { model: 'cnn', version: 'v1', symbol: 'ETH/USDT', ts, action, probabilities: [0.4, 0.3, 0.3], confidence: 0.4 },
      });
    }
    // One ms before bar 110 closes: predictions of bars 100..109 are made, none is due (bar 100 needs bar 110 closed).
    const clock = new SimulatedClock(c.openTimeMs[110]! + MIN - 1);
    const asked = { maxOpen: -Infinity };
    const outcomes: [string, Action, Action][] = [];
    const ev = new PredictionOutcomeEvaluator({
      clock, predictions: inferenceHistorySource(history), bars: guardedBars(clock, asked),
      sink: { recordOutcome: (m, p, r) => outcomes.push([m, p, r]) }, series: [{ model: 'cnn', symbol: 'ETH/USDT' }],
    }, { barMs: MIN, ...LABELS, windows: [5, 50] });

    expect(ev.poll()).toEqual([]);
    expect(ev.stats).toMatchObject({ read: 10, labelled: 0, pending: 10 });
    expect(asked.maxOpen).toBe(-Infinity);
    clock.set(c.openTimeMs[110]! + MIN);
    const first = ev.poll();
    expect(first.map((l) => l.t0Ms)).toEqual([c.openTimeMs[100]]);

    clock.set(c.openTimeMs[129]! + MIN);
    const rest = ev.poll();
    const all = [...first, ...rest];
    expect(all).toHaveLength(20);
    // Same labels as the offline labeller run over the whole series.
    const full = tripleBarrierLabels(c, LABELS);
    const k0 = full.t0.indexOf(100);
    all.forEach((l, j) => {
      expect(l.t0Ms).toBe(c.openTimeMs[100 + j]);
      expect(l.label).toBe(full.label[k0 + j]);
      expect(l.t1Ms).toBe(c.openTimeMs[full.t1[k0 + j]!]);
      expect(l.input?.[0]).toBe(100 + j);
    });
    expect(outcomes).toEqual(all.map((l) => ['cnn', l.predicted, l.realised]));
    const hits = all.map((l) => (l.predicted === l.realised ? 1 : 0) as number);
    const acc = ev.accuracy('cnn');
    expect(acc.labelled).toBe(20);
    expect(acc.windows[50]).toEqual({ n: 20, accuracy: hits.reduce((a, b) => a + b, 0) / 20 });
    expect(acc.windows[5]).toEqual({ n: 5, accuracy: hits.slice(-5).reduce((a, b) => a + b, 0) / 5 });
    expect(ev.takePairs('cnn')).toHaveLength(20);
    expect(ev.takePairs('cnn')).toHaveLength(0);
    await lmdb.close();
  });

  it('reads predictions from the ModelOutputStore and skips one whose bars are missing', () => {
    const store = new ModelOutputStore();
    const clock = new SimulatedClock(0);
    const ts = c.openTimeMs[200]! + MIN;
    store.add({ model: 'dqn', version: 'v1', symbol: 'ETH/USDT', ts, action: 'BUY', probabilities: [1, 0, 0], confidence: 1 });
    store.add({ model: 'dqn', version: 'v1', symbol: 'ETH/USDT', ts: c.openTimeMs[395]! + MIN, action: 'SELL', probabilities: [0, 1, 0], confidence: 1 });
    const asked = { maxOpen: -Infinity };
    const ev = new PredictionOutcomeEvaluator({ clock, predictions: modelOutputSource(store), bars: guardedBars(clock, asked), series: [{ model: 'dqn', symbol: 'ETH/USDT' }] },
      { barMs: MIN, ...LABELS, windows: [10] });
    clock.set(c.openTimeMs[399]! + 20 * MIN); // the second needs bars past the 400 the source has
    const labelled = ev.poll();
    expect(labelled.map((l) => l.t0Ms)).toEqual([c.openTimeMs[200]]);
    expect(labelled[0]!.input).toBeUndefined();
    expect(ev.stats.missingBars).toBe(1);
    expect(ev.takePairs('dqn')).toEqual([]); // no stored input: nothing to train on
  });

  it('scores BUY as wrong in a halted, flat market: the label is HOLD at the time barrier', () => {
    // Review finding (flat market): zero-volume bars at one price, as in the 2023-03-24 Binance ETH halt, used to
    // label BUY after one bar, so live accuracy credited every BUY call made during the halt.
    const t0 = 1_679_657_280_000; // 2023-03-24T11:28Z
    const flat: BarSource = {
      bars: (_s, fromOpen, toOpen) => Array.from({ length: (toOpen - fromOpen) / MIN + 1 }, (_, i) => {
        const px = 1789.52;
        return { openTime: fromOpen + i * MIN, open: px, high: px, low: px, close: px };
      }),
    };
    const store = new ModelOutputStore();
    store.add({ model: 'cnn', version: 'v1', symbol: 'ETH/USDT', ts: t0 + MIN + 5_000, action: 'BUY', probabilities: [1, 0, 0], confidence: 1 });
    const outcomes: Action[] = [];
    const clock = new SimulatedClock(t0 + (LABELS.horizon + 1) * MIN);
    const ev = new PredictionOutcomeEvaluator({
      clock, predictions: modelOutputSource(store), bars: flat, sink: { recordOutcome: (_m, _p, r) => outcomes.push(r) }, series: [{ model: 'cnn', symbol: 'ETH/USDT' }],
    }, { barMs: MIN, ...LABELS, windows: [10] });
    const [l] = ev.poll();
    expect([l?.realised, l?.t1Ms, outcomes, ev.accuracy('cnn').windows[10]]).toEqual(['HOLD', t0 + LABELS.horizon * MIN, ['HOLD'], { n: 1, accuracy: 0 }]);
  });
});
