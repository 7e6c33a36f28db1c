// A close larger than one order is worked off in pieces cut to maxOrderNotional (sizing.ts capLots). A cut that left a
// last piece worth less than the instrument's min notional left it for good: risk denies such a sell
// (NOTIONAL_BELOW_MIN), and the policy counts a position no order can close as flat.
import { describe, expect, it } from 'vitest';
import { capLots, capsFor, type SizingCaps } from '../../../actors/risk-manager/sizing.ts';
import { DEFAULT_LIMITS } from '../../../actors/risk-manager/limits.ts';
import {
  createRiskState, onExecFill, onFlatten, onFlattenCheck, onIntent, onMark, type RiskOut, type RiskState,
} from '../../../actors/risk-manager/logic.ts';
import { equity, exposure, sellableLots } from '../../../actors/risk-manager/positions.ts';
import { decisionOf, intentFor, type PolicyConfig, type PolicyState } from '../../../strategies/moe.ts';
import { clientOrderIdFor, intentId } from '../../../engine/types/ids.ts';
import { notional } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { ETH, fill, limits, lots } from './helpers.ts';

const SYM = 'ETH/USDT';
const MARK = 260_000 as Ticks; // 2,600.00
const BOOK = { mark: MARK, bid: 259_999 as Ticks, ask: 260_001 as Ticks };
const POLICY: PolicyConfig = { mode: 'long-flat', orderType: 'limit', slippageBps: 10, sizing: { kind: 'fixed-fraction', fractionBps: 500 } };
const SELL = decisionOf(SYM, 5_000, { action: 'SELL', confidence: 0.7, probabilities: [0.1, 0.7, 0.2], weights: {}, ignored: [] });

// The policy's view of the RiskManager's account, as the Orchestrator builds it.
function policyState(s: RiskState): PolicyState {
  const p = s.portfolio.positions[SYM];
  const eq = equity(s.portfolio, s.instruments, s.marks);
  const account = { cash: s.portfolio.cash, exposure: exposure(s.portfolio, s.instruments, s.marks) };
  return {
    inst: ETH, positionLots: p?.lots ?? 0, ...(p ? { sellableLots: sellableLots(ETH, p) } : {}), equity: eq, ...BOOK,
    caps: capsFor(s.limits, SYM, (p?.lots ?? 0) as Lots, account), pending: false,
  };
}

// Closes the position in reducing with up to 5 SELL decisions, each intent through risk and filled at its price (its
// order settles, or its lots would stay held as an open sell). Bought at the mark, so no stop exit takes the lots first.
function closeInReducing(held: number) {
  const positions = { [SYM]: { lots: lots(held), cost: notional(ETH, MARK, lots(held)) } };
  const s0 = createRiskState({ limits: DEFAULT_LIMITS, instruments: [ETH], cash: money('10000'), positions });
  let s: RiskState = { ...onMark(s0, SYM, MARK, 1).state, tradingState: 'reducing' };
  const sold: number[] = [];
  const denied: string[] = [];
  for (let k = 0; k < 5; k++) {
    const r = intentFor(SELL, policyState(s), POLICY, intentId(`close-${k}`));
    if (!('intent' in r)) break;
    const step = onIntent(s, { ...r.intent, ts: 10_000 * (k + 1) }, 10_000 * (k + 1));
    const verdict = step.out[0];
    if (verdict?.type !== 'risk.orderApproved') {
      denied.push(verdict?.type === 'risk.orderDenied' ? verdict.reason.code : 'none');
      break;
    }
    sold.push(r.intent.lots);
    const done = fill('sell', r.intent.price!, r.intent.lots, money('0'), { clientOrderId: clientOrderIdFor(r.intent.id) });
    s = onExecFill(step.state, done, true, 10_000 * (k + 1) + 1).state;
  }
  return { sold, denied, left: s.portfolio.positions[SYM]?.lots ?? 0 };
}

describe('a close cut to maxOrderNotional', () => {
  it('leaves no remainder under the min notional: a position just over one order closes in two valid pieces', () => {
    // 0.3865 ETH at the sell limit 2,597.39 is 1,003.89 USDT: one order of 1,000 (0.3850 ETH) would leave 15 lots, 3.90
    // USDT, under the 5 USDT minimum. Halves: 1933 and 1932 lots, ~502 USDT each.
    expect(closeInReducing(3_865)).toEqual({ sold: [1_933, 1_932], denied: [], left: 0 });
  });

  it('still cuts a close whose rest clears the minimum at the cap', () => {
    // 0.4995 ETH: 3850 lots at the cap, the rest (1145 lots, ~297 USDT) is a valid order of its own.
    expect(closeInReducing(4_995)).toEqual({ sold: [3_850, 1_145], denied: [], left: 0 });
  });
});

describe('capLots', () => {
  const PX = 100_000 as Ticks; // 1,000.00: one lot (0.0001 ETH) is 0.1 USDT, the 5 USDT minimum is 50 lots
  const caps = (maxOrder: string, over: Partial<SizingCaps> = {}): SizingCaps => ({
    maxOrderNotional: money(maxOrder), maxPositionNotional: money('1000000'), currentLots: lots(0), ...over,
  });
  it.each([
    ['the whole close when it fits', 900n, caps('100'), 900, 'none'],
    ['the cap when the rest clears the minimum', 1_050n, caps('100'), 1_000, 'valid'],
    ['half when the rest at the cap would be under the minimum (1049 → 1000 + 49)', 1_049n, caps('100'), 525, 'valid'],
    ['half under a lot cap too', 1_030n, caps('1000', { maxOrderLots: lots(1_000) }), 515, 'valid'],
    ['the cap when no two pieces clear the minimum (80 lots: 60 + 20, or 40 + 40)', 80n, caps('6'), 60, 'dust'],
  ] as const)('takes %s', (_name, wanted, c, want, rest) => {
    const got = capLots(ETH, PX, wanted, c);
    const left = Number(wanted) - got;
    expect([got, left === 0 ? 'none' : notional(ETH, PX, left as Lots) >= ETH.minNotional ? 'valid' : 'dust']).toEqual([want, rest]);
  });
});

describe('a holding below the min notional', () => {
  // 0.001 ETH (10 lots) at 2,670 is 2.67 USDT: no venue takes an order for it.
  const dust = (): RiskState => createRiskState({
    limits: limits({ stopLossBps: 200 }), instruments: [ETH], cash: money('100'), positions: { [SYM]: { lots: lots(10), cost: money('3') } },
  });
  const seen = (out: readonly RiskOut[]) => out.map((o) => (o.type === 'risk.alert' ? `${o.code}: ${o.message}` : o.type));
  const NAMED = 'ETH/USDT stops at dust: 10 lots held (0.001 ETH, worth 2.67 USDT at 2670; 10 whole lots sellable) are below one lot '
    + 'or the minimum notional 5 USDT; they can never be sold, no exit is sent';

  it('sends no stop exit, says so once naming symbol, quantity and the minimum, and not again on later marks', () => {
    const stop = onMark(dust(), SYM, 267_000 as Ticks, 1);
    const later = [266_000, 265_000].map((px, i) => onMark(stop.state, SYM, px as Ticks, 2 + i).out).flat();
    expect([seen(stop.out), seen(later)]).toEqual([[`STOP_LOSS: stop-loss on ${NAMED}`], []]);
  });

  it('ends a flatten with one alert naming it instead of sending exits; while halted it stands without sending any', () => {
    const marked = onMark({ ...dust(), limits: limits() }, SYM, 267_000 as Ticks, 1).state;
    const active = onFlatten(marked, SYM, 2, 'operator');
    const halted = onFlatten({ ...marked, tradingState: 'halted' }, SYM, 2, 'operator');
    const again = [onFlattenCheck(halted.state, 60_000, true), onMark(halted.state, SYM, 267_000 as Ticks, 70_000)].flatMap((st) => st.out);
    expect([seen(active.out), Object.keys(active.state.flatten)]).toEqual([[`FLATTEN_INCOMPLETE: flatten of ${NAMED}`], []]);
    expect([seen(halted.out).length, Object.keys(halted.state.flatten), seen(again)]).toEqual([1, [SYM], []]);
  });
});
