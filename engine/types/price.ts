import { parseDecimal, type Decimal, formatDecimal, formatFixed } from './decimal.ts';
import { ParseError } from './errors.ts';

/** A price as an integer count of the instrument's tick size; a safe integer, a fast Map key. */
export type Ticks = number & { readonly __unit: 'ticks' };
/** A quantity as an integer count of the instrument's lot (step) size. */
export type Lots = number & { readonly __unit: 'lots' };

/**
 * Returns how many `step`s the decimal string `value` holds; throws ParseError when it is not a whole multiple
 * (`rounding` 'exact'), or drops the part below one step ('towardZero': for caps, which must not grow).
 */
export function toSteps(value: string, step: Decimal, what: 'price' | 'quantity' = 'price', rounding: 'exact' | 'towardZero' = 'exact'): number {
  const v = parseDecimal(value);
  if (step.mantissa <= 0n) throw new ParseError(`step '${formatFixed(step.mantissa, step.scale)}' must be positive`);
  const scale = Math.max(v.scale, step.scale);
  const num = v.mantissa * 10n ** BigInt(scale - v.scale);
  const den = step.mantissa * 10n ** BigInt(scale - step.scale);
  if (rounding === 'exact' && num % den !== 0n) {
    throw new ParseError(`${what} ${value} is not a multiple of ${what === 'price' ? 'tick' : 'lot'} ${formatFixed(step.mantissa, step.scale)}`);
  }
  const q = num / den;
  if (q > BigInt(Number.MAX_SAFE_INTEGER) || q < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ParseError(`${what} ${value} is out of range for step ${formatFixed(step.mantissa, step.scale)}`);
  }
  return Number(q);
}

/** Returns the decimal string for `steps` whole steps of `step` (exact). */
export function fromSteps(steps: number, step: Decimal): string {
  return formatFixed(BigInt(steps) * step.mantissa, step.scale);
}

/**
 * Returns `fromSteps` with the step's fraction digits kept (tick 0.01: 268520 -> '2685.20'; lot 0.0001: 0 -> '0.0000'),
 * exactly: report columns that line up.
 */
export function formatSteps(steps: number, step: Decimal): string {
  const [int, frac = ''] = fromSteps(steps, step).split('.');
  const digits = formatDecimal(step).split('.')[1]?.length ?? 0;
  return digits === 0 ? int! : `${int}.${frac.padEnd(digits, '0')}`;
}

/** Returns a float price or size for display and features only. */
export function stepsToFloat(steps: number, step: Decimal): number {
  return (steps * Number(step.mantissa)) / 10 ** step.scale;
}

/**
 * Returns the nearest whole step count for a float that came from an API which gives only floats (ccxt unified
 * structures); throws when the result is not a safe integer. Use once at the boundary.
 */
export function floatToSteps(x: number, step: Decimal): number {
  const n = Math.round((x * 10 ** step.scale) / Number(step.mantissa));
  if (!Number.isSafeInteger(n)) throw new ParseError(`value ${x} does not map to a safe integer of step ${fromSteps(1, step)}`);
  return n;
}
