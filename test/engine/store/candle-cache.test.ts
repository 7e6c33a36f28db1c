// The candles cache on its own: what it keeps, what it gives back at a restart, and what it leaves out.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CANDLES_DB, CandleCache, windowStartMs } from '../../../engine/store/candle-cache.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import type { Candle } from '../../../engine/messages/market.ts';

const T0 = Date.UTC(2024, 7, 8, 23, 55);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function openStore(dir?: string): LmdbStore {
  const path = dir ?? mkdtempSync(join(tmpdir(), 'cobalt-candles-'));
  if (!dir) dirs.push(path);
  return LmdbStore.open({ path, noSync: true });
}

const bar = (openTime: number, close: number, trades?: number): Candle => ({
  openTime, open: close - 0.5, high: close + 1, low: close - 1, close, volume: 5e9 + close / 7, closed: true, ...(trades === undefined ? {} : { trades }),
});
const secs = (from: number, n: number) => Array.from({ length: n }, (_, i) => bar(from + i * 1_000, 2_680 + i / 100, i));

describe('CandleCache', () => {
  it('gives back every stored bar of a series, as written, after the store is closed and opened again', async () => {
    const store = openStore();
    const bars = [...secs(T0, 10), bar(T0 + 10_000, 2_690)];
    await new CandleCache(store).save([{ symbol: 'ETH/USDT', timeframe: '1s', bars, keepFromMs: T0, keepToMs: T0 + 10_000 }]);
    await store.close();
    const again = openStore(store.path);
    const r = new CandleCache(again).restore('ETH/USDT', '1s', T0 + 11_000, 1_500);
    await again.close();
    expect(r).toEqual({ bars, skipped: 0 });
  });

  it('keeps only the window each save names: older bars and bars after the newest are removed', async () => {
    const store = openStore();
    const cache = new CandleCache(store);
    await cache.save([{ symbol: 'ETH/USDT', timeframe: '1s', bars: secs(T0, 20), keepFromMs: T0, keepToMs: T0 + 19_000 }]);
    // Another time line: the clock went back 10 s, so the newest kept bar is T0 + 9 s.
    await cache.save([{ symbol: 'ETH/USDT', timeframe: '1s', bars: secs(T0 + 5_000, 5), keepFromMs: T0 + 3_000, keepToMs: T0 + 9_000 }]);
    const times = cache.restore('ETH/USDT', '1s', T0 + 60_000, 1_500).bars.map((c) => (c.openTime - T0) / 1_000);
    await store.close();
    expect(times).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  it('leaves out bars older than the window of the series at now, and bars not closed at now', async () => {
    const store = openStore();
    const cache = new CandleCache(store);
    await cache.save([{ symbol: 'BTC/USDT', timeframe: '1s', bars: secs(T0, 100), keepFromMs: T0, keepToMs: T0 + 99_000 }]);
    const capacity = 60;
    const now = T0 + 90_500; // the bar opening at +90 s is still forming; a 60-bar series reaches back to +30 s
    const r = cache.restore('BTC/USDT', '1s', now, capacity);
    const stale = cache.restore('BTC/USDT', '1s', T0 + 100_000 + capacity * 1_000, capacity);
    await store.close();
    expect(windowStartMs('1s', now, capacity)).toBe(T0 + 30_000);
    expect(r.bars.map((c) => (c.openTime - T0) / 1_000)).toEqual(Array.from({ length: 60 }, (_, i) => 30 + i));
    expect(r.skipped).toBe(40);
    expect(stale.bars).toEqual([]);
  });

  it('skips a stored value that is not a bar instead of failing the restore', async () => {
    const store = openStore();
    const cache = new CandleCache(store);
    await cache.save([{ symbol: 'ETH/USDT', timeframe: '1m', bars: [bar(T0, 2_680), bar(T0 + 60_000, 2_681)], keepFromMs: T0, keepToMs: T0 + 60_000 }]);
    await store.db<(string | number)[], unknown>(CANDLES_DB).put(['ETH/USDT', '1m', T0 + 120_000], ['x', 1]);
    await store.db<(string | number)[], unknown>(CANDLES_DB).put(['ETH/USDT', '1m', T0 + 150_000], [1, 2, 0.5, 1.5, 3, null]);
    const r = cache.restore('ETH/USDT', '1m', T0 + 3_600_000, 1_500);
    await store.close();
    expect(r.bars.map((c) => c.openTime)).toEqual([T0, T0 + 60_000]);
    expect(r.skipped).toBe(2); // the malformed value, and the bar off the 1m grid
  });

  it('refuses to write once the store is closed, with a StoreError', async () => {
    const store = openStore();
    const cache = new CandleCache(store);
    await store.close();
    await expect(cache.save([{ symbol: 'ETH/USDT', timeframe: '1s', bars: secs(T0, 1), keepFromMs: T0, keepToMs: T0 }]))
      .rejects.toThrow(/is closed: cannot write to candles.bars/);
  });
});
