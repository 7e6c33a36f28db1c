import { scanSteps, stepScanEnd } from './decimal-steps.ts';
import type { DepthGrid } from './parse-depth.ts';

const QUOTE = 34;
const BACKSLASH = 92;
const ZERO = 48;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const ENCODER = new TextEncoder();
const bytes = (s: string): Uint8Array => ENCODER.encode(s);

const ENVELOPE = bytes('{"stream":"');
const TICKER_U = bytes(',"data":{"u":');
const TRADE_E = bytes(',"data":{"e":"');
const TRADE = bytes('trade","E":');
const AGG_TRADE = bytes('aggTrade","E":');
const B_QTY = bytes('","B":"');
const A_PX = bytes('","a":"');
const A_QTY = bytes('","A":"');
const P_PX = bytes(',"p":"');
const Q_QTY = bytes('","q":"');
const QUOTE_T = bytes('","T":');
const QUOTE_F = bytes('","f":');
const L_ = bytes(',"l":');
const T_ = bytes(',"T":');
const M_ = bytes(',"m":');
const BIG_M = bytes(',"M":');
const TICKER_END = bytes('"}}');
const OBJECTS_END = bytes('}}');
const TRUE = bytes('true');
const FALSE = bytes('false');

/**
 * A byte-level parser of the exact combined-stream frames Binance spot sends for bookTicker
 * (`{"stream":…,"data":{"u":…,"s":…,"b":…,"B":…,"a":…,"A":…}}`), trade
 * (`…"data":{"e":"trade","E":…,"s":…,"t":…,"p":…,"q":…,"T":…,"m":…,"M":…}}`) and aggTrade
 * (`…"data":{"e":"aggTrade","E":…,"s":…,"a":…,"p":…,"q":…,"f":…,"l":…,"T":…,"m":…,"M":…}}`) of one symbol, straight
 * into integer ticks and lots (scanSteps, the depth parser's rule): no JSON.parse, no substrings.
 * It accepts only that layout with no blanks, no escapes, integers without sign, fraction, exponent or leading zero,
 * and values on the grid (off-grid quantities rounded as in DepthGrid). A frame it refuses is not judged: the caller
 * decodes it the general way, so odd input gets the same result and the same malformed reasons as before.
 */
export class TickerParser {
  /** bookTicker `u`. */
  updateId = 0;
  /** bookTicker `b`, `B`, `a`, `A` in ticks and lots. */
  bid = 0;
  bidLots = 0;
  ask = 0;
  askLots = 0;
  /** trade `t` (aggTrade `a`). */
  tradeId = 0;
  /** trade `T`: trade time, ms. */
  tradeTime = 0;
  /** trade `p` and `q` in ticks and lots. */
  price = 0;
  lots = 0;
  /** trade `m`. */
  buyerMaker = false;
  /** Whether the last frame `trade` accepted was an aggTrade (`tradeId` is then its aggregate id `a`). */
  isAgg = false;
  private b: Uint8Array;
  private p = 0;
  private n = 0;
  // `,"s":"<symbol>","b":"` and `,"s":"<symbol>","t":` etc.: the symbol check folded into the keys around it.
  private readonly tickerSym: Uint8Array;
  private readonly tradeSym: Uint8Array;
  private readonly aggSym: Uint8Array;

  /** Creates a parser of `venueSymbol`'s frames (others are refused) on the `grid`. */
  constructor(readonly grid: DepthGrid, venueSymbol: string) {
    this.b = new Uint8Array(512);
    const sym = JSON.stringify(venueSymbol);
    this.tickerSym = bytes(`,"s":${sym},"b":"`);
    this.tradeSym = bytes(`,"s":${sym},"t":`);
    this.aggSym = bytes(`,"s":${sym},"a":`);
  }

  /** Returns true and fills the bookTicker fields when `text` is exactly the spot bookTicker frame layout. */
  bookTicker(text: string): boolean {
    if (!this.load(text) || !this.envelope() || !this.lit(TICKER_U)) return false;
    const g = this.grid;
    const u = this.uint();
    if (u < 0 || !this.lit(this.tickerSym)) return false;
    const bid = this.steps(g.pxScale, g.pxMant, false);
    if (bid <= 0 || !this.lit(B_QTY)) return false;
    const round = g.qtyOffGrid === 'round';
    const bidLots = this.steps(g.qtyScale, g.qtyMant, round);
    if (bidLots < 0 || !this.lit(A_PX)) return false;
    const ask = this.steps(g.pxScale, g.pxMant, false);
    if (ask <= 0 || !this.lit(A_QTY)) return false;
    const askLots = this.steps(g.qtyScale, g.qtyMant, round);
    if (askLots < 0 || !this.lit(TICKER_END) || this.p !== this.n) return false;
    this.updateId = u;
    this.bid = bid;
    this.bidLots = bidLots;
    this.ask = ask;
    this.askLots = askLots;
    return true;
  }

  /**
   * Returns true and fills the trade fields when `text` is exactly the spot trade or aggTrade frame layout
   * (`isAgg` says which).
   */
  trade(text: string): boolean {
    if (!this.load(text) || !this.envelope() || !this.lit(TRADE_E)) return false;
    const agg = !this.lit(TRADE);
    if ((agg && !this.lit(AGG_TRADE)) || this.uint() < 0 || !this.lit(agg ? this.aggSym : this.tradeSym)) return false;
    const id = this.uint();
    const g = this.grid;
    if (id < 0 || !this.lit(P_PX)) return false;
    const price = this.steps(g.pxScale, g.pxMant, false);
    if (price <= 0 || !this.lit(Q_QTY)) return false;
    const lots = this.steps(g.qtyScale, g.qtyMant, g.qtyOffGrid === 'round');
    if (lots < 0) return false;
    if (agg) {
      // First and last trade ids: the decoder does not keep them, but they must be what the layout says.
      if (!this.lit(QUOTE_F) || this.uint() < 0 || !this.lit(L_) || this.uint() < 0 || !this.lit(T_)) return false;
    } else if (!this.lit(QUOTE_T)) return false;
    const time = this.uint();
    if (time < 0 || !this.lit(M_)) return false;
    const maker = this.bool();
    if (maker < 0 || !this.lit(BIG_M) || this.bool() < 0 || !this.lit(OBJECTS_END) || this.p !== this.n) return false;
    this.isAgg = agg;
    this.tradeId = id;
    this.price = price;
    this.lots = lots;
    this.tradeTime = time;
    this.buyerMaker = maker === 1;
    return true;
  }

  /** Copies the text's UTF-8 into the scratch buffer with a 0 sentinel (stale bytes lie beyond it). */
  private load(text: string): boolean {
    const need = text.length * 3 + 1; // UTF-8 needs at most 3 bytes per UTF-16 unit
    if (need > this.b.length) {
      if (text.length > 4096) return false; // no bookTicker or trade is this long
      this.b = new Uint8Array(Math.max(need, this.b.length * 2));
    }
    this.n = ENCODER.encodeInto(text, this.b).written;
    this.b[this.n] = 0;
    this.p = 0;
    return true;
  }

  /** Matches `{"stream":"<name>"`: any name a JSON string may hold without escapes. */
  private envelope(): boolean {
    if (!this.lit(ENVELOPE)) return false;
    const b = this.b;
    let p = this.p;
    let c = b[p]!;
    // Control characters (the 0 sentinel among them) are invalid in a JSON string; an escape needs the JSON path.
    while (c !== QUOTE) {
      if (c < 32 || c === BACKSLASH) return false;
      c = b[++p]!;
    }
    this.p = p + 1;
    return true;
  }

  /** Matches the bytes of `want` at p and moves past them. */
  private lit(want: Uint8Array): boolean {
    const b = this.b;
    const p = this.p;
    const len = want.length;
    if (p + len > this.n) return false;
    for (let i = 0; i < len; i++) if (b[p + i] !== want[i]) return false;
    this.p = p + len;
    return true;
  }

  /** Reads a JSON integer that is a safe non-negative integer in plain digits (no leading zero); else -1. */
  private uint(): number {
    const b = this.b;
    let p = this.p;
    let c = b[p]! - ZERO;
    if (!(c >= 0 && c <= 9)) return -1;
    const first = p;
    let v = 0;
    do {
      v = v * 10 + c;
      c = b[++p]! - ZERO;
    } while (c >= 0 && c <= 9);
    if (v > MAX_SAFE || (b[first] === ZERO && p - first > 1)) return -1;
    this.p = p;
    return v;
  }

  /** Reads a decimal string's digits (p just after its opening quote) as grid steps; -1 when refused. */
  private steps(scale: number, mant: number, round: boolean): number {
    const v = scanSteps(this.b, this.p, this.n, scale, mant, round);
    this.p = stepScanEnd();
    return v;
  }

  /** Reads `true` (1) or `false` (0); else -1. */
  private bool(): number {
    if (this.lit(TRUE)) return 1;
    return this.lit(FALSE) ? 0 : -1;
  }
}
