// Loads the bundled kline CSVs (data/klines) into Candle arrays, or into a KlinesIndex that parses a row only when it
// is asked for, and writes candles back in the same layout. A backtest's history asks for ~7k of the files' ~100k
// rows: rows are scanned by character codes, not split and matched, and most are never parsed at all.
import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Candle } from '../messages/market.ts';
import { ParseError } from '../types/errors.ts';

/** Header of the freqtrade-derived files (mintanam, moudux1); also what `formatKlinesCsv` writes. */
export const KLINES_HEADER = 'open_time_ms,open_time_utc,open,high,low,close,volume';
/** Header of the RocketAlerts files: naive-UTC date (or date-time), then OHLCV. */
export const DATED_HEADER = 'Date,Open,High,Low,Close,Volume';

/** One malformed row: its 1-based line number in the file (the header is line 1) and what was wrong. */
export interface KlineRowError {
  readonly row: number;
  readonly message: string;
}

/** The candles of a file, in file order, plus every skipped row. */
export interface KlinesFile {
  readonly candles: Candle[];
  readonly errors: KlineRowError[];
  readonly layout: 'open_time_ms' | 'dated';
}

/** Options of the CSV reader. */
export interface KlinesReadOptions {
  /** Throw a ParseError on the first malformed row instead of counting and skipping it. */
  readonly strict?: boolean;
  /** Name used in error messages (the file path when loading). */
  readonly source?: string;
}

const NUM_RE = /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?(Z|\+00:00)?$/;

function num(field: string | undefined, name: string): number {
  if (field === undefined || !NUM_RE.test(field)) throw new Error(`${name} '${field ?? ''}' is not a number`);
  return Number(field);
}

function parseDate(s: string): number {
  const m = DATE_RE.exec(s);
  if (!m) throw new Error(`date '${s}' is not YYYY-MM-DD[ HH:MM[:SS]] in UTC`);
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  if (Number.isNaN(t) || new Date(t).getUTCDate() !== +m[3]!) throw new Error(`date '${s}' does not exist`);
  return t;
}

// The rule book of a row: split, regexps, Date. Every row the scanner below does not accept comes here, so the
// errors (and the odd rows Date.UTC still accepts, like month 13) are exactly this code's.
function parseRow(line: string, layout: KlinesFile['layout'], prevOpen: number): Candle {
  const f = line.split(',');
  const want = layout === 'open_time_ms' ? 7 : 6;
  if (f.length !== want) throw new Error(`has ${f.length} fields, expected ${want}`);
  let openTime: number;
  let k: number;
  if (layout === 'open_time_ms') {
    openTime = num(f[0], 'open_time_ms');
    if (!Number.isSafeInteger(openTime)) throw new Error(`open_time_ms '${f[0]}' is not a whole number`);
    if (parseDate(f[1]!) !== openTime) throw new Error(`open_time_utc '${f[1]}' disagrees with open_time_ms ${f[0]}`);
    k = 2;
  } else {
    openTime = parseDate(f[0]!);
    k = 1;
  }
  const open = num(f[k], 'open');
  const high = num(f[k + 1], 'high');
  const low = num(f[k + 2], 'low');
  const close = num(f[k + 3], 'close');
  const volume = num(f[k + 4], 'volume');
  if (!(low <= Math.min(open, close) && high >= Math.max(open, close))) {
    throw new Error(`OHLC inconsistent (open ${open}, high ${high}, low ${low}, close ${close})`);
  }
  if (volume < 0) throw new Error(`volume ${volume} is negative`);
  if (openTime <= prevOpen) throw new Error(`open time ${new Date(openTime).toISOString()} is not after the previous row`);
  return { openTime, open, high, low, close, volume, closed: true };
}

// ---- the scanner: one charCode walk over the text, no per-row strings. It only ever ACCEPTS a row, and only a row
// whose values are provably what parseRow returns; anything else (every error included) is handed to parseRow.

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
const COMMA = 44;
const DIGIT0 = 48;
const MS_DAY = 86_400_000;

// Where the last scanNum/scanDate stopped: the comma ending its field, or the end of the row.
let at = 0;

// Reads the field starting at `a` up to the next comma or `b`; returns its value when it is -?\d+(\.\d+)? (NUM_RE
// without an exponent), else NaN. With at most 15 digits the mantissa is an exact integer and one division by an
// exact power of ten rounds correctly, so the result is Number(field) bit for bit; longer ones go through Number.
function scanNum(text: string, a: number, b: number): number {
  let i = a;
  const neg = i < b && text.charCodeAt(i) === 45;
  if (neg) i++;
  const intFrom = i;
  let m = 0;
  let c = 0;
  while (i < b && (c = text.charCodeAt(i) - DIGIT0) >= 0 && c <= 9) {
    m = m * 10 + c;
    i++;
  }
  let digits = i - intFrom;
  if (digits === 0) return NaN;
  let frac = 0;
  if (i < b && c === 46 - DIGIT0) {
    const fracFrom = ++i;
    while (i < b && (c = text.charCodeAt(i) - DIGIT0) >= 0 && c <= 9) {
      m = m * 10 + c;
      i++;
    }
    frac = i - fracFrom;
    if (frac === 0) return NaN;
    digits += frac;
  }
  if (i < b && c !== COMMA - DIGIT0) return NaN;
  at = i;
  if (digits > 15) return Number(text.slice(a, i));
  const v = frac === 0 ? m : m / POW10[frac]!;
  return neg ? -v : v;
}

function twoDigits(text: string, i: number): number {
  const h = text.charCodeAt(i) - DIGIT0;
  const l = text.charCodeAt(i + 1) - DIGIT0;
  return h >= 0 && h <= 9 && l >= 0 && l <= 9 ? h * 10 + l : NaN;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), what Date.UTC counts.
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

// Reads the field starting at `a` up to the next comma or `b`; returns its epoch ms when it matches DATE_RE with every
// part in range (a real day, 00:00:00-23:59:59, year >= 100 as Date.UTC reads 0-99 as 19xx), else NaN. In range,
// this is the Date.UTC that parseDate computes, and its does-the-day-exist check passes.
function scanDate(text: string, a: number, b: number): number {
  if (b - a < 10 || text.charCodeAt(a + 4) !== 45 || text.charCodeAt(a + 7) !== 45) return NaN;
  const y = twoDigits(text, a) * 100 + twoDigits(text, a + 2);
  const mo = twoDigits(text, a + 5);
  const d = twoDigits(text, a + 8);
  if (!(y >= 100 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo))) return NaN;
  let i = a + 10;
  let ms = daysFromCivil(y, mo, d) * MS_DAY;
  let c = i < b ? text.charCodeAt(i) : COMMA;
  if ((c === 84 || c === 32) && b - i >= 6 && text.charCodeAt(i + 3) === 58) {
    const hh = twoDigits(text, i + 1);
    const mi = twoDigits(text, i + 4);
    let ss = 0;
    i += 6;
    c = i < b ? text.charCodeAt(i) : COMMA;
    if (c === 58) {
      if (b - i < 3) return NaN;
      ss = twoDigits(text, i + 1);
      i += 3;
      c = i < b ? text.charCodeAt(i) : COMMA;
    }
    if (!(hh <= 23 && mi <= 59 && ss <= 59)) return NaN;
    ms += hh * 3_600_000 + mi * 60_000 + ss * 1_000;
  }
  if (c === 90) c = ++i < b ? text.charCodeAt(i) : COMMA;
  else if (c === 43 && b - i >= 6 && text.startsWith('+00:00', i)) c = (i += 6) < b ? text.charCodeAt(i) : COMMA;
  if (c !== COMMA) return NaN;
  at = i;
  return ms;
}

// The fields of the row scanRow accepted last.
let sOpenTime = 0;
let sOpen = 0;
let sHigh = 0;
let sLow = 0;
let sClose = 0;
let sVolume = 0;

// Returns true, leaving the fields in sOpenTime..sVolume, when the row text[a, b) is plain and passes every check;
// else false. NaN fails every comparison below, so one field the scanner did not read sends the row to parseRow; so
// does a missing comma (at === b) or one too many (the volume stops early).
function scanRow(text: string, a: number, b: number, dated: boolean, prevOpen: number): boolean {
  let openTime: number;
  if (dated) {
    openTime = scanDate(text, a, b);
  } else {
    openTime = scanNum(text, a, b);
    if (!Number.isSafeInteger(openTime) || scanDate(text, at + 1, b) !== openTime) return false;
  }
  // A field that ends the row leaves at === b, so the next one starts past b and reads as NaN.
  if (!(openTime > prevOpen)) return false;
  const open = scanNum(text, at + 1, b);
  const high = scanNum(text, at + 1, b);
  const low = scanNum(text, at + 1, b);
  const close = scanNum(text, at + 1, b);
  const volume = scanNum(text, at + 1, b);
  if (!(at === b && low <= Math.min(open, close) && high >= Math.max(open, close) && volume >= 0)) return false;
  sOpenTime = openTime;
  sOpen = open;
  sHigh = high;
  sLow = low;
  sClose = close;
  sVolume = volume;
  return true;
}

function scanned(): Candle {
  return { openTime: sOpenTime, open: sOpen, high: sHigh, low: sLow, close: sClose, volume: sVolume, closed: true };
}

function layoutOf(text: string, source: string): KlinesFile['layout'] {
  const nl = text.indexOf('\n');
  const header = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '').trim();
  if (header === KLINES_HEADER) return 'open_time_ms';
  if (header === DATED_HEADER) return 'dated';
  throw new ParseError(`${source}: unknown header '${header}', expected '${KLINES_HEADER}' or '${DATED_HEADER}'`);
}

/** Returns the candles of a kline CSV text in either bundled layout; malformed rows are counted and skipped. */
export function parseKlinesCsv(text: string, opts: KlinesReadOptions = {}): KlinesFile {
  const source = opts.source ?? 'klines csv';
  const layout = layoutOf(text, source);
  const dated = layout === 'dated';
  const candles: Candle[] = [];
  const errors: KlineRowError[] = [];
  let prevOpen = -Infinity;
  // Line i (0-based, the header is 0) is text[a, b) without its '\n' and one trailing '\r', as split('\n') and
  // replace(/\r$/, '') would cut it.
  for (let i = 1, nl = text.indexOf('\n'); nl >= 0; i++) {
    const a = nl + 1;
    nl = text.indexOf('\n', a);
    let b = nl < 0 ? text.length : nl;
    if (b > a && text.charCodeAt(b - 1) === 13) b--;
    if (b === a) continue;
    if (scanRow(text, a, b, dated, prevOpen)) {
      prevOpen = sOpenTime;
      candles.push(scanned());
      continue;
    }
    const line = text.slice(a, b);
    if (line.trim() === '') continue;
    try {
      const c = parseRow(line, layout, prevOpen);
      prevOpen = c.openTime;
      candles.push(c);
    } catch (err) {
      const message = (err as Error).message;
      if (opts.strict) throw new ParseError(`${source} row ${i + 1}: ${message}`);
      errors.push({ row: i + 1, message });
    }
  }
  return { candles, errors, layout };
}

/** Returns the candles of a kline CSV file (gunzipped when it ends in `.gz`); see `parseKlinesCsv`. */
export function loadKlinesCsv(path: string, opts: KlinesReadOptions = {}): KlinesFile {
  return parseKlinesCsv(readKlinesText(path), { ...opts, source: opts.source ?? path });
}

function readKlinesText(path: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
    if (path.endsWith('.gz')) {
      // The gzip trailer holds the unpacked size (mod 2^32): one output chunk of that size instead of 16 KiB chunks
      // concatenated saves a third of the inflate time. A wrong trailer only costs more chunks; the cap bounds a lie.
      const size = buf.length >= 18 ? buf.readUInt32LE(buf.length - 4) : 0;
      buf = gunzipSync(buf, size >= 64 ? { chunkSize: Math.min(size, 1 << 26) } : {});
    }
  } catch (err) {
    throw new ParseError(`cannot read klines file ${path}: ${(err as Error).message}`, { cause: err });
  }
  // ASCII reads the same in latin1 and utf8, and latin1 is a copy where utf8 decodes.
  return buf.toString(isAscii(buf) ? 'latin1' : 'utf8');
}

// Five plain numbers (NUM_RE without an exponent), comma-separated: the OHLCV tail of a row.
const PLAIN_OHLCV = /(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)/y;
// The open times whose ISO form has a four-digit year and whose UTC date Date.UTC reads back (1970..9999).
const ISO_MAX = Date.UTC(9999, 11, 31, 23, 59, 59);

// The Candle of row text[a, b) whose first field indexKlinesCsv already read as `key` (a plain number, or a date in
// range), when the rest is plain and passes every check; else undefined (parseRow then decides). Unlike scanRow this
// leans on builtins (indexOf, a sticky regexp, Number, toISOString) rather than a JS loop per character: the index
// reads a few thousand rows, mostly before V8 has optimised anything, and builtins are fast from the first call.
function readRow(text: string, a: number, b: number, dated: boolean, key: number): Candle | undefined {
  let p = text.indexOf(',', a);
  if (p < 0 || p >= b) return undefined;
  if (!dated) {
    // open_time_utc must be the canonical 'YYYY-MM-DDTHH:MM:SSZ' of the open time; other spellings go to parseRow.
    const e = p + 21;
    if (text.charCodeAt(e) !== COMMA || text.charCodeAt(e - 1) !== 90 || !(key >= 0 && key <= ISO_MAX && key % 1000 === 0)) return undefined;
    if (!text.startsWith(new Date(key).toISOString().slice(0, 19), p + 1)) return undefined;
    p = e;
  }
  PLAIN_OHLCV.lastIndex = p + 1;
  const m = PLAIN_OHLCV.exec(text);
  if (m === null || PLAIN_OHLCV.lastIndex !== b) return undefined;
  const open = Number(m[1]);
  const high = Number(m[2]);
  const low = Number(m[3]);
  const close = Number(m[4]);
  const volume = Number(m[5]);
  if (!(low <= Math.min(open, close) && high >= Math.max(open, close) && volume >= 0)) return undefined;
  return { openTime: key, open, high, low, close, volume, closed: true };
}

/**
 * A kline file as rows in open-time order, each parsed on first use: `row(k)` is what `parseKlinesCsv` makes of it.
 * Built by `indexKlinesCsv`, which only reads each row's first field: when those are plain and strictly increase, no
 * row's validity depends on another's, so a row can be judged alone. Otherwise the whole file is parsed up front and
 * the rows are its valid candles.
 */
export class KlinesIndex {
  /** True when rows are read on first use; false when the file did not qualify and was parsed whole. */
  readonly lazy: boolean;
  private readonly rows: (Candle | null | undefined)[];
  private readonly found = new Map<number, KlineRowError>();

  /** @internal use indexKlinesCsv */
  constructor(
    readonly layout: KlinesFile['layout'],
    /** Open time each row has when valid, strictly increasing. */
    readonly keys: Float64Array,
    private readonly text: string,
    /** Where each row starts in `text`. */
    private readonly starts: Int32Array,
    /** Each row's line number, when blank lines make it other than k + 2. */
    private readonly lines: Int32Array | undefined,
    parsed?: KlinesFile,
  ) {
    this.lazy = parsed === undefined;
    // Filled, not holey: V8 keeps a long holey array written out of order in slow (dictionary) elements.
    this.rows = parsed ? parsed.candles : new Array<Candle | undefined>(keys.length).fill(undefined);
    if (parsed) for (const e of parsed.errors) this.found.set(e.row, e);
  }

  /** Number of rows. */
  get length(): number {
    return this.keys.length;
  }

  /** Returns row `k` as a Candle (the same object on every call), or undefined when the row is malformed. */
  row(k: number): Candle | undefined {
    let c = this.rows[k];
    if (c === undefined) {
      const text = this.text;
      const a = this.starts[k]!;
      let b = text.indexOf('\n', a);
      if (b < 0) b = text.length;
      if (b > a && text.charCodeAt(b - 1) === 13) b--;
      c = readRow(text, a, b, this.layout === 'dated', this.keys[k]!);
      if (c === undefined) {
        // Keys strictly increase, so the not-after-the-previous-row check can never fail: -Infinity stands in.
        try {
          c = parseRow(text.slice(a, b), this.layout, -Infinity);
        } catch (err) {
          const row = this.lines ? this.lines[k]! : k + 2;
          this.found.set(row, { row, message: (err as Error).message });
          c = null;
        }
      }
      this.rows[k] = c;
    }
    return c ?? undefined;
  }

  /** Number of malformed rows found so far. */
  get errorCount(): number {
    return this.found.size;
  }

  /** Returns the malformed rows found so far (every one once each row was read), by line. */
  errors(): KlineRowError[] {
    return [...this.found.values()].sort((x, y) => x.row - y.row);
  }

  /** Returns every valid row, in file order: `parseKlinesCsv(text).candles`. */
  candles(): Candle[] {
    const out: Candle[] = [];
    for (let k = 0; k < this.keys.length; k++) {
      const c = this.row(k);
      if (c !== undefined) out.push(c);
    }
    return out;
  }
}

/** Returns a KlinesIndex over a kline CSV text (see KlinesIndex); throws a ParseError for an unknown header. */
export function indexKlinesCsv(text: string, source = 'klines csv'): KlinesIndex {
  const layout = layoutOf(text, source);
  const dated = layout === 'dated';
  // The bundled rows are 50-80 characters: this guess rarely needs to grow.
  let cap = Math.max(16, Math.ceil(text.length / 40));
  let keys = new Float64Array(cap);
  let starts = new Int32Array(cap);
  let lines: Int32Array | undefined;
  let n = 0;
  let prev = -Infinity;
  let plain = true;
  // This loop visits every line of the file and mostly runs before V8 has optimised it: one indexOf per line and an
  // inline digit loop, nothing else. A first field of 1-15 digits then a comma reads exactly as Number() would.
  for (let i = 1, nl = text.indexOf('\n'); nl >= 0; i++) {
    const a = nl + 1;
    nl = text.indexOf('\n', a);
    const e = nl < 0 ? text.length : nl;
    let key: number;
    if (dated) {
      key = scanDate(text, a, e);
    } else {
      // Reads stay below `e`: one read past the end of the text would deoptimise the loop for the next file.
      key = 0;
      let j = a;
      let c = 0;
      while (j < e && (c = text.charCodeAt(j) - DIGIT0) >= 0 && c <= 9) {
        key = key * 10 + c;
        j++;
      }
      if (j === e || c !== COMMA - DIGIT0 || j === a || j - a > 15) key = NaN;
    }
    if (!(key > prev)) {
      let b = e;
      if (b > a && text.charCodeAt(b - 1) === 13) b--;
      if (text.slice(a, b).trim() === '') {
        // A blank line is no row, and the rows after it are no longer on line k + 2.
        lines ??= plainLines(cap);
        continue;
      }
      // A first field read otherwise, or not after the last: this file is parsed in order instead.
      plain = false;
      break;
    }
    prev = key;
    if (n === cap) {
      cap *= 2;
      keys = grow(keys, new Float64Array(cap));
      starts = grow(starts, new Int32Array(cap));
      if (lines) lines = grow(lines, new Int32Array(cap));
    }
    keys[n] = key;
    starts[n] = a;
    if (lines) lines[n] = i + 1;
    n++;
  }
  if (plain) return new KlinesIndex(layout, keys.subarray(0, n), text, starts, lines);
  const parsed = parseKlinesCsv(text, { source });
  const times = new Float64Array(parsed.candles.length);
  for (let k = 0; k < times.length; k++) times[k] = parsed.candles[k]!.openTime;
  return new KlinesIndex(layout, times, '', new Int32Array(0), undefined, parsed);
}

/** Returns a KlinesIndex over a kline CSV file (gunzipped when it ends in `.gz`); see `indexKlinesCsv`. */
export function loadKlinesIndex(path: string): KlinesIndex {
  return indexKlinesCsv(readKlinesText(path), path);
}

// Line numbers of rows 0..cap-1 when no blank line came before them.
function plainLines(cap: number): Int32Array {
  const lines = new Int32Array(cap);
  for (let k = 0; k < cap; k++) lines[k] = k + 2;
  return lines;
}

function grow<T extends Float64Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** Returns `x` the way the bundled files print floats (Python repr: `67784.0`, `26.98425`). */
export function formatCsvNumber(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`cannot write ${x} to a klines csv`);
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  const s = String(x);
  // JS writes 1e-7 where Python writes 1e-07; plain decimals keep readers of either convention happy.
  return s.includes('e') ? x.toFixed(12).replace(/0+$/, '') : s;
}

/** Returns candles as CSV text in the `open_time_ms,open_time_utc,open,high,low,close,volume` layout. */
export function formatKlinesCsv(candles: Iterable<Candle>): string {
  const out: string[] = [KLINES_HEADER];
  for (const c of candles) {
    const utc = new Date(c.openTime).toISOString().replace(/\.000Z$/, 'Z');
    out.push(`${c.openTime},${utc},${formatCsvNumber(c.open)},${formatCsvNumber(c.high)},${formatCsvNumber(c.low)},${formatCsvNumber(c.close)},${formatCsvNumber(c.volume)}`);
  }
  return out.join('\n') + '\n';
}
