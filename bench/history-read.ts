// Reading the inference history's archive files back (HistoryReader over archives only, as `cobalt history` and
// `cobalt train cnn --input history` read them). The archive is written by the product's own writer: real
// BaseDataInputs (a DataProvider packing the bundled ETH/USDT 1m klines, BDI_LENGTH floats each) recorded as the
// coordinator records them (cnn with a 32-float hidden state, the others with Q-values; two symbols, one tick a
// second) into an InferenceHistoryStore whose two retention passes archive them (gzipped JSONL): each file holds every
// series one after the other, over the same span of time. Figures per case, best and median of the rounds: wall ms
// per record read, records per second, and CPU ms per record (every thread of the process: inflating runs on the
// libuv pool; steadier than wall time on a shared machine). Before/after: run this file against both builds of
// engine/store, alternating; the archive written is the same.
//   all      every record, no filter
//   symbol   one symbol (half the records)
//   span     a tenth of the time span
//   scan     HistoryReader.scan of every file (the pass that finds runs and bad lines), ms per line
// `digest` hashes what `all` read (model, symbol, ts, features, hidden): equal digests, equal reads (compare two
// builds of the reader on the same archive). One JSON line on stdout.
//   npx tsx bench/history-read.ts [rounds, default 5] [ticks per series, default 150] [models, 1-3, default 2]
// HISTORY_BENCH_DIR=<dir> writes the archive there and keeps it (for node --cpu-prof of a reader on it).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KlinesArchive } from '../actors/data-provider/klines-archive.ts';
import { createLogger, setLogger } from '../engine/log.ts';
import type { ModelOutput } from '../engine/messages/signals.ts';
import { HistoryReader, type HistoryQuery } from '../engine/store/history-reader.ts';
import { InferenceHistoryStore, type InferenceRecord } from '../engine/store/inference-history.ts';
import { LmdbStore } from '../engine/store/lmdb.ts';
import type { TsMs } from '../engine/types/time.ts';
import { DECISION_LAG_MS, replayBaseDataInputs } from '../models/train/bdi-dataset.ts';

const ROUNDS = Number(process.argv[2] ?? 5);
const TICKS = Number(process.argv[3] ?? 150);
const MODELS = ['cnn', 'dqn', 'lstm'].slice(0, Number(process.argv[4] ?? 2));
const SYMBOLS = ['BTC/USDT', 'ETH/USDT'] as const;
const DISTINCT_INPUTS = 20;
const MIN = 60_000;
const FROM = Date.parse('2024-08-08T10:00:00Z');

async function packedInputs(): Promise<Float32Array[]> {
  const klines = new KlinesArchive(['data/klines']);
  const decisions = Float64Array.from({ length: DISTINCT_INPUTS }, (_, i) => FROM + i * MIN + DECISION_LAG_MS);
  const grid = klines.all('ETH/USDT', '1m').filter((c) => c.openTime < decisions[DISTINCT_INPUTS - 1]!);
  const out: Float32Array[] = [];
  await replayBaseDataInputs(klines, 'ETH/USDT', grid, decisions, 120, (bdi) => void out.push(bdi.slice()));
  return out;
}

function recordOf(model: string, symbol: string, ts: number, features: Float32Array, i: number): InferenceRecord {
  const p = 0.2 + (i % 5) / 20;
  const output: ModelOutput = {
    model, version: 'v3', symbol, ts: ts as TsMs, action: i % 3 === 0 ? 'BUY' : 'HOLD', probabilities: [p, 0.2, 0.8 - p], confidence: 0.8 - p,
    ...(model === 'cnn' ? { hidden: Float32Array.from({ length: 32 }, (_, k) => Math.sin(i + k) * 0.7) } : { extra: { qValues: [0.1 * p, -0.2, 0.05] } }),
  };
  return {
    model, symbol, ts: ts as TsMs, output,
    input: { features, shape: [features.length], timeframe: '1s', completeness: 1, meta: { version: 'v3', deps: model === 'dqn' ? { cnn: 'v3' } : {}, probe: false } },
  };
}

// Two retention passes: two archive files, each holding every series' oldest records (as a daemon writes them).
async function writeArchive(dir: string, inputs: readonly Float32Array[]): Promise<{ archiveDir: string; records: number }> {
  const archiveDir = join(dir, 'archive');
  const store = LmdbStore.open({ path: join(dir, 'store'), noSync: true });
  const hist = new InferenceHistoryStore(store, { retention: { maxRecords: 1, maxAgeMs: 1e12 }, archiveDir });
  let records = 0;
  for (const [from, to] of [[0, Math.floor(TICKS / 2)], [Math.floor(TICKS / 2), TICKS + 1]] as const) {
    const writes: Promise<boolean>[] = [];
    for (let i = from; i < to; i++) {
      for (const m of MODELS) for (const s of SYMBOLS) writes.push(hist.record(recordOf(m, s, FROM + i * 1000, inputs[i % inputs.length]!, i)));
    }
    await Promise.all(writes);
    const r = await hist.retain((FROM + to * 1000) as TsMs);
    records += r.removed;
  }
  await store.close();
  return { archiveDir, records };
}

async function readAll(reader: HistoryReader, q: HistoryQuery, digest?: ReturnType<typeof createHash>): Promise<number> {
  let n = 0;
  for await (const r of reader.records(q)) {
    n++;
    if (digest) {
      digest.update(`${r.model} ${r.symbol} ${r.ts} ${r.output.confidence}\n`);
      digest.update(new Uint8Array(r.input.features.buffer, r.input.features.byteOffset, r.input.features.byteLength));
      if (r.output.hidden) digest.update(new Uint8Array(r.output.hidden.buffer, r.output.hidden.byteOffset, r.output.hidden.byteLength));
    }
  }
  return n;
}

interface Figures {
  records: number;
  ms_per_record_best: number;
  ms_per_record_median: number;
  records_per_s_best: number;
  cpu_ms_per_record_best: number;
  cpu_ms_per_record_median: number;
}

async function timed(rounds: number, once: () => Promise<number>): Promise<Figures> {
  const ms: number[] = [];
  const cpu: number[] = [];
  let records = 0;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    records = await once();
    const c = process.cpuUsage(c0);
    ms.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  ms.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const per = (x: number): number => Math.round((x / Math.max(1, records)) * 1000) / 1000;
  const mid = Math.floor(rounds / 2);
  return {
    records, ms_per_record_best: per(ms[0]!), ms_per_record_median: per(ms[mid]!), records_per_s_best: Math.round((records / ms[0]!) * 1000),
    cpu_ms_per_record_best: per(cpu[0]!), cpu_ms_per_record_median: per(cpu[mid]!),
  };
}

setLogger(createLogger({ level: 'silent' }));
const keep = process.env.HISTORY_BENCH_DIR;
const dir = keep ?? mkdtempSync(join(tmpdir(), 'cobalt-bench-history-'));
try {
  const inputs = await packedInputs();
  const { archiveDir, records } = await writeArchive(dir, inputs);
  const reader = new HistoryReader(undefined, archiveDir);
  const files = await reader.archives();
  const digest = createHash('sha256');
  const read = await readAll(reader, {}, digest);
  if (read !== records) throw new Error(`read ${read} records of the ${records} archived`);
  const spanFrom = (FROM + Math.floor(TICKS * 0.45) * 1000) as TsMs;
  const span = { from: spanFrom, to: (spanFrom + Math.ceil(TICKS / 10) * 1000) as TsMs };
  const out = {
    bench: 'history-read',
    archive: { files: files.length, bytes: files.reduce((a, f) => a + f.bytes, 0), records, series: MODELS.length * SYMBOLS.length, floats_per_record: inputs[0]!.length },
    all: await timed(ROUNDS, () => readAll(reader, {})),
    symbol: await timed(ROUNDS, () => readAll(reader, { symbol: 'ETH/USDT' })),
    span: await timed(ROUNDS, () => readAll(reader, span)),
    scan: await timed(ROUNDS, async () => {
      let lines = 0;
      for (const f of files) lines += (await reader.scan(f.file)).runs.reduce((a, r) => a + r.count, 0);
      return lines;
    }),
    digest: digest.digest('hex').slice(0, 16),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  if (keep === undefined) rmSync(dir, { recursive: true, force: true });
}
