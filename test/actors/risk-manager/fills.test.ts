// A start applies every stored fill at once (onFills); the machine applies them one by one (onFill). Both must agree,
// duplicates included: a fill delivered twice is applied once while it is among the last 512 applied.
import { describe, expect, it } from 'vitest';
import { createRiskState, onFill, onFills } from '../../../actors/risk-manager/logic.ts';
import type { Fill } from '../../../engine/messages/orders.ts';
import { money, type Money } from '../../../engine/types/money.ts';
import { ETH, ETH_PX, fill, limits } from './helpers.ts';

const PX = Object.values(ETH_PX);
const start = () => createRiskState({ limits: limits(), instruments: [ETH], cash: money('10000') });

// 1,200 fills at the recording's real prices, buys and sells of 10-40 lots with quote fees, then deliveries again:
// the last 3 (within the window: skipped), fill 100 (far outside it: applied again, as the machine would), and one of
// another symbol (ignored).
function fills(): Fill[] {
  const out: Fill[] = [];
  for (let i = 0; i < 1_200; i++) {
    const side = i % 3 === 2 ? 'sell' : 'buy';
    out.push({ ...fill(side, PX[i % PX.length]!, 10 + (i % 4) * 10, BigInt(1_000 + i) as Money), tradeId: String(i + 1), ts: 1_723_161_300_000 + i * 500 });
  }
  return [...out, out[1_199]!, out[1_198]!, out[1_197]!, out[100]!, { ...out[5]!, symbol: 'SOL/USDT', tradeId: 'x' }];
}

describe('onFills', () => {
  it('equals onFill applied to each fill in turn, duplicates included', () => {
    const all = fills();
    let one = start();
    for (const f of all) one = onFill(one, f);
    const bulk = onFills(start(), all);
    expect(bulk.portfolio).toEqual(one.portfolio);
    expect(bulk.recentFills).toEqual(one.recentFills);
    expect(bulk.recentFills).toHaveLength(512);
    // The replayed fill 100 came in again outside the window: applied twice, so the position holds its lots twice.
    const once = onFills(start(), all.slice(0, 1_200));
    expect(bulk.portfolio.positions['ETH/USDT']!.lots - once.portfolio.positions['ETH/USDT']!.lots).toBe(all[100]!.lots);
  });

  it('continues from a state that already holds recent fills', () => {
    const all = fills();
    const first = onFills(start(), all.slice(0, 700));
    let one = first;
    for (const f of all.slice(600)) one = onFill(one, f);
    // 600..699 are in first's window: skipped by both.
    expect(onFills(first, all.slice(600))).toEqual(one);
    expect(onFills(first, [])).toBe(first);
  });
});

describe('an initial position', () => {
  // A start hands over the whole lots held and the base held; after a round trip whose buy paid its fee in ETH the
  // base can exceed the whole lots by a remainder under one lot (0.0001 ETH on ETH/USDT), never by a lot or more.
  const withBase = (lots: number, base9: bigint) =>
    createRiskState({ limits: limits(), instruments: [ETH], cash: money('10000'), positions: { 'ETH/USDT': { lots: lots as never, cost: money('187.152'), base9 } } });

  it('takes base held above its whole lots by less than one lot', () => {
    expect(withBase(699, 69_950_000n).portfolio.positions['ETH/USDT']).toMatchObject({ lots: 699, base9: 69_950_000n });
    expect(withBase(699, 69_999_999n).portfolio.positions['ETH/USDT']!.base9).toBe(69_999_999n);
  });

  it('refuses base of a whole lot or more above its lots, naming the position', () => {
    expect(() => withBase(699, 70_000_000n)).toThrow(/initial position in ETH\/USDT holds 70000000 base units, outside 0\.\.69999999 for 699 lots/);
    expect(() => withBase(699, -1n)).toThrow(/outside/);
  });
});
