import { divRound, FIXED_SCALE, parseDecimal, type Decimal } from './decimal.ts';
import { ParseError } from './errors.ts';
import type { Money } from './money.ts';
import { fromSteps, stepsToFloat, toSteps, type Lots, type Ticks } from './price.ts';

/** Identifies a venue. */
export type VenueId = 'binance' | 'binance-usdm' | 'mexc' | 'paper' | 'replay' | 'sim';

/** A tradable market on one venue, with the venue's own increments kept as exact decimals. */
export interface Instrument {
  /** ccxt unified symbol, e.g. `ETH/USDT`. */
  readonly symbol: string;
  /** The venue's own id, e.g. `ETHUSDT`. */
  readonly venueSymbol: string;
  readonly venue: VenueId;
  readonly base: string;
  readonly quote: string;
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
  /** Minimum order notional in quote currency. */
  readonly minNotional: Money;
}

/** Raw increments as the venue prints them (strings, never floats: `String(1e-8)` is `'1e-8'`). */
export interface InstrumentSpec {
  symbol: string;
  venueSymbol?: string;
  venue: VenueId;
  tickSize: string;
  lotSize: string;
  minNotional: string;
}

/** Returns an Instrument from its raw string increments; throws ParseError naming the bad field. */
export function makeInstrument(spec: InstrumentSpec): Instrument {
  const [base, quote] = spec.symbol.split('/');
  if (!base || !quote) throw new ParseError(`symbol '${spec.symbol}' is not in unified BASE/QUOTE form`);
  const tickSize = parseDecimal(spec.tickSize);
  const lotSize = parseDecimal(spec.lotSize);
  if (tickSize.mantissa <= 0n) throw new ParseError(`tickSize '${spec.tickSize}' of ${spec.symbol} must be positive`);
  if (lotSize.mantissa <= 0n) throw new ParseError(`lotSize '${spec.lotSize}' of ${spec.symbol} must be positive`);
  const mn = parseDecimal(spec.minNotional);
  return {
    symbol: spec.symbol,
    venueSymbol: spec.venueSymbol ?? `${base}${quote}`,
    venue: spec.venue,
    base,
    quote,
    tickSize,
    lotSize,
    minNotional: toMoney9(mn),
  };
}

function toMoney9(d: Decimal): Money {
  return (d.scale <= FIXED_SCALE
    ? d.mantissa * 10n ** BigInt(FIXED_SCALE - d.scale)
    : divRound(d.mantissa, 10n ** BigInt(d.scale - FIXED_SCALE))) as Money;
}

/** Returns the price string as ticks of `inst`; throws when not a multiple of the tick size. */
export const priceToTicks = (inst: Instrument, price: string): Ticks => toSteps(price, inst.tickSize, 'price') as Ticks;
/** Returns the quantity string as lots of `inst`; throws when not a multiple of the lot size. */
export const qtyToLots = (inst: Instrument, qty: string): Lots => toSteps(qty, inst.lotSize, 'quantity') as Lots;
/**
 * Returns the quantity string as whole lots of `inst`, rounded down: for caps, which must not grow when a venue's lot
 * does not divide them. Throws ParseError for a negative quantity or more lots than a safe integer.
 */
export function qtyToLotsFloor(inst: Instrument, qty: string): Lots {
  // Toward zero is down for the non-negative quantities a cap can be.
  if (parseDecimal(qty).mantissa < 0n) throw new ParseError(`quantity ${qty} is negative`);
  return toSteps(qty, inst.lotSize, 'quantity', 'towardZero') as Lots;
}
/** Returns the exact price string of `ticks`. */
export const ticksToPrice = (inst: Instrument, ticks: Ticks): string => fromSteps(ticks, inst.tickSize);
/** Returns the exact quantity string of `lots`. */
export const lotsToQty = (inst: Instrument, lots: Lots): string => fromSteps(lots, inst.lotSize);
/** Returns a float price for display and features. */
export const ticksToFloat = (inst: Instrument, ticks: Ticks): number => stepsToFloat(ticks, inst.tickSize);
/** Returns a float quantity for display and features. */
export const lotsToFloat = (inst: Instrument, lots: Lots): number => stepsToFloat(lots, inst.lotSize);

/** Returns price × quantity as Money (rounded half away from zero at 1e-9). */
export function notional(inst: Instrument, ticks: Ticks, lots: Lots): Money {
  const raw = BigInt(ticks) * inst.tickSize.mantissa * BigInt(lots) * inst.lotSize.mantissa;
  const scale = inst.tickSize.scale + inst.lotSize.scale;
  return (scale <= FIXED_SCALE
    ? raw * 10n ** BigInt(FIXED_SCALE - scale)
    : divRound(raw, 10n ** BigInt(scale - FIXED_SCALE))) as Money;
}

/** Returns a money value expressed in price ticks of `inst` (rounded), e.g. for converting a price offset. */
export function moneyToTicks(inst: Instrument, m: Money): Ticks {
  const tick9 = inst.tickSize.scale <= FIXED_SCALE
    ? inst.tickSize.mantissa * 10n ** BigInt(FIXED_SCALE - inst.tickSize.scale)
    : divRound(inst.tickSize.mantissa, 10n ** BigInt(inst.tickSize.scale - FIXED_SCALE));
  return Number(divRound(m, tick9)) as Ticks;
}

/**
 * Instruments of the bundled recordings (Binance spot increments on 2024-08-08). A config's `instruments` adds others or
 * replaces these (engine/config instrumentSpecsOf); tests and benchmarks read this table directly.
 */
export const BINANCE_SPOT_DEFAULTS: Record<string, InstrumentSpec> = {
  'BTC/USDT': { symbol: 'BTC/USDT', venue: 'binance', tickSize: '0.01', lotSize: '0.00001', minNotional: '5' },
  'ETH/USDT': { symbol: 'ETH/USDT', venue: 'binance', tickSize: '0.01', lotSize: '0.0001', minNotional: '5' },
};
