// Which systems keep the DataProvider's candles cache (app/system.ts candleCacheFor): a daemon on live data (paper.yaml,
// live.yaml, an exchange simulator) does; a backtest must neither read nor write it; a replay does not (a restarted
// replay's time before its start is another stretch of the recording than the one the last run's bars came from).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { candleCacheFor } from '../../app/system.ts';
import { loadConfig } from '../../engine/config/load.ts';
import { CandleCache } from '../../engine/store/candle-cache.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';

const stores: LmdbStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) {
    await s.close();
    rmSync(s.path, { recursive: true, force: true });
  }
});
function store(): LmdbStore {
  const s = LmdbStore.open({ path: mkdtempSync(join(tmpdir(), 'cobalt-candles-wiring-')), noSync: true });
  stores.push(s);
  return s;
}

describe('candleCacheFor', () => {
  it('gives a paper daemon on live data a cache', () => {
    const { config } = loadConfig('configs/paper.yaml', {});
    expect(config.data.replayFiles).toEqual([]);
    expect(candleCacheFor('paper', config, store())).toBeInstanceOf(CandleCache);
    expect(candleCacheFor('live', config, store())).toBeInstanceOf(CandleCache);
  });

  it('gives a backtest and a replaying daemon none', () => {
    const backtest = loadConfig('configs/backtest.yaml', {}).config;
    const replay = loadConfig('configs/default.yaml', {}).config;
    expect(replay.data.replayFiles.length).toBeGreaterThan(0);
    expect(candleCacheFor('backtest', backtest, store())).toBeUndefined();
    expect(candleCacheFor('backtest', { data: { ...backtest.data, replayFiles: [] } }, store())).toBeUndefined();
    expect(candleCacheFor('paper', replay, store())).toBeUndefined();
  });
});
