// Loads the bundled kline CSVs (data/klines) into Candle arrays and writes candles back in the same layout. Rows are
// scanned by character codes, not split and matched; anything unusual goes to the rule book (`parseRow`), whose
// errors are the reader's. The lazy per-row index a backtest's history uses is ./klines-index.ts, over the text read
// in pieces (`openKlinesText`).
import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { constants, createGunzip, gunzipSync, type Gunzip } from 'node:zlib';
import type { Candle } from '../messages/market.ts';
import { ParseError } from '../types/errors.ts';

/** Header of the freqtrade-derived files (mintanam, moudux1); also what `formatKlinesCsv` writes. */
export const KLINES_HEADER = 'open_time_ms,open_time_utc,open,high,low,close,volume';
/** Header of the RocketAlerts files: naive-UTC date (or date-time), then OHLCV. */
export const DATED_HEADER = 'Date,Open,High,Low,Close,Volume';

/** Returns true when `file` holds `tf` klines of `symbol` (`*_ETH_USDT-1m.csv.gz`, `*_ETHUSDT_1d.csv.gz`, …). */
export function klinesFileMatches(file: string, symbol: string, tf: string): boolean {
  const [base, quote] = symbol.split('/');
  if (!base || !quote) return false;
  return new RegExp(`(^|[_-])${base}_?${quote}[-_]${tf}\\.csv(\\.gz)?$`, 'i').test(file);
}

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
/** @internal The rule book (split, regexps, Date): every row a scanner does not accept; used by klines-index.ts too. */
export function parseRow(line: string, layout: KlinesFile['layout'], prevOpen: number): Candle {
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
export const COMMA = 44;
export const DIGIT0 = 48;
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
export function scanDate(text: string, a: number, b: number): number {
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

/** @internal The layout named by a kline CSV's header; throws a ParseError for an unknown header. */
export function layoutOf(text: string, source: string): KlinesFile['layout'] {
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
  const nl = text.indexOf('\n');
  const st: KlinesLinesState = { prevOpen: -Infinity, line: 2, candles: [], errors: [] };
  parseKlinesLines(text, nl < 0 ? text.length : nl + 1, layout, st, opts.strict ? source : undefined);
  return { candles: st.candles, errors: st.errors, layout };
}

/** @internal Where an in-order read stands: the last valid open time, the next line's number, what was read. */
export interface KlinesLinesState {
  prevOpen: number;
  /** 1-based line number of the line at `from` (the header is line 1). */
  line: number;
  readonly candles: Candle[];
  readonly errors: KlineRowError[];
}

/**
 * @internal Reads the lines of `text` from `from` (a line start) to its end in order, as `parseKlinesCsv` reads a
 * whole file: used for the rest of a file read in pieces of whole lines (./klines-index.ts). Throws a ParseError on
 * the first malformed row when `strict` (the source's name) is given.
 */
export function parseKlinesLines(text: string, from: number, layout: KlinesFile['layout'], st: KlinesLinesState, strict?: string): void {
  const dated = layout === 'dated';
  const { candles, errors } = st;
  let prevOpen = st.prevOpen;
  let i = st.line;
  // Line i is text[a, b) without its '\n' and one trailing '\r', as split('\n') and replace(/\r$/, '') would cut it.
  // A text ending in '\n' has an empty last line, which is no row: stopping at the end reads the same.
  for (let a = from; a < text.length; i++) {
    let nl = text.indexOf('\n', a);
    if (nl < 0) nl = text.length;
    let b = nl;
    const at0 = a;
    a = nl + 1;
    if (b > at0 && text.charCodeAt(b - 1) === 13) b--;
    if (b === at0) continue;
    if (scanRow(text, at0, b, dated, prevOpen)) {
      prevOpen = sOpenTime;
      candles.push(scanned());
      continue;
    }
    const line = text.slice(at0, b);
    if (line.trim() === '') continue;
    try {
      const c = parseRow(line, layout, prevOpen);
      prevOpen = c.openTime;
      candles.push(c);
    } catch (err) {
      const message = (err as Error).message;
      if (strict !== undefined) throw new ParseError(`${strict} row ${i}: ${message}`);
      errors.push({ row: i, message });
    }
  }
  st.prevOpen = prevOpen;
  st.line = i;
}

/** Returns the candles of a kline CSV file (gunzipped when it ends in `.gz`); see `parseKlinesCsv`. */
export function loadKlinesCsv(path: string, opts: KlinesReadOptions = {}): KlinesFile {
  return parseKlinesCsv(readKlinesText(path), { ...opts, source: opts.source ?? path });
}

/** @internal The text of a kline CSV file, gunzipped when it ends in `.gz`; throws a ParseError naming the file. */
export function readKlinesText(path: string): string {
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
  return decodeText(buf);
}

/** @internal A kline CSV file's text in pieces of whole lines, read (and gunzipped) only as far as they are asked for. */
export interface KlinesText {
  /** The text's length as far as the file tells up front (a gzip trailer's size may be off): for sizing arrays. */
  readonly sizeHint: number;
  /**
   * Returns the next piece: whole lines, each ending with its '\n' (the file's last line may lack one); the pieces
   * joined are `readKlinesText(path)`. Undefined at the end; throws a ParseError naming the file when reading fails.
   */
  next(): string | undefined;
}

// Text handed out per step of a gzipped file: a query that ends early in the file inflates little past its end.
const PIECE_BYTES = 1 << 16;

/** @internal Opens a kline CSV file as a KlinesText; throws a ParseError naming the file when it cannot be read. */
export function openKlinesText(path: string, pieceBytes = PIECE_BYTES): KlinesText {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new ParseError(`cannot read klines file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (path.endsWith('.gz')) {
    const inflater = openInflater();
    if (inflater) return new GzipText(path, raw, inflater, pieceBytes);
  }
  // A plain file, or no streaming inflater in this Node: the whole text as one piece.
  const text = path.endsWith('.gz') ? readKlinesText(path) : decodeText(raw);
  let done = false;
  return {
    sizeHint: text.length,
    next: () => {
      if (done || text.length === 0) return undefined;
      done = true;
      return text;
    },
  };
}

// ASCII reads the same in latin1 and utf8, and latin1 is a copy where utf8 decodes.
function decodeText(buf: Buffer, from = 0, to = buf.length): string {
  const part = buf.subarray(from, to);
  return part.toString(isAscii(part) ? 'latin1' : 'utf8');
}

// The native inflate handle under Node's zlib streams, driven the way gunzipSync drives it (lib/zlib.js
// processChunkSync) but paused between steps: zlib has no public synchronous streaming inflate. `writeSync` leaves
// [output room left, input left] in `state`; an error destroys the stream (and would be emitted: hence the listener).
interface Inflater {
  readonly handle: { writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void };
  readonly state: Uint32Array;
  readonly stream: Gunzip;
}

function openInflater(): Inflater | undefined {
  const stream = createGunzip();
  const internals = stream as unknown as { _handle?: Inflater['handle']; _writeState?: unknown };
  if (typeof internals._handle?.writeSync !== 'function' || !(internals._writeState instanceof Uint32Array)) {
    stream.close();
    return undefined;
  }
  stream.on('error', () => {
    // Reported by GzipText itself, with gunzipSync's message.
  });
  return { handle: internals._handle, state: internals._writeState, stream };
}

// A gzipped file inflated step by step; each step hands out the whole lines inflated so far and keeps the unfinished
// last line for the next. Every step passes Z_FINISH and all the input left, as gunzipSync does: the same bytes come
// out and the same errors stop it (a damaged stream is found when the inflate reaches the damage, or the checksum at
// the end).
/** The most a kline CSV's size hint may say it inflates to, per packed byte. */
const MAX_HINT_RATIO = 16;

class GzipText implements KlinesText {
  readonly sizeHint: number;
  /** Inflated bytes [0, made), of which [0, cut) were handed out. */
  private out: Buffer;
  private made = 0;
  private cut = 0;
  private inOff = 0;
  private ended = false;
  private failure: ParseError | undefined;

  constructor(private readonly path: string, private raw: Buffer, private inflater: Inflater | undefined, private readonly pieceBytes: number) {
    // The gzip trailer holds the unpacked size (mod 2^32): a hint only. A cut file has no trailer, and its last four
    // bytes read as up to 4 GB (the index then allocated 1.3 GB for it, ~30 s): capped at what CSV packs to, ~4x
    // here, with room (a file that inflates further grows the index as it reads).
    this.sizeHint = raw.length >= 18 ? Math.min(raw.readUInt32LE(raw.length - 4), raw.length * MAX_HINT_RATIO) : 0;
    this.out = Buffer.allocUnsafe(pieceBytes);
  }

  next(): string | undefined {
    if (this.failure) throw this.failure;
    for (;;) {
      if (this.made > this.cut) {
        const nl = this.ended ? this.made - 1 : this.out.lastIndexOf(10, this.made - 1);
        if (nl >= this.cut) {
          const piece = decodeText(this.out, this.cut, nl + 1);
          this.cut = nl + 1;
          return piece;
        }
      }
      if (this.ended) return undefined;
      this.step();
    }
  }

  // Inflates up to pieceBytes more after the unfinished line (moved to the front); ends at the input's end.
  private step(): void {
    const inf = this.inflater!;
    if (this.cut > 0) {
      this.out.copy(this.out, 0, this.cut, this.made);
      this.made -= this.cut;
      this.cut = 0;
    }
    if (this.out.length - this.made < this.pieceBytes) {
      // A line longer than a step.
      const grown = Buffer.allocUnsafe(this.made + this.pieceBytes);
      this.out.copy(grown, 0, 0, this.made);
      this.out = grown;
    }
    const room = Math.min(this.pieceBytes, this.out.length - this.made);
    const inLen = this.raw.length - this.inOff;
    inf.handle.writeSync(constants.Z_FINISH, this.raw, this.inOff, inLen, this.out, this.made, room);
    if (inf.stream.destroyed) this.fail();
    const [roomLeft, inLeft] = inf.state as unknown as [number, number];
    this.made += room - roomLeft;
    this.inOff += inLen - inLeft;
    // Room left over means the inflate stopped for want of input: the stream (every gzip member of it) is done.
    if (roomLeft !== 0) {
      this.ended = true;
      inf.stream.close();
      this.inflater = undefined;
      this.raw = Buffer.alloc(0);
    }
  }

  // The inflate failed: gunzipSync of the whole file says why, in the words the whole-file reader uses.
  private fail(): never {
    this.inflater = undefined;
    let why: unknown = new Error('the gzip stream is damaged');
    try {
      gunzipSync(this.raw);
    } catch (err) {
      why = err;
    }
    this.raw = Buffer.alloc(0);
    this.failure = new ParseError(`cannot read klines file ${this.path}: ${(why as Error).message}`, { cause: why });
    throw this.failure;
  }
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

/**
 * Returns candles as CSV text in the RocketAlerts `Date,Open,High,Low,Close,Volume` layout (DATED_HEADER): a bar opening
 * at midnight UTC is dated `YYYY-MM-DD`, any other `YYYY-MM-DD HH:MM:SS`, both of which the reader takes as UTC.
 */
export function formatDatedKlinesCsv(candles: Iterable<Candle>): string {
  const out: string[] = [DATED_HEADER];
  for (const c of candles) {
    const iso = new Date(c.openTime).toISOString();
    if (!iso.endsWith('.000Z')) throw new RangeError(`cannot date a bar opening at ${c.openTime} ms: not a whole second`);
    const date = iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    out.push(`${date},${formatCsvNumber(c.open)},${formatCsvNumber(c.high)},${formatCsvNumber(c.low)},${formatCsvNumber(c.close)},${formatCsvNumber(c.volume)}`);
  }
  return out.join('\n') + '\n';
}
