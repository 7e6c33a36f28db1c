// A klines request with startTime far before the data (startTime=0) walked every bucket since 1970: seconds of
// synchronous work per request, with every other request and the replay waiting. The walk is now clamped to the
// buckets that can hold a bar; the answers stay as they were.
import { describe, expect, it } from 'vitest';
import type { Candle } from '../../../../engine/messages/market.ts';
import type { TsMs } from '../../../../engine/types/time.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { KlineSeries, walkBuckets, type KlineBar } from '../../../../engine/venues/sim/klines.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2024, 7, 8, 10, 0); // first 1m bar of the history
const N = 180; // three hours of 1m bars

const inst = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'sim', venueSymbol: 'BTCUSDT' });
const candle = (i: number): Candle => ({
  openTime: (T0 + i * MINUTE) as TsMs, open: 100 + i, high: 101 + i, low: 99 + i, close: 100.5 + i, volume: 1, closed: true,
});
// A day of 1h bars before the 1m history, as the bundled 1h CSV reaches further back.
const hourly = Array.from({ length: 24 }, (_, i): Candle => ({ ...candle(0), openTime: (T0 - (24 - i) * HOUR) as TsMs }));
const series = new KlineSeries(inst, { m1: Array.from({ length: N }, (_, i) => candle(i)), native: new Map([[HOUR, hourly]]) });
const NOW = T0 + 5 * HOUR; // after the history: nothing built since

const opens = (bars: readonly KlineBar[]): number[] => bars.map((b) => b.openTime);

describe('kline bucket walk', () => {
  it('visits only the buckets from the data floor when startTime is long before it', () => {
    let visited = 0;
    const pick = (t: number): KlineBar | undefined => {
      visited++;
      return t >= T0 ? series.bars(NOW, 1, t, t)[0] : undefined;
    };
    const out = walkBuckets(MINUTE, NOW, T0, 5, 0, pick);
    expect(opens(out)).toEqual([0, 1, 2, 3, 4].map((i) => T0 + i * MINUTE));
    expect(visited).toBe(5);
  });

  it('answers startTime=0 as it answers startTime at the first bar, for 1m and rolled-up intervals', () => {
    expect(opens(series.bars(NOW, 3, 0))).toEqual([T0, T0 + MINUTE, T0 + 2 * MINUTE]);
    expect(series.bars(NOW, 3, 0)).toEqual(series.bars(NOW, 3, T0));
    // 1h: from the hourly CSV a day back, then rolled up from the 1m bars.
    expect(opens(series.rolledBars(NOW, HOUR, 2, 0))).toEqual([T0 - 24 * HOUR, T0 - 23 * HOUR]);
    expect(opens(series.rolledBars(NOW, HOUR, 1000, 0))).toEqual([...hourly.map((c) => c.openTime), T0, T0 + HOUR, T0 + 2 * HOUR]);
    expect(opens(series.rolledBars(NOW, 15 * MINUTE, 2, 0))).toEqual([T0, T0 + 15 * MINUTE]);
  });

  it('answers the latest bars without startTime, and nothing for a range with no data', () => {
    expect(opens(series.bars(NOW, 2))).toEqual([T0 + (N - 2) * MINUTE, T0 + (N - 1) * MINUTE]);
    expect(opens(series.rolledBars(NOW, HOUR, 1))).toEqual([T0 + 2 * HOUR]);
    expect(series.bars(NOW, 10, 0, T0 - MINUTE)).toEqual([]);
    expect(series.bars(NOW, 10, T0 + N * MINUTE)).toEqual([]);
    const empty = new KlineSeries(inst);
    expect(empty.bars(NOW, 10, 0)).toEqual([]);
    expect(empty.rolledBars(NOW, HOUR, 10, 0)).toEqual([]);
  });
});
