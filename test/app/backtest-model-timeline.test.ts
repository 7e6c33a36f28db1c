// A backtest's summary shows each model over time (modelTimeline): the outcomes the orchestrator judged in each step
// of recorded time, the model's accuracy over a rolling window of steps and its gating weight. A model that was right
// and then wrong shows the drop; on the bundled recording the steps add up to the summary's judged figures, the
// report draws the chart and the CLI prints each model's accuracy in each half of the run.
import { describe, expect, it, vi } from 'vitest';
import { AccuracyTracker, gatingWeights } from '../../actors/orchestrator/gating.ts';
import { HorizonOutcomeEvaluator } from '../../actors/orchestrator/outcomes.ts';
import type { BacktestResult } from '../../app/backtest.ts';
import { backtestCommand } from '../../app/cli-backtest.ts';
import { halvesAccuracy, ModelTimelineRecorder, type ModelReading, type ModelSeries, type ModelTimeline } from '../../app/backtest-metrics.ts';
import { backtestReportHtml } from '../../app/report-html.ts';
import { captureOutput } from '../capture-output.ts';
import type { Action, ModelOutput } from '../../engine/messages/signals.ts';
import type { TsMs } from '../../engine/types/time.ts';

// The results of the backtests run in this file: `cobalt backtest`'s own run is the one the test reads, so the text it
// printed and the summary come from one replay (a second, spawned backtest only repeated the same 180k lines).
const runs = vi.hoisted(() => [] as unknown[]);
vi.mock('../../app/backtest.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../app/backtest.ts')>();
  const runBacktest: typeof real.runBacktest = async (...args) => {
    const r = await real.runBacktest(...args);
    runs.push(r);
    return r;
  };
  return { ...real, runBacktest };
});

const T0 = 1_723_161_600_000;
const out = (model: string, action: Action, ts: number): ModelOutput =>
  ({ model, version: 'v1', symbol: 'ETH/USDT', ts: ts as TsMs, action, probabilities: [1 / 3, 1 / 3, 1 / 3], confidence: 0.5 });

/**
 * 600 s of 1 s prices, up 2 bps a second for the first 300 s and down after; every second `bull` says BUY and `bear`
 * SELL, judged after 60 s by the orchestrator's own evaluator and tracker, sampled by the recorder before each price.
 */
function rightThenWrong(): { tl: ModelTimeline; bull: ModelSeries; bear: ModelSeries; tracker: AccuracyTracker } {
  const tracker = new AccuracyTracker();
  const evaluator = new HorizonOutcomeEvaluator(tracker, { horizonMs: 60_000, deadBandBps: 5, maxLateMs: 1_000 });
  const rec = new ModelTimelineRecorder(T0);
  const read = (): ReadonlyMap<string, ModelReading> => {
    const w = gatingWeights(['bull', 'bear'], (m) => tracker.accuracy(m).smoothed);
    return new Map(['bull', 'bear'].map((m) => [m, { ...judgedOf(tracker, m), gatingWeight: w[m]! }]));
  };
  let price = 2_500;
  for (let s = 0; s <= 600; s++) {
    const ts = T0 + s * 1_000;
    rec.sampleBefore(ts, read);
    price *= s <= 300 ? 1.0002 : 0.9998;
    evaluator.onPrice('ETH/USDT', price, ts as TsMs);
    evaluator.track(out('bull', 'BUY', ts));
    evaluator.track(out('bear', 'SELL', ts));
  }
  rec.finish(T0 + 600_000, read);
  const tl = rec.timeline(['bull@v1', 'bear@v1']);
  return { tl, bull: tl.models[0]!, bear: tl.models[1]!, tracker };
}

function judgedOf(tracker: AccuracyTracker, model: string): { judged: number; correct: number } {
  const j = tracker.judged(model);
  return { judged: j.evaluated, correct: j.correct };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('ModelTimelineRecorder', () => {
  it('shows a model that was right and then wrong: its rolling accuracy and weight drop after the turn', () => {
    const { tl, bull, bear, tracker } = rightThenWrong();
    const at = (t: number): number => tl.t.indexOf(T0 + t);
    const halves = halvesAccuracy(tl, bull);

    expect(tl.stepMs).toBe(4_000);
    expect([sum(bull.judged), sum(bull.correct)]).toEqual([tracker.judged('bull').evaluated, tracker.judged('bull').correct]);
    expect([bull.accuracy[at(300_000)], bull.accuracy[at(600_000)]]).toEqual([1, 0]);
    expect([bear.accuracy[at(300_000)], bear.accuracy[at(600_000)]]).toEqual([0, 1]);
    expect(bull.gatingWeight[at(300_000)]!).toBeGreaterThan(0.9);
    expect(bull.gatingWeight[at(600_000)]!).toBeLessThan(0.1);
    expect(halves.first).toEqual({ judged: 241, accuracy: 1 });
    expect(halves.second.accuracy!).toBeLessThan(0.2);
    // No outcome is due before the horizon: the window is empty, not 0%.
    expect([bull.accuracy[0], bull.windowJudged[0]]).toEqual([null, 0]);
  });

  it('keeps 100 to 200 points on a regular grid over any span, the counts still adding up', () => {
    const rec = new ModelTimelineRecorder(T0);
    let judged = 0;
    const read = (): ReadonlyMap<string, ModelReading> => new Map([['m', { judged, correct: Math.floor(judged / 2), gatingWeight: 1 }]]);
    // 3 days of lines every 7 s, one outcome judged per line, and a 5-hour hole.
    for (let t = 0; t < 3 * 86_400_000; t += t > 86_400_000 && t < 86_400_000 + 18_000_000 ? 18_000_000 : 7_000) {
      rec.sampleBefore(T0 + t, read);
      judged++;
    }
    rec.finish(T0 + 3 * 86_400_000, read);
    const tl = rec.timeline(['m@v1']);
    const steps = tl.t.slice(0, -1).map((t, i) => (i === 0 ? t - T0 : t - tl.t[i - 1]!));

    expect(tl.t.length).toBeGreaterThanOrEqual(100);
    expect(tl.t.length).toBeLessThanOrEqual(201);
    expect(new Set(steps)).toEqual(new Set([tl.stepMs]));
    expect(tl.t[tl.t.length - 1]).toBe(T0 + 3 * 86_400_000);
    expect([sum(tl.models[0]!.judged), sum(tl.models[0]!.correct)]).toEqual([judged, Math.floor(judged / 2)]);
  });

  it('counts a tracker that started over (a new version) from zero, not as a negative step', () => {
    const rec = new ModelTimelineRecorder(0);
    const readings = [12, 20, 3, 7].map((judged) => new Map([['cnn', { judged, correct: judged - 1, gatingWeight: 0.5 }]]));
    readings.forEach((r, i) => rec.sampleBefore((i + 1) * 1_000 + 1, () => r));
    const m = rec.timeline(['cnn@v2']).models[0]!;

    expect([m.judged, m.correct]).toEqual([[12, 8, 3, 4], [11, 8, 2, 4]]);
  });

  it('counts from the readings at its start (a backtest window\'s warm-up left out)', () => {
    const base = new Map([['cnn', { judged: 40, correct: 10, gatingWeight: 0.5 }]]);
    const rec = new ModelTimelineRecorder(0, 1_000, 200, base);
    [45, 52].forEach((judged, i) => rec.sampleBefore((i + 1) * 1_000 + 1, () => new Map([['cnn', { judged, correct: judged - 25, gatingWeight: 0.5 }]])));
    const m = rec.timeline(['cnn@v2']).models[0]!;

    expect([m.judged, m.correct]).toEqual([[5, 7], [10, 7]]);
  });

  it('stays on the grid when a coarsening drops the sample just taken', () => {
    // At most 4: the fifth sample (5 s) goes when the step doubles to 2 s; the next is due at 6 s, not 7 s.
    const rec = new ModelTimelineRecorder(0, 1_000, 4);
    for (let t = 0; t <= 40_000; t += 1_000) rec.sampleBefore(t, () => new Map());
    const tl = rec.timeline([]);

    expect(tl.t.every((t) => t % tl.stepMs === 0)).toBe(true);
    expect(tl.t.every((t, i) => i === 0 || t - tl.t[i - 1]! === tl.stepMs)).toBe(true);
  });
});

describe('a backtest of configs/backtest.yaml', () => {
  it('reports each model over time: ordered points whose counts add up to its judged figures, a chart, a halves line', async () => {
    const cli = await backtestText();
    expect(runs).toHaveLength(1);
    const r = runs[0] as BacktestResult;
    const s = r.summary;
    const tl = s.modelTimeline;

    expect(tl.models.map((m) => m.model)).toEqual(s.models);
    expect(tl.t.length).toBeGreaterThanOrEqual(50);
    expect(tl.t.length).toBeLessThanOrEqual(201);
    expect(tl.t.every((t, i) => t > (i === 0 ? Date.parse(s.from) : tl.t[i - 1]!))).toBe(true);
    for (const [i, m] of tl.models.entries()) {
      const f = s.modelFigures[i]!;
      expect([m.model, sum(m.judged), sum(m.correct)]).toEqual([f.model, f.judged, f.correct]);
      expect(f.judged).toBeGreaterThan(400);
      expect(m.accuracy).toEqual(windowAccuracy(m, tl.windowSteps));
      expect(m.gatingWeight[m.gatingWeight.length - 1]).toBe(f.gatingWeight);
      const h = halvesAccuracy(tl, m);
      expect(h.first.judged + h.second.judged).toBe(f.judged);
      expect(cli).toContain(`  ${m.model}: accuracy first half ${pct(h.first.accuracy)} of ${h.first.judged}, second half ${pct(h.second.accuracy)} of ${h.second.judged}\n`);
    }
    const html = backtestReportHtml(r);
    expect(html).toContain('<h2>Model accuracy over time</h2>');
    expect(html).toContain('aria-label="rolling accuracy and gating weight"');
    for (const m of s.models) expect(html).toContain(`${m} accuracy</text>`);
  }, 120_000);
});

// The rolling accuracy recomputed from the per-step counts, the window summed afresh at every point.
function windowAccuracy(m: ModelSeries, windowSteps: number): (number | null)[] {
  return m.judged.map((_, i) => {
    const from = Math.max(0, i - windowSteps + 1);
    const n = sum(m.judged.slice(from, i + 1));
    return n === 0 ? null : Math.round((sum(m.correct.slice(from, i + 1)) / n) * 1e6) / 1e6;
  });
}

const pct = (x: number | null): string => (x === null ? 'none judged' : `${(x * 100).toFixed(1)}%`);

// The text summary `cobalt backtest` prints for configs/backtest.yaml (no report), run in this process.
async function backtestText(): Promise<string> {
  const level = process.env.COBALT_LOG_LEVEL;
  process.env.COBALT_LOG_LEVEL = 'silent';
  try {
    const { result: code, out, err } = await captureOutput(() => backtestCommand({ config: 'configs/backtest.yaml', report: false }));
    expect([code, err]).toEqual([0, '']);
    return out;
  } finally {
    if (level === undefined) delete process.env.COBALT_LOG_LEVEL;
    else process.env.COBALT_LOG_LEVEL = level;
  }
}
