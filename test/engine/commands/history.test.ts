import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { gunzipSync } from 'node:zlib';
import { Command } from 'commander';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { register } from '../../../engine/commands/history.ts';
import { InferenceHistoryStore } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import { captureOutput } from '../../capture-output.ts';
import { listArchives } from '../../../engine/store/archive-files.ts';
import { corruptArchive, rec, T0, writeHistory, type WrittenHistory } from '../store/history-fixture.ts';

let h: WrittenHistory;
let config: string;
beforeAll(async () => {
  h = await writeHistory();
  config = join(h.root, 'config.yaml');
  writeFileSync(config, `store:\n  path: ${h.storePath}\n  archiveDir: ${h.archiveDir}\n`);
});
afterAll(() => rmSync(h.root, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

async function cobalt(...args: string[]): Promise<{ out: string; err: string; code: number | string | undefined }> {
  const program = new Command('cobalt').exitOverride();
  register(program);
  const r = await captureOutput(() => program.parseAsync(['history', ...args], { from: 'user' }));
  return { out: r.out, err: r.err, code: process.exitCode };
}

const jsonl = (text: string): Record<string, unknown>[] => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

// RFC 4180: quoted fields may hold commas, doubled quotes and line breaks.
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += c;
  }
  return rows;
}

describe('cobalt history stats', () => {
  it('prints per series the records in LMDB with their span, and the archive files with their size', async () => {
    const r = await cobalt('stats', '--config', config);
    expect(r.code).toBeUndefined();
    expect(r.out).toContain(`store ${h.storePath}: ${h.live} records in 4 series`);
    const eth = r.out.split('\n').find((l) => /^\s+cnn\s+ETH\/USDT/.test(l))!;
    // cnn ETH/USDT: minutes 50..119 kept, plus minute 5 stored again.
    expect(eth.split(/\s+/).slice(1)).toEqual(['cnn', 'ETH/USDT', '71', new Date(T0 + 5 * 60_000).toISOString(), new Date(T0 + 119 * 60_000).toISOString()]);
    expect(r.out).toMatch(/archive .*: 3 files, \d+ bytes/);
  });

  it('with --scan, prints each archive file\'s records and span per series, and its bad lines', async () => {
    const h2 = await writeHistory();
    try {
      const file = await corruptArchive(h2.archiveDir, 2);
      const cfg = join(h2.root, 'config.yaml');
      writeFileSync(cfg, `store:\n  path: ${h2.storePath}\n  archiveDir: ${h2.archiveDir}\n`);
      const r = await cobalt('stats', '--config', cfg, '--scan');
      const rows = r.out.split('\n').filter((l) => l.includes(file));
      expect(rows).toHaveLength(4);
      expect(rows[0]!.trim().split(/\s+/).slice(2)).toEqual(['cnn', 'BTC/USDT', '20', new Date(T0 + 30 * 60_000).toISOString(), new Date(T0 + 49 * 60_000).toISOString(), '1', 'bad', 'lines']);
      expect(r.err).toContain(`warning: archive ${file} line 3 is not a record`);
    } finally {
      rmSync(h2.root, { recursive: true, force: true });
    }
  });
});

describe('cobalt history export', () => {
  it('writes every record once in time order as JSONL, output and input meta without features', async () => {
    const r = await cobalt('export', '--config', config);
    const rows = jsonl(r.out);
    expect(rows.map((x) => [x.ts, x.model, x.symbol])).toEqual(h.expected.map((x) => [x.ts, x.model, x.symbol]));
    expect(rows[0]).toEqual({
      model: 'cnn', symbol: 'BTC/USDT', ts: T0, time: new Date(T0).toISOString(),
      output: { model: 'cnn', version: 'v1', symbol: 'BTC/USDT', ts: T0, action: 'BUY', probabilities: [0.5, 0.25, 0.25], confidence: 0.5, extra: { qValues: [0.1, -0.2, 0.05] } },
      input: { shape: [64], timeframe: '1m', completeness: 0.95, meta: { note: 'a,"b"\nc', i: 0 } },
    });
    expect(r.err).toContain(`exported ${h.expected.length} records (${h.live} from LMDB, ${h.expected.length - h.live} from archives; ${h.copies} duplicate copies left out) to stdout`);
  });

  it('with --features, writes tensors whose float32 values read back bit for bit (archived and live)', async () => {
    const out = join(h.root, 'features.jsonl.gz');
    const r = await cobalt('export', '--config', config, '--features', '--symbol', 'ETH/USDT', '--model', 'dqn', '--out', out);
    expect(r.code).toBeUndefined();
    const rows = jsonl(gunzipSync(readFileSync(out)).toString());
    const want = h.expected.filter((x) => x.model === 'dqn' && x.symbol === 'ETH/USDT');
    expect(rows).toHaveLength(want.length);
    for (const [i, row] of rows.entries()) {
      const f = Float32Array.from(row.features as (number | string)[], Number);
      expect(new Uint8Array(f.buffer)).toEqual(new Uint8Array(want[i]!.input.features.buffer, want[i]!.input.features.byteOffset, want[i]!.input.features.byteLength));
      expect(Float32Array.from(row.hidden as number[])).toEqual(want[i]!.output.hidden);
    }
  });

  it('writes CSV with a header, one row per record, fields with commas, quotes and line breaks quoted', async () => {
    const out = join(h.root, 'rows.csv');
    await cobalt('export', '--config', config, '--format', 'csv', '--from', new Date(T0 + 29 * 60_000).toISOString(), '--to', String(T0 + 31 * 60_000), '--out', out);
    const rows = parseCsv(readFileSync(out, 'utf8'));
    expect(rows[0]).toEqual(['model', 'symbol', 'ts', 'time', 'timeframe', 'action', 'p_buy', 'p_sell', 'p_hold', 'confidence', 'version', 'completeness', 'shape', 'meta', 'extra']);
    expect(rows.slice(1).map((x) => [x[2], x[0], x[1]])).toEqual(h.expected.filter((x) => x.ts >= T0 + 29 * 60_000 && x.ts < T0 + 31 * 60_000).map((x) => [String(x.ts), x.model, x.symbol]));
    expect(rows[1]).toEqual(['cnn', 'BTC/USDT', String(T0 + 29 * 60_000), new Date(T0 + 29 * 60_000).toISOString(), '1m', 'HOLD', '0.5', '0.25', '0.25', '0.51', 'v1', '0.95', '64',
      JSON.stringify({ note: 'a,"b"\nc', i: 29 }), JSON.stringify({ qValues: [0.1, -0.2, 0.05] })]);
  });

  it.each([
    [['--from', 'yesterday'], "--from 'yesterday' is neither epoch milliseconds nor an ISO time with a zone"],
    [['--to', '2024-08-09T00:05:00'], "--to '2024-08-09T00:05:00' is neither epoch milliseconds nor an ISO time with a zone"],
    [['--from', '2024-08-09', '--to', '2024-08-08'], '--from 2024-08-09 is not before --to 2024-08-08'],
    [['--format', 'parquet'], "--format 'parquet' is not one of jsonl, csv"],
    [['--format', 'csv', '--features'], '--features needs --format jsonl'],
    // h21 finding 7: Date.parse rolled these over to 2024-03-01 and 2023-03-01.
    [['--from', '2024-02-30'], "--from '2024-02-30' is not a date and time on the calendar"],
    [['--to', '2023-02-29T00:00:00Z'], "--to '2023-02-29T00:00:00Z' is not a date and time on the calendar"],
    [['--out', '/nonexistent/dir/x.jsonl'], '--out /nonexistent/dir/x.jsonl cannot be written: ENOENT'],
  ])('refuses %j with a message naming it', async (args, message) => {
    const r = await cobalt('export', '--config', config, ...args);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cobalt history export: ${message}`);
    expect(r.out).toBe('');
  });
});

// Review h21 of `cobalt history` (commit c347022).
describe('cobalt history export, review h21', () => {
  const withHistory = async (fn: (h2: WrittenHistory, cfg: string) => Promise<void>): Promise<void> => {
    const h2 = await writeHistory();
    const cfg = join(h2.root, 'config.yaml');
    writeFileSync(cfg, `store:\n  path: ${h2.storePath}\n  archiveDir: ${h2.archiveDir}\n`);
    try {
      await fn(h2, cfg);
    } finally {
      rmSync(h2.root, { recursive: true, force: true });
    }
  };

  it('skips, counts and names as CSV an archive line that parses but has no shape or probabilities (finding 3)', async () => {
    await withHistory(async (h2, cfg) => {
      const file = await corruptArchive(h2.archiveDir, 3, '{"model":"m0","symbol":"S0/USDT","ts":1722000000500,"input":{"features":[1]},"output":{}}');
      const r = await cobalt('export', '--config', cfg, '--format', 'csv');
      expect(r.code).toBeUndefined();
      expect(parseCsv(r.out).slice(1).map((x) => [x[2], x[0], x[1]])).toEqual(h2.expected.map((x) => [String(x.ts), x.model, x.symbol]));
      expect(r.err).toContain(`warning: archive ${file} line 4 is not a record (input.shape is not an array of numbers)`);
      expect(r.err).toContain('1 bad archive lines skipped');
    });
  });

  it('exits 3 naming the unreadable archives when one is cut short (finding 1)', async () => {
    await withHistory(async (h2, cfg) => {
      const { file } = (await listArchives(h2.archiveDir))[1]!;
      const bytes = readFileSync(file);
      writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const r = await cobalt('export', '--config', cfg);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(/exported \d+ records .*1 archive files unreadable: records may be missing/);
    });
  });

  it('leaves a store without inference history as it was: stats and export create no database (finding 4)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cobalt-history-orders-'));
    try {
      const storePath = join(root, 'store');
      const orders = LmdbStore.open({ path: storePath, noSync: true });
      await orders.db<string, number>('orders').put('a', 1);
      await orders.close();
      const cfg = join(root, 'config.yaml');
      writeFileSync(cfg, `store:\n  path: ${storePath}\n  archiveDir: ${join(root, 'archive')}\n`);
      const stats = await cobalt('stats', '--config', cfg);
      const exported = await cobalt('export', '--config', cfg);
      const env = openLmdb({ path: storePath, readOnly: true });
      const names = [...env.getKeys()].map(String);
      await env.close();
      expect(stats.out).toContain(`store ${storePath}: 0 records in 0 series`);
      expect(exported).toMatchObject({ code: undefined, out: '' });
      expect(names).toEqual(['orders']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('exits 1 naming both paths when neither the store nor the archive directory exists (finding 5)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cobalt-history-nowhere-'));
    try {
      const cfg = join(root, 'config.yaml');
      writeFileSync(cfg, `store:\n  path: ${join(root, 'no-store')}\n  archiveDir: ${join(root, 'no-archive')}\n`);
      const r = await cobalt('export', '--config', cfg);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`no history at store.path ${join(root, 'no-store')} (no LMDB environment) nor at store.archiveDir ${join(root, 'no-archive')}`);
      expect(existsSync(join(root, 'no-store'))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('while the daemon holds the store', () => {
  it('export in another process reads what it has committed', async () => {
    const store = LmdbStore.open({ path: h.storePath });
    const hist = new InferenceHistoryStore(store, { retention: { maxRecords: 1000, maxAgeMs: 1e12 }, archiveDir: h.archiveDir, logger: pino({ level: 'silent' }) });
    try {
      await hist.record(rec('cnn', 'ETH/USDT', 500));
      const cli = (args: string[]): Promise<{ code: number; out: string; err: string }> => new Promise((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', 'engine/cli.ts', 'history', ...args, '--config', config], { timeout: 60_000, env: { ...process.env, COBALT_LOG_LEVEL: 'silent' } },
          (err, out, stderr) => resolve({ code: err ? Number(err.code) : 0, out, err: stderr }));
      });
      const exported = await cli(['export', '--model', 'cnn', '--symbol', 'ETH/USDT', '--from', String(T0 + 119 * 60_000)]);
      expect(exported.code).toBe(0);
      expect(jsonl(exported.out).map((x) => x.ts)).toEqual([T0 + 119 * 60_000, T0 + 500 * 60_000]);
      // The daemon goes on writing after the reader has gone.
      expect(await hist.record(rec('cnn', 'ETH/USDT', 501))).toBe(true);
    } finally {
      await store.close();
    }
  }, 60_000);
});
