// A history written through the real InferenceHistoryStore, with retention passes that archive part of it, and the
// copies a crash can leave (a record archived and still in LMDB; a pass archived twice): for the history reader and
// `cobalt history` tests.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import pino from 'pino';
import type { ModelOutput } from '../../../engine/messages/signals.ts';
import { listArchives } from '../../../engine/store/archive-files.ts';
import { InferenceHistoryStore, type InferenceRecord } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';

// Real ETH/USDT 1m klines (data/README.md): [open, high, low, close, volume] rows as features.
const KLINES = gunzipSync(readFileSync('data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz')).toString().trim().split('\n').slice(1, 200)
  .map((l) => l.split(',').slice(2, 7).map(Number));
export const T0 = 1_722_003_360_000; // first open_time_ms of that file
export const MODELS = ['cnn', 'dqn'] as const;
export const SYMBOLS = ['BTC/USDT', 'ETH/USDT'] as const;
// Values a float32 tensor can hold that a careless text format loses: -0, the smallest denormal, the largest float32.
const EDGES = [-0, 1.401298464324817e-45, 3.4028234663852886e38, Number.NaN];

/** Returns a record of `model` for `symbol` at minute `i` after T0 (features from the klines, a few edge values). */
export function rec(model: string, symbol: string, i: number): InferenceRecord {
  const ts = T0 + i * 60_000;
  const rows = KLINES.slice(i % 150, (i % 150) + 12);
  const features = Float32Array.from([...rows.flat(), ...EDGES]);
  const output: ModelOutput = {
    model, version: 'v1', symbol, ts, action: i % 3 === 0 ? 'BUY' : 'HOLD', probabilities: [0.5, 0.25, 0.25], confidence: 0.5 + (i % 7) / 100,
    hidden: new Float32Array([rows[0]![3]! / 1000, -0.5, 0.125]), extra: { qValues: [0.1, -0.2, 0.05] },
  };
  return { model, symbol, ts, input: { features, shape: [features.length], timeframe: '1m', completeness: 0.95, meta: { note: 'a,"b"\nc', i } }, output };
}

/** What `writeHistory` left: where, and every distinct record it stored, in (ts, model, symbol) order. */
export interface WrittenHistory {
  readonly root: string;
  readonly storePath: string;
  readonly archiveDir: string;
  readonly expected: InferenceRecord[];
  /** Records stored more than once (in LMDB and an archive, or in two archives). */
  readonly copies: number;
  /** Records in LMDB (the re-recorded archived one included). */
  readonly live: number;
}

export const byTime = (a: InferenceRecord, b: InferenceRecord): number =>
  a.ts - b.ts || (a.model < b.model ? -1 : a.model > b.model ? 1 : 0) || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);

/**
 * Writes 100 records per (model, symbol) at the same minutes, archives the oldest 30 per series, writes 20 more and
 * archives 20 more (two archive files), then leaves the copies a crash would: the first archive written again under
 * another name, and one archived record stored in LMDB again. The store is closed on return.
 */
export async function writeHistory(root = mkdtempSync(join(tmpdir(), 'cobalt-history-'))): Promise<WrittenHistory> {
  const storePath = join(root, 'store');
  const archiveDir = join(root, 'archive');
  const store = LmdbStore.open({ path: storePath, noSync: true });
  const hist = new InferenceHistoryStore(store, { retention: { maxRecords: 70, maxAgeMs: 1e12 }, archiveDir, logger: pino({ level: 'silent' }) });
  const all: InferenceRecord[] = [];
  const put = async (from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i++) for (const m of MODELS) for (const s of SYMBOLS) all.push(rec(m, s, i));
    await Promise.all(all.slice(-(to - from) * 4).map((r) => hist.record(r)));
  };
  await put(0, 100);
  await hist.retain(T0 + 100 * 60_000);
  await put(100, 120);
  await hist.retain(T0 + 120 * 60_000);
  const [first] = await listArchives(archiveDir);
  copyFileSync(first!.file, join(archiveDir, 'inference-9999999999999-7.jsonl.gz'));
  await hist.record(rec('cnn', 'ETH/USDT', 5));
  await store.close();
  return { root, storePath, archiveDir, expected: all.sort(byTime), copies: 30 * 4 + 1, live: 70 * 4 + 1 };
}

/**
 * Inserts a line that is not a record after line `after` of the second archive file (the one no copy was made of);
 * returns the file.
 */
export async function corruptArchive(archiveDir: string, after: number, text = '{"model":"cnn","symbol":'): Promise<string> {
  const { file } = (await listArchives(archiveDir))[1]!;
  const lines = gunzipSync(readFileSync(file)).toString().split('\n');
  lines.splice(after, 0, text);
  writeFileSync(file, gzipSync(lines.join('\n')));
  return file;
}
