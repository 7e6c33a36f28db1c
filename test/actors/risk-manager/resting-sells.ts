// Shared set-up of the tests of stops and flattens that meet resting strategy sells (exit-cancel-retry,
// exit-cancels-held-sells, cancel-rejected): a position whose lots GTC sells far above the market hold.
import { expect } from 'vitest';
import { createRiskState, onIntent, onMark, onOrderSeen, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { clientOrderIdFor, type ClientOrderId } from '../../../engine/types/ids.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { ETH, intent, limits, lots } from './helpers.ts';

export const T = 1_723_161_300_000;
export const SYM = 'ETH/USDT';
export const at = (ms: number): TsMs => (T + ms) as TsMs;

/** 5000 lots held at 268017; strategy GTC sells of `sells` lots each resting at `price`, approved and taken up by the executor. */
export function heldWithSells(l: Partial<RiskLimits>, sells: readonly number[], price = 300000): { s: RiskState; cids: ClientOrderId[] } {
  let s = createRiskState({ limits: limits(l), instruments: [ETH], cash: money('8000'), positions: { [SYM]: { lots: lots(5000), cost: money('1340.085') } } });
  s = onMark(s, SYM, 268017 as Ticks, at(0)).state;
  const cids: ClientOrderId[] = [];
  for (const n of sells) {
    const g = intent({ side: 'sell', lots: lots(n), price: price as Ticks, timeInForce: 'GTC' });
    const st = onIntent(s, g, at(1));
    expect(st.out[0]?.type).toBe('risk.orderApproved');
    cids.push(clientOrderIdFor(g.id));
    s = onOrderSeen(st.state, clientOrderIdFor(g.id));
  }
  return { s, cids };
}
