// The candles topic rebased on the DataProvider's series (`providers.candles`): a backfilled bar reaches every client
// as a reset of that series only, the forming bar the bus brought stays, and nothing is resent while the series do not
// change.
import { describe, expect, it } from 'vitest';
import type { SeqSlice } from '../../../engine/dashboard/seq-ring.ts';
import { DashboardViewModel, type Bar, type CandleHistory, type Cursors } from '../../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import type { TsMs } from '../../../engine/types/time.ts';

const T0 = Date.UTC(2024, 7, 9, 2, 0);
const bar = (i: number, close: number, closed = true): Candle => ({ openTime: (T0 + i * 60_000) as TsMs, open: close, high: close + 1, low: close - 1, close, volume: 1, closed });

function rig() {
  const bus = new Bus<EngineMsg>();
  const series: Candle[] = [bar(0, 100), bar(1, 101), bar(3, 103), bar(4, 104)]; // minute 2: a hole
  const src = {};
  let revision = 1;
  const history = (): CandleHistory => ({ source: src, revision, symbols: ['ETH/USDT'], timeframes: ['1m'], bars: (_s, _tf, n) => series.slice(-n) });
  const vm = new DashboardViewModel({ bus, providers: { candles: history } });
  vm.start();
  const kline = (c: Candle): void => bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1m', candle: c, tsExchange: c.openTime, tsLocal: c.openTime });
  const pull = (cursors: Cursors): SeqSlice<Bar> | undefined => (vm.build('candles', cursors) as { series: Record<string, SeqSlice<Bar>> }).series['ETH/USDT|1m'];
  return { series, vm, kline, pull, bump: () => revision++ };
}
const minutes = (s: SeqSlice<Bar> | undefined): number[] => (s?.items ?? []).map((b) => (b[0] * 1000 - T0) / 60_000);

describe('dashboard candles rebased on the provider series', () => {
  it('sends a backfilled bar to each client as a reset, keeps the forming bar, and resends nothing while the series hold still', () => {
    const { series, kline, pull, bump } = rig();
    kline(bar(5, 105, false)); // a venue's forming kline: in no series
    const a: Cursors = new Map();
    expect(minutes(pull(a))).toEqual([0, 1, 3, 4, 5]);
    expect(pull(a)).toBeUndefined();

    series.splice(2, 0, bar(2, 102)); // the maintenance pass fills the hole
    bump();
    const b: Cursors = new Map();
    const sa = pull(a);
    expect(sa?.reset).toBe(true);
    expect(minutes(sa)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(minutes(pull(b))).toEqual([0, 1, 2, 3, 4, 5]);
    // Bars after it continue the client's copy as before.
    kline(bar(5, 106));
    const next = pull(a);
    expect(next?.reset).toBe(false);
    expect(next?.items).toEqual([[(T0 + 5 * 60_000) / 1000, 106, 107, 105, 106, 1]]);

    bump(); // a bar fetched again, the same as the one held: nothing to resend
    expect(pull(a)).toBeUndefined();
  });

  it('rebases when the bus brought a bar older than the newest (a venue kline the provider merged, out of order)', () => {
    const { series, kline, pull } = rig();
    const a: Cursors = new Map();
    pull(a);
    series.splice(2, 0, bar(2, 102));
    kline(bar(2, 102));
    const s = pull(a);
    expect(s?.reset).toBe(true);
    expect(minutes(s)).toEqual([0, 1, 2, 3, 4]);
  });
});
