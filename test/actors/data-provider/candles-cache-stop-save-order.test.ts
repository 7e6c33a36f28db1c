// Two saves to the candles cache in flight at once (session 20's open gap). A save's transactions after its first are
// issued one commit after another, so a slow commit let the next save's first transaction through before the earlier
// save's later ones: an older version of a bar (a venue sending a closed kline again, corrected) was written after the
// newer one, and the cache kept the stale bar for the next start; and the bars the earlier save wrote late, left of
// the window the later one keeps, stayed stored outside it. Now a save skips the bars a later save writes, and a save
// removes what an earlier one in flight has yet to write outside its window.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Candle } from '../../../engine/messages/market.ts';
import { CANDLES_DB } from '../../../engine/store/candle-cache.ts';
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
