// A publish period longer than staleMs (publishHz < 0.2 is valid config) is not an outage: the imbalance averages must
// not start over at every update, which made all four equal the current sample.
import { describe, expect, it } from 'vitest';
import { ConsolidatedBook } from '../../../engine/market/cob.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { parseDecimal } from '../../../engine/types/decimal.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const tickSize = parseDecimal('0.01');
const lotSize = parseDecimal('0.0001');

function setup(publishPeriodMs: number) {
  const book = new OrderBook('X');
  const cob = new ConsolidatedBook({ symbol: 'X', bucketSize: '1', range: 20, heatmap: false, staleMs: 5_000, publishPeriodMs });
  cob.addVenue({ venue: 'binance', book, tickSize, lotSize });
  const set = (bid: number, ask: number) => {
    book.clear();
    book.setBid(268_400 as Ticks, bid as Lots);
    book.setAsk(268_401 as Ticks, ask as Lots);
  };
  const at = (t: number) => {
    cob.touch('binance', t);
    return cob.update(t);
  };
  return { set, at };
}

const round = (xs: readonly number[]) => xs.map((x) => +x.toFixed(9));

describe('ConsolidatedBook imbalance averages at a slow publish rate', () => {
  it('keeps the history from one update to the next at 0.1 Hz (period 10 s > staleMs 5 s)', () => {
    const { set, at } = setup(10_000);
    set(900, 100); // +0.8
    for (let t = 0; t <= 60_000; t += 10_000) at(t);
    set(100, 900); // −0.8
    at(70_000);
    const s = at(80_000); // −0.8 held over the last 10 s of the 60 s window
    expect(s.imbalanceNear).toBeCloseTo(-0.8, 12);
    // 1 s and 5 s windows: only −0.8; 15 s: 10 s of −0.8, 5 s of +0.8; 60 s: 10 s of −0.8, 50 s of +0.8.
    expect(round(s.imbalanceMa)).toEqual(round([-0.8, -0.8, (-8 + 4) / 15, (-8 + 40) / 60]));
  });

  it('still starts over after more than two publish periods without an update', () => {
    const { set, at } = setup(10_000);
    set(900, 100);
    for (let t = 0; t <= 60_000; t += 10_000) at(t);
    set(100, 900);
    expect(round(at(85_000).imbalanceMa)).toEqual([-0.8, -0.8, -0.8, -0.8]);
  });
});
