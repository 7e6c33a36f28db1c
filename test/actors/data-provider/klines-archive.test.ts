// The KlinesArchive (lazy KlinesIndex rows, shared by every archive of the process) against the former archive (whole
// files parsed per archive, then sliced; kept in test/engine/market/klines-reference.ts): the same bars for the same
// queries, the same series in a DataProvider, malformed rows counted, files rewritten on disk read again.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KlinesArchive } from '../../../actors/data-provider/klines-archive.ts';
import type { KlineQuery, KlineSource } from '../../../actors/data-provider/market-source.ts';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import type { Logger } from '../../../engine/log.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { Timeframe } from '../../../engine/types/time.ts';
import { ReferenceKlinesArchive } from '../../engine/market/klines-reference.ts';
import { REC_START } from './helpers.ts';

const DIRS = ['data/klines'];
const H = 3_600_000;
const DAY = 24 * H;
const HEADER = 'open_time_ms,open_time_utc,open,high,low,close,volume';

// The queries a backtest's DataProvider makes at the recording's start (logged from a bench/loop.ts run).
const BACKTEST: [string, Timeframe, KlineQuery][] = [];
for (const symbol of ['ETH/USDT', 'BTC/USDT']) {
  const nowMs = REC_START;
  BACKTEST.push(
    [symbol, '1m', { startTime: 1723071240000, endTime: 1723131180000, limit: 1000, nowMs }],
    [symbol, '1m', { startTime: 1723131240000, endTime: 1723161180000, limit: 500, nowMs }],
    [symbol, '1h', { startTime: 1717758000000, endTime: 1721354400000, limit: 1000, nowMs }],
    [symbol, '1h', { startTime: 1721358000000, endTime: 1723154400000, limit: 500, nowMs }],
    [symbol, '1d', { startTime: 1593475200000, endTime: 1679788800000, limit: 1000, nowMs }],
    [symbol, '1d', { startTime: 1679875200000, endTime: 1722988800000, limit: 500, nowMs }],
  );
}

function seriesOf(p: DataProvider): Record<string, readonly Candle[]> {
  const out: Record<string, Candle[]> = {};
  for (const symbol of p.symbols) {
    for (const tf of ['1s', '1m', '1h', '1d'] as const) {
      const s = p.series(symbol, tf);
      out[`${symbol} ${tf}`] = Array.from({ length: s.length }, (_, i) => s.get(i)!);
    }
  }
  return out;
}

async function startedProvider(history: KlineSource, now: number): Promise<DataProvider> {
  const p = new DataProvider({ bus: new Bus(), clock: new SimulatedClock(now), history, maintenanceMs: 0 });
  await p.start();
  p.stop();
  return p;
}

function warnings(): { log: Logger; seen: unknown[] } {
  const seen: unknown[] = [];
  return { seen, log: { warn: (obj: unknown) => void seen.push(obj) } as unknown as Logger };
}

describe('KlinesArchive', () => {
  it('answers the backtest\'s history queries with the bars the former archive gave', async () => {
    const ref = new ReferenceKlinesArchive(DIRS);
    const archive = new KlinesArchive(DIRS);
    for (const [symbol, tf, q] of BACKTEST) {
      const got = await archive.klines(symbol, tf, q);
      const want = await ref.klines(symbol, tf, q);
      expect(got.candles.length).toBeGreaterThan(100);
      expect(got).toStrictEqual(want);
    }
  });

  it('answers any query like the former archive, odd limits and open ends included', async () => {
    const ref = new ReferenceKlinesArchive(DIRS);
    const archive = new KlinesArchive(DIRS);
    const span = { '1m': [Date.UTC(2024, 6, 26), Date.UTC(2024, 7, 26)], '1h': [Date.UTC(2024, 0, 1), Date.UTC(2024, 8, 25)], '1d': [Date.UTC(2022, 10, 1), Date.UTC(2025, 7, 7)] };
    const query = fc.record({
      symbol: fc.constantFrom('ETH/USDT', 'BTC/USDT', 'SOL/USDT'),
      tf: fc.constantFrom<Timeframe>('1m', '1h', '1d'),
      start: fc.option(fc.double({ min: -0.1, max: 1.1, noNaN: true }), { nil: undefined }),
      width: fc.option(fc.double({ min: -0.05, max: 0.3, noNaN: true }), { nil: undefined }),
      now: fc.double({ min: -0.1, max: 1.2, noNaN: true }),
      limit: fc.option(fc.oneof(fc.integer({ min: 1, max: 2000 }), fc.constantFrom(0, -5, 2.5, Number.NaN, Number.POSITIVE_INFINITY, -1e9)), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(query, async (r) => {
        const [a, b] = span[r.tf as '1m'] as [number, number];
        const at = (x: number): number => Math.round(a + x * (b - a));
        const q: KlineQuery = {
          nowMs: at(r.now),
          ...(r.start !== undefined ? { startTime: at(r.start) } : {}),
          ...(r.width !== undefined ? { endTime: at((r.start ?? 0.5) + r.width) } : {}),
          ...(r.limit !== undefined ? { limit: r.limit } : {}),
        };
        expect(await archive.klines(r.symbol, r.tf, q)).toStrictEqual(await ref.klines(r.symbol, r.tf, q));
      }),
      { numRuns: 300, seed: 1723161253 },
    );
    expect(archive.all('ETH/USDT', '1h')).toStrictEqual(ref.all('ETH/USDT', '1h'));
    expect(archive.skipped.size).toBe(0);
  });

  it('fills a DataProvider with the same series as the former archive', async () => {
    for (const now of [REC_START, Date.UTC(2024, 7, 20, 6, 30, 5), Date.UTC(2024, 0, 3, 12)]) {
      const before = seriesOf(await startedProvider(new ReferenceKlinesArchive(DIRS), now));
      const after = seriesOf(await startedProvider(new KlinesArchive(DIRS), now));
      expect(after).toStrictEqual(before);
      expect(after['ETH/USDT 1h']!.length).toBeGreaterThan(0);
    }
  });

  it('shares parsed bars across archives and reads a rewritten file again', async () => {
    const a = new KlinesArchive(DIRS);
    const b = new KlinesArchive(DIRS);
    const q = { startTime: Date.UTC(2024, 7, 8), limit: 10, nowMs: REC_START };
    const [x, y] = [await a.klines('ETH/USDT', '1m', q), await b.klines('ETH/USDT', '1m', q)];
    expect(x.candles).toHaveLength(10);
    x.candles.forEach((c, i) => expect(y.candles[i]).toBe(c));

    const dir = mkdtempSync(join(tmpdir(), 'cobalt-klines-'));
    const file = join(dir, 'test_ETH_USDT-1h.csv');
    writeFileSync(file, `${HEADER}\n0,1970-01-01T00:00:00Z,1,2,1,1,1\n`);
    const all = { nowMs: 10 * H, limit: 5 };
    expect((await new KlinesArchive([dir]).klines('ETH/USDT', '1h', all)).candles.map((c) => c.close)).toEqual([1]);
    writeFileSync(file, `${HEADER}\n0,1970-01-01T00:00:00Z,1,2,1,1.5,1\n3600000,1970-01-01T01:00:00Z,1,2,1,1.25,1\n`);
    expect((await new KlinesArchive([dir]).klines('ETH/USDT', '1h', all)).candles.map((c) => c.close)).toEqual([1.5, 1.25]);
  });

  it('counts malformed rows as queries reach them, all of them after all(), with the former bars', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cobalt-klines-'));
    const rows = Array.from({ length: 48 }, (_, i) => {
      const t = i * H;
      const utc = new Date(t).toISOString().replace('.000Z', 'Z');
      return i === 5 ? `${t},${utc},1,x,1,1,1` : i === 40 ? `${t},${utc},1,2,1,1` : `${t},${utc},1,2,1,1.5,${i}`;
    });
    writeFileSync(join(dir, 'bad_ETH_USDT-1h.csv'), [HEADER, ...rows].join('\n'));
    const { log, seen } = warnings();
    const archive = new KlinesArchive([dir], log);
    const ref = new ReferenceKlinesArchive([dir]);
    const q = { startTime: 0, endTime: 10 * H, nowMs: DAY * 3 };
    const got = await archive.klines('ETH/USDT', '1h', q);
    expect(got).toStrictEqual(await ref.klines('ETH/USDT', '1h', q));
    expect(got.candles.map((c) => c.volume)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
    const file = join(dir, 'bad_ETH_USDT-1h.csv');
    expect([...archive.skipped]).toEqual([[file, 1]]);
    expect(seen).toEqual([{ file, skipped: 1, first: { row: 7, message: "high 'x' is not a number" } }]);
    expect(archive.all('ETH/USDT', '1h')).toStrictEqual(ref.all('ETH/USDT', '1h'));
    expect([...archive.skipped]).toEqual([[file, 2]]);
    expect(seen).toHaveLength(2);
  });

  it('reads a gzipped file as far as queries reach, with the former bars before and after its malformed rows', async () => {
    // 5000 hourly rows (~350 KB of text, several inflate steps); row 4000 goes back in time, row 4500 has a bad high.
    const dir = mkdtempSync(join(tmpdir(), 'cobalt-klines-'));
    const rows = Array.from({ length: 5000 }, (_, i) => {
      const t = (i === 4000 ? 3000 : i) * H;
      const utc = new Date(t).toISOString().replace('.000Z', 'Z');
      return `${t},${utc},${100 + i},${i === 4500 ? '1e' : 200 + i},${50 + i},${150 + i},${i}`;
    });
    const file = join(dir, 'gz_ETH_USDT-1h.csv.gz');
    writeFileSync(file, gzipSync([HEADER, ...rows].join('\n') + '\n'));
    const { log, seen } = warnings();
    const archive = new KlinesArchive([dir], log);
    const ref = new ReferenceKlinesArchive([dir]);
    const nowMs = 6000 * H;
    const early = { startTime: 100 * H, endTime: 600 * H, limit: 1000, nowMs };
    expect(await archive.klines('ETH/USDT', '1h', early)).toStrictEqual(await ref.klines('ETH/USDT', '1h', early));
    // Nothing read yet reached the malformed rows.
    expect(archive.skipped.size).toBe(0);
    for (const q of [{ startTime: 3990 * H, endTime: 4600 * H, limit: 1000, nowMs }, { endTime: 4002 * H, limit: 5, nowMs }, early]) {
      const got = await archive.klines('ETH/USDT', '1h', q);
      expect(got).toStrictEqual(await ref.klines('ETH/USDT', '1h', q));
      expect(got.candles.length).toBeGreaterThan(4);
    }
    expect([...archive.skipped]).toEqual([[file, 2]]);
    expect(seen).toEqual([{ file, skipped: 2, first: { row: 4002, message: 'open time 1970-05-06T00:00:00.000Z is not after the previous row' } }]);
    expect(archive.all('ETH/USDT', '1h')).toStrictEqual(ref.all('ETH/USDT', '1h'));
    expect(ref.all('ETH/USDT', '1h')).toHaveLength(4998);
  });

  it('serves a file whose open times go back like the former archive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cobalt-klines-'));
    const day = (d: number): string => `2024-01-${String(d).padStart(2, '0')},1,2,1,1.5,${d}`;
    writeFileSync(join(dir, 'odd_ETHUSDT_1d.csv'), ['Date,Open,High,Low,Close,Volume', day(1), day(3), day(2), day(4), day(5)].join('\n'));
    const archive = new KlinesArchive([dir]);
    const ref = new ReferenceKlinesArchive([dir]);
    for (const q of [{ startTime: 0, nowMs: Date.UTC(2024, 1, 1) }, { endTime: Date.UTC(2024, 0, 4), limit: 2, nowMs: Date.UTC(2024, 1, 1) }]) {
      expect(await archive.klines('ETH/USDT', '1d', q)).toStrictEqual(await ref.klines('ETH/USDT', '1d', q));
    }
    expect((await archive.klines('ETH/USDT', '1d', { startTime: 0, nowMs: Date.UTC(2024, 1, 1) })).candles.map((c) => c.volume)).toEqual([1, 3, 4, 5]);
    expect(archive.skipped.size).toBe(1);
  });

  it('queries a subclass through its own all()', async () => {
    const bars: Candle[] = [0, 1, 2, 3].map((i) => ({ openTime: i * H, open: 1, high: 2, low: 1, close: 1, volume: i, closed: true }));
    class Memory extends KlinesArchive {
      constructor() {
        super([]);
      }
      override all(): Candle[] {
        return bars;
      }
    }
    expect((await new Memory().klines('ETH/USDT', '1h', { startTime: H, limit: 2, nowMs: DAY })).candles).toEqual(bars.slice(1, 3));
  });
});
