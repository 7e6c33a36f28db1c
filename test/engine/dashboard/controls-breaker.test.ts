// The dashboard's limits control sets the market circuit breaker (move, window, cooldown, stale, spread), with the
// ranges the RiskManager enforces (actors/risk-manager/limits.ts breakerProblems), and null switches a guard off.
import { describe, expect, it } from 'vitest';
import { controlMessages } from '../../../engine/dashboard/controls.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { createRiskState, onSetLimits } from '../../../actors/risk-manager/logic.ts';
import { money } from '../../../engine/types/money.ts';
import { ETH, limits } from '../../actors/risk-manager/helpers.ts';

const BREAKER: Partial<RiskLimits> = { maxMoveBps: 500, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: 60_000, maxSpreadBps: 50, spreadMs: 2_000 };

// Returns the limits the RiskManager holds after the control's risk.setLimits, or the LIMITS_INVALID alert's message.
function applied(body: unknown): RiskLimits | string {
  const r = controlMessages('limits', body, 5);
  if (!r.ok) return r.error;
  const m = r.messages[0];
  if (m.type !== 'risk.setLimits') return `sent ${m.type}`;
  const step = onSetLimits(createRiskState({ limits: limits(BREAKER), instruments: [ETH], cash: money('5000') }), m.limits, 5);
  const alert = step.out.find((o) => o.type === 'risk.alert');
  return alert?.type === 'risk.alert' ? alert.message : step.state.limits;
}

const breakerOf = (l: RiskLimits | string) => (typeof l === 'string' ? l : {
  maxMoveBps: l.maxMoveBps, moveWindowMs: l.moveWindowMs, moveCooldownMs: l.moveCooldownMs, markStaleMs: l.markStaleMs, maxSpreadBps: l.maxSpreadBps, spreadMs: l.spreadMs,
});

describe('limits control: the market circuit breaker', () => {
  it('sets every breaker field', () => {
    const body = { maxMoveBps: 250, moveWindowMs: 60_000, moveCooldownMs: 120_000, markStaleMs: 15_000, maxSpreadBps: 20, spreadMs: 500 };
    expect(breakerOf(applied(body))).toEqual(body);
  });

  it('switches the move, stale and spread guards off with null', () => {
    expect(breakerOf(applied({ maxMoveBps: null, markStaleMs: null, maxSpreadBps: null }))).toEqual({
      maxMoveBps: undefined, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: undefined, maxSpreadBps: undefined, spreadMs: 2_000,
    });
  });

  it('accepts a spread that denies at once (0 ms)', () => {
    expect(breakerOf(applied({ spreadMs: 0 }))).toMatchObject({ maxSpreadBps: 50, spreadMs: 0 });
  });

  it.each([
    ['a move of 0 bps', { maxMoveBps: 0 }, 'maxMoveBps'],
    ['a move over 10000 bps', { maxMoveBps: 10_001 }, 'maxMoveBps'],
    ['a window of 0 ms', { moveWindowMs: 0 }, 'moveWindowMs'],
    ['a fractional cooldown', { moveCooldownMs: 1.5 }, 'moveCooldownMs'],
    ['a stale limit under 2 s', { markStaleMs: 1_999 }, 'markStaleMs'],
    ['a spread of 0 bps', { maxSpreadBps: 0 }, 'maxSpreadBps'],
    ['a spread as a string', { maxSpreadBps: '50' }, 'maxSpreadBps'],
    ['a negative spread duration', { spreadMs: -1 }, 'spreadMs'],
    ['the window switched off', { moveWindowMs: null }, 'moveWindowMs'],
    ['the spread duration switched off', { spreadMs: null }, 'spreadMs'],
  ])('answers 400 naming the field for %s', (_name, body, field) => {
    const r = controlMessages('limits', body, 5);
    expect(r.ok === false && [r.status, r.error.includes(field)]).toEqual([400, true]);
  });

  it('leaves to the RiskManager a move guard switched on without its window', () => {
    const off = createRiskState({ limits: limits({ markStaleMs: 60_000 }), instruments: [ETH], cash: money('5000') });
    const r = controlMessages('limits', { maxMoveBps: 300 }, 5);
    const m = r.ok ? r.messages[0] : undefined;
    const step = onSetLimits(off, m?.type === 'risk.setLimits' ? m.limits : {}, 5);
    expect(step.out.map((o) => (o.type === 'risk.alert' ? [o.code, o.message.includes('moveWindowMs must be a positive integer with maxMoveBps')] : o.type)))
      .toEqual([['LIMITS_INVALID', true]]);
  });
});
