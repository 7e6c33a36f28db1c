import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { listArchives } from '../../../engine/store/archive-files.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryReader, type HistoryWarning } from '../../../engine/store/history-reader.ts';
import type { InferenceRecord } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import { corruptArchive, T0, writeHistory, type WrittenHistory } from './history-fixture.ts';

let h: WrittenHistory;
beforeAll(async () => {
  h = await writeHistory();
});
afterAll(() => rmSync(h.root, { recursive: true, force: true }));

async function readAll(reader: HistoryReader, q = {}): Promise<InferenceRecord[]> {
  const out: InferenceRecord[] = [];
  for await (const r of reader.records(q)) out.push(r);
  return out;
}

async function withReader<T>(fn: (r: HistoryReader, warnings: HistoryWarning[]) => Promise<T>): Promise<T> {
  const store = LmdbStore.open({ path: h.storePath, noSync: true });
  const warnings: HistoryWarning[] = [];
  try {
    return await fn(new HistoryReader(store, h.archiveDir, { onWarning: (w) => warnings.push(w) }), warnings);
  } finally {
    await store.close();
  }
}

describe('HistoryReader.records', () => {
  it('yields every stored record once, archives and LMDB merged in time order, exactly as written', async () => {
    await withReader(async (reader, warnings) => {
      const got = await readAll(reader);
      expect(got.length).toBe(h.expected.length);
      expect(got).toEqual(h.expected);
      expect(got[0]!.input.features).toBeInstanceOf(Float32Array);
      expect(reader.counts).toMatchObject({ live: h.live, archived: h.expected.length - h.live, duplicates: h.copies, badLines: 0 });
      expect(warnings).toEqual([]);
    });
  });

  it.each([
    ['one model', { model: 'dqn' }, (r: InferenceRecord) => r.model === 'dqn'],
    ['one symbol', { symbol: 'ETH/USDT' }, (r: InferenceRecord) => r.symbol === 'ETH/USDT'],
    ['a time range across archive and LMDB', { from: T0 + 25 * 60_000, to: T0 + 60 * 60_000 }, (r: InferenceRecord) => r.ts >= T0 + 25 * 60_000 && r.ts < T0 + 60 * 60_000],
    ['a series and a range inside one archive', { model: 'cnn', symbol: 'BTC/USDT', from: T0 + 3 * 60_000, to: T0 + 4 * 60_000 },
      (r: InferenceRecord) => r.model === 'cnn' && r.symbol === 'BTC/USDT' && r.ts === T0 + 3 * 60_000],
  ])('reads only %s', async (_name, q, keep) => {
    await withReader(async (reader) => {
      const got = await readAll(reader, q);
      const want = h.expected.filter(keep);
      expect(want.length).toBeGreaterThan(0);
      expect(got).toEqual(want);
    });
  });

  it('closes its sources when the caller stops early', async () => {
    await withReader(async (reader) => {
      const got: InferenceRecord[] = [];
      for await (const r of reader.records()) if (got.push(r) === 5) break;
      expect(got).toEqual(h.expected.slice(0, 5));
      // A second read after the abandoned one sees everything again.
      expect((await readAll(reader)).length).toBe(h.expected.length);
    });
  });

  it('reads the archives alone when there is no LMDB store', async () => {
    const reader = new HistoryReader(undefined, h.archiveDir);
    const got = await readAll(reader);
    expect(got.length).toBe(h.expected.length - h.live + 1);
    expect(reader.counts.live).toBe(0);
  });
});

describe('a line that is not a record', () => {
  it('is skipped, counted and reported with its file and line, and the rest is read', async () => {
    const h2 = await writeHistory();
    try {
      const file = await corruptArchive(h2.archiveDir, 3);
      const store = LmdbStore.open({ path: h2.storePath, noSync: true });
      const warnings: HistoryWarning[] = [];
      const reader = new HistoryReader(store, h2.archiveDir, { onWarning: (w) => warnings.push(w) });
      const got = await readAll(reader);
      await store.close();
      expect(got).toEqual(h2.expected);
      expect(reader.counts.badLines).toBe(1);
      expect(warnings).toEqual([{ kind: 'badLine', file, line: 4, reason: expect.stringMatching(/JSON/) }]);
    } finally {
      rmSync(h2.root, { recursive: true, force: true });
    }
  });
});

describe('an archive cut short', () => {
  it('gives the records before the cut and reports the file as unreadable after them', async () => {
    const h2 = await writeHistory();
    try {
      const { file } = (await listArchives(h2.archiveDir))[1]!;
      const bytes = readFileSync(file);
      writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const warnings: HistoryWarning[] = [];
      const reader = new HistoryReader(undefined, h2.archiveDir, { onWarning: (w) => warnings.push(w) });
      const scan = await reader.scan(file);
      const got = await readAll(reader);
      expect(scan.unreadableAfter).toBeGreaterThan(0);
      expect(scan.runs.reduce((a, r) => a + r.count, 0)).toBe(scan.unreadableAfter);
      // The first file (and its copy) whole, then the lines of the second before the cut.
      expect(got.length).toBe(30 * 4 + scan.unreadableAfter!);
      expect(warnings.filter((w) => w.kind === 'unreadable')).toEqual([
        { kind: 'unreadable', file, afterLine: scan.unreadableAfter, reason: expect.any(String) },
        { kind: 'unreadable', file, afterLine: scan.unreadableAfter, reason: expect.any(String) },
      ]);
      expect(reader.counts.unreadable).toBe(1);
    } finally {
      rmSync(h2.root, { recursive: true, force: true });
    }
  });
});
