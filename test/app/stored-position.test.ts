// A live start hands the RiskManager the executor's stored position. Its cost (the stop-loss and take-profit
// reference) must be the average cost of what is held, as the RiskManager itself keeps it, also after round trips.
import { afterEach, describe, expect, it } from 'vitest';
import { emptyPosition, positionAfterFill, type PositionRecord } from '../../actors/trading-executor/logic.ts';
import { applyFill, emptyPortfolio, sellableLots } from '../../actors/risk-manager/positions.ts';
import { createRiskState } from '../../actors/risk-manager/logic.ts';
import { DEFAULT_LIMITS } from '../../actors/risk-manager/limits.ts';
import { keepPositionCost, storedRiskPosition } from '../../app/system.ts';
import type { Fill } from '../../engine/messages/orders.ts';
import { notional } from '../../engine/types/instrument.ts';
import { money, type Money } from '../../engine/types/money.ts';
import type { Lots } from '../../engine/types/price.ts';
import { ETH, ETH_PX, fill } from '../actors/risk-manager/helpers.ts';
import { tempStore } from '../actors/trading-executor/helpers.ts';

const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

// Real ETH/USDT trade prices of the bundled recording: a position built, partly sold, closed with a profit, then a
// new one bought lower and partly sold.
const FILLS: Fill[] = [
  fill('buy', ETH_PX.t1520538925, 1000, 0n as Money),
  fill('buy', ETH_PX.t1520543125, 500, 0n as Money),
  fill('sell', ETH_PX.t1520543725, 800, 0n as Money),
  fill('sell', ETH_PX.t1520544172, 700, 0n as Money),
  fill('buy', ETH_PX.t1520547382, 1000, 0n as Money),
  fill('sell', ETH_PX.t1520552725, 300, 0n as Money),
].map((f, i) => ({ ...f, tradeId: String(i + 1), ts: 1_723_161_300_000 + i * 1_000 }));

async function book(fills: readonly Fill[], keepCost: boolean) {
  const s = tempStore();
  stores.push(s);
  let pos: PositionRecord = emptyPosition('paper', 'ETH/USDT', 0);
  for (const f of fills) {
    pos = positionAfterFill(pos, f, notional(ETH, f.price, f.lots));
    const stored: PositionRecord = keepCost ? pos : (({ openLots: _l, openCost: _c, ...old }) => old)(pos);
    await s.store.commit({ fill: f, position: stored });
  }
  return { s, pos };
}

describe('the stored position a live start hands the RiskManager', () => {
  it('carries the average cost of the lots held, equal to the RiskManager\'s own, also after a round trip', async () => {
    const { s, pos } = await book(FILLS, true);
    const risk = FILLS.reduce((pf, f) => applyFill(pf, ETH, f), emptyPortfolio('USDT', money('10000'))).positions['ETH/USDT']!;
    const got = storedRiskPosition(s.store, 'paper', ETH);

    expect(got).toEqual({ lots: 700, cost: risk.cost, base9: risk.base9 });
    // 700 of 1000 lots bought at 2673.60: cost 187.152 USDT.
    expect(risk.cost).toBe(money('187.152'));
    // What the start took before: bought minus sold quote, which the earlier profit had lowered.
    expect(pos.buyQuote - pos.sellQuote).toBe(money('186.5392'));
  });

  it('replays the fills once for a position stored before the cost was kept', async () => {
    const { s } = await book(FILLS, false);
    expect(s.store.position('paper', 'ETH/USDT')!.openCost).toBeUndefined();
    expect(storedRiskPosition(s.store, 'paper', ETH)).toEqual({ lots: 700, cost: money('187.152'), base9: 70_000_000n });
    // The start stores what it computed, once: later fills carry it on, later starts read no fill for it.
    expect(await keepPositionCost(s.store, 'paper', ETH)).toBe(true);
    expect(s.store.position('paper', 'ETH/USDT')).toMatchObject({ openLots: 700, openCost: money('187.152') });
    expect(await keepPositionCost(s.store, 'paper', ETH)).toBe(false);
    const more = fill('buy', ETH_PX.t1520538925, 100, 0n as Money, { tradeId: '7' });
    const next = positionAfterFill(s.store.position('paper', 'ETH/USDT')!, more, notional(ETH, more.price, more.lots));
    expect(next).toMatchObject({ openLots: 800, openCost: (money('187.152') + notional(ETH, more.price, more.lots)) as Money });
  });

  it('holds the base the buys\' fees left, so that a restarted RiskManager sizes its exits to what the account has', async () => {
    // Binance without BNB takes a buy's fee in the base asset: 0.1% of the lots bought. The sells stay within what the
    // account holds, as the venue makes them (the first position closes to 2 lots of dust less its fees).
    const feeInBase = FILLS.map((f, i) => (f.side === 'buy' ? { ...f, fee: (BigInt(f.lots) * 100n) as Money, feeAsset: 'ETH' } : i === 3 ? { ...f, lots: 698 as Lots } : f));
    const { s } = await book(feeInBase, true);
    const risk = feeInBase.reduce((pf, f) => applyFill(pf, ETH, f), emptyPortfolio('USDT', money('10000'))).positions['ETH/USDT']!;
    const got = storedRiskPosition(s.store, 'paper', ETH)!;
    const restarted = createRiskState({ limits: DEFAULT_LIMITS, instruments: [ETH], cash: money('1000'), positions: { 'ETH/USDT': got } }).portfolio.positions['ETH/USDT']!;

    // 702 lots bought less sold, less the fees of the 2500 lots bought: 0.0702 - 0.00025 ETH = 699.5 lots held. The
    // executor's netLots says 702; the RiskManager keeps the 699 whole lots held, and so does the start.
    expect(s.store.position('paper', 'ETH/USDT')!.netLots).toBe(702);
    expect(got).toMatchObject({ lots: 699, base9: 69_950_000n });
    expect(got.lots).toBe(risk.lots);
    expect(got.base9).toBe(risk.base9);
    // The cost of the lots not held left with them: within the cost of the 2 lots the first round trip's fees took.
    expect(Number(got.cost - risk.cost)).toBeLessThan(Number(notional(ETH, ETH_PX.t1520538925, 2 as Lots)));
    expect(got.cost).toBeGreaterThanOrEqual(risk.cost);
    expect(sellableLots(ETH, restarted)).toBe(sellableLots(ETH, risk));
    expect(sellableLots(ETH, restarted)).toBe(699);
  });

  it('gives nothing for a flat position', async () => {
    const { s } = await book(FILLS.slice(0, 4), true);
    expect(storedRiskPosition(s.store, 'paper', ETH)).toBeUndefined();
    expect(s.store.position('paper', 'ETH/USDT')).toMatchObject({ netLots: 0, openLots: 0, openCost: 0n });
  });
});
