// Model health on the bundled recording: a backtest of configs/backtest.yaml (momentum, the bundled CNN and DQN, as
// the model-timeline test runs it) publishes signal.modelHealth on changes only, the same ones on a second run of the
// seed, each degraded model significantly worse than always predicting its window's most frequent move.
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../app/backtest.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { createLogger } from '../../engine/log.ts';
import type { ModelHealthMsg } from '../../engine/messages/orchestrator.ts';

async function healthOfRun(): Promise<ModelHealthMsg[]> {
  const { config } = loadConfig('configs/backtest.yaml');
  const seen: ModelHealthMsg[] = [];
  await runBacktest(config, { logger: createLogger({ level: 'silent' }), onSystem: (sys) => void sys.bus.subscribe('signal.modelHealth', (m) => void seen.push(m)) });
  return seen;
}

describe('model health in a backtest of configs/backtest.yaml', () => {
  it('says which model degraded, recovered and was overconfident, when, and says the same on a second run', async () => {
    const first = await healthOfRun();
    const second = await healthOfRun();

    expect(second).toEqual(first);
    // What the monitor found (window 200, a say from 100, 95 %): momentum and the CNN worse than "always HOLD" from
    // the 100th judged outcome, the CNN back once the market stopped being mostly quiet, then worse than "always BUY";
    // the DQN worse than "always SELL" over a full window.
    expect(first.map((m) => [m.model, m.change, m.judged, m.baselineAction])).toEqual([
      ['momentum', 'degraded', 100, 'HOLD'],
      ['cnn', 'degraded', 100, 'HOLD'],
      ['cnn', 'overconfident', 105, 'HOLD'],
      ['momentum', 'overconfident', 106, 'HOLD'],
      ['cnn', 'calibrated', 200, 'SELL'],
      ['dqn', 'degraded', 200, 'SELL'],
      ['cnn', 'recovered', 200, 'SELL'],
      ['cnn', 'degraded', 200, 'BUY'],
    ]);
    for (const m of first.filter((x) => x.change === 'degraded')) {
      expect([m.model, m.state, m.accuracy < m.baseline, m.pValue < 0.05]).toEqual([m.model, 'degraded', true, true]);
    }
    for (const m of first.filter((x) => x.change === 'overconfident')) expect(m.meanConfidence - m.accuracy).toBeGreaterThan(0.25);
    // Changes only: never the same change of a model twice in a row.
    const last = new Map<string, string>();
    for (const m of first) {
      const kind = m.change === 'degraded' || m.change === 'recovered' ? 'state' : 'confidence';
      expect(last.get(`${m.model} ${kind}`)).not.toBe(m.change);
      last.set(`${m.model} ${kind}`, m.change);
    }
  }, 120_000);
});
