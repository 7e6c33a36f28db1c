// A mark's best bid/ask that is not a pair of positive safe integers of ticks (review S4): the spread guard turned
// NaN/Infinity into BigInt (a RangeError, so an actor error and a restart) and measured a fractional bid silently.
// Such a quote is ignored like a missing one (the stretch stays as it was) and counted on the guard (`badQuotes`).
import { describe, expect, it } from 'vitest';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { markGuard, spreadBps, type Quote } from '../../../actors/risk-manager/market-guard.ts';
import { createRiskState, onIntent, onMark, type RiskOut, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { ETH, ETH_PX, intent, limits } from './helpers.ts';

const SYM = 'ETH/USDT';
const T0 = 1_723_161_300_000;
const at = (ms: number): TsMs => (T0 + ms) as TsMs;
const PX = ETH_PX.t1520543125; // 2680.17
const SPREAD: Partial<RiskLimits> = { maxSpreadBps: 50, spreadMs: 0 };
const q = (bid: number, ask: number): Quote => ({ bid: bid as Ticks, ask: ask as Ticks });
/** About 200 bps of the bid: over the 50 bps limit. */
const WIDE = q(Math.round(PX * 0.99), Math.round(PX * 1.01));

const BAD: readonly (readonly [string, Quote])[] = [
  ['a NaN bid', q(Number.NaN, PX + 3)],
  ['an Infinity ask', q(PX, Number.POSITIVE_INFINITY)],
  ['a -Infinity bid', q(Number.NEGATIVE_INFINITY, PX + 3)],
  ['a fractional bid', q(PX - 0.5, PX + 3)],
  ['a zero bid', q(0, PX + 3)],
  ['a negative bid', q(-PX, PX + 3)],
  ['an unsafe ask', q(PX, Number.MAX_SAFE_INTEGER + 2)],
  ['a bid without an ask', { bid: PX }],
  ['an ask without a bid', { ask: (PX + 3) as Ticks }],
];

function start(over: Partial<RiskLimits> = SPREAD): RiskState {
  return createRiskState({ limits: limits(over), instruments: [ETH], cash: money('100000') });
}
const codes = (out: readonly RiskOut[]): string[] => out.map((o) => (o.type === 'risk.alert' ? o.code : o.type === 'risk.orderDenied' ? o.reason.code : o.type));
const buy = (s: RiskState, ms: number): string => codes(onIntent(s, intent({ price: PX }), at(ms)).out).join(',');

describe('market circuit breaker: a malformed bid/ask', () => {
  it.each(BAD)('measures no spread for %s', (_name, quote) => {
    expect(spreadBps(quote)).toBeUndefined();
  });

  it.each(BAD)('ignores %s without throwing, keeps the mark, and counts it', (_name, quote) => {
    const step = onMark(start(), SYM, PX, at(0), quote);
    expect(step.out).toEqual([]);
    expect(step.state.marks[SYM]).toBe(PX);
    expect(step.state.market[SYM]?.badQuotes).toBe(1);
    expect(buy(step.state, 10)).toBe('risk.orderApproved');
  });

  it('counts each malformed quote, and none of the valid ones (tight, wide, crossed, absent)', () => {
    let s = start();
    for (const [ms, quote] of [[0, q(PX, PX + 1)], [100, q(PX + 1, PX)], [200, undefined], [300, BAD[0]![1]], [400, BAD[3]![1]], [500, WIDE]] as const) {
      s = onMark(s, SYM, PX, at(ms), quote).state;
    }
    expect(s.market[SYM]?.badQuotes).toBe(2);
    expect(buy(s, 600)).toBe('MARKET_SPREAD');
  });

  it('does not end a wide stretch: a narrow-looking fractional quote leaves entries denied', () => {
    let s = onMark(start(), SYM, PX, at(0), WIDE).state;
    expect(buy(s, 10)).toBe('MARKET_SPREAD');
    const step = onMark(s, SYM, PX, at(1_000), q(PX - 0.5, PX + 1));
    s = step.state;
    expect(codes(step.out)).not.toContain('MARKET_CLEARED');
    expect(buy(s, 1_010)).toBe('MARKET_SPREAD');
    expect(s.market[SYM]?.badQuotes).toBe(1);
  });

  it('does not start a wide stretch from a wide-looking fractional quote', () => {
    const s = onMark(start(), SYM, PX, at(0), q(PX * 0.99 + 0.5, PX * 1.01)).state;
    expect(s.market[SYM]?.wideAt).toBeUndefined();
    expect(buy(s, 10)).toBe('risk.orderApproved');
  });

  it('keeps the count through the move and stale guards rebuilding the record', () => {
    const l = limits({ ...SPREAD, maxMoveBps: 100, moveWindowMs: 60_000, moveCooldownMs: 30_000, markStaleMs: 5_000 });
    const out: RiskOut[] = [];
    let g = markGuard(undefined, undefined, SYM, PX, at(0), l, out, BAD[1]![1]);
    g = markGuard(g, PX, SYM, (PX + 1) as Ticks, at(2_000), l, out, q(PX, PX + 2));
    g = markGuard(g, PX, SYM, Math.round(PX * 0.97) as Ticks, at(4_000), l, out, BAD[2]![1]);
    expect(codes(out)).toEqual(['MARKET_MOVE']);
    expect(g?.badQuotes).toBe(2);
  });

  it('leaves the guard record as it was for a valid quote that changes nothing (no allocation)', () => {
    const l = limits(SPREAD);
    const g = markGuard(undefined, undefined, SYM, PX, at(0), l, [], q(PX, PX + 1));
    expect(markGuard(g, PX, SYM, PX, at(10), l, [], q(PX, PX + 1))).toBe(g);
  });
});
