import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { divRound, formatFixed, mulFixed, parseDecimal, parseFixed } from '../../../engine/types/decimal.ts';
import { ParseError } from '../../../engine/types/errors.ts';
import { toSteps, fromSteps } from '../../../engine/types/price.ts';
import { makeInstrument, notional, priceToTicks, qtyToLots, qtyToLotsFloor, ticksToPrice } from '../../../engine/types/instrument.ts';
import { addMoney, money, subMoney, formatMoney } from '../../../engine/types/money.ts';

describe('decimal parsing', () => {
  it.each([
    ['61234.56000000', 61234560000000n],
    ['0.00000001', 10n],
    ['-2.5', -2500000000n],
    ['0', 0n],
  ])('parses %s exactly', (s, v) => {
    expect(parseFixed(s)).toBe(v);
  });

  it.each(['1e-8', 'NaN', '', '1.2.3', ' 1', '+1', '0.0000000001'])('refuses %j with ParseError', (s) => {
    expect(() => parseFixed(s)).toThrow(ParseError);
  });

  it('round-trips any fixed value through its string', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (v) => parseFixed(formatFixed(v)) === v));
  });

  it('adds and subtracts money without drift', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), (a, b) => {
      const ma = a as ReturnType<typeof money>;
      const mb = b as ReturnType<typeof money>;
      return subMoney(addMoney(ma, mb), mb) === ma;
    }));
    let sum = money('0');
    for (let i = 0; i < 10; i++) sum = addMoney(sum, money('0.1'));
    expect(formatMoney(sum)).toBe('1');
  });

  it('rounds half away from zero', () => {
    expect(divRound(5n, 2n)).toBe(3n);
    expect(divRound(-5n, 2n)).toBe(-3n);
    expect(divRound(4n, 3n)).toBe(1n);
    expect(mulFixed(parseFixed('1.5'), parseFixed('2'))).toBe(parseFixed('3'));
  });
});

describe('ticks and lots', () => {
  const eth = makeInstrument({ symbol: 'ETH/USDT', venue: 'binance', tickSize: '0.01000000', lotSize: '0.00010000', minNotional: '5.00000000' });

  it('converts venue strings to integer ticks and lots and back', () => {
    expect(priceToTicks(eth, '2678.91000000')).toBe(267891);
    expect(qtyToLots(eth, '1.23450000')).toBe(12345);
    expect(ticksToPrice(eth, priceToTicks(eth, '2678.91'))).toBe('2678.91');
  });

  it('names the price and tick when a price is off the tick grid', () => {
    expect(() => priceToTicks(eth, '101.005')).toThrow('price 101.005 is not a multiple of tick 0.01');
  });

  it('round-trips any step count', () => {
    const step = parseDecimal('0.00001');
    fc.assert(fc.property(fc.integer({ min: -1e12, max: 1e12 }), (n) => toSteps(fromSteps(n, step), step) === n));
  });

  it.each([
    ['0.5', 5000], ['0.50009', 5000], ['0.00009999', 0], ['1.23450000', 12345], ['0', 0], ['7', 70_000],
  ])('turns the cap %s into %i whole lots, rounded down', (qty, lots) => {
    expect(qtyToLotsFloor(eth, qty)).toBe(lots);
  });

  it('rounds down to the lot below: n lots plus less than one lot is n lots', () => {
    // In 1e-9 units the lot 0.0001 is 100,000.
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 0, max: 99_999 }), (n, part) =>
      qtyToLotsFloor(eth, formatFixed(BigInt(n) * 100_000n + BigInt(part), 9)) === n));
  });

  it('refuses a negative cap', () => {
    expect(() => qtyToLotsFloor(eth, '-0.5')).toThrow('quantity -0.5 is negative');
  });

  it('computes notional exactly in money units', () => {
    expect(formatMoney(notional(eth, priceToTicks(eth, '2678.91'), qtyToLots(eth, '0.5')))).toBe('1339.455');
  });
});
