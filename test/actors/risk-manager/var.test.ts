import { describe, expect, it } from 'vitest';
import { money, type Money } from '../../../engine/types/money.ts';
import {
  EMPTY_VAR, historicalVar, holdingsReturns, horizonScale, intervalsWithReturns, lossQuantile, observeMark, quantileRank, type VarSample, type VarState,
} from '../../../actors/risk-manager/var.ts';
import { createRiskState, onMark, onResume } from '../../../actors/risk-manager/logic.ts';
import { validateLimits } from '../../../actors/risk-manager/limits.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import { ETH, ETH_PX, limits, lots } from './helpers.ts';

// Returns -2%, +2%, -5%, +1%, -1% (sorted: -0.05, -0.02, -0.01, 0.01, 0.02).
const RETURNS = [-0.02, 0.02, -0.05, 0.01, -0.01];
// ETH marks one interval apart (ticks of 0.01) whose returns are -2%, +2%, -5%, +0.04%, -1.05%.
const PRICES = [100_000, 98_000, 99_960, 94_962, 95_000, 94_000] as Ticks[];
const SYM = 'ETH/USDT';

/** Feeds one mark per entry of `prices` (a record of symbol → price per interval), one interval apart. */
function feed(l: RiskLimits, prices: readonly Readonly<Record<string, number>>[], held: Readonly<Record<string, Money>>, vs0: VarState = EMPTY_VAR, start = 0) {
  let vs = vs0;
  const codes: string[] = [];
  const over: string[] = [];
  prices.forEach((marks, i) => {
    for (const [sym, px] of Object.entries(marks)) {
      const step = observeMark(vs, l, sym, px as Ticks, start + i * l.varIntervalMs + 1, () => held);
      vs = step.state;
      for (const a of step.alerts) codes.push(`${i}:${a.code}`);
      if (step.overMax) over.push(`${i}:${step.overMax}`);
    }
  });
  return { vs, codes, over };
}

describe('historical VaR', () => {
  it.each([
    [40, 9_500, 2], [40, 9_900, 1], [100, 9_500, 5], [100, 9_900, 1], [101, 9_900, 2], [20, 9_500, 1], [5, 6_000, 2], [3, 9_900, 1],
  ])('ranks the loss quantile: n=%i at %i bps is the k=%i-th worst return', (n, c, k) => {
    expect(quantileRank(n, c)).toBe(k);
  });

  it('takes the k-th worst return without interpolation', () => {
    expect([lossQuantile(RETURNS, 9_500), lossQuantile(RETURNS, 6_000), lossQuantile(RETURNS, 2_000), lossQuantile([0.01, 0.02], 9_500)]).toEqual([0.05, 0.02, 0, 0]);
  });

  it('turns the loss into Money at the value held', () => {
    // 5% of 9495.25038
    expect(historicalVar(RETURNS, 9_500, money('9495.25038'))).toBe(money('474.762519'));
  });
});

describe('position-based samples', () => {
  const at = (bucket: number, marks: Record<string, number>): VarSample => ({ bucket, marks: marks as Record<string, Ticks> });

  it('weighs each symbol\'s return by the value held now', () => {
    // ETH -2%, BTC +1%: 3/4 of the book in ETH loses 1.5%, 1/4 in BTC gains 0.25%.
    const samples = [at(7, { 'ETH/USDT': 1000, 'BTC/USDT': 500 }), at(8, { 'ETH/USDT': 980, 'BTC/USDT': 505 })];
    const [r] = holdingsReturns(samples, { 'ETH/USDT': money('750'), 'BTC/USDT': money('250') });
    expect(r).toBeCloseTo(-0.0125, 12);
  });

  it('gives a symbol no return for an interval in which it, or the interval before, had no mark', () => {
    // Interval 2 has no sample at all, BTC has no mark in interval 4: ETH's returns are 0→1 and 3→4 only (not 1→3).
    const samples = [at(0, { 'ETH/USDT': 100 }), at(1, { 'ETH/USDT': 110 }), at(3, { 'ETH/USDT': 50, 'BTC/USDT': 10 }), at(4, { 'ETH/USDT': 55 }), at(5, { 'BTC/USDT': 12 })];
    expect(holdingsReturns(samples, { 'ETH/USDT': money('1') }).map((r) => +r.toFixed(12))).toEqual([0.1, 0.1]);
    // BTC has a mark in 3 and 5 but never in two intervals in a row: no return, no interval for a book of BTC alone.
    expect(holdingsReturns(samples, { 'BTC/USDT': money('1') })).toEqual([]);
    expect(intervalsWithReturns(samples)).toBe(2);
  });
});

describe('observeMark', () => {
  const l = limits({ varIntervalMs: 60_000, varWindow: 5, varMinSamples: 5, maxVar95: money('400'), maxVar99: money('600') });
  const held = { [SYM]: money('10000') };
  const series = PRICES.map((px) => ({ [SYM]: px }));

  it('reports VaR 95/99 of the holdings once the window has enough returns, and alerts above a limit only', () => {
    const { vs, codes } = feed(l, series, held);
    // The worst return, -5%, of the 10 000 held.
    expect([vs.var95, vs.var99, vs.alert95, vs.alert99, codes]).toEqual([money('500'), money('500'), true, false, ['5:VAR_95']]);
  });

  it('samples the first mark of each symbol per interval and alerts once per crossing', () => {
    const { vs } = feed(l, series, held);
    const sameMinute = observeMark(vs, l, SYM, 1 as Ticks, 5 * 60_000 + 59_999, () => held);
    const nextMinute = observeMark(vs, l, SYM, 94_000 as Ticks, 6 * 60_000, () => held);
    expect([sameMinute.state, sameMinute.alerts.length, nextMinute.alerts.length, nextMinute.state.alert95]).toEqual([vs, 0, 0, true]);
  });

  it('keeps only the last varWindow + 1 intervals', () => {
    // A seventh interval pushes the -2% return out; the -5% is still the worst.
    const { vs } = feed(l, [...series, { [SYM]: 94_000 }], held);
    expect([vs.samples.length, vs.samples[0].bucket, holdingsReturns(vs.samples, held).length, vs.var95]).toEqual([6, 1, 5, money('500')]);
  });

  it('reports nothing before varMinSamples intervals with returns', () => {
    const { vs, codes } = feed(l, series.slice(0, 5), held);
    expect([vs.var95, codes]).toEqual([undefined, []]);
  });
});

describe('VaR horizon and levels', () => {
  it('scales the one-interval loss quantile to the horizon by the square root of time, at most all of equity', () => {
    const r = RETURNS; // worst return -5%
    const eq = money('9495.25038');
    const oneInterval = limits({ varIntervalMs: 60_000 });
    const fourIntervals = limits({ varIntervalMs: 60_000, varHorizonMs: 240_000 });
    expect([horizonScale(oneInterval), horizonScale(fourIntervals), horizonScale(limits({ varIntervalMs: 60_000, varHorizonMs: 86_400_000 }))])
      .toEqual([1, 2, Math.sqrt(1440)]);
    expect(historicalVar(r, 9_500, eq, horizonScale(fourIntervals))).toBe(money('949.525038')); // 10%
    expect(historicalVar(r, 9_500, eq, 100)).toBe(eq); // 500% capped at 100%
    expect(validateLimits(limits({ varIntervalMs: 60_000, varHorizonMs: 30_000 }))).toEqual(['varHorizonMs must be an integer of at least varIntervalMs (60000), got 30000']);
    expect(validateLimits(limits({ warnVar99: money('600'), maxVar99: money('500') }))).toEqual(['warnVar99 600000000000 must not exceed maxVar99 500000000000']);
  });

  it('warns above the warning level and alerts above the limit, each once per crossing', () => {
    // Scaled by 2 (a four-minute horizon): VaR 99% 2 × 5% of 9500 = 950, between a warn cap of 900 and a limit of 1000.
    const l = limits({ varIntervalMs: 60_000, varHorizonMs: 240_000, varWindow: 10, varMinSamples: 5, warnVar99: money('900'), maxVar99: money('1000') });
    const held = { [SYM]: money('9500') };
    const { vs, codes, over } = feed(l, [...PRICES, 94_000, 94_000].map((px) => ({ [SYM]: px })), held);
    expect([codes, over, vs.var99]).toEqual([['5:VAR_WARN_99'], [], money('950')]);
    const beyond = observeMark(vs, l, SYM, 88_360 as Ticks, 8 * 60_000 + 1, () => held); // -6%: VaR 99% = 2 × 6% of 9500
    expect(beyond.alerts.map((a) => a.code)).toEqual(['VAR_99']);
    expect(beyond.overMax).toBe('VaR 99% 1140000000000 exceeds the limit 1000000000000');
  });

  it('moves an active RiskManager to reducing on a sample above the limit, again after a resume while still above', () => {
    // 1 ETH held; marks one minute apart from real ETH/USDT prices, then a 3% fall.
    const l = limits({ varIntervalMs: 60_000, varHorizonMs: 3_600_000, varWindow: 20, varMinSamples: 3, maxVar99: money('150') });
    let s = createRiskState({ limits: l, instruments: [ETH], cash: money('7000'), positions: { 'ETH/USDT': { lots: lots(10_000), cost: money('2683.8') } } });
    const marks: Ticks[] = [ETH_PX.t1520538925, ETH_PX.t1520543125, ETH_PX.t1520543725, ETH_PX.t1520552725, 260_000 as Ticks];
    const states: string[] = [];
    const codes: string[] = [];
    marks.forEach((px, i) => {
      const step = onMark(s, 'ETH/USDT', px, i * 60_000 + 1);
      s = step.to ? { ...step.state, tradingState: step.to.to, stateReason: step.to.reason } : step.state;
      states.push(s.tradingState);
      for (const o of step.out) if (o.type === 'risk.alert') codes.push(`${i}:${o.code}`);
    });
    // Minute returns of ~0.1%, scaled by sqrt(60): VaR 99% under 150 until the 3% fall (-3.03%, x7.75 of the 2600 held = ~610).
    expect(states).toEqual(['active', 'active', 'active', 'active', 'reducing']);
    expect(codes).toEqual(['4:VAR_99']);
    expect(s.stateReason).toMatch(/^VaR 99% \d+ exceeds the limit 150000000000 \(1e-9 quote units\)$/);
    const resumed = onResume(s, false, 5 * 60_000);
    s = { ...resumed.state, tradingState: resumed.to!.to };
    const sameMinute = onMark(s, 'ETH/USDT', 260_000 as Ticks, 5 * 60_000 - 1);
    const nextMinute = onMark(sameMinute.state, 'ETH/USDT', 260_000 as Ticks, 5 * 60_000 + 1);
    expect([sameMinute.to, nextMinute.to?.to]).toEqual([undefined, 'reducing']);
  });
});
