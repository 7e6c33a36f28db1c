// A kline CSV as a lazy index: each row's first field (the open time) is read up front, the rest of a row only when a
// query first reaches it. A backtest's history asks for ~7k of the bundled files' ~100k rows, so most rows are never
// parsed; every row that is parsed equals what `parseKlinesCsv` (./klines-csv.ts) makes of it, errors included.
import type { Candle } from '../messages/market.ts';
import {
  COMMA, DIGIT0, layoutOf, parseKlinesCsv, parseRow, readKlinesText, scanDate, type KlineRowError, type KlinesFile,
} from './klines-csv.ts';

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

