import { describe, expect, it } from 'vitest';
import { money, type Money } from '../../../engine/types/money.ts';
import { EMPTY_VAR, equityReturns, historicalVar, horizonScale, lossQuantile, observeEquity, quantileRank } from '../../../actors/risk-manager/var.ts';
import { createRiskState, onMark, onResume } from '../../../actors/risk-manager/logic.ts';
import { validateLimits } from '../../../actors/risk-manager/limits.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import { ETH, ETH_PX, limits, lots } from './helpers.ts';

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
  // Every feed holds all of its equity (exposure = equity): the loss fraction's cap of 1 already bounds VaR there.
  const feed = (samples: Money[], start = 0) => {
    let vs = EMPTY_VAR;
    const codes: string[] = [];
    samples.forEach((eq, i) => {
      const step = observeEquity(vs, l, eq, eq, start + i * 60_000);
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
    const sameMinute = observeEquity(vs, l, money('1'), money('1'), 5 * 60_000 + 59_999);
    const nextMinute = observeEquity(vs, l, money('9495.25038'), money('9495.25038'), 6 * 60_000);
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

describe('VaR horizon and levels', () => {
  it('scales the one-interval loss quantile to the horizon by the square root of time, at most all of equity', () => {
    const r = equityReturns(SAMPLES); // worst return -5%
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
    // Scaled by 2 (a four-minute horizon): VaR 949.53, between a warn cap of 900 and a limit of 1000, then beyond it.
    const l = limits({ varIntervalMs: 60_000, varHorizonMs: 240_000, varWindow: 10, varMinSamples: 5, warnVar99: money('900'), maxVar99: money('1000') });
    let vs = EMPTY_VAR;
    const seen: string[] = [];
    [...SAMPLES, money('9495.25038'), money('9000'), money('9000')].forEach((eq, i) => {
      const step = observeEquity(vs, l, eq, eq, i * 60_000);
      vs = step.state;
      for (const a of step.alerts) seen.push(`${i}:${a.code}`);
      if (step.overMax) seen.push(`${i}:over`);
    });
    // Sample 7: a -5.2% return, VaR 99% 2 × 5.2% of 9000 = 943.6... still under 1000; the -5.2% is the new worst.
    expect(seen).toEqual(['5:VAR_WARN_99']);
    const beyond = observeEquity(vs, l, money('8000'), money('8000'), 9 * 60_000); // -11.1%: VaR 99% = 2 × 11.1% of 8000 = 1777.78
    expect(beyond.alerts.map((a) => a.code)).toEqual(['VAR_99']);
    expect(beyond.overMax).toBe('VaR 99% 1777777776000 exceeds the limit 1000000000000'); // 2 × 0.111111111 of 8000
  });

  it('moves an active RiskManager to reducing on a sample above the limit, again after a resume while still above', () => {
    // 1 ETH held; equity samples one minute apart from real ETH/USDT prices, then a 3% fall.
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
    // Minute returns of ~0.1%, scaled by sqrt(60): VaR 99% under 150 until the 3% fall (-3.03%, x7.75 of ~9680 = ~2270).
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
