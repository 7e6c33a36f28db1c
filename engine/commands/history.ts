// `cobalt history stats|export`: the inference history (LMDB and its retention archives) read back out, for training
// and audit. Both work while the daemon runs on the same store: LMDB lets other processes read while one writes, and
// the command opens the environment read-only (MDB_RDONLY: not even a missing database is created) and never writes
// (engine/store/history-reader.ts).
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { loadConfig } from '../config/load.ts';
import { HistoryReader, openHistoryStore, storeProblem, type HistoryQuery, type HistoryWarning } from '../store/history-reader.ts';
import type { InferenceRecord } from '../store/inference-history.ts';
import { ConfigError, StoreError } from '../types/errors.ts';
import { parseTimeArg } from '../types/time-arg.ts';
import { CONFIG_REFUSED } from './config.ts';
import { fail } from './fail.ts';

/** Exit status of an export that completed but may lack records: an archive could not be read (to its end). */
export const EXPORT_INCOMPLETE = 3;

/** Where a config keeps the history. */
export interface HistoryPaths {
  readonly storePath: string;
  readonly archiveDir: string;
}

/** Options of `cobalt history export` as commander hands them over (strings, unparsed). */
export interface ExportOptions {
  readonly model?: string;
  readonly symbol?: string;
  readonly from?: string;
  readonly to?: string;
  readonly format?: string;
  readonly features?: boolean;
  readonly out?: string;
}

/** Returns the query and output choices of `export`, or throws ConfigError naming the option that is wrong. */
export function exportQuery(o: ExportOptions): { query: HistoryQuery; format: 'jsonl' | 'csv'; features: boolean; out: string } {
  const format = o.format ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'csv') throw new ConfigError(`--format '${format}' is not one of jsonl, csv`);
  if (format === 'csv' && o.features) throw new ConfigError('--features needs --format jsonl: csv has one row per record and no feature columns');
  const from = o.from === undefined ? undefined : parseTimeArg('--from', o.from);
  const to = o.to === undefined ? undefined : parseTimeArg('--to', o.to);
  if (from !== undefined && to !== undefined && from >= to) throw new ConfigError(`--from ${o.from} is not before --to ${o.to}: nothing would be exported`);
  const query: HistoryQuery = { ...(o.model ? { model: o.model } : {}), ...(o.symbol ? { symbol: o.symbol } : {}), ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
  return { query, format, features: o.features ?? false, out: o.out ?? '-' };
}

// The store when there is one: LmdbStore.open would create an empty environment where none is (a mistyped path).
// Read-only: these commands never write to a store the daemon may be using.
const openStore = openHistoryStore;

// Neither a store nor an archive directory: a wrong path (a relative store.path read from another directory), not an
// empty history; exporting nothing with exit 0 would hide it.
function checkPaths(paths: HistoryPaths): void {
  if (storeProblem(paths.storePath) === undefined || existsSync(paths.archiveDir)) return;
  throw new ConfigError(`no history at store.path ${resolve(paths.storePath)} (no LMDB environment) nor at store.archiveDir ${resolve(paths.archiveDir)} (no such directory); relative paths are taken from the current directory`);
}

const iso = (ts: number): string => {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString();
};

function warningLine(w: HistoryWarning): string {
  return w.kind === 'badLine'
    ? `warning: archive ${w.file} line ${w.line} is not a record (${w.reason}): skipped`
    : `warning: archive ${w.file} cannot be read after line ${w.afterLine} (${w.reason}): the rest of it skipped`;
}

/**
 * Writes the history's figures (per series in LMDB; archive files, read with `scan`) to `out`. When store.path holds
 * no LMDB store (or one that cannot be opened safely), a line says why and the archive figures follow. Throws
 * ConfigError when there is neither a store nor an archive directory: statistics of a mistyped or relative path read
 * from elsewhere would print "0 records" and exit 0, as if the daemon had recorded nothing.
 */
export async function historyStats(paths: HistoryPaths, scan: boolean, out: (line: string) => void, err: (line: string) => void): Promise<void> {
  const problem = storeProblem(paths.storePath);
  if (problem !== undefined && !existsSync(paths.archiveDir)) {
    throw new ConfigError(`no history at store.path ${resolve(paths.storePath)} (it ${problem}) nor at store.archiveDir ${resolve(paths.archiveDir)} (no such directory)`);
  }
  const store = problem === undefined ? openStore(paths.storePath) : undefined;
  try {
    const reader = new HistoryReader(store, paths.archiveDir, { onWarning: (w) => err(warningLine(w)) });
    if (store === undefined) out(`no LMDB store at store.path ${resolve(paths.storePath)}: it ${problem ?? 'holds none'}`);
    else {
      const series = reader.liveSeries();
      const bytes = statSync(join(paths.storePath, 'data.mdb')).size;
      out(`store ${paths.storePath}: ${series.reduce((a, s) => a + s.count, 0)} records in ${series.length} series, ${bytes} bytes`);
      table(out, ['model', 'symbol', 'records', 'first', 'last'], series.map((s) => [s.model, s.symbol, String(s.count), iso(s.firstTs), iso(s.lastTs)]));
    }
    await archiveStats(reader, paths.archiveDir, scan, out);
  } finally {
    await store?.close();
  }
}

async function archiveStats(reader: HistoryReader, dir: string, scan: boolean, out: (line: string) => void): Promise<void> {
  const files = await reader.archives();
  const bytes = files.reduce((a, f) => a + f.bytes, 0);
  out(`archive ${dir}: ${files.length} files, ${bytes} bytes${scan || files.length === 0 ? '' : ' (--scan reads them for records and spans)'}`);
  if (files.length === 0) return;
  if (!scan) {
    table(out, ['file', 'bytes', 'written'], files.map((f) => [f.file, String(f.bytes), iso(f.ts)]));
    return;
  }
  const rows: string[][] = [];
  for (const f of files) {
    const s = await reader.scan(f.file);
    const problems = [s.badLines.length > 0 ? `${s.badLines.length} bad lines` : '', s.unreadableAfter !== undefined ? `unreadable after line ${s.unreadableAfter}` : ''].filter(Boolean).join(', ');
    if (s.series.length === 0) rows.push([f.file, String(f.bytes), '', '', '0', '', '', problems]);
    for (const x of s.series) rows.push([f.file, String(f.bytes), x.model, x.symbol, String(x.count), iso(x.firstTs), iso(x.lastTs), problems]);
  }
  table(out, ['file', 'bytes', 'model', 'symbol', 'records', 'first', 'last', 'problems'], rows);
}

function table(out: (line: string) => void, head: string[], rows: string[][]): void {
  if (rows.length === 0) return;
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const r of [head, ...rows]) out(`  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`);
}

// JSON of a record's values: bigints as decimal strings, typed arrays as arrays, NaN and ±Infinity as strings (JSON has
// no such numbers; "NaN" reads back as NaN with Number() or float()).
function jsonValue(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as Float32Array);
  return v;
}

// A float32 tensor as a JSON array whose numbers read back (Math.fround, Float32Array.from) to the same bits: the
// shortest decimal of the float64 value is exact for it; -0 kept as -0 (JSON.stringify writes 0), NaN and ±Infinity
// as strings. Written by hand: a replacer call per element costs ~10 times more on 7,500-number records.
function f32Json(v: ArrayLike<number>): string {
  const parts = new Array<string>(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    parts[i] = Number.isFinite(x) ? (Object.is(x, -0) ? '-0' : String(x)) : `"${String(x)}"`;
  }
  return `[${parts.join(',')}]`;
}

/** Returns one JSONL line of a record: output (hidden state only with `features`), input meta, features if asked. */
export function jsonlRow(r: InferenceRecord, features: boolean): string {
  const { hidden, ...output } = r.output;
  const { features: f, ...input } = r.input;
  const head = JSON.stringify({ model: r.model, symbol: r.symbol, ts: r.ts, time: iso(r.ts), output, input }, jsonValue);
  if (!features) return head;
  return `${head.slice(0, -1)},"features":${f32Json(f)}${hidden ? `,"hidden":${f32Json(hidden)}` : ''}}`;
}

/** The columns of `--format csv`. */
export const CSV_HEADER = ['model', 'symbol', 'ts', 'time', 'timeframe', 'action', 'p_buy', 'p_sell', 'p_hold', 'confidence', 'version', 'completeness', 'shape', 'meta', 'extra'] as const;

/** Returns a CSV field quoted as RFC 4180 wants when it holds a comma, quote or line break. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Returns one CSV row of a record (no features); meta and extra as JSON text. */
export function csvRow(r: InferenceRecord): string {
  const o = r.output;
  const json = (v: unknown): string => (v === undefined ? '' : JSON.stringify(v, jsonValue));
  const cells = [r.model, r.symbol, String(r.ts), iso(r.ts), r.input.timeframe, o.action, ...o.probabilities.map(String), String(o.confidence), o.version,
    r.input.completeness === undefined ? '' : String(r.input.completeness), r.input.shape.join('x'), json(r.input.meta), json(o.extra)];
  return cells.map(csvField).join(',');
}

/** Figures of one export. */
export interface ExportResult {
  readonly records: number;
  readonly live: number;
  readonly archived: number;
  readonly duplicates: number;
  readonly badLines: number;
  /** Archive files that could not be read to their end, or vanished before their records were read. */
  readonly unreadable: number;
  /** Archive files retention wrote during the export (read as well). */
  readonly lateArchives: number;
  /** The output's reader went away before the end (EPIPE: `| head`). */
  readonly closedEarly: boolean;
}

/**
 * Writes the matching records in time order to `out` ('-': stdout; a name ending in .gz: gzipped), streaming; reports
 * skipped archive lines and (on a TTY) progress to stderr. Returns the figures.
 */
export async function exportHistory(paths: HistoryPaths, o: ExportOptions, err: (line: string) => void): Promise<ExportResult> {
  const { query, format, features, out } = exportQuery(o);
  checkPaths(paths);
  const store = openStore(paths.storePath);
  if (!store) err(`note: no LMDB store at store.path ${resolve(paths.storePath)} (it ${storeProblem(paths.storePath) ?? 'holds none'}): exporting the archive files only`);
  // Not when the records themselves go to the same terminal.
  const progress = new Progress(process.stderr.isTTY === true && !(out === '-' && process.stdout.isTTY === true) ? process.stderr : undefined);
  try {
    // Before a record is read: a directory that does not exist is one line, not a stack trace after the work.
    const dest = out === '-' ? process.stdout : await openOutput(out);
    const reader = new HistoryReader(store, paths.archiveDir, { onWarning: (w) => err(progress.clear() + warningLine(w)) });
    let records = 0;
    async function* lines(): AsyncGenerator<string> {
      if (format === 'csv') yield `${CSV_HEADER.join(',')}\n`;
      for await (const r of reader.records(query)) {
        records++;
        progress.tick(records, r.ts);
        yield `${format === 'csv' ? csvRow(r) : jsonlRow(r, features)}\n`;
      }
    }
    const closedEarly = !(await writeAll(Readable.from(lines()), dest, out));
    progress.done();
    return { records, ...reader.counts, closedEarly };
  } finally {
    await store?.close();
  }
}

// The output file, opened (created or truncated) for writing; ConfigError naming it when it cannot be.
async function openOutput(out: string): Promise<Writable> {
  try {
    return (await open(out, 'w')).createWriteStream();
  } catch (e) {
    throw new ConfigError(`--out ${out} cannot be written: ${(e as Error).message}`);
  }
}

// Through a gzip stream when the name says .gz; stdout is written to, never ended. Returns false when the reader went
// away (EPIPE, `| head`): that ends the export without an error.
async function writeAll(src: Readable, dest: Writable, out: string): Promise<boolean> {
  const stages: NodeJS.WritableStream[] = out !== '-' && out.endsWith('.gz') ? [createGzip()] : [];
  try {
    await pipeline([src, ...stages, dest] as unknown as [Readable, Writable], { end: out !== '-' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return false;
    // A write that fails midway (a full disk): one line naming the file, not a stack trace.
    if (out !== '-' && (e as NodeJS.ErrnoException).code !== undefined) throw new ConfigError(`--out ${out}: writing failed: ${(e as Error).message}`);
    throw e;
  }
}

/** A one-line progress display on a terminal, at most twice a second; nothing without one. */
class Progress {
  private lastMs = 0;
  private shown = false;
  constructor(private readonly tty: NodeJS.WriteStream | undefined) {}
  tick(records: number, ts: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastMs < 500) return;
    this.lastMs = now;
    this.shown = true;
    this.tty.write(`\r\x1b[Kexported ${records} records, at ${iso(ts)}`);
  }
  /** Returns what erases the progress line before another line is written. */
  clear(): string {
    if (!this.shown) return '';
    this.shown = false;
    return '\r\x1b[K';
  }
  done(): void {
    if (this.tty && this.shown) this.tty.write('\r\x1b[K');
  }
}

// The config's paths, or undefined after saying why the config was refused (exit 2, as `cobalt run` refuses it).
function pathsOf(file: string, command: string): HistoryPaths | undefined {
  try {
    const { config } = loadConfig(file);
    return { storePath: config.store.path, archiveDir: config.store.archiveDir };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`cobalt history ${command}: ${e.message}\n`);
    process.exitCode = CONFIG_REFUSED;
    return undefined;
  }
}

function summary(r: ExportResult, out: string): string {
  const skipped = [r.duplicates > 0 ? `${r.duplicates} duplicate copies left out` : '', r.badLines > 0 ? `${r.badLines} bad archive lines skipped` : '',
    r.unreadable > 0 ? `${r.unreadable} archive files unreadable: records may be missing` : ''].filter(Boolean);
  return `${r.closedEarly ? 'output closed by its reader after ' : 'exported '}${r.records} records (${r.live} from LMDB, ${r.archived} from archives${skipped.length > 0 ? `; ${skipped.join(', ')}` : ''}) to ${out === '-' ? 'stdout' : out}`;
}

/** Registers `cobalt history stats|export`. */
export function register(program: Command): void {
  const history = program.command('history').description('Read the stored inference history (LMDB and retention archives) back out');
  history
    .command('stats')
    .description('records per model and symbol in LMDB with their span, archive files with their size (safe while the daemon runs)')
    .requiredOption('--config <file>', 'config file (its store.path and store.archiveDir)')
    .option('--scan', 'read every archive file for its records per model and symbol, span and bad lines (slow on a large archive)')
    .action(async (o: { config: string; scan?: boolean }) => {
      const paths = pathsOf(o.config, 'stats');
      if (!paths) return;
      try {
        await historyStats(paths, o.scan ?? false, (l) => process.stdout.write(`${l}\n`), (l) => process.stderr.write(`${l}\n`));
      } catch (e) {
        if (!(e instanceof ConfigError || e instanceof StoreError)) throw e;
        fail(`cobalt history stats: ${e.message}`);
      }
    });
  history
    .command('export')
    .description('records in time order from the archives and LMDB, each once, as JSONL or CSV (safe while the daemon runs)')
    .requiredOption('--config <file>', 'config file (its store.path and store.archiveDir)')
    .option('--model <name>', 'only this model')
    .option('--symbol <symbol>', 'only this symbol (e.g. ETH/USDT)')
    .option('--from <time>', 'from this time, inclusive: ISO (2024-08-09T00:00:00Z) or epoch ms')
    .option('--to <time>', 'until this time, exclusive: ISO or epoch ms')
    .option('--format <format>', 'jsonl or csv', 'jsonl')
    .option('--features', 'include the feature tensor and hidden state as arrays (jsonl only; ~7,500 numbers a record)')
    .option('--out <file>', "output file, gzipped when it ends in .gz; '-' for stdout", '-')
    .action(async (o: ExportOptions & { config: string }) => {
      const paths = pathsOf(o.config, 'export');
      if (!paths) return;
      const err = (l: string): void => void process.stderr.write(`${l}\n`);
      try {
        const r = await exportHistory(paths, o, err);
        err(summary(r, o.out ?? '-'));
        if (r.lateArchives > 0) err(`note: retention wrote ${r.lateArchives} archive files during the export: read as well`);
        if (r.unreadable > 0) process.exitCode = EXPORT_INCOMPLETE;
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        fail(`cobalt history export: ${e.message}`);
      }
    });
}
