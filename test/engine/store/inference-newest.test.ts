// The newest inference record of a store, any model and symbol: where a replay restarted on a store written before the
// replay position was kept must start after (review of the looped replay, finding 1; actors/data-provider/replay.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InferenceHistoryStore, newestInferenceTs, type InferenceRecord } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function open(): { store: LmdbStore; history: InferenceHistoryStore } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-newest-'));
  dirs.push(dir);
  const store = LmdbStore.open({ path: dir, noSync: true });
  return { store, history: new InferenceHistoryStore(store, { retention: { maxRecords: 100, maxAgeMs: 1e12 }, archiveDir: path.join(dir, 'archive'), archive: false }) };
}

const rec = (model: string, symbol: string, ts: number): InferenceRecord => ({
  model, symbol, ts, input: { features: Float32Array.of(1), shape: [1], timeframe: '1m' as const },
  output: { model, version: 'v1', symbol, ts, action: 'HOLD', probabilities: [0.3, 0.3, 0.4], confidence: 0.4 },
});

describe('newestInferenceTs', () => {
  it('returns undefined for a store without records', async () => {
    const { store } = open();
    expect(newestInferenceTs(store)).toBeUndefined();
    await store.close();
  });

  it('returns the newest time across models and symbols, whichever sorts first', async () => {
    const { store, history } = open();
    await Promise.all([
      history.record(rec('cnn', 'BTC/USDT', 5_000)), history.record(rec('momentum', 'BTC/USDT', 9_000)),
      history.record(rec('cnn', 'ETH/USDT', 7_000)), history.record(rec('zeta', 'ETH/USDT', 8_500)), history.record(rec('cnn', 'ETH/USDT', -3)),
    ]);
    expect(newestInferenceTs(store)).toBe(9_000);
    await history.record(rec('cnn', 'ETH/USDT', 12_345.5));
    expect(newestInferenceTs(store)).toBe(12_345.5);
    await store.close();
  });
});
