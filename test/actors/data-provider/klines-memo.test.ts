// The kline memo of backtests (actors/data-provider/klines-memo.ts): a KlinesArchive with a memo directory answers the
// backtest's history queries from it in a later process (here: a later archive) with the bars the former archive gives,
// and misses (reads the file again) when the file changed or an entry is damaged; files with malformed rows are never
// memoised, so their warnings stay; the directory is pruned; an unwritable directory only costs the time.
import { mkdtempSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KlinesArchive } from '../../../actors/data-provider/klines-archive.ts';
import { KlinesMemo, MAX_ENTRIES } from '../../../actors/data-provider/klines-memo.ts';
import type { KlineQuery } from '../../../actors/data-provider/market-source.ts';
import type { Logger } from '../../../engine/log.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import type { Timeframe } from '../../../engine/types/time.ts';
import { ReferenceKlinesArchive } from '../../engine/market/klines-reference.ts';
import { REC_START } from './helpers.ts';

const DIRS = ['data/klines'];
const H = 3_600_000;
const HEADER = 'open_time_ms,open_time_utc,open,high,low,close,volume';
const tmp = (): string => mkdtempSync(join(tmpdir(), 'cobalt-klm-'));

// The twelve queries a backtest's DataProvider makes at the bundled recording's start.
const BACKTEST: [string, Timeframe, KlineQuery][] = ['ETH/USDT', 'BTC/USDT'].flatMap((symbol): [string, Timeframe, KlineQuery][] => [
  [symbol, '1m', { startTime: 1723071240000, endTime: 1723131180000, limit: 1000, nowMs: REC_START }],
  [symbol, '1m', { startTime: 1723131240000, endTime: 1723161180000, limit: 500, nowMs: REC_START }],
  [symbol, '1h', { startTime: 1717758000000, endTime: 1721354400000, limit: 1000, nowMs: REC_START }],
  [symbol, '1h', { startTime: 1721358000000, endTime: 1723154400000, limit: 500, nowMs: REC_START }],
  [symbol, '1d', { startTime: 1593475200000, endTime: 1679788800000, limit: 1000, nowMs: REC_START }],
  [symbol, '1d', { startTime: 1679875200000, endTime: 1722988800000, limit: 500, nowMs: REC_START }],
]);

function hourly(n: number, close: (i: number) => string | number): string {
  const rows = Array.from({ length: n }, (_, i) => `${i * H},${new Date(i * H).toISOString().replace('.000Z', 'Z')},1,2,1,${close(i)},${i}`);
  return [HEADER, ...rows].join('\n');
}

function warnings(): { log: Logger; seen: unknown[] } {
  const seen: unknown[] = [];
  return { seen, log: { warn: (obj: unknown) => void seen.push(obj) } as unknown as Logger };
}

describe('KlinesArchive with a memo directory', () => {
  it('answers a later archive\'s backtest history queries from the memo, with the bars of the former archive', async () => {
    const memoDir = tmp();
    const ref = new ReferenceKlinesArchive(DIRS);
    const first = new KlinesArchive(DIRS, undefined, { memoDir });
    for (const [symbol, tf, q] of BACKTEST) expect(await first.klines(symbol, tf, q)).toStrictEqual(await ref.klines(symbol, tf, q));
    expect(first.memoStats).toEqual({ hits: 0, misses: 12, writes: 12 });
    expect(readdirSync(memoDir).filter((f) => f.endsWith('.klm'))).toHaveLength(12);

    const later = new KlinesArchive(DIRS, undefined, { memoDir });
    let bars = 0;
    for (const [symbol, tf, q] of BACKTEST) {
      const got = await later.klines(symbol, tf, q);
      expect(got).toStrictEqual(await ref.klines(symbol, tf, q));
      bars += got.candles.length;
    }
    expect(later.memoStats).toEqual({ hits: 12, misses: 0, writes: 0 });
    expect(bars).toBe(7272);
    // A later clock with the same bounds is the same answer (the same entry); a window the clock cuts is another one.
    const same = { ...BACKTEST[1]![2], nowMs: REC_START + 3 * 60_000 };
    expect(await later.klines('ETH/USDT', '1m', same)).toStrictEqual(await ref.klines('ETH/USDT', '1m', same));
    expect(later.memoStats).toEqual({ hits: 13, misses: 0, writes: 0 });
    const cut = { startTime: 1723131240000, limit: 500, nowMs: REC_START + 3 * 60_000 };
    expect(await later.klines('ETH/USDT', '1m', cut)).toStrictEqual(await ref.klines('ETH/USDT', '1m', cut));
    expect(later.memoStats).toEqual({ hits: 13, misses: 1, writes: 1 });
  });

  it('reads the file again when it changed, and when an entry is damaged', async () => {
    const dir = tmp();
    const memoDir = tmp();
    const file = join(dir, 'm_ETH_USDT-1h.csv');
    const q = { startTime: 0, limit: 100, nowMs: 100 * H };
    writeFileSync(file, hourly(10, (i) => 1 + i / 100));
    const a = await new KlinesArchive([dir], undefined, { memoDir }).klines('ETH/USDT', '1h', q);
    expect(a.candles.map((c) => c.close)).toEqual(Array.from({ length: 10 }, (_, i) => 1 + i / 100));

    writeFileSync(file, hourly(12, (i) => 1.5 + i / 100));
    const changed = new KlinesArchive([dir], undefined, { memoDir });
    expect((await changed.klines('ETH/USDT', '1h', q)).candles.map((c) => c.close)).toEqual(Array.from({ length: 12 }, (_, i) => 1.5 + i / 100));
    expect(changed.memoStats).toEqual({ hits: 0, misses: 1, writes: 1 });

    // Every entry loses its last bytes: each read misses, answers from the file, and writes the entry again.
    for (const f of readdirSync(memoDir)) truncateSync(join(memoDir, f), 40);
    const damaged = new KlinesArchive([dir], undefined, { memoDir });
    expect((await damaged.klines('ETH/USDT', '1h', q)).candles).toHaveLength(12);
    expect(damaged.memoStats).toEqual({ hits: 0, misses: 1, writes: 1 });
    const again = new KlinesArchive([dir], undefined, { memoDir });
    expect((await again.klines('ETH/USDT', '1h', q)).candles.map((c) => c.close)).toEqual(Array.from({ length: 12 }, (_, i) => 1.5 + i / 100));
    expect(again.memoStats).toEqual({ hits: 1, misses: 0, writes: 0 });
  });

  it('never memoises a read that met malformed rows, so every archive still warns about them', async () => {
    const dir = tmp();
    const memoDir = tmp();
    writeFileSync(join(dir, 'bad_ETH_USDT-1h.csv'), hourly(20, (i) => (i === 3 ? 'x' : 1.5)));
    const q = { startTime: 0, limit: 100, nowMs: 100 * H };
    for (let k = 0; k < 2; k++) {
      const { log, seen } = warnings();
      const archive = new KlinesArchive([dir], log, { memoDir });
      expect((await archive.klines('ETH/USDT', '1h', q)).candles).toHaveLength(19);
      expect(archive.memoStats).toEqual({ hits: 0, misses: 1, writes: 0 });
      expect(seen).toHaveLength(1);
    }
    expect(readdirSync(memoDir)).toEqual([]);
  });

  it('keeps the newest entries only, and answers without one when its directory cannot be written', async () => {
    const memoDir = tmp();
    const memo = new KlinesMemo(memoDir);
    const bar = (i: number): Candle => ({ openTime: i * H, open: 1, high: 2, low: 0.5, close: 1 + i, volume: i, closed: true });
    for (let i = 0; i < MAX_ENTRIES + 5; i++) memo.put(KlinesMemo.key(`entry ${i}`), [bar(i)]);
    expect(readdirSync(memoDir)).toHaveLength(MAX_ENTRIES);
    expect(memo.get(KlinesMemo.key(`entry ${MAX_ENTRIES + 4}`))).toEqual([bar(MAX_ENTRIES + 4)]);
    // Bars the archive never returns (forming, or with a trade count) are not stored.
    memo.put(KlinesMemo.key('forming'), [{ ...bar(1), closed: false }]);
    expect(memo.get(KlinesMemo.key('forming'))).toBeUndefined();

    const blocked = join(tmp(), 'not-a-dir');
    writeFileSync(blocked, 'a file where the memo directory would be');
    const { log, seen } = warnings();
    const archive = new KlinesArchive(DIRS, log, { memoDir: blocked });
    for (const [symbol, tf, q] of BACKTEST.slice(0, 3)) expect((await archive.klines(symbol, tf, q)).candles.length).toBeGreaterThan(100);
    expect(archive.memoStats).toEqual({ hits: 0, misses: 3, writes: 0 });
    expect(seen).toEqual([{ dir: blocked, err: expect.stringContaining('EEXIST') }]);
  });
});
