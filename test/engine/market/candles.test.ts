import { describe, expect, it } from 'vitest';
import { CandleBuilder, CandleRollup, CandleSeries, findHoles, missingBars, rollUp } from '../../../engine/market/candles.ts';
import { RingBuffer } from '../../../engine/market/ring-buffer.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { parseDecimal } from '../../../engine/types/decimal.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const tick = parseDecimal('0.01');
const lot = parseDecimal('0.0001');
const px = (n: number) => n as Ticks;
const lots = (n: number) => n as Lots;
const bar = (openTime: number, close = 1, volume = 1): Candle =>
  ({ openTime, open: close, high: close, low: close, close, volume, closed: true });

describe('RingBuffer', () => {
  it('keeps the newest items in order once full', () => {
    const r = new RingBuffer<number>(3);
    const dropped = [1, 2, 3, 4, 5].map((x) => r.push(x));
    expect(dropped).toEqual([undefined, undefined, undefined, 1, 2]);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect([r.get(0), r.get(2), r.get(3), r.last()]).toEqual([3, 5, undefined, 5]);
    expect(r.tail(2)).toEqual([4, 5]);
  });

  it('bumps its version on every mutation and exposes its backing slots in ring order', () => {
    const r = new RingBuffer<number>(3);
    const seen = [r.version];
    const bumped = (): boolean => {
      const v = r.version;
      const changed = v !== seen[seen.length - 1];
      seen.push(v);
      return changed;
    };
    r.push(1);
    expect(bumped()).toBe(true);
    r.replaceLast(2);
    expect(bumped()).toBe(true);
    for (const x of [3, 4, 5]) {
      r.push(x); // wraps past capacity on the last two
      expect(bumped()).toBe(true);
    }
    expect(r.get(0)).toBe(3);
    expect(bumped()).toBe(false); // reads leave it alone
    const viaSlots = Array.from({ length: r.length }, (_, i) => r.slots[(r.offset + i) % r.capacity]);
    expect(viaSlots).toEqual(r.toArray());
    r.clear();
    expect(bumped()).toBe(true);
    expect(new Set(seen).size).toBe(seen.length - 1); // strictly new values, never reused
  });
});

describe('CandleSeries version and slots', () => {
  it('bumps the version on append, replace and clear, not on a refused bar, and reads bars through its slots', () => {
    const s = new CandleSeries('1s', 4);
    let v = s.version;
    const step = (): number => {
      const d = s.version - v;
      v = s.version;
      return d;
    };
    s.push(bar(1_000));
    expect(step()).toBeGreaterThan(0);
    s.push(bar(1_000, 2)); // same open time: replaces the newest
    expect(step()).toBeGreaterThan(0);
    s.pushAll([bar(2_000), bar(3_000), bar(4_000), bar(5_000)]); // wraps: capacity 4
    expect(step()).toBeGreaterThan(0);
    expect(s.push(bar(500))).toBe(false); // refused: nothing changed
    expect(step()).toBe(0);
    const viaSlots = Array.from({ length: s.length }, (_, i) => s.slots[(s.offset + i) % s.capacity]);
    expect(viaSlots).toEqual(s.tail(s.length));
    expect(viaSlots.map((c) => c!.openTime)).toEqual([2_000, 3_000, 4_000, 5_000]);
    s.clear();
    expect(step()).toBeGreaterThan(0);
    expect(s.length).toBe(0);
  });
});

describe('CandleBuilder', () => {
  it('builds OHLCV and trade count from integer ticks and lots, closing the bar when time moves on', () => {
    const b = new CandleBuilder({ timeframe: '1s', tickSize: tick, lotSize: lot });
    expect(b.add(1_000, px(10_000), lots(3))).toEqual([]);
    b.add(1_200, px(10_050), lots(1));
    b.add(1_999, px(9_990), lots(2));
    expect(b.current()).toEqual({ openTime: 1_000, open: 100, high: 100.5, low: 99.9, close: 99.9, volume: 0.0006, trades: 3, closed: false });
    const closed = b.add(2_000, px(10_001), lots(1));
    expect(closed).toEqual([{ openTime: 1_000, open: 100, high: 100.5, low: 99.9, close: 99.9, volume: 0.0006, trades: 3, closed: true }]);
  });

  it('fills bars without trades with flat zero-volume bars at the last close, as Binance does', () => {
    const b = new CandleBuilder({ timeframe: '1s', tickSize: tick, lotSize: lot });
    b.add(1_500, px(100), lots(1));
    const closed = b.add(4_100, px(200), lots(1));
    expect(closed.map((c) => [c.openTime, c.close, c.volume, c.trades])).toEqual([[1_000, 1, 0.0001, 1], [2_000, 1, 0, 0], [3_000, 1, 0, 0]]);
  });

  it('leaves gaps unfilled when fillGaps is false', () => {
    const b = new CandleBuilder({ timeframe: '1s', tickSize: tick, lotSize: lot, fillGaps: false });
    b.add(1_500, px(100), lots(1));
    expect(b.add(4_100, px(200), lots(1)).map((c) => c.openTime)).toEqual([1_000]);
  });

  it('closes bars on clock time with closeUntil and refuses trades of closed bars', () => {
    const b = new CandleBuilder({ timeframe: '1s', tickSize: tick, lotSize: lot });
    expect(b.closeUntil(5_000)).toEqual([]); // nothing seen yet
    b.add(1_500, px(100), lots(1));
    expect(b.closeUntil(1_999)).toEqual([]);
    expect(b.closeUntil(3_000).map((c) => [c.openTime, c.trades])).toEqual([[1_000, 1], [2_000, 0]]);
    expect(b.current()).toBeUndefined();
    expect(b.add(2_500, px(100), lots(1))).toEqual([]);
    expect(b.late).toBe(1);
    b.add(3_100, px(300), lots(2));
    expect(b.current()).toMatchObject({ openTime: 3_000, open: 3, volume: 0.0002, trades: 1 });
  });

  it('drops the forming bar on a stream break and makes no flat bars until trades resume', () => {
    const b = new CandleBuilder({ timeframe: '1s', tickSize: tick, lotSize: lot });
    expect(b.interrupt()).toBeUndefined(); // nothing seen yet
    b.add(1_500, px(100), lots(1));
    const dropped = b.interrupt();
    const quiet = b.closeUntil(5_000); // the clock runs on while the stream is down
    const late = b.add(1_900, px(100), lots(1)); // a trade of the dropped second after the break: refused
    const resumed = b.add(6_200, px(200), lots(1));
    const after = b.add(7_000, px(201), lots(1));
    expect(dropped).toMatchObject({ openTime: 1_000, trades: 1 });
    expect([quiet, late, resumed]).toEqual([[], [], []]);
    expect(b.late).toBe(1);
    expect(after.map((c) => [c.openTime, c.close, c.trades])).toEqual([[6_000, 2, 1]]);
  });
});

describe('CandleSeries', () => {
  it('updates a forming bar in place, refuses older bars and keeps 1500 by default', () => {
    const s = new CandleSeries('1m');
    s.push({ ...bar(60_000), closed: false });
    s.push(bar(60_000, 2));
    expect(s.length).toBe(1);
    expect(s.last()).toMatchObject({ close: 2, closed: true });
    expect(s.push(bar(0))).toBe(false);
    expect(s.outOfOrder).toBe(1);
    for (let i = 2; i < 2_000; i++) s.push(bar(i * 60_000));
    expect(s.length).toBe(1_500);
    expect(s.get(0)!.openTime).toBe(500 * 60_000);
  });

  it('reports holes between the first and last bar', () => {
    const s = new CandleSeries('1m');
    s.pushAll([0, 1, 2, 5, 6, 8].map((m) => bar(m * 60_000)));
    const holes = s.holes();
    expect(holes).toEqual([{ from: 3 * 60_000, count: 2 }, { from: 7 * 60_000, count: 1 }]);
    expect(missingBars(holes)).toBe(3);
    expect(s.holes(2)).toEqual([{ from: 7 * 60_000, count: 1 }]);
    expect(findHoles([], '1h')).toEqual([]);
  });

  it('answers holes again after every kind of change to the series (the answer is kept per version)', () => {
    const s = new CandleSeries('1m', 4);
    s.pushAll([0, 1, 3].map((m) => bar(m * 60_000)));
    expect(s.holes()).toEqual([{ from: 2 * 60_000, count: 1 }]);
    expect(s.holes(1)).toEqual([]);
    s.push(bar(6 * 60_000));
    expect(s.holes()).toEqual([{ from: 2 * 60_000, count: 1 }, { from: 4 * 60_000, count: 2 }]);
    // The ring is full: the oldest bar drops out, and a replaced newest bar moves nothing.
    s.push(bar(7 * 60_000));
    s.push(bar(7 * 60_000, 2));
    expect(s.holes()).toEqual([{ from: 2 * 60_000, count: 1 }, { from: 4 * 60_000, count: 2 }]);
    s.push(bar(8 * 60_000));
    expect(s.holes()).toEqual([{ from: 4 * 60_000, count: 2 }]);
    s.clear();
    expect(s.holes()).toEqual([]);
  });
});

describe('rollUp', () => {
  it('rolls 1s bars into 1m bars with first open, max high, min low, last close, exact volume and part counts', () => {
    const sec: Candle[] = [
      { openTime: 59_000, open: 9, high: 9, low: 9, close: 9, volume: 5, trades: 1, closed: true },
      { openTime: 60_000, open: 10, high: 12, low: 9.5, close: 11, volume: 0.1, trades: 2, closed: true },
      { openTime: 61_000, open: 11, high: 11.5, low: 8, close: 8.5, volume: 0.2, trades: 3, closed: true },
      { openTime: 119_000, open: 8.5, high: 13, low: 8.5, close: 12, volume: 0.0000001, trades: 1, closed: true },
    ];
    const out = rollUp(sec, '1m');
    expect(out).toEqual([
      { openTime: 0, open: 9, high: 9, low: 9, close: 9, volume: 5, trades: 1, parts: 1, closed: true },
      // 0.1 + 0.2 + 1e-7 as floats is 0.30000010000000004; the integer sum gives the decimal 0.3000001
      { openTime: 60_000, open: 10, high: 13, low: 8, close: 12, volume: 0.3000001, trades: 6, parts: 3, closed: true },
    ]);
  });

  it('emits a coarser bar incrementally when the next period starts', () => {
    const r = new CandleRollup('1h');
    expect(r.add(bar(0, 1, 1))).toBeUndefined();
    expect(r.current()).toMatchObject({ openTime: 0, closed: false, parts: 1 });
    const done = r.add(bar(3_600_000, 2, 1));
    expect(done).toMatchObject({ openTime: 0, close: 1, parts: 1, closed: true });
    expect(r.add(bar(60_000))).toBeUndefined();
    expect(r.late).toBe(1);
  });
});
