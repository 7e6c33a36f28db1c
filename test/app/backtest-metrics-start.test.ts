// Review (paper s2): max drawdown ignored the starting equity. The tracker's peak started at 0 and its first sample was
// the first whole second, so a loss before it never counted (a --from window reported a drawdown smaller than its
// final equity's fall from the starting cash), and the equity and drawdown charts began after it. The window's start
// is now a sample at the starting cash, and the peak starts there.
import { describe, expect, it } from 'vitest';
import { EquityTracker } from '../../app/backtest-metrics.ts';
import { instrumentOf } from '../../app/live-venue.ts';
import type { Fill } from '../../engine/messages/orders.ts';
import { clientOrderId, venueOrderId } from '../../engine/types/ids.ts';
import { money, type Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';

const ETH = instrumentOf('ETH/USDT', 'paper');
const T0 = 1_723_161_300_250;

/** A buy of 1 ETH at `price` ticks (fee 0), at `ts`. */
function buy(price: number, ts: number): Fill {
  return {
    clientOrderId: clientOrderId('c-1'), venueOrderId: venueOrderId('v-1'), tradeId: 't-1', venue: 'paper', symbol: ETH.symbol, side: 'buy',
    price: price as Ticks, lots: 10_000 as Lots, fee: 0n as Money, feeAsset: 'USDT', liquidity: 'taker', ts: ts as TsMs,
  };
}

describe('EquityTracker: the window\'s start', () => {
  it('counts a loss before the first whole-second sample in the drawdown, from the starting cash', () => {
    const tr = new EquityTracker(ETH, money('10000'));
    tr.tick(T0 as TsMs);
    tr.onMark(300_000 as Ticks);
    tr.onFill(buy(300_000, T0 + 100));
    tr.onMark(270_000 as Ticks); // −10 % on 3,000 held before the first sample: equity 9,700
    for (let t = T0 + 750; t <= T0 + 5_750; t += 1_000) tr.tick(t as TsMs);
    tr.finish((T0 + 5_750) as TsMs);
    const s = tr.summary();

    expect(s.pnl).toBeCloseTo(-300, 9);
    expect(s.maxDrawdown).toBeCloseTo(300 / 10_000, 9);
  });

  it('starts the equity samples at the window\'s start with the starting cash, not holding', () => {
    const tr = new EquityTracker(ETH, money('10000'));
    tr.onMark(300_000 as Ticks);
    tr.onFill(buy(300_000, T0)); // a fill at the very start: the start sample is the account before it
    tr.tick((T0 + 750) as TsMs);

    expect(tr.points.map((p) => [p.t - T0, p.equity, p.drawdown, p.held])).toEqual([[0, 10_000, 0, false], [750, 10_000, 0, true]]);
    // The start sample ends no period: the one after it held the whole time.
    expect(tr.summary().exposure).toBe(1);
  });
});
