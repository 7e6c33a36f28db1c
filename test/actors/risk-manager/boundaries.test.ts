// The RiskManager's edges: drawdown landing exactly on a level, flatten of one symbol among two, and a limit set for
// a symbol the manager does not trade.
import { describe, expect, it } from 'vitest';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import { createRiskState, onFlatten, onMark, onSetLimits } from '../../../actors/risk-manager/logic.ts';
import { BTC, BTC_PX, ETH, ETH_PX, limits, lots } from './helpers.ts';

const codes = (out: readonly { type: string; code?: string }[]) => out.map((o) => (o.type === 'risk.alert' ? `alert:${o.code}` : o.type));

describe('drawdown exactly at a level', () => {
  // 1 ETH at 2683.80 plus 7316.20 cash: equity and peak 10 000, so each USDT below it is one basis point, and each
  // 0.01 of the ETH price is 0.01 bps: 2653.80 is exactly 30 bps down, 2648.80 exactly 35.
  const at10k = () => createRiskState({
    limits: limits({ reduceAtDrawdownBps: 30, maxDrawdownBps: 35 }),
    instruments: [ETH],
    cash: money('7316.2'),
    positions: { 'ETH/USDT': { lots: lots(10_000), cost: money('2683.8') } },
  });

  it.each([
    ['29.99 bps stays active', 265_381, undefined],
    ['exactly 30 bps reduces', 265_380, { to: 'reducing', reason: 'drawdown 30 bps reached the reducing level 30 bps' }],
    ['34.99 bps reduces', 264_881, { to: 'reducing', reason: 'drawdown 34 bps reached the reducing level 30 bps' }],
    ['exactly 35 bps halts', 264_880, { to: 'halted', reason: 'drawdown 35 bps reached the maximum 35 bps' }],
  ])('%s', (_name, price, to) => {
    const { state, to: got } = onMark(at10k(), 'ETH/USDT', price as Ticks, 1);
    expect(state.peakEquity).toBe(money('10000'));
    expect(got).toEqual(to);
  });
});

describe('flatten', () => {
  // 0.5 ETH and 0.02 BTC held.
  const two = () => createRiskState({
    limits: limits(),
    instruments: [ETH, BTC],
    cash: money('5000'),
    positions: { 'ETH/USDT': { lots: lots(5_000), cost: money('1341.9') }, 'BTC/USDT': { lots: lots(2_000), cost: money('1236.7526') } },
  });

  it('closes only the named symbol and leaves the other position armed', () => {
    const s = onMark(onMark(two(), 'ETH/USDT', ETH_PX.t1520538925, 1).state, 'BTC/USDT', BTC_PX, 1).state;
    const { state, out } = onFlatten(s, 'ETH/USDT', 2);
    expect(codes(out)).toEqual(['risk.orderApproved']);
    expect(out[0].type === 'risk.orderApproved' && out[0].intent).toMatchObject({ symbol: 'ETH/USDT', side: 'sell', lots: 5_000, reduceOnly: true });
    expect([state.portfolio.positions['ETH/USDT'].exitFired, state.portfolio.positions['BTC/USDT'].exitFired, Object.keys(state.exitOrders)])
      .toEqual([true, false, ['ETH/USDT']]);
  });

  it('closes every position without a symbol', () => {
    const { out } = onFlatten(two(), undefined, 2);
    expect(out.map((o) => o.type === 'risk.orderApproved' && o.intent.symbol)).toEqual(['ETH/USDT', 'BTC/USDT']);
  });
});

describe('setLimits', () => {
  it('refuses caps for a symbol that is not an instrument, and keeps the limits in force', () => {
    const s = createRiskState({ limits: limits(), instruments: [ETH], cash: money('10000') });
    const { state, out } = onSetLimits(s, { symbols: { 'SOL/USDT': { maxOrderLots: lots(50) } } }, 1);
    expect(codes(out)).toEqual(['alert:LIMITS_INVALID']);
    expect(out[0].type === 'risk.alert' && out[0].message).toContain('symbols.SOL/USDT is not an instrument of the risk manager (ETH/USDT)');
    expect(state).toBe(s);
  });

  it('accepts caps for a symbol it trades', () => {
    const s = createRiskState({ limits: limits(), instruments: [ETH], cash: money('10000') });
    const { state, out } = onSetLimits(s, { symbols: { 'ETH/USDT': { maxOrderLots: lots(50) } } }, 1);
    expect(codes(out)).toEqual(['risk.limitsChanged']);
    expect(state.limits.symbols?.['ETH/USDT']).toEqual({ maxOrderLots: 50, maxPositionLots: 6000 });
  });
});
