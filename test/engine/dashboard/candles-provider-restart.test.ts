// Re-review of 750c32d: a DataProvider restarted (a new instance, no candles cache: a replay or backtest) holds a few
// seconds of bars until its history loads; the rebase replaced each ring with that short series, so the charts fell
// from 1500 bars to 5. Ring bars older than the new series are kept, and a provider that is gone is not held on to.
import { describe, expect, it } from 'vitest';
import type { SeqSlice } from '../../../engine/dashboard/seq-ring.ts';
import { DashboardViewModel, type Bar, type CandleHistory, type Cursors } from '../../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import type { TsMs } from '../../../engine/types/time.ts';

const T0 = Date.UTC(2024, 0, 1);
const bar = (i: number, close = 100 + i): Candle => ({ openTime: (T0 + i * 60_000) as TsMs, open: close, high: close + 1, low: close - 1, close, volume: 1, closed: true });
const range = (a: number, b: number): Candle[] => Array.from({ length: b - a }, (_, k) => bar(a + k));

function rig() {
  const bus = new Bus<EngineMsg>();
  let current: CandleHistory | undefined;
  const provider = (series: Candle[]): CandleHistory =>
    (current = { source: {}, revision: 0, symbols: ['ETH/USDT'], timeframes: ['1m'], bars: (_s, _tf, n) => series.slice(-n) });
  const vm = new DashboardViewModel({ bus, providers: { candles: () => current } });
  vm.start();
  const kline = (c: Candle): void => bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1m', candle: c, tsExchange: c.openTime, tsLocal: c.openTime });
  const pull = (cursors: Cursors = new Map()): SeqSlice<Bar> | undefined => (vm.build('candles', cursors) as { series: Record<string, SeqSlice<Bar>> }).series['ETH/USDT|1m'];
  return { vm, kline, pull, provider, gone: () => (current = undefined) };
}
const minutes = (s: SeqSlice<Bar> | undefined): number[] => (s?.items ?? []).map((b) => (b[0] * 1000 - T0) / 60_000);

describe('dashboard candles across a DataProvider restart', () => {
  it('keeps the bars older than the new provider series, then its bars, then newer ring bars', () => {
    const { kline, pull, provider } = rig();
    const first = range(0, 100);
    provider(first);
    for (const c of first) kline(c);
    expect(minutes(pull())).toHaveLength(100);

    // Restarted: one rolled-up minute that differs from the ring's, and one the bus brings (forming, in no series).
    provider([bar(99, 500)]);
    kline({ ...bar(100), closed: false });
    const after = pull();
    expect(minutes(after)).toEqual([...Array.from({ length: 101 }, (_, i) => i)]);
    expect(after?.items[99]?.[4]).toBe(500); // the new series wins where both have the bar
  });

  it('lets go of a provider that is gone', () => {
    const { vm, pull, provider, gone } = rig();
    provider(range(0, 3));
    pull();
    gone();
    pull();
    expect((vm as unknown as { candlesRead?: unknown }).candlesRead).toBeUndefined();
  });
});
