// An inference history written through the real InferenceHistoryStore, as the daemon's coordinator records it: the
// BaseDataInputs are packed by a real DataProvider over the bundled ETH/USDT klines (replayBaseDataInputs), at the
// bdi trainer's decision times (every 5 min, 10 s after a bar's close). Around each decision tick, what a running
// daemon leaves: the DQN's copy of the tick, the CNN's record of the next 1 s tick, a record one bar later (off the
// 5-minute grid), and a model with another input (85 floats, named to sort before 'cnn'). A retention pass archives
// the oldest records of each series, so the reader merges archives and LMDB.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { KlinesArchive } from '../../../actors/data-provider/klines-archive.ts';
import type { ModelOutput } from '../../../engine/messages/signals.ts';
import { InferenceHistoryStore, type InferenceRecord } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import { DECISION_LAG_MS, replayBaseDataInputs } from '../../../models/train/bdi-dataset.ts';

export const SYMBOL = 'ETH/USDT';
export const LABELS = { volWindow: 60, horizon: 30, ptMult: 2, slMult: 2 };
const MIN = 60_000;
/** The first decision's bar closes here; 40 decisions, 5 minutes apart, the last at 13:15:10. */
export const FROM = Date.parse('2024-08-08T10:00:00Z');
export const DECISIONS = 40;
/** Decision time of decision i. */
export const decisionAt = (i: number): number => FROM + i * 5 * MIN + DECISION_LAG_MS;
export const klines = new KlinesArchive(['data/klines']);

/** Where the history lies, and the BaseDataInput recorded at each decision. */
export interface HistoryFixture {
  readonly root: string;
  readonly storePath: string;
  readonly archiveDir: string;
  readonly bdis: readonly Float32Array[];
}

function record(model: string, ts: number, features: Float32Array): InferenceRecord {
  const output: ModelOutput = { model, version: 'v1', symbol: SYMBOL, ts, action: 'HOLD', probabilities: [0.2, 0.2, 0.6], confidence: 0.6 };
  return { model, symbol: SYMBOL, ts, output, input: { features, shape: [features.length], timeframe: '1s', completeness: 1, meta: { version: 'v1' } } };
}

/** Writes the history (see the header) and closes the store. */
export async function writeBdiHistory(root = mkdtempSync(join(tmpdir(), 'cobalt-train-history-'))): Promise<HistoryFixture> {
  const decisions = Float64Array.from({ length: DECISIONS }, (_, i) => decisionAt(i));
  const grid = klines.all(SYMBOL, '1m').filter((c) => c.openTime < decisions[DECISIONS - 1]!);
  const bdis: Float32Array[] = [];
  await replayBaseDataInputs(klines, SYMBOL, grid, decisions, 120, (bdi) => void bdis.push(bdi.slice()));
  const storePath = join(root, 'store');
  const archiveDir = join(root, 'archive');
  const store = LmdbStore.open({ path: storePath, noSync: true });
  const hist = new InferenceHistoryStore(store, { retention: { maxRecords: 25, maxAgeMs: 1e12 }, archiveDir, logger: pino({ level: 'silent' }) });
  const recs: InferenceRecord[] = [];
  bdis.forEach((bdi, i) => {
    const d = decisions[i]!;
    recs.push(record('aux', d, Float32Array.from({ length: 85 }, (_, k) => k / 85)));
    recs.push(record('cnn', d, bdi), record('dqn', d, bdi), record('cnn', d + 1_000, bdi), record('cnn', d + MIN, bdi));
  });
  await Promise.all(recs.map((r) => hist.record(r)));
  await hist.retain(decisions[DECISIONS - 1]! + MIN);
  await store.close();
  return { root, storePath, archiveDir, bdis };
}
