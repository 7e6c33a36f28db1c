// A limit exit priced exitSlippageBps under the mark (review of the RiskManager, #3): 19 lots are worth 5.0027 USDT at
// the mark, over the 5 USDT minimum, but 4.977677 at the exit's price, which the venue rejects as MIN_NOTIONAL.
import { describe, expect, it } from 'vitest';
import { createRiskState, onMark } from '../../../actors/risk-manager/logic.ts';
import { notional } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { ETH, limits, lots } from './helpers.ts';

const T = 1_723_161_300_000 as TsMs;

function exitAt(n: number, cost: string, mark: number) {
  const s = createRiskState({
    limits: limits({ stopLossBps: 200, exitOrderType: 'limit', exitSlippageBps: 50 }), instruments: [ETH], cash: money('8000'),
    positions: { 'ETH/USDT': { lots: lots(n), cost: money(cost) } },
  });
  const o = onMark(s, 'ETH/USDT', mark as Ticks, T).out.find((x) => x.type === 'risk.orderApproved');
  return o?.type === 'risk.orderApproved' ? o.intent : undefined;
}

describe('limit exits under the minimum notional at their own price', () => {
  it('go out as market exits when the lots are over the minimum at the mark', () => {
    const exit = exitAt(19, '5.30', 263300);
    expect(notional(ETH, 263300 as Ticks, lots(19))).toBeGreaterThanOrEqual(ETH.minNotional);
    expect(exit).toMatchObject({ orderType: 'market', lots: 19 });
    expect(exit?.price).toBeUndefined();
  });

  it('stay limit exits when their own price clears the minimum', () => {
    const exit = exitAt(1000, '270', 263300);
    expect(exit).toMatchObject({ orderType: 'limit', lots: 1000, price: 261983 });
    expect(notional(ETH, exit!.price!, lots(1000))).toBeGreaterThanOrEqual(ETH.minNotional);
  });
});
