// Reads the inference history back out, archive files and LMDB together, in time order: for `cobalt history` and for
// training code that wants every stored (input, output) pair, not only those retention has left in LMDB.
//
// Order: by (ts, model, symbol) over all the series asked for. Memory stays bounded by the number of sources, never by
// the number of records:
//   - LMDB: one source per (model, symbol) series, read in pages of PAGE records with no cursor left open between
//     pages (see historyPage), so a reader in another process does not pin the daemon's freed pages.
//   - Archive files: retention writes each file series by series in key order, but nothing below relies on it. A first
//     pass over each file (scanArchive) finds its runs (stretches of one series with non-decreasing times) and its bad
//     lines; each run then becomes a source of the merge, opened when its first time comes up. The runs of one file
//     overlap in time (a pass archives every series' oldest records), so they are read side by side: one second pass
//     over the file (SharedArchive) serves them all, going as far as the furthest run has asked, and the lines it
//     reads for the runs behind wait in a spill file on disk (at most the file's wanted lines, inflated), not in
//     memory; the pass itself holds one chunk and one line (archiveLines pulls on demand). A pass per run inflated the
//     file's head again for each run: with S series a file about (S + 1) / 2 times, after the scan. A file is not
//     skipped by the pass time in its name for a `from`: a pass may archive records newer than its time (the oldest
//     beyond maxRecords are taken whatever their time, and the coordinator nudges equal times forward by 0.001 ms).
//   Decoding: lines stay bytes; parseArchiveLineBytes parses the small rest of a line and decodes its base64 floats
//     directly (the scan only checks them). Figures: bench/history-read.ts.
// The same [model, symbol, ts] may be stored more than once: a retention pass that crashed after archiving and before
// deleting leaves it in an archive and in LMDB (or, after the next pass, in two archives). Copies come out of the merge
// next to each other; the first one wins: LMDB's (the newest write), else the newest archive file's.
// A line that is not a record is skipped, counted and reported with its file and line number (onWarning), never
// silently; so is an archive that cannot be read to its end (the lines before it are used).
// Concurrency with a running daemon: LMDB lets any number of processes read while one writes. Retention may move
// records from LMDB into a new archive file during a long read, before the LMDB pages reach them: after each page
// `records` looks for such files and merges them in (addArchives; counted in lateArchives). A file that vanishes (the
// archive cap) before its second pass opened is reported as unreadable: records may be missing then (once open, the
// pass reads it to its end).
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fstatSync, openSync, readSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import { log } from '../log.ts';
import type { TsMs } from '../types/time.ts';
import { listArchives, namesIn, type ArchiveFile } from './archive-files.ts';
import { historyPage, historySeries, parseArchiveLine, parseArchiveLineBytes, type HistorySeries, type InferenceRecord, type TimeRange } from './inference-history.ts';
import { LmdbStore } from './lmdb.ts';
import { REPLAY_POSITION_DB, REPLAY_REACHED_KEY } from './replay-position.ts';

/** Which records to read: one model and/or symbol, and a time range (`from` inclusive, `to` exclusive). */
export interface HistoryQuery extends TimeRange {
  readonly model?: string;
  readonly symbol?: string;
}

/** Something a read skipped: a line that is not a record, or an archive that could not be read to its end. */
export type HistoryWarning =
  | { readonly kind: 'badLine'; readonly file: string; readonly line: number; readonly reason: string }
  | { readonly kind: 'unreadable'; readonly file: string; readonly afterLine: number; readonly reason: string };

/** Options of a reader. */
export interface HistoryReaderOptions {
  /** Told of every skipped line or unreadable archive (once per file and line per scan). */
  readonly onWarning?: (w: HistoryWarning) => void;
  /**
   * Bytes of inflated archive lines a `records` call may keep in memory for the runs behind (see SharedArchive;
   * default 64 MiB), and the directory of the spill files that take the rest (default the system's temporary
   * directory; where none can be written, each run reads the file through a pass of its own).
   */
  readonly holdBytes?: number;
  readonly spillDir?: string;
}

/** A stretch of one archive file holding one series in non-decreasing time (lines numbered from 1). */
export interface ArchiveRun {
  readonly model: string;
  readonly symbol: string;
  readonly startLine: number;
  readonly endLine: number;
  readonly firstTs: TsMs;
  readonly lastTs: TsMs;
  readonly count: number;
}

/** What one pass over an archive file found. */
export interface ArchiveScan {
  readonly file: string;
  readonly runs: readonly ArchiveRun[];
  /** Per series: records, oldest and newest time. */
  readonly series: readonly HistorySeries[];
  /** Line numbers of the lines that are not records. */
  readonly badLines: readonly number[];
  /** Set when the file could not be read to its end (truncated, not gzip): the line count reached. */
  readonly unreadableAfter?: number;
}

/** What `records` has done so far. */
export interface HistoryReadCounts {
  live: number;
  archived: number;
  /** Copies of a record already read (the same model, symbol and time), left out. */
  duplicates: number;
  /** Archive lines skipped because they are not records. */
  badLines: number;
  /** Archive files that could not be read to their end (or vanished before their records were read). */
  unreadable: number;
  /** Archive files that appeared while `records` ran (retention of a running daemon), read as well. */
  lateArchives: number;
}

/** Records per LMDB read: ~33 KB each with full inputs, so ~1 MB per live series in memory at most. */
const PAGE = 32;

type Line = { readonly n: number; readonly bytes: Buffer };
type LineError = { readonly error: string; readonly afterLine: number };

const NEWLINE = 0x0a;
const CR = 0x0d;
// Compressed bytes read ahead, and inflated bytes per chunk, per open archive stream. With zlib's 16 KB chunks a
// 5.5 MB archive took ~300 ms of CPU to inflate here (a trip to the thread pool per chunk), with 256 KB ~110 ms. But
// on a data error (a bad CRC, a flipped byte) Node drops the chunk it was filling: 256 KB chunks lost up to 256 KB of
// good lines before the error (review of 0f935c2: 185 records of 2,373, where 16 KB chunks lose ~13). So after an
// error the lines from there on are read again in 16 KB chunks, up to the error.
const READ_AHEAD = 256 * 1024;
const INFLATE_CHUNK = 256 * 1024;
const ERROR_CHUNK = 16 * 1024;
// Inflated lines a shared pass may spill per archive file; past it the runs read their lines through passes of their
// own (the old way), rather than fill the temporary directory's disk (often the store's) before a write fails.
const SPILL_MAX_BYTES = 512 * 1024 * 1024;

// The lines of a gzipped archive from line `fromLine` on (numbered from 1), as bytes without the line end (CR LF as
// LF); the lines before it are counted, never decoded. A read error becomes an `unreadable` marker as the last item.
// Pull-based: gunzip is asked for its next chunk only when the caller wants a line beyond the current one, so an open
// archive holds one chunk and one partial line (~0.3 MB). readline read up to 1,024 lines ahead per stream: ~40 MB per
// open run, and a merge keeps a run of each series open (1.8 GB RSS on 12 series of 7,570 features).
async function* archiveLines(file: string, fromLine = 1, chunkSize = INFLATE_CHUNK): AsyncGenerator<Line | LineError> {
  const src = createReadStream(file, { highWaterMark: READ_AHEAD });
  const gunzip = createGunzip({ chunkSize });
  // .pipe() does not forward the source's errors (a file deleted meanwhile): without this one is raised elsewhere.
  src.on('error', (err) => gunzip.destroy(err));
  src.pipe(gunzip);
  let n = 0;
  // The current line's bytes from earlier chunks; kept only from `fromLine` on.
  let parts: Buffer[] = [];
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let start = 0;
      for (let i = chunk.indexOf(NEWLINE); i >= 0; i = chunk.indexOf(NEWLINE, start)) {
        if (++n >= fromLine) yield { n, bytes: lineBytes(parts, chunk.subarray(start, i)) };
        parts = [];
        start = i + 1;
      }
      if (start < chunk.length && n + 1 >= fromLine) parts.push(chunk.subarray(start));
    }
    if (parts.length > 0) yield { n: ++n, bytes: lineBytes(parts, Buffer.alloc(0)) };
  } catch (err) {
    src.destroy();
    gunzip.destroy();
    if (chunkSize <= ERROR_CHUNK) {
      yield { error: (err as Error).message, afterLine: n };
      return;
    }
    // The lines the dropped chunk held, again in small chunks; its error (or a later one) ends them.
    for await (const item of archiveLines(file, Math.max(fromLine, n + 1), ERROR_CHUNK)) {
      yield 'error' in item ? { error: item.error, afterLine: Math.max(n, item.afterLine) } : item;
    }
  } finally {
    src.destroy();
    gunzip.destroy();
  }
}

// The bytes of a line split over chunks (decoded later, whole: a character may straddle two chunks); CR LF as LF.
function lineBytes(parts: readonly Buffer[], last: Buffer): Buffer {
  const b = parts.length === 0 ? last : Buffer.concat([...parts, last]);
  return b.length > 0 && b[b.length - 1] === CR ? b.subarray(0, -1) : b;
}

// True for a line whose text is blank (`text.trim() === ''`: skipped, not a bad line).
function isBlank(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) continue;
    // trim() also takes Unicode spaces (U+00A0, U+FEFF, U+2028, ...).
    return c >= 0x80 ? b.toString('utf8').trim() === '' : false;
  }
  return true;
}

const isNumberOrNull = (v: unknown): boolean => v === null || typeof v === 'number';

// Why a parsed line lacks a field every consumer of a record reads (csvRow, jsonlRow, training code), or undefined.
// NaN is archived as null (JSON has no NaN), so a probability or confidence may be null.
function missingField(r: InferenceRecord): string | undefined {
  const { input, output } = r as unknown as { input: Readonly<Record<string, unknown>>; output: Readonly<Record<string, unknown>> };
  if (!Array.isArray(input.shape) || !input.shape.every((d) => typeof d === 'number')) return 'input.shape is not an array of numbers';
  if (typeof input.timeframe !== 'string') return 'input.timeframe is not a string';
  if (typeof output.action !== 'string') return 'output.action is not a string';
  if (typeof output.version !== 'string') return 'output.version is not a string';
  const p = output.probabilities;
  if (!Array.isArray(p) || p.length !== 3 || !p.every(isNumberOrNull)) return 'output.probabilities is not 3 numbers';
  if (!isNumberOrNull(output.confidence)) return 'output.confidence is not a number';
  return undefined;
}

/** Returns the record of an archive line, or why it is not one (parse error, a missing or mistyped field). */
export function archiveLineRecord(text: string): InferenceRecord | string {
  return checkedRecord(() => parseArchiveLine(text));
}

// archiveLineRecord of a line's bytes (its UTF-8 text); with `floats` false, float32 arrays come back empty.
function archiveBytesRecord(bytes: Buffer, floats: boolean): InferenceRecord | string {
  return checkedRecord(() => parseArchiveLineBytes(bytes, { floats }));
}

function checkedRecord(parse: () => InferenceRecord): InferenceRecord | string {
  let r: InferenceRecord;
  try {
    r = parse();
  } catch (err) {
    return (err as Error).message;
  }
  if (typeof r.model !== 'string' || typeof r.symbol !== 'string') return 'model or symbol is not a string';
  if (typeof r.ts !== 'number' || !Number.isFinite(r.ts)) return `ts ${String(r.ts)} is not a time in ms`;
  if (typeof r.output !== 'object' || r.output === null) return 'no output';
  return missingField(r) ?? r;
}

/** Returns the runs, per-series spans and bad lines of an archive file, reading it once (each bad line reported). */
export async function scanArchive(file: string, onWarning?: (w: HistoryWarning) => void): Promise<ArchiveScan> {
  const runs: ArchiveRun[] = [];
  const series = new Map<string, { model: string; symbol: string; count: number; firstTs: TsMs; lastTs: TsMs }>();
  const badLines: number[] = [];
  let run: { -readonly [K in keyof ArchiveRun]: ArchiveRun[K] } | undefined;
  let unreadableAfter: number | undefined;
  for await (const item of archiveLines(file)) {
    if ('error' in item) {
      unreadableAfter = item.afterLine;
      onWarning?.({ kind: 'unreadable', file, afterLine: item.afterLine, reason: item.error });
      break;
    }
    if (isBlank(item.bytes)) continue;
    // The scan wants series and times only: the floats are checked, not kept.
    const r = archiveBytesRecord(item.bytes, false);
    if (typeof r === 'string') {
      badLines.push(item.n);
      onWarning?.({ kind: 'badLine', file, line: item.n, reason: r });
      continue;
    }
    if (run && run.model === r.model && run.symbol === r.symbol && r.ts >= run.lastTs) {
      run.endLine = item.n;
      run.lastTs = r.ts;
      run.count++;
    } else {
      run = { model: r.model, symbol: r.symbol, startLine: item.n, endLine: item.n, firstTs: r.ts, lastTs: r.ts, count: 1 };
      runs.push(run);
    }
    addToSpan(series, r);
  }
  return { file, runs, series: [...series.values()], badLines, ...(unreadableAfter !== undefined ? { unreadableAfter } : {}) };
}

function addToSpan(series: Map<string, { model: string; symbol: string; count: number; firstTs: TsMs; lastTs: TsMs }>, r: InferenceRecord): void {
  const key = JSON.stringify([r.model, r.symbol]);
  const s = series.get(key);
  if (!s) {
    series.set(key, { model: r.model, symbol: r.symbol, count: 1, firstTs: r.ts, lastTs: r.ts });
    return;
  }
  s.count++;
  if (r.ts < s.firstTs) s.firstTs = r.ts;
  if (r.ts > s.lastTs) s.lastTs = r.ts;
}

const inRange = (ts: TsMs, q: TimeRange): boolean => (q.from === undefined || ts >= q.from) && (q.to === undefined || ts < q.to);
const wanted = (model: string, symbol: string, q: HistoryQuery): boolean =>
  (q.model === undefined || model === q.model) && (q.symbol === undefined || symbol === q.symbol);

// A source of records in (ts) order within one series: `head` is its current record.
interface Cursor {
  readonly kind: 'live' | 'archive';
  head: InferenceRecord;
  /** Moves to the next record; false when there is none (the cursor is then closed). */
  advance(): Promise<boolean>;
  close(): Promise<void>;
}

// The merge's entries: an open cursor, or a run not opened yet, placed at its first time (a lower bound of its records).
type Entry = { ts: TsMs; model: string; symbol: string; prio: number; seq: number } & (
  | { cursor: Cursor; open?: undefined }
  | { cursor?: undefined; open: () => Promise<Cursor | undefined> });

function before(a: Entry, b: Entry): boolean {
  if (a.ts !== b.ts) return a.ts < b.ts;
  if (a.model !== b.model) return a.model < b.model;
  if (a.symbol !== b.symbol) return a.symbol < b.symbol;
  if (a.prio !== b.prio) return a.prio < b.prio;
  return a.seq < b.seq;
}

/** A binary min-heap of merge entries. */
class EntryHeap {
  private readonly items: Entry[] = [];
  get size(): number {
    return this.items.length;
  }
  push(e: Entry): void {
    const a = this.items;
    a.push(e);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && before(a[l]!, a[m]!)) m = l;
      if (r < a.length && before(a[r]!, a[m]!)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
    return top;
  }
  drain(): Entry[] {
    return this.items.splice(0);
  }
}

// One LMDB series in pages; each page is read to its end before anything else runs. `afterPage` runs after each page
// read after the first one, before any of its records is used (see HistoryReader.records).
function liveCursor(store: LmdbStore, s: HistorySeries, q: TimeRange, afterPage: () => Promise<void>): Cursor | undefined {
  let page = historyPage(store, s.model, s.symbol, q, PAGE);
  let i = 0;
  if (page.length === 0) return undefined;
  const cursor: Cursor = {
    kind: 'live',
    head: page[0]!,
    advance: async () => {
      if (++i >= page.length) {
        if (page.length < PAGE) return false;
        page = historyPage(store, s.model, s.symbol, q, PAGE, cursor.head.ts);
        i = 0;
        await afterPage();
      }
      if (i >= page.length) return false;
      cursor.head = page[i]!;
      return true;
    },
    close: () => Promise.resolve(),
  };
  return cursor;
}

// The records of one run within the query's time range that `keep` lets through, from its lines (lines the scan found
// bad are left out there: already reported).
async function* runRecords(lines: AsyncGenerator<Line | LineError>, run: ArchiveRun, file: string, q: TimeRange,
  warn: (w: HistoryWarning) => void, keep?: (r: InferenceRecord) => boolean): AsyncGenerator<InferenceRecord> {
  for await (const item of lines) {
    if ('error' in item) {
      // Past the run's end: the damage scanArchive reported already. Before it: the file changed or vanished since.
      if (item.afterLine < run.endLine) warn({ kind: 'unreadable', file, afterLine: item.afterLine, reason: item.error });
      return;
    }
    const r = archiveBytesRecord(item.bytes, true);
    if (typeof r === 'string') {
      warn({ kind: 'badLine', file, line: item.n, reason: r });
      continue;
    }
    if (q.to !== undefined && r.ts >= q.to) return;
    if (inRange(r.ts, q) && (keep === undefined || keep(r))) yield r;
  }
}

/** Where the reader of one run of a shared archive stands. */
interface RunWant {
  readonly run: ArchiveRun;
  /** The next line it asks for. */
  next: number;
  done: boolean;
}

// What the pass over a shared archive has for a line: the line, the end of what can be read, or nothing to give.
type Got = Line | LineError | 'blank' | 'end' | 'lost';

/**
 * Inflated lines one `records` call keeps in memory for the runs behind, by default, in all (see SharedArchive): ~1,300
 * lines of a full BaseDataInput. Beyond it they go to a spill file: 2,000 writes of 50 KB took 1.9 s here.
 */
const HOLD_BYTES = 64 * 1024 * 1024;

/** The room left of the bytes lines read ahead may take in memory, shared by the files of one `records` call. */
interface HoldBudget {
  free: number;
}

// One archive file read by a single gunzip pass for every run a `records` call wants of it. The runs of a file follow
// one another in it but overlap in time, so the merge reads them side by side: with a pass of its own, each run
// inflated every line before its start again (a file of S series about (S + 1) / 2 times over, after the scan). Here
// the pass goes as far as the furthest run has asked, and a line it reads for a run not there yet is kept until that
// run asks: in memory up to holdBytes for the whole read (default HOLD_BYTES), beyond it in a spill file (unlinked at
// once where the platform allows): at most the file's wanted lines, inflated, until the last of its runs is done.
// Where the spill cannot be written or read back, the run reads on from that line (the old way) through a pass of its
// own. One call at a time: the merge awaits each.
class SharedArchive {
  private readonly bad: ReadonlySet<number>;
  private readonly wants: RunWant[] = [];
  private source?: AsyncGenerator<Line | LineError>;
  /** The last line the pass read, and how it ended (undefined while it goes on). */
  private pos = 0;
  private end?: LineError | 'end';
  /** Lines read ahead for a run: in memory, or where they lie in the spill; blank ones (skipped, only noted). */
  private readonly held = new Map<number, Buffer>();
  private readonly kept = new Map<number, { readonly offset: number; readonly length: number }>();
  private readonly blank = new Set<number>();
  private spill?: Spill;
  private spillFailed = false;
  private spillWarned = false;
  /** The first want whose run may hold the next line the pass reads (wants come in line order). */
  private wantAt = 0;

  constructor(readonly file: string, badLines: readonly number[], private readonly hold: HoldBudget, private readonly spillDir: string) {
    this.bad = new Set(badLines);
  }

  /** Registers a run to be read (before the pass starts: it keeps the run's lines from then on). */
  want(run: ArchiveRun): RunWant {
    const last = this.wants.at(-1);
    if (last !== undefined && run.startLine <= last.run.endLine) throw new RangeError(`archive ${this.file}: run at line ${run.startLine} wanted after the run ending at line ${last.run.endLine}`);
    const w: RunWant = { run, next: run.startLine, done: false };
    this.wants.push(w);
    return w;
  }

  /** Yields the lines of a wanted run that are neither bad nor blank, then an error item where the file stops. */
  async *lines(w: RunWant): AsyncGenerator<Line | LineError> {
    try {
      while (w.next <= w.run.endLine) {
        const n = w.next++;
        if (this.bad.has(n)) continue;
        const got = n <= this.pos ? this.keptLine(n) : await this.readTo(n);
        if (got === 'blank') continue;
        if (got === 'end') return;
        if (got === 'lost') {
          yield* this.ownLines(w.run, n);
          return;
        }
        yield got;
        if ('error' in got) return;
      }
    } finally {
      w.done = true;
      if (this.wants.every((x) => x.done)) await this.close();
    }
  }

  /** Ends the pass and removes the spill. */
  async close(): Promise<void> {
    const { source, spill } = this;
    this.source = undefined;
    this.spill = undefined;
    this.kept.clear();
    for (const b of this.held.values()) this.hold.free += b.length;
    this.held.clear();
    // For good: nothing asks after this (every run is done, or the read is over).
    this.end ??= 'end';
    this.spillFailed = true;
    spill?.close();
    await source?.return(undefined);
  }

  private async readTo(n: number): Promise<Got> {
    this.source ??= this.end === undefined ? archiveLines(this.file) : undefined;
    while (this.end === undefined && this.source !== undefined) {
      const r = await this.source.next();
      if (r.done) this.end = 'end';
      else if ('error' in r.value) this.end = r.value;
      else {
        const line = r.value;
        this.pos = line.n;
        if (line.n === n) return isBlank(line.bytes) ? 'blank' : line;
        this.keep(line);
      }
    }
    return this.end ?? 'end';
  }

  // Keeps a line the pass read for the run it belongs to, if that run is still to read it.
  private keep(line: Line): void {
    const w = this.wantOf(line.n);
    if (w === undefined || w.done || line.n < w.next || this.bad.has(line.n)) return;
    if (isBlank(line.bytes)) {
      this.blank.add(line.n);
      return;
    }
    if (line.bytes.length <= this.hold.free) {
      // A copy: the line may be a slice of a whole inflated chunk.
      this.held.set(line.n, Buffer.from(line.bytes));
      this.hold.free -= line.bytes.length;
      return;
    }
    if (this.spillFailed) return;
    if ((this.spill?.size ?? 0) + line.bytes.length > SPILL_MAX_BYTES) {
      this.spillFailed = true;
      log().info({ file: this.file, spillDir: this.spillDir, maxBytes: SPILL_MAX_BYTES, code: 'HISTORY_SPILL_FULL' },
        'history read: the archive\'s read-ahead spill is at its cap; its later series are read through passes of their own (slower, nothing lost)');
      return;
    }
    try {
      this.spill ??= Spill.open(this.spillDir);
      this.kept.set(line.n, { offset: this.spill.append(line.bytes), length: line.bytes.length });
    } catch (err) {
      // No room or no right to write there: the runs read the lines not kept through passes of their own.
      this.spillFailed = true;
      this.spillTrouble('written', err);
    }
  }

  // Nothing is lost (the runs read on through passes of their own), but an operator should learn that the temporary
  // directory is full or unwritable: the same disk often holds the store. Once per archive file and read.
  private spillTrouble(what: 'written' | 'read back', err: unknown): void {
    if (this.spillWarned) return;
    this.spillWarned = true;
    log().warn({ file: this.file, spillDir: this.spillDir, err: err instanceof Error ? err.message : String(err), code: 'HISTORY_SPILL_FAILED' },
      `history read: the read-ahead spill could not be ${what}; the archive's later series are read through passes of their own (slower, nothing lost)`);
  }

  private wantOf(n: number): RunWant | undefined {
    while (this.wantAt < this.wants.length && this.wants[this.wantAt]!.run.endLine < n) this.wantAt++;
    const w = this.wants[this.wantAt];
    return w !== undefined && w.run.startLine <= n ? w : undefined;
  }

  private keptLine(n: number): Got {
    if (this.blank.delete(n)) return 'blank';
    const bytes = this.held.get(n);
    if (bytes !== undefined) {
      this.held.delete(n);
      this.hold.free += bytes.length;
      return { n, bytes };
    }
    const at = this.kept.get(n);
    if (at === undefined || this.spill === undefined) return 'lost';
    this.kept.delete(n);
    try {
      return { n, bytes: this.spill.read(at.offset, at.length) };
    } catch (err) {
      this.spillTrouble('read back', err);
      return 'lost';
    }
  }

  // A run's lines from line `from` on through a pass of its own.
  private async *ownLines(run: ArchiveRun, from: number): AsyncGenerator<Line | LineError> {
    for await (const item of archiveLines(this.file, from)) {
      if ('error' in item) {
        yield item;
        return;
      }
      if (item.n > run.endLine) return;
      if (!this.bad.has(item.n) && !isBlank(item.bytes)) yield item;
    }
  }
}

// A file of archive lines read ahead, written and read with plain fd calls: through fs/promises (a trip to the thread
// pool and a promise per call) writing and reading them took ~0.25 ms a record in a profile here, more than the lines'
// decoding. Unlinked at once where an open file may lose its name: a crash leaves nothing.
class Spill {
  private bytes = 0;

  private constructor(private readonly fd: number, private readonly path: string, private readonly linked: boolean) {}

  static open(dir: string): Spill {
    const path = join(dir, `cobalt-history-${process.pid}-${randomBytes(6).toString('hex')}.spill`);
    const fd = openSync(path, 'wx+', 0o600);
    try {
      unlinkSync(path);
      return new Spill(fd, path, false);
    } catch {
      // Windows keeps the name of an open file: removed at close.
      return new Spill(fd, path, true);
    }
  }

  /** Bytes written so far. */
  get size(): number {
    return this.bytes;
  }

  /** Appends `b`; returns its offset. */
  append(b: Buffer): number {
    const offset = this.bytes;
    for (let done = 0; done < b.length;) done += writeSync(this.fd, b, done, b.length - done, offset + done);
    this.bytes += b.length;
    return offset;
  }

  read(offset: number, length: number): Buffer {
    const b = Buffer.allocUnsafe(length);
    for (let done = 0; done < length;) {
      const n = readSync(this.fd, b, done, length - done, offset + done);
      if (n === 0) throw new RangeError(`spill ${this.path}: ends before byte ${offset + length}`);
      done += n;
    }
    return b;
  }

  close(): void {
    closeSync(this.fd);
    if (this.linked) rmSync(this.path, { force: true });
  }
}

async function archiveCursor(records: AsyncGenerator<InferenceRecord>): Promise<Cursor | undefined> {
  const first = await records.next();
  if (first.done) return undefined;
  const cursor: Cursor = {
    kind: 'archive',
    head: first.value,
    advance: async () => {
      const n = await records.next();
      if (n.done) return false;
      cursor.head = n.value;
      return true;
    },
    close: async () => {
      await records.return(undefined);
    },
  };
  return cursor;
}

// Merge priorities: LMDB's copy of a record first (0), then the archives', the newest file first.
const LIVE_PRIO = 0;
const ARCHIVE_PRIO = Number.MAX_SAFE_INTEGER;

type Key = { readonly ts: TsMs; readonly model: string; readonly symbol: string };
const seriesKey = (k: { readonly model: string; readonly symbol: string }): string => JSON.stringify([k.model, k.symbol]);
const sameKey = (a: Key, b: Key): boolean => a.ts === b.ts && a.model === b.model && a.symbol === b.symbol;
const keyBefore = (a: Key, b: Key): boolean =>
  a.ts !== b.ts ? a.ts < b.ts : a.model !== b.model ? a.model < b.model : a.symbol < b.symbol;

// The state of one `records` call.
interface ReadState {
  readonly q: HistoryQuery;
  readonly heap: EntryHeap;
  /** Archive files scanned, and the names the directory held at the last look. */
  readonly files: Set<string>;
  names: ReadonlySet<string>;
  /** Newest time yielded per series (seriesKey), and the last record yielded. */
  readonly lastTs: Map<string, TsMs>;
  last?: Key;
  /** Set once the first listing is done: files found later are counted in lateArchives. */
  listed: boolean;
  /** The archive files with runs to read, each read by one pass for all of them, and the memory they may hold. */
  readonly shared: SharedArchive[];
  readonly hold: HoldBudget;
  seq: number;
  ordinal: number;
}

/** Reads the inference history of one LMDB store (optional: none when it does not exist) and its archive directory. */
export class HistoryReader {
  /** What the last (or current) `records` call read and skipped. */
  readonly counts: HistoryReadCounts = { live: 0, archived: 0, duplicates: 0, badLines: 0, unreadable: 0, lateArchives: 0 };
  private readonly unreadableFiles = new Set<string>();

  constructor(private readonly store: LmdbStore | undefined, private readonly archiveDir: string, private readonly opts: HistoryReaderOptions = {}) {}

  /** Returns the series in LMDB with their counts and spans (none without a store). */
  liveSeries(): HistorySeries[] {
    return this.store ? historySeries(this.store) : [];
  }

  /** The LMDB store's path (undefined without a store). */
  get storePath(): string | undefined {
    return this.store?.path;
  }

  /** Returns how far a replay of a recording got in the store (see `replayedUntil`; undefined without a store). */
  replayedUntil(): TsMs | null | undefined {
    return this.store ? replayedUntil(this.store) : undefined;
  }

  /** Returns the archive files, oldest first, with their sizes (no file is read). */
  archives(): Promise<ArchiveFile[]> {
    return listArchives(this.archiveDir);
  }

  /** Returns what one archive file holds, reading it once; bad lines go to onWarning. */
  scan(file: string): Promise<ArchiveScan> {
    return scanArchive(file, (w) => this.warn(w));
  }

  /**
   * Yields the records matching `q` from the archives and LMDB in (ts, model, symbol) order, each stored record once
   * (see the header). Every archive file is read once before the first record (to find its runs), then its matching
   * runs again as the merge reaches them. Archive files written meanwhile (retention of a running daemon) are read
   * too: after each LMDB page the directory is looked at again, before any record of the page is used.
   */
  async *records(q: HistoryQuery = {}): AsyncGenerator<InferenceRecord> {
    Object.assign(this.counts, { live: 0, archived: 0, duplicates: 0, badLines: 0, unreadable: 0, lateArchives: 0 });
    this.unreadableFiles.clear();
    const read: ReadState = { q, heap: new EntryHeap(), files: new Set(), names: new Set(), lastTs: new Map(), listed: false, shared: [], hold: { free: this.opts.holdBytes ?? HOLD_BYTES }, seq: 0, ordinal: 0 };
    try {
      await this.addArchives(read);
      read.listed = true;
      for (const s of this.liveSeries()) {
        if (!wanted(s.model, s.symbol, q)) continue;
        const cursor = this.store ? liveCursor(this.store, s, q, () => this.addArchives(read)) : undefined;
        if (cursor) read.heap.push(entryOf(cursor, LIVE_PRIO, read.seq++));
      }
      // A retention pass during the scan or the first pages: the records it moved are in its file, not in those pages.
      await this.addArchives(read);
      yield* this.merge(read);
    } finally {
      for (const e of read.heap.drain()) await e.cursor?.close();
      for (const s of read.shared) await s.close();
    }
  }

  // Retention publishes an archive file before it deletes its records from LMDB, so a look at the directory after a
  // page read finds every file holding records that page no longer had. The runs of a file found late yield only what
  // is newer than what its series already yielded (older records came from LMDB), never before the merge's position.
  private async addArchives(read: ReadState): Promise<void> {
    const names = await namesIn(this.archiveDir);
    const fresh = names.some((n) => !read.names.has(n));
    read.names = new Set(names);
    if (!fresh) return;
    for (const f of await this.archives()) {
      if (read.files.has(f.file)) continue;
      read.files.add(f.file);
      if (read.listed) this.counts.lateArchives++;
      const scan = await this.scan(f.file);
      const prio = ARCHIVE_PRIO - read.ordinal++;
      let shared: SharedArchive | undefined;
      const share = (): SharedArchive => {
        if (shared === undefined) read.shared.push(shared = new SharedArchive(scan.file, scan.badLines, read.hold, this.opts.spillDir ?? tmpdir()));
        return shared;
      };
      for (const run of scan.runs) this.addRun(read, run, share, prio);
    }
  }

  private addRun(read: ReadState, run: ArchiveRun, share: () => SharedArchive, prio: number): void {
    if (!wanted(run.model, run.symbol, read.q) || !overlaps(run, read.q)) return;
    const after = read.lastTs.get(seriesKey(run));
    if (after !== undefined && run.lastTs <= after) return;
    const pos = read.last;
    const keep = pos === undefined ? undefined : (r: InferenceRecord): boolean => (after === undefined || r.ts > after) && !keyBefore(r, pos);
    const shared = share();
    const want = shared.want(run);
    read.heap.push({ ts: run.firstTs, model: run.model, symbol: run.symbol, prio, seq: read.seq++,
      open: () => archiveCursor(runRecords(shared.lines(want), run, shared.file, read.q, (w) => this.warn(w), keep)) });
  }

  private async *merge(read: ReadState): AsyncGenerator<InferenceRecord> {
    const { heap } = read;
    for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
      if (e.open) {
        const cursor = await e.open();
        if (cursor) heap.push(entryOf(cursor, e.prio, e.seq));
        continue;
      }
      const { cursor } = e;
      if (read.last && sameKey(read.last, e)) this.counts.duplicates++;
      else {
        // Set before advance: a page read there may add archive runs, which start after this record.
        read.last = { ts: e.ts, model: e.model, symbol: e.symbol };
        read.lastTs.set(seriesKey(e), e.ts);
        this.counts[cursor.kind === 'live' ? 'live' : 'archived']++;
        // Pushed back before the yield: a consumer that stops here still gets the cursor closed (records' finally).
        const rec = cursor.head;
        if (await cursor.advance()) heap.push(entryOf(cursor, e.prio, e.seq));
        yield rec;
        continue;
      }
      if (await cursor.advance()) heap.push(entryOf(cursor, e.prio, e.seq));
    }
  }

  private warn(w: HistoryWarning): void {
    if (w.kind === 'badLine') this.counts.badLines++;
    else {
      this.unreadableFiles.add(w.file);
      this.counts.unreadable = this.unreadableFiles.size;
    }
    this.opts.onWarning?.(w);
  }
}

function entryOf(cursor: Cursor, prio: number, seq: number): Entry {
  const { ts, model, symbol } = cursor.head;
  return { ts, model, symbol, prio, seq, cursor };
}

const overlaps = (run: ArchiveRun, q: TimeRange): boolean => (q.from === undefined || run.lastTs >= q.from) && (q.to === undefined || run.firstTs < q.to);

/**
 * Returns why `path` holds no LMDB environment that can be opened safely, as a phrase after the path ("does not exist",
 * "is not an LMDB store (…)", "holds a data.mdb cut short: …"); undefined when it holds one.
 */
export function storeProblem(path: string): string | undefined {
  if (!existsSync(path)) return 'does not exist (relative paths are taken from the current directory)';
  if (!statSync(path).isDirectory()) return 'is not an LMDB store (a file, not a directory)';
  const data = join(path, 'data.mdb');
  if (!existsSync(data)) return 'is not an LMDB store (no data.mdb in it)';
  return dataFileProblem(data);
}

/**
 * Returns why `path` holds no LMDB environment to read (it does not exist, is not a directory, has no data.mdb, or its
 * data.mdb is not LMDB, of the other byte order or cut short), naming the path made absolute; undefined when it does.
 */
export function noStoreAt(path: string): string | undefined {
  const problem = storeProblem(path);
  return problem === undefined ? undefined : `${resolve(path)} ${problem}`;
}

/** LMDB's meta page magic (MDB_MAGIC), in the byte order of the machine that wrote the file. */
const LMDB_MAGIC = 0xbeefc0de;
const P_META = 0x08;
// Page header sizes: 24 bytes in the data format the bundled lmdb build writes (v2: a txnid after the page number),
// 16 in the format of a build with LMDB_DATA_V1. The meta struct follows the header; its fields, from its start.
const PAGE_HEADER_SIZES = [24, 16] as const;
const META_PSIZE = 24;
const META_LAST_PG = 120;
const META_TXNID = 128;
const META_END = 136;
const READ_BYTES = 256;
const LE = endianness() === 'LE';

interface Meta {
  readonly pageSize: number;
  readonly lastPage: bigint;
  readonly txnid: bigint;
}

// The meta struct of the page in `b` (header size `h`) read in the byte order `le` says; 'short' when the magic is
// there but the buffer ends before the struct does; undefined when it is not a meta page.
function metaAt(b: Buffer, h: number, le: boolean): Meta | 'short' | undefined {
  if (b.length < h + 4) return undefined;
  const u16 = (o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (o: number): bigint => (le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  // The page flags sit 6 bytes before the header's end (then the lower and upper bounds of free space).
  if (u32(h) !== LMDB_MAGIC || (u16(h - 6) & P_META) === 0) return undefined;
  if (b.length < h + META_END) return 'short';
  return { pageSize: u32(h + META_PSIZE), lastPage: u64(h + META_LAST_PG), txnid: u64(h + META_TXNID) };
}

function metaOf(b: Buffer, le: boolean): Meta | 'short' | undefined {
  for (const h of PAGE_HEADER_SIZES) {
    const m = metaAt(b, h, le);
    if (m) return m;
  }
  return undefined;
}

function readAt(fd: number, offset: number): Buffer {
  const b = Buffer.alloc(READ_BYTES);
  return b.subarray(0, readSync(fd, b, 0, b.length, offset));
}

// Opening a data.mdb that is not LMDB, or one shorter than its meta page says, kills the process (SIGSEGV/SIGBUS in
// the native binding: the map reaches past the file's end) rather than throwing. So both meta pages are read here as
// LMDB reads them (the newer txnid wins) and the file must hold every page up to the newest meta's last page. The
// size is taken after the metas: a daemon writes a commit's pages before its meta, so a commit in between only grows it.
function dataFileProblem(file: string): string | undefined {
  const fd = openSync(file, 'r');
  try {
    const first = readAt(fd, 0);
    const meta0 = metaOf(first, LE);
    if (meta0 === undefined) {
      if (metaOf(first, !LE) !== undefined) return `is not an LMDB store this machine can read (its data.mdb was written on a ${LE ? 'big' : 'little'}-endian machine, this one is ${LE ? 'little' : 'big'}-endian: move it with mdb_dump and mdb_load)`;
      return 'is not an LMDB store (its data.mdb has no LMDB meta page)';
    }
    if (meta0 === 'short') return `holds a data.mdb cut short: ${fstatSync(fd).size} bytes, less than its first meta page; a copy interrupted?`;
    const ps = meta0.pageSize;
    if (!Number.isInteger(Math.log2(ps)) || ps < 512 || ps > 65536) return `is not an LMDB store (its data.mdb's meta page gives a page size of ${ps} bytes)`;
    const meta1 = metaOf(readAt(fd, ps), LE);
    const size = fstatSync(fd).size;
    if (typeof meta1 !== 'object') return `holds a data.mdb cut short or damaged: ${size} bytes, no second meta page at byte ${ps} (pages of ${ps} bytes); a copy interrupted?`;
    const meta = meta1.txnid > meta0.txnid ? meta1 : meta0;
    const need = (meta.lastPage + 1n) * BigInt(ps);
    if (BigInt(size) < need) return `holds a data.mdb cut short: ${size} bytes, where its newest meta page (txn ${meta.txnid}) says ${need} (${meta.lastPage + 1n} pages of ${ps} bytes); a copy interrupted?`;
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Returns the engine time a replay of a recording reached in `store` (every record before it may be at a replayed,
 * shifted time), null when a replay wrote there without a bound, undefined when no replay ever wrote to `store`.
 */
export function replayedUntil(store: LmdbStore): TsMs | null | undefined {
  const db = store.existingDb<string, number>(REPLAY_POSITION_DB);
  if (db === undefined) return undefined;
  const reached = db.get(REPLAY_REACHED_KEY);
  return typeof reached === 'number' && Number.isFinite(reached) ? reached as TsMs : null;
}

/**
 * Returns the LMDB environment at `path` opened read-only (MDB_RDONLY: beside a running daemon, nothing created), or
 * undefined where there is none: opening it read-write would create an empty one where a mistyped path points. Throws
 * StoreError when data.mdb is there but cannot be opened as LMDB.
 */
export function openHistoryStore(path: string): LmdbStore | undefined {
  if (noStoreAt(path) !== undefined) return undefined;
  return LmdbStore.open({ path, readOnly: true });
}
