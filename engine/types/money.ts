import { FIXED_ONE, fixedToFloat, formatFixed, mulFixed, parseFixed } from './decimal.ts';

/** Money in 1e-9 units of the quote currency. Balances, notional, PnL, fees and risk limits use it. */
export type Money = bigint & { readonly __unit: 'money9' };

/** Returns Money from an exact decimal string such as `"12.5"`. */
export function money(s: string): Money {
  return parseFixed(s) as Money;
}

/** Returns Money from a raw 1e-9 unit count. */
export function moneyRaw(units: bigint): Money {
  return units as Money;
}

/** Zero money. */
export const ZERO_MONEY = 0n as Money;
/** One unit of currency as Money. */
export const ONE_MONEY = FIXED_ONE as Money;

/** Returns a + b. */
export const addMoney = (a: Money, b: Money): Money => (a + b) as Money;
/** Returns a - b. */
export const subMoney = (a: Money, b: Money): Money => (a - b) as Money;
/** Returns -a. */
export const negMoney = (a: Money): Money => -a as Money;
/** Returns a scaled by a fixed-point rate in 1e-9 units (a fee rate of 0.1% is 1_000_000n). */
export const mulMoneyRate = (a: Money, rate9: bigint): Money => mulFixed(a, rate9) as Money;
/** Returns the exact decimal string. */
export const formatMoney = (a: Money): string => formatFixed(a);
/** Returns a float for display and statistics only. */
export const moneyToFloat = (a: Money): number => fixedToFloat(a);
