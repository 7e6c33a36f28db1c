// validateLimits on a limit set missing a required field (review S5): `risk.setLimits` merges its patch over the
// limits in force, so a key sent as undefined replaced a cap with nothing, and the caps read undefined as "no cap"
// (a 3000 USDT buy approved under a 1000 USDT order cap) or threw at the next intent (feeReserveBps into BigInt).
import { describe, expect, it } from 'vitest';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { validateLimits } from '../../../actors/risk-manager/limits.ts';
import { createRiskState, onIntent, onSetLimits, type RiskOut } from '../../../actors/risk-manager/logic.ts';
import { ETH, ETH_PX, intent, limits, lots } from './helpers.ts';

const T = 1_723_161_300_000 as TsMs;
/** Every field of RiskLimits that is not optional. */
const REQUIRED = [
  'maxOrderNotional', 'maxPositionNotional', 'maxExposure', 'maxSubmitsPerSecond', 'maxDrawdownBps', 'exitOrderType',
  'exitSlippageBps', 'feeReserveBps', 'varIntervalMs', 'varWindow', 'varMinSamples', 'symbols',
] as const satisfies readonly (keyof RiskLimits)[];

const codes = (out: readonly RiskOut[]): string[] => out.map((o) => (o.type === 'risk.alert' ? o.code : o.type === 'risk.orderDenied' ? o.reason.code : o.type));

describe('validateLimits: required fields', () => {
  it('accepts the helper limits, whose optional checks are all absent', () => {
    expect(validateLimits(limits())).toEqual([]);
  });

  it.each(REQUIRED)('rejects %s set to undefined, naming it', (k) => {
    const bad = validateLimits({ ...limits(), [k]: undefined } as unknown as RiskLimits);
    expect(bad.length).toBeGreaterThan(0);
    expect(bad.some((m) => m.startsWith(`${k} `) && m.includes('undefined'))).toBe(true);
  });

  it.each(REQUIRED)('rejects %s left out, naming it', (k) => {
    const { [k]: _gone, ...rest } = limits();
    expect(validateLimits(rest as RiskLimits).some((m) => m.startsWith(`${k} `))).toBe(true);
  });

  it('refuses a risk.setLimits that sends the caps as undefined, and the caps keep denying', () => {
    const s = { ...createRiskState({ limits: limits(), instruments: [ETH], cash: money('100000') }), marks: { 'ETH/USDT': ETH_PX.t1520543125 } };
    const patch = { maxOrderNotional: undefined, maxPositionNotional: undefined, maxExposure: undefined, maxDrawdownBps: undefined } as unknown as Partial<RiskLimits>;
    const step = onSetLimits(s, patch, T);
    expect(codes(step.out)).toEqual(['LIMITS_INVALID']);
    expect(step.state).toBe(s);
    for (const k of ['maxOrderNotional', 'maxPositionNotional', 'maxExposure', 'maxDrawdownBps']) {
      expect(step.out[0]!.type === 'risk.alert' && step.out[0].message).toContain(k);
    }
    // 0.3 ETH at 10 000.00: 3000 USDT over the 1000 USDT order cap.
    expect(codes(onIntent(step.state, intent({ lots: lots(3000), price: 1_000_000 as Ticks }), T).out)).toEqual(['NOTIONAL_EXCEEDS_MAX']);
  });

  it('refuses feeReserveBps sent as undefined, so the next intent is checked rather than throwing', () => {
    const s = createRiskState({ limits: limits(), instruments: [ETH], cash: money('100000') });
    const step = onSetLimits(s, { feeReserveBps: undefined } as unknown as Partial<RiskLimits>, T);
    expect(codes(step.out)).toEqual(['LIMITS_INVALID']);
    expect(codes(onIntent(step.state, intent(), (T + 5_000) as TsMs).out)).toEqual(['risk.orderApproved']);
  });
});
