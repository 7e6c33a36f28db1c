import { describe, expect, it } from 'vitest';
import { DashboardMetrics } from '../../../engine/dashboard/metrics.ts';
import { DashboardViewModel } from '../../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';

describe('dashboard metrics: outputs left out of the blend', () => {
  it('counts each decision\'s ignored outputs by model and reason', async () => {
    const bus = new Bus<EngineMsg>();
    const m = new DashboardMetrics({ bus, view: new DashboardViewModel({ bus }), wsClients: () => 0 });
    const decision = (ignored?: Record<string, string>): EngineMsg => ({
      type: 'signal.decision', symbol: 'ETH/USDT', action: 'HOLD', confidence: 0.4, weights: { cnn: 1 }, ts: 1, ...(ignored ? { ignored } : {}),
    });
    bus.publish(decision({ dqn: 'lowConfidence' }));
    bus.publish(decision({ dqn: 'lowConfidence', momentum: 'notGated' }));
    bus.publish(decision());
    const lines = (await m.text()).split('\n').filter((l) => l.startsWith('cobalt_model_outputs_ignored_total{'));
    expect(lines.sort()).toEqual([
      'cobalt_model_outputs_ignored_total{model="dqn",reason="lowConfidence"} 2',
      'cobalt_model_outputs_ignored_total{model="momentum",reason="notGated"} 1',
    ]);
    m.close();
  });
});
