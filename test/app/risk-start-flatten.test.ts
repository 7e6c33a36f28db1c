// A standing flatten restored at a start (risk-child.ts riskStartState): the alert and exit times of the last run are
// dropped with its exits, so an exit of the new run that the executor leaves in flight is reported 30 s after it was
// sent, however recently the last run reported one (review of the standing flatten's late-exit alert).
import { describe, expect, it } from 'vitest';
import { riskStartState, type RiskControl } from '../../app/risk-child.ts';
import { onFlattenCheck, onMark, type RiskOut } from '../../actors/risk-manager/logic.ts';
import { money } from '../../engine/types/money.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { ETH, ETH_PX, limits, lots } from '../actors/risk-manager/helpers.ts';

const T0 = 1_723_161_255_611 as TsMs; // time of the recording's first ETH trade
const SYM = 'ETH/USDT';

describe('standing flatten restored at a start', () => {
  it('reports an exit of the new run left in flight 30 s after it was sent, whatever the last run reported', () => {
    const initial = { limits: limits(), instruments: [ETH], cash: money('8658.1'), positions: { [SYM]: { lots: lots(5000), cost: money('1341.9') } } };
    // Stored 10 s before the restart: the last run's exit was reported late then.
    const control: RiskControl = {
      tradingState: 'halted', stateReason: 'kill switch: operator', killSwitch: true, peakEquity: money('10000'),
      flatten: { [SYM]: { reason: 'operator', since: (T0 - 100_000) as TsMs, refusals: 0, retryAt: 0 as TsMs, exitSince: (T0 - 40_000) as TsMs, lateAlertedAt: (T0 - 10_000) as TsMs } },
    };
    const s0 = riskStartState(initial, [], control, T0);
    const sent = onFlattenCheck(s0, T0, true); // the executor reconciled: the exit goes out
    const late = onMark(sent.state, SYM, ETH_PX.t1520538925, (T0 + 30_000) as TsMs);
    const codes = (out: readonly RiskOut[]) => out.map((o) => (o.type === 'risk.alert' ? o.code : o.type));
    expect([codes(sent.out), codes(late.out)]).toEqual([['risk.orderApproved'], ['FLATTEN_INCOMPLETE']]);
  });
});
