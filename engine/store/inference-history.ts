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
// beyond `maxRecords`, are first written to a gzipped JSONL file in the archive directory (fsynced; float32 arrays as
// base64 of their bytes, see archiveLine), and only then deleted. With `archiveMaxBytes`, each pass then deletes the
// oldest archive files beyond that total (./archive-files.ts). A pass may also be allowed to delete more than it
// archives (`dropMax`): the caller's way out when records arrive faster than archiving can take them (a replay at a
// high --speed), since a store that only grows ends with a full disk; see app/history-retention.ts.
// Recording never throws: a failed write is logged and counted, and the prediction flow goes on.
import { isAscii } from 'node:buffer';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { open as openFile, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip, createGzip } from 'node:zlib';
import { log, type Logger } from '../log.ts';
import type { ModelOutput } from '../messages/signals.ts';
import { StoreError } from '../types/errors.ts';
import type { Timeframe, TsMs } from '../types/time.ts';
import { archiveName, archiveTempName, publishArchive, pruneArchives, removeArchiveTemps } from './archive-files.ts';
import { LmdbStore, prefixRange, type KeyRange, type TypedDb } from './lmdb.ts';

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
  /** The archive file written, if anything was removed (and archiving is on). */
  readonly archiveFile?: string;
  /** True when the pass stopped at its `maxRemove` with expired records left (run another). */
  readonly more?: boolean;
  /** With `more`: the records beyond the limits when the pass began (all series), and those within them. */
  readonly backlog?: number;
  readonly kept?: number;
  /** Records deleted without being archived (`dropMax`); counted in `removed` too. */
  readonly dropped?: number;
  /** Archive files deleted by the size cap, and the total size of those left (with `archiveMaxBytes`). */
  readonly archivesDeleted?: number;
  readonly archiveBytes?: number;
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
  /** Archive records before retention deletes them (default true); false deletes them only. */
  readonly archive?: boolean;
  /** Total size the archive files may take; each pass deletes the oldest beyond it (default: no cap). */
  readonly archiveMaxBytes?: number;
  /** LZ4-compress stored records (default true); see the measurement note at the top of this file. */
  readonly compression?: boolean;
  readonly logger?: Logger;
}

const MAIN_DB = 'inference';
const INDEX_DB = 'inference.bySymbol';
// Below every TsMs (which may be negative in tests) and above every one.
const TS_MIN = -Number.MAX_VALUE;
const TS_MAX = Number.MAX_VALUE;
/** Records removed per write transaction by `retain`. */
const DELETE_CHUNK = 250;

/** Options of one retention pass. */
export interface RetainOptions {
  /**
   * Records the pass may delete beyond `maxRemove` without archiving them (default 0): the oldest of what it selects
   * are dropped, the newest `maxRemove` archived as usual.
   */
  readonly dropMax?: number;
}

/** LMDB-backed history of inferences with range queries, retention and archival. */
export class InferenceHistoryStore {
  private readonly main: TypedDb<MainKey, InferenceRecord>;
  private readonly index: TypedDb<IndexKey, Timeframe>;
  private readonly logger: Logger;
  private failureCount = 0;
  private recordedCount = 0;
  private archiveSeq = 0;
  /** Temporary archive files this store is writing now (a pass never deletes another pass's file in progress). */
  private readonly writing = new Set<string>();

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
   * the oldest beyond maxRecords, at most `maxRemove` of them (oldest first within a series; `more` says some are left),
   * plus up to `dropMax` more deleted unarchived (see RetainOptions).
   * Waits for pending writes first so that it sees them. Costs O(series + removed) reads plus, per series, LMDB's native
   * counts of the records it keeps and removes (~10 ms per 100,000 here), with a yield to the event loop between series.
   */
  async retain(now: TsMs, maxRemove = Number.POSITIVE_INFINITY, opts: RetainOptions = {}): Promise<RetentionResult> {
    if (!(maxRemove > 0)) throw new RangeError(`retain: maxRemove must be > 0, got ${maxRemove}`);
    const dropMax = opts.dropMax ?? 0;
    if (!(dropMax >= 0)) throw new RangeError(`retain: dropMax must be >= 0, got ${dropMax}`);
    await this.store.flush();
    const { doomed, backlog, kept } = await this.selectExpired(now, maxRemove + dropMax);
    // Archiving on: the oldest selected beyond maxRemove go unarchived. Off: nothing is archived anyway.
    const dropped = this.opts.archive === false ? 0 : Math.max(0, doomed.length - maxRemove);
    const archived = doomed.slice(dropped);
    const archiveFile = archived.length === 0 || this.opts.archive === false ? undefined : await this.archive(archived, now);
    // In transactions of DELETE_CHUNK records: one of thousands held the main thread for ~20 ms. A crash between two
    // leaves archived records in the store: the next pass archives them again (a duplicate in the archives, no loss).
    for (let i = 0; i < doomed.length; i += DELETE_CHUNK) {
      const chunk = doomed.slice(i, i + DELETE_CHUNK);
      await this.main.transaction(() => {
        for (const k of chunk) {
          void this.main.remove(k);
          void this.index.remove([k[1], k[2], k[0]]);
        }
      });
    }
    const more = doomed.length >= maxRemove + dropMax;
    const cap = await this.capArchive(archiveFile);
    const figures = { ...(more ? { more, backlog, kept } : {}), ...(dropped > 0 ? { dropped } : {}) };
    if (doomed.length > 0 || (cap?.archivesDeleted ?? 0) > 0) this.logger.info({ removed: doomed.length, archiveFile, more, ...figures, ...cap }, 'inference history retention');
    return { removed: doomed.length, ...(archiveFile ? { archiveFile } : {}), ...figures, ...cap };
  }

  // Runs after the records are deleted: a failure here loses no record, and the next pass tries again.
  private async capArchive(written: string | undefined): Promise<{ archivesDeleted: number; archiveBytes: number } | undefined> {
    const max = this.opts.archiveMaxBytes;
    if (max === undefined || this.opts.archive === false) return undefined;
    const r = await pruneArchives(this.opts.archiveDir, max, written);
    if (r.deleted.length > 0) {
      this.logger.info({ deleted: r.deleted.length, freedBytes: r.freedBytes, archiveBytes: r.bytes, maxBytes: max, oldestDeleted: r.deleted[0] },
        'archive over its size cap: oldest archive files deleted');
    }
    if (r.bytes > max) {
      this.logger.warn({ archiveBytes: r.bytes, maxBytes: max, file: written }, 'the archive file just written is larger than the whole archive cap: kept');
    }
    return { archivesDeleted: r.deleted.length, archiveBytes: r.bytes };
  }

  // The (model, symbol) series in key order: one positioned read per series, not a walk over every key.
  private series(): [model: string, symbol: string][] {
    const out: [string, string][] = [];
    let from: MainKey | undefined;
    for (;;) {
      let first: MainKey | undefined;
      // Run to its end (limit 1), not left open after one step: an open lmdb cursor pins its read snapshot, and LMDB
      // cannot reuse any page freed after it, so the file grows however much retention deletes.
      for (const k of this.main.keys({ ...(from ? { start: from } : {}), limit: 1 })) first = k;
      if (first === undefined) return out;
      const [model, symbol] = first;
      out.push([model, symbol]);
      from = prefixRange([model, symbol]).end as MainKey;
    }
  }

  // Per series: the records before the age cutoff, then the oldest of the rest beyond maxRecords; at most `cap`. Every
  // series is counted, also once `cap` is reached: `backlog` and `kept` are the whole store's.
  private async selectExpired(now: TsMs, cap: number): Promise<{ doomed: MainKey[]; backlog: number; kept: number }> {
    const { maxRecords, maxAgeMs } = this.opts.retention;
    const cutoff = now - maxAgeMs;
    const doomed: MainKey[] = [];
    let backlog = 0;
    let kept = 0;
    for (const [model, symbol] of this.series()) {
      const end = prefixRange([model, symbol]).end;
      const old: KeyRange = { start: [model, symbol, TS_MIN], end: [model, symbol, cutoff] };
      const recent: KeyRange = { start: [model, symbol, cutoff], end };
      const inWindow = this.main.count(recent);
      const excess = Math.max(0, inWindow - maxRecords);
      backlog += this.main.count(old) + excess;
      kept += inWindow - excess;
      const left = (): number => Math.min(cap - doomed.length, 2 ** 31 - 1);
      if (left() > 0) for (const k of this.main.keys({ ...old, limit: left() })) doomed.push(k);
      if (left() > 0 && excess > 0) for (const k of this.main.keys({ ...recent, limit: Math.min(excess, left()) })) doomed.push(k);
      // Each series is a few ms of LMDB reads at most: let ticks and fills in between.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { doomed, backlog, kept };
  }

  // Written under a temporary name, synced, then renamed: a crash while writing leaves no truncated file under an
  // archive name (listArchives and the cap would count it, readers would fail on it); its leftover goes next pass.
  private async archive(keys: readonly MainKey[], now: TsMs): Promise<string> {
    const dir = this.opts.archiveDir;
    mkdirSync(dir, { recursive: true });
    const stale = await removeArchiveTemps(dir, this.writing);
    if (stale.length > 0) this.logger.warn({ files: stale }, 'removed partial archive files left by an interrupted retention pass');
    let file: string;
    do file = join(dir, archiveName(now, this.archiveSeq++));
    while (existsSync(file));
    const temp = archiveTempName(file);
    this.writing.add(temp);
    try {
      await this.writeArchive(temp, keys);
      await publishArchive(temp, file, dir);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    } finally {
      this.writing.delete(temp);
    }
    return file;
  }

  private async writeArchive(file: string, keys: readonly MainKey[]): Promise<void> {
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
    // The records are deleted once the archive is renamed into place: it must be on disk, not only in the page cache.
    const fh = await openFile(file, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/**
 * Returns the time of the newest inference record in `store` (any model and symbol), or undefined when it holds none:
 * where a replay restarted on the store must start after (app/run.ts). One positioned read per symbol of the index.
 */
export function newestInferenceTs(store: LmdbStore): TsMs | undefined {
  const index = store.db<IndexKey, Timeframe>(INDEX_DB);
  let newest: TsMs | undefined;
  let from: IndexKey | undefined;
  for (;;) {
    let first: IndexKey | undefined;
    // Run to its end (limit 1): an open cursor pins its read snapshot (see series()).
    for (const k of index.keys({ ...(from ? { start: from } : {}), limit: 1 })) first = k;
    if (first === undefined) return newest;
    const range = prefixRange([first[0]]);
    for (const k of index.keys({ ...range, reverse: true, limit: 1 })) if (newest === undefined || k[1] > newest) newest = k[1];
    from = range.end as IndexKey;
  }
}

/** One (model, symbol) series of the history in LMDB: its record count and its oldest and newest record times. */
export interface HistorySeries {
  readonly model: string;
  readonly symbol: string;
  readonly count: number;
  readonly firstTs: TsMs;
  readonly lastTs: TsMs;
}

// Reads only: compression on decodes LZ4-compressed and plain values alike (off fails on compressed ones), whatever
// the writer chose. Within one process the first opener's setting holds (LmdbStore.db opens a database once).
// Undefined when the store has no history database: opening it with create would write to a store the reader only
// reads (a store of orders only gained an empty "inference" database from `cobalt history stats`).
const historyDb = (store: LmdbStore): TypedDb<MainKey, InferenceRecord> | undefined => store.existingDb<MainKey, InferenceRecord>(MAIN_DB, { compression: true });

/**
 * Returns the (model, symbol) series of the history in `store`, in key order, with counts and spans: a few positioned
 * reads and LMDB's native count per series, no record decoded (history-reader.ts and `cobalt history stats`). None
 * when the store has no history database.
 */
export function historySeries(store: LmdbStore): HistorySeries[] {
  const main = historyDb(store);
  const out: HistorySeries[] = [];
  if (!main) return out;
  let from: MainKey | undefined;
  for (;;) {
    let first: MainKey | undefined;
    // Each read runs to its end (limit 1): an open cursor pins its snapshot (see series()).
    for (const k of main.keys({ ...(from ? { start: from } : {}), limit: 1 })) first = k;
    if (first === undefined) return out;
    const [model, symbol, firstTs] = first;
    const range = prefixRange([model, symbol]);
    let lastTs = firstTs;
    for (const k of main.keys({ ...range, reverse: true, limit: 1 })) lastTs = k[2];
    out.push({ model, symbol, count: main.count(range), firstTs, lastTs });
    from = range.end as MainKey;
  }
}

/**
 * Returns up to `limit` records of `model` for `symbol` in the time range and after time `after` (exclusive), oldest
 * first, read in one go: a caller pages through a series with `after` the last time it got, so that no cursor stays
 * open between pages (a reader in another process must not pin the daemon's freed pages).
 */
export function historyPage(store: LmdbStore, model: string, symbol: string, range: TimeRange, limit: number, after?: TsMs): InferenceRecord[] {
  const main = historyDb(store);
  if (!main) return [];
  const from = after !== undefined && (range.from === undefined || after >= range.from) ? after : range.from;
  const start: MainKey = [model, symbol, from ?? TS_MIN];
  const end = range.to !== undefined ? [model, symbol, range.to] : prefixRange([model, symbol]).end;
  const out: InferenceRecord[] = [];
  for (const { key, value } of main.entries({ start, end, limit: limit + 1 })) {
    if (after !== undefined && key[2] <= after) continue;
    if (out.length < limit) out.push(value);
  }
  return out;
}

// A Float32Array (features, hidden state) is written as { "f32le": base64 of its little-endian bytes }: exact, and far
// cheaper on the main thread than a JSON number array (formatting 9,190 floats took ~2 ms a record, and a retention
// pass archives up to thousands). Other typed arrays become number arrays, bigints decimal strings. readArchive reads
// both forms of a Float32Array (archives written before this hold number arrays).
const LITTLE_ENDIAN = endianness() === 'LE';
function archiveLine(rec: InferenceRecord): string {
  return JSON.stringify(rec, (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString()
      : v instanceof Float32Array ? { f32le: f32leBytes(v).toString('base64') }
        : ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as Uint8Array) : v);
}

function f32leBytes(v: Float32Array): Buffer {
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return LITTLE_ENDIAN ? b : Buffer.from(b).swap32();
}

// The reviver of archive lines: every { f32le } object back to its Float32Array.
function reviveF32(_k: string, v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const enc = (v as { f32le?: unknown }).f32le;
  if (typeof enc !== 'string' || Object.keys(v).length !== 1) return v;
  const b = Buffer.from(enc, 'base64');
  if (b.length % 4 !== 0) throw new StoreError(`archive line: f32le value of ${b.length} bytes, not a whole number of float32s`);
  if (!LITTLE_ENDIAN) b.swap32();
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** Returns the records of an archive file written by `retain`, with features and hidden state as Float32Array. */
export async function readArchive(file: string): Promise<InferenceRecord[]> {
  const src = createReadStream(file);
  const gunzip = createGunzip();
  // .pipe() does not forward the source's errors (a missing file): without this one is raised outside the caller.
  src.on('error', (err) => gunzip.destroy(err));
  const lines = createInterface({ input: src.pipe(gunzip), crlfDelay: Infinity });
  const out: InferenceRecord[] = [];
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      try {
        out.push(archiveRecord(line));
      } catch (err) {
        throw new StoreError(`archive ${file}: line ${n} is not a record: ${(err as Error).message}`, { cause: err });
      }
    }
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(`archive ${file} cannot be read after ${n} lines (truncated, or not a gzip file?): ${(err as Error).message}`, { cause: err });
  } finally {
    src.destroy();
  }
  return out;
}

/**
 * Returns the record of one archive line (as `retain` writes them), with features and hidden state as Float32Array;
 * throws on a line that is not one.
 */
export function parseArchiveLine(line: string): InferenceRecord {
  return archiveRecord(line);
}

function archiveRecord(line: string): InferenceRecord {
  return finishRecord(JSON.parse(line, reviveF32));
}

// A parsed and revived line as a record: number arrays (archives before f32le) become Float32Array.
function finishRecord(parsed: unknown): InferenceRecord {
  const r = parsed as InferenceRecord & { input: { features: number[] | Float32Array }; output: { hidden?: number[] | Float32Array } };
  return {
    ...r,
    input: { ...r.input, features: r.input.features instanceof Float32Array ? r.input.features : Float32Array.from(r.input.features) },
    output: { ...r.output, ...(r.output.hidden ? { hidden: r.output.hidden instanceof Float32Array ? r.output.hidden : Float32Array.from(r.output.hidden) } : {}) },
  };
}

/** Options of parseArchiveLineBytes. */
export interface ArchiveBytesOptions {
  /**
   * False: every float32 array comes back empty (its size still checked, so the same lines fail): for a caller that
   * wants the rest of the record only (a pass that finds which series and times a file holds).
   */
  readonly floats?: boolean;
}

/**
 * Returns the record of one archive line given as its UTF-8 bytes (no line end): the same record as parseArchiveLine
 * on its text, or the same error. About half the CPU of decoding the text and parsing it, on a line of a full
 * BaseDataInput (see fastRecord).
 */
export function parseArchiveLineBytes(line: Uint8Array, opts: ArchiveBytesOptions = {}): InferenceRecord {
  const bytes = Buffer.isBuffer(line) ? line : Buffer.from(line.buffer, line.byteOffset, line.byteLength);
  const fast = fastRecord(bytes, opts.floats ?? true);
  return fast ?? archiveRecord(bytes.toString('utf8'));
}

// A line is ~99% base64 (the f32le values). JSON.parse with a reviver took ~170 µs of a 49 KB line here, and the line's
// UTF-8 text ~40 µs more; so the line is parsed without its f32le strings: each is cut out as bytes, a token put in its
// place, the small rest parsed without a reviver, and the tokens then replaced as reviveF32 would replace the strings.
// Exact, or undefined so that the caller parses the text the old way (which then gives the same record or the same
// error). A cut string must be ASCII with a length that is a multiple of 4, and is used only if it decodes to as many
// bytes as a string of base64 digits (either alphabet) and up to two '=' at its end does: Buffer.from skips any other
// character (a control character, a backslash, a space) and stops at an inner '=', so anything else decodes to fewer.
// Such a string is a JSON string without escapes whose text equals its bytes. A token ('#<i>') cannot stand outside a
// string in JSON, and its quotes are not escaped (one follows ':' of the key, the other a digit), so a skeleton that
// parses had each token as a whole string where the line had the cut one: the line parses to the same value. Anything
// else unusual (a token not where a cut string was, a one-key f32le object not cut) gives undefined.
const F32_OPEN = Buffer.from('{"f32le":"');
const QUOTE = 0x22;
const TOKEN = /^#(\d+)$/;

class NotFast extends Error {}

interface Cut {
  readonly text: string;
  used: boolean;
}

function fastRecord(line: Buffer, floats: boolean): InferenceRecord | undefined {
  const cuts: Cut[] = [];
  let skeleton = '';
  let from = 0;
  for (let i = line.indexOf(F32_OPEN); i >= 0; i = line.indexOf(F32_OPEN, from)) {
    const start = i + F32_OPEN.length;
    const end = line.indexOf(QUOTE, start);
    if (end < 0 || (end - start) % 4 !== 0 || !isAscii(line.subarray(start, end))) return undefined;
    skeleton += `${line.toString('utf8', from, start)}#${cuts.length}`;
    cuts.push({ text: line.toString('latin1', start, end), used: false });
    from = end;
  }
  if (cuts.length === 0) return undefined;
  skeleton += line.toString('utf8', from);
  try {
    const value = reviveCuts(JSON.parse(skeleton) as unknown, cuts, floats);
    if (cuts.some((c) => !c.used)) return undefined;
    return finishRecord(value);
  } catch {
    // NotFast, or a line that is not a record: the caller's parse of the text says why.
    return undefined;
  }
}

// reviveF32 over a parsed skeleton (children first, as JSON.parse calls a reviver), for the tokens only.
function reviveCuts(v: unknown, cuts: Cut[], floats: boolean): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = reviveCuts(v[i], cuts, floats);
    return v;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  // Own data properties, a "__proto__" too (JSON.parse defines them): assigning one sets it, never the prototype.
  for (const k of keys) o[k] = reviveCuts(o[k], cuts, floats);
  const enc = o.f32le;
  if (typeof enc !== 'string' || keys.length !== 1) return v;
  const b = decodeCut(enc, cuts);
  // reviveF32 throws on this: the text path gives its error.
  if (b.length % 4 !== 0) throw new NotFast();
  return floats ? f32Of(b) : new Float32Array(0);
}

// The bytes of the cut string a token stands for.
function decodeCut(token: string, cuts: Cut[]): Buffer {
  const m = TOKEN.exec(token);
  const cut = m ? cuts[Number(m[1])] : undefined;
  // A one-key f32le object that was not cut (its key written with escapes): the text path decides.
  if (cut === undefined || cut.used) throw new NotFast();
  cut.used = true;
  const b = Buffer.from(cut.text, 'base64');
  if (b.length !== base64Bytes(cut.text)) throw new NotFast();
  return b;
}

// The bytes a string of only base64 digits and up to two '=' at its end decodes to.
function base64Bytes(text: string): number {
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.floor((6 * (text.length - pad)) / 8);
}

// The float32s of decoded bytes; a large decode has a buffer of its own, exactly its size, which is then taken as is.
function f32Of(b: Buffer): Float32Array {
  if (!LITTLE_ENDIAN) b.swap32();
  if (b.byteOffset === 0 && b.buffer.byteLength === b.length) return new Float32Array(b.buffer);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
