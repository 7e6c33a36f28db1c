import { describe, expect, it } from 'vitest';
import { money, type Money } from '../../../engine/types/money.ts';
import { EMPTY_VAR, equityReturns, historicalVar, lossQuantile, observeEquity, quantileRank } from '../../../actors/risk-manager/var.ts';
import { limits } from './helpers.ts';

// Equity samples whose returns are -2%, +2%, -5%, +1%, -1% (hand-built so each return is exact).
const SAMPLES: Money[] = ['10000', '9800', '9996', '9496.2', '9591.162', '9495.25038'].map(money);

describe('historical VaR', () => {
  it('computes simple returns between samples', () => {
    expect(equityReturns(SAMPLES)).toEqual([-0.02, 0.02, -0.05, 0.01, -0.01]);
  });

  it.each([
    [40, 9_500, 2], [40, 9_900, 1], [100, 9_500, 5], [100, 9_900, 1], [101, 9_900, 2], [20, 9_500, 1], [5, 6_000, 2], [3, 9_900, 1],
  ])('ranks the loss quantile: n=%i at %i bps is the k=%i-th worst return', (n, c, k) => {
    expect(quantileRank(n, c)).toBe(k);
  });

  it('takes the k-th worst return without interpolation', () => {
    const r = equityReturns(SAMPLES); // sorted: -0.05, -0.02, -0.01, 0.01, 0.02
    expect([lossQuantile(r, 9_500), lossQuantile(r, 6_000), lossQuantile(r, 2_000), lossQuantile([0.01, 0.02], 9_500)]).toEqual([0.05, 0.02, 0, 0]);
  });

  it('turns the loss into Money at the current equity', () => {
    // 5% of 9495.25038
    expect(historicalVar(equityReturns(SAMPLES), 9_500, money('9495.25038'))).toBe(money('474.762519'));
  });
});

describe('observeEquity', () => {
  const l = limits({ varIntervalMs: 60_000, varWindow: 5, varMinSamples: 5, maxVar95: money('400'), maxVar99: money('500') });
  const feed = (samples: Money[], start = 0) => {
    let vs = EMPTY_VAR;
    const codes: string[] = [];
    samples.forEach((eq, i) => {
      const step = observeEquity(vs, l, eq, start + i * 60_000);
      vs = step.state;
      for (const a of step.alerts) codes.push(`${i}:${a.code}`);
    });
    return { vs, codes };
  };

  it('reports VaR 95/99 once the window has enough returns and alerts above a limit only', () => {
    const { vs, codes } = feed(SAMPLES);
    expect([vs.var95, vs.var99, vs.alert95, vs.alert99, codes]).toEqual([money('474.762519'), money('474.762519'), true, false, ['5:VAR_95']]);
  });

  it('samples once per interval and alerts once per crossing', () => {
    const { vs } = feed(SAMPLES);
    const sameMinute = observeEquity(vs, l, money('1'), 5 * 60_000 + 59_999);
    const nextMinute = observeEquity(vs, l, money('9495.25038'), 6 * 60_000);
    expect([sameMinute.state, sameMinute.alerts.length, nextMinute.alerts.length, nextMinute.state.alert95]).toEqual([vs, 0, 0, true]);
  });

  it('keeps only the last varWindow returns', () => {
    // a seventh flat sample pushes the -2% return out; the -5% is still the worst
    const { vs } = feed([...SAMPLES, money('9495.25038')]);
    expect([vs.samples.length, equityReturns(vs.samples)]).toEqual([6, [0.02, -0.05, 0.01, -0.01, 0]]);
  });

  it('reports nothing before varMinSamples returns', () => {
    const { vs, codes } = feed(SAMPLES.slice(0, 5));
    expect([vs.var95, codes]).toEqual([undefined, []]);
  });
});
