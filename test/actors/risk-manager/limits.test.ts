import { describe, expect, it } from 'vitest';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { mergeSymbolLimits, operatorLimits } from '../../../actors/risk-manager/limits.ts';
import { BTC, ETH, limits, lots } from './helpers.ts';

describe('per-symbol lot caps', () => {
  const base: RiskLimits['symbols'] = { 'ETH/USDT': { maxOrderLots: lots(3000), maxPositionLots: lots(6000) }, 'BTC/USDT': { maxOrderLots: lots(100) } };

  it.each([
    ['raises one cap, keeps the other and the other symbol', { 'ETH/USDT': { maxOrderLots: lots(4000) } },
      { 'ETH/USDT': { maxOrderLots: 4000, maxPositionLots: 6000 }, 'BTC/USDT': { maxOrderLots: 100 } }],
    ['removes a cap sent as undefined', { 'ETH/USDT': { maxPositionLots: undefined } },
      { 'ETH/USDT': { maxOrderLots: 3000 }, 'BTC/USDT': { maxOrderLots: 100 } }],
    ['drops a symbol left with no cap', { 'BTC/USDT': { maxOrderLots: undefined } },
      { 'ETH/USDT': { maxOrderLots: 3000, maxPositionLots: 6000 } }],
    ['adds a symbol that had none', { 'SOL/USDT': { maxPositionLots: lots(50) } },
      { 'ETH/USDT': { maxOrderLots: 3000, maxPositionLots: 6000 }, 'BTC/USDT': { maxOrderLots: 100 }, 'SOL/USDT': { maxPositionLots: 50 } }],
    ['keeps everything when no symbols are sent', undefined,
      { 'ETH/USDT': { maxOrderLots: 3000, maxPositionLots: 6000 }, 'BTC/USDT': { maxOrderLots: 100 } }],
  ])('merge %s', (_name, patch, expected) => {
    expect(mergeSymbolLimits(base, patch as RiskLimits['symbols'] | undefined)).toStrictEqual(expected);
  });

  it('shows the lot caps with their base quantities in the instruments given, and lots only without them', () => {
    const l = limits({ symbols: { 'ETH/USDT': { maxOrderLots: lots(5000) }, 'BTC/USDT': { maxOrderLots: lots(123), maxPositionLots: lots(20_000) } } });
    expect(operatorLimits(l, { 'ETH/USDT': ETH, 'BTC/USDT': BTC }).symbols).toStrictEqual({
      'ETH/USDT': { maxOrderLots: 5000, maxOrderQty: '0.5' },
      'BTC/USDT': { maxOrderLots: 123, maxOrderQty: '0.00123', maxPositionLots: 20_000, maxPositionQty: '0.2' },
    });
    expect(operatorLimits(l).symbols).toStrictEqual({ 'ETH/USDT': { maxOrderLots: 5000 }, 'BTC/USDT': { maxOrderLots: 123, maxPositionLots: 20_000 } });
    expect(operatorLimits(limits({ symbols: {} }), { 'ETH/USDT': ETH })).not.toHaveProperty('symbols');
  });
});
