import type { Decimal } from '../../types/decimal.ts';
import type { Instrument } from '../../types/instrument.ts';

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
    f.firstUpdateId = this.firstUpdateId;
    f.finalUpdateId = this.finalUpdateId;
    f.prevFinalUpdateId = this.prevFinalUpdateId;
    f.eventTime = this.eventTime;
    f.txTime = this.txTime;
    f.symbol = this.symbol;
    f.bidCount = this.bidCount;
    f.askCount = this.askCount;
    f.bids = this.bids.slice(0, this.bidCount * 2);
    f.asks = this.asks.slice(0, this.askCount * 2);
    f.qtyRounded = this.qtyRounded;
    return f;
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

/**
 * A byte-level parser of Binance `depthUpdate` frames (spot and USD-M futures, bare or in a combined-stream
 * envelope, keys in any order) straight into integer ticks and lots: no JSON.parse, no parseFloat, no per-number
 * substrings. Work happens on a JS string with `charCodeAt`: frames are ASCII, and V8 reads one-byte strings as
 * fast as a Buffer; a ws Buffer is turned into a string once with `latin1` (a flat copy, no UTF-8 decode).
 */
export class DepthParser {
  private s = '';
  private p = 0;
  private n = 0;
  private f: DepthFrame;

  /** Creates a parser writing into `frame` (a fresh one by default) on the `grid`. */
  constructor(readonly grid: DepthGrid, frame: DepthFrame = new DepthFrame()) {
    this.f = frame;
  }

  /** The frame the last successful parse filled in. */
  get frame(): DepthFrame {
    return this.f;
  }

  /** Parses one frame; returns true and fills `frame`, or returns false with `frame.error` saying why. */
  parse(input: string | Uint8Array): boolean {
    const s = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
    this.s = s;
    this.p = 0;
    this.n = s.length;
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
    this.s = decimal + '"';
    this.p = 0;
    this.n = this.s.length;
    this.f.error = '';
    this.f.qtyRounded = 0;
    const v = this.readSteps(isPrice ? this.grid.pxScale : this.grid.qtyScale, isPrice ? this.grid.pxMant : this.grid.qtyMant, isPrice);
    if (v < 0) return -1;
    if (this.p !== this.n) return this.failN('trailing characters');
    if (isPrice && v === 0) return this.failN('price 0');
    return v;
  }

  private fail(why: string): false {
    if (this.f.error === '') this.f.error = why;
    return false;
  }

  private ws(): void {
    const s = this.s;
    let c = s.charCodeAt(this.p);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++this.p);
  }

  private expect(code: number): boolean {
    this.ws();
    if (this.s.charCodeAt(this.p) !== code) return false;
    this.p++;
    return true;
  }

  /** Reads a key after its opening quote; returns a small id (see keyId) and leaves p after the colon. */
  private readKey(): number {
    const s = this.s;
    const start = this.p;
    let c = s.charCodeAt(this.p);
    while (c !== QUOTE) {
      if (c !== c || c === BACKSLASH) return -1; // NaN: ran off the end
      c = s.charCodeAt(++this.p);
    }
    const len = this.p - start;
    this.p++;
    if (!this.expect(COLON)) return -1;
    if (len === 1) return s.charCodeAt(start);
    if (len === 2 && s.charCodeAt(start) === 112 && s.charCodeAt(start + 1) === 117) return 2; // pu
    if (len === 4 && s.startsWith('data', start)) return 4;
    return 0;
  }

  private parseTop(): boolean {
    if (!this.expect(LBRACE)) return this.fail('frame does not start with {');
    this.ws();
    // A combined-stream envelope starts with "stream" or "data"; otherwise this is the bare event object.
    const save = this.p;
    if (this.s.charCodeAt(this.p) === QUOTE) {
      this.p++;
      const k = this.readKey();
      if (k === 4 || (k === 0 && this.s.startsWith('"stream"', save))) {
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
      const c = this.s.charCodeAt(this.p++);
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
    if (this.s.charCodeAt(this.p) === RBRACE) return this.fail('empty event');
    for (;;) {
      if (!this.expect(QUOTE)) return false;
      const k = this.readKey();
      let v: number;
      switch (k) {
        case -1: return false;
        case 101: // e
          if (!this.expectString(DEPTH_UPDATE)) return this.fail('event type is not depthUpdate');
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
      const c = this.s.charCodeAt(this.p++);
      if (c === RBRACE) break;
      if (c !== COMMA) return false;
    }
    if ((seen & REQUIRED) !== REQUIRED) return this.fail(`depthUpdate lacks ${missing(seen)}`);
    return true;
  }

  private expectString(want: string): boolean {
    if (!this.expect(QUOTE)) return false;
    if (!this.s.startsWith(want, this.p) || this.s.charCodeAt(this.p + want.length) !== QUOTE) return false;
    this.p += want.length + 1;
    return true;
  }

  private readSymbol(): boolean {
    if (!this.expect(QUOTE)) return this.fail('symbol is not a string');
    const s = this.s;
    const start = this.p;
    let c = s.charCodeAt(this.p);
    while (c !== QUOTE) {
      if (c !== c || c === BACKSLASH) return this.fail('bad symbol string');
      c = s.charCodeAt(++this.p);
    }
    const len = this.p - start;
    // Reuse the previous symbol string when it is the same: saves an allocation per frame.
    if (len !== this.f.symbol.length || !s.startsWith(this.f.symbol, start)) this.f.symbol = s.slice(start, this.p);
    this.p++;
    return true;
  }

  /** Reads a non-negative JSON integer; returns -1 (with an error) when it is anything else. */
  private readUint(name: string): number {
    this.ws();
    const s = this.s;
    let c = s.charCodeAt(this.p) - ZERO;
    if (!(c >= 0 && c <= 9)) return this.failN(`${name} is not a non-negative integer`);
    let v = 0;
    do {
      v = v * 10 + c;
      c = s.charCodeAt(++this.p) - ZERO;
    } while (c >= 0 && c <= 9);
    const after = c + ZERO;
    if (after === DOT || after === 101 || after === 69) return this.failN(`${name} is not an integer`);
    if (v > MAX_SAFE) return this.failN(`${name} exceeds the safe integer range`);
    return v;
  }

  /** Reads `[[px,qty],…]` into `out` as ticks/lots pairs; returns the level count or -1. */
  private readLevels(out: number[]): number {
    if (!this.expect(LBRACK)) return this.failN('levels are not an array');
    this.ws();
    const s = this.s;
    let count = 0;
    if (s.charCodeAt(this.p) === RBRACK) {
      this.p++;
      return 0;
    }
    const g = this.grid;
    for (;;) {
      if (!this.expect(LBRACK) || !this.expect(QUOTE)) return this.failN('level is not ["price","qty"]');
      const px = this.readSteps(g.pxScale, g.pxMant, true);
      if (px < 0) return -1;
      if (px === 0) return this.failN('price 0 in a level');
      if (!this.expect(COMMA) || !this.expect(QUOTE)) return this.failN('level is not ["price","qty"]');
      const qty = this.readSteps(g.qtyScale, g.qtyMant, false);
      if (qty < 0) return -1;
      if (!this.expect(RBRACK)) return this.failN('level has more than two entries');
      out[count * 2] = px;
      out[count * 2 + 1] = qty;
      count++;
      this.ws();
      const c = s.charCodeAt(this.p++);
      if (c === RBRACK) return count;
      if (c !== COMMA) return this.failN('levels array is not closed');
    }
  }

  /**
   * Reads a quoted decimal (p is after the opening quote) as a count of steps `mant * 10^-scale`, consuming the
   * closing quote. Returns -1 with an error for anything but `\d+(\.\d+)?`, or a value off the grid (prices).
   */
  private readSteps(scale: number, mant: number, isPrice: boolean): number {
    const s = this.s;
    let c = s.charCodeAt(this.p) - ZERO;
    if (!(c >= 0 && c <= 9)) return this.badNumber(isPrice);
    let v = 0;
    do {
      v = v * 10 + c;
      c = s.charCodeAt(++this.p) - ZERO;
    } while (c >= 0 && c <= 9);
    let frac = 0;
    let firstExtra = -1; // first fraction digit beyond `scale`
    let extraNonzero = false;
    if (c === DOT - ZERO) {
      c = s.charCodeAt(++this.p) - ZERO;
      if (!(c >= 0 && c <= 9)) return this.badNumber(isPrice);
      do {
        if (frac < scale) {
          v = v * 10 + c;
          frac++;
        } else {
          if (firstExtra < 0) firstExtra = c;
          if (c !== 0) extraNonzero = true;
        }
        c = s.charCodeAt(++this.p) - ZERO;
      } while (c >= 0 && c <= 9);
    }
    if (c !== QUOTE - ZERO) return this.badNumber(isPrice);
    this.p++;
    for (; frac < scale; frac++) v *= 10;
    if (v > MAX_SAFE) return this.failN(`${isPrice ? 'price' : 'quantity'} out of range`);
    let r = 0;
    if (mant !== 1) {
      r = v % mant;
      v = (v - r) / mant;
    }
    if (r === 0 && !extraNonzero) return v;
    if (isPrice || this.grid.qtyOffGrid === 'reject') {
      return this.failN(`${isPrice ? 'price' : 'quantity'} is not a multiple of ${isPrice ? 'tick' : 'lot'}`);
    }
    // Round half-up; 2r + adj >= mant decides (adj stands for the dropped digits: 1 when they are >= .5, else 0.5).
    const adj = extraNonzero ? (firstExtra >= 5 ? 1 : 0.5) : 0;
    if (2 * r + adj >= mant) v++;
    if (v === 0) v = 1; // a non-zero size must not become a deletion
    this.f.qtyRounded++;
    return v;
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
    const s = this.s;
    const c = s.charCodeAt(this.p);
    if (c === QUOTE) return this.skipString();
    if (c === LBRACE || c === LBRACK) {
      let depth = 0;
      for (;;) {
        const d = s.charCodeAt(this.p);
        if (d !== d) return false;
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
    let d = c;
    while ((d >= 48 && d <= 57) || (d >= 97 && d <= 122) || d === 45 || d === 43 || d === DOT || d === 69) d = s.charCodeAt(++this.p);
    return this.p > start;
  }

  private skipString(): boolean {
    const s = this.s;
    this.p++;
    for (;;) {
      const c = s.charCodeAt(this.p++);
      if (c !== c) return false;
      if (c === QUOTE) return true;
      if (c === BACKSLASH) this.p++;
    }
  }
}

function missing(seen: number): string {
  const names: [number, string][] = [[F_EVENT, 'e'], [F_E, 'E'], [F_S, 's'], [F_U, 'U'], [F_LU, 'u'], [F_B, 'b'], [F_A, 'a']];
  return names.filter(([bit]) => (seen & bit) === 0).map(([, n]) => n).join(', ');
}
