// The `start` control refused with 409 and the RiskManager's reason, as a rollback with nothing to go back to is.
// Review of the dashboard controls (kill switch), finding 4: `start` without resetPeak went active over a drawdown
// past the maximum, and over an engine failure.
import { describe, expect, it } from 'vitest';
import { controlMessages, type ControlChecks } from '../../../engine/dashboard/controls.ts';
import { createRiskState, onMark, resumeRefusal, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import { ETH, ETH_PX, limits, lots } from '../../actors/risk-manager/helpers.ts';

// 3.7 ETH at 2,683.80 + 69.94 cash = 10,000 of equity; 2,673.60 is 37 bps under it, past a 35 bps maximum.
function afterFall(): RiskState {
  const s = createRiskState({
    limits: limits({ maxDrawdownBps: 35, maxPositionNotional: money('20000'), maxExposure: money('20000') }),
    instruments: [ETH], cash: money('69.94'), positions: { 'ETH/USDT': { lots: lots(37000), cost: money('9930.06') } },
  });
  const fell = onMark(onMark(s, 'ETH/USDT', ETH_PX.t1520538925, 1).state, 'ETH/USDT', ETH_PX.t1520547382 as Ticks, 2);
  return { ...fell.state, tradingState: 'halted' };
}

const checksOf = (s: RiskState): ControlChecks => ({ resume: (resetPeak) => resumeRefusal(s, resetPeak) });

describe('start control', () => {
  it('answers 409 with the reason while drawdown is past the maximum, and sends nothing', () => {
    expect(controlMessages('start', {}, 5, checksOf(afterFall()))).toEqual({
      ok: false, status: 409,
      error: 'start refused: drawdown 37 bps is at or above the maximum 35 bps; resume with resetPeak to measure drawdown from the current equity',
    });
  });

  it('sends the resume with resetPeak, which measures drawdown afresh', () => {
    const r = controlMessages('start', { resetPeak: true }, 5, checksOf(afterFall()));
    expect(r.ok && r.messages.map((m) => m.type)).toEqual(['risk.killSwitch', 'risk.resume']);
  });

  it('answers 409 after an engine failure, resetPeak or not', () => {
    const s = { ...afterFall(), engineFailure: "system halted: actor 'executor' spent its restart budget" };
    const r = controlMessages('start', { resetPeak: true }, 5, checksOf(s));
    expect(r.ok === false && [r.status, r.error]).toEqual([409, expect.stringContaining("the engine halted for a failure (system halted: actor 'executor'")]);
  });
});

describe('rollback control', () => {
  const targets: Record<string, string[]> = { cnn: [], dqn: ['v000001'] };
  const checks: ControlChecks = { rollback: (model) => targets[model] };

  it.each([
    ['a model with no earlier version', 'cnn', "rollback: model 'cnn' has no earlier version to roll back to"],
    ['a model not in the blend', 'lstm', "rollback: no model 'lstm' in the blend"],
  ])('answers 409 for %s, and sends nothing', (_case, model, error) => {
    expect(controlMessages('rollback', { model }, 5, checks)).toEqual({ ok: false, status: 409, error });
  });

  it('sends the rollback of a model with somewhere to go', () => {
    expect(controlMessages('rollback', { model: 'dqn' }, 5, checks)).toEqual({ ok: true, action: 'rollback', messages: [{ type: 'orchestrator.rollback', model: 'dqn' }] });
  });
});
