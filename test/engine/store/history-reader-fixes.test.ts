// Review h21 of `cobalt history` (commit c347022): a retention pass during a read, memory of open archive runs, and
// archive lines that parse but lack the fields every consumer reads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveLineRecord, HistoryReader } from '../../../engine/store/history-reader.ts';
import { InferenceHistoryStore, type InferenceRecord } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import type { TsMs } from '../../../engine/types/time.ts';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function record(model: string, symbol: string, ts: number, featureLen = 4): InferenceRecord {
  return {
    model, symbol, ts: ts as TsMs,
    input: { features: new Float32Array(featureLen).fill(ts % 7), shape: [featureLen], timeframe: '1s' },
    output: { model, version: 'v1', symbol, ts: ts as TsMs, action: 'HOLD', probabilities: [0.1, 0.2, 0.7], confidence: 0.5 },
  };
}

function history(maxRecords: number): { store: LmdbStore; hist: InferenceHistoryStore; archiveDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'cobalt-history-fix-'));
  roots.push(root);
  const store = LmdbStore.open({ path: join(root, 'store'), noSync: true });
  const archiveDir = join(root, 'archive');
  const hist = new InferenceHistoryStore(store, { retention: { maxRecords, maxAgeMs: 1e15 }, archiveDir, logger: pino({ level: 'silent' }) });
  return { store, hist, archiveDir };
}

describe('a retention pass during a read (h21 finding 1)', () => {
  it('yields the records it moved into a new archive file, each once and in time order', async () => {
    const { store, hist, archiveDir } = history(50);
    const series = [['cnn', 'BTC/USDT'], ['cnn', 'ETH/USDT']] as const;
    const want: string[] = [];
    for (let ts = 0; ts < 150; ts++) for (const [m, s] of series) (await hist.record(record(m, s, ts)), want.push(`${ts} ${m} ${s}`));
    const reader = new HistoryReader(store, archiveDir);
    const got: string[] = [];
    try {
      for await (const r of reader.records()) {
        // The LMDB cursors hold their first pages; the pass moves 100 records per series, most of them not read yet.
        if (got.push(`${r.ts} ${r.model} ${r.symbol}`) === 10) expect((await hist.retain(1000 as TsMs)).removed).toBe(200);
      }
    } finally {
      await store.close();
    }
    expect(got).toEqual(want);
    expect(reader.counts).toMatchObject({ lateArchives: 1, unreadable: 0 });
  });
});

// A gc() for this test: vitest's workers run without --expose-gc.
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('the memory of open archive runs (h21 finding 2)', () => {
  it('holds about a line per open run, not lines read ahead', async () => {
    // Two series in one archive file of 600 lines of ~27 KB: a merge keeps both runs open. A reader buffering lines
    // ahead (readline: up to 1,024) holds many of them per run.
    const { store, hist, archiveDir } = history(0);
    for (let ts = 0; ts < 300; ts++) for (const s of ['BTC/USDT', 'ETH/USDT']) await hist.record(record('cnn', s, ts, 5000));
    await hist.retain(1000 as TsMs);
    await store.close();
    const reader = new HistoryReader(undefined, archiveDir);
    collectGarbage();
    const base = process.memoryUsage().heapUsed;
    let n = 0;
    let grownBytes = 0;
    for await (const r of reader.records()) {
      expect(r.ts).toBe(Math.floor(n / 2));
      if (++n === 100) {
        collectGarbage();
        grownBytes = process.memoryUsage().heapUsed - base;
      }
    }
    expect(n).toBe(600);
    // Measured: ~0.5 MB pulling lines on demand, ~11 MB with readline.
    expect(grownBytes).toBeLessThan(4 * 1024 * 1024);
  });
});

describe('archiveLineRecord on a line that parses but lacks fields (h21 finding 3)', () => {
  it.each([
    ['no shape, timeframe or output fields', '{"model":"m0","symbol":"S0/USDT","ts":1,"input":{"features":[1]},"output":{}}', /input.shape/],
    ['no timeframe', '{"model":"m","symbol":"s","ts":1,"input":{"features":[1],"shape":[1]},"output":{"action":"BUY","version":"v1","probabilities":[1,0,0],"confidence":1}}', /input.timeframe/],
    ['two probabilities', '{"model":"m","symbol":"s","ts":1,"input":{"features":[1],"shape":[1],"timeframe":"1m"},"output":{"action":"BUY","version":"v1","probabilities":[1,0],"confidence":1}}', /probabilities/],
    ['no confidence', '{"model":"m","symbol":"s","ts":1,"input":{"features":[1],"shape":[1],"timeframe":"1m"},"output":{"action":"BUY","version":"v1","probabilities":[1,0,0]}}', /confidence/],
  ])('says why a line with %s is not a record', (_name, line, reason) => {
    expect(archiveLineRecord(line)).toEqual(expect.stringMatching(reason));
  });

  it('takes a record whose NaN probabilities and confidence were archived as null', () => {
    const line = '{"model":"m","symbol":"s","ts":1,"input":{"features":[1],"shape":[1],"timeframe":"1m"},"output":{"action":"HOLD","version":"v1","probabilities":[null,0,0],"confidence":null}}';
    expect(archiveLineRecord(line)).toMatchObject({ model: 'm', ts: 1, output: { probabilities: [null, 0, 0] } });
  });
});
