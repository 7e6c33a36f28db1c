import { describe, expect, it } from 'vitest';
import { gapsToFill, mergeCandles, splitGap } from '../../../actors/data-provider/logic.ts';
import { klinesFileMatches } from '../../../actors/data-provider/klines-archive.ts';
import { CandleSeries } from '../../../engine/market/candles.ts';
import { archive } from './helpers.ts';

const M = 60_000;
const T0 = Date.UTC(2024, 7, 8, 20);
const real = archive.all('ETH/USDT', '1m').filter((c) => c.openTime >= T0 && c.openTime < T0 + 30 * M);
const series = (keep: (i: number) => boolean, capacity = 1500) => {
  const s = new CandleSeries('1m', capacity);
  s.pushAll(real.filter((_, i) => keep(i)));
  return s;
};

describe('data provider logic', () => {
  it.each([
    // Bars 20:00–20:29; at 20:30:05 the 20:29 bar has been closed for the 5 s grace.
    ['no holes, current', () => series((i) => i < 30), T0 + 30 * M + 5_000, []],
    ['a hole of 3', () => series((i) => i < 10 || i >= 13), T0 + 30 * M + 5_000, [{ from: T0 + 10 * M, count: 3 }]],
    ['behind by 4 bars', () => series((i) => i < 26), T0 + 30 * M + 5_000, [{ from: T0 + 26 * M, count: 4 }]],
    ['inside the grace: not yet due', () => series((i) => i < 29), T0 + 30 * M + 4_999, []],
    ['empty: the whole window', () => series(() => false, 10), T0 + 30 * M + 5_000, [{ from: T0 + 20 * M, count: 10 }]],
    // 26 slots end at 20:29, so they start at 20:04: of the 20:02–20:04 hole only 20:04 is wanted.
    ['a hole partly before the window is clipped to it', () => series((i) => i < 2 || i >= 5, 26), T0 + 30 * M + 5_000, [{ from: T0 + 4 * M, count: 1 }]],
  ])('gapsToFill: %s', (_name, make, now, want) => {
    expect(gapsToFill(make(), now, 5_000)).toEqual(want);
  });

  it('splitGap cuts a long gap into requests of at most maxBars', () => {
    expect(splitGap({ from: T0, count: 2500 }, '1m', 1000)).toEqual([
      { from: T0, count: 1000 }, { from: T0 + 1000 * M, count: 1000 }, { from: T0 + 2000 * M, count: 500 },
    ]);
  });

  it('mergeCandles inserts into the middle, replaces equal open times and keeps the newest capacity', () => {
    const s = series((i) => i < 10 || i >= 13, 25);
    const added = mergeCandles(s, [real[11]!, real[10]!, { ...real[20]!, close: 1 }, real[12]!]);
    expect(added).toBe(3);
    expect(s.length).toBe(25);
    expect(s.holes()).toEqual([]);
    expect(s.get(0)!.openTime).toBe(T0 + 5 * M);
    expect(s.tail(30).find((c) => c.openTime === real[20]!.openTime)!.close).toBe(1);
  });

  it.each([
    ['mintanam-ftrade_ETH_USDT-1m.csv.gz', 'ETH/USDT', '1m', true],
    ['moudux1-ft_userdata_BTC_USDT-1h.csv.gz', 'BTC/USDT', '1h', true],
    ['rocketalerts_ETHUSDT_1d.csv.gz', 'ETH/USDT', '1d', true],
    ['rocketalerts_ETHUSDT_1d.csv.gz', 'BTC/USDT', '1d', false],
    ['mintanam-ftrade_ETH_USDT-1m.csv.gz', 'ETH/USDT', '1h', false],
  ] as const)('klinesFileMatches(%s, %s, %s) is %s', (file, symbol, tf, want) => {
    expect(klinesFileMatches(file, symbol, tf)).toBe(want);
  });
});
