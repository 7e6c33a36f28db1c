// A backtest over a window of the recording (runBacktest's `window`, which `cobalt sweep` runs its out-of-sample part
// on): the lines before the window warm the engine up with trading held, and the figures start at the window.
import { describe, expect, it } from 'vitest';
import type { Orchestrator } from '../../actors/orchestrator/orchestrator.ts';
import { runBacktest } from '../../app/backtest.ts';
import { catalogSource } from '../../app/backtest-source.ts';
import { dataInstrumentsOf } from '../../app/system.ts';
import type { Config } from '../../engine/config/index.ts';
import { createLogger } from '../../engine/log.ts';
import type { Action } from '../../engine/messages/signals.ts';
import { testConfig } from '../e2e/helpers.ts';

const logger = createLogger({ level: 'silent' });
const sum = (r: Record<string, number> | readonly number[]): number => Object.values(r).reduce((a, b) => a + b, 0);

// The recording's lines in [fromMs, toMs), read straight from its replay catalog.
async function linesIn(config: Config, w: { fromMs: number; toMs: number }): Promise<number> {
  const src = await catalogSource(config.data.replayFiles, dataInstrumentsOf(config), config.data.catalogDir, logger);
  await src.ready();
  src.bind({ lane: () => ({}) } as never);
  let n = 0;
  while (src.nextSync()) if (src.ts >= w.fromMs && src.ts < w.toMs) n++;
  await src.close();
  return n;
}

describe('a backtest window', () => {
  it('trades and counts from its start only, on books and candles the lines before it built', async () => {
    // The bundled recording's first line; its first fill (momentum BUY, thresholds of testConfig) is at 00:00:00.3.
    const first = Date.parse('2024-08-08T23:54:13.937Z');
    const plain = await runBacktest(testConfig(), { seed: 42, maxSpanMs: 420_000, logger });
    // After that fill: the BUY the momentum rule makes there falls in the warm-up and must be held.
    const fromMs = first + 350_000;
    const win = await runBacktest(testConfig(), { seed: 42, window: { fromMs, toMs: first + 420_000 }, logger });
    const s = win.summary;
    expect(Date.parse(s.from)).toBeGreaterThanOrEqual(fromMs);
    expect(Date.parse(s.to)).toBeLessThanOrEqual(first + 420_000);
    expect(s.simulatedMs).toBeLessThan(75_000);
    expect(plain.fills.filter((f) => f.ts < fromMs).length).toBeGreaterThan(0);
    // Nothing filled before the window; in it the engine trades on the book and candles the warm-up built (a replay
    // that skipped those lines would have no depth snapshot, so no live book and no fill).
    expect(win.fills.length).toBeGreaterThan(0);
    expect(win.fills.filter((f) => f.ts < fromMs)).toEqual([]);
    expect(win.equity[0]!.t).toBeGreaterThanOrEqual(fromMs);
    expect(s.bookDownMs).toBe(0);
    // The held decisions count nowhere: no halt, no denial, and the decisions of the window alone, each accounted for
    // by a verdict or a reason for no intent.
    expect([s.haltedReason, s.denials]).toEqual([null, {}]);
    expect(sum(s.decisions)).toBeLessThan(sum(plain.summary.decisions));
    expect(sum(s.decisions)).toBe(s.approvals + sum(s.denials) + sum(s.noIntent));
  }, 120_000);

  // Review s21 finding 1: an out-of-sample run's modelFigures, modelAgreement, modelTimeline and lines counted the
  // warm-up too (the figures of a run from the first line, not of the window).
  it('counts the models and the lines of the window only: the answers, judged outcomes and timeline after its start', async () => {
    const first = Date.parse('2024-08-08T23:54:13.937Z');
    const window = { fromMs: first + 200_000, toMs: first + 420_000 };
    const config = testConfig();
    // Recomputed from the bus: the answers after the kill switch let go (the window's start), and what the
    // orchestrator had judged by then and at the end.
    let started = false;
    let orch: Orchestrator | undefined;
    let judgedAtStart = { evaluated: 0, correct: 0 };
    const answers = new Map<string, Record<Action, number>>();
    const r = await runBacktest(config, {
      seed: 42, window, logger,
      onSystem: (sys) => {
        sys.bus.subscribe('risk.killSwitch', (m) => {
          if (m.on) return;
          started = true;
          orch = sys.handles.orchestrator.current;
          judgedAtStart = orch!.accuracy.judged('momentum');
        });
        sys.bus.subscribe('signal.modelOutput', ({ output: o }) => {
          if (!started) return;
          const c = answers.get(`${o.model}@${o.version}`) ?? { BUY: 0, SELL: 0, HOLD: 0 };
          c[o.action]++;
          answers.set(`${o.model}@${o.version}`, c);
        });
      },
    });
    const s = r.summary;
    const [f] = s.modelFigures;
    const judgedAtEnd = orch!.accuracy.judged('momentum');
    const judged = judgedAtEnd.evaluated - judgedAtStart.evaluated;
    const correct = judgedAtEnd.correct - judgedAtStart.correct;
    const series = s.modelTimeline.models[0]!;

    expect(s.modelFigures.map((m) => m.model)).toEqual([...answers.keys()]);
    expect([f!.actions, f!.decisions]).toEqual([answers.get(f!.model), sum(answers.get(f!.model)!)]);
    expect(judgedAtStart.evaluated).toBeGreaterThan(0);
    expect(judged).toBeGreaterThan(0);
    expect([f!.judged, f!.accuracy]).toEqual([judged, Math.round((correct / judged) * 1e6) / 1e6]);
    expect(s.modelAgreement.both).toEqual([[f!.decisions]]);
    expect([sum(series.judged), sum(series.correct)]).toEqual([judged, correct]);
    // One step after the window's first line (its time has a fraction of a ms that `from` leaves out).
    expect(Math.floor(s.modelTimeline.t[0]! - s.modelTimeline.stepMs)).toBe(Date.parse(s.from));
    expect(s.lines).toBe(await linesIn(config, window));
  }, 120_000);

  it('refuses a window that ends before it starts', async () => {
    await expect(runBacktest(testConfig(), { window: { fromMs: 2, toMs: 1 }, logger })).rejects.toThrow('backtest window fromMs 2 must be a time before toMs 1');
  });
});
