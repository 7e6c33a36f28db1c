// Review of `train cnn --input history` (finding 2): a data.mdb cut short (an interrupted copy) passed the magic check
// and the process died with SIGBUS opening it. noStoreAt now reads both meta pages and wants every page up to the
// newest one's last page in the file. noStoreAt never maps the file, so these checks cannot crash the worker; a store
// is opened only after noStoreAt has accepted it.
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryReader, noStoreAt, openHistoryStore } from '../../../engine/store/history-reader.ts';
import { InferenceHistoryStore } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import pino from 'pino';
import { rec } from './history-fixture.ts';

let root: string;
let full: string;
let fullBytes: Buffer;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cobalt-history-meta-'));
  full = join(root, 'full');
  const store = LmdbStore.open({ path: full, noSync: true });
  const hist = new InferenceHistoryStore(store, { retention: { maxRecords: 1e6, maxAgeMs: 1e12 }, archiveDir: join(root, 'archive'), logger: pino({ level: 'silent' }) });
  await Promise.all(Array.from({ length: 300 }, (_, i) => hist.record(rec('cnn', 'ETH/USDT', i))));
  await store.close();
  fullBytes = readFileSync(join(full, 'data.mdb'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

// A copy of the store whose data.mdb holds `bytes`.
function copyWith(name: string, bytes: Buffer): string {
  const dir = join(root, name);
  cpSync(full, dir, { recursive: true });
  writeFileSync(join(dir, 'data.mdb'), bytes);
  return dir;
}

describe('a data.mdb cut short', () => {
  it('reads the whole store it was cut from', async () => {
    expect(noStoreAt(full)).toBeUndefined();
    const store = openHistoryStore(full)!;
    let n = 0;
    for await (const _ of new HistoryReader(store, '').records()) n++;
    await store.close();
    expect(n).toBe(300);
  });

  it.each([
    [100, 'holds a data.mdb cut short: 100 bytes, less than its first meta page'],
    [4096, 'holds a data.mdb cut short or damaged: 4096 bytes, no second meta page at byte 4096'],
    [8192, 'holds a data.mdb cut short: 8192 bytes, where its newest meta page'],
    [12288, 'holds a data.mdb cut short: 12288 bytes, where its newest meta page'],
  ])('is refused at %i bytes, naming the path and the sizes, and never opened', (size, message) => {
    const cut = copyWith(`cut-${size}`, fullBytes.subarray(0, size));
    const why = noStoreAt(cut);
    expect(why).toContain(`${resolve(cut)} ${message}`);
    if (size >= 8192) expect(why).toContain(`says ${statSync(join(full, 'data.mdb')).size} (`);
    expect(openHistoryStore(cut)).toBeUndefined();
  });

  it('is refused when written in the other byte order', () => {
    // Page header 24 bytes: flags at 18, the meta's magic at 24 and its page size at 48, in both meta pages.
    const pageSize = endianness() === 'LE' ? fullBytes.readUInt32LE(48) : fullBytes.readUInt32BE(48);
    const swapped = Buffer.from(fullBytes);
    for (const page of [0, pageSize]) {
      swapped.subarray(page + 18, page + 20).swap16();
      swapped.subarray(page + 24, page + 28).swap32();
    }
    const other = endianness() === 'LE' ? 'big' : 'little';
    expect(noStoreAt(copyWith('swapped', swapped))).toContain(`its data.mdb was written on a ${other}-endian machine`);
  });
});
