// A kline file read as far as queries reach: the gzip stream inflated in pieces of whole lines (the pieces joined are
// the whole-file text), and a KlinesIndex extended piece by piece that answers every query with the bars the former
// whole-file reader (./klines-reference.ts) gives, errors included, whatever the pieces and the order of the queries.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openKlinesText, readKlinesText } from '../../../engine/market/klines-csv.ts';
import { loadKlinesIndex, openKlinesIndex, textOf, type KlinesIndex } from '../../../engine/market/klines-index.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { ParseError } from '../../../engine/types/errors.ts';
import { editRows } from './klines-edits.ts';
import { referenceLoadKlinesCsv, referenceParseKlinesCsv } from './klines-reference.ts';

const DIR = 'data/klines';
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.csv.gz')).sort();
const MS = 'open_time_ms,open_time_utc,open,high,low,close,volume';
const DATED = 'Date,Open,High,Low,Close,Volume';

function piecesOf(path: string, pieceBytes?: number): string[] {
  const text = openKlinesText(path, pieceBytes);
  const out: string[] = [];
  for (let p = text.next(); p !== undefined; p = text.next()) out.push(p);
  expect(text.next()).toBeUndefined();
  return out;
}

// The archive's reading of a query: every valid row opening in [lo, hi], after reading no further than hi needs.
function rowsIn(index: KlinesIndex, lo: number, hi: number): Candle[] {
  index.reach(hi + 1);
  const out: Candle[] = [];
  const keys = index.keys;
  for (let k = 0; k < keys.length && keys[k]! <= hi; k++) {
    if (keys[k]! < lo) continue;
    const c = index.row(k);
    if (c !== undefined) out.push(c);
  }
  return out;
}

const between = (all: readonly Candle[], lo: number, hi: number): Candle[] => all.filter((c) => c.openTime >= lo && c.openTime <= hi);

describe('kline text read in pieces', () => {
  it.each(FILES)('joins the pieces of %s into the whole-file text, each piece whole lines', (name) => {
    const path = join(DIR, name);
    const whole = readKlinesText(path);
    for (const size of [undefined, 4096]) {
      const pieces = piecesOf(path, size);
      expect(pieces.join('')).toBe(whole);
      for (const p of pieces) expect(p.endsWith('\n')).toBe(true);
      if (whole.length > 70_000) expect(pieces.length).toBeGreaterThan(1);
    }
  });

  it('grows a step that holds no line end, and hands out a last line without one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cobalt-klines-'));
    const long = `${MS}\n60000,1970-01-01T00:01:00Z,1,2,1,1,${'1'.repeat(300)}\n120000,1970-01-01T00:02:00Z,1,2,1,1,1`;
    const file = join(dir, 'long_ETH_USDT-1m.csv.gz');
    writeFileSync(file, gzipSync(long));
    expect(piecesOf(file, 16)).toEqual([`${MS}\n`, long.slice(MS.length + 1, long.lastIndexOf('\n') + 1), long.slice(long.lastIndexOf('\n') + 1)]);
    // Two gzip members read as one text, as gunzipSync reads them.
    const two = join(dir, 'two_ETH_USDT-1m.csv.gz');
    writeFileSync(two, Buffer.concat([gzipSync(`${MS}\n60000,1970-01-01T00:01:00Z,1,2,1,1,1\n`), gzipSync('120000,1970-01-01T00:02:00Z,1,2,1,1,1\n')]));
    expect(piecesOf(two, 16).join('')).toBe(gunzipSync(readFileSync(two)).toString('latin1'));
    const plain = join(dir, 'plain_ETH_USDT-1m.csv');
    writeFileSync(plain, long);
    expect(piecesOf(plain)).toEqual([long]);
  });

  // 2 s alone, 28 s on CI beside the other worker: four whole reads of a 1m file; the limit leaves room for a busier one.
  it('inflates no further than asked, and fails with the whole-file reader\'s error only where the damage is reached', { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'cobalt-klines-'));
    const source = join(DIR, FILES.find((f) => f.includes('ETH_USDT-1m'))!);
    const raw = readFileSync(source);
    // The undamaged file read whole, once for both damaged copies.
    const sourceText = readKlinesText(source);
    const ref = referenceLoadKlinesCsv(source).candles;
    const damaged = Buffer.from(raw);
    for (let i = raw.length - 5000; i < raw.length - 4000; i++) damaged[i]! ^= 0x5a;
    for (const [name, bytes] of [['damaged_ETH_USDT-1m.csv.gz', damaged], ['cut_ETH_USDT-1m.csv.gz', raw.subarray(0, raw.length - 3000)]] as const) {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      let whole = '';
      try {
        readKlinesText(file);
      } catch (err) {
        whole = (err as Error).message;
      }
      expect(whole).toMatch(/^cannot read klines file .*: \w/);
      const text = openKlinesText(file);
      // Review s22: a cut file's last bytes are no trailer; read as one they said ~3 GB and the index allocated 1.3 GB.
      expect(text.sizeHint).toBeLessThanOrEqual(bytes.length * 16);
      const first = [text.next()!, text.next()!];
      expect(first.join('')).toBe(sourceText.slice(0, first.join('').length));
      expect(() => {
        while (text.next() !== undefined);
      }).toThrow(ParseError);
      // The same error every time after.
      expect(() => text.next()).toThrow(whole);
      // The index serves the rows before the damage and throws when a query reaches it.
      const index = loadKlinesIndex(file);
      expect(rowsIn(index, ref[100]!.openTime, ref[2000]!.openTime)).toStrictEqual(ref.slice(100, 2001));
      expect(() => index.reach(Infinity)).toThrow(whole);
      expect(() => index.candles()).toThrow(whole);
      expect(rowsIn(index, ref[10]!.openTime, ref[20]!.openTime)).toStrictEqual(ref.slice(10, 21));
    }
  });
});

describe('KlinesIndex read as far as queries reach', () => {
  it.each(FILES)('extends its prefix of %s to the same rows as the whole file', (name) => {
    const path = join(DIR, name);
    const ref = referenceLoadKlinesCsv(path).candles;
    const index = loadKlinesIndex(path);
    const at = (x: number): number => ref[Math.floor(x * (ref.length - 1))]!.openTime;
    // Back to front, then a later range, then everything.
    for (const [lo, hi] of [[at(0.3), at(0.35)], [at(0.01), at(0.02)], [at(0.36), at(0.45)], [at(0.9), at(0.95)]] as const) {
      expect(rowsIn(index, lo, hi)).toStrictEqual(between(ref, lo, hi));
      expect(Array.from(index.keys)).toEqual(ref.slice(0, index.length).map((c) => c.openTime));
      // The files of more than one piece (64 KiB of text) are read little past the query.
      if (ref.length > 5000 && hi < at(0.5)) expect([index.complete, index.length < ref.length * 0.6]).toEqual([false, true]);
    }
    expect(index.candles()).toStrictEqual(ref);
    expect(index.complete).toBe(true);
    expect(index.errors()).toEqual([]);
  });

  it('stops a 1m file less than half-way for the history a backtest loads at the recording start', () => {
    const path = join(DIR, FILES.find((f) => f.includes('BTC_USDT-1m'))!);
    const index = loadKlinesIndex(path);
    index.reach(Date.UTC(2024, 7, 8, 23, 53) + 1);
    expect(index.complete).toBe(false);
    expect(index.length).toBeLessThan(43_209 / 2);
    expect(index.keys.at(-1)).toBeGreaterThan(Date.UTC(2024, 7, 8, 23, 53));
  });

  const real = gunzipSync(readFileSync(join(DIR, FILES.find((f) => f.includes('ETH_USDT-1h'))!))).toString('utf8').split('\n').slice(1, 61);
  const daily = gunzipSync(readFileSync(join(DIR, FILES.find((f) => f.includes('ETHUSDT_1d'))!))).toString('utf8').split('\n').slice(1, 61);

  it('gives the former reader\'s bars and errors for damaged rows, whatever the pieces and the order of the queries', () => {
    const chars = fc.constantFrom(...'0123456789.,-+eE:TZ \r\t x'.split(''));
    const edit = fc.record({ row: fc.nat(), at: fc.nat(), kind: fc.constantFrom('insert', 'delete', 'replace', 'swap', 'blank'), ch: chars });
    const query = fc.tuple(fc.double({ min: -0.1, max: 1.1, noNaN: true }), fc.double({ min: 0, max: 0.5, noNaN: true }));
    fc.assert(
      fc.property(fc.boolean(), fc.array(edit, { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), fc.array(query, { minLength: 1, maxLength: 5 }), (dated, edits, cuts, queries) => {
        const rows = editRows(dated ? daily : real, edits);
        const lines = [dated ? DATED : MS, ...rows];
        const text = lines.join('\n') + '\n';
        const ref = referenceParseKlinesCsv(text, { source: 's.csv' });
        // Pieces cut after random lines (the header always ends the first: it is a line of its own or more).
        const ends = [...new Set(cuts.map((c) => 1 + (c % lines.length)))].sort((a, b) => a - b);
        const pieces: string[] = [];
        let from = 0;
        for (const e of [...ends, lines.length]) {
          if (e <= from) continue;
          pieces.push(lines.slice(from, e).map((l) => `${l}\n`).join(''));
          from = e;
        }
        expect(pieces.join('')).toBe(text);
        const index = openKlinesIndex(textOf(pieces), 's.csv');
        const t0 = ref.candles[0]?.openTime ?? 0;
        const span = (ref.candles.at(-1)?.openTime ?? t0) - t0 + 1;
        for (const [x, w] of queries) {
          const lo = Math.round(t0 + x * span);
          const hi = Math.round(lo + w * span);
          expect(rowsIn(index, lo, hi)).toStrictEqual(between(ref.candles, lo, hi));
        }
        // Errors found along the way are some of the file's, then all of them once it has been read through.
        expect(ref.errors).toEqual(expect.arrayContaining(index.errors()));
        expect(index.candles()).toStrictEqual(ref.candles);
        expect(index.errors()).toStrictEqual(ref.errors);
      }),
      { numRuns: 300, seed: 20240809 },
    );
  });

  it('reads on past a malformed row at the bound: a later row opening before it may be valid', () => {
    // Row 3 opens after the query's end but is malformed, so row 4, opening inside the query, is valid in order.
    const lines = [MS, '60000,1970-01-01T00:01:00Z,1,2,1,1,1\n', '300000,1970-01-01T00:05:00Z,1,x,1,1,1\n', '180000,1970-01-01T00:03:00Z,1,2,1,1,3\n', '240000,1970-01-01T00:04:00Z,1,2,1,1,4\n'];
    const pieces = [`${lines[0]}\n${lines[1]}`, lines[2]!, lines[3]!, lines[4]!];
    const ref = referenceParseKlinesCsv(pieces.join(''));
    expect(ref.candles.map((c) => c.volume)).toEqual([1, 3, 4]);
    const index = openKlinesIndex(textOf(pieces));
    expect(rowsIn(index, 0, 200_000)).toStrictEqual(ref.candles.slice(0, 2));
    expect(index.lazy).toBe(false);
    expect(index.errors()).toStrictEqual(ref.errors);
    // With row 3 valid, the file is only read up to it, and row 4 (out of order) stays unread.
    const good = [pieces[0]!, '300000,1970-01-01T00:05:00Z,1,2,1,1,5\n', lines[3]!, lines[4]!];
    const lazy = openKlinesIndex(textOf(good));
    expect(rowsIn(lazy, 0, 200_000)).toStrictEqual(referenceParseKlinesCsv(good.join('')).candles.slice(0, 1));
    expect([lazy.lazy, lazy.complete, lazy.length]).toEqual([true, false, 2]);
    expect(lazy.candles()).toStrictEqual(referenceParseKlinesCsv(good.join('')).candles);
    expect(lazy.errors()).toStrictEqual(referenceParseKlinesCsv(good.join('')).errors);
  });
});
