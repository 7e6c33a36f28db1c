// A drawdown made two critical posts within milliseconds: the RiskManager's DRAWDOWN alert and the trading-state
// change it causes (TRADING_HALTED, or TRADING_REDUCING at the reducing level). The webhook now folds the state change
// into the drawdown's post, as it folds an actor failure's consequences; a state change with another cause still
// posts on its own.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskManager } from '../../actors/risk-manager/machine.ts';
import { CauseFolds } from '../../app/alerts/folds.ts';
import { riskAlertEvent, stateEvent, type AlertEvent } from '../../app/alerts/events.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { money } from '../../engine/types/money.ts';
import type { RiskLimits } from '../../engine/messages/risk.ts';
import type { Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { ETH, ETH_PX, limits, lots } from '../actors/risk-manager/helpers.ts';
import { until } from '../wait-until.ts';
import { webhookRigs } from './webhook-on-receiver.ts';
import type { Bus } from '../../engine/runtime/bus.ts';

const T0 = 1_723_161_255_611 as TsMs; // time of the recording's first ETH trade
const rig = webhookRigs({ t0: T0 });

// The RiskManager publishing to `bus` as the risk child does (app/risk-child.ts): 3.7 ETH at 2683.80 + 69.94 cash.
// `mark(price, ts)` marks at `ts` (default: the start), which decides the mark's VaR interval.
function riskOn(bus: Bus<EngineMsg>, over: Partial<RiskLimits> = {}) {
  const clock = new SimulatedClock(T0);
  const actor = createActor(riskManager, {
    input: {
      limits: limits({ maxDrawdownBps: 35, reduceAtDrawdownBps: 30, maxPositionNotional: money('20000'), maxExposure: money('20000'), ...over }),
      instruments: [ETH], cash: money('69.94'), positions: { 'ETH/USDT': { lots: lots(37000), cost: money('9930.06') } },
    },
    clock,
  });
  for (const t of ['risk.alert', 'risk.stateChanged'] as const) actor.on(t, (ev) => bus.publish(ev as EngineMsg));
  actor.start();
  return (price: number, ts: number = clock.now()) => actor.send({ type: 'risk.mark', symbol: 'ETH/USDT', price: price as Ticks, ts: ts as TsMs });
}

describe('alerts webhook: a drawdown and the trading state it moves to', () => {
  it('makes one post per drawdown step naming the drawdown and the state it moved trading to', async () => {
    const w = await rig();
    const mark = riskOn(w.bus);
    mark(ETH_PX.t1520538925);
    mark(267500); // 32 bps: reducing
    // The state change ends the wait: no clock moved.
    await until(() => w.server.received.length === 1, 'the reducing post');
    mark(ETH_PX.t1520547382); // 37 bps: halted
    await until(() => w.server.received.length === 2, 'the halted post');
    const got = await w.posted();
    const events = w.server.received.map((r) => r.body.event);

    expect(got.map((p) => [p.code, p.severity])).toEqual([['DRAWDOWN', 'critical'], ['DRAWDOWN', 'critical']]);
    expect(got[0]!.text).toMatch(/^\[cobalt paper paper\] CRITICAL DRAWDOWN: drawdown 32 bps reached the reducing level 30 bps \(peak \d+, equity \d+, 1e-9 quote units\) → trading reducing$/);
    expect(got[1]!.text).toMatch(/^\[cobalt paper paper\] CRITICAL DRAWDOWN: drawdown 37 bps reached the maximum 35 bps \(peak \d+, equity \d+, 1e-9 quote units\) → trading halted$/);
    expect(events[1]!['consequences']).toEqual([{ code: 'TRADING_HALTED', message: 'trading halted: drawdown 37 bps reached the maximum 35 bps' }]);
  });

  // Note 23: the drawdown's step emits its VaR alerts between the DRAWDOWN and the state change (logic.ts onMark), and
  // a VaR alert there closed the fold: three posts (the drawdown, the VaR, the halt on its own) instead of two.
  it('keeps the drawdown and the halt of its step in one post when the same step raises a VaR alert between them', async () => {
    const w = await rig();
    const seen: EngineMsg[] = [];
    for (const t of ['risk.alert', 'risk.stateChanged'] as const) w.bus.subscribe(t, (m) => void seen.push(m));
    const mark = riskOn(w.bus, { reduceAtDrawdownBps: undefined, varIntervalMs: 60_000, varWindow: 5, varMinSamples: 2, warnVar95: money('1') });
    mark(ETH_PX.t1520538925, T0); // the peak
    mark(ETH_PX.t1520543125, T0 + 60_000); // 13 bps down; one VaR return, short of the two it needs
    mark(ETH_PX.t1520547382, T0 + 120_000); // 37 bps down: halted, and VaR figures with a loss above the warning level
    const got = await w.posted();

    expect(seen.map((m) => (m.type === 'risk.alert' ? m.code : m.type === 'risk.stateChanged' ? m.state : m.type)))
      .toEqual(['DRAWDOWN', 'VAR_WARN_95', 'halted']);
    expect(got.map((p) => p.code)).toEqual(['DRAWDOWN', 'VAR_WARN_95']);
    expect(got[0]!.text).toMatch(/^\[cobalt paper paper\] CRITICAL DRAWDOWN: drawdown 37 bps reached the maximum 35 bps \(peak \d+, equity \d+, 1e-9 quote units\) → trading halted$/);
    expect(got[1]!.text).toMatch(/^\[cobalt paper paper\] WARNING VAR_WARN_95: VaR 95% \d+ exceeds the warning level 1000000000 \(1e-9 quote units\)$/);
  });

  it('posts a halt with another cause on its own, and a drawdown followed by something else apart from it', async () => {
    const w = await rig();
    w.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'halted by operator', ts: T0 });
    await until(() => w.server.received.length === 1, 'the halt on its own');
    w.bus.publish({ type: 'risk.alert', code: 'DRAWDOWN', message: 'drawdown 37 bps reached the maximum 35 bps', ts: T0 });
    w.bus.publish({ type: 'risk.alert', code: 'MARKET_STALE', message: 'no price of ETH/USDT for 60 s', ts: T0 });
    const got = await w.posted();

    expect(got.map((p) => p.text.replace('[cobalt paper paper] ', ''))).toEqual([
      'CRITICAL TRADING_HALTED: trading halted: halted by operator',
      'CRITICAL DRAWDOWN: drawdown 37 bps reached the maximum 35 bps',
      'WARNING MARKET_STALE: no price of ETH/USDT for 60 s',
    ]);
  });

  it('lets another cause end a drawdown\'s wait, posting the alerts held behind the drawdown before it', () => {
    const posts: AlertEvent[] = [];
    const folds = new CauseFolds(new SimulatedClock(T0), (ev) => void posts.push(ev), () => true);
    const alert = (code: 'DRAWDOWN' | 'VAR_95' | 'KILL_SWITCH', message: string) => riskAlertEvent({ type: 'risk.alert', code, message, ts: T0 });
    folds.add(alert('DRAWDOWN', 'drawdown 37 bps reached the maximum 35 bps'));
    folds.add(alert('VAR_95', 'VaR 95% 9 exceeds the limit 1'));
    folds.add(alert('KILL_SWITCH', 'kill switch on: operator'));
    folds.add(stateEvent({ type: 'risk.stateChanged', state: 'halted', reason: 'kill switch on: operator', ts: T0 }));
    folds.stop();

    expect(posts.map((p) => p.message)).toEqual([
      'drawdown 37 bps reached the maximum 35 bps',
      'VaR 95% 9 exceeds the limit 1',
      'kill switch on: operator → trading halted',
    ]);
  });
});
