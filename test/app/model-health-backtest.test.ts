// Model health on the bundled recording: a backtest of configs/backtest.yaml (momentum, the bundled CNN and DQN, as
// the model-timeline test runs it). The monitor takes one judged prediction per model per 60 s horizon (consecutive
// ones share their move), so the recording's few minutes are far too short for a verdict at the defaults (the first
// comes after window + minJudged horizons); none is published, the same on a second run of the seed.
import { describe, expect, it } from 'vitest';
import type { HealthFigures } from '../../actors/orchestrator/model-health.ts';
import { runBacktest } from '../../app/backtest.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { createLogger } from '../../engine/log.ts';
import type { ModelHealthMsg } from '../../engine/messages/orchestrator.ts';

async function healthOfRun(): Promise<{ seen: ModelHealthMsg[]; figures: Record<string, HealthFigures> | undefined; span: number }> {
  const { config } = loadConfig('configs/backtest.yaml');
  const seen: ModelHealthMsg[] = [];
  let figures: Record<string, HealthFigures> | undefined;
  let first: number | undefined;
  let last = 0;
  await runBacktest(config, {
    logger: createLogger({ level: 'silent' }),
    onSystem: (sys) => {
      sys.bus.subscribe('signal.modelHealth', (m) => void seen.push(m));
      sys.bus.subscribe('md.candle', (m) => {
        first ??= m.candle.openTime;
        last = m.candle.openTime;
        figures = sys.handles.orchestrator.current?.health?.all() ?? figures;
      });
    },
  });
  return { seen, figures, span: last - (first ?? last) };
}

describe('model health in a backtest of configs/backtest.yaml', () => {
  it('judges at most one prediction per model per horizon and says nothing on a recording this short', async () => {
    const first = await healthOfRun();
    const second = await healthOfRun();

    const judged = Object.values(first.figures ?? {}).map((f) => f.judged);

    expect(second.seen).toEqual(first.seen);
    expect(first.seen).toEqual([]);
    // Each model judged, at most one per 60 s of the recording: never the ~one a second the evaluator judges.
    expect(judged.length).toBe(3);
    for (const n of judged) expect(n).toBeGreaterThan(0);
    for (const n of judged) expect(n).toBeLessThanOrEqual(Math.floor(first.span / 60_000) + 1);
  }, 120_000);
});
