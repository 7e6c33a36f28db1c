// The risk topic read the risk provider directly while the trading-state metric went through the guarded read that
// keeps the last known state: a provider that threw (the risk child restarting) broke every push and /api/state.
import { describe, expect, it } from 'vitest';
import { DashboardViewModel, type RiskFigures } from '../../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';

function viewModel(risk: () => RiskFigures | undefined): DashboardViewModel {
  const view = new DashboardViewModel({ bus: new Bus<EngineMsg>(), providers: { risk } });
  view.start();
  return view;
}

describe('the risk topic', () => {
  it('keeps the last state the provider read while the provider throws', () => {
    let down = false;
    const view = viewModel(() => {
      if (down) throw new Error('risk child restarting');
      return { state: 'halted', reason: 'drawdown', killSwitch: true, exposure: 12 };
    });
    const before = view.build('risk', new Map()) as Record<string, unknown>;
    down = true;
    const during = view.build('risk', new Map()) as Record<string, unknown>;

    expect([before.state, before.reason, before.killSwitch, before.exposure]).toEqual(['halted', 'drawdown', true, 12]);
    expect([during.state, during.reason, during.killSwitch, during.exposure]).toEqual(['halted', 'drawdown', true, undefined]);
    expect(view.snapshot().risk).toMatchObject({ state: 'halted', killSwitch: true });
  });
});
