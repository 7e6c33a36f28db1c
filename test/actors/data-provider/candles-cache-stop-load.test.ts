// A stop while the history still loads (session 20's open gap): the final save used to run at once and the load went
// on after it, asking the venue for the rest of the history and merging bars no save would ever write, so a restart
// lacked them and a stopped provider kept calling the venue. Now a stop asks for nothing more, waits (bounded) for the
// request in flight, saves what it brought, and drops an answer that comes later. Review of 9af7ca0: that wait is
// measured in wall time (it was on the engine clock: a SimulatedClock nobody moves never ended it, a ScaledClock at
// --speed 1000 dropped a prompt answer), and a stopped provider's late save no longer removes the newer bars a
// restarted one on the same cache wrote.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KlineQuery, KlineSource } from '../../../actors/data-provider/market-source.ts';
import { DataProvider, STOP_HISTORY_WAIT_MS } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { ScaledClock, SimulatedClock, type Clock } from '../../../engine/runtime/clock.ts';
import { CandleCache } from '../../../engine/store/candle-cache.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import type { Timeframe } from '../../../engine/types/time.ts';
import { archive, REC_START } from './helpers.ts';
import { seriesOf, storedIn } from './candle-cache-rig.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function storeDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cobalt-dp-candles-stop-load-'));
  dirs.push(d);
  return d;
}
const openStore = (path: string) => LmdbStore.open({ path, noSync: true });

// The bundled kline archive, except that call number `holdCall` waits for `release()` (a venue slow to answer).
class HeldHistory implements KlineSource {
  calls = 0;
  private held: (() => void) | undefined;
  constructor(public holdCall: number) {}
  async klines(symbol: string, tf: Timeframe, q: KlineQuery): Promise<{ candles: Candle[]; source: string }> {
    if (++this.calls === this.holdCall) await new Promise<void>((resolve) => { this.held = resolve; });
    return archive.klines(symbol, tf, q);
  }
  get holding(): boolean {
    return this.held !== undefined;
  }
  release(): void {
    this.held?.();
  }
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('the history request never came');
}

// A provider on a store's candles cache whose third kline request (ETH 1h, the first 1m ones answered) is held; its
// wall clock moves only when the test moves it.
async function loadingProvider<C extends Clock>(path: string, clock: C) {
  const store = openStore(path);
  const wall = new SimulatedClock(0);
  const history = new HeldHistory(3);
  const dp = new DataProvider({ bus: new Bus<EngineMsg>(), clock, wallClock: wall, maintenanceMs: 0, history, candleCache: new CandleCache(store) });
  const started = dp.start();
  await until(() => history.holding);
  return { store, clock, wall, history, dp, started };
}

describe('DataProvider stopped while its history loads', () => {
  it('saves the bars of the request in flight at stop and asks the venue for nothing more', { timeout: 60_000 }, async () => {
    const path = storeDir();
    const { store, history, dp, started } = await loadingProvider(path, new SimulatedClock(REC_START));
    const stopped = dp.stop();
    history.release();
    await stopped;
    await started;
    const held = seriesOf(dp);
    await store.close();

    const stored = await storedIn(path, Object.keys(held));
    expect(history.calls).toBe(3);
    expect(held['ETH/USDT 1h']!.length).toBe(1_000); // the answer of the request in flight is in the series
    expect(dp.stats.cacheSaveFailures).toBe(0);
    expect(stored).toEqual(held);
  });

  it('saves the bars of a maintenance pass in flight at stop', { timeout: 60_000 }, async () => {
    const path = storeDir();
    const { store, clock, history, dp, started } = await loadingProvider(path, new SimulatedClock(REC_START));
    history.release();
    await started;
    clock.advance(180_000);
    history.holdCall = history.calls + 1; // the pass's first request: ETH 1m, the three minutes since the load
    const pass = dp.maintain();
    await until(() => history.calls === history.holdCall);
    const stopped = dp.stop();
    history.release();
    await stopped;
    await pass;
    const held = seriesOf(dp);
    await store.close();

    const stored = await storedIn(path, Object.keys(held));
    expect(history.calls).toBe(history.holdCall);
    expect(held['ETH/USDT 1m']!.at(-1)![0]).toBeGreaterThanOrEqual(REC_START + 60_000);
    expect(stored).toEqual(held);
  });
});

describe('DataProvider stop: the wait for the history in flight runs on wall time', () => {
  // Review of 9af7ca0 (3, 4): the engine clock is not wall time. A simulated one that nobody moves held the stop for
  // ever; a scaled one slower than real time stretched the wait past the store's 30 s close hook (at 0.01x: 500 s).
  // Before the fix the stop never resolved here and the test ran into its timeout.
  it.each([
    ['a SimulatedClock nobody moves', () => new SimulatedClock(REC_START)],
    ['a ScaledClock at speed 0.01', () => new ScaledClock(REC_START, 0.01)],
  ])(`ends after ${STOP_HISTORY_WAIT_MS} ms of wall time with %s as the engine clock, and drops the answer that comes after`, { timeout: 30_000 }, async (_name, engineClock) => {
    const path = storeDir();
    const { store, wall, history, dp, started } = await loadingProvider(path, engineClock());
    const stopped = dp.stop();
    wall.advance(STOP_HISTORY_WAIT_MS);
    await stopped;
    const held = seriesOf(dp);
    await store.close();
    history.release();
    await started;

    const stored = await storedIn(path, Object.keys(held));
    expect(history.calls).toBe(3);
    expect(held['ETH/USDT 1m']!.length).toBe(1_500);
    expect(held['ETH/USDT 1h']).toEqual([]); // the answer of the request in flight came too late
    expect(seriesOf(dp)).toEqual(held); // and entered no series
    expect(dp.stats.cacheSaveFailures).toBe(0);
    expect(stored).toEqual(held);
  });

  // Review of 9af7ca0 (4): at --speed 1000 the 5 s of engine time were 5 ms of wall time, and an answer coming 10 ms
  // after the stop (a local round trip) was dropped with a warning that the venue did not answer.
  it('saves an answer that comes soon after the stop while the engine clock runs at speed 1000', { timeout: 60_000 }, async () => {
    const path = storeDir();
    const clock = new ScaledClock(REC_START, 1_000);
    const { store, history, dp, started } = await loadingProvider(path, clock);
    clock.setTimeout(() => history.release(), 2 * STOP_HISTORY_WAIT_MS); // 10 ms of wall time
    await dp.stop();
    await started;
    const held = seriesOf(dp);
    await store.close();

    const stored = await storedIn(path, Object.keys(held));
    expect(held['ETH/USDT 1h']!.length).toBe(1_000);
    expect(stored).toEqual(held);
  });
});

describe('DataProvider stopped while a restarted one runs on the same candles cache', () => {
  // Review of 9af7ca0 (1): a supervisor restart does not await the old provider's stop, whose save comes once its
  // request in flight answers (seconds later). That save's window ended at the old series' newest bar, and every
  // stored bar after it was removed: the new provider's 500 newer 1m bars, which a restart then lacked.
  it("keeps the new provider's newer bars through the old one's late save", { timeout: 60_000 }, async () => {
    const path = storeDir();
    const store = openStore(path);
    const cache = new CandleCache(store);
    const MINUTE = 60_000;
    const clock = new SimulatedClock(Math.floor(REC_START / MINUTE) * MINUTE + 58_000);
    const wall = new SimulatedClock(0);
    const oldHistory = new HeldHistory(1); // the old provider's first request (ETH 1m, its oldest 1,000 bars) is slow
    const old = new DataProvider({ bus: new Bus<EngineMsg>(), clock, wallClock: wall, maintenanceMs: 0, backfillGraceMs: 0, history: oldHistory, candleCache: cache });
    const oldStarted = old.start();
    await until(() => oldHistory.holding);
    const oldStopped = old.stop();
    clock.advance(3_000); // the next minute's bar has closed
    const fresh = new DataProvider({ bus: new Bus<EngineMsg>(), clock, wallClock: wall, maintenanceMs: 0, backfillGraceMs: 0, history: archive, candleCache: cache });
    await fresh.start();
    await fresh.saveCandles();
    oldHistory.release();
    await oldStopped;
    await oldStarted;
    await fresh.stop();
    const restored = cache.restore('ETH/USDT', '1m', clock.now(), 1_500).bars;
    const held = fresh.series('ETH/USDT', '1m').tail(1_500);
    await store.close();

    expect(old.series('ETH/USDT', '1m').length).toBe(1_000); // the old provider's late answer was saved
    expect(held.at(-1)!.openTime).toBe(Math.floor(clock.now() / MINUTE) * MINUTE - MINUTE);
    expect(restored).toEqual(held);
  });
});
