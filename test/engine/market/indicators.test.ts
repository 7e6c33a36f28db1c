import { describe, expect, it } from 'vitest';
import {
  atr, bollinger, ema, logReturns, macd, returns, rollingVolatility, rsi, sma, trueRange, vwap,
} from '../../../engine/market/indicators.ts';

const round2 = (a: Float64Array) => Array.from(a, (v) => (Number.isNaN(v) ? null : Math.round(v * 100) / 100));
const close = (got: ArrayLike<number>, want: (number | null)[], digits = 10) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => (w === null ? expect(got[i]).toBeNaN() : expect(got[i]).toBeCloseTo(w, digits)));
};

describe('reference tables', () => {
  // StockCharts ChartSchool, "Relative Strength Index (RSI)", worked example spreadsheet (cs-rsi.xls):
  // https://school.stockcharts.com/doku.php?id=technical_indicators:relative_strength_index_rsi
  // The 4-decimal closes of that sheet and its RSI(14) column (TA-Lib gives the same to 4 decimals, 70.5328 first).
  const closes = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931, 46.0328, 45.614,
    46.282, 46.282, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548,
    44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314,
  ];
  const stockchartsRsi = [70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99,
    41.46, 41.87, 45.46, 37.3, 33.08, 37.77];

  it("matches StockCharts' Wilder RSI(14) table on all 19 values", () => {
    expect(round2(rsi(closes, 14))).toEqual([...Array(14).fill(null), ...stockchartsRsi]);
  });

  // StockCharts ChartSchool, "Average True Range (ATR)", worked example spreadsheet (cs-atr.xls):
  // https://school.stockcharts.com/doku.php?id=technical_indicators:average_true_range_atr
  // Values as transcribed (3-decimal lows/closes of the sheet) in gbeced/pyalgotrade testcases/technical_atr_test.py.
  const high = [48.70, 48.72, 48.90, 48.87, 48.82, 49.05, 49.20, 49.35, 49.92, 50.19, 50.12, 49.66, 49.88, 50.19, 50.36,
    50.57, 50.65, 50.43, 49.63, 50.33, 50.29, 50.17, 49.32, 48.50, 48.32, 46.80, 47.80, 48.39, 48.66, 48.79];
  const low = [47.790, 48.140, 48.390, 48.370, 48.240, 48.635, 48.940, 48.860, 49.500, 49.870, 49.200, 48.900, 49.430,
    49.725, 49.260, 50.090, 50.300, 49.210, 48.980, 49.610, 49.200, 49.430, 48.080, 47.640, 41.550, 44.283, 47.310,
    47.200, 47.900, 47.730];
  const cls = [48.160, 48.610, 48.750, 48.630, 48.740, 49.030, 49.070, 49.320, 49.910, 50.130, 49.530, 49.500, 49.750,
    50.030, 50.310, 50.520, 50.410, 49.340, 49.370, 50.230, 49.238, 49.930, 48.430, 48.180, 46.570, 45.410, 47.770,
    47.720, 48.620, 47.850];
  const stockchartsAtr = [0.56, 0.59, 0.59, 0.57, 0.62, 0.62, 0.64, 0.67, 0.69, 0.78, 0.78, 1.21, 1.30, 1.38, 1.37,
    1.34, 1.32];

  it("matches StockCharts' Wilder ATR(14) table on all 17 values", () => {
    expect(round2(atr(high, low, cls, 14))).toEqual([...Array(13).fill(null), ...stockchartsAtr]);
    // Sheet row 1 has no previous close: TR = H − L = 0.91; row 2 reaches the previous close only through H − L.
    expect(round2(trueRange(high, low, cls)).slice(0, 3)).toEqual([0.91, 0.58, 0.51]);
  });
});

describe('hand-computed values', () => {
  it('returns and log returns', () => {
    close(returns([100, 110, 99]), [null, 0.1, -0.1]);
    close(logReturns([100, 110, 99]), [null, Math.log(1.1), Math.log(0.9)]);
  });

  it('rolling volatility is the sample standard deviation of log returns', () => {
    const v = rollingVolatility([100, 110, 99, 108.9], 2);
    const sd2 = Math.abs(Math.log(1.1) - Math.log(0.9)) / Math.SQRT2;
    close(v, [null, null, sd2, sd2]);
  });

  it('SMA and SMA-seeded EMA', () => {
    close(sma([1, 2, 3, 4], 2), [null, 1.5, 2.5, 3.5]);
    // EMA(3): seed mean(1,2,3) = 2, α = 0.5: 2 → (4+2)/2 = 3 → (8+3)/2 = 5.5
    close(ema([1, 2, 3, 4, 8], 3), [null, null, 2, 3, 5.5]);
  });

  it('MACD(2, 3, 2) on 1, 2, 3, 5, 8, 13 worked by hand in fractions', () => {
    // EMA2: 3/2, 5/2, 25/6, 121/18, 589/54. EMA3: 2, 7/2, 23/4, 75/8.
    const line = [null, null, 1 / 2, 25 / 6 - 7 / 2, 121 / 18 - 23 / 4, 589 / 54 - 75 / 8];
    const s3 = (1 / 2 + 2 / 3) / 2;
    const s4 = (2 / 3) * line[4]! + s3 / 3;
    const s5 = (2 / 3) * line[5]! + s4 / 3;
    const m = macd([1, 2, 3, 5, 8, 13], 2, 3, 2);
    close(m.macd, line);
    close(m.signal, [null, null, null, s3, s4, s5]);
    close(m.histogram, [null, null, null, line[3]! - s3, line[4]! - s4, line[5]! - s5]);
    expect(() => macd([1], 26, 12)).toThrow(RangeError);
  });

  it('Bollinger(8, 2) uses the population standard deviation', () => {
    // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population sd 2
    const b = bollinger([2, 4, 4, 4, 5, 5, 7, 9], 8, 2);
    expect([b.middle[7], b.upper[7], b.lower[7]]).toEqual([5, 9, 1]);
    expect(b.upper[6]).toBeNaN();
  });

  it('VWAP of the typical price, cumulative and windowed', () => {
    // typical prices 2 then 4, volumes 1 then 3: (2·1 + 4·3) / 4 = 3.5
    close(vwap([3, 6], [1, 3], [2, 3], [1, 3]), [2, 3.5]);
    close(vwap([3, 6], [1, 3], [2, 3], [1, 3], 1), [2, 4]);
    close(vwap([3], [1], [2], [0]), [null]);
  });

  it('RSI edge cases: all gains 100, flat 50, too short all NaN', () => {
    expect(rsi([1, 2, 3, 4], 3)[3]).toBe(100);
    expect(rsi([5, 5, 5, 5], 3)[3]).toBe(50);
    expect(Array.from(rsi([1, 2], 3))).toEqual([NaN, NaN]);
  });
});
