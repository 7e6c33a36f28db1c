import { ParseError } from './errors.ts';

/** Fixed-point scale of `Money` and `parseFixed`: 1e-9 units (Nautilus FIXED_PRECISION = 9). */
export const FIXED_SCALE = 9;
const SCALE_POW = 10n ** BigInt(FIXED_SCALE);

const DECIMAL_RE = /^(-?)(\d+)(?:\.(\d+))?$/;

/** An exact decimal: `mantissa * 10^-scale`. */
export interface Decimal {
  readonly mantissa: bigint;
  readonly scale: number;
}

/** Returns the exact value of a plain decimal string such as `"61234.56000000"`; throws ParseError otherwise. */
export function parseDecimal(s: string): Decimal {
  const m = DECIMAL_RE.exec(s);
  if (!m) throw new ParseError(`invalid decimal '${s}'`);
  const frac = m[3] ?? '';
  const v = BigInt(m[2] + frac);
  return { mantissa: m[1] ? -v : v, scale: frac.length };
}

/** Returns the decimal string `s` in 1e-9 units exactly; throws ParseError for more than 9 significant fraction digits. */
export function parseFixed(s: string): bigint {
  const d = parseDecimal(s);
  return rescale(d, FIXED_SCALE, s);
}

/** Returns `d` at `scale` digits, throwing when that would drop non-zero digits. */
export function rescale(d: Decimal, scale: number, what = formatDecimal(d)): bigint {
  if (d.scale <= scale) return d.mantissa * 10n ** BigInt(scale - d.scale);
  const div = 10n ** BigInt(d.scale - scale);
  if (d.mantissa % div !== 0n) throw new ParseError(`decimal '${what}' has more than ${scale} fraction digits`);
  return d.mantissa / div;
}

/** Returns the plain decimal string of `v` in 10^-scale units, without trailing zeros (`"0.1"`, `"-2"`). */
export function formatFixed(v: bigint, scale = FIXED_SCALE): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const pow = 10n ** BigInt(scale);
  const int = a / pow;
  let frac = scale > 0 ? (a % pow).toString().padStart(scale, '0').replace(/0+$/, '') : '';
  const body = frac ? `${int}.${frac}` : `${int}`;
  return neg && a !== 0n ? `-${body}` : body;
}

/** Returns the plain decimal string of `d`. */
export function formatDecimal(d: Decimal): string {
  return formatFixed(d.mantissa, d.scale);
}

/** Returns a float approximation of a fixed-point value, for display, features and statistics only. */
export function fixedToFloat(v: bigint, scale = FIXED_SCALE): number {
  const pow = 10n ** BigInt(scale);
  const int = v / pow;
  const frac = v % pow;
  return Number(int) + Number(frac) / Number(pow);
}

/** Returns `a * b / 10^scale` rounded half away from zero; the product of two fixed-point values. */
export function mulFixed(a: bigint, b: bigint, scale = FIXED_SCALE): bigint {
  return divRound(a * b, 10n ** BigInt(scale));
}

/** Returns `a * 10^scale / b` rounded half away from zero; the quotient of two fixed-point values. */
export function divFixed(a: bigint, b: bigint, scale = FIXED_SCALE): bigint {
  if (b === 0n) throw new RangeError('division by zero');
  return divRound(a * 10n ** BigInt(scale), b);
}

/** Returns n / d rounded half away from zero. */
export function divRound(n: bigint, d: bigint): bigint {
  if (d === 0n) throw new RangeError('division by zero');
  const q = n / d;
  const r = n % d;
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  const absD = d < 0n ? -d : d;
  if (twice >= absD) return (n < 0n) !== (d < 0n) ? q - 1n : q + 1n;
  return q;
}

export { SCALE_POW as FIXED_ONE };
