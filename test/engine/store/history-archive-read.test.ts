// Faster reading of the inference-history archives (task fx23): each archive file is inflated once for all its runs
// (not once per run), and lines are decoded from their bytes without a JSON reviver. What is read must not change:
// every test compares the reader with the straightforward decode (gunzip, split, archiveLineRecord per line) on
// archives written by the product's own writer, whole and damaged.
import fs, { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { listArchives } from '../../../engine/store/archive-files.ts';
import { archiveLineRecord, HistoryReader, type HistoryQuery, type HistoryWarning } from '../../../engine/store/history-reader.ts';
import { InferenceHistoryStore, parseArchiveLine, parseArchiveLineBytes, type InferenceRecord } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { log, setLogger } from '../../../engine/log.ts';
import { captureLog } from '../../e2e/live-driver.ts';
import { byTime, rec, T0 } from './history-fixture.ts';

const MODELS = ['cnn', 'dqn', 'lstm'];
const SYMBOLS = ['BTC/USDT', 'ETH/USDT'];
const TICKS = 24;
/** The BaseDataInput's length: a decoded float32 array this large gets a buffer of its own (another path than small ones). */
const BDI_FLOATS = 9190;

// The fixture's record (real klines as features, edge floats: -0, a denormal, the largest float32, NaN); the lstm's
// carries a BaseDataInput-sized tensor built from them.
function record(model: string, symbol: string, i: number): InferenceRecord {
  const r = rec(model, symbol, i);
  if (model !== 'lstm') return r;
  const base = r.input.features;
  const features = Float32Array.from({ length: BDI_FLOATS }, (_, k) => base[k % base.length]! * (1 + (k % 13) / 1000));
  return { ...r, input: { ...r.input, features, shape: [features.length] } };
}

interface Archive {
  readonly root: string;
  readonly dir: string;
  readonly files: readonly string[];
}

// Two retention passes: two files, each holding six series (3 models x 2 symbols) one after the other over one span.
async function writeArchive(): Promise<Archive> {
  const root = mkdtempSync(join(tmpdir(), 'cobalt-archive-read-'));
  const dir = join(root, 'archive');
  const store = LmdbStore.open({ path: join(root, 'store'), noSync: true });
  const hist = new InferenceHistoryStore(store, { retention: { maxRecords: 1, maxAgeMs: 1e15 }, archiveDir: dir, logger: pino({ level: 'silent' }) });
  for (const [from, to] of [[0, TICKS / 2], [TICKS / 2, TICKS + 1]] as const) {
    const writes: Promise<boolean>[] = [];
    for (let i = from; i < to; i++) for (const m of MODELS) for (const s of SYMBOLS) writes.push(hist.record(record(m, s, i)));
    await Promise.all(writes);
    await hist.retain((T0 + to * 60_000) as TsMs);
  }
  await store.close();
  return { root, dir, files: (await listArchives(dir)).map((f) => f.file) };
}

// What reading should give: every line of every file (listArchives order) through archiveLineRecord on its text.
function straightforward(files: readonly string[], q: HistoryQuery = {}): { records: InferenceRecord[]; warnings: HistoryWarning[] } {
  const records: InferenceRecord[] = [];
  const warnings: HistoryWarning[] = [];
  for (const file of files) {
    const lines = gunzipSync(readFileSync(file)).toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    lines.forEach((raw, i) => {
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (text.trim() === '') return;
      const r = archiveLineRecord(text);
      if (typeof r === 'string') warnings.push({ kind: 'badLine', file, line: i + 1, reason: r });
      else records.push(r);
    });
  }
  const keep = (r: InferenceRecord): boolean => (q.model === undefined || r.model === q.model) && (q.symbol === undefined || r.symbol === q.symbol)
    && (q.from === undefined || r.ts >= q.from) && (q.to === undefined || r.ts < q.to);
  return { records: records.filter(keep).sort(byTime), warnings };
}

// Where the base64 of a line's features starts.
function featuresAt(line: string): number {
  const key = '"features":{"f32le":"';
  const i = line.indexOf(key);
  if (i < 0) throw new Error(`no f32le features in ${line.slice(0, 80)}`);
  return i + key.length;
}

// A record with its float32 arrays as their bytes: equal views, equal bits (NaN, -0 and all).
function bits(r: unknown): unknown {
  return JSON.parse(JSON.stringify(r, (_k, v: unknown) => (v instanceof Float32Array ? `f32 ${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}` : v)));
}

type ReadAhead = { readonly holdBytes?: number; readonly spillDir?: string };

async function read(dir: string, q: HistoryQuery = {}, ahead: ReadAhead = {}): Promise<{ records: InferenceRecord[]; warnings: HistoryWarning[]; reader: HistoryReader }> {
  const warnings: HistoryWarning[] = [];
  const reader = new HistoryReader(undefined, dir, { onWarning: (w) => warnings.push(w), ...ahead });
  const records: InferenceRecord[] = [];
  for await (const r of reader.records(q)) records.push(r);
  return { records, warnings, reader };
}

let a: Archive;
const roots: string[] = [];
beforeAll(async () => {
  a = await writeArchive();
});
afterAll(() => rmSync(a.root, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

// Opens of each file through fs.open, as a read stream opens a file: each is one pass of gunzip over it.
function countOpens(): Map<string, number> {
  const opens = new Map<string, number>();
  const open = fs.open.bind(fs);
  vi.spyOn(fs, 'open').mockImplementation(((path: fs.PathLike, ...rest: unknown[]) => {
    opens.set(String(path), (opens.get(String(path)) ?? 0) + 1);
    return (open as (...args: unknown[]) => void)(path, ...rest);
  }) as typeof fs.open);
  return opens;
}

function copyArchive(): string {
  const root = mkdtempSync(join(tmpdir(), 'cobalt-archive-damaged-'));
  roots.push(root);
  for (const f of a.files) writeFileSync(join(root, f.slice(a.dir.length + 1)), readFileSync(f));
  return root;
}

describe('HistoryReader over archives of several series per file', () => {
  it('holds six series per file, each a run over the same span', async () => {
    const scan = await new HistoryReader(undefined, a.dir).scan(a.files[0]!);
    expect(a.files).toHaveLength(2);
    expect(scan.runs).toHaveLength(MODELS.length * SYMBOLS.length);
    expect(new Set(scan.runs.map((r) => r.firstTs)).size).toBe(1);
  });

  it.each<[string, HistoryQuery]>([
    ['everything', {}],
    ['one symbol', { symbol: 'ETH/USDT' }],
    ['one model', { model: 'lstm' }],
    ['a span across both files', { from: (T0 + 8 * 60_000) as TsMs, to: (T0 + 15 * 60_000) as TsMs }],
    ['one series in a span', { model: 'dqn', symbol: 'BTC/USDT', from: (T0 + 3 * 60_000) as TsMs, to: (T0 + 20 * 60_000) as TsMs }],
  ])('reads %s exactly as the straightforward decode, in (ts, model, symbol) order', async (_name, q) => {
    const want = straightforward(a.files, q);
    const got = await read(a.dir, q);
    expect(want.records.length).toBeGreaterThan(0);
    expect(got.records.map(bits)).toEqual(want.records.map(bits));
    expect(got.records.every((r) => r.input.features instanceof Float32Array)).toBe(true);
    expect(got.warnings).toEqual([]);
  });

  it('inflates each archive file twice (its scan and one pass for all its runs), not once more per run', async () => {
    const opens = countOpens();
    const got = await read(a.dir);
    expect(got.records).toHaveLength(MODELS.length * SYMBOLS.length * TICKS);
    expect(a.files.map((f) => opens.get(f))).toEqual([2, 2]);
  });

  it.each<[string, ReadAhead, number]>([
    ['in a spill file', { holdBytes: 0 }, 2],
    ['part in memory, part in a spill file', { holdBytes: 200_000 }, 2],
    // Each run but the last then reads the file on its own.
    ['nowhere (no spill file can be written)', { holdBytes: 0, spillDir: '/nonexistent/spill' }, 2 + MODELS.length * SYMBOLS.length - 1],
  ])('reads the same with the lines read ahead kept %s', async (_name, ahead, opensPerFile) => {
    for (const q of [{}, { symbol: 'BTC/USDT', from: (T0 + 5 * 60_000) as TsMs }]) {
      const got = await read(a.dir, q, ahead);
      expect(got.records.map(bits)).toEqual(straightforward(a.files, q).records.map(bits));
    }
    const opens = countOpens();
    await read(a.dir, {}, ahead);
    expect(a.files.map((f) => opens.get(f))).toEqual([opensPerFile, opensPerFile]);
  });

  it('says once per file, at warn, that the spill could not be written (nothing is lost, the read is slower)', async () => {
    const captured = captureLog();
    const prev = log();
    setLogger(captured.logger);
    let got: Awaited<ReturnType<typeof read>>;
    try {
      got = await read(a.dir, {}, { holdBytes: 0, spillDir: '/nonexistent/spill' });
    } finally {
      setLogger(prev);
    }
    expect(got.records).toHaveLength(MODELS.length * SYMBOLS.length * TICKS);
    const lines = captured.withCode('HISTORY_SPILL_FAILED');
    expect(lines.map((l) => l['file'])).toEqual(a.files);
    expect(lines.every((l) => l['level'] === 40 && l['spillDir'] === '/nonexistent/spill' && String(l['err']).includes('ENOENT'))).toBe(true);
  });

  it('leaves no spill file behind, read to the end or stopped early', async () => {
    const spillDir = mkdtempSync(join(tmpdir(), 'cobalt-spill-'));
    roots.push(spillDir);
    await read(a.dir, {}, { holdBytes: 0, spillDir });
    const reader = new HistoryReader(undefined, a.dir, { holdBytes: 0, spillDir });
    let n = 0;
    for await (const _ of reader.records()) if (++n === 20) break;
    expect(readdirSync(spillDir)).toEqual([]);
  });
});

describe('HistoryReader over damaged archives', () => {
  // Lines a damaged file may hold, each put into the second file of a copy: the reader must skip and report exactly
  // the lines the straightforward decode refuses, with its reasons, and read every other line as it does.
  function damaged(): { file: string; lines: string[] } {
    const root = copyArchive();
    const file = join(root, a.files[1]!.slice(a.dir.length + 1));
    return { file, lines: gunzipSync(readFileSync(file)).toString('utf8').split('\n') };
  }

  it('skips and reports the lines that are not records, with the reasons of the straightforward decode', async () => {
    const { file, lines } = damaged();
    const good = lines[2]!;
    const payloadAt = featuresAt(good);
    const at = (i: number, text: string): string => good.slice(0, payloadAt + i) + text + good.slice(payloadAt + i);
    const variants = [
      at(40, '\u0001'), // a control character inside a float array: JSON refuses it
      good.slice(0, payloadAt + 40) + '\u0001'.repeat(16) + good.slice(payloadAt + 56), // in place of digits, too
      at(40, '\\/'), // an escape: JSON reads '/', a base64 digit
      at(40, ' '), // base64 skips a space
      at(40, 'é'), // and non-ASCII
      at(40, '='), // and stops at an inner '='
      good.slice(0, payloadAt + 41), // cut inside the float array
      good.slice(0, -5), // cut after it
      good.replace('{"f32le":"', '{"f32le":"AAAA","x":1,"y":"'), // a two-key object: not revived
      good.replace('"meta":{', '"meta":{"alt":{"f32le":"AAAAAAAAAAA=","x":1},'), // one that stays in the record
      good.replace('"meta":{', '"meta":{"alt":{"f\\u0033\\u0032le":"#1"},'), // an f32le key with escapes, holding a token
      good.replace('"meta":{', '"meta":{"__proto__":{"f32le":"AAAAAAAAAAA="},'),
      good.replace('"meta":{', '"meta":{"f32le":"#0"},'),
      `${lines[3]!}\r`,
    ].map((l, k) => l.replace(/"ts":[0-9.]+/, `"ts":${T0 + (1000 + k) * 60_000}`)); // a time of its own: no copies
    variants.push('{"f32le":"AAAA"}', '', '  \t ', '{"model":"cnn","symbol":');
    lines.splice(5, 0, ...variants);
    writeFileSync(file, gzipSync(lines.join('\n')));
    const files = (await listArchives(join(file, '..'))).map((f) => f.file);

    const want = straightforward(files);
    const got = await read(join(file, '..'));

    expect(want.warnings.length).toBeGreaterThanOrEqual(8);
    expect(got.warnings).toEqual(want.warnings);
    expect(got.records.map(bits)).toEqual(want.records.map(bits));
    expect(got.reader.counts.badLines).toBe(want.warnings.length);
  });

  it('gives the records before a cut and reports the file unreadable once, as the scan found it', async () => {
    const { file } = damaged();
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const scan = await new HistoryReader(undefined, join(file, '..')).scan(file);
    const got = await read(join(file, '..'));
    const kept = gunzipSync(readFileSync(a.files[0]!)).toString('utf8').split('\n').filter(Boolean).length;
    expect(got.warnings).toEqual([{ kind: 'unreadable', file, afterLine: scan.unreadableAfter, reason: expect.any(String) }]);
    expect(got.records).toHaveLength(kept + scan.unreadableAfter!);
    const wholeLines = straightforward([a.files[1]!]).records.length;
    expect(scan.unreadableAfter).toBeLessThan(wholeLines);
  });
});

describe('HistoryReader over an archive whose gzip check fails', () => {
  // Review of 0f935c2: Node drops the inflated chunk it was filling at a data error, so the lines before the error
  // that come out depend on the chunk size; 256 KB chunks lost up to 256 KB of good lines that 16 KB ones give.
  it('gives the lines zlib streams out in its own 16 KB chunks before the error', async () => {
    const root = copyArchive();
    const file = join(root, a.files[1]!.slice(a.dir.length + 1));
    // Many small records (a cnn line at 3,000 times of its own): the chunk lost at the error holds many lines.
    const small = gunzipSync(readFileSync(file)).toString('utf8').split('\n').find((l) => l.includes('"model":"cnn"'))!;
    const text = Array.from({ length: 3_000 }, (_, k) => small.replace(/"ts":[0-9.]+/, `"ts":${T0 + (5_000 + k) * 60_000}`)).join('\n');
    const bytes = gzipSync(`${text}\n`);
    bytes[bytes.length - 8]! ^= 0x01; // the CRC32 in the trailer: every line intact, the check fails at the end
    writeFileSync(file, bytes);
    const streamed = await new Promise<number>((resolve) => {
      let lines = 0;
      const z = createGunzip();
      z.on('data', (c: Buffer) => {
        for (const b of c) if (b === 0x0a) lines++;
      });
      z.on('error', () => resolve(lines));
      z.on('end', () => resolve(-1));
      z.end(bytes);
    });
    const scan = await new HistoryReader(undefined, join(file, '..')).scan(file);
    const got = await read(join(file, '..'));
    const first = gunzipSync(readFileSync(a.files[0]!)).toString('utf8').split('\n').filter(Boolean).length;

    expect(streamed).toBeGreaterThan(0);
    expect(scan.unreadableAfter).toBe(streamed);
    expect(got.records).toHaveLength(first + streamed);
  });
});

describe('parseArchiveLineBytes', () => {
  const lines = (): string[] => a.files.flatMap((f) => gunzipSync(readFileSync(f)).toString('utf8').split('\n').filter(Boolean));

  it('decodes every line the writer wrote as parseArchiveLine decodes its text, and without floats the same but them', () => {
    for (const text of lines()) {
      const want = parseArchiveLine(text);
      expect(bits(parseArchiveLineBytes(Buffer.from(text)))).toEqual(bits(want));
      const lean = parseArchiveLineBytes(Buffer.from(text), { floats: false });
      expect(lean.input.features).toEqual(new Float32Array(0));
      expect(bits({ ...lean, input: { ...lean.input, features: want.input.features }, output: { ...lean.output, ...(want.output.hidden ? { hidden: want.output.hidden } : {}) } })).toEqual(bits(want));
    }
  });

  it.each([
    ['a control character', (p: string) => `${p.slice(0, 8)}\u0001${p.slice(8)}`],
    // In place of 16 digits: the length stays a multiple of 4, and base64 would skip them to 12 bytes fewer.
    ['16 control characters', (p: string) => `${p.slice(0, 8)}${'\u0001'.repeat(16)}${p.slice(24)}`],
    ['16 spaces', (p: string) => `${p.slice(0, 8)}${' '.repeat(16)}${p.slice(24)}`],
    ['16 backslash escapes', (p: string) => `${p.slice(0, 8)}${'\\/'.repeat(8)}${p.slice(24)}`],
    ['a backslash escape', (p: string) => `${p.slice(0, 8)}\\/${p.slice(8)}`],
    ['a space', (p: string) => `${p.slice(0, 8)} ${p.slice(8)}`],
    ['an inner =', (p: string) => `${p.slice(0, 8)}=${p.slice(8)}`],
    ['one character less', (p: string) => p.slice(1)],
    ['three bytes of floats', () => 'AAAA'],
    ['base64url digits', (p: string) => p.replaceAll('+', '-').replaceAll('/', '_')],
    ['no padding', (p: string) => p.replace(/=+$/, '')],
  ])('gives the record or the error parseArchiveLine gives for an f32le value with %s', (_name, change) => {
    const text = lines().find((l) => l.includes('"hidden"'))!;
    const at = featuresAt(text);
    const end = text.indexOf('"', at);
    const line = text.slice(0, at) + change(text.slice(at, end)) + text.slice(end);
    const outcome = (parse: () => InferenceRecord): unknown => {
      try {
        return bits(parse());
      } catch (err) {
        return `${(err as Error).name}: ${(err as Error).message}`;
      }
    };
    expect(outcome(() => parseArchiveLineBytes(Buffer.from(line)))).toEqual(outcome(() => parseArchiveLine(line)));
  });
});
