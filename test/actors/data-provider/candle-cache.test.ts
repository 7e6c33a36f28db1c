// Candles survive a restart: a DataProvider stopped and started again on the same store gets its series back from the
// candles cache (engine/store/candle-cache.ts). Without it the 1s series (no venue serves 1s klines) started empty
// after every restart and the models decided nothing for ~2 minutes. Data: the bundled recording's trades.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CobQuery, DataProvider } from '../../../actors/data-provider/provider.ts';
import { CandleCache, windowStartMs } from '../../../engine/store/candle-cache.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { archive, ethBook, ethCob, REC_START } from './helpers.ts';
import { recordedTrades, replayTrades, rigProvider } from './candle-cache-rig.ts';

const CHILD = new URL('./candle-cache-crash-child.ts', import.meta.url).pathname;
const T1 = REC_START + 300_000; // the first run stops (23:59:13)
const T2 = T1 + 20_000; // the second starts 20 s later
const END = T2 + 200_000;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function storeDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cobalt-dp-candles-'));
  dirs.push(d);
  return d;
}
const openStore = (path: string) => LmdbStore.open({ path, noSync: true });
const all = (dp: DataProvider, symbol: string, tf: '1s' | '1m') => dp.series(symbol, tf).tail(1_500);

// The first run: the recording from its start to T1 on a store's cache, stopped gracefully; returns its 1s bars.
async function firstRun(path: string): Promise<{ eth: Candle[]; btc: Candle[] }> {
  const store = openStore(path);
  const rig = rigProvider(REC_START, { store, history: false });
  await rig.dp.start();
  replayTrades(rig, REC_START, T1);
  rig.dp.stop();
  await store.close();
  return { eth: all(rig.dp, 'ETH/USDT', '1s'), btc: all(rig.dp, 'BTC/USDT', '1s') };
}

// The second run from T2: returns the provider, what it held before any trade, and the first second at which it
// could infer on a 1s series holding a bar of this run.
async function secondRun(store: LmdbStore | undefined) {
  // The book as the recording has it at T2, published afresh each time (a snapshot more than 2 s old is a stopped
  // book, left out of the input): the test is about the candles, not the COB.
  const snap = ethCob(ethBook(), T2, T2).latest()!;
  const cob: CobQuery = { latest: () => ({ ...snap, ts: rig.clock.now() }) };
  const rig = rigProvider(T2, { ...(store ? { store } : {}), cob });
  await rig.dp.start();
  const atStart = all(rig.dp, 'ETH/USDT', '1s');
  let firstInfer: number | undefined;
  replayTrades(rig, T2, END, (second) => {
    if (firstInfer !== undefined || (rig.dp.series('ETH/USDT', '1s').last()?.openTime ?? 0) < T2 - 1_000) return;
    const v = rig.dp.validateInput();
    if (process.env.DBG && second % 10_000 === 0) console.log(second - T2, v.message);
    if (v.canInfer) firstInfer = second;
  });
  rig.dp.stop();
  return { dp: rig.dp, atStart, firstInfer };
}

describe('DataProvider candles cache', () => {
  it('a provider restarted on the same store has its 1s series back and can infer 100 s earlier', { timeout: 60_000 }, async () => {
    const path = storeDir();
    const first = await firstRun(path);
    const store = openStore(path);
    const cached = await secondRun(store);
    await store.close();
    const fresh = await secondRun(undefined);

    expect(first.eth.length).toBeGreaterThan(290);
    expect(cached.atStart).toEqual(first.eth);
    expect(cached.dp.stats.cachedBars).toBeGreaterThanOrEqual(first.eth.length + first.btc.length);
    expect(cached.firstInfer! - T2).toBeLessThanOrEqual(3_000);
    expect(fresh.firstInfer! - T2).toBeGreaterThanOrEqual(100_000);
  });

  it('leaves the time the engine was down a hole: no 1s bar invented, the 1m bar left to the venue', { timeout: 60_000 }, async () => {
    const path = storeDir();
    const first = await firstRun(path);
    const store = openStore(path);
    const { dp } = await secondRun(store);
    await store.close();
    const s1 = all(dp, 'ETH/USDT', '1s');
    const lastStored = first.eth.at(-1)!.openTime;
    const firstLive = s1.find((c) => c.openTime > lastStored)!.openTime;
    const minute = Math.floor(T1 / 60_000) * 60_000; // 23:59: trades of both runs, and none of the 20 s between
    const rolledUp = all(dp, 'ETH/USDT', '1m').find((c) => c.openTime === minute);
    await dp.maintain();
    const backfilled = all(dp, 'ETH/USDT', '1m').find((c) => c.openTime === minute)!;
    const venue = archive.all('ETH/USDT', '1m').find((c) => c.openTime === minute)!;

    expect(firstLive - lastStored).toBeGreaterThanOrEqual(20_000);
    expect(dp.series('ETH/USDT', '1s').holes()).toEqual([{ from: lastStored + 1_000, count: (firstLive - lastStored) / 1_000 - 1 }]);
    expect(rolledUp).toBeUndefined();
    expect([backfilled.open, backfilled.high, backfilled.low, backfilled.close, backfilled.volume]).toEqual([venue.open, venue.high, venue.low, venue.close, venue.volume]);
  });

  it('loads no bar older than the series\' window at the restart, and nothing once the whole window is past', { timeout: 60_000 }, async () => {
    const path = storeDir();
    const first = await firstRun(path);
    const store = openStore(path);
    const later = T1 + 1_300_000; // 21 min 40 s later: a 1500-bar 1s series reaches back to T1 − 200 s
    const part = rigProvider(later, { store, history: false });
    await part.dp.start();
    part.dp.stop();
    const gone = rigProvider(T1 + 1_501_000, { store, history: false });
    await gone.dp.start();
    gone.dp.stop();
    await store.close();
    const from = windowStartMs('1s', later, 1_500);

    expect(all(part.dp, 'ETH/USDT', '1s')).toEqual(first.eth.filter((c) => c.openTime >= from));
    expect(all(part.dp, 'ETH/USDT', '1s').length).toBeGreaterThan(150);
    expect(all(part.dp, 'ETH/USDT', '1s').length).toBeLessThan(first.eth.length);
    expect([all(gone.dp, 'ETH/USDT', '1s').length, all(gone.dp, 'BTC/USDT', '1s').length]).toEqual([0, 0]);
    expect(all(gone.dp, 'ETH/USDT', '1m').length).toBeGreaterThan(0); // 1m bars are kept for 1500 minutes
  });

  it('a process killed with SIGKILL while saving leaves a cache of whole bars that the next start loads', { timeout: 60_000 }, async () => {
    const path = storeDir();
    const upTo = REC_START + 240_000;
    const killed = await new Promise<{ signal: NodeJS.Signals | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path, String(upTo)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      child.on('exit', (_code, signal) => resolve({ signal, out }));
    });
    // What the child's provider held: the same trades through a provider without a cache.
    const ref = rigProvider(REC_START, { history: false });
    await ref.dp.start();
    replayTrades(ref, REC_START, upTo);
    ref.dp.stop();
    const want = new Map(all(ref.dp, 'ETH/USDT', '1s').map((c) => [c.openTime, c]));
    const now = upTo + 10_000;
    const store = LmdbStore.open({ path });
    const restored = new CandleCache(store).restore('ETH/USDT', '1s', now, 1_500);
    const next = rigProvider(now, { store, history: false });
    await next.dp.start();
    next.dp.stop();
    await store.close();

    expect(killed.signal).toBe('SIGKILL');
    expect(killed.out).toContain('killing');
    expect(restored.skipped).toBe(0);
    expect(restored.bars.length).toBeGreaterThanOrEqual(want.size - 10); // at most two 5 s saves lost
    expect(restored.bars).toEqual(restored.bars.map((c) => want.get(c.openTime)));
    expect(all(next.dp, 'ETH/USDT', '1s')).toEqual(restored.bars);
  });

  it('starts and builds bars on a cache it can neither read nor write, and counts the failed save', async () => {
    const store = openStore(storeDir());
    const rig = rigProvider(REC_START, { store, history: false });
    await store.close();
    await rig.dp.start();
    replayTrades(rig, REC_START, REC_START + 30_000);
    rig.dp.stop();
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(all(rig.dp, 'ETH/USDT', '1s').length).toBeGreaterThan(20);
    expect(rig.dp.stats.cacheSaveFailures).toBeGreaterThanOrEqual(1);
  });

  it('replays real trades of both symbols', () => {
    const trades = recordedTrades();
    expect(new Set(trades.map((t) => t.symbol))).toEqual(new Set(['ETH/USDT', 'BTC/USDT']));
    expect(trades[0]!.tsLocal).toBeGreaterThanOrEqual(REC_START);
  });
});
