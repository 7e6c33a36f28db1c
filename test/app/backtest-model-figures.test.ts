// A backtest's summary says what each model in the blend did: its answers by action, how many the orchestrator judged
// and how many of those were right (the orchestrator's own outcome rule), its gating weight at the end, its failed
// runs, and how often two models agreed over the ticks both answered. On the bundled recording with the bundled CNN
// and DQN the figures are checked against a count of the run's own messages, judged again here by the rule the
// orchestrator documents (actors/orchestrator/outcomes.ts), and they are the same on a second run of the seed.
import { describe, expect, it } from 'vitest';
import { AccuracyTracker } from '../../actors/orchestrator/gating.ts';
import { ModelTimeoutError } from '../../actors/orchestrator/coordinator.ts';
import { ModelRegistry } from '../../actors/orchestrator/registry.ts';
import { runBacktest, type BacktestResult } from '../../app/backtest.ts';
import { ModelAnswers, modelFigures, type ModelEnd } from '../../app/backtest-metrics.ts';
import { backtestReportHtml } from '../../app/report-html.ts';
import type { System } from '../../app/system.ts';
import type { Action, ModelOutput } from '../../engine/messages/signals.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { testConfig } from '../e2e/helpers.ts';

const out = (model: string, action: Action, ts: number, version = 'v1'): ModelOutput =>
  ({ model, version, symbol: 'ETH/USDT', ts: ts as TsMs, action, probabilities: [1 / 3, 1 / 3, 1 / 3], confidence: 0.5 });

describe('ModelAnswers', () => {
  it('counts agreement over the ticks both models answered, a second answer at one instant being another tick', () => {
    const a = new ModelAnswers();
    for (const o of [
      out('x', 'BUY', 1), out('y', 'BUY', 1), out('z', 'SELL', 1),
      out('y', 'SELL', 2), out('x', 'BUY', 2), // z silent
      out('x', 'HOLD', 3), out('y', 'HOLD', 3), out('x', 'SELL', 3), out('y', 'BUY', 3), // two ticks at t=3
    ]) a.onOutput(o);

    const g = a.agreement(['x@v1', 'y@v1', 'z@v1', 'w@v1']);

    expect(g.both).toEqual([[4, 4, 1, 0], [4, 4, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]]);
    expect(g.share).toEqual([[1, 0.5, 0, null], [0.5, 1, 0, null], [0, 0, 1, null], [null, null, null, null]]);
    expect([a.actions('x@v1'), a.actions('w@v1')]).toEqual([{ BUY: 2, SELL: 1, HOLD: 1 }, { BUY: 0, SELL: 0, HOLD: 0 }]);
  });

  it('gives each model its answers and what the orchestrator holds of it, by name', () => {
    const a = new ModelAnswers();
    a.onOutput(out('cnn', 'SELL', 1));
    a.onOutput(out('cnn', 'HOLD', 2));
    const end: Record<string, ModelEnd> = {
      cnn: { judged: 3, correct: 1, gatingWeight: 0.4, gatingAccuracy: 0.35, failures: 2, timeouts: 1 },
      dqn: { judged: 0, correct: 0, gatingWeight: 0, gatingAccuracy: 1 / 3, failures: 0, timeouts: 0 },
    };

    expect(modelFigures(['cnn@v1', 'dqn@v2'], a, (n) => end[n]!)).toEqual([
      { model: 'cnn@v1', decisions: 2, actions: { BUY: 0, SELL: 1, HOLD: 1 }, judged: 3, correct: 1, accuracy: 0.333333, gatingWeight: 0.4, gatingAccuracy: 0.35, failures: 2, timeouts: 1 },
      { model: 'dqn@v2', decisions: 0, actions: { BUY: 0, SELL: 0, HOLD: 0 }, judged: 0, correct: 0, accuracy: null, gatingWeight: 0, gatingAccuracy: 0.333333, failures: 0, timeouts: 0 },
    ]);
  });
});

describe('AccuracyTracker.judged', () => {
  it('counts every outcome it judged beyond the gating window, not restored ones, and starts over on reset', () => {
    const t = new AccuracyTracker({ window: 2, temperature: 0.1, floor: 0.05, priorAccuracy: 1 / 3, priorCount: 0 });
    t.restore('cnn', '111');
    for (const [p, r] of [['BUY', 'BUY'], ['SELL', 'BUY'], ['HOLD', 'HOLD'], ['SELL', 'SELL'], ['BUY', 'HOLD']] as const) t.recordOutcome('cnn', p, r);
    const before = t.judged('cnn');
    t.reset('cnn');

    expect([before, t.accuracy('cnn').evaluated]).toEqual([{ evaluated: 5, correct: 3 }, 0]);
    expect(t.judged('cnn')).toEqual({ evaluated: 0, correct: 0 });
  });
});

describe('ModelRegistry timeouts', () => {
  it('counts the failures that were a run past its deadline', () => {
    const r = new ModelRegistry();
    r.register('cnn', { version: 'v1', run: () => Promise.reject(new Error('unused')) }, 0 as TsMs);
    r.recordFailure('cnn', 'v1', new ModelTimeoutError('model cnn v1 did not answer within 1000 ms'), 1 as TsMs);
    r.recordFailure('cnn', 'v1', new Error('worker died'), 2 as TsMs);

    expect(r.list()[0]).toMatchObject({ failures: 2, timeouts: 1 });
  });
});

/**
 * Each model's answers and a judging of them by the documented rule, from the run's own messages. A prediction's base
 * is the last trigger close when its tick became ready: the last close published at or before the tick's time. When
 * several ticks share one time (a trade closing two or more 1s bars at once), the first ran on the first close of that
 * instant and the others waited, queued (a newer close replaces a queued tick): they take the last closes, in order.
 */
function independentCount(horizonMs: number, deadBandBps: number, maxLateMs: number) {
  type Close = { readonly price: number; readonly ts: number; readonly at: number; readonly stream: number };
  const answers = new Map<string, { actions: Record<Action, number>; judged: number; correct: number }>();
  /** Ticks in order: each model's action. */
  const ticks: Map<string, Action>[] = [];
  const closes: Close[] = [];
  let stream = 0;
  let group: { ts: number; ticks: Map<string, Action>[] } | undefined;
  let pending: { id: string; predicted: Action; due: number; p0: number; stream: number }[] = [];
  const judge = (c: Close): void => {
    pending = pending.filter((q) => {
      if (q.stream !== c.stream) return false;
      if (c.ts < q.due) return true;
      if (c.ts - q.due <= maxLateMs) {
        const bps = (c.price / q.p0 - 1) * 10_000;
        const a = answers.get(q.id)!;
        a.judged++;
        if (q.predicted === (bps > deadBandBps ? 'BUY' : bps < -deadBandBps ? 'SELL' : 'HOLD')) a.correct++;
      }
      return false;
    });
  };
  // Gives the ticks of the finished group their bases (see above).
  const track = (): void => {
    if (!group) return;
    const upTo = closes.filter((c) => c.at <= group!.ts);
    const first = upTo.find((c) => c.at === group!.ts);
    const n = group.ticks.length;
    group.ticks.forEach((t, i) => {
      const b = i === 0 && n > 1 && first ? first : upTo[upTo.length - n + i];
      if (b && b.stream === stream) for (const [id, action] of t) pending.push({ id, predicted: action, due: b.ts + horizonMs, p0: b.price, stream: b.stream });
    });
    group = undefined;
  };
  const attach = (sys: System): void => {
    sys.bus.subscribe('md.feedReset', (m) => void (m.symbol === 'ETH/USDT' && stream++));
    sys.bus.subscribe('md.candle', (m) => {
      if (!m.candle.closed || m.timeframe !== '1s' || m.symbol !== 'ETH/USDT') return;
      const c = { price: m.candle.close, ts: m.candle.openTime + 1_000, at: sys.clock.now(), stream };
      if (group && c.at > group.ts) track();
      closes.push(c);
      judge(c);
    });
    sys.bus.subscribe('signal.modelOutput', ({ output: o }) => {
      const id = `${o.model}@${o.version}`;
      const a = answers.get(id) ?? { actions: { BUY: 0, SELL: 0, HOLD: 0 }, judged: 0, correct: 0 };
      answers.set(id, a);
      a.actions[o.action]++;
      if (group && group.ts !== o.ts) track();
      group ??= { ts: o.ts, ticks: [] };
      let t = group.ticks[group.ticks.length - 1];
      if (!t || t.has(id)) {
        group.ticks.push((t = new Map()));
        ticks.push(t);
      }
      t.set(id, o.action);
    });
  };
  const agreement = (a: string, b: string): number => {
    let both = 0;
    let same = 0;
    for (const t of ticks) {
      if (!t.has(a) || !t.has(b)) continue;
      both++;
      if (t.get(a) === t.get(b)) same++;
    }
    return Math.round((same / both) * 1e6) / 1e6;
  };
  return { attach, answers, ticks, agreement };
}

describe('a backtest of the bundled models on the bundled recording', () => {
  it('reports each model\'s answers, judged accuracy, weight and failures, and their agreement, as counted from its messages', async () => {
    const config = testConfig({ models: { cnn: { enabled: true }, dqn: { enabled: true } } });
    const count = independentCount(60_000, 5, 1_000);
    const first = await runBacktest(config, { seed: 42, onSystem: count.attach });
    const second = await runBacktest(config, { seed: 42 });
    const s = first.summary;

    expect(s.modelFigures.map((m) => m.model)).toEqual(s.models);
    expect(s.models).toHaveLength(3);
    for (const m of s.modelFigures) {
      const c = count.answers.get(m.model)!;
      expect([m.model, m.actions, m.decisions, m.judged, m.correct]).toEqual([m.model, c.actions, count.ticks.length, c.judged, c.correct]);
      expect(m.judged).toBeGreaterThan(400);
      expect([m.failures, m.timeouts]).toEqual([0, 0]);
    }
    const weights = s.modelFigures.map((m) => m.gatingWeight);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // The gating ranks them by their smoothed window accuracy.
    const byAccuracy = [...s.modelFigures].sort((a, b) => b.gatingAccuracy - a.gatingAccuracy).map((m) => m.model);
    expect([...s.modelFigures].sort((a, b) => b.gatingWeight - a.gatingWeight).map((m) => m.model)).toEqual(byAccuracy);
    expect(s.modelAgreement.models).toEqual(s.models);
    s.models.forEach((a, i) => s.models.forEach((b, j) => {
      expect([a, b, s.modelAgreement.share[i]![j]]).toEqual([a, b, i === j ? 1 : count.agreement(a, b)]);
      expect(s.modelAgreement.both[i]![j]).toBe(count.ticks.length);
    }));
    expect([second.summary.modelFigures, second.summary.modelAgreement]).toEqual([s.modelFigures, s.modelAgreement]);
    reportShowsModels(first);
  }, 120_000);
});

// The HTML report has a table of the models' figures and the agreement matrix.
function reportShowsModels(r: BacktestResult): void {
  const html = backtestReportHtml(r);
  const m = r.summary.modelFigures[1]!;
  expect(html).toContain('<h2>Models</h2>');
  expect(html).toContain(`<td>${m.model}</td><td>${m.decisions}</td>`);
  expect(html).toContain(`${(m.accuracy! * 100).toFixed(1)}%`);
  expect(html).toContain('<h2>Model agreement</h2>');
  expect(html).toContain(`${(r.summary.modelAgreement.share[0]![1]! * 100).toFixed(1)}%`);
}
