// Model health on /metrics and in the models panel: cobalt_model_health{model} (0 ok, 1 degraded) from the monitor's
// figures when the modelHealth provider answers, else from each model's last signal.modelHealth; the windowed accuracy
// only from live figures (never the stale figure of the last change).
import { describe, expect, it } from 'vitest';
import { DashboardMetrics } from '../../../engine/dashboard/metrics.ts';
import { DashboardViewModel, type ModelHealthView } from '../../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { ModelHealthMsg } from '../../../engine/messages/orchestrator.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import type { TsMs } from '../../../engine/types/time.ts';

const degraded: ModelHealthMsg = {
  type: 'signal.modelHealth', model: 'dqn', version: 'v1', change: 'degraded', state: 'degraded', overconfident: false,
  accuracy: 0.3, baseline: 0.41, baselineAction: 'SELL', meanConfidence: 0.34, judged: 200, pValue: 0.039, ts: 1 as TsMs,
};
const series = async (m: DashboardMetrics): Promise<string[]> =>
  (await m.text()).split('\n').filter((l) => /^cobalt_model_(health|accuracy_window)\{/.test(l)).sort();

describe('model health on the dashboard', () => {
  it('exports each model\'s state from its last change, and no accuracy without live figures', async () => {
    const bus = new Bus<EngineMsg>();
    const view = new DashboardViewModel({ bus });
    view.start();
    const m = new DashboardMetrics({ bus, view, wsClients: () => 0 });
    const before = await series(m);
    bus.publish(degraded);
    bus.publish({ ...degraded, model: 'cnn', change: 'recovered', state: 'ok' });

    expect(before).toEqual([]);
    expect(await series(m)).toEqual(['cobalt_model_health{model="cnn"} 0', 'cobalt_model_health{model="dqn"} 1']);
    expect((view.build('models', new Map()) as { health: Record<string, ModelHealthView> }).health).toEqual({
      dqn: { state: 'degraded', overconfident: false, accuracy: 0.3, baseline: 0.41, judged: 200 },
      cnn: { state: 'ok', overconfident: false, accuracy: 0.3, baseline: 0.41, judged: 200 },
    });
    m.close();
  });

  it('exports the monitor\'s figures now when the provider answers', async () => {
    const bus = new Bus<EngineMsg>();
    const now: Record<string, ModelHealthView> = { dqn: { state: 'ok', overconfident: true, accuracy: 0.625, baseline: 0.5, judged: 160 } };
    const view = new DashboardViewModel({ bus, providers: { modelHealth: () => now } });
    view.start();
    const m = new DashboardMetrics({ bus, view, wsClients: () => 0 });
    bus.publish(degraded);

    expect(await series(m)).toEqual(['cobalt_model_accuracy_window{model="dqn"} 0.625', 'cobalt_model_health{model="dqn"} 0']);
    expect((view.build('models', new Map()) as { health: unknown }).health).toEqual(now);
    m.close();
  });
});
