// The backtest's figures from fills as the paper venue books them: a buy pays its fee in ETH (0.1 % of the base
// bought), the sell of what is held pays it in USDT. ETH/USDT's real increments (lot 0.0001, min notional 5 USDT),
// prices around the bundled recording's 2,680.
import { describe, expect, it } from 'vitest';
import { lot9, sellableLots } from '../../actors/risk-manager/positions.ts';
import { EquityTracker } from '../../app/backtest-metrics.ts';
import { instrumentOf } from '../../app/live-venue.ts';
import { chartPoints, svgLine } from '../../app/report-html.ts';
import type { Fill } from '../../engine/messages/orders.ts';
import { clientOrderId, venueOrderId } from '../../engine/types/ids.ts';
import { notional } from '../../engine/types/instrument.ts';
import { money, type Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';

const ETH = instrumentOf('ETH/USDT', 'paper');
let seq = 0;
function fill(side: 'buy' | 'sell', lots: number, price: number, fee: bigint, feeAsset: string, ts: number): Fill {
  seq++;
  return {
    clientOrderId: clientOrderId(`c-${seq}`), venueOrderId: venueOrderId(`v-${seq}`), tradeId: `t-${seq}`, venue: 'paper', symbol: ETH.symbol, side,
    price: price as Ticks, lots: lots as Lots, fee: fee as Money, feeAsset, liquidity: 'taker', ts,
  };
}

// One round trip: buy `lots` at `buy` (fee in ETH), a second long, sell what is held at `sell` (fee in USDT), a
// second flat. Returns the time after it.
function roundTrip(tr: EquityTracker, t: number, lots: number, buy: number, sell: number): number {
  tr.onMark(buy as Ticks);
  tr.onFill(fill('buy', lots, buy, (BigInt(lots) * lot9(ETH)) / 1000n, 'ETH', t));
  tr.tick((t += 1_000));
  const held = sellableLots(ETH, (tr as unknown as { pf: { positions: Record<string, Parameters<typeof sellableLots>[1]> } }).pf.positions[ETH.symbol]!);
  tr.onMark(sell as Ticks);
  tr.onFill(fill('sell', held, sell, notional(ETH, sell as Ticks, held) / 1000n, 'USDT', t));
  tr.tick((t += 1_000));
  return t;
}

describe('EquityTracker', () => {
  it('counts every round trip and half the time exposed, though each buy leaves base it no longer holds in the traded lots', () => {
    const tr = new EquityTracker(ETH, money('10000'));
    let t = 1_723_161_300_000;
    tr.tick(t);
    // 744 lots ≈ 200 USDT a trip; each leaves ~0.75 lot in Position.lots that the fee took: after ~24 trips those
    // lots pass the 5 USDT min notional, and a count by lots never saw the position flat again.
    for (let i = 0; i < 40; i++) t = roundTrip(tr, t, 744, 268_000, 269_340);
    const s = tr.summary();
    expect(s.trades).toBe(80);
    expect(s.roundTrips).toBe(40);
    expect(s.exposure).toBe(0.5);
    // Each trip gains 0.5 % before fees and pays 0.2 %: all 40 win.
    expect(s.hitRate).toBe(1);
  });

  it('counts a round trip that gained less than its fees as a loss', () => {
    const tr = new EquityTracker(ETH, money('10000'));
    const t = roundTrip(tr, 1_723_161_300_000, 20_000, 268_000, 268_100);
    const s = tr.summary();
    expect(s.roundTrips).toBe(1);
    // +0.037 % before fees, 0.2 % of fees: the account lost money.
    expect(s.pnl).toBeLessThan(0);
    expect(s.hitRate).toBe(0);
    // And one that beat its fees wins.
    roundTrip(tr, t, 20_000, 268_000, 269_340);
    expect(tr.summary().hitRate).toBe(0.5);
  });

  it('takes a last sample at the end, so a fall after the last whole second shows in the drawdown', () => {
    const tr = new EquityTracker(ETH, money('10000'));
    const t = 1_723_161_300_000;
    tr.tick(t);
    tr.onMark(268_000 as Ticks);
    tr.onFill(fill('buy', 37_000, 268_000, 0n, 'USDT', t));
    tr.tick(t + 1_000);
    tr.onMark(259_960 as Ticks); // −3 % within the next 0.6 s, then the run ends
    tr.finish(t + 1_600);
    const s = tr.summary();
    expect(tr.points.at(-1)!.t).toBe(t + 1_600);
    expect(tr.points.at(-1)!.equity).toBeCloseTo(s.finalEquity, 6);
    expect(s.maxDrawdown).toBeGreaterThan(0.02);
    // A second finish at the same time adds nothing.
    tr.finish(t + 1_600);
    expect(tr.points.at(-1)!.t).toBe(t + 1_600);
    expect(tr.points.filter((p) => p.t === t + 1_600)).toHaveLength(1);
  });
});

describe('EquityTracker.summary against figures worked by hand', () => {
  const T0 = 1_723_161_300_000;

  it('gives the fees, PnL, drawdown, Sharpe and exposure of one losing round trip with a base-asset fee', () => {
    const tr = new EquityTracker(ETH, money('10000'));
    tr.tick(T0);
    // Buy 1 ETH (10,000 lots) at 2,680.00, fee 0.001 ETH: cash 10,000 − 2,680 = 7,320; 0.999 ETH held.
    tr.onMark(268_000 as Ticks);
    tr.onFill(fill('buy', 10_000, 268_000, 1_000_000n, 'ETH', T0));
    tr.tick(T0 + 1_000); // e1 = 7,320 + 0.999 × 2,680 = 9,997.32
    tr.onMark(270_000 as Ticks);
    tr.tick(T0 + 2_000); // e2 = 7,320 + 0.999 × 2,700 = 10,017.30: the peak, after the first sample
    tr.onMark(265_000 as Ticks);
    tr.tick(T0 + 3_000); // e3 = 7,320 + 0.999 × 2,650 = 9,967.35: the trough
    // Sell the 9,990 whole lots held at 2,660.00: 0.999 × 2,660 = 2,657.34, fee 0.1 % = 2.65734 USDT.
    tr.onMark(266_000 as Ticks);
    tr.onFill(fill('sell', 9_990, 266_000, 2_657_340_000n, 'USDT', T0 + 3_000));
    tr.tick(T0 + 4_000); // e4 = 7,320 + 2,657.34 − 2.65734 = 9,974.68266, flat
    const s = tr.summary();
    // The window's start (T0, before the buy) is the first sample: the starting cash.
    const e = [10_000, 9_997.32, 10_017.3, 9_967.35, 9_974.68266];
    expect(tr.points.map((p) => p.equity)).toEqual(e.map((x) => expect.closeTo(x, 9)));
    expect(s.trades).toBe(2);
    expect(s.roundTrips).toBe(1);
    expect(s.hitRate).toBe(0); // ends below the 10,000 it started from
    // 0.001 ETH valued at the buy's 2,680.00 = 2.68, plus the sell's 2.65734.
    expect(s.fees).toBeCloseTo(5.33734, 9);
    expect(s.pnl).toBeCloseTo(-25.31734, 9);
    expect(s.pnlExact).toBe('-25.317340000');
    expect(s.finalEquity).toBeCloseTo(9_974.68266, 9);
    // From the peak e2 to the trough e3: 49.95 / 10,017.30.
    expect(s.maxDrawdown).toBeCloseTo(49.95 / 10_017.3, 9);
    // Three of the four samples after the start hold 9,990 lots (≈ 2,650 USDT, far above the 5 USDT min notional).
    expect(s.exposure).toBe(0.75);
    // Sharpe: mean over the sample standard deviation (n − 1) of the four 1 s returns from the start, × √(365 × 86,400).
    const r = e.slice(1).map((x, i) => x / e[i]! - 1);
    const mean = r.reduce((a, x) => a + x, 0) / 4;
    const sd = Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / 3);
    expect(s.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(31_536_000), 4);
  });

  it('counts a round trip that ends exactly where it started (no gain, no fee) as a loss', () => {
    const tr = new EquityTracker(ETH, money('10000'));
    tr.onMark(268_000 as Ticks);
    tr.onFill(fill('buy', 10_000, 268_000, 0n, 'USDT', T0));
    tr.onFill(fill('sell', 10_000, 268_000, 0n, 'USDT', T0 + 1_000));
    const s = tr.summary();
    expect(s.roundTrips).toBe(1);
    expect(s.pnl).toBe(0);
    expect(s.hitRate).toBe(0);
  });

  it('measures a round trip from before its first buy, not from a later buy that added to it', () => {
    const tr = new EquityTracker(ETH, money('10000'));
    // Start 10,000. Buy 1 ETH at 2,680 (cash 7,320), 1 more at 2,600 (cash 4,720; valued just before this buy the
    // account was 7,320 + 2,600 = 9,920), sell both at 2,630: cash 9,980. Down 20 on the trip, up 60 on the second buy.
    tr.onMark(268_000 as Ticks);
    tr.onFill(fill('buy', 10_000, 268_000, 0n, 'USDT', T0));
    tr.onMark(260_000 as Ticks);
    tr.onFill(fill('buy', 10_000, 260_000, 0n, 'USDT', T0 + 1_000));
    tr.onMark(263_000 as Ticks);
    tr.onFill(fill('sell', 20_000, 263_000, 0n, 'USDT', T0 + 2_000));
    const s = tr.summary();
    expect(s.roundTrips).toBe(1);
    expect(s.pnl).toBeCloseTo(-20, 9);
    expect(s.hitRate).toBe(0);
  });

  it('does not count base worth less than the min notional as a position, and does once the mark lifts it over', () => {
    const tr = new EquityTracker(ETH, money('10000'));
    tr.tick(T0);
    // 15 lots = 0.0015 ETH: 4.02 USDT at 2,680.00, under the 5 USDT min notional; 5.10 USDT at 3,400.00.
    tr.onMark(268_000 as Ticks);
    tr.onFill(fill('buy', 15, 268_000, 0n, 'USDT', T0));
    tr.tick(T0 + 1_000);
    tr.onMark(340_000 as Ticks);
    tr.tick(T0 + 2_000);
    expect(tr.points.map((p) => p.held)).toEqual([false, false, true]); // the start, then the two samples
    expect(tr.summary().exposure).toBe(0.5);
  });
});

describe('the report chart', () => {
  it('draws a week of 1 s samples (604,800) with the extremes kept and a bounded number of points', () => {
    const n = 604_800;
    const ts = Array.from({ length: n }, (_, i) => 1_723_161_300_000 + i * 1_000);
    const ys = Array.from({ length: n }, (_, i) => 10_000 + 50 * Math.sin(i / 5_000));
    ys[123_457] = 9_000; // a one-second crash
    ys[500_001] = 11_000; // a one-second spike
    const idx = chartPoints(ts, ys, 820);
    expect(idx.length).toBeLessThanOrEqual(4 * 820);
    expect(idx).toContain(123_457);
    expect(idx).toContain(500_001);
    expect(idx[0]).toBe(0);
    expect(idx.at(-1)).toBe(n - 1);
    expect(idx.every((v, i) => i === 0 || v > idx[i - 1]!)).toBe(true);
    const svg = svgLine(ts, ys, { label: 'equity' });
    expect(svg).toContain('>9000.00<');
    expect(svg).toContain('>11000.00<');
  });

  it('draws every sample of a short run', () => {
    expect(chartPoints([0, 1_000, 2_000], [1, 3, 2], 820)).toEqual([0, 1, 2]);
  });
});
