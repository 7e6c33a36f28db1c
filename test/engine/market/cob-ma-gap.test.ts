// The imbalance moving averages must not carry a value across a time the COB was not observing a two-sided book:
// a sample holds until the next one, so without a break the pre-outage imbalance would fill the whole outage and
// every window (1 s included) would report it right after the book came back.
import { describe, expect, it } from 'vitest';
import { ConsolidatedBook } from '../../../engine/market/cob.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { parseDecimal } from '../../../engine/types/decimal.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const tickSize = parseDecimal('0.01');
const lotSize = parseDecimal('0.0001');

function setup() {
  const book = new OrderBook('X');
  const cob = new ConsolidatedBook({ symbol: 'X', bucketSize: '1', range: 20, heatmap: false, staleMs: 5_000 });
  cob.addVenue({ venue: 'binance', book, tickSize, lotSize });
  // One bid and one ask a tick apart: imbalance (bid − ask) / (bid + ask).
  const set = (bid: number, ask: number) => {
    book.clear();
    if (bid > 0) book.setBid(268_400 as Ticks, bid as Lots);
    if (ask > 0) book.setAsk(268_401 as Ticks, ask as Lots);
  };
  const at = (t: number) => {
    cob.touch('binance', t);
    return cob.update(t);
  };
  return { book, cob, set, at };
}

const round = (xs: readonly number[]) => xs.map((x) => +x.toFixed(9));

describe('ConsolidatedBook imbalance averages across outages', () => {
  it('starts over after a stretch with no snapshot longer than staleMs (the book was not observed)', () => {
    const { set, at } = setup();
    set(900, 100); // +0.8
    for (let t = 0; t <= 60_000; t += 100) at(t);
    set(100, 900); // −0.8, 50 s later
    const s = at(110_000);
    expect(s.imbalanceNear).toBeCloseTo(-0.8, 12);
    expect(round(s.imbalanceMa)).toEqual([-0.8, -0.8, -0.8, -0.8]);
    expect(round(at(110_500).imbalanceMa)).toEqual([-0.8, -0.8, -0.8, -0.8]);
  });

  it('keeps the history over a pause shorter than staleMs with the book live throughout', () => {
    const { set, at } = setup();
    set(900, 100);
    for (let t = 0; t <= 10_000; t += 100) at(t);
    set(100, 900);
    const s = at(12_000); // 2 s without a snapshot, nothing said the book was down
    // The 5 s window holds +0.8 over 7_000..12_000 and the new value has not held yet.
    expect(round(s.imbalanceMa)).toEqual([0.8, 0.8, 0.8, 0.8]);
  });

  it('starts over when the last live venue leaves live, however short the outage', () => {
    const { cob, set, at } = setup();
    set(900, 100);
    for (let t = 0; t <= 10_000; t += 100) at(t);
    cob.setLive('binance', false); // resyncing: the aggregator publishes nothing meanwhile
    set(100, 900);
    cob.setLive('binance', true);
    const s = at(11_000);
    expect(round(s.imbalanceMa)).toEqual([-0.8, -0.8, -0.8, -0.8]);
  });

  it('starts over after a snapshot with no live venue', () => {
    const { cob, set, at } = setup();
    set(900, 100);
    for (let t = 0; t <= 10_000; t += 100) at(t);
    cob.setLive('binance', false);
    expect(at(10_100).flags.noLiveVenue).toBe(true);
    cob.setLive('binance', true);
    set(100, 900);
    expect(round(at(10_200).imbalanceMa)).toEqual([-0.8, -0.8, -0.8, -0.8]);
  });

  it('starts over after a one-sided snapshot (the imbalance of a one-sided book means nothing)', () => {
    const { set, at } = setup();
    set(900, 100);
    for (let t = 0; t <= 10_000; t += 100) at(t);
    set(900, 0);
    const one = at(10_100);
    expect(one.flags.emptyAsk).toBe(true);
    expect(one.imbalanceMa).toEqual([NaN, NaN, NaN, NaN]);
    set(100, 900);
    expect(round(at(10_200).imbalanceMa)).toEqual([-0.8, -0.8, -0.8, -0.8]);
  });

  it('keeps the history when one of two venues drops out (the merged book stays observed)', () => {
    const { book, cob, set, at } = setup();
    const other = new OrderBook('X');
    cob.addVenue({ venue: 'mexc', book: other, tickSize, lotSize });
    other.setBid(268_300 as Ticks, 1 as Lots);
    other.setAsk(268_501 as Ticks, 1 as Lots);
    set(900, 100);
    for (let t = 0; t <= 10_000; t += 100) {
      cob.touch('mexc', t);
      at(t);
    }
    cob.setLive('mexc', false);
    expect(book.size('bid')).toBe(1);
    const s = at(10_100);
    expect(s.imbalanceMa.every((x) => x > 0.7)).toBe(true);
  });
});
