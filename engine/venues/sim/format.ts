// Decimal strings the way Binance prints them: fixed 8 fraction digits ("61837.63000000", "0.02000000").
import { formatFixed } from '../../types/decimal.ts';
import { lotsToQty, ticksToPrice, type Instrument } from '../../types/instrument.ts';
import type { Lots, Ticks } from '../../types/price.ts';

/** Returns a plain decimal string padded (never truncated) to at least 8 fraction digits. */
export function pad8(s: string): string {
  const dot = s.indexOf('.');
  if (dot < 0) return `${s}.00000000`;
  const frac = s.length - dot - 1;
  return frac >= 8 ? s : s + '0'.repeat(8 - frac);
}

/** Returns a price in ticks as Binance prints it. */
export const fmtPx = (inst: Instrument, t: Ticks | number): string => pad8(ticksToPrice(inst, t as Ticks));
/** Returns a quantity in lots as Binance prints it. */
export const fmtQty = (inst: Instrument, l: Lots | number): string => pad8(lotsToQty(inst, l as Lots));
/** Returns a 1e-9 fixed-point amount (Money, balances, commissions) with at least 8 fraction digits. */
export const fmtMoney = (m: bigint): string => pad8(formatFixed(m));
/** Returns an exact decimal string (a Decimal's text) as Binance prints filter values. */
export const fmtDec = (mantissa: bigint, scale: number): string => pad8(formatFixed(mantissa, scale));
