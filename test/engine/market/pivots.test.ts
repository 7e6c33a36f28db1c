import { describe, expect, it } from 'vitest';
import { loadKlinesCsv } from '../../../engine/market/klines-csv.ts';
import { trendOf, williamsPivots, type Pivot } from '../../../engine/market/pivots.ts';
import type { Candle } from '../../../engine/messages/market.ts';

/** Bars with the given highs, each low one below its high, one minute apart. */
const bars = (highs: number[]): Candle[] =>
  highs.map((h, i) => ({ openTime: i * 60_000, open: h - 0.5, high: h, low: h - 1, close: h - 0.5, volume: 1, closed: true }));
const at = (ps: readonly Pivot[]) => ps.map((p) => [p.index, p.price]);

describe('williamsPivots', () => {
  // index:   0   1   2   3   4   5   6   7   8   9  10  11  12
  const highs = [10, 12, 11, 15, 13, 14, 12, 18, 16, 17, 15, 16, 14];

  it('finds level-1 swings with strength 1 and promotes them level by level (worked by hand)', () => {
    const [l1, l2, l3, l4, l5] = williamsPivots(bars(highs), { strength: 1 });
    expect(at(l1!.highs)).toEqual([[1, 12], [3, 15], [5, 14], [7, 18], [9, 17], [11, 16]]);
    expect(at(l1!.lows)).toEqual([[2, 10], [4, 12], [6, 11], [8, 15], [10, 14]]);
    // Level 2: a level-1 high above the previous level-1 high and at or above the next.
    expect(at(l2!.highs)).toEqual([[3, 15], [7, 18]]);
    expect(at(l2!.lows)).toEqual([[6, 11]]);
    expect(l2!.highs.every((p) => p.level === 2)).toBe(true);
    expect([l3!.highs.length, l3!.lows.length, l4!.highs.length, l5!.lows.length]).toEqual([0, 0, 0, 0]);
    // Level 1 ends with a lower high (17 → 16) and a lower low (15 → 14); level 2 has one low only.
    expect(l1!.trend).toBe('down');
    expect(l2!.trend).toBe('unknown');
  });

  it('takes the first of equal highs as the pivot', () => {
    const [l1] = williamsPivots(bars([1, 3, 3, 1, 2]), { strength: 1, levels: 1 });
    expect(at(l1!.highs)).toEqual([[1, 3]]);
  });

  it('needs `strength` (default 2) confirming bars on each side', () => {
    const [l1] = williamsPivots(bars([1, 2, 5, 2, 1, 6, 1]));
    expect(at(l1!.highs)).toEqual([[2, 5]]); // the 6 at index 5 has one bar after it: not confirmed yet
    expect(williamsPivots(bars([1, 2]))).toHaveLength(5);
  });

  it('classifies trends from the last two highs and lows', () => {
    const p = (price: number): Pivot => ({ kind: 'high', level: 1, index: 0, time: 0, price });
    expect(trendOf([p(1), p(2)], [p(1), p(2)])).toBe('up');
    expect(trendOf([p(2), p(1)], [p(2), p(1)])).toBe('down');
    expect(trendOf([p(1), p(2)], [p(2), p(1)])).toBe('sideways');
    expect(trendOf([p(1)], [p(2), p(1)])).toBe('unknown');
  });

  it('keeps every level a subset of the level below on real ETH 1m bars', () => {
    const m1 = loadKlinesCsv('data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz').candles.slice(0, 1_500);
    const levels = williamsPivots(m1);
    for (let k = 1; k < levels.length; k++) {
      const below = new Set(levels[k - 1]!.highs.map((p) => p.index));
      expect(levels[k]!.highs.every((p) => below.has(p.index))).toBe(true);
      expect(levels[k]!.highs.length).toBeLessThan(levels[k - 1]!.highs.length);
    }
    for (const p of levels[0]!.highs) expect(m1[p.index]!.high).toBe(p.price);
    expect(levels[0]!.highs.length).toBeGreaterThan(100);
    expect(levels[2]!.highs.length).toBeGreaterThan(0);
  });
});
