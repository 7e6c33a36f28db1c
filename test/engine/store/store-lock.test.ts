// One writer per store: a second writer open (another daemon on the same store.path, or the same process twice) is
// refused with StoreError naming the holder; read-only opens stay allowed; close() and process exit release the lock;
// a lock left by a killed process (or by an earlier process that had the same pid) is taken over.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LmdbStore, WRITER_LOCK_FILE } from '../../../engine/store/lmdb.ts';
import { StoreError } from '../../../engine/types/errors.ts';

const CHILD = join(import.meta.dirname, 'store-lock-child.ts');
const dirs: string[] = [];
const open: LmdbStore[] = [];
const children: ChildProcess[] = [];
function tempPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'cobalt-lock-'));
  dirs.push(d);
  return join(d, 'store');
}
function writer(path: string, logger?: pino.Logger): LmdbStore {
  const s = LmdbStore.open({ path, noSync: true, ...(logger ? { logger } : {}) });
  open.push(s);
  return s;
}
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// Starts the child on `path`; resolves with its first stdout line (or its exit, when it ends without one).
function child(path: string, mode: 'hold' | 'kill' | 'exit'): Promise<{ line: string; proc: ChildProcess; exited: Promise<unknown> }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, path, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  const exited = new Promise((r) => proc.on('exit', r));
  return new Promise((resolve) => {
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve({ line: out.split('\n')[0]!, proc, exited });
    });
    void exited.then(() => resolve({ line: out, proc, exited }));
  });
}

function lines(): { logger: pino.Logger; seen: string[] } {
  const seen: string[] = [];
  return { logger: pino({ level: 'info' }, { write: (l: string) => void seen.push(l) }), seen };
}

describe('the store writer lock', () => {
  it('refuses a second writer in the same process, allows readers, and close() releases it', async () => {
    const path = tempPath();
    const a = writer(path);
    await a.db<string, number>('x').put('k', 1);
    expect(() => writer(path)).toThrow(StoreError);
    expect(() => writer(path)).toThrow(/already open for writing in this process/);
    const r = LmdbStore.open({ path, readOnly: true });
    expect(r.db<string, number>('x').get('k')).toBe(1);
    await r.close();
    await a.close();
    expect(existsSync(join(path, WRITER_LOCK_FILE))).toBe(false);
    const b = writer(path);
    expect(b.db<string, number>('x').get('k')).toBe(1);
  });

  it('refuses a writer while another process holds the store, then takes the lock of that process once killed', { timeout: 30_000 }, async () => {
    const path = tempPath();
    const held = await child(path, 'hold');
    expect(held.line).toMatch(/^opened \d+$/);
    const pid = held.line.split(' ')[1]!;
    expect(() => writer(path)).toThrow(new RegExp(`store ${path} is in use by pid ${pid} \\(another cobalt run\\?\\): stop it, or point store.path elsewhere`));
    const second = await child(path, 'hold');
    expect(second.line).toMatch(new RegExp(`^refused: store .* is in use by pid ${pid}`));
    held.proc.kill('SIGKILL');
    await held.exited;
    const { logger, seen } = lines();
    writer(path, logger);
    expect(seen.join('')).toContain(`took over the writer lock of pid ${pid}`);
  });

  it('takes over the lock of a process that killed itself, and finds none after a process.exit without close', { timeout: 30_000 }, async () => {
    const path = tempPath();
    const killed = await child(path, 'kill');
    await killed.exited;
    expect(existsSync(join(path, WRITER_LOCK_FILE))).toBe(true);
    (await writer(path).close(), open.pop());
    const exited = await child(path, 'exit');
    await exited.exited;
    expect(existsSync(join(path, WRITER_LOCK_FILE))).toBe(false);
  });

  it('takes over a lock that names this pid but was not taken in this process (an earlier process with the same pid)', () => {
    const path = tempPath();
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, WRITER_LOCK_FILE), JSON.stringify({ pid: process.pid, host: 'x', since: '2020-01-01T00:00:00.000Z' }));
    const { logger, seen } = lines();
    writer(path, logger);
    expect(seen.join('')).toContain(`took over the writer lock of pid ${process.pid}`);
    expect(JSON.parse(readFileSync(join(path, WRITER_LOCK_FILE), 'utf8')).pid).toBe(process.pid);
  });

  it.runIf(existsSync('/proc/self/stat'))('takes over a lock whose live pid started at another time (a reused pid)', () => {
    const path = tempPath();
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, WRITER_LOCK_FILE), JSON.stringify({ pid: process.ppid, host: 'x', start: 'another-boot:1', since: '2020-01-01T00:00:00.000Z' }));
    expect(() => writer(path)).not.toThrow();
  });

  it('refuses a lock file it cannot read as one, telling the user to delete it', () => {
    const path = tempPath();
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, WRITER_LOCK_FILE), 'garbage');
    expect(() => writer(path)).toThrow(new RegExp(`delete ${join(path, WRITER_LOCK_FILE)}`));
  });
});
