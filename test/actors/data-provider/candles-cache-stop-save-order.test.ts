// Two saves to the candles cache in flight at once (session 20's open gap). A save's transactions after its first are
// issued one commit after another, so a slow commit let the next save's first transaction through before the earlier
// save's later ones: an older version of a bar (a venue sending a closed kline again, corrected) was written after the
// newer one, and the cache kept the stale bar for the next start; and the bars the earlier save wrote late, left of
// the window the later one keeps, stayed stored outside it. Now a save skips the bars a later save writes, and a save
// removes what an earlier one in flight has yet to write outside its window. Review of 9af7ca0 (2): a save planned
// each of its series against every claim of the saves in flight (0.8 s of main thread with 30 symbols while a history
// load's save was in flight); the claims are now indexed by series.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Candle } from '../../../engine/messages/market.ts';
import { CANDLES_DB, CandleCache, type SeriesWrite } from '../../../engine/store/candle-cache.ts';
import { LmdbStore, prefixRange, type TypedDb } from '../../../engine/store/lmdb.ts';
import type { Timeframe } from '../../../engine/types/time.ts';
import { REC_START } from './helpers.ts';
import { rigProvider } from './candle-cache-rig.ts';

type Key = [string, Timeframe, number];
type Value = [open: number, high: number, low: number, close: number, volume: number, trades: number | null];

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function storeDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cobalt-dp-candles-save-order-'));
  dirs.push(d);
  return d;
}
const openStore = (path: string) => LmdbStore.open({ path, noSync: true });

// The first write transaction on `db` commits only at `commit()`: a slow disk under the first save.
function slowFirstTransaction(db: TypedDb<Key, Value>): { commit: () => void } {
  let commit!: () => void;
  const committed = new Promise<void>((resolve) => { commit = resolve; });
  const transaction = db.transaction.bind(db);
  let slow = 1;
  db.transaction = <T>(fn: () => T): Promise<T> => (slow-- > 0 ? committed.then(() => transaction(fn)) : transaction(fn));
  return { commit };
}

const MINUTE = 60_000;
const FIRST = Math.floor(REC_START / MINUTE) * MINUTE - 1_510 * MINUTE;
const bar = (i: number, close: number): Candle => ({ openTime: FIRST + i * MINUTE, open: 2_600, high: 2_610, low: 2_590, close, volume: 12.5, closed: true });

function rows(bars: readonly Candle[]): [number, ...Value][] {
  return bars.map((c) => [c.openTime, c.open, c.high, c.low, c.close, c.volume, c.trades ?? null]);
}

// A provider on a store whose first transaction commits late, fed ETH 1m klines of bars `from` to `to` (exclusive);
// `saveBetween` runs between its first save and its second.
async function twoSaves(from: number, to: number, saveBetween: (kline: (c: Candle) => void) => void) {
  const path = storeDir();
  const store = openStore(path);
  const slow = slowFirstTransaction(store.db<Key, Value>(CANDLES_DB));
  const rig = rigProvider(REC_START, { store, history: false });
  await rig.dp.start();
  const kline = (c: Candle) => rig.bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1m', candle: c, tsExchange: c.openTime + MINUTE, tsLocal: REC_START });
  for (let i = from; i < to; i++) kline(bar(i, 2_601));
  const first = rig.dp.saveCandles();
  saveBetween(kline);
  await rig.dp.saveCandles();
  slow.commit();
  await first;
  const held = rig.dp.series('ETH/USDT', '1m').tail(1_500);
  await rig.dp.stop();
  await store.close();

  const reopened = openStore(path);
  const stored = [...reopened.db<Key, Value>(CANDLES_DB).entries(prefixRange(['ETH/USDT', '1m']))].map(({ key, value }) => [key[2], ...value]);
  await reopened.close();
  return { held, stored, failures: rig.dp.stats.cacheSaveFailures };
}

describe('DataProvider saves to the candles cache in flight at once', () => {
  it('keep the newest version of a bar that both write, whatever order their transactions commit in', { timeout: 60_000 }, async () => {
    // 70 bars: two transactions, the newest bar in the second; the venue then sends that bar again, corrected.
    const { held, stored, failures } = await twoSaves(1_440, 1_510, (kline) => kline(bar(1_509, 2_605)));
    expect(held.at(-1)!.close).toBe(2_605);
    expect(failures).toBe(0);
    expect(stored).toEqual(rows(held));
  });

  it('keep no bar outside the window of the later one', { timeout: 60_000 }, async () => {
    // A full series (24 transactions), then 3 bars more: the later save's window starts 3 bars later.
    const { held, stored, failures } = await twoSaves(0, 1_500, (kline) => {
      for (let i = 1_500; i < 1_503; i++) kline(bar(i, 2_602));
    });
    expect(held[0]!.openTime).toBe(FIRST + 3 * MINUTE);
    expect(failures).toBe(0);
    expect(stored).toEqual(rows(held));
  });
});

// Counts the entries that iterations of any Map yield while `fn` runs (Map.prototype's iterators, wrapped).
function mapEntriesVisited(fn: () => void): number {
  type Iterate = (this: Map<unknown, unknown>) => Iterator<unknown>;
  const proto = Map.prototype as unknown as Record<PropertyKey, Iterate>;
  const names: PropertyKey[] = [Symbol.iterator, 'entries', 'keys', 'values'];
  const originals = names.map((name) => proto[name]!);
  let visited = 0;
  names.forEach((name, i) => {
    proto[name] = function (this: Map<unknown, unknown>) {
      const it = originals[i]!.call(this);
      return { next: () => { const r = it.next(); if (!r.done) visited++; return r; }, [Symbol.iterator]() { return this; } };
    };
  });
  try {
    fn();
  } finally {
    names.forEach((name, i) => { proto[name] = originals[i]!; });
  }
  return visited;
}

// `n` closed 1m bars of `symbol` up to the one before FIRST + 1,510 minutes, the series' window ending there.
function minutes(symbol: string, n: number): SeriesWrite {
  const last = FIRST + 1_509 * MINUTE;
  const bars = Array.from({ length: n }, (_, i) => ({ ...bar(1_510 - n + i, 2_601) }));
  return { symbol, timeframe: '1m', bars, keepFromMs: last - 1_499 * MINUTE, keepToMs: last };
}

describe('CandleCache.save while other series are saved', () => {
  it('plans a series against the claims of that series only', { timeout: 60_000 }, async () => {
    const store = openStore(storeDir());
    const cache = new CandleCache(store);
    const slow = slowFirstTransaction(store.db<Key, Value>(CANDLES_DB));
    // Ten other symbols' full 1m series in flight: 15,000 keys claimed.
    const others = cache.save(Array.from({ length: 10 }, (_, i) => minutes(`S${i}/USDT`, 1_500)));
    let one!: Promise<void>;
    const visited = mapEntriesVisited(() => { one = cache.save([minutes('ETH/USDT', 1)]); });
    slow.commit();
    await Promise.all([others, one]);
    await store.close();

    expect(visited).toBeLessThan(100);
  });
});
