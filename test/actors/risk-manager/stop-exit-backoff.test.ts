// A stop whose exit the venue keeps refusing (review of the RiskManager, #2): it was sent again on every mark, 10
// exits and 10 STOP_LOSS alerts in 2 s, filling the submit window so that a strategy's reduce-only sell was denied.
import { describe, expect, it } from 'vitest';
import { createRiskState, onExecFill, onIntent, onMark, onOrderEnd, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { clientOrderIdFor } from '../../../engine/types/ids.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { ETH, fill, intent, limits, lots } from './helpers.ts';

const T = 1_723_161_300_000;
const LOW = 260000 as Ticks; // 2600.00: 2.98% under the 2680.17 entry, past the 2% stop

function held(): RiskState {
  return createRiskState({
    limits: limits({ stopLossBps: 200, maxSubmitsPerSecond: 5 }), instruments: [ETH], cash: money('8000'),
    positions: { 'ETH/USDT': { lots: lots(5000), cost: money('1340.085') } },
  });
}

// Marks every 100 ms from `from` for `ms`; every exit is refused 1 ms after it is sent.
function refuseAll(s0: RiskState, from: number, ms: number): { s: RiskState; exits: number[]; alerts: number } {
  let s = s0;
  const exits: number[] = [];
  let alerts = 0;
  for (let t = from; t < from + ms; t += 100) {
    const st = onMark(s, 'ETH/USDT', LOW, t as TsMs);
    s = st.state;
    for (const o of st.out) {
      if (o.type === 'risk.alert' && o.code === 'STOP_LOSS') alerts++;
      if (o.type !== 'risk.orderApproved') continue;
      exits.push(t - from);
      s = onOrderEnd(s, clientOrderIdFor(o.intent.id), 'rejected INSUFFICIENT_BALANCE: test', (t + 1) as TsMs).state;
    }
  }
  return { s, exits, alerts };
}

describe('stop exits the venue refuses', () => {
  it('are sent again after a backoff of 1 s doubling, with one STOP_LOSS alert for the episode', () => {
    const { s, exits, alerts } = refuseAll(held(), T, 8_000);
    // Sent at 0; refused: 1 s; refused again: 2 s more; then 4 s.
    expect(exits).toEqual([0, 1_100, 3_200, 7_300]);
    expect(alerts).toBe(1);
    // The submit window has room for a strategy's reduce-only sell.
    const v = onIntent(s, intent({ side: 'sell', reduceOnly: true, lots: lots(100) }), (T + 7_950) as TsMs).out[0];
    expect(v?.type).toBe('risk.orderApproved');
  });

  it('start a new episode after a sell fill: sent at once, alerted again', () => {
    let { s } = refuseAll(held(), T, 2_000);
    // 1000 lots of a later exit fill; the rest expires: the next exit goes at the next mark.
    const st = onMark(s, 'ETH/USDT', LOW, (T + 5_000) as TsMs);
    const exit = st.out.find((o) => o.type === 'risk.orderApproved');
    expect(exit).toBeDefined();
    const cid = exit!.type === 'risk.orderApproved' ? clientOrderIdFor(exit!.intent.id) : undefined!;
    s = onExecFill(st.state, fill('sell', LOW, 1000, money('0'), { clientOrderId: cid }), false, (T + 5_001) as TsMs).state;
    s = onOrderEnd(s, cid, 'expired', (T + 5_002) as TsMs).state;
    const again = refuseAll(s, T + 5_100, 300);
    expect(again.exits).toEqual([0]);
    expect(again.alerts).toBe(1);
  });
});
