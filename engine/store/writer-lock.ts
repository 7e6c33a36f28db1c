// One writer per store. LMDB lets any number of processes write one environment (it serializes their transactions),
// but two engines on one store each restore the same state, hand out the same ids and rewrite whole records (the
// paper account, positions): the last writer's version stands and the other's trades are lost. So a writer open
// takes `<store dir>/cobalt-writer.lock`, created only where none is, holding its pid; readers take nothing.
// A lock whose process is gone (kill -9, a crash, a reboot) is taken over: its pid is not alive, or it is alive but
// started at another time than the lock's (a reused pid; Linux, from /proc), or it is this pid but this process did not
// take it (the pid an earlier process had, as a container's daemon gets the same pid at each start).
// Without /proc, a pid reused by an unrelated process reads as the holder: a rare false refusal, whose message says to
// delete the lock file. Processes in other pid namespaces (containers sharing a volume) cannot be seen: not covered.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { StoreError, StoreInUseError } from '../types/errors.ts';

/** The lock file's name inside the store directory. */
export const WRITER_LOCK_FILE = 'cobalt-writer.lock';

/** A writer lock this process holds. */
export interface WriterLock {
  readonly file: string;
  readonly text: string;
}

interface Holder {
  readonly pid: number;
  readonly host?: string;
  /** The holder's boot and start time (Linux), which a reused pid does not share. */
  readonly start?: string;
  readonly since?: string;
}

// The lock files this process holds (real paths), released at exit: a process gone frees its store even when it
// exited without closing it (a crash's process.exit).
const held = new Map<string, WriterLock>();
let exitHook = false;

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
}

// The boot id and start time (clock ticks after boot) of `pid`; undefined where /proc does not tell.
function startOf(pid: number | 'self'): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) is in parentheses and may hold spaces, so count from its closing one.
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return ticks === undefined ? undefined : `${boot}:${ticks}`;
  } catch {
    return undefined;
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder> | null;
    return h !== null && Number.isSafeInteger(h.pid) && h.pid! > 0 ? (h as Holder) : undefined;
  } catch {
    return undefined;
  }
}

function alive(h: Holder, file: string): boolean {
  if (h.pid === process.pid) return held.has(file);
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if (errno(err) === 'ESRCH') return false;
  }
  const now = startOf(h.pid);
  return h.start === undefined || now === undefined || now === h.start;
}

// Creates `file` holding `text` only if there is none; the content is complete as soon as the name exists (link of a
// written temporary file), so a process reading the lock never sees it half written.
function create(file: string, text: string): boolean {
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, file);
    return true;
  } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(temp);
  }
}

function inUse(path: string, file: string, h: Holder): StoreInUseError {
  if (h.pid === process.pid) return new StoreInUseError(`store ${path} is already open for writing in this process (pid ${h.pid}): close it before opening it again`);
  const where = h.host && h.host !== hostname() ? ` on ${h.host}` : '';
  return new StoreInUseError(`store ${path} is in use by pid ${h.pid}${where} (another cobalt run?): stop it, or point store.path elsewhere; if no such process runs, delete ${file}`);
}

/** Takes the writer lock of the store at `path` (creating the directory), or throws StoreError naming its holder. */
export function takeWriterLock(path: string, logger: Logger): WriterLock {
  let file: string;
  try {
    mkdirSync(path, { recursive: true });
    file = join(realpathSync(path), WRITER_LOCK_FILE);
  } catch (err) {
    throw new StoreError(`cannot open LMDB environment at ${path}: ${(err as Error).message}`, { cause: err });
  }
  const text = JSON.stringify({ pid: process.pid, host: hostname(), start: startOf('self'), since: new Date().toISOString() });
  // A few rounds: each one that does not end here saw the lock change under it (released, or taken over by another).
  for (let round = 0; round < 5; round++) {
    if (create(file, text)) {
      const lock = { file, text };
      held.set(file, lock);
      if (!exitHook) process.on('exit', releaseAll);
      exitHook = true;
      return lock;
    }
    const seen = readText(file);
    if (seen === undefined) continue;
    const h = parseHolder(seen);
    if (h === undefined) throw new StoreError(`store ${path} has a lock file that is not a cobalt writer lock: if no cobalt run uses the store, delete ${file}`);
    if (alive(h, file)) throw inUse(path, file, h);
    // Stale. Moved aside, then dropped only if it is still the lock seen: two processes taking over at once would
    // otherwise both remove it, the second removing the first one's new lock.
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
    } catch (err) {
      if (errno(err) === 'ENOENT') continue;
      throw err;
    }
    if (readText(aside) === seen) {
      logger.warn({ store: path, pid: h.pid, since: h.since }, `took over the writer lock of pid ${h.pid}, which is no longer running`);
    } else {
      try {
        linkSync(aside, file);
      } catch {
        // Yet another lock is in place: it stands, and the next round reads it.
      }
    }
    unlinkSync(aside);
  }
  throw new StoreError(`cannot take the writer lock ${file}: it keeps changing (several cobalt runs starting at once?)`);
}

/** Releases `lock`: removes its file if it still is this process's (never another's that took it over). */
export function releaseWriterLock(lock: WriterLock): void {
  held.delete(lock.file);
  try {
    if (readText(lock.file) === lock.text) unlinkSync(lock.file);
  } catch {
    // Gone with its directory (a test's temporary store), or not ours to remove: nothing to release.
  }
}

function releaseAll(): void {
  for (const lock of [...held.values()]) releaseWriterLock(lock);
}
