// Sizes against the RiskManager's own pre-trade check: a size from fixedFractionLots / volatilityScaledLots with the
// caps capsFor builds from the limits and the account is approved by checkIntent, and one lot more is denied or over
// the sizing rule's own budget (reviewer findings on sizing.ts: cash and fee reserve, notional rounding past 1e-9,
// exposure of a base remainder).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkIntent, createRiskState, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { equity, exposure, lot9 } from '../../../actors/risk-manager/positions.ts';
import { capsFor, fixedFractionLots, volatilityScaledLots, type SizingCaps } from '../../../actors/risk-manager/sizing.ts';
import type { OrderIntent } from '../../../engine/messages/orders.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { intentId } from '../../../engine/types/ids.ts';
import { makeInstrument, notional, type Instrument, type InstrumentSpec } from '../../../engine/types/instrument.ts';
import { money, type Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { ETH, ETH_PX, limits } from './helpers.ts';

const PX = ETH_PX.t1520543125; // 2680.17: one lot (0.0001 ETH) is worth 0.268017 USDT

/** Returns a risk state holding `held` lots (plus `remainder9` base units under one lot) of `inst`, marked at `mark`. */
function stateWith(l: RiskLimits, inst: Instrument, cash: Money, mark: Ticks, held = 0, remainder9 = 0n): RiskState {
  const base9 = BigInt(held) * lot9(inst) + remainder9;
  const positions = base9 > 0n ? { [inst.symbol]: { lots: held as Lots, cost: notional(inst, mark, held as Lots), base9 } } : {};
  const s = createRiskState({ limits: l, instruments: [inst], cash, positions });
  return { ...s, marks: { [inst.symbol]: mark } };
}

/** Returns the caps the Orchestrator builds: limits, the lots held, cash and every holding at its mark. */
function capsOf(s: RiskState, symbol: string): SizingCaps {
  const held = s.portfolio.positions[symbol]?.lots ?? (0 as Lots);
  return capsFor(s.limits, symbol, held, { cash: s.portfolio.cash, exposure: exposure(s.portfolio, s.instruments, s.marks) });
}

let seq = 0;
const buy = (inst: Instrument, n: number, price?: Ticks): OrderIntent => ({
  id: intentId(`size-${++seq}`), symbol: inst.symbol, side: 'buy', lots: n as Lots, timeInForce: 'IOC', reduceOnly: false, reason: 'sizing', ts: 0,
  ...(price === undefined ? { orderType: 'market' as const } : { orderType: 'limit' as const, price }),
});

describe('sizing against the cash checkIntent requires', () => {
  // Reviewer's case: the default 1000 USDT order cap on a 600 USDT account, volatility sizing at 2% risk.
  const l = limits({ maxOrderNotional: money('1000'), maxPositionNotional: money('5000'), maxExposure: money('5000'), feeReserveBps: 10, symbols: {} });
  const s = stateWith(l, ETH, money('600'), PX);

  it.each([
    // 600 · 10 000 / 10 010 = 599.40 USDT → 2236 lots = 599.286 + 0.600 reserve; 2237 lots needs 600.154
    ['a volatility buy at 2% vol (risk 12 → 600 USDT wanted)', () => volatilityScaledLots(ETH, money('12'), PX, 0.02, capsOf(s, 'ETH/USDT')), 2236],
    ['a volatility buy at 1% vol (1200 USDT wanted, order cap 1000)', () => volatilityScaledLots(ETH, money('12'), PX, 0.01, capsOf(s, 'ETH/USDT')), 2236],
    ['a fixed-fraction buy of the whole equity (fraction 1)', () => fixedFractionLots(ETH, money('600'), 10_000, PX, capsOf(s, 'ETH/USDT')), 2236],
  ] as const)('sizes %s to what cash covers with the fee reserve', (_name, size, want) => {
    const n = size();

    expect(n).toBe(want);
    expect(checkIntent(s, buy(ETH, n, PX), ETH, 0)).toEqual({ ok: true });
    expect(checkIntent(s, buy(ETH, n + 1, PX), ETH, 0)).toMatchObject({ ok: false, reason: { code: 'INSUFFICIENT_BALANCE' } });
  });

  it('sizes nothing when cash does not cover the minimum notional with its reserve', () => {
    expect(fixedFractionLots(ETH, money('10000'), 1_000, PX, capsOf(stateWith(l, ETH, money('5'), PX), 'ETH/USDT'))).toBe(0);
  });
});

describe('sizing against the exposure checkIntent values at the marks', () => {
  it('leaves room for a base remainder under one lot that a round trip with base-asset fees left', () => {
    // maxExposure = maxPositionNotional as app/risk-limits.ts sets it; 76 600 base units (0.0000766 ETH) held, 0 lots.
    const l = limits({ maxOrderNotional: money('5000'), maxPositionNotional: money('5000'), maxExposure: money('5000'), feeReserveBps: 10, symbols: {} });
    const s = stateWith(l, ETH, money('10000'), PX, 0, 76_600n);
    const n = fixedFractionLots(ETH, equity(s.portfolio, s.instruments, s.marks), 10_000, PX, capsOf(s, 'ETH/USDT'));

    // 5000 − 0.205 held = 4999.79 USDT of room → 18 654 lots (the position cap alone allows 18 655)
    expect(n).toBe(18_654);
    expect(checkIntent(s, buy(ETH, n), ETH, 0)).toEqual({ ok: true });
    expect(checkIntent(s, buy(ETH, n + 1), ETH, 0)).toMatchObject({ ok: false, reason: { code: 'EXPOSURE_LIMIT' } });
  });

  it('values the holdings at the mark and the order at its own price', () => {
    const l = limits({ maxOrderNotional: money('5000'), maxPositionNotional: money('50000'), maxExposure: money('3000'), feeReserveBps: 0, symbols: {} });
    const mark = 270000 as Ticks; // 2700.00; the limit below is 2680.17
    const s = stateWith(l, ETH, money('100000'), mark, 5_000); // 0.5 ETH = 1350 USDT at the mark
    const n = fixedFractionLots(ETH, money('100000'), 10_000, PX, capsOf(s, 'ETH/USDT'));

    expect(n).toBe(6_156); // 1650 USDT of room at 0.268017 per lot
    expect(checkIntent(s, buy(ETH, n, PX), ETH, 0)).toEqual({ ok: true });
    expect(checkIntent(s, buy(ETH, n + 1, PX), ETH, 0)).toMatchObject({ ok: false, reason: { code: 'EXPOSURE_LIMIT' } });
  });
});

describe('sizing where tick and lot decimals add up to more than 9', () => {
  // MEXC micro-caps: one lot can be worth less than 1e-9 quote, and notional rounds only the whole order.
  const tiny = makeInstrument({ symbol: 'BTTC/USDT', venue: 'mexc', tickSize: '0.0000000001', lotSize: '1', minNotional: '1' });
  const cent = makeInstrument({ symbol: 'Y/USDT', venue: 'mexc', tickSize: '0.00000001', lotSize: '0.01', minNotional: '1' });
  const open = (over: Partial<RiskLimits> = {}): RiskLimits =>
    limits({ maxOrderNotional: money('100'), maxPositionNotional: money('1000'), maxExposure: money('1000'), feeReserveBps: 0, symbols: {}, ...over });

  it.each([
    // 0.0000007001 USDT per lot: 142 836 737 lots are 99.9999996 USDT; the per-lot value rounded to 0.0000007 gave
    // 142 857 142 lots, 100.0143 USDT
    ['7001 ticks of 1e-10, lot 1, against the order cap', tiny, 7001 as Ticks, open(), 0, 142_836_737, 'NOTIONAL_EXCEEDS_MAX'],
    // 5 ticks: 5e-10 per lot; rounded to 1e-9 per lot, it sized half of this
    ['5 ticks of 1e-10, lot 1, against the order cap', tiny, 5 as Ticks, open(), 0, 200_000_000_000, 'NOTIONAL_EXCEEDS_MAX'],
    // 4 ticks: 4e-10 per lot, 0 rounded to 1e-9 (a division by zero); 250 000 000 001 lots are 100.0000000004 USDT,
    // which notional rounds to 100
    ['4 ticks of 1e-10, lot 1, against the order cap', tiny, 4 as Ticks, open(), 0, 250_000_000_001, 'NOTIONAL_EXCEEDS_MAX'],
    // 123 457 ticks × 0.01 = 0.0000123457 USDT per lot; 32 400 106 lots held are 400.0020 USDT, 80 999 862 lots
    // 999.999996; rounded to 0.000012346 per lot, it sized 48 598 575
    // 17 ticks: 1.7e-9 per lot. checkIntent values the position after the fill as one notional: the held lots' rounded
    // value plus the order's allowed one lot more (387 930 220 409), 1000.000000001 USDT as one
    ['17 ticks of 1e-10, lot 1, against the position cap', tiny, 17 as Ticks, open({ maxOrderNotional: money('5000') }), 200_305_073_709, 387_930_220_408, 'POSITION_NOTIONAL_LIMIT'],
    ['1e-8 ticks, lot 0.01, against the position cap', cent, 123_457 as Ticks, open({ maxOrderNotional: money('5000') }), 32_400_106, 48_599_756, 'POSITION_NOTIONAL_LIMIT'],
  ] as const)('sizes %s exactly to the cap', (_name, inst, price, l, held, want, code) => {
    const s = stateWith(l, inst, money('100000'), price, held);
    const n = fixedFractionLots(inst, money('100000'), 10_000, price, capsOf(s, inst.symbol));

    expect(n).toBe(want);
    expect(checkIntent(s, buy(inst, n, price), inst, 0)).toEqual({ ok: true });
    expect(checkIntent(s, buy(inst, n + 1, price), inst, 0)).toMatchObject({ ok: false, reason: { code } });
  });
});

// Property: any size is what checkIntent approves (or 0), and the largest such within the rule's budget.
describe('sized buys against checkIntent (property)', () => {
  const specs: readonly (InstrumentSpec & { readonly px: readonly [number, number] })[] = [
    { symbol: 'ETH/USDT', venue: 'binance', tickSize: '0.01', lotSize: '0.0001', minNotional: '5', px: [150_000, 400_000] },
    { symbol: 'BTC/USDT', venue: 'binance', tickSize: '0.01', lotSize: '0.00001', minNotional: '5', px: [5_000_000, 12_000_000] },
    { symbol: 'SHIB/USDT', venue: 'binance', tickSize: '0.00000001', lotSize: '1', minNotional: '5', px: [800, 3_000] },
    { symbol: 'BTTC/USDT', venue: 'mexc', tickSize: '0.0000000001', lotSize: '1', minNotional: '1', px: [1, 12_000] },
    { symbol: 'Y/USDT', venue: 'mexc', tickSize: '0.00000001', lotSize: '0.01', minNotional: '1', px: [1, 999_999] },
  ];
  const insts = specs.map(makeInstrument);
  // Unbiased: fast-check's default bias toward small values would leave most caps under the minimum notional.
  const usdt = (lo: number, hi: number) => fc.noBias(fc.bigInt({ min: BigInt(lo) * 1_000_000_000n, max: BigInt(hi) * 1_000_000_000n }));
  const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
  const MAX = Number.MAX_SAFE_INTEGER;

  /** Returns the largest n in [0, hi] for which `ok` holds (ok(0) holds, and ok fails from some n on). */
  const largest = (hi: number, ok: (n: number) => boolean): number => {
    let lo = 0;
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      if (ok(mid)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };

  it('sizes every buy to the largest size checkIntent approves within the sizing budget, or 0', () => {
    fc.assert(fc.property(
      fc.record({
        i: fc.integer({ min: 0, max: insts.length - 1 }),
        at: fc.noBias(fc.double({ min: 0, max: 1, noNaN: true })),
        markBps: fc.integer({ min: -100, max: 100 }),
        market: fc.boolean(),
        maxOrder: usdt(1, 5_000),
        maxPosition: usdt(1, 20_000),
        maxExposure: usdt(1, 25_000),
        orderLotsValue: maybe(usdt(1, 5_000)), // lot caps, as what they are worth at the price
        positionLotsValue: maybe(usdt(1, 20_000)),
        feeReserveBps: fc.noBias(fc.integer({ min: 0, max: 200 })),
        cash: usdt(0, 20_000),
        heldValue: maybe(usdt(0, 10_000)),
        remainder: maybe(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true })), // of one lot, held beside the lots
        rule: fc.oneof(
          fc.record({ kind: fc.constant('fraction' as const), bps: fc.noBias(fc.integer({ min: 1, max: 10_000 })) }),
          fc.record({ kind: fc.constant('volatility' as const), bps: fc.noBias(fc.integer({ min: 1, max: 500 })), vol: fc.double({ min: 0.0005, max: 0.05, noNaN: true }) }),
        ),
      }),
      (c) => {
        const inst = insts[c.i]!;
        const [lo, hi] = specs[c.i]!.px;
        const price = Math.round(lo + c.at * (hi - lo)) as Ticks;
        const mark = Math.max(1, Math.round((price * (10_000 + c.markBps)) / 10_000)) as Ticks;
        const sym = inst.symbol;
        const lotsWorth = (v: bigint | undefined): Lots | undefined =>
          v === undefined ? undefined : (Math.max(1, largest(MAX - 1, (k) => notional(inst, price, k as Lots) <= v)) as Lots);
        const symbolLimits = { maxOrderLots: lotsWorth(c.orderLotsValue), maxPositionLots: lotsWorth(c.positionLotsValue) };
        const l = limits({
          maxOrderNotional: c.maxOrder as Money, maxPositionNotional: c.maxPosition as Money, maxExposure: c.maxExposure as Money,
          feeReserveBps: c.feeReserveBps, maxSubmitsPerSecond: 1_000, symbols: { [sym]: symbolLimits },
        });
        const held = c.heldValue === undefined ? 0 : largest(MAX - 1, (k) => notional(inst, mark, k as Lots) <= c.heldValue!);
        const s = stateWith(l, inst, c.cash as Money, mark, held, BigInt(Math.floor((c.remainder ?? 0) * Number(lot9(inst)))));
        const sizeAt = c.market ? mark : price;
        const caps = capsOf(s, sym);
        const eq = equity(s.portfolio, s.instruments, s.marks);
        const budget = c.rule.kind === 'fraction'
          ? (eq * BigInt(c.rule.bps)) / 10_000n
          : (((eq * BigInt(c.rule.bps)) / 10_000n) * 1_000_000_000n) / BigInt(Math.round(c.rule.vol * 1e9));
        const n = c.rule.kind === 'fraction'
          ? fixedFractionLots(inst, eq, c.rule.bps, sizeAt, caps)
          : volatilityScaledLots(inst, ((eq * BigInt(c.rule.bps)) / 10_000n) as Money, sizeAt, c.rule.vol, caps);
        const order = (k: number): OrderIntent => buy(inst, k, c.market ? undefined : price);

        // The reference: every cap checkIntent applies (its min-notional check aside) and the rule's budget, by search.
        const noMin = { ...inst, minNotional: 0n as Money };
        const wanted = largest(MAX - 1, (k) => notional(inst, sizeAt, k as Lots) <= budget);
        const fits = largest(wanted, (k) => k === 0 || checkIntent(s, order(k), noMin, 0).ok);
        const want = fits > 0 && notional(inst, sizeAt, fits as Lots) >= inst.minNotional ? fits : 0;

        expect(n).toBe(want);
        if (n > 0) {
          expect(checkIntent(s, order(n), inst, 0)).toEqual({ ok: true });
          const more = checkIntent(s, order(n + 1), inst, 0);
          expect(!more.ok || notional(inst, sizeAt, (n + 1) as Lots) > budget).toBe(true);
        }
      },
    ), { numRuns: 400, seed: 20260121 });
  });
});

