// Reviewer finding (s20r3 breaker-crash): a feed outage during a crash. When the feed came back, MARKET_CLEARED said
// "entries allowed again" while MARKET_MOVE still denied every entry. It says so only when nothing denies them now.
import { describe, expect, it } from 'vitest';
import { money } from '../../../engine/types/money.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { createRiskState, onIntent, onMark, type RiskOut, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { ETH, ETH_PX, intent, limits } from './helpers.ts';

const SYM = 'ETH/USDT';
/** The config defaults (engine/config/schema.ts risk.breaker). */
const BREAKER: Partial<RiskLimits> = { maxMoveBps: 500, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: 60_000 };
const T0 = 1_723_161_253_000 as TsMs;
const at = (ms: number): TsMs => (T0 + ms) as TsMs;
const PX = ETH_PX.t1520538925;
/** 6 % under PX: over the 5 % limit. */
const CRASH = Math.floor(PX * 0.94) as Ticks;

interface Run { s: RiskState; out: RiskOut[] }

function mark(r: Run, ms: number, px: Ticks): Run {
  const step = onMark(r.s, SYM, px, at(ms));
  return { s: step.state, out: [...r.out, ...step.out] };
}

function attempt(r: Run, ms: number): Run {
  const step = onIntent(r.s, intent({ price: CRASH }), at(ms));
  return { s: step.state, out: [...r.out, ...step.out] };
}

const start = (): Run => ({ s: createRiskState({ limits: limits(BREAKER), instruments: [ETH], cash: money('5000') }), out: [] });
const alerts = (r: Run, code: string): string[] => r.out.flatMap((o) => (o.type === 'risk.alert' && o.code === code ? [o.message] : []));
const buyVerdict = (r: Run, ms: number): string => {
  const o = onIntent(r.s, intent({ price: CRASH }), at(ms)).out.at(-1);
  return o?.type === 'risk.orderDenied' ? o.reason.code : o?.type ?? 'none';
};

describe('market circuit breaker: the feed coming back during a move episode', () => {
  it('says entries stay denied by MARKET_MOVE, and until when, when the move episode outlasts the outage', () => {
    let r = mark(mark(start(), 0, PX), 90_000, CRASH); // MARKET_MOVE at 90 s: entries denied until 390 s
    r = attempt(r, 160_000); // silent since 90 s: MARKET_STALE reported
    r = mark(r, 200_000, CRASH); // the feed is back, the price still 6 % down
    const cleared = alerts(r, 'MARKET_CLEARED');
    expect([alerts(r, 'MARKET_MOVE').length, alerts(r, 'MARKET_STALE').length, cleared.length, buyVerdict(r, 201_000)])
      .toEqual([1, 1, 1, 'MARKET_MOVE']);
    expect(cleared[0]).not.toContain('entries allowed again');
    expect(cleared[0]).toContain('entries stay denied by MARKET_MOVE');
    // The mark at 200 s is itself over the limit: the episode now lasts until 500 s.
    expect(cleared[0]).toContain(new Date(at(500_000)).toISOString());
  });

  it('says entries stay denied when the first mark back is itself the move over the limit', () => {
    let r = mark(start(), 0, PX);
    r = attempt(r, 70_000); // silent since 0 s: MARKET_STALE reported
    r = mark(r, 80_000, CRASH); // back 6 % lower: MARKET_MOVE on this very mark
    const cleared = alerts(r, 'MARKET_CLEARED');
    expect([r.out.flatMap((o) => (o.type === 'risk.alert' ? [o.code] : [])), buyVerdict(r, 81_000)])
      .toEqual([['MARKET_STALE', 'MARKET_MOVE', 'MARKET_CLEARED'], 'MARKET_MOVE']);
    expect(cleared[0]).toContain('entries stay denied by MARKET_MOVE');
  });

  it('says entries are allowed again when the outage outlasted the move episode', () => {
    let r = mark(mark(start(), 0, PX), 90_000, CRASH); // denied by the move until 390 s
    r = attempt(r, 640_000); // the move episode is over; the feed silent since 90 s
    r = mark(r, 650_000, CRASH); // both move buckets let go of the fall (two windows)
    const cleared = alerts(r, 'MARKET_CLEARED');
    expect([cleared.length, cleared.every((m) => m.includes('entries allowed again')), buyVerdict(r, 650_001)]).toEqual([2, true, 'risk.orderApproved']);
  });
});
