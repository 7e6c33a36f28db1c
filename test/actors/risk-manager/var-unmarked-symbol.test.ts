// A held symbol without marks in an interval must not count as a flat part of the book: the interval's return is
// re-weighted over the held symbols that have one.
import { describe, expect, it } from 'vitest';
import { holdingsReturns, type VarSample } from '../../../actors/risk-manager/var.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';

const t = (n: number): Ticks => n as Ticks;
const m = (n: bigint): Money => n as Money;

describe('holdingsReturns with a held symbol left unmarked', () => {
  it('re-weights an interval over the symbols with a return instead of counting the unmarked one as 0', () => {
    const samples: VarSample[] = [
      { bucket: 0, marks: { ETHUSDT: t(1000), BTCUSDT: t(5000) } },
      // BTC has no mark here, so neither interval 0→1 nor 1→2 has a BTC return.
      { bucket: 1, marks: { ETHUSDT: t(990) } },
      { bucket: 2, marks: { ETHUSDT: t(1000), BTCUSDT: t(5100) } },
    ];
    const held = { ETHUSDT: m(1_000_000_000_000n), BTCUSDT: m(1_000_000_000_000n) };
    const r = holdingsReturns(samples, held);
    expect(r).toHaveLength(2);
    // ETH alone carries each interval: -1 %, then +1.0101 %, not half of that.
    expect(r[0]).toBeCloseTo(-0.01, 12);
    expect(r[1]).toBeCloseTo(10 / 990, 12);
  });

  it('weights the symbols by value when both have a return', () => {
    const samples: VarSample[] = [
      { bucket: 0, marks: { ETHUSDT: t(1000), BTCUSDT: t(5000) } },
      { bucket: 1, marks: { ETHUSDT: t(990), BTCUSDT: t(5050) } },
    ];
    const held = { ETHUSDT: m(3_000_000_000_000n), BTCUSDT: m(1_000_000_000_000n) };
    expect(holdingsReturns(samples, held)[0]).toBeCloseTo(0.75 * -0.01 + 0.25 * 0.01, 12);
  });
});
