// A graceful stop saves every bar the DataProvider holds to the candles cache, however big the pending save. The
// first save after a history load is ~7,400 bars, written in transactions of at most 64 issued one commit after
// another; a stop within its first 5 s (or during that save) used to lose all but the first transaction, the store
// refusing the rest once closed, and a failed save used to drop its bars for good.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { CandleCache, type SeriesWrite } from '../../../engine/store/candle-cache.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import { StoreError } from '../../../engine/types/errors.ts';
import { archive, REC_START } from './helpers.ts';
import { replayTrades, rigProvider, seriesOf, storedIn } from './candle-cache-rig.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function storeDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cobalt-dp-candles-stop-'));
  dirs.push(d);
  return d;
}
const openStore = (path: string) => LmdbStore.open({ path, noSync: true });

// A candles cache whose first `failures` saves fail before writing anything (a full disk, say).
class FailingFirstCache extends CandleCache {
  constructor(store: LmdbStore, private failures: number) {
    super(store);
  }
  override async save(writes: readonly SeriesWrite[]): Promise<void> {
    if (this.failures-- > 0) throw new StoreError('candles cache: disk full (test)');
    return super.save(writes);
  }
}

describe('DataProvider candles cache at stop', () => {
  // The first trade comes 1.1 s in and arms the 5 s save: stopped at 4 s, before that save; at 7 s, while its
  // transactions are still being issued.
  it.each([4_000, 7_000])('stopped %i ms after a start with history, has every bar it held stored', { timeout: 60_000 }, async (runFor) => {
    const path = storeDir();
    const store = openStore(path);
    const rig = rigProvider(REC_START, { store });
    await rig.dp.start();
    replayTrades(rig, REC_START, REC_START + runFor);
    const held = seriesOf(rig.dp);
    await rig.dp.stop();
    await store.close();

    const stored = await storedIn(path, Object.keys(held));
    expect(held['ETH/USDT 1m']!.length).toBe(1_500); // the history is loaded: a save of thousands of bars
    expect(rig.dp.stats.cacheSaveFailures).toBe(0);
    expect(stored).toEqual(held);
  });

  it('puts the bars of a failed save back, and a later save writes them', { timeout: 60_000 }, async () => {
    const path = storeDir();
    const store = openStore(path);
    const clock = new SimulatedClock(REC_START);
    const bus = new Bus<EngineMsg>();
    const dp = new DataProvider({ bus, clock, maintenanceMs: 0, history: archive, candleCache: new FailingFirstCache(store, 1) });
    await dp.start();
    replayTrades({ clock, bus }, REC_START, REC_START + 8_000); // the first save (6.1 s) fails
    await new Promise((r) => setImmediate(r));
    const failures = dp.stats.cacheSaveFailures;
    replayTrades({ clock, bus }, REC_START + 8_000, REC_START + 14_000); // the second (11.1 s) succeeds
    const held = seriesOf(dp);
    await dp.stop();
    await store.close();

    const stored = await storedIn(path, Object.keys(held));
    expect(failures).toBe(1);
    expect(dp.stats.cacheSaveFailures).toBe(1);
    expect(stored).toEqual(held);
  });
});
