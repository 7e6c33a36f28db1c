// `cobalt train cnn --input history` end to end on a small history written with the real store (the fixture of
// test/models/train/history-dataset.test.ts), and `cobalt history stats` on a path that holds no store.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CnnTrainSummary } from '../../../models/train/cnn.ts';
import { cobalt, TINY } from './train-history-cli.ts';
import { decisionAt, writeBdiHistory, type HistoryFixture } from '../../models/train/history-dataset-fixture.ts';

let h: HistoryFixture;
beforeAll(async () => {
  h = await writeBdiHistory();
}, 30_000);
afterAll(() => rmSync(h.root, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});


describe('cobalt train cnn --input history', () => {
  it('trains on the recorded BaseDataInputs and reports records read, dropped and their span', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cobalt-train-history-out-'));
    try {
      const r = await cobalt('train', 'cnn', '--input', 'history', '--store', h.storePath, '--archive-dir', h.archiveDir, ...TINY, '--out', out, '--json');
      expect(r.code).toBeUndefined();
      const s = JSON.parse(r.out) as CnnTrainSummary;
      expect(s.history?.counts).toMatchObject({ read: 180, samples: 31, noLabel: 5, wrongShape: 36, duplicate: 36, offGrid: 72 });
      expect(s.history?.span?.from).toBe(new Date(decisionAt(0)).toISOString());
      expect(s.labels.samples).toBe(31);
      expect(s.folds.map((f) => f.steps)).toEqual([2, 2]);
      // Chronological: every training sample of a fold comes before its test samples.
      expect(s.folds.every((f) => f.trainSpan.toMs <= f.testSpan.toMs)).toBe(true);
      // The engine's CNN agent loads it: the same input kind as a kline-replayed run.
      const meta = JSON.parse(readFileSync(join(s.checkpoint!.dir, 'checkpoint.json'), 'utf8')) as { input: { kind: string; symbol: string } };
      expect(meta.input).toMatchObject({ kind: 'bdi-klines-v1', symbol: 'ETH/USDT' });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);

  it('prints the history line in the text summary', async () => {
    const r = await cobalt('train', 'cnn', '--input', 'history', '--store', h.storePath, '--history-model', 'dqn', ...TINY, '--no-save');
    expect(r.code).toBeUndefined();
    // No --archive-dir: LMDB only, where retention left dqn's records of decisions 15..39.
    expect(r.out).toMatch(/^history dqn: 21 records read \(\S+ → \S+\), 16 samples; dropped: no label 5, at kline gaps 0, wrong shape 0, duplicate ticks 0/m);
  }, 60_000);

  it.each([
    [['--history-model', 'aux'], /aux are not BaseDataInputs: found aux \[85\] × 36/],
    [['--last-bars', '100'], /--last-bars is not for --input history/],
  ])('refuses %j, naming what is wrong', async (extra, message) => {
    const r = await cobalt('train', 'cnn', '--input', 'history', '--store', h.storePath, '--archive-dir', h.archiveDir, ...TINY, '--no-save', ...extra);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
  }, 30_000);

  it('refuses --input history without a store, and a store option with another input', async () => {
    const none = await cobalt('train', 'cnn', '--input', 'history', ...TINY);
    const missing = await cobalt('train', 'cnn', '--input', 'history', '--store', join(h.root, 'nope'), ...TINY);
    const misplaced = await cobalt('train', 'cnn', '--store', h.storePath, ...TINY);
    expect([none.code, missing.code, misplaced.code]).toEqual([1, 1, 1]);
    expect(none.err).toContain('--input history needs --store <path>');
    expect(missing.err).toContain(`--store: ${resolve(h.root, 'nope')} does not exist`);
    expect(misplaced.err).toContain('--store is for --input history');
  });
});

describe('cobalt history stats on a path that holds no store, beside no archive directory', () => {
  it.each([
    ['does not exist', (root: string) => join(root, 'missing'), 'does not exist'],
    ['is a directory without data.mdb', (root: string) => root, 'is not an LMDB store (no data.mdb in it)'],
    // Opened, it crashed the process (SIGSEGV in the LMDB binding).
    ['holds a data.mdb that is not LMDB', (root: string) => {
      mkdirSync(join(root, 'store'));
      writeFileSync(join(root, 'store', 'data.mdb'), 'not an LMDB environment '.repeat(400));
      return join(root, 'store');
    }, 'is not an LMDB store (its data.mdb has no LMDB meta page)'],
  ])('exits 1 with one line naming both paths when the store path %s', async (_name, storeOf, message) => {
    const root = mkdtempSync(join(tmpdir(), 'cobalt-history-stats-'));
    try {
      const cfg = join(root, 'config.yaml');
      const storePath = storeOf(root);
      writeFileSync(cfg, `store:\n  path: ${storePath}\n  archiveDir: ${join(root, 'archive')}\n`);
      const r = await cobalt('history', 'stats', '--config', cfg);
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n')).toEqual([`cobalt history stats: no history at store.path ${resolve(storePath)} (it ${message}${message === 'does not exist' ? ' (relative paths are taken from the current directory)' : ''}) nor at store.archiveDir ${join(root, 'archive')} (no such directory)`]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('still prints the figures of a real store and exits 0', async () => {
    const cfg = join(h.root, 'config.yaml');
    writeFileSync(cfg, `store:\n  path: ${h.storePath}\n  archiveDir: ${h.archiveDir}\n`);
    const r = await cobalt('history', 'stats', '--config', cfg);
    expect(r.code).toBeUndefined();
    expect(r.out).toContain(`store ${h.storePath}: 75 records in 3 series`);
  });
});
