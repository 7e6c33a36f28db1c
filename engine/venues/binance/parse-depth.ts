import type { Decimal } from '../../types/decimal.ts';
import type { Instrument } from '../../types/instrument.ts';
import { scanSteps, stepScanEnd, stepScanRounded, STEPS_NOT_DECIMAL, STEPS_OUT_OF_RANGE } from './decimal-steps.ts';

/**
 * The integer grid a depth parser converts decimal strings onto.
 * Prices off the tick grid are malformed. Quantities off the lot grid are real on Binance (a resting level can hold
 * orders placed under an older, finer step size: the bundled BTC recording has `25.42618900` at 200000 USDT with a
 * 0.00001 lot), so by default they are rounded half-up to the nearest lot (never down to 0) and counted per frame in
 * `DepthFrame.qtyRounded`; `qtyOffGrid: 'reject'` makes them malformed instead.
 */
export interface DepthGrid {
  readonly pxScale: number;
  readonly pxMant: number;
  readonly qtyScale: number;
  readonly qtyMant: number;
  readonly qtyOffGrid: 'round' | 'reject';
}

/** Returns a DepthGrid for the given tick and lot steps. */
export function depthGrid(tick: Decimal, lot: Decimal, qtyOffGrid: 'round' | 'reject' = 'round'): DepthGrid {
  for (const d of [tick, lot]) {
    if (d.mantissa <= 0n || d.mantissa > BigInt(Number.MAX_SAFE_INTEGER) || d.scale > 18) {
      throw new RangeError(`step ${d.mantissa}e-${d.scale} is not usable as a depth grid`);
    }
  }
  return { pxScale: tick.scale, pxMant: Number(tick.mantissa), qtyScale: lot.scale, qtyMant: Number(lot.mantissa), qtyOffGrid };
}

/** Returns the DepthGrid of an instrument: its tick size and lot size. */
export const instrumentGrid = (inst: Instrument, qtyOffGrid: 'round' | 'reject' = 'round'): DepthGrid =>
  depthGrid(inst.tickSize, inst.lotSize, qtyOffGrid);

/**
 * A parsed depthUpdate in flat, reusable form (no per-level allocation): `bids`/`asks` hold
 * `[ticks0, lots0, ticks1, lots1, …]` for the first `bidCount`/`askCount` levels. A parser reuses one instance, so
 * `clone()` it before keeping it.
 */
export class DepthFrame {
  /** `U`: first update id in the event. */
  firstUpdateId = 0;
  /** `u`: final update id in the event. */
  finalUpdateId = 0;
  /** `pu` (USD-M futures): the previous event's final update id; -1 when absent (spot). */
  prevFinalUpdateId = -1;
  /** `E`: event time, ms. */
  eventTime = 0;
  /** `T` (futures): transaction time, ms; -1 when absent. */
  txTime = -1;
  /** `s`: the venue symbol. */
  symbol = '';
  bidCount = 0;
  askCount = 0;
  bids: number[] = [];
  asks: number[] = [];
  /** How many quantities were off the lot grid and rounded. */
  qtyRounded = 0;
  /** Why the last parse failed ('' after a success). */
  error = '';

  /** Returns an independent copy (the parser overwrites its frame on every call). */
  clone(): DepthFrame {
    const f = new DepthFrame();
    this.copyInto(f);
    return f;
  }

  /** Overwrites `to` with this frame (its level arrays are reused, not replaced). */
  copyInto(to: DepthFrame): void {
    to.firstUpdateId = this.firstUpdateId;
    to.finalUpdateId = this.finalUpdateId;
    to.prevFinalUpdateId = this.prevFinalUpdateId;
    to.eventTime = this.eventTime;
    to.txTime = this.txTime;
    to.symbol = this.symbol;
    to.bidCount = this.bidCount;
    to.askCount = this.askCount;
    to.qtyRounded = this.qtyRounded;
    to.error = this.error;
    const fb = this.bids;
    const tb = to.bids;
    for (let i = 0, n = this.bidCount * 2; i < n; i++) tb[i] = fb[i]!;
    const fa = this.asks;
    const ta = to.asks;
    for (let i = 0, n = this.askCount * 2; i < n; i++) ta[i] = fa[i]!;
  }
}

const QUOTE = 34;
const COMMA = 44;
const COLON = 58;
const LBRACK = 91;
const RBRACK = 93;
const LBRACE = 123;
const RBRACE = 125;
const DOT = 46;
const BACKSLASH = 92;
const ZERO = 48;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const DEPTH_UPDATE = 'depthUpdate';

// Field bits, to check that every required field was present.
const F_E = 1;
const F_EVENT = 2;
const F_S = 4;
const F_U = 8;
const F_LU = 16;
const F_B = 32;
const F_A = 64;
const REQUIRED = F_E | F_EVENT | F_S | F_U | F_LU | F_B | F_A;

const ENCODER = new TextEncoder();

// The last text parsed, by which parser. Two consumers of one md.depthRaw message (the COB's book and the paper
// venue's book) parse the same string one after the other: the second copies the first's frame (~0.1 µs) instead of
// parsing it again (~2.5 µs). Each parser still owns its frame; the memo only holds the last text.
const lastParse: { text: string | undefined; parser: DepthParser | undefined; ok: boolean } = { text: undefined, parser: undefined, ok: false };

function sameGrid(a: DepthGrid, b: DepthGrid): boolean {
  return a === b || (a.pxScale === b.pxScale && a.pxMant === b.pxMant && a.qtyScale === b.qtyScale && a.qtyMant === b.qtyMant && a.qtyOffGrid === b.qtyOffGrid);
}

const DEPTH_UPDATE_BYTES = Uint8Array.from(DEPTH_UPDATE, (ch) => ch.charCodeAt(0));

/**
 * A byte-level parser of Binance `depthUpdate` frames (spot and USD-M futures, bare or in a combined-stream
 * envelope, keys in any order) straight into integer ticks and lots: no JSON.parse, no parseFloat, no per-number
 * substrings. Work happens on bytes in a reusable scratch buffer: a text frame is copied in once with
 * `TextEncoder.encodeInto` (a native copy for ASCII), a ws Buffer with `set`. Reading a Uint8Array is about twice
 * as fast as `charCodeAt` on a string (more on the sliced strings that line splitting produces), and the copy
 * costs a fraction of that. A 0 byte after the text stops every scan loop without a bounds check.
 */
export class DepthParser {
  private b: Uint8Array;
  private buf: Buffer;
  private p = 0;
  private n = 0;
  /** The scratch holds UTF-8 of a string (true) or raw bytes decoded as latin1 (false), for the symbol text. */
  private utf8 = true;
  private f: DepthFrame;

  /** Creates a parser writing into `frame` (a fresh one by default) on the `grid`. */
  constructor(readonly grid: DepthGrid, frame: DepthFrame = new DepthFrame()) {
    this.f = frame;
    this.buf = Buffer.alloc(4096);
    this.b = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** The frame the last successful parse filled in. */
  get frame(): DepthFrame {
    return this.f;
  }

  /**
   * Parses one frame; returns true and fills `frame`, or returns false with `frame.error` saying why. A DepthFrame
   * (parsed ahead on this parser's grid: a replay catalog) is copied.
   */
  parse(input: string | Uint8Array | DepthFrame): boolean {
    if (input instanceof DepthFrame) {
      input.copyInto(this.f);
      return true;
    }
    if (typeof input === 'string') {
      const prev = lastParse.parser;
      if (input === lastParse.text && prev !== undefined && prev !== this && sameGrid(prev.grid, this.grid)) {
        prev.f.copyInto(this.f);
        return lastParse.ok;
      }
      const ok = this.parseText(input);
      lastParse.text = input;
      lastParse.parser = this;
      lastParse.ok = ok;
      return ok;
    }
    return this.parseBytes(input);
  }

  private parseText(input: string): boolean {
    this.ensure(input.length * 3 + 1); // UTF-8 needs at most 3 bytes per UTF-16 unit
    this.n = ENCODER.encodeInto(input, this.b).written;
    this.utf8 = true;
    return this.parseScratch();
  }

  private parseBytes(input: Uint8Array): boolean {
    this.ensure(input.byteLength + 1);
    this.b.set(input);
    this.n = input.byteLength;
    this.utf8 = false;
    return this.parseScratch();
  }

  private parseScratch(): boolean {
    this.b[this.n] = 0;
    this.p = 0;
    const f = this.f;
    f.firstUpdateId = 0;
    f.finalUpdateId = 0;
    f.prevFinalUpdateId = -1;
    f.eventTime = 0;
    f.txTime = -1;
    f.symbol = '';
    f.bidCount = 0;
    f.askCount = 0;
    f.qtyRounded = 0;
    f.error = '';
    if (!this.parseTop()) {
      if (f.error === '') f.error = this.p >= this.n ? 'truncated frame' : `unexpected character at offset ${this.p}`;
      return false;
    }
    if (f.firstUpdateId > f.finalUpdateId) return this.fail(`first update id ${f.firstUpdateId} > final update id ${f.finalUpdateId}`);
    return true;
  }

  /**
   * Returns one decimal string as steps of the grid's price or quantity step (same rules as in frames), or -1 with
   * `frame.error` set. For the odd decimal outside depth frames (bookTicker, trades, snapshots).
   */
  steps(decimal: string, isPrice: boolean): number {
    const len = decimal.length;
    this.ensure(len + 1);
    // A short copy by hand beats a native call; a non-Latin-1 unit becomes 255, which no rule accepts either.
    const b = this.b;
    for (let i = 0; i < len; i++) {
      const c = decimal.charCodeAt(i);
      b[i] = c > 255 ? 255 : c;
    }
    b[len] = 0;
    this.p = 0;
    this.n = len;
    this.f.error = '';
    this.f.qtyRounded = 0;
    const v = this.readSteps(isPrice ? this.grid.pxScale : this.grid.qtyScale, isPrice ? this.grid.pxMant : this.grid.qtyMant, isPrice);
    if (v < 0) return -1;
    if (this.p !== this.n) return this.failN('trailing characters'); // a quote: readSteps refuses anything else
    if (isPrice && v === 0) return this.failN('price 0');
    return v;
  }

  private ensure(bytes: number): void {
    if (bytes <= this.b.length) return;
    this.buf = Buffer.alloc(Math.max(bytes, this.b.length * 2));
    this.b = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  private fail(why: string): false {
    if (this.f.error === '') this.f.error = why;
    return false;
  }

  private ws(): void {
    const b = this.b;
    let p = this.p;
    let c = b[p]!;
    while (c === 32 || c === 10 || c === 13 || c === 9) c = b[++p]!;
    this.p = p;
  }

  private expect(code: number): boolean {
    this.ws();
    if (this.b[this.p] !== code) return false;
    this.p++;
    return true;
  }

  /** Returns true when the bytes at `at` spell `want` (ASCII). */
  private bytesAre(at: number, want: string): boolean {
    if (at + want.length > this.n) return false;
    const b = this.b;
    for (let i = 0; i < want.length; i++) if (b[at + i] !== want.charCodeAt(i)) return false;
    return true;
  }

  /** Reads a key after its opening quote; returns a small id (see keyId) and leaves p after the colon. */
  private readKey(): number {
    const b = this.b;
    const start = this.p;
    let p = start;
    let c = b[p]!;
    while (c !== QUOTE) {
      if ((c === 0 && p >= this.n) || c === BACKSLASH) {
        this.p = p;
        return -1; // ran off the end
      }
      c = b[++p]!;
    }
    const len = p - start;
    this.p = p + 1;
    if (!this.expect(COLON)) return -1;
    if (len === 1) return b[start]!;
    if (len === 2 && b[start] === 112 && b[start + 1] === 117) return 2; // pu
    if (len === 4 && b[start] === 100 && b[start + 1] === 97 && b[start + 2] === 116 && b[start + 3] === 97) return 4; // data
    return 0;
  }

  private parseTop(): boolean {
    if (!this.expect(LBRACE)) return this.fail('frame does not start with {');
    this.ws();
    // A combined-stream envelope starts with "stream" or "data"; otherwise this is the bare event object.
    const save = this.p;
    if (this.b[this.p] === QUOTE) {
      this.p++;
      const k = this.readKey();
      if (k === 4 || (k === 0 && this.bytesAre(save, '"stream"'))) {
        this.p = save;
        return this.parseEnvelope();
      }
    }
    this.p = save;
    return this.parseEvent() && this.atEnd();
  }

  private atEnd(): boolean {
    this.ws();
    return this.p === this.n ? true : this.fail(`trailing characters at offset ${this.p}`);
  }

  private parseEnvelope(): boolean {
    let sawData = false;
    for (;;) {
      if (!this.expect(QUOTE)) return false;
      const k = this.readKey();
      if (k < 0) return false;
      if (k === 4) {
        if (!this.expect(LBRACE) || !this.parseEvent()) return false;
        sawData = true;
      } else if (!this.skipValue()) return false;
      this.ws();
      const c = this.b[this.p++];
      if (c === RBRACE) break;
      if (c !== COMMA) return false;
    }
    if (!sawData) return this.fail('envelope has no data');
    return this.atEnd();
  }

  /** Parses the event object's members; p is just after its `{`. */
  private parseEvent(): boolean {
    const f = this.f;
    let seen = 0;
    this.ws();
    if (this.b[this.p] === RBRACE) return this.fail('empty event');
    for (;;) {
      if (!this.expect(QUOTE)) return false;
      const k = this.readKey();
      let v: number;
      switch (k) {
        case -1: return false;
        case 101: // e
          if (!this.expectDepthUpdate()) return this.fail('event type is not depthUpdate');
          seen |= F_EVENT;
          break;
        case 69: // E
          if ((v = this.readUint('E')) < 0) return false;
          f.eventTime = v;
          seen |= F_E;
          break;
        case 84: // T
          if ((v = this.readUint('T')) < 0) return false;
          f.txTime = v;
          break;
        case 115: // s
          if (!this.readSymbol()) return false;
          seen |= F_S;
          break;
        case 85: // U
          if ((v = this.readUint('U')) < 0) return false;
          f.firstUpdateId = v;
          seen |= F_U;
          break;
        case 117: // u
          if ((v = this.readUint('u')) < 0) return false;
          f.finalUpdateId = v;
          seen |= F_LU;
          break;
        case 2: // pu
          if ((v = this.readUint('pu')) < 0) return false;
          f.prevFinalUpdateId = v;
          break;
        case 98: // b
          if ((f.bidCount = this.readLevels(f.bids)) < 0) return false;
          seen |= F_B;
          break;
        case 97: // a
          if ((f.askCount = this.readLevels(f.asks)) < 0) return false;
          seen |= F_A;
          break;
        default:
          if (!this.skipValue()) return false;
      }
      this.ws();
      const c = this.b[this.p++];
      if (c === RBRACE) break;
      if (c !== COMMA) return false;
    }
    if ((seen & REQUIRED) !== REQUIRED) return this.fail(`depthUpdate lacks ${missing(seen)}`);
    return true;
  }

  private expectDepthUpdate(): boolean {
    if (!this.expect(QUOTE)) return false;
    const b = this.b;
    const p = this.p;
    const want = DEPTH_UPDATE_BYTES;
    if (p + want.length >= this.n) return false;
    for (let i = 0; i < want.length; i++) if (b[p + i] !== want[i]) return false;
    if (b[p + want.length] !== QUOTE) return false;
    this.p = p + want.length + 1;
    return true;
  }

  private readSymbol(): boolean {
    if (!this.expect(QUOTE)) return this.fail('symbol is not a string');
    const b = this.b;
    const start = this.p;
    let p = start;
    let c = b[p]!;
    while (c !== QUOTE) {
      if ((c === 0 && p >= this.n) || c === BACKSLASH) {
        this.p = p;
        return this.fail('bad symbol string');
      }
      c = b[++p]!;
    }
    this.p = p + 1;
    // Reuse the previous symbol string when it is the same: saves an allocation per frame.
    const prev = this.f.symbol;
    const len = p - start;
    let same = len === prev.length;
    for (let i = 0; same && i < len; i++) same = b[start + i] === prev.charCodeAt(i);
    if (!same) this.f.symbol = this.buf.toString(this.utf8 ? 'utf8' : 'latin1', start, p);
    return true;
  }

  /** Reads a non-negative JSON integer; returns -1 (with an error) when it is anything else. */
  private readUint(name: string): number {
    this.ws();
    const b = this.b;
    let p = this.p;
    let c = b[p]! - ZERO;
    if (!(c >= 0 && c <= 9)) return this.failN(`${name} is not a non-negative integer`);
    let v = 0;
    do {
      v = v * 10 + c;
      c = b[++p]! - ZERO;
    } while (c >= 0 && c <= 9);
    this.p = p;
    const after = c + ZERO;
    if (after === DOT || after === 101 || after === 69) return this.failN(`${name} is not an integer`);
    if (v > MAX_SAFE) return this.failN(`${name} exceeds the safe integer range`);
    return v;
  }

  /** Reads `[[px,qty],…]` into `out` as ticks/lots pairs; returns the level count or -1. */
  private readLevels(out: number[]): number {
    if (!this.expect(LBRACK)) return this.failN('levels are not an array');
    this.ws();
    const b = this.b;
    let count = 0;
    if (b[this.p] === RBRACK) {
      this.p++;
      return 0;
    }
    const g = this.grid;
    const pxScale = g.pxScale;
    const pxMant = g.pxMant;
    const qtyScale = g.qtyScale;
    const qtyMant = g.qtyMant;
    for (;;) {
      // Fast path for the compact form Binance sends (`["px","qty"]`, no blanks); anything else takes `expect`.
      let p = this.p;
      if (b[p] === LBRACK && b[p + 1] === QUOTE) this.p = p + 2;
      else if (!this.expect(LBRACK) || !this.expect(QUOTE)) return this.failN('level is not ["price","qty"]');
      const px = this.readSteps(pxScale, pxMant, true);
      if (px < 0) return -1;
      if (b[this.p] !== QUOTE) return this.badNumber(true);
      if (px === 0) return this.failN('price 0 in a level');
      p = this.p + 1;
      if (b[p] === COMMA && b[p + 1] === QUOTE) this.p = p + 2;
      else {
        this.p = p;
        if (!this.expect(COMMA) || !this.expect(QUOTE)) return this.failN('level is not ["price","qty"]');
      }
      const qty = this.readSteps(qtyScale, qtyMant, false);
      if (qty < 0) return -1;
      if (b[this.p] !== QUOTE) return this.badNumber(false);
      p = this.p + 1;
      if (b[p] === RBRACK) this.p = p + 1;
      else {
        this.p = p;
        if (!this.expect(RBRACK)) return this.failN('level has more than two entries');
      }
      out[count * 2] = px;
      out[count * 2 + 1] = qty;
      count++;
      let c = b[this.p];
      if (c !== COMMA && c !== RBRACK) {
        this.ws();
        c = b[this.p];
      }
      this.p++;
      if (c === RBRACK) return count;
      if (c !== COMMA) return this.failN('levels array is not closed');
    }
  }

  /**
   * Reads a decimal (p at its first digit) as a count of steps `mant * 10^-scale` and leaves p on the character
   * after it, which must be a quote or the end of the text (callers inside a frame then check for the quote).
   * Returns -1 with an error for anything but `\d+(\.\d+)?`, or a value off the grid (prices). See scanSteps.
   */
  private readSteps(scale: number, mant: number, isPrice: boolean): number {
    const v = scanSteps(this.b, this.p, this.n, scale, mant, !isPrice && this.grid.qtyOffGrid === 'round');
    this.p = stepScanEnd();
    if (v >= 0) {
      if (stepScanRounded()) this.f.qtyRounded++;
      return v;
    }
    if (v === STEPS_NOT_DECIMAL) return this.badNumber(isPrice);
    if (v === STEPS_OUT_OF_RANGE) return this.failN(`${isPrice ? 'price' : 'quantity'} out of range`);
    return this.failN(`${isPrice ? 'price' : 'quantity'} is not a multiple of ${isPrice ? 'tick' : 'lot'}`);
  }

  private failN(why: string): -1 {
    this.fail(why);
    return -1;
  }

  private badNumber(isPrice: boolean): -1 {
    this.fail(`${isPrice ? 'price' : 'quantity'} is not a plain non-negative decimal`);
    return -1;
  }

  /** Skips any JSON value (unknown keys); returns false on malformed input. */
  private skipValue(): boolean {
    this.ws();
    const b = this.b;
    const c = b[this.p]!;
    if (c === QUOTE) return this.skipString();
    if (c === LBRACE || c === LBRACK) {
      let depth = 0;
      for (;;) {
        const d = b[this.p]!;
        if (d === 0 && this.p >= this.n) return false;
        if (d === QUOTE) {
          if (!this.skipString()) return false;
          continue;
        }
        this.p++;
        if (d === LBRACE || d === LBRACK) depth++;
        else if (d === RBRACE || d === RBRACK) {
          if (--depth === 0) return true;
        }
      }
    }
    // number, true, false, null
    const start = this.p;
    let p = start;
    let d = c;
    while ((d >= 48 && d <= 57) || (d >= 97 && d <= 122) || d === 45 || d === 43 || d === DOT || d === 69) d = b[++p]!;
    this.p = p;
    return p > start;
  }

  private skipString(): boolean {
    const b = this.b;
    const n = this.n;
    let p = this.p + 1;
    for (;;) {
      if (p >= n) {
        this.p = p;
        return false;
      }
      const c = b[p++]!;
      if (c === QUOTE) {
        this.p = p;
        return true;
      }
      if (c === BACKSLASH) p++;
    }
  }
}

function missing(seen: number): string {
  const names: [number, string][] = [[F_EVENT, 'e'], [F_E, 'E'], [F_S, 's'], [F_U, 'U'], [F_LU, 'u'], [F_B, 'b'], [F_A, 'a']];
  return names.filter(([bit]) => (seen & bit) === 0).map(([, n]) => n).join(', ');
}
