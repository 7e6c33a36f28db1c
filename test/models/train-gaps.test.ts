// Review finding (gaps): labels and σ count bars, not time, so a sample whose bars straddle a hole in the klines (the
// 2023-03-24 Binance ETH halt: 80 minutes missing) took the jump for one bar's move and a 30-bar horizon for 110
// minutes. The dataset builders drop such samples, as the online evaluator drops such predictions (missingBars).
import { describe, expect, it } from 'vitest';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import type { Candle } from '../../engine/messages/market.ts';
import type { Timeframe } from '../../engine/types/time.ts';
import type { Candles } from '../../models/data.ts';
import { CNN_INPUT_SPEC } from '../../models/cnn/bdi-adapter.ts';
import { buildBdiDataset, MemoryKlines } from '../../models/train/bdi-dataset.ts';
import { buildCnnDataset, type AlignedSeries } from '../../models/train/dataset.ts';
import { realCandles } from './helpers.ts';

const MIN = 60_000;

// Bars [from, to) of a series, left out.
function withHole(c: Candles, from: number, to: number): Candles {
  const cut = <T extends Float64Array>(a: T): Float64Array => Float64Array.from([...a.subarray(0, from), ...a.subarray(to)]);
  return { openTimeMs: cut(c.openTimeMs), open: cut(c.open), high: cut(c.high), low: cut(c.low), close: cut(c.close), volume: cut(c.volume), skipped: 0 };
}

const aligned = (c: Candles): AlignedSeries => ({ names: ['ETH/USDT'], series: [c], openTimeMs: c.openTimeMs, unmatched: 0, skipped: 0 });

// Whether bars a..b are one minute apart each.
const contiguous = (t: ArrayLike<number>, a: number, b: number): boolean => t[b]! - t[a]! === (b - a) * MIN;

describe('training samples across a hole in the klines', () => {
  const labels = { volWindow: 20, horizon: 10, ptMult: 2, slMult: 2 };
  const window = 16;
  const back = Math.max(window, labels.volWindow);

  it('kline windows: drops every sample whose feature window, σ window or horizon spans the hole, and counts them', () => {
    const c = withHole(realCandles('ETH', 0, 400), 200, 215);
    const ds = buildCnnDataset(aligned(c), { window, stride: 1, labels });
    const t = ds.openTimeMs;
    for (let i = 0; i < ds.t0.length; i++) {
      expect(contiguous(t, ds.t0[i]! - back, ds.t0[i]! + labels.horizon), `sample at bar ${ds.t0[i]}`).toBe(true);
    }
    // Every labelled bar (t0 ≥ volWindow, t0 + horizon < n) is either kept or counted as dropped at the gap.
    let spanning = 0;
    for (let t0 = back; t0 + labels.horizon < t.length; t0++) if (!contiguous(t, t0 - back, t0 + labels.horizon)) spanning++;
    expect(spanning).toBe(back + labels.horizon);
    expect([ds.gapDropped, ds.t0.length]).toEqual([spanning, t.length - labels.horizon - back - spanning]);
    // Both sides of the hole still give samples.
    expect(t[ds.t0[0]!]!).toBeLessThan(c.openTimeMs[200]!);
    expect(t[ds.t0[ds.t0.length - 1]!]!).toBeGreaterThan(c.openTimeMs[200]!);
  });

  it('kline windows: drops nothing from gap-free klines', () => {
    const ds = buildCnnDataset(aligned(realCandles('ETH', 0, 400)), { window, stride: 1, labels });
    expect([ds.gapDropped, ds.t0.length, ds.t0[0]]).toEqual([0, 400 - labels.horizon - back, back]);
  });

  it('BaseDataInput rows: drops every decision whose 300-bar frame or horizon spans the hole, and counts them', async () => {
    const archive = new KlinesArchive(['data/klines']);
    const hole = Date.parse('2024-08-08T00:00:00Z');
    const data = new Map<string, Candle[]>();
    for (const tf of ['1m', '1h', '1d'] as Timeframe[]) data.set(`ETH/USDT ${tf}`, archive.all('ETH/USDT', tf));
    // 15 one-minute bars missing from the stream (and the archive's backfill).
    data.set('ETH/USDT 1m', data.get('ETH/USDT 1m')!.filter((c) => c.openTime < hole || c.openTime >= hole + 15 * MIN));
    const bdiLabels = { volWindow: 60, horizon: 30, ptMult: 2, slMult: 2 };
    const fromMs = hole - 60 * MIN, untilMs = hole + 60 * MIN;
    const ds = await buildBdiDataset({ klines: new MemoryKlines(data), everyMinutes: 5, labels: bdiLabels, fromMs, untilMs });
    const t = ds.openTimeMs;
    const seqBack = CNN_INPUT_SPEC.seqLen - 1;
    for (let i = 0; i < ds.t0.length; i++) {
      expect(contiguous(t, ds.t0[i]! - seqBack, ds.t0[i]! + bdiLabels.horizon), new Date(ds.decisionMs[i]!).toISOString()).toBe(true);
    }
    // Decisions every 5 min from fromMs whose label is complete before untilMs: kept before the hole's horizon, dropped after.
    let spanning = 0, eligible = 0;
    for (let t0 = seqBack; t0 + bdiLabels.horizon < t.length; t0++) {
      const at = t[t0]! + MIN;
      if (at < fromMs || at % (5 * MIN) !== 0) continue;
      eligible++;
      if (!contiguous(t, t0 - seqBack, t0 + bdiLabels.horizon)) spanning++;
    }
    expect(spanning).toBeGreaterThan(0);
    expect([ds.gapDropped, ds.t0.length]).toEqual([spanning, eligible - spanning]);
    expect(ds.t0.length).toBeGreaterThan(0);
  }, 60_000);
});
