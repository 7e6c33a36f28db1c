// Every inference with its full input package, kept in LMDB for training and audit.
//
// Layout (one environment, two named databases):
//   inference           [model, symbol, ts] -> InferenceRecord           (values LZ4-compressed by default)
//   inference.bySymbol  [symbol, ts, model] -> timeframe                 (index: a symbol across models, by timeframe)
// A second record with the same [model, symbol, ts] replaces the first.
//
// Compression, measured (var/scratch figures in the store report): 3000 records of 7570 float32 features built from
// the bundled klines, 2 shared cores: uncompressed 3.0k puts/s, 32.8 KB/record; lmdb `compression: true` 1.5k
// puts/s and the same size (dense normalised floats have noisy mantissas: LZ4 finds nothing, and deflate of the
// byte-shuffled array saves 20% at 1.8 ms per record, too slow for the main thread). With repeated windows in the
// features LZ4 cut records by 38%. Compression stays on by default: ~0.3 ms extra per record is nothing at
// inference rates, and real inputs repeat (quiet 1s candles, zero volumes); turn it off with `compression: false`.
//
// Retention (`retain(now)`) applies per (model, symbol) series: records older than `maxAgeMs`, then the oldest
// beyond `maxRecords`, are first written to a gzipped JSONL file in the archive directory (fsynced), and only then
// deleted. Recording never throws: a failed write is logged and counted, and the prediction flow goes on.
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip, createGzip } from 'node:zlib';
import { log, type Logger } from '../log.ts';
import type { ModelOutput } from '../messages/signals.ts';
import type { Timeframe, TsMs } from '../types/time.ts';
import { LmdbStore, prefixRange, type TypedDb } from './lmdb.ts';

/** The full model input package of one inference. */
export interface InferenceInput {
  /** Flattened feature tensor. */
  readonly features: Float32Array;
  /** Shape of `features` (e.g. [300, 64]). */
  readonly shape: readonly number[];
  /** Candle timeframe that triggered the inference. */
  readonly timeframe: Timeframe;
  /** BaseDataInput completeness (0..1). */
  readonly completeness?: number;
  /** Anything else the model was given (quality breakdown, model versions fed in, …). */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** One stored inference: input package and output (probabilities, confidence, hidden state). */
export interface InferenceRecord {
  readonly model: string;
  readonly symbol: string;
  readonly ts: TsMs;
  readonly input: InferenceInput;
  readonly output: ModelOutput;
}

type MainKey = [model: string, symbol: string, ts: TsMs];
type IndexKey = [symbol: string, ts: TsMs, model: string];

/** Retention limits, per (model, symbol) series. */
export interface RetentionPolicy {
  readonly maxRecords: number;
  readonly maxAgeMs: number;
}

/** What one retention pass did. */
export interface RetentionResult {
  readonly removed: number;
  /** The archive file written, if anything was removed. */
  readonly archiveFile?: string;
}

/** A time range; `from` inclusive, `to` exclusive. */
export interface TimeRange {
  readonly from?: TsMs;
  readonly to?: TsMs;
}

/** Options of the history. */
export interface InferenceHistoryOptions {
  readonly retention: RetentionPolicy;
  /** Directory for archive files (created on first use). */
  readonly archiveDir: string;
  /** LZ4-compress stored records (default true); see the measurement note at the top of this file. */
  readonly compression?: boolean;
  readonly logger?: Logger;
}

const MAIN_DB = 'inference';
const INDEX_DB = 'inference.bySymbol';
// Below every TsMs (which may be negative in tests) and above every one.
const TS_MIN = -Number.MAX_VALUE;
const TS_MAX = Number.MAX_VALUE;

/** LMDB-backed history of inferences with range queries, retention and archival. */
export class InferenceHistoryStore {
  private readonly main: TypedDb<MainKey, InferenceRecord>;
  private readonly index: TypedDb<IndexKey, Timeframe>;
  private readonly logger: Logger;
  private failureCount = 0;
  private recordedCount = 0;
  private archiveSeq = 0;

  /** Opens (or creates) the history's databases in `store`. */
  constructor(private readonly store: LmdbStore, private readonly opts: InferenceHistoryOptions) {
    this.main = store.db<MainKey, InferenceRecord>(MAIN_DB, { compression: opts.compression ?? true });
    this.index = store.db<IndexKey, Timeframe>(INDEX_DB);
    this.logger = opts.logger ?? log().child({ component: 'inference-history' });
  }

  /** Returns the number of records whose write failed since start. */
  get failures(): number {
    return this.failureCount;
  }

  /** Returns the number of records committed since start. */
  get recorded(): number {
    return this.recordedCount;
  }

  /**
   * Stores a record; resolves true at commit, false on any failure (logged and counted). Never throws or rejects,
   * so a storage problem cannot break the prediction flow.
   */
  record(r: InferenceRecord): Promise<boolean> {
    try {
      const done = Promise.all([
        this.main.put([r.model, r.symbol, r.ts], r),
        this.index.put([r.symbol, r.ts, r.model], r.input.timeframe),
      ]);
      return done.then(
        () => {
          this.recordedCount++;
          return true;
        },
        (err: unknown) => this.fail(r, err),
      );
    } catch (err) {
      return Promise.resolve(this.fail(r, err));
    }
  }

  private fail(r: InferenceRecord, err: unknown): false {
    this.failureCount++;
    try {
      this.logger.error({ err, model: r.model, symbol: r.symbol, ts: r.ts, failures: this.failureCount }, 'inference record not stored');
    } catch {
      // A broken logger must not break the caller either.
    }
    return false;
  }

  /** Returns `model`'s records for `symbol` in the time range, oldest first. */
  query(model: string, symbol: string, range: TimeRange = {}, limit?: number): InferenceRecord[] {
    const out: InferenceRecord[] = [];
    const start: MainKey = [model, symbol, range.from ?? TS_MIN];
    const end = range.to !== undefined ? [model, symbol, range.to] : prefixRange([model, symbol]).end;
    for (const { value } of this.main.entries({ start, end, limit })) out.push(value);
    return out;
  }

  /** Returns the newest `n` records of `model` for `symbol`, oldest first. */
  latest(model: string, symbol: string, n = 1): InferenceRecord[] {
    const out: InferenceRecord[] = [];
    for (const { value } of this.main.entries({ ...prefixRange([model, symbol]), reverse: true, limit: n })) out.push(value);
    return out.reverse();
  }

  /** Returns every model's records for `symbol` in the time range (optionally one timeframe), by time then model. */
  bySymbol(symbol: string, range: TimeRange = {}, timeframe?: Timeframe): InferenceRecord[] {
    const out: InferenceRecord[] = [];
    const start: IndexKey = [symbol, range.from ?? TS_MIN, ''];
    const end: IndexKey = [symbol, range.to ?? TS_MAX, ''];
    for (const { key, value: tf } of this.index.entries({ start, end })) {
      if (timeframe !== undefined && tf !== timeframe) continue;
      const rec = this.main.get([key[2], symbol, key[1]]);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Returns the records of `timeframe` for `symbol` across models in the time range. */
  byTimeframe(symbol: string, timeframe: Timeframe, range: TimeRange = {}): InferenceRecord[] {
    return this.bySymbol(symbol, range, timeframe);
  }

  /** Returns the number of stored records (all models and symbols). */
  count(): number {
    return this.main.count();
  }

  /**
   * Applies retention at time `now`: archives then deletes, per (model, symbol), records older than maxAgeMs and
   * the oldest beyond maxRecords. Waits for pending writes first so that it sees them.
   */
  async retain(now: TsMs): Promise<RetentionResult> {
    await this.store.flush();
    const doomed = this.selectExpired(now);
    if (doomed.length === 0) return { removed: 0 };
    const archiveFile = await this.archive(doomed, now);
    await this.main.transaction(() => {
      for (const k of doomed) {
        void this.main.remove(k);
        void this.index.remove([k[1], k[2], k[0]]);
      }
    });
    this.logger.info({ removed: doomed.length, archiveFile }, 'inference history retention');
    return { removed: doomed.length, archiveFile };
  }

  // Keys come back ordered by (model, symbol, ts): walk each series once, oldest first.
  private selectExpired(now: TsMs): MainKey[] {
    const { maxRecords, maxAgeMs } = this.opts.retention;
    const cutoff = now - maxAgeMs;
    const doomed: MainKey[] = [];
    let series: MainKey[] = [];
    const settle = (): void => {
      let keep = series.filter((k) => k[2] >= cutoff);
      doomed.push(...series.filter((k) => k[2] < cutoff));
      if (keep.length > maxRecords) {
        doomed.push(...keep.slice(0, keep.length - maxRecords));
        keep = keep.slice(keep.length - maxRecords);
      }
      series = [];
    };
    for (const k of this.main.keys()) {
      const last = series[series.length - 1];
      if (last && (last[0] !== k[0] || last[1] !== k[1])) settle();
      series.push(k);
    }
    settle();
    return doomed;
  }

  private async archive(keys: readonly MainKey[], now: TsMs): Promise<string> {
    mkdirSync(this.opts.archiveDir, { recursive: true });
    let file: string;
    do file = join(this.opts.archiveDir, `inference-${Math.floor(now)}-${this.archiveSeq++}.jsonl.gz`);
    while (existsSync(file));
    const gzip = createGzip();
    const out = createWriteStream(file);
    const piped = new Promise<void>((resolve, reject) => {
      out.on('finish', resolve); // 'finish': all bytes handed to the fd
      out.on('error', reject);
      gzip.on('error', reject);
    });
    gzip.pipe(out);
    for (const k of keys) {
      const rec = this.main.get(k);
      if (!rec) continue;
      if (!gzip.write(`${archiveLine(rec)}\n`)) await once(gzip, 'drain');
    }
    gzip.end();
    await piped;
    return file;
  }
}

// Typed arrays become plain number arrays (a float32 written through JSON reads back exactly; non-finite values
// become null, which features should never hold); bigints become decimal strings.
function archiveLine(rec: InferenceRecord): string {
  return JSON.stringify(rec, (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as Float32Array) : v);
}

/** Returns the records of an archive file written by `retain`, with features and hidden state as Float32Array. */
export async function readArchive(file: string): Promise<InferenceRecord[]> {
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  const out: InferenceRecord[] = [];
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as InferenceRecord & { input: { features: number[] }; output: { hidden?: number[] } };
    out.push({
      ...r,
      input: { ...r.input, features: Float32Array.from(r.input.features) },
      output: { ...r.output, ...(r.output.hidden ? { hidden: Float32Array.from(r.output.hidden) } : {}) },
    });
  }
  return out;
}
