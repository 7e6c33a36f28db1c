// The scanning reader (parseKlinesCsv) and the lazy index (indexKlinesCsv) against the former reader, kept verbatim
// in ./klines-reference.ts: same candles (bit for bit, -0 included), same order, same skipped rows with the same
// messages, on every bundled file, on hand-written edge cases and on randomly damaged real rows.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadKlinesCsv, parseKlinesCsv, type KlinesFile } from '../../../engine/market/klines-csv.ts';
import { indexKlinesCsv, loadKlinesIndex } from '../../../engine/market/klines-index.ts';
import { editRows } from './klines-edits.ts';
import { referenceLoadKlinesCsv, referenceParseKlinesCsv } from './klines-reference.ts';

const DIR = 'data/klines';
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.csv.gz')).sort();
const MS = 'open_time_ms,open_time_utc,open,high,low,close,volume';
const DATED = 'Date,Open,High,Low,Close,Volume';

// Bit-for-bit number comparison: toStrictEqual compares numbers with Object.is, so 0 and -0 differ.
function expectSameAsReference(text: string, lazy?: boolean): void {
  const ref = referenceParseKlinesCsv(text, { source: 's.csv' });
  const got = parseKlinesCsv(text, { source: 's.csv' });
  expect(got).toStrictEqual(ref);
  expectStrictSame(text, ref);
  // The index reads rows one at a time and in any order: back to front here, then all of them.
  const index = indexKlinesCsv(text, 's.csv');
  if (lazy !== undefined) expect(index.lazy).toBe(lazy);
  for (let k = index.length - 1; k >= 0; k--) index.row(k);
  expect(index.layout).toBe(ref.layout);
  expect(index.candles()).toStrictEqual(ref.candles);
  expect(index.errors()).toStrictEqual(ref.errors);
  expect(index.errorCount).toBe(ref.errors.length);
}

function expectStrictSame(text: string, ref: KlinesFile): void {
  if (ref.errors.length === 0) {
    expect(parseKlinesCsv(text, { strict: true, source: 's.csv' })).toStrictEqual(ref);
    return;
  }
  const first = ref.errors[0]!;
  expect(() => parseKlinesCsv(text, { strict: true, source: 's.csv' })).toThrow(`s.csv row ${first.row}: ${first.message}`);
}

describe('klines csv reader against the former reader', () => {
  it.each(FILES)('reads %s exactly as before, whole and through the index', (name) => {
    const path = join(DIR, name);
    const ref = referenceLoadKlinesCsv(path);
    expect(ref.candles.length).toBeGreaterThan(900);
    expect(loadKlinesCsv(path)).toStrictEqual(ref);
    const index = loadKlinesIndex(path);
    index.reach(Infinity);
    expect(index.complete).toBe(true);
    expect(index.length).toBe(ref.candles.length);
    // Every row, read in a scattered order, is the reference's candle of the same index (no bad rows in these files).
    for (let k = 0; k < index.length; k += 7) expect(index.row(k)).toStrictEqual(ref.candles[k]);
    expect(index.candles()).toStrictEqual(ref.candles);
    expect(Array.from(index.keys)).toEqual(ref.candles.map((c) => c.openTime));
    expect(index.errors()).toEqual([]);
  });

  const cases: Record<string, string[]> = {
    'plain ms rows': [MS, '60000,1970-01-01T00:01:00Z,1.5,2,1,1.5,0', '120000,1970-01-01T00:02:00Z,1.5,2,1,1.5,10.25'],
    'bad numbers': [MS, '60000,1970-01-01T00:01:00Z,abc,2,1,1.5,0', '120000,1970-01-01T00:02:00Z,1.,2,1,1.5,1', '180000,1970-01-01T00:03:00Z,.5,2,0,1,1', '240000,1970-01-01T00:04:00Z,1,2,1,1, 5', '300000,1970-01-01T00:05:00Z,0x1,2,0,1,1', '360000,1970-01-01T00:06:00Z,+1,2,0,1,1', '420000,1970-01-01T00:07:00Z,,2,0,1,1'],
    'exponents, long mantissas, -0 and leading zeros': [MS, '60000,1970-01-01T00:01:00Z,1e2,1E2,1e+2,100,1e-7', '120000,1970-01-01T00:02:00Z,0.1000000000000000055511151231257827,1.23456789012345678,0.1,0.1,123456789012345678901', '130000,1970-01-01T00:02:10Z,2832168.0132916993,96771529.83707395,1.2,2832168.0132916993,88234.871996055208', '180000,1970-01-01T00:03:00Z,-0,0,-0.0,-0,-0', '240000,1970-01-01T00:04:00Z,007.50,08,7.5,7.5,00'],
    'negative prices and volumes': [MS, '60000,1970-01-01T00:01:00Z,-2,-1,-3,-2,1', '120000,1970-01-01T00:02:00Z,1,2,1,1,-1'],
    'bad and odd dates': [DATED, '2024-01-01,1,2,1,1,1', '2024-02-30,1,2,1,1,1', '2023-02-29,1,2,1,1,1', '2024-02-29,1,2,1,1,1', '2024-03-01 24:00,1,2,1,1,1', '2024-03-02 10:60,1,2,1,1,1', '2024-03-02 12:00,1,2,1,1,1', '2024-03-03T10:00:60,1,2,1,1,1', '2024-03-03T12:00:00,1,2,1,1,1', '2024-03-04Z,1,2,1,1,1', '2024-03-05 10:00+00:00,1,2,1,1,1', '2024-03-06T10:00:00+01:00,1,2,1,1,1', '2024-3-07,1,2,1,1,1', '2024-03-08T,1,2,1,1,1', '2024-03-09 10:00:0,1,2,1,1,1', '2024-03-09 10:0a,1,2,1,1,1', '2024-03-10 23:59:59Z,1,2,1,1,1', '1900-02-29,1,2,1,1,1', '2000-02-29,1,2,1,1,1', '2024-04-31,1,2,1,1,1', '2024-12-31,1,2,1,1,1'],
    'century leap days': [DATED, '1899-12-31,1,2,1,1,1', '1900-02-29,1,2,1,1,1', '1900-03-01,1,2,1,1,1', '2000-02-29,1,2,1,1,1', '2100-02-29,1,2,1,1,1'],
    // Date.UTC reads month 13 as January next year and year 50 as 1950: the former reader accepted both.
    'dates Date.UTC bends': [DATED, '2024-12-31,1,2,1,1,1', '2024-13-05,1,2,1,1,1', '0050-01-01,1,2,1,1,1', '2025-02-01,1,2,1,1,1'],
    'open_time_ms spellings': [MS, '60000.0,1970-01-01T00:01:00Z,1,2,1,1,1', '1.2e5,1970-01-01T00:02:00Z,1,2,1,1,1', '180000.5,1970-01-01T00:03:00Z,1,2,1,1,1', '240000,1970-01-01 00:04:00,1,2,1,1,1', '300000,1970-01-01T00:05,1,2,1,1,1', '360000,1970-01-01T00:06:00+00:00,1,2,1,1,1', '420000,1970-01-01T00:08:00Z,1,2,1,1,1', '-60000,1969-12-31T23:59:00Z,1,2,1,1,1', '9007199254740993,1970-01-01T00:00:00Z,1,2,1,1,1', '480000,1970-01-01,1,2,1,1,1'],
    'far dates': [MS, '-62135596800000,0001-01-01T00:00:00Z,1,2,1,1,1', '-59011459200000,0100-01-01T00:00:00Z,1,2,1,1,1', '253402300799000,9999-12-31T23:59:59Z,1,2,1,1,1', '253402300800000,+010000-01-01T00:00:00Z,1,2,1,1,1'],
    'short, long and empty rows': [DATED, '2024-01-01,1,2,1,1', '2024-01-02,1,2,1,1,1,1', '2024-01-03,1,2,1,1,1,', ',,,,,', '2024-01-04', ',2024-01-05,1,2,1,1'],
    'order: repeated, earlier and equal open times': [DATED, '2024-01-02,1,2,1,1,1', '2024-01-01,1,2,1,1,1', '2024-01-02,1,2,1,1,1', '2024-01-03,1,2,1,1,1', '2024-01-03 00:00:00,1,2,1,1,1', '2024-01-04,1,2,1,1,1'],
    'a bad row between good ones does not move the order check': [DATED, '2024-01-01,1,2,1,1,1', '2024-01-05,1,0,1,1,1', '2024-01-03,1,2,1,1,1'],
    'OHLC checks': [MS, '60000,1970-01-01T00:01:00Z,1,0.5,1,1,1', '120000,1970-01-01T00:02:00Z,1,2,1.5,1,1', '180000,1970-01-01T00:03:00Z,1,1,1,1,0', '240000,1970-01-01T00:04:00Z,2,2,1,1,1'],
    'CRLF, blank and whitespace lines': [`${MS}\r`, '60000,1970-01-01T00:01:00Z,1,2,1,1,1\r', '', '   ', '\t\r', '120000,1970-01-01T00:02:00Z,1,2,1,1,1\r\r', '180000,1970-01-01T00:03:00Z,1,2,1,1,1 ', ' 240000,1970-01-01T00:04:00Z,1,2,1,1,1', '300000,1970-01-01T00:05:00Z,1,2,1,1,1\r', '\r'],
    'header variants': [`  ${DATED}  \r`, '2024-01-01,1,2,1,1,1'],
    'a BOM before the header': [`\uFEFF${DATED}`, '2024-01-01,1,2,1,1,1'],
    'non-ASCII in a field': [DATED, '2024-01-01,1,2,1,1,1', '2024-01-02,1,２,1,1,1', '2024-01-03,1,2,1,1,1 µ', '2024-01-04,1,2,1,1,1'],
    'header only, with and without newline': [MS, ''],
  };
  it.each(Object.entries(cases))('edge case: %s', (_name, lines) => {
    expectSameAsReference(lines.join('\n'));
    expectSameAsReference(lines.join('\n') + '\n');
  });

  // First fields plain and increasing, so the index reads these rows one by one (its own row reader, not a whole-file
  // parse): every other field is odd.
  const lazyCases: Record<string, string[]> = {
    'numbers': [MS, '60000,1970-01-01T00:01:00Z,1e2,1E2,1e+2,100,1e-7', '120000,1970-01-01T00:02:00Z,2832168.0132916993,96771529.83707395,1.2,2832168.0132916993,0.1000000000000000055511151231257827', '180000,1970-01-01T00:03:00Z,-0,0,-0.0,-0,-0', '240000,1970-01-01T00:04:00Z,007.50,08,7.5,7.5,00', '300000,1970-01-01T00:05:00Z,1,2,1,1,1 ', '360000,1970-01-01T00:06:00Z,1,2,1,1, 1', '420000,1970-01-01T00:07:00Z,1,2,1,1,1x', '480000,1970-01-01T00:08:00Z,1,2,1,1,0x1', '540000,1970-01-01T00:09:00Z,.5,2,0,1,1', '600000,1970-01-01T00:10:00Z,1,2,1,1,1.', '660000,1970-01-01T00:11:00Z,1,2,1,1,-1', '720000,1970-01-01T00:12:00Z,1,0.5,1,1,1', '780000,1970-01-01T00:13:00Z,2,3,1,2.5,1,'],
    'open_time_utc spellings': [MS, '60500,1970-01-01T00:01:00Z,1,2,1,1,1', '120000,1970-01-01 00:02:00,1,2,1,1,1', '180000,1970-01-01T00:03,1,2,1,1,1', '240000,1970-01-01T00:04:00+00:00,1,2,1,1,1', '300000,1970-01-01T00:06:00Z,1,2,1,1,1', '360000,1970-01-01T00:06:00z,1,2,1,1,1', '420000,1970-01-01,1,2,1,1,1', '480000,1970-01-01T00:08:00Z', '540000,1970-01-01T00:09:00.000Z,1,2,1,1,1', '550000,1970-01-01T00:09:10ZZ1,2,1,1,1', '560000,1970-01-01T00:09:20Z1,2,1,1,1', '253402300799000,9999-12-31T23:59:59Z,1,2,1,1,1', '253402300800000,+010000-01-01T00:00Z,1,2,1,1,1', '253402300860000,+010000-01-01T00:01:00Z,1,2,1,1,1'],
    // One digit of each part of open_time_utc changed (year, month, day, hours, minutes, seconds), between right rows.
    'open_time_utc one digit off': [MS, ...[3, 6, 8, 9, 11, 12, 14, 15, 17, 18, -1].map((at, i) => {
      const t = Date.UTC(2024, 1, 29, 13, 47, 35) + i * 86_461_000;
      const utc = new Date(t).toISOString().replace('.000Z', 'Z');
      const off = at < 0 ? utc : utc.slice(0, at) + String((Number(utc[at]) + 1) % 10) + utc.slice(at + 1);
      return `${t},${off},1,2,1,1,1`;
    })],
    'blank lines before bad rows': [MS, '60000,1970-01-01T00:01:00Z,1,2,1,1,1', '', '  ', '120000,1970-01-01T00:02:00Z,1,x,1,1,1', '\t', '180000,1970-01-01T00:03:00Z,1,2,1,1', '240000,1970-01-01T00:04:00Z,1,2,1,1,1'],
    'dated rows': [DATED, '2024-01-01,1,2,1,1,1', '2024-01-02 10:00,1,2,1,1,1', '2024-01-03T10:00:59Z,1,2,1,1,1', '2024-01-04,1,x,1,1,1', '2024-01-05,1,2,1,1', '2024-01-06,1,2,1,1,1,1', '2024-01-07,1,2,1,1,1\r', '2024-01-08,1,2,1,1,1 µ'],
  };
  it.each(Object.entries(lazyCases))('edge case read row by row: %s', (_name, lines) => {
    expectSameAsReference(lines.join('\n'), true);
    expectSameAsReference(lines.join('\r\n') + '\r\n', true);
  });

  it('keeps the messages of the former reader, naming the row', () => {
    const text = [DATED, '2024-01-01,1,2,1,1', '2024-01-02,1,x,1,1,1', '2024-02-30,1,2,1,1,1', '2024-01-01,1,2,1,1,1'].join('\n');
    const f = parseKlinesCsv(text);
    expect(f.errors).toEqual([
      { row: 2, message: 'has 5 fields, expected 6' },
      { row: 3, message: "high 'x' is not a number" },
      { row: 4, message: "date '2024-02-30' does not exist" },
    ]);
    expect(f.candles.map((c) => c.openTime)).toEqual([Date.UTC(2024, 0, 1)]);
    expect(() => parseKlinesCsv(text, { strict: true, source: 'f.csv' })).toThrow('f.csv row 2: has 5 fields, expected 6');
    expect(() => parseKlinesCsv('time,o,h,l,c,v\n1,1,1,1,1,1')).toThrow("klines csv: unknown header 'time,o,h,l,c,v'");
    expect(() => indexKlinesCsv('time,o,h,l,c,v\n1,1,1,1,1,1', 'g.csv')).toThrow("g.csv: unknown header 'time,o,h,l,c,v'");
    expect(() => loadKlinesIndex('data/klines/nope.csv.gz')).toThrow(/cannot read klines file data\/klines\/nope\.csv\.gz/);
  });

  it('falls back to reading in order when open times do not strictly increase, with the same result', () => {
    const text = [DATED, '2024-01-02,1,2,1,1,1', '2024-01-01,1,2,1,1,1', '2024-01-03,1,2,1,1,1'].join('\n');
    const index = indexKlinesCsv(text);
    // Rows of the fallback are the file's valid candles: the out-of-order row is an error, not a row.
    expect(Array.from(index.keys)).toEqual([Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 3)]);
    expect(index.errors()).toEqual([{ row: 3, message: 'open time 2024-01-01T00:00:00.000Z is not after the previous row' }]);
  });

  it('matches the former reader on real rows with random damage', () => {
    const real = gunzipSync(readFileSync(join(DIR, FILES.find((f) => f.includes('ETH_USDT-1h'))!))).toString('utf8').split('\n').slice(1, 41);
    const daily = gunzipSync(readFileSync(join(DIR, FILES.find((f) => f.includes('ETHUSDT_1d'))!))).toString('utf8').split('\n').slice(1, 41);
    const chars = fc.constantFrom(...'0123456789.,-+eE:TZ \r\n\tx'.split(''));
    const edit = fc.record({ row: fc.nat(), at: fc.nat(), kind: fc.constantFrom('insert', 'delete', 'replace', 'swap'), ch: chars });
    fc.assert(
      fc.property(fc.boolean(), fc.array(edit, { maxLength: 6 }), (dated, edits) => {
        const rows = editRows(dated ? daily : real, edits);
        expectSameAsReference([dated ? DATED : MS, ...rows].join('\n'));
      }),
      { numRuns: 400, seed: 20240808 },
    );
  });
});
