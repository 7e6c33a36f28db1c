import { describe, expect, it } from 'vitest';
import { intentId } from '../../../engine/types/ids.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { OrderIntent } from '../../../engine/messages/orders.ts';
import { ConfigError } from '../../../engine/types/errors.ts';
import { makeInstrument } from '../../../engine/types/instrument.ts';
import { validateLimits } from '../../../actors/risk-manager/limits.ts';
import { checkIntent, createRiskState, onIntent, recordSubmit, submitsInWindow, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { BTC, BTC_PX, ETH, ETH_PX, intent, limits, lots } from './helpers.ts';

const NOW = 1_723_161_300_000;

// Held: 0.2 ETH bought at 2683.80 (536.76) and 0.02 BTC at 61837.63; marks at recorded trades.
// Exposure at the marks: 0.2 × 2680.17 + 0.02 × 61837.63 = 536.034 + 1236.7526 = 1772.7866 (limit 2500).
function base(over: Partial<RiskState> = {}): RiskState {
  const s = createRiskState({
    limits: limits(),
    instruments: [ETH, BTC],
    cash: money('10000'),
    positions: { 'ETH/USDT': { lots: lots(2000), cost: money('536.76') }, 'BTC/USDT': { lots: lots(2000), cost: money('1236.7526') } },
  });
  return { ...s, marks: { 'ETH/USDT': ETH_PX.t1520543125, 'BTC/USDT': BTC_PX }, ...over };
}

const withPosition = (s: RiskState, n: number, cost: string): RiskState => ({
  ...s,
  portfolio: { ...s.portfolio, positions: { ...s.portfolio.positions, 'ETH/USDT': { ...s.portfolio.positions['ETH/USDT'], lots: lots(n), base9: BigInt(n) * 100_000n, cost: money(cost) } } },
});

type Case = [name: string, state: RiskState, intent: OrderIntent, expected: object];

const denied: Case[] = [
  ['kill switch', base({ killSwitch: true, tradingState: 'halted' }), intent(), { code: 'KILL_SWITCH' }],
  ['halted', base({ tradingState: 'halted' }), intent(), { code: 'TRADING_HALTED' }],
  ['a buy while reducing', base({ tradingState: 'reducing' }), intent(), { code: 'REDUCING_ONLY' }],
  ['a buy flagged reduceOnly', base(), intent({ reduceOnly: true }), { code: 'REDUCING_ONLY' }],
  ['zero lots', base(), intent({ lots: lots(0) }), { code: 'QTY_ZERO' }],
  ['negative lots', base(), intent({ lots: lots(-5) }), { code: 'QTY_ZERO' }],
  ['fractional lots', base(), intent({ lots: lots(1.5) }), { code: 'QTY_NOT_ON_LOT', lots: 1.5 }],
  ['a fractional tick', base(), intent({ price: 268017.5 as Ticks }), { code: 'PRICE_NOT_ON_TICK', price: 268017.5 }],
  ['a limit order without a price', base(), intent({ price: undefined }), { code: 'PRICE_NOT_ON_TICK' }],
  ['a market order before any mark', base({ marks: {} }), intent({ orderType: 'market', price: undefined }), { code: 'NO_PRICE' }],
  // 0.001 ETH × 2680.17 = 2.68017 < 5
  ['dust', base(), intent({ lots: lots(10) }), { code: 'NOTIONAL_BELOW_MIN', notional: money('2.68017'), min: money('5') }],
  ['more lots than maxOrderLots', base(), intent({ lots: lots(3001) }), { code: 'QTY_EXCEEDS_MAX', lots: 3001, max: 3000 }],
  // 0.3 ETH × 4000.00 = 1200 > 1000
  ['a notional above maxOrderNotional', base(), intent({ lots: lots(3000), price: 400000 as Ticks }), { code: 'NOTIONAL_EXCEEDS_MAX', notional: money('1200'), max: money('1000') }],
  // 0.4 held + 0.25 = 0.65 ETH > 0.6
  ['a position above maxPositionLots', withPosition(base(), 4000, '1073.52'), intent({ lots: lots(2500) }), { code: 'POSITION_LIMIT', position: 6500, max: 6000 }],
  // (0.2 + 0.3) × 2680.17 = 1340.085 > 1000
  ['a position value above maxPositionNotional', base({ limits: limits({ maxPositionNotional: money('1000') }) }), intent({ lots: lots(3000) }),
    { code: 'POSITION_NOTIONAL_LIMIT', notional: money('1340.085'), max: money('1000') }],
  // 1772.7866 + 0.3 × 2680.17 (804.051) = 2576.8376 > 2500: the BTC holding is what pushes it over
  ['exposure across symbols', base(), intent({ lots: lots(3000) }), { code: 'EXPOSURE_LIMIT', exposure: money('2576.8376'), max: money('2500') }],
  ['a fourth submit inside one second', base({ submits: [NOW - 999, NOW - 500, NOW - 1] }), intent(), { code: 'SUBMIT_RATE', perSecond: 4, max: 3 }],
  ['selling more than held (no shorts on spot)', base(), intent({ side: 'sell', lots: lots(2001) }), { code: 'INSUFFICIENT_POSITION', lots: 2001, available: 2000 }],
  // 268.017 + 10 bps reserve 0.268017 = 268.285017
  ['a buy the cash cannot pay', base({ portfolio: { ...base().portfolio, cash: money('268.285016999') } }), intent(),
    { code: 'INSUFFICIENT_BALANCE', needed: money('268.285017'), available: money('268.285016999') }],
];

const approved: Case[] = [
  ['a plain limit buy', base(), intent(), {}],
  ['a sell while reducing', base({ tradingState: 'reducing' }), intent({ side: 'sell', lots: lots(2000) }), {}],
  ['a market buy valued at the mark', base(), intent({ orderType: 'market', price: undefined }), {}],
  ['a submit when the oldest is exactly 1000 ms old', base({ submits: [NOW - 1000, NOW - 500, NOW - 1] }), intent(), {}],
  ['a buy costing exactly the cash', base({ portfolio: { ...base().portfolio, cash: money('268.285017') } }), intent(), {}],
];

describe('checkIntent', () => {
  it.each(denied)('denies %s', (_name, state, it_, expected) => {
    const v = checkIntent(state, it_, it_.symbol === 'BTC/USDT' ? BTC : ETH, NOW);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toMatchObject(expected);
  });

  it.each(approved)('approves %s', (_name, state, it_) => {
    expect(checkIntent(state, it_, ETH, NOW)).toEqual({ ok: true });
  });

  it('approves exactly maxOrderLots at exactly the exposure limit', () => {
    const s = base({ limits: limits({ maxExposure: money('2576.8376') }) });
    expect(checkIntent(s, intent({ lots: lots(3000) }), ETH, NOW)).toEqual({ ok: true });
  });

  it.each([
    ['kill switch before halted and qty', base({ killSwitch: true, tradingState: 'halted' }), intent({ lots: lots(0) }), 'KILL_SWITCH'],
    ['halted before qty', base({ tradingState: 'halted' }), intent({ lots: lots(0) }), 'TRADING_HALTED'],
    ['reducing before qty', base({ tradingState: 'reducing' }), intent({ lots: lots(0) }), 'REDUCING_ONLY'],
    ['qty before price', base(), intent({ lots: lots(0), price: 1.5 as Ticks }), 'QTY_ZERO'],
    ['min notional before max lots', base(), intent({ lots: lots(3001), price: 1 as Ticks }), 'NOTIONAL_BELOW_MIN'],
    ['max lots before max notional', base(), intent({ lots: lots(5000), price: 400000 as Ticks }), 'QTY_EXCEEDS_MAX'],
    ['position before exposure', withPosition(base(), 4000, '1073.52'), intent({ lots: lots(2500) }), 'POSITION_LIMIT'],
    ['exposure before rate', base({ submits: [NOW, NOW, NOW] }), intent({ lots: lots(3000) }), 'EXPOSURE_LIMIT'],
    ['rate before balance', base({ submits: [NOW, NOW, NOW], portfolio: { ...base().portfolio, cash: money('1') } }), intent(), 'SUBMIT_RATE'],
  ] as const)('reports the first failing check: %s', (_name, state, it_, code) => {
    const v = checkIntent(state, it_, ETH, NOW);
    expect(v.ok ? 'OK' : v.reason.code).toBe(code);
  });

  it('denies an unknown symbol through onIntent', () => {
    const step = onIntent(base(), intent({ symbol: 'SOL/USDT', id: intentId('x') }), NOW);
    expect(step.out).toEqual([{ type: 'risk.orderDenied', intentId: 'x', reason: { code: 'UNKNOWN_INSTRUMENT', symbol: 'SOL/USDT' }, ts: NOW }]);
  });

  it('records only approvals in the sliding window', () => {
    const s0 = base();
    const a = onIntent(s0, intent(), NOW);
    const d = onIntent(a.state, intent({ lots: lots(0) }), NOW + 1);
    expect([a.state.submits, d.state.submits]).toEqual([[NOW], [NOW]]);
    expect(recordSubmit([NOW - 2000, NOW - 1000, NOW - 999], NOW)).toEqual([NOW - 999, NOW]);
    expect(submitsInWindow([NOW - 1000, NOW - 999, NOW], NOW)).toBe(2);
  });

  it('refuses to start with invalid limits or instruments of different quotes', () => {
    const eur = makeInstrument({ symbol: 'ETH/EUR', venue: 'binance', tickSize: '0.01', lotSize: '0.0001', minNotional: '5' });
    expect(validateLimits(limits({ maxDrawdownBps: 20_000, reduceAtDrawdownBps: 100, maxSubmitsPerSecond: 0 }))).toEqual([
      'maxSubmitsPerSecond must be a positive integer, got 0',
      'maxDrawdownBps must be an integer 0..10000 bps, got 20000',
    ]);
    expect(() => createRiskState({ limits: limits({ maxSubmitsPerSecond: 0 }), instruments: [ETH], cash: money('1') })).toThrow(ConfigError);
    expect(() => createRiskState({ limits: limits(), instruments: [ETH, eur], cash: money('1') })).toThrow(/ETH\/EUR is quoted in EUR/);
  });
});
