// The inference history's archive files (`inference-<engine ms>-<seq>.jsonl.gz`) and the cap on their total size.
// Retention moves ~17 KB of archive per removed record, so at one tick a second with three models a daemon writes
// ~4 GB a day: without a cap the archive fills the disk in weeks. Over the cap the oldest files go first; the file a
// pass has just written is never removed (one file over the whole cap is kept, and said so). Files in the directory
// that are not archives are left alone and not counted.
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const NAME = /^inference-(-?\d+)-(\d+)\.jsonl\.gz$/;

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

/** Returns the archive files in `dir`, oldest first (none when the directory does not exist). */
export async function listArchives(dir: string): Promise<ArchiveFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
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
