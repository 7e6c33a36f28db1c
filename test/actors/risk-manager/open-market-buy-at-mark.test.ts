// A market buy still unanswered at a restart is taken over at price 0, "at the mark": its value, the position value,
// the exposure and the cash it holds back are counted at the symbol's mark (nothing only while there is none).
import { describe, expect, it } from 'vitest';
import { createRiskState, onIntent, onMark, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { ETH, intent, limits, lots } from './helpers.ts';

const T = 1_723_161_300_000 as TsMs;
const SYM = 'ETH/USDT';
const PX = 268017 as Ticks; // 2680.17: 3000 lots (0.0001 ETH each) are worth 804.05 USDT

function restarted(over: Parameters<typeof limits>[0] = {}): RiskState {
  const s = createRiskState({
    limits: limits({ maxSubmitsPerSecond: 10, ...over }), instruments: [ETH], cash: money('1000'),
    openOrders: { 'c-mkt': { symbol: SYM, side: 'buy', lots: lots(3000) } },
  });
  return onMark(s, SYM, PX, T).state;
}

describe('an open market buy taken over at a start counts at the mark', () => {
  it('holds back its cash: a second buy of the same size is denied INSUFFICIENT_BALANCE', () => {
    const v = onIntent(restarted(), intent({ lots: lots(3000), price: PX }), T).out[0];
    expect(v?.type).toBe('risk.orderDenied');
    if (v?.type !== 'risk.orderDenied') return;
    expect(v.reason.code).toBe('INSUFFICIENT_BALANCE');
    expect(v.reason.including).toMatch(/^804\.\d+ USDT reserved for open buys$/);
  });

  it('counts toward exposure', () => {
    const v = onIntent(restarted({ maxExposure: money('1000') }), intent({ lots: lots(1000), price: PX }), T).out[0];
    expect(v?.type).toBe('risk.orderDenied');
    if (v?.type === 'risk.orderDenied') expect(v.reason.code).toBe('EXPOSURE_LIMIT');
  });

  it('counts nothing of its value while the symbol has no mark', () => {
    const s = createRiskState({
      limits: limits({ maxSubmitsPerSecond: 10 }), instruments: [ETH], cash: money('1000'),
      openOrders: { 'c-mkt': { symbol: SYM, side: 'buy', lots: lots(3000) } },
    });
    // A limit buy needs no mark; the open market buy then adds its lots but no value.
    expect(onIntent(s, intent({ lots: lots(3000), price: PX }), T).out[0]?.type).toBe('risk.orderApproved');
  });
});
