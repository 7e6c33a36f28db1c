// From a review of the RiskManager (session 19): a halt disarmed the stops of the positions it left open; VaR kept a flat account reducing
// for its whole window; a resume out of drawdown-reducing was accepted and undone by the next mark.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { controlMessages } from '../../../engine/dashboard/controls.ts';
import {
  createRiskState, onFill, onIntent, onMark, onOrderEnd, onResume, resumeRefusal, type RiskOut, type RiskState, type Step,
} from '../../../actors/risk-manager/logic.ts';
import { riskManager } from '../../../actors/risk-manager/machine.ts';
import { EMPTY_VAR, observeMark } from '../../../actors/risk-manager/var.ts';
import { ETH, fill, intent, limits, lots } from './helpers.ts';

const SYM = 'ETH/USDT';
const codes = (out: readonly RiskOut[]) => out.map((o) => (o.type === 'risk.alert' ? `alert:${o.code}` : o.type === 'risk.orderApproved' ? `exit:${o.intent.reason}` : o.type));
const moved = (st: Step): RiskState => (st.to ? { ...st.state, tradingState: st.to.to, stateReason: st.to.reason } : st.state);

// 1.8 ETH bought at 2,680.00 (4,824 USDT) out of 10,000.
function bought(over: Partial<RiskLimits>): RiskState {
  const s = createRiskState({
    limits: limits({ maxPositionNotional: money('5000'), maxExposure: money('5000'), ...over }), instruments: [ETH], cash: money('10000'),
  });
  return onFill(s, fill('buy', 268_000 as Ticks, 18_000, money('0')));
}

describe('stops while halted', () => {
  it('re-sends an expired stop exit on a later mark after a drawdown halt, one exit at a time', () => {
    let s = bought({ stopLossBps: 200, maxDrawdownBps: 300, reduceAtDrawdownBps: 150 });
    s = onMark(s, SYM, 268_000 as Ticks, 1_000).state;
    const gap = onMark(s, SYM, 241_200 as Ticks, 2_000); // a 10% gap through the 2% stop
    s = moved(gap);
    const cid = s.exitOrders[SYM]!;
    s = onOrderEnd(s, cid, 'expired', 2_500).state; // the IOC stop exit found no liquidity at the gap
    const at2300 = onMark(s, SYM, 230_000 as Ticks, 3_000);
    const at2000 = onMark(at2300.state, SYM, 200_000 as Ticks, 4_000);
    const close = onIntent(at2000.state, intent({ side: 'sell', orderType: 'market', lots: lots(18_000), reduceOnly: true, price: undefined }), 5_000);
    expect([codes(gap.out), s.tradingState]).toEqual([['alert:STOP_LOSS', 'exit:stop-loss', 'alert:DRAWDOWN'], 'halted']);
    // The same stop episode: its exit goes out again without a second STOP_LOSS alert.
    expect([codes(at2300.out), codes(at2000.out)]).toEqual([['exit:stop-loss'], []]);
    const exit = at2300.out[0];
    expect(exit?.type === 'risk.orderApproved' && exit.intent).toMatchObject({ side: 'sell', lots: 18_000, reduceOnly: true });
    expect(close.out.map((o) => (o.type === 'risk.orderDenied' ? o.reason.code : o.type))).toEqual(['TRADING_HALTED']);
  });

  it('waits for the submit window while halted, then sends the stop', () => {
    let s = moved(onMark(bought({ stopLossBps: 200, maxDrawdownBps: 300, maxSubmitsPerSecond: 1 }), SYM, 268_000 as Ticks, 1_000));
    s = { ...s, tradingState: 'halted', submits: [1_500] };
    const full = onMark(s, SYM, 230_000 as Ticks, 2_000);
    const free = onMark(full.state, SYM, 230_000 as Ticks, 2_500);
    expect([codes(full.out), codes(free.out)]).toEqual([[], ['alert:STOP_LOSS', 'exit:stop-loss']]);
  });

  it('keeps the stop of a position held through an engine-failure halt', () => {
    const clock = new SimulatedClock(0);
    const actor = createActor(riskManager, {
      input: { limits: limits({ stopLossBps: 200, maxDrawdownBps: 5_000, maxPositionNotional: money('5000') }), instruments: [ETH], cash: money('5176'),
        positions: { [SYM]: { lots: lots(18_000), cost: money('4824') } } },
      clock,
    });
    const exits: string[] = [];
    actor.on('risk.orderApproved', (e) => exits.push(`${e.intent.reason}:${e.intent.lots}`));
    actor.start();
    const mark = (px: number) => { clock.advance(1_000); actor.send({ type: 'risk.mark', symbol: SYM, price: px as Ticks, ts: clock.now() }); };
    mark(268_000);
    actor.send({ type: 'risk.killSwitch', on: true, reason: 'system halted: orchestrator failed', source: 'engine', ts: clock.now() });
    mark(266_000);
    mark(262_000); // 2.2% under the entry
    expect([actor.getSnapshot().value, exits]).toEqual(['halted', ['stop-loss:18000']]);
  });
});

describe('VaR of a flat book', () => {
  it('is zero with no alert, while its samples still accumulate', () => {
    const l = limits({ varIntervalMs: 60_000, varWindow: 5, varMinSamples: 2, maxVar99: money('100'), warnVar99: money('50') });
    let vs = EMPTY_VAR;
    const alerts: string[] = [];
    let over: string | undefined;
    ([268_000, 241_200, 268_000, 241_200] as const).forEach((px, i) => { // ±10% a minute
      const step = observeMark(vs, l, SYM, px as Ticks, i * 60_000, () => ({}));
      vs = step.state;
      for (const a of step.alerts) alerts.push(a.code);
      over ??= step.overMax;
    });
    expect([vs.var95, vs.var99, vs.samples.length, alerts, over]).toEqual([0n, 0n, 4, [], undefined]);
  });

  it('is at most the value held', () => {
    // -10% in one minute, scaled to a day (x37.9): far more than the 300 held, which is all it can lose.
    const l = limits({ varIntervalMs: 60_000, varHorizonMs: 86_400_000, varWindow: 5, varMinSamples: 1 });
    const first = observeMark(EMPTY_VAR, l, SYM, 268_000 as Ticks, 0, () => ({ [SYM]: money('300') })).state;
    const fell = observeMark(first, l, SYM, 241_200 as Ticks, 60_000, () => ({ [SYM]: money('300') })).state;
    expect(fell.var99).toBe(money('300'));
  });

  it('lets a resume out of VaR-reducing hold once everything is sold', () => {
    const l = { maxDrawdownBps: 5_000, maxVar99: money('600'), varHorizonMs: 86_400_000, varIntervalMs: 60_000, varWindow: 240, varMinSamples: 10, symbols: {} };
    let s = bought(l);
    let t = 0;
    let px = 268_000;
    const states: string[] = [];
    const step = () => { t += 60_000; s = moved(onMark(s, SYM, px as Ticks, t)); };
    for (let i = 0; i < 20; i++) { px = Math.round(px * (i % 2 ? 1.005 : 0.995)); step(); } // ±0.5% a minute
    states.push(s.tradingState);
    s = onFill(s, fill('sell', px as Ticks, 18_000, money('0')));
    step();
    const resumed = onResume(s, true, t);
    s = moved(resumed);
    for (let i = 0; i < 3; i++) step();
    states.push(s.tradingState);
    expect([states, s.var.var99, s.var.samples.length]).toEqual([['reducing', 'active'], 0n, 24]);
  });
});

describe('resume out of drawdown-reducing', () => {
  // 1.8 ETH at 2,680 + 5,176 cash = 10,000; 2,560 is 216 bps down: past the 150 bps reducing level, under the 300 maximum.
  function reducing(): RiskState {
    const s = bought({ maxDrawdownBps: 300, reduceAtDrawdownBps: 150 });
    return moved(onMark(onMark(s, SYM, 268_000 as Ticks, 1_000).state, SYM, 256_000 as Ticks, 2_000));
  }
  const why = 'drawdown 216 bps is at or above the reducing level 150 bps; resume with resetPeak to measure drawdown from the current equity';

  it('is refused with the reason, in the alert and in the start control\'s 409', () => {
    const s = reducing();
    const r = onResume(s, false, 3_000);
    expect([s.tradingState, r.to, r.out.map((o) => o.type === 'risk.alert' && `${o.code}: ${o.message}`)]).toEqual(['reducing', undefined, [`RESUME_REFUSED: resume refused: ${why}`]]);
    expect(controlMessages('start', {}, 3_000, { resume: (resetPeak) => resumeRefusal(s, resetPeak) })).toEqual({ ok: false, status: 409, error: `start refused: ${why}` });
  });

  it('is accepted with resetPeak and holds at the next mark', () => {
    const r = onResume(reducing(), true, 3_000);
    expect([r.to?.to, onMark(moved(r), SYM, 256_001 as Ticks, 3_001).to]).toEqual(['active', undefined]);
  });
});
