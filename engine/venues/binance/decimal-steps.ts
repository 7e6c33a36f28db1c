// The byte-level decimal-to-grid conversion shared by the depth parser and the bookTicker/trade parser, so every
// frame kind turns a decimal string into ticks or lots by one rule.

const QUOTE = 34;
const DOT = 46;
const ZERO = 48;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
// 10^k for k <= 18 (grid scales); exact as doubles up to 10^22.
const POW10 = Array.from({ length: 19 }, (_, k) => 10 ** k);

/** `scanSteps` result: the text is not a plain non-negative decimal (`\d+(\.\d+)?` ended by a quote or the end). */
export const STEPS_NOT_DECIMAL = -1;
/** `scanSteps` result: the value is beyond the safe integer range in the step's scale. */
export const STEPS_OUT_OF_RANGE = -2;
/** `scanSteps` result: the value is not a multiple of the step and rounding was not asked for. */
export const STEPS_OFF_GRID = -3;

// Where the last scanSteps call stopped and whether it rounded: module-level slots written by every call (a record
// passed in or returned would cost an allocation or a slower store per number on the depth hot path).
let scanEnd = 0;
let scanRounded = false;
/** Returns where the last `scanSteps` stopped: the byte after the number, or the offending byte. */
export const stepScanEnd = (): number => scanEnd;
/** Returns whether the last `scanSteps` rounded an off-grid value onto the grid. */
export const stepScanRounded = (): boolean => scanRounded;

/**
 * Returns the decimal at `b[p..]` as a count of steps `mant * 10^-scale`, or a negative STEPS_* code.
 * The number must be `\d+(\.\d+)?` followed by a quote or by `n` (the end of the text). A value off the grid is
 * rounded half-up (never down to 0) when `roundOffGrid`, else refused. `b[n]` must be readable (a 0 sentinel).
 */
export function scanSteps(b: Uint8Array, p: number, n: number, scale: number, mant: number, roundOffGrid: boolean): number {
  scanRounded = false;
  let c = b[p]! - ZERO;
  if (!(c >= 0 && c <= 9)) {
    scanEnd = p;
    return STEPS_NOT_DECIMAL;
  }
  let v = 0;
  do {
    v = v * 10 + c;
    c = b[++p]! - ZERO;
  } while (c >= 0 && c <= 9);
  let frac = 0;
  let firstExtra = -1; // first fraction digit beyond `scale`
  let extraNonzero = false;
  if (c === DOT - ZERO) {
    c = b[++p]! - ZERO;
    if (!(c >= 0 && c <= 9)) {
      scanEnd = p;
      return STEPS_NOT_DECIMAL;
    }
    // Digits within the step's scale, then the rest (which must be zeros for a value on the grid).
    while (frac < scale && c >= 0 && c <= 9) {
      v = v * 10 + c;
      frac++;
      c = b[++p]! - ZERO;
    }
    if (c >= 0 && c <= 9) {
      firstExtra = c;
      do {
        if (c !== 0) extraNonzero = true;
        c = b[++p]! - ZERO;
      } while (c >= 0 && c <= 9);
    }
  }
  scanEnd = p;
  // Only the closing quote (or the end of the text: a lone decimal, or a truncated frame) may end the number.
  if (c !== QUOTE - ZERO && p < n) return STEPS_NOT_DECIMAL;
  if (frac < scale) v *= POW10[scale - frac]!;
  if (v > MAX_SAFE) return STEPS_OUT_OF_RANGE;
  let r = 0;
  if (mant !== 1) {
    r = v % mant;
    v = (v - r) / mant;
  }
  if (r === 0 && !extraNonzero) return v;
  if (!roundOffGrid) return STEPS_OFF_GRID;
  // Round half-up; 2r + adj >= mant decides (adj stands for the dropped digits: 1 when they are >= .5, else 0.5).
  const adj = extraNonzero ? (firstExtra >= 5 ? 1 : 0.5) : 0;
  if (2 * r + adj >= mant) v++;
  if (v === 0) v = 1; // a non-zero size must not become a deletion
  scanRounded = true;
  return v;
}
