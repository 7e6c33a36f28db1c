// The dashboard's charts are the DataProvider's series (the bars the models read), not only the bars that went out as
// md.candle: its history loaded at start and the minutes a hole in the market data left out, backfilled, never go
// out on the bus. A looped replay's lap junction is such a hole: the charts lost two minutes at every seam.
import { describe, expect, it } from 'vitest';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import { candleHistory } from '../../app/dashboard-providers.ts';
import type { SeqSlice } from '../../engine/dashboard/seq-ring.ts';
import { DashboardViewModel, type Bar, type Cursors } from '../../engine/dashboard/view-model.ts';
import type { Candle } from '../../engine/messages/market.ts';
import type { Timeframe } from '../../engine/types/time.ts';
import { RECORDINGS, ReplayHarness } from '../engine/dashboard/replay-harness.ts';

const toBars = (cs: readonly Candle[]): Bar[] => cs.map((c) => [Math.floor(c.openTime / 1000), c.open, c.high, c.low, c.close, c.volume]);

/** The page's copy of the candles topic, merged as web/src/store.ts merges it. */
class Page {
  readonly series = new Map<string, Bar[]>();
  readonly cursors: Cursors = new Map();
  resets = 0;
  pull(vm: DashboardViewModel): void {
    const p = vm.build('candles', this.cursors) as { series: Record<string, SeqSlice<Bar>> };
    for (const [k, s] of Object.entries(p.series)) {
      const arr = this.series.get(k) ?? this.series.set(k, []).get(k)!;
      if (s.reset) {
        arr.length = 0;
        this.resets++;
      }
      for (const b of s.items) {
        if (arr.length > 0 && arr[arr.length - 1]![0] === b[0]) arr[arr.length - 1] = b;
        else arr.push(b);
      }
    }
  }
}

describe('dashboard candles: the DataProvider series', () => {
  it('shows the history loaded at start and the minutes a hole left out once they are backfilled, as the provider holds them', async () => {
    const h = await ReplayHarness.open(RECORDINGS, { history: new KlinesArchive(['data/klines']) });
    try {
      const vm = new DashboardViewModel({ bus: h.bus, providers: { candles: () => candleHistory(h.provider) } });
      vm.start();
      const page = new Page();
      const same = (symbol: string, tf: Timeframe): void => {
        expect(page.series.get(`${symbol}|${tf}`), `${symbol} ${tf}`).toEqual(toBars(h.provider.series(symbol, tf).tail(1500)));
      };
      await h.pumpFor(240_000);
      page.pull(vm);
      // The history the provider loaded at start: 1500 bars of 1m, not the one or two rolled up since.
      expect(page.series.get('ETH/USDT|1m')?.length ?? 0).toBeGreaterThan(1400);
      for (const symbol of h.provider.symbols) for (const tf of ['1s', '1m', '1h', '1d'] as const) same(symbol, tf);

      // 100 s without market data (23:58:13 to 23:59:53): the minutes it touches roll up partial, are left out, and the
      // next maintenance pass fetches them from the klines. The page had 23:57 then 00:00, as at a lap seam.
      const holeFrom = h.clock.now();
      await h.skipUntil(holeFrom + 100_000);
      await h.pumpFor(180_000);
      page.pull(vm);
      const filled = h.provider.stats.backfilledBars;
      await h.provider.maintain();
      expect(h.provider.stats.backfilledBars).toBeGreaterThan(filled);
      await h.pumpFor(5_000);
      page.pull(vm);
      for (const symbol of h.provider.symbols) {
        for (const tf of ['1s', '1m', '1h', '1d'] as const) same(symbol, tf);
        // No minute missing across the hole on the page.
        const m1 = page.series.get(`${symbol}|1m`)!.map((b) => b[0]);
        const recent = m1.filter((t) => t >= Math.floor(holeFrom / 1000) - 300);
        expect(recent.length).toBeGreaterThanOrEqual(5);
        for (let i = 1; i < recent.length; i++) expect(recent[i]! - recent[i - 1]!, `${symbol} 1m after ${recent[i - 1]}`).toBe(60);
      }
    } finally {
      await h.close();
    }
  }, 60_000);
});
