// Review of the persistence code, finding 4: a retention pass killed (SIGKILL) while writing its archive left a
// truncated .jsonl.gz under an archive name: counted by the cap, unreadable. The archive is now written under a
// temporary name and renamed once complete; the next pass removes the leftover and archives the records again.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { listArchives } from '../../../engine/store/archive-files.ts';
import { InferenceHistoryStore, readArchive } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { crashRecord } from './archive-crash-records.ts';

const CHILD = new URL('./archive-crash-child.ts', import.meta.url).pathname;
const RECORDS = 200;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function runChild(root: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, root, String(RECORDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })));
}

describe('InferenceHistoryStore retention killed while archiving', () => {
  it('leaves no file under an archive name; the next pass removes the partial file and archives every record', { timeout: 30_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'cobalt-hist-crash-'));
    dirs.push(root);
    const archiveDir = join(root, 'archive');

    const killed = await runChild(root);
    const leftAfterKill = readdirSync(archiveDir);
    const archivesAfterKill = await listArchives(archiveDir);
    const partialRead = await readArchive(join(archiveDir, leftAfterKill[0]!)).then(() => 'read', (err: Error) => err.message);

    const store = LmdbStore.open({ path: join(root, 'db'), noSync: true });
    const hist = new InferenceHistoryStore(store, { retention: { maxRecords: 1_000_000, maxAgeMs: 1 }, archiveDir, logger: pino({ level: 'silent' }) });
    const countBefore = hist.count();
    const pass = await hist.retain(2_000_000_000_000 as TsMs);
    const countAfter = hist.count();
    await store.close();
    const leftAfterPass = readdirSync(archiveDir);
    const archived = await readArchive(pass.archiveFile!);

    expect(killed).toMatchObject({ signal: 'SIGKILL' });
    expect(leftAfterKill).toEqual([expect.stringMatching(/^inference-.*\.jsonl\.gz\.tmp$/)]);
    expect(archivesAfterKill).toEqual([]);
    expect(partialRead).toContain(join(archiveDir, leftAfterKill[0]!));
    expect([countBefore, pass.removed, countAfter]).toEqual([RECORDS, RECORDS, 0]);
    expect(leftAfterPass).toEqual([pass.archiveFile!.split('/').pop()]);
    expect(archived.map((r) => r.ts)).toEqual(Array.from({ length: RECORDS }, (_, i) => i + 1));
    expect(archived[RECORDS - 1]).toEqual(crashRecord(RECORDS - 1));
  });
});
