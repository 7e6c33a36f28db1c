// Reads the inference history back out, archive files and LMDB together, in time order: for `cobalt history` and for
// training code that wants every stored (input, output) pair, not only those retention has left in LMDB.
//
// Order: by (ts, model, symbol) over all the series asked for. Memory stays bounded by the number of sources, never by
// the number of records:
//   - LMDB: one source per (model, symbol) series, read in pages of PAGE records with no cursor left open between
//     pages (see historyPage), so a reader in another process does not pin the daemon's freed pages.
//   - Archive files: retention writes each file series by series in key order, but nothing below relies on it. A first
//     pass over each file (scanArchive) finds its runs (stretches of one series with non-decreasing times) and its bad
//     lines; each run then becomes a source that streams its stretch of the file. A run is opened only when its first
//     time comes up in the merge, so only the runs overlapping the current time hold a gunzip stream.
// The same [model, symbol, ts] may be stored more than once: a retention pass that crashed after archiving and before
// deleting leaves it in an archive and in LMDB (or, after the next pass, in two archives). Copies come out of the merge
// next to each other; the first one wins: LMDB's (the newest write), else the newest archive file's.
// A line that is not a record is skipped, counted and reported with its file and line number (onWarning), never
// silently; so is an archive that cannot be read to its end (the lines before it are used).
// Concurrency with a running daemon: LMDB lets any number of processes read while one writes. Retention may move
// records from LMDB into a new archive file during a long read; `records` reports archive files that appeared or
// vanished while it ran (changedArchives), since records may be missing from such a read.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { TsMs } from '../types/time.ts';
import { listArchives, type ArchiveFile } from './archive-files.ts';
import { historyPage, historySeries, parseArchiveLine, type HistorySeries, type InferenceRecord, type TimeRange } from './inference-history.ts';
import type { LmdbStore } from './lmdb.ts';

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
  /** Archive files that could not be read to their end. */
  unreadable: number;
  /** Archive files that appeared or disappeared while `records` ran (retention of a running daemon). */
  changedArchives: number;
}

/** Records per LMDB read: ~33 KB each with full inputs, so ~1 MB per live series in memory at most. */
const PAGE = 32;

type Line = { readonly n: number; readonly text: string };

// The lines of a gzipped archive, numbered from 1. A read error becomes an `unreadable` marker as the last item.
async function* archiveLines(file: string): AsyncGenerator<Line | { readonly error: string; readonly afterLine: number }> {
  const src = createReadStream(file);
  const gunzip = createGunzip();
  // .pipe() does not forward the source's errors (a file deleted meanwhile): without this one is raised elsewhere.
  src.on('error', (err) => gunzip.destroy(err));
  const lines = createInterface({ input: src.pipe(gunzip), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of lines) yield { n: ++n, text };
  } catch (err) {
    yield { error: (err as Error).message, afterLine: n };
  } finally {
    lines.close();
    src.destroy();
    gunzip.destroy();
  }
}

/** Returns the record of an archive line, or why it is not one (parse error or a missing key field). */
export function archiveLineRecord(text: string): InferenceRecord | string {
  let r: InferenceRecord;
  try {
    r = parseArchiveLine(text);
  } catch (err) {
    return (err as Error).message;
  }
  if (typeof r.model !== 'string' || typeof r.symbol !== 'string') return 'model or symbol is not a string';
  if (typeof r.ts !== 'number' || !Number.isFinite(r.ts)) return `ts ${String(r.ts)} is not a time in ms`;
  if (typeof r.output !== 'object' || r.output === null) return 'no output';
  return r;
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
    if (item.text.trim() === '') continue;
    const r = archiveLineRecord(item.text);
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

// One LMDB series in pages; each page is read to its end before anything else runs.
function liveCursor(store: LmdbStore, s: HistorySeries, q: TimeRange): Cursor | undefined {
  let page = historyPage(store, s.model, s.symbol, q, PAGE);
  let i = 0;
  if (page.length === 0) return undefined;
  const cursor: Cursor = {
    kind: 'live',
    head: page[0]!,
    advance: () => {
      if (++i >= page.length) {
        page = page.length < PAGE ? [] : historyPage(store, s.model, s.symbol, q, PAGE, cursor.head.ts);
        i = 0;
      }
      if (i >= page.length) return Promise.resolve(false);
      cursor.head = page[i]!;
      return Promise.resolve(true);
    },
    close: () => Promise.resolve(),
  };
  return cursor;
}

// The records of one run within the query's time range; lines the scan found bad are skipped (already reported).
async function* runRecords(run: ArchiveRun, scan: ArchiveScan, q: TimeRange, warn: (w: HistoryWarning) => void): AsyncGenerator<InferenceRecord> {
  const bad = new Set(scan.badLines);
  for await (const item of archiveLines(scan.file)) {
    if ('error' in item) {
      // Past the run's end: the damage scanArchive reported already. Before it: the file changed or vanished since.
      if (item.afterLine < run.endLine) warn({ kind: 'unreadable', file: scan.file, afterLine: item.afterLine, reason: item.error });
      return;
    }
    if (item.n < run.startLine || bad.has(item.n) || item.text.trim() === '') continue;
    if (item.n > run.endLine) return;
    const r = archiveLineRecord(item.text);
    if (typeof r === 'string') {
      warn({ kind: 'badLine', file: scan.file, line: item.n, reason: r });
      continue;
    }
    if (q.to !== undefined && r.ts >= q.to) return;
    if (inRange(r.ts, q)) yield r;
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

/** Reads the inference history of one LMDB store (optional: none when it does not exist) and its archive directory. */
export class HistoryReader {
  /** What the last (or current) `records` call read and skipped. */
  readonly counts: HistoryReadCounts = { live: 0, archived: 0, duplicates: 0, badLines: 0, unreadable: 0, changedArchives: 0 };

  constructor(private readonly store: LmdbStore | undefined, private readonly archiveDir: string, private readonly opts: HistoryReaderOptions = {}) {}

  /** Returns the series in LMDB with their counts and spans (none without a store). */
  liveSeries(): HistorySeries[] {
    return this.store ? historySeries(this.store) : [];
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
   * runs again as the merge reaches them.
   */
  async *records(q: HistoryQuery = {}): AsyncGenerator<InferenceRecord> {
    Object.assign(this.counts, { live: 0, archived: 0, duplicates: 0, badLines: 0, unreadable: 0, changedArchives: 0 });
    const heap = new EntryHeap();
    const files = await this.archives();
    let seq = 0;
    for (const [i, f] of files.entries()) {
      const scan = await this.scan(f.file);
      // Newer files first among copies of one record: the lower the priority number, the earlier in the merge.
      const prio = files.length - i;
      for (const run of scan.runs) {
        if (!wanted(run.model, run.symbol, q) || !overlaps(run, q)) continue;
        heap.push({ ts: run.firstTs, model: run.model, symbol: run.symbol, prio, seq: seq++, open: () => archiveCursor(runRecords(run, scan, q, (w) => this.warn(w))) });
      }
    }
    for (const s of this.liveSeries()) {
      if (!wanted(s.model, s.symbol, q)) continue;
      const cursor = this.store ? liveCursor(this.store, s, q) : undefined;
      if (cursor) heap.push(entryOf(cursor, 0, seq++));
    }
    try {
      yield* this.merge(heap);
    } finally {
      for (const e of heap.drain()) await e.cursor?.close();
    }
    this.counts.changedArchives = changed(files, await this.archives());
  }

  private async *merge(heap: EntryHeap): AsyncGenerator<InferenceRecord> {
    let last: Entry | undefined;
    for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
      if (e.open) {
        const cursor = await e.open();
        if (cursor) heap.push(entryOf(cursor, e.prio, e.seq));
        continue;
      }
      const { cursor } = e;
      if (last && last.ts === e.ts && last.model === e.model && last.symbol === e.symbol) this.counts.duplicates++;
      else {
        last = e;
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
    else this.counts.unreadable++;
    this.opts.onWarning?.(w);
  }
}

function entryOf(cursor: Cursor, prio: number, seq: number): Entry {
  const { ts, model, symbol } = cursor.head;
  return { ts, model, symbol, prio, seq, cursor };
}

const overlaps = (run: ArchiveRun, q: TimeRange): boolean => (q.from === undefined || run.lastTs >= q.from) && (q.to === undefined || run.firstTs < q.to);

// Archive files in one listing and not the other (by name).
function changed(before: readonly ArchiveFile[], after: readonly ArchiveFile[]): number {
  const a = new Set(before.map((f) => f.file));
  const b = new Set(after.map((f) => f.file));
  return [...a].filter((f) => !b.has(f)).length + [...b].filter((f) => !a.has(f)).length;
}
