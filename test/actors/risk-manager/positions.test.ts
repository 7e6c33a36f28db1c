import { describe, expect, it } from 'vitest';
import { money } from '../../../engine/types/money.ts';
import {
  applyFill, averageEntry, emptyPortfolio, equity, exposure, sellableLots, unrealised, type Portfolio,
} from '../../../actors/risk-manager/positions.ts';
import { BTC, BTC_PX, ETH, ETH_PX, fill } from './helpers.ts';

const instruments = { 'ETH/USDT': ETH, 'BTC/USDT': BTC };

describe('positions and PnL', () => {
  // Hand-checked: buy 0.5 @ 2683.80, buy 0.25 @ 2680.17, sell 0.3 @ 2684.96, mark 2673.60, sell 0.45 @ 2681.22,
  // every fee 0.1% in USDT. Cost 1341.90 + 670.0425 = 2011.9425 (avg 2682.59); the sell releases 0.4 of it (804.777).
  const start = emptyPortfolio('USDT', money('10000'));
  const afterBuys = [
    fill('buy', ETH_PX.t1520538925, 5000, money('1.3419')),
    fill('buy', ETH_PX.t1520543125, 2500, money('0.6700425')),
  ].reduce((pf: Portfolio, f) => applyFill(pf, ETH, f), start);
  const afterSell = applyFill(afterBuys, ETH, fill('sell', ETH_PX.t1520543725, 3000, money('0.805488')));
  const closed = applyFill(afterSell, ETH, fill('sell', ETH_PX.t1520552725, 4500, money('1.206549')));

  it('averages the entry of two buys exactly', () => {
    const p = afterBuys.positions['ETH/USDT'];
    expect([p.lots, p.cost, averageEntry(ETH, p), afterBuys.cash]).toEqual([7500, money('2011.9425'), money('2682.59'), money('7986.0455575')]);
  });

  it('realises PnL on a partial close against the average cost', () => {
    const p = afterSell.positions['ETH/USDT'];
    expect([p.lots, p.cost, p.realised, p.fees, afterSell.cash]).toEqual([
      4500, money('1207.1655'), money('0.711'), money('2.8174305'), money('8790.7280695'),
    ]);
  });

  it('marks the rest to market: unrealised PnL and equity at the recording low', () => {
    const p = afterSell.positions['ETH/USDT'];
    const marks = { 'ETH/USDT': ETH_PX.t1520547382 };
    expect([unrealised(ETH, p, ETH_PX.t1520547382), equity(afterSell, instruments, marks), exposure(afterSell, instruments, marks)])
      .toEqual([money('-4.0455'), money('9993.8480695'), money('1203.12')]);
    // equity = start + realised + unrealised - fees
    expect(money('10000') + p.realised + unrealised(ETH, p, ETH_PX.t1520547382) - p.fees).toBe(equity(afterSell, instruments, marks));
  });

  it('closes flat with cash equal to start plus realised minus fees', () => {
    const p = closed.positions['ETH/USDT'];
    expect([p.lots, p.base9, p.cost, p.realised, p.fees, closed.cash]).toEqual([
      0, 0n, money('0'), money('0.0945'), money('4.0239795'), money('9996.0705205'),
    ]);
  });

  it('gives the same result for a sell split into partial fills', () => {
    const split = [fill('sell', ETH_PX.t1520543725, 1000, money('0.268496')), fill('sell', ETH_PX.t1520543725, 2000, money('0.536992'))]
      .reduce((pf: Portfolio, f) => applyFill(pf, ETH, f), afterBuys);
    expect(split.positions['ETH/USDT']).toEqual(afterSell.positions['ETH/USDT']);
    expect(split.cash).toBe(afterSell.cash);
  });

  it('takes a base-asset fee out of the holding, so fewer whole lots can be sold', () => {
    // 0.25 ETH bought, fee 0.00025 ETH (250 000 units of 1e-9 ETH), valued at the fill price: 0.6700425 USDT
    const pf = applyFill(start, ETH, fill('buy', ETH_PX.t1520543125, 2500, 250_000n as never, { feeAsset: 'ETH' }));
    const p = pf.positions['ETH/USDT'];
    expect([p.lots, p.base9, sellableLots(ETH, p), p.fees, pf.cash]).toEqual([2500, 249_750_000n, 2497, money('0.6700425'), money('9329.9575')]);
  });

  it('counts a sell larger than the position instead of going short', () => {
    const pf = applyFill(afterSell, ETH, fill('sell', ETH_PX.t1520552725, 5000, money('0')));
    const p = pf.positions['ETH/USDT'];
    expect([p.lots, p.cost, pf.oversoldLots]).toEqual([0, money('0'), 500]);
  });

  it('values holdings in several symbols at their own marks', () => {
    const pf = applyFill(afterSell, BTC, fill('buy', BTC_PX, 2000, money('0'), { symbol: 'BTC/USDT' }));
    // 0.45 ETH @ 2673.60 = 1203.12; 0.02 BTC @ 61837.63 = 1236.7526
    expect(exposure(pf, instruments, { 'ETH/USDT': ETH_PX.t1520547382, 'BTC/USDT': BTC_PX })).toBe(money('2439.8726'));
  });
});
