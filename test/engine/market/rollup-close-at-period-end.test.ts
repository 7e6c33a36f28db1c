// A roll-up told its finer timeframe closes a whole bar with the finer bar that ends its period, not when the next
// period's first one arrives: a running engine then holds the 1h bar at H:00:00 as training's backfill does, instead
// of H-2 until ~H:01:00 (review r3, hour-boundary skew).
import { describe, expect, it } from 'vitest';
import { CandleRollup, rollUp } from '../../../engine/market/candles.ts';
import type { Candle } from '../../../engine/messages/market.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const H = Date.UTC(2024, 7, 10, 13);

/** `n` closed bars of `ms` from `from`, prices rising by one per bar. */
const bars = (from: number, n: number, ms = MIN): Candle[] =>
  Array.from({ length: n }, (_, i) => ({ openTime: from + i * ms, open: 100 + i, high: 101 + i, low: 99 + i, close: 100.5 + i, volume: 1.5, trades: 2, closed: true }));

const feed = (r: CandleRollup, cs: readonly Candle[]) => cs.map((c) => r.add(c));

describe('CandleRollup with closeAfter: closing at the end of the period', () => {
  it('returns the whole hour with its 60th minute, and nothing when the next hour begins', () => {
    const r = new CandleRollup('1h', { closeAfter: '1m' });
    const out = feed(r, bars(H, 60));
    expect(out.slice(0, 59).every((c) => c === undefined)).toBe(true);
    expect(out[59]).toMatchObject({ openTime: H, open: 100, high: 160, low: 99, close: 159.5, volume: 90, trades: 120, parts: 60, closed: true });
    expect(r.current()).toBeUndefined();
    expect(r.add(bars(H + HOUR, 1)[0]!)).toBeUndefined();
    expect(r.current()).toMatchObject({ openTime: H + HOUR, parts: 1, closed: false });
  });

  it('keeps a partial hour forming and returns it, partial, when the next hour begins', () => {
    const r = new CandleRollup('1h', { closeAfter: '1m' });
    const out = feed(r, bars(H, 60).filter((c) => c.openTime !== H + 30 * MIN));
    expect(out.every((c) => c === undefined)).toBe(true);
    expect(r.add(bars(H + HOUR, 1)[0]!)).toMatchObject({ openTime: H, parts: 59 });
  });

  it('refuses a duplicate or late minute of an hour already returned', () => {
    const r = new CandleRollup('1h', { closeAfter: '1m' });
    const hour = bars(H, 60);
    feed(r, hour);
    expect(r.add(hour[59]!)).toBeUndefined();
    expect(r.add(hour[10]!)).toBeUndefined();
    expect(r.late).toBe(2);
    expect(r.current()).toBeUndefined();
    expect(r.flush()).toBeUndefined();
    expect(r.pendingFrom).toBe(H + HOUR);
  });

  it('chains 1m → 1h → 1d: the day closes with its last minute', () => {
    const D = Date.UTC(2024, 7, 10);
    const h = new CandleRollup('1h', { closeAfter: '1m' });
    const d = new CandleRollup('1d', { closeAfter: '1h' });
    const days: Candle[] = [];
    let lastMinute = NaN;
    for (const m of bars(D, 24 * 60)) {
      const hour = h.add(m);
      const day = hour && d.add(hour);
      if (day) { days.push(day); lastMinute = m.openTime; }
    }
    expect(days).toHaveLength(1);
    expect(days[0]).toMatchObject({ openTime: D, parts: 24, volume: 24 * 60 * 1.5 });
    expect(lastMinute).toBe(D + 24 * HOUR - MIN);
  });

  it('without closeAfter keeps closing on the next period, and rollUp returns each bar once either way', () => {
    const r = new CandleRollup('1h');
    expect(feed(r, bars(H, 60)).every((c) => c === undefined)).toBe(true);
    expect(r.add(bars(H + HOUR, 1)[0]!)).toMatchObject({ openTime: H, parts: 60 });
    const cs = bars(H, 150);
    const a = rollUp(cs, '1h').map((c) => [c.openTime, c.parts]);
    expect(rollUp(cs, '1h', { closeAfter: '1m' }).map((c) => [c.openTime, c.parts])).toEqual(a);
    expect(a).toEqual([[H, 60], [H + HOUR, 60], [H + 2 * HOUR, 30]]);
  });
});
