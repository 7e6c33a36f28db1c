// The simulator's average-price window (PERCENT_PRICE_BY_SIDE's reference) is asked only by priced orders and
// GET avgPrice: a replay without them must not keep every print it ever saw.
import { describe, expect, it } from 'vitest';
import { PrintWindow } from '../../../../engine/venues/sim/avg-price.ts';

const MIN = 60_000;

describe('PrintWindow', () => {
  it('holds at most two spans of prints when nobody asks for the average', () => {
    const w = new PrintWindow(5 * MIN);
    // A print every 100 ms for an hour: 36,000 prints, 3,000 of them in any 5-minute window.
    for (let i = 0; i < 36_000; i++) w.add(i * 100, 6_000_000 + (i % 7), 1 + (i % 3));
    expect(w.size).toBeLessThanOrEqual(6_001);
    expect(w.size).toBeGreaterThanOrEqual(5_999);
  });

  it('averages exactly the prints of the last span, volume-weighted', () => {
    const w = new PrintWindow(5 * MIN);
    w.add(0, 100, 1);
    for (let i = 1; i <= 20; i++) w.add(i * MIN, 200 + i, i);
    // At 20 min the window (15 min, 20 min] holds prints 16..20.
    const a = w.at(20 * MIN)!;
    const lots = [16, 17, 18, 19, 20];
    expect(a.den).toBe(BigInt(lots.reduce((x, y) => x + y, 0)));
    expect(a.num).toBe(BigInt(lots.reduce((x, i) => x + (200 + i) * i, 0)));
    expect(w.size).toBe(5);
  });
});
