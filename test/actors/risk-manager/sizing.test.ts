import { describe, expect, it } from 'vitest';
import { money } from '../../../engine/types/money.ts';
import { capsFor, fixedFractionLots, volatilityScaledLots, type SizingCaps } from '../../../actors/risk-manager/sizing.ts';
import { ETH, ETH_PX, limits, lots } from './helpers.ts';

// At the recorded 2680.17, one lot (0.0001 ETH) is worth 0.268017 USDT.
const PX = ETH_PX.t1520543125;
const open: SizingCaps = { maxOrderNotional: money('1000000'), maxPositionNotional: money('1000000'), currentLots: lots(0) };

describe('fixedFractionLots', () => {
  it.each([
    ['2% of 10 000 = 200 USDT → 746.2 lots, rounded down', money('10000'), 200, open, 746],
    ['capped by maxOrderNotional 100 → 373', money('10000'), 200, { ...open, maxOrderNotional: money('100') }, 373],
    ['capped by maxOrderLots 500', money('10000'), 200, { ...open, maxOrderLots: lots(500) }, 500],
    ['capped by the lots left under maxPositionLots (6000 − 5800)', money('10000'), 200, { ...open, maxPositionLots: lots(6000), currentLots: lots(5800) }, 200],
    ['capped by the value left under maxPositionNotional (2000 − 1876.119 → 462)', money('10000'), 200,
      { ...open, maxPositionNotional: money('2000'), currentLots: lots(7000) }, 462],
    ['no room left in the position', money('10000'), 200, { ...open, maxPositionLots: lots(6000), currentLots: lots(6000) }, 0],
    ['0.4% of 1000 = 4 USDT is 14 lots but below the 5 USDT minimum → 0', money('1000'), 40, open, 0],
    ['zero equity', money('0'), 200, open, 0],
  ] as const)('%s', (_n, eq, bps, caps, want) => {
    expect(fixedFractionLots(ETH, eq, bps, PX, caps)).toBe(want);
  });
});

describe('volatilityScaledLots', () => {
  it.each([
    ['risk 20 at 1% volatility → 2000 USDT → 7462 lots', money('20'), 0.01, open, 7462],
    ['risk 20 at 5% volatility → 400 USDT → 1492 lots', money('20'), 0.05, open, 1492],
    ['capped by maxOrderNotional 1000 → 3731', money('20'), 0.01, { ...open, maxOrderNotional: money('1000') }, 3731],
    ['zero volatility gives nothing', money('20'), 0, open, 0],
    ['NaN volatility gives nothing', money('20'), Number.NaN, open, 0],
    ['infinite volatility gives nothing', money('20'), Number.POSITIVE_INFINITY, open, 0],
    ['tiny risk below min notional → 0', money('0.01'), 0.01, open, 0],
  ] as const)('%s', (_n, risk, vol, caps, want) => {
    expect(volatilityScaledLots(ETH, risk, PX, vol, caps)).toBe(want);
  });

  it('takes its caps from the risk limits', () => {
    const caps = capsFor(limits(), 'ETH/USDT', lots(5000));
    // maxPositionLots 6000 leaves 1000 lots; maxPositionNotional 2000 − 5000 lots (1340.085) leaves 2462
    expect(volatilityScaledLots(ETH, money('20'), PX, 0.01, caps)).toBe(1000);
  });
});
