// A kline CSV as a lazy index: the file is inflated and each row's first field (the open time) read only as far as
// queries reach, the rest of a row only when a query first asks for it. A backtest's history stops less than half-way
// into the bundled 1m files and asks for ~9k of the ~100k rows, so most of the text is never inflated and most rows
// never parsed; every row that is parsed equals what `parseKlinesCsv` (./klines-csv.ts) makes of it, errors included.
import type { Candle } from '../messages/market.ts';
import {
  COMMA, DIGIT0, layoutOf, openKlinesText, parseKlinesLines, parseRow, scanDate, type KlineRowError, type KlinesFile,
  type KlinesLinesState, type KlinesText,
} from './klines-csv.ts';

// Five plain numbers (NUM_RE without an exponent), comma-separated: the OHLCV tail of a row.
const PLAIN_OHLCV = /(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)/y;
// The open times whose ISO form has a four-digit year and whose UTC date Date.UTC reads back (1970..9999).
const ISO_MAX = Date.UTC(9999, 11, 31, 23, 59, 59);

const MS_DAY = 86_400_000;
// The 'YYYY-MM-DDT' of the last day isoAt met: rows of a day share it, and a Date per row costs a third of readRow.
let isoDay = NaN;
let isoDate = '';

// True when text at i holds 'YYYY-MM-DDTHH:MM:SS', the ISO form of `key` (whole seconds, 1970..9999) to the second.
function isoAt(text: string, i: number, key: number): boolean {
  const day = Math.floor(key / MS_DAY);
  if (day !== isoDay) {
    isoDate = new Date(day * MS_DAY).toISOString().slice(0, 11);
    isoDay = day;
  }
  if (!text.startsWith(isoDate, i)) return false;
  const s = (key - day * MS_DAY) / 1000;
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  const sec = s % 60;
  i += 11;
  return text.charCodeAt(i) === DIGIT0 + Math.floor(h / 10) && text.charCodeAt(i + 1) === DIGIT0 + (h % 10) && text.charCodeAt(i + 2) === 58
    && text.charCodeAt(i + 3) === DIGIT0 + Math.floor(m / 10) && text.charCodeAt(i + 4) === DIGIT0 + (m % 10) && text.charCodeAt(i + 5) === 58
    && text.charCodeAt(i + 6) === DIGIT0 + Math.floor(sec / 10) && text.charCodeAt(i + 7) === DIGIT0 + (sec % 10);
}

// The Candle of row text[a, b) whose first field indexKlinesCsv already read as `key` (a plain number, or a date in
// range), when the rest is plain and passes every check; else undefined (parseRow then decides). Unlike scanRow this
// leans on builtins (indexOf, a sticky regexp, Number) rather than a JS loop per character: the index reads a few
// thousand rows, mostly before V8 has optimised anything, and builtins are fast from the first call.
function readRow(text: string, a: number, b: number, dated: boolean, key: number): Candle | undefined {
  let p = text.indexOf(',', a);
  if (p < 0 || p >= b) return undefined;
  if (!dated) {
    // open_time_utc must be the canonical 'YYYY-MM-DDTHH:MM:SSZ' of the open time; other spellings go to parseRow.
    const e = p + 21;
    if (text.charCodeAt(e) !== COMMA || text.charCodeAt(e - 1) !== 90 || !(key >= 0 && key <= ISO_MAX && key % 1000 === 0)) return undefined;
    if (!isoAt(text, p + 1, key)) return undefined;
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
 * A kline file as rows in open-time order, read as far as queries reach and each row parsed on first use: `row(k)` is
 * what `parseKlinesCsv` makes of it. Reading only looks at each row's first field: while those are plain and strictly
 * increase, no row's validity depends on another's, so a row can be judged alone, and the rows read so far are the
 * first rows of the whole file whatever follows them. A first field read otherwise (or not after the last) ends that:
 * the rest of the file is then parsed in order from there, and the rows become the file's valid candles.
 */
export class KlinesIndex {
  /** True while rows are read on first use; false once the file did not qualify and was parsed whole. */
  lazy = true;
  private keyBuf: Float64Array;
  /** Where each row starts in its piece of text, and which piece that is. */
  private starts: Int32Array;
  private pieceOf: Int32Array;
  /** Each row's line number, once blank lines made it other than k + 2. */
  private lines: Int32Array | undefined;
  /** Row k's Candle, null when malformed, undefined until judged; as long as the key buffer, filled. */
  private rows: (Candle | null | undefined)[];
  private pieces: string[] = [];
  private n = 0;
  /** Line number of the next line to read. */
  private line = 2;
  private readonly found = new Map<number, KlineRowError>();
  /** Malformed rows judged by reach but not asked for yet, by row. */
  private readonly unreported = new Map<number, KlineRowError>();

  /** @internal use openKlinesIndex, indexKlinesCsv or loadKlinesIndex */
  constructor(
    readonly layout: KlinesFile['layout'],
    private more: KlinesText | undefined,
    first: string,
    from: number,
  ) {
    // The bundled rows are 58-80 characters: this guess holds a whole file, and grows when it does not.
    const cap = Math.max(16, Math.ceil(Math.max(more?.sizeHint ?? 0, first.length) / 56));
    this.keyBuf = new Float64Array(cap);
    this.starts = new Int32Array(cap);
    this.pieceOf = new Int32Array(cap);
    // Filled, not holey: V8 keeps a long holey array written out of order in slow (dictionary) elements.
    this.rows = new Array<undefined>(cap).fill(undefined);
    this.read(first, from);
  }

  /** Number of rows read so far (every row of the file once `complete`). */
  get length(): number {
    return this.n;
  }

  /** Open time each row read so far has when valid, strictly increasing. */
  get keys(): Float64Array {
    return this.keyBuf.subarray(0, this.n);
  }

  /** True once the whole file has been read. */
  get complete(): boolean {
    return this.more === undefined;
  }

  /**
   * Reads on until every valid row opening before `t` has been read: a valid row opening at `t` or later was (so no
   * later row can be valid and open before it), or the file ended (NaN and Infinity read it all). Throws the reader's
   * ParseError when the file cannot be read that far; the rows read before stay served.
   */
  reach(t: number): void {
    while (this.more !== undefined) {
      const n = this.n;
      const keys = this.keyBuf;
      if (n > 0 && keys[n - 1]! >= t) {
        // Usually the first row at or after t is valid; a malformed one there could not bound the rows after it.
        for (let k = lowerBound(keys, n, t); k < n; k++) if (this.judge(k) !== null) return;
      }
      const piece = this.more.next();
      if (piece === undefined) this.more = undefined;
      else this.read(piece, 0);
    }
  }

  /** Returns row `k` as a Candle (the same object on every call), or undefined when the row is malformed. */
  row(k: number): Candle | undefined {
    let c = this.rows[k];
    if (c === undefined) c = this.judge(k);
    if (c !== null) return c;
    // A malformed row counts as found once asked for (reach may have judged it first).
    const e = this.unreported.get(k);
    if (e !== undefined) {
      this.unreported.delete(k);
      this.found.set(e.row, e);
    }
    return undefined;
  }

  // Parses row k (once): its Candle, or null when malformed (the error kept until row(k) reports it).
  private judge(k: number): Candle | null {
    let c = this.rows[k];
    if (c !== undefined) return c;
    const text = this.pieces[this.pieceOf[k]!]!;
    const a = this.starts[k]!;
    let b = text.indexOf('\n', a);
    if (b < 0) b = text.length;
    if (b > a && text.charCodeAt(b - 1) === 13) b--;
    c = readRow(text, a, b, this.layout === 'dated', this.keyBuf[k]!);
    if (c === undefined) {
      // Keys strictly increase, so the not-after-the-previous-row check can never fail: -Infinity stands in.
      try {
        c = parseRow(text.slice(a, b), this.layout, -Infinity);
      } catch (err) {
        const row = this.lines ? this.lines[k]! : k + 2;
        this.unreported.set(k, { row, message: (err as Error).message });
        c = null;
      }
    }
    this.rows[k] = c;
    return c;
  }

  /** Number of malformed rows found so far. */
  get errorCount(): number {
    return this.found.size;
  }

  /** Returns the malformed rows found so far (every one once each row was read), by line. */
  errors(): KlineRowError[] {
    return [...this.found.values()].sort((x, y) => x.row - y.row);
  }

  /** Returns every valid row, in file order: `parseKlinesCsv(text).candles`; reads the whole file. */
  candles(): Candle[] {
    this.reach(Infinity);
    const out: Candle[] = [];
    for (let k = 0; k < this.n; k++) {
      const c = this.row(k);
      if (c !== undefined) out.push(c);
    }
    return out;
  }

  // Indexes the lines of `text` from `from` (a line start): each row's first field, where it starts, its line.
  private read(text: string, from: number): void {
    if (!this.lazy) return;
    const piece = this.pieces.push(text) - 1;
    const dated = this.layout === 'dated';
    let a = from;
    let line = this.line;
    for (;;) {
      const n0 = this.n;
      const n = scanKeys(text, a, line, dated, this.keyBuf, this.starts, this.lines, n0);
      this.pieceOf.fill(piece, n0, n);
      this.n = n;
      a = stopAt;
      line = stopLine;
      if (a >= text.length) break;
      if (n === this.keyBuf.length) {
        this.grow();
        continue;
      }
      // scanKeys did not take the line at a: a blank line, or a first field read otherwise or not after the last.
      let e = text.indexOf('\n', a);
      if (e < 0) e = text.length;
      let b = e;
      if (b > a && text.charCodeAt(b - 1) === 13) b--;
      if (text.slice(a, b).trim() !== '') {
        // The rest of this file is read in order instead.
        this.line = line;
        this.readInOrder(text, a);
        return;
      }
      // A blank line is no row, and the rows after it are no longer on line k + 2.
      this.lines ??= plainLines(this.keyBuf.length, n);
      a = e + 1;
      line++;
    }
    this.line = line;
  }

  private grow(): void {
    const cap = this.keyBuf.length * 2;
    this.keyBuf = grow(this.keyBuf, new Float64Array(cap));
    this.starts = grow(this.starts, new Int32Array(cap));
    this.pieceOf = grow(this.pieceOf, new Int32Array(cap));
    if (this.lines) this.lines = grow(this.lines, new Int32Array(cap));
    this.rows = this.rows.concat(new Array<undefined>(cap - this.rows.length).fill(undefined));
  }

  // The file did not qualify at the line at text[from]: the rows so far are judged alone (they are the file's first
  // rows whatever follows), then the rest is parsed in order after the last valid one, as parseKlinesCsv would.
  private readInOrder(text: string, from: number): void {
    const candles: Candle[] = [];
    for (let k = 0; k < this.n; k++) {
      const c = this.row(k);
      if (c !== undefined) candles.push(c);
    }
    const st: KlinesLinesState = { prevOpen: candles.at(-1)?.openTime ?? -Infinity, line: this.line, candles, errors: [] };
    parseKlinesLines(text, from, this.layout, st);
    for (let piece = this.more?.next(); piece !== undefined; piece = this.more?.next()) parseKlinesLines(piece, 0, this.layout, st);
    this.more = undefined;
    for (const e of st.errors) this.found.set(e.row, e);
    const keys = new Float64Array(candles.length);
    for (let k = 0; k < keys.length; k++) keys[k] = candles[k]!.openTime;
    this.keyBuf = keys;
    this.rows = candles;
    this.n = candles.length;
    this.lazy = false;
    this.pieces = [];
    this.starts = new Int32Array(0);
    this.pieceOf = new Int32Array(0);
    this.lines = undefined;
  }
}

// Where scanKeys stopped: the start of the line it did not take (or the text's end), and that line's number.
let stopAt = 0;
let stopLine = 0;

// Indexes the lines of text from `a` (line number `line`) into row n on while their first field is plain and after
// the last row's, and there is room; returns the new row count. This loop visits every line read, mostly before V8
// has optimised it: one indexOf per line and an inline digit loop, nothing else, and no property access (a site
// without type feedback would deoptimise it). A first field of 1-15 digits then a comma reads exactly as Number().
function scanKeys(text: string, a: number, line: number, dated: boolean, keys: Float64Array, starts: Int32Array, lines: Int32Array | undefined, n: number): number {
  const cap = keys.length;
  const len = text.length;
  let prev = n > 0 ? keys[n - 1]! : -Infinity;
  while (a < len && n < cap) {
    let e = text.indexOf('\n', a);
    if (e < 0) e = len;
    let key: number;
    if (dated) {
      key = scanDate(text, a, e);
    } else {
      // Reads stay below `e`: one read past the end of the text would deoptimise the loop for the next piece.
      key = 0;
      let j = a;
      let c = 0;
      while (j < e && (c = text.charCodeAt(j) - DIGIT0) >= 0 && c <= 9) {
        key = key * 10 + c;
        j++;
      }
      if (j === e || c !== COMMA - DIGIT0 || j === a || j - a > 15) key = NaN;
    }
    if (!(key > prev)) break;
    prev = key;
    keys[n] = key;
    starts[n] = a;
    if (lines !== undefined) lines[n] = line;
    n++;
    line++;
    a = e + 1;
  }
  stopAt = a;
  stopLine = line;
  return n;
}

/** Returns a KlinesIndex that reads `text` (a file's pieces of whole lines) as queries reach; see KlinesIndex. */
export function openKlinesIndex(text: KlinesText, source = 'klines csv'): KlinesIndex {
  const first = text.next() ?? '';
  const layout = layoutOf(first, source);
  const nl = first.indexOf('\n');
  return new KlinesIndex(layout, text, first, nl < 0 ? first.length : nl + 1);
}

/** Returns a KlinesIndex over a whole kline CSV text, read through (see KlinesIndex); throws a ParseError for an unknown header. */
export function indexKlinesCsv(text: string, source = 'klines csv'): KlinesIndex {
  const index = openKlinesIndex(textOf([text]), source);
  index.reach(Infinity);
  return index;
}

/**
 * Returns a KlinesIndex over a kline CSV file (gunzipped when it ends in `.gz`) that reads and inflates the file only
 * as far as queries reach (`reach`); throws a ParseError when the file cannot be opened or its header is unknown.
 */
export function loadKlinesIndex(path: string): KlinesIndex {
  return openKlinesIndex(openKlinesText(path), path);
}

/** @internal A KlinesText over pieces already in memory (each whole lines, as KlinesText.next returns them). */
export function textOf(pieces: readonly string[]): KlinesText {
  let k = 0;
  return { sizeHint: pieces.reduce((n, p) => n + p.length, 0), next: () => (k < pieces.length ? pieces[k++] : undefined) };
}

// Line numbers of rows 0..cap-1 when no blank line came before row n.
function plainLines(cap: number, n: number): Int32Array {
  const lines = new Int32Array(cap);
  for (let k = 0; k < n; k++) lines[k] = k + 2;
  return lines;
}

function lowerBound(keys: Float64Array, n: number, t: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function grow<T extends Float64Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
