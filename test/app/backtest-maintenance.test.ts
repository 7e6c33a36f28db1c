// Honest backtests (review H4, finding 3): a backtest runs the DataProvider's maintenance pass as paper and live runs
// do, so the bars the trades could not build whole (the recording's partial first minute, hour and day, a minute cut
// by a hole) are backfilled from the kline archive once they have closed, never before; and two runs of one seed
// still see the same bars at the same point of the data.
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { maintenanceAfter, runBacktest } from '../../app/backtest.ts';
import type { DataProvider } from '../../actors/data-provider/provider.ts';
import type { Candle } from '../../engine/messages/market.ts';
import { timeframeMs, type Timeframe } from '../../engine/types/time.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-maintenance-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (d: number, h: number, m = 0, s = 0) => Date.UTC(2024, 7, d, h, m, s);
const TFS: readonly Timeframe[] = ['1m', '1h', '1d'];

type Seen = { now: number; newest: Record<string, number>; opens: Record<string, number[]> };

// The provider's ETH series after the line at or past each of `times` (recorded time): their newest bars and open times.
async function watch(times: readonly number[], seed: number): Promise<Seen[]> {
  const seen: Seen[] = [];
  let provider: DataProvider | undefined;
  let i = 0;
  await runBacktest(testConfig({ data: { catalogDir: join(dir, 'catalog') } }), {
    seed, maxSpanMs: 420_000,
    onSystem: (s) => void s.bus.subscribe('md.trade', () => {
      provider ??= s.handles.provider();
      const now = s.clock.now();
      if (provider === undefined || i >= times.length || now < times[i]!) return;
      i++;
      const series = (tf: Timeframe): Candle[] => {
        const x = provider!.series('ETH/USDT', tf);
        return Array.from({ length: x.length }, (_, k) => x.get(k)!);
      };
      seen.push({
        now,
        newest: Object.fromEntries(TFS.map((tf) => [tf, series(tf).at(-1)!.openTime])),
        opens: Object.fromEntries(TFS.map((tf) => [tf, series(tf).map((c) => c.openTime)])),
      });
    }),
  });
  return seen;
}

describe('a backtest\'s data maintenance', () => {
  it('schedules a pass 5 s into each minute, the first after the start', () => {
    expect([maintenanceAfter(at(8, 23, 54, 13)), maintenanceAfter(at(8, 23, 55, 5)), maintenanceAfter(at(8, 23, 55, 4))])
      .toEqual([at(8, 23, 55, 5), at(8, 23, 56, 5), at(8, 23, 55, 5)]);
  });

  it('backfills the partial first minute, hour and day once closed, never a bar before it closed, identically for one seed', async () => {
    // Before and after the first pass (23:55:05), and after midnight's (00:00:05), which the hour and day wait for.
    const times = [at(8, 23, 55, 4), at(8, 23, 55, 6), at(8, 23, 59, 59), at(9, 0, 0, 6)];
    const a = await watch(times, 1);
    const b = await watch(times, 1);

    expect(a).toHaveLength(4);
    const [before, first, lateInHour, afterMidnight] = a;
    // 23:54 (the recording starts inside it) is missing until the pass after it closed.
    expect(before!.opens['1m']).not.toContain(at(8, 23, 54));
    expect(first!.opens['1m']).toContain(at(8, 23, 54));
    // The 23:00 hour and the day of 2024-08-08 end at midnight: not before.
    expect(lateInHour!.newest['1h']).toBe(at(8, 22));
    expect(lateInHour!.newest['1d']).toBe(at(7, 0));
    expect(afterMidnight!.newest['1h']).toBe(at(8, 23));
    expect(afterMidnight!.newest['1d']).toBe(at(8, 0));
    // No hole left in the newest bars, and no bar that had not closed at its time.
    for (const s of a) {
      for (const tf of TFS) {
        const opens = s.opens[tf]!.slice(-20);
        expect(opens.every((t, k) => k === 0 || t - opens[k - 1]! === timeframeMs(tf))).toBe(true);
        expect(s.newest[tf]! + timeframeMs(tf)).toBeLessThanOrEqual(s.now);
      }
    }
    expect(b).toEqual(a);
  }, 120_000);
});
