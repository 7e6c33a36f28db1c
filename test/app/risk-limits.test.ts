import { describe, expect, it } from 'vitest';
import { bpsOf, pctToBps, rateToBpsCeil, riskLimitsFromConfig } from '../../app/risk-limits.ts';
import { configSchema } from '../../engine/config/schema.ts';
import { money } from '../../engine/types/money.ts';

describe('risk limits from the config', () => {
  it.each([[10, 1000], [2, 200], [0.05, 5], [1.5, 150], [0.01, 1]])('turns %s %% into %s bps', (pct, bps) => {
    expect(pctToBps(pct)).toBe(bps);
  });

  it.each([['0.001', 10], ['0.00075', 8], ['0', 0], ['0.0001', 1]])('rounds fee rate %s up to %s bps', (rate, bps) => {
    expect(rateToBpsCeil(rate)).toBe(bps);
  });

  it('converts the live example limits exactly', () => {
    const c = configSchema.parse({ risk: { maxOrderNotional: '50', maxPositionNotional: '200', maxDrawdownPct: 3, stopLossPct: 1.5, takeProfitPct: 3, maxSubmitPerSec: 2.5, var: { confidence: 0.99, warnPct: 1, haltPct: 2 } } });
    const l = riskLimitsFromConfig(c, money('1000'));
    expect(l).toMatchObject({
      maxOrderNotional: money('50'), maxPositionNotional: money('200'), maxExposure: money('200'), maxSubmitsPerSecond: 2,
      maxDrawdownBps: 300, reduceAtDrawdownBps: 150, stopLossBps: 150, takeProfitBps: 300, feeReserveBps: 10, maxVar99: money('20'),
      warnVar99: money('10'), varIntervalMs: 60_000, varHorizonMs: 86_400_000,
    });
    expect([l.maxVar95, l.warnVar95]).toEqual([undefined, undefined]);
    expect(bpsOf(money('1000'), 200)).toBe(money('20'));
  });
});
