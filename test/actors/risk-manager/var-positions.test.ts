// Position-based historical VaR through the RiskManager's own marks and fills: each interval's per-symbol price returns
// applied to the current holdings. The equity-based figure it replaced, capped at the exposure, reported a book sold
// down to a tenth at up to that tenth, and valued a position bought a minute ago on returns of a time it was not held.
import { describe, expect, it } from 'vitest';
import { money, type Money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import { createRiskState, onFill, onMark, type RiskInput, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { BTC, ETH, fill, limits, lots } from './helpers.ts';

const MIN = 60_000;
const L = limits({ varIntervalMs: MIN, varWindow: 20, varMinSamples: 5, maxPositionNotional: money('100000'), maxExposure: money('100000') });
// ETH/USDT one interval apart: -2%, +2%, 0, +1.0000%, 0 (the worst return is exactly -2%).
const ETH_MARKS = [200_000, 196_000, 199_920, 199_920, 201_919, 201_919] as Ticks[];

// Marks `marks` (symbol → price per interval) in order, the first interval starting at `from`; returns the state.
function marked(s0: RiskState, marks: readonly Readonly<Record<string, number>>[], from = 0): RiskState {
  let s = s0;
  marks.forEach((m, i) => {
    let k = 1;
    for (const [sym, px] of Object.entries(m)) s = onMark(s, sym, px as Ticks, (from + i) * MIN + k++).state;
  });
  return s;
}
const eth = (prices: readonly number[]) => prices.map((px) => ({ 'ETH/USDT': px }));
const start = (input: Partial<RiskInput>): RiskState => createRiskState({ limits: L, instruments: [ETH], cash: money('10000'), ...input });
const oneEth = { 'ETH/USDT': { lots: lots(10_000), cost: money('2000') } };

describe('position-based VaR', () => {
  it('reports a tenth of the VaR for a book sold down to a tenth', () => {
    const held = marked(start({ cash: money('7000'), positions: oneEth }), eth(ETH_MARKS));
    const sold = onFill(held, fill('sell', 201_919 as Ticks, 9_000, money('0')));
    const next = eth([201_919]);
    const [full, tenth] = [marked(held, next, 6), marked(sold, next, 6)];
    // 2% of 1 ETH at 2,019.19 is 40.3838; of 0.1 ETH, 4.03838 (not the 201.919 the tenth is worth).
    expect([full.var.var95, tenth.var.var95, tenth.var.var99]).toEqual([money('40.3838'), money('4.03838'), money('4.03838')]);
  });

  it('gives a position bought now the VaR of its symbol\'s past returns at the next interval, not the flat time\'s 0', () => {
    const flat = marked(start({}), eth(ETH_MARKS));
    const bought = onFill(flat, fill('buy', 201_919 as Ticks, 10_000, money('0')));
    const next = marked(bought, eth([201_919]), 6);
    expect([flat.var.var95, next.var.var95]).toEqual([0n, money('40.3838')]);
  });

  it('lets two symbols with opposite returns partly offset', () => {
    // BTC/USDT moves +1% when ETH falls 2%, and -1% when ETH rises 2%.
    const btcMarks = [5_000_000, 5_050_000, 4_999_500, 4_999_500, 4_999_500, 4_999_500];
    const both = (held: RiskInput['positions']): Money => {
      const s0 = createRiskState({ limits: L, instruments: [ETH, BTC], cash: money('10000'), positions: held });
      // The last interval's first mark (ETH) recomputes VaR with BTC's returns up to the interval before.
      return marked(s0, [...ETH_MARKS.map((px, i) => ({ 'ETH/USDT': px, 'BTC/USDT': btcMarks[i] })), { 'ETH/USDT': 201_919 }]).var.var95!;
    };
    const btc = { 'BTC/USDT': { lots: lots(4_000), cost: money('2000') } }; // 0.04 BTC
    const [ethAlone, btcAlone, book] = [both(oneEth), both(btc), both({ ...oneEth, ...btc })];
    // ETH alone: 2% of 2,019.19; BTC alone: 1% of 1,999.80; the book's worst interval: 40.3838 − 19.998 = 20.3858.
    expect([ethAlone, btcAlone]).toEqual([money('40.3838'), money('19.998')]);
    // Within the rounding of the loss fraction to 1e-9 of the 4,019 held (the fraction, not the figure, is rounded).
    expect(Math.abs(Number(book - money('20.3858')))).toBeLessThanOrEqual(4_019 / 2);
    expect(book < ethAlone + btcAlone).toBe(true);
  });

  it('takes no return across an interval without a mark', () => {
    // No mark in interval 3: returns 0→1, 1→2 and 4→5 only (none for 2→4), under varMinSamples 5.
    const gap = marked(start({ positions: oneEth }), [...eth(ETH_MARKS.slice(0, 3)), {}, ...eth(ETH_MARKS.slice(4))]);
    const all = marked(start({ positions: oneEth }), eth(ETH_MARKS));
    expect([gap.var.samples.map((x) => x.bucket), gap.var.var95, all.var.var95 !== undefined]).toEqual([[0, 1, 2, 4, 5], undefined, true]);
  });
});
