import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { formatCsvNumber, formatKlinesCsv, loadKlinesCsv, parseKlinesCsv } from '../../../engine/market/klines-csv.ts';
import { ParseError } from '../../../engine/types/errors.ts';

describe('klines csv', () => {
  it('loads the mintanam 1m layout with the first and last rows as in the file', () => {
    const f = loadKlinesCsv('data/klines/mintanam-ftrade_BTC_USDT-1m.csv.gz');
    expect(f.layout).toBe('open_time_ms');
    expect(f.errors).toEqual([]);
    expect(f.candles.length).toBe(43_209);
    expect(f.candles[0]).toEqual({ openTime: 1722003300000, open: 67745.75, high: 67784, low: 67726, close: 67768, volume: 26.98425, closed: true });
    expect(f.candles.at(-1)).toMatchObject({ openTime: 1724595780000, close: 64140.99, volume: 7.87661 });
  });

  it('loads the RocketAlerts daily layout (naive UTC dates)', () => {
    const f = loadKlinesCsv('data/klines/rocketalerts_ETHUSDT_1d.csv.gz', { strict: true });
    expect(f.layout).toBe('dated');
    expect(f.candles.length).toBe(1_000);
    expect(f.candles[0]).toEqual({ openTime: Date.UTC(2022, 10, 11), open: 1299.28, high: 1310, low: 1201.26, close: 1289.28, volume: 1308087.1498, closed: true });
  });

  it('counts and skips malformed rows, naming each row number and what was wrong', () => {
    const text = [
      'Date,Open,High,Low,Close,Volume',
      '2024-01-01,10,12,9,11,5',
      '2024-01-02,10,12,9,11', // short
      '2024-01-03,10,abc,9,11,5',
      '2024-02-30,10,12,9,11,5', // no such day
      '2024-01-04,10,8,9,11,5', // high below low
      '2024-01-01 00:00:00,10,12,9,11,5', // not after previous
      '2024-01-05 12:00,10,12,9,11,5',
    ].join('\n');
    const f = parseKlinesCsv(text);
    expect(f.candles.map((c) => c.openTime)).toEqual([Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 5, 12)]);
    expect(f.errors.map((e) => e.row)).toEqual([3, 4, 5, 6, 7]);
    expect(f.errors[0]!.message).toBe('has 5 fields, expected 6');
    expect(f.errors[1]!.message).toBe("high 'abc' is not a number");
    expect(f.errors[2]!.message).toBe("date '2024-02-30' does not exist");
    expect(f.errors[3]!.message).toMatch(/OHLC inconsistent/);
    expect(() => parseKlinesCsv(text, { strict: true, source: 'x.csv' })).toThrow(new ParseError('x.csv row 3: has 5 fields, expected 6'));
  });

  it('rejects a disagreeing open_time_utc and an unknown header', () => {
    const f = parseKlinesCsv('open_time_ms,open_time_utc,open,high,low,close,volume\n60000,1970-01-01T00:02:00Z,1,1,1,1,1\n');
    expect(f.errors).toEqual([{ row: 2, message: "open_time_utc '1970-01-01T00:02:00Z' disagrees with open_time_ms 60000" }]);
    expect(() => parseKlinesCsv('time,o,h,l,c,v\n')).toThrow(ParseError);
    expect(() => loadKlinesCsv('data/klines/nope.csv.gz')).toThrow(/cannot read klines file/);
  });

  it('writes the mintanam layout back byte for byte', () => {
    const path = 'data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz';
    const original = gunzipSync(readFileSync(path)).toString('utf8');
    expect(formatKlinesCsv(loadKlinesCsv(path).candles)).toBe(original);
  });

  it('prints numbers as the files do', () => {
    expect([67784, 26.98425, 0, 1e-7].map(formatCsvNumber)).toEqual(['67784.0', '26.98425', '0.0', '0.0000001']);
  });
});
