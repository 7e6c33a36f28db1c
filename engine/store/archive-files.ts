// The inference history's archive files (`inference-<engine ms>-<seq>.jsonl.gz`) and the cap on their total size.
// Retention moves ~17 KB of archive per removed record, so at one tick a second with three models a daemon writes
// ~4 GB a day: without a cap the archive fills the disk in weeks. Over the cap the oldest files go first; the file a
// pass has just written is never removed (one file over the whole cap is kept, and said so). Files in the directory
// that are not archives are left alone and not counted.
// A file is written under a temporary name (`<archive name>.tmp`) and renamed once complete and synced, so a crash
// while writing leaves no truncated file under an archive name; the next pass deletes such leftovers.
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const NAME = /^inference-(-?\d+)-(\d+)\.jsonl\.gz$/;
const TEMP_SUFFIX = '.tmp';
const TEMP_NAME = /^inference-(-?\d+)-(\d+)\.jsonl\.gz\.tmp$/;

/** One archive file. */
export interface ArchiveFile {
  readonly file: string;
  readonly bytes: number;
  /** Engine time of the pass that wrote it. */
  readonly ts: number;
  readonly seq: number;
}

/** Returns the archive file name for a pass at engine time `ts`, number `seq` of this process. */
export const archiveName = (ts: number, seq: number): string => `inference-${Math.floor(ts)}-${seq}.jsonl.gz`;

/** Returns the temporary name an archive file is written under before it is renamed to `file`. */
export const archiveTempName = (file: string): string => `${file}${TEMP_SUFFIX}`;

/**
 * Renames the complete, synced temporary file `temp` to `file`, then syncs the directory so that the new name
 * survives a power loss (where the platform lets a directory be opened and synced).
 */
export async function publishArchive(temp: string, file: string, dir: string): Promise<void> {
  await rename(temp, file);
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    // Windows cannot open a directory, some file systems refuse to sync one: the rename itself stands.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw err;
  } finally {
    await fh?.close();
  }
}

/** Returns the names in `dir`, none when it does not exist (no archive written yet). */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Deletes the temporary files in `dir` that a pass killed while writing left behind, except `busy`; returns them. */
export async function removeArchiveTemps(dir: string, busy: ReadonlySet<string> = new Set()): Promise<string[]> {
  const names = await namesIn(dir);
  const removed: string[] = [];
  for (const name of names) {
    const file = join(dir, name);
    if (!TEMP_NAME.test(name) || busy.has(file)) continue;
    try {
      await unlink(file);
      removed.push(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}

/** Returns the archive files in `dir`, oldest first (none when the directory does not exist). */
export async function listArchives(dir: string): Promise<ArchiveFile[]> {
  const names = await namesIn(dir);
  const out: ArchiveFile[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m) continue;
    const file = join(dir, name);
    try {
      out.push({ file, bytes: (await stat(file)).size, ts: Number(m[1]), seq: Number(m[2]) });
    } catch (err) {
      // Removed meanwhile (by the trader): not an archive any more.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
}

/** What one prune did. */
export interface PruneResult {
  readonly deleted: readonly string[];
  readonly freedBytes: number;
  /** Total size of the archive files left. */
  readonly bytes: number;
}

/** Deletes the oldest archive files in `dir` until their total is at most `maxBytes`; never deletes `keep`. */
export async function pruneArchives(dir: string, maxBytes: number, keep?: string): Promise<PruneResult> {
  if (!(maxBytes > 0)) throw new RangeError(`pruneArchives: maxBytes must be > 0, got ${maxBytes}`);
  const files = await listArchives(dir);
  let bytes = files.reduce((a, f) => a + f.bytes, 0);
  const deleted: string[] = [];
  let freedBytes = 0;
  for (const f of files) {
    if (bytes <= maxBytes) break;
    if (f.file === keep) continue;
    try {
      await unlink(f.file);
      deleted.push(f.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    freedBytes += f.bytes;
    bytes -= f.bytes;
  }
  return { deleted, freedBytes, bytes };
}
