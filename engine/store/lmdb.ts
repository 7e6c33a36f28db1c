// One LMDB environment with named databases and msgpack values whose encoder options are pinned, so that every
// stored type reads back as what was written (round-trip tested in test/engine/store/lmdb.test.ts):
//   moreTypes: true          Float32Array/Float64Array/Uint8Array come back typed (without it: a Buffer of bytes);
//                            also lets bigints beyond 64 bits through (without it: RangeError at put).
//   useBigIntExtension: true bigints of any size are encoded, not refused.
//   int64AsType: 'bigint'    a 64-bit integer reads back as bigint, so Money (bigint) stays bigint even when small.
// lmdb bundles its own msgpackr (1.x), so these are lmdb's encoder options, not the top-level msgpackr's.
// Writes are asynchronous and batched by lmdb into one transaction per event-loop turn; a put's promise resolves
// once its transaction has committed.
import { open, type Database, type DatabaseOptions, type Key, type RootDatabase } from 'lmdb';
import { log, type Logger } from '../log.ts';
import { StoreError } from '../types/errors.ts';
import { releaseWriterLock, takeWriterLock, type WriterLock } from './writer-lock.ts';

export { WRITER_LOCK_FILE } from './writer-lock.ts';

/** The msgpack encoder options every database in the environment uses. */
export const ENCODER_OPTIONS = Object.freeze({ moreTypes: true, useBigIntExtension: true, int64AsType: 'bigint' as const });

// Sorts after every element ordered-binary can write (numbers, strings, booleans, null), so `[...prefix, END]`
// bounds a prefix scan.
const PREFIX_END = Buffer.from([0xff]);

/** A database key: a string, a number or an array of them (arrays order element by element). */
export type StoreKey = Key;

/** Options of one named database. */
export interface DbOptions {
  /** LZ4-compress values (lmdb `compression`): smaller files, slower puts. */
  readonly compression?: boolean;
}

/** Options of the environment. */
export interface StoreOptions {
  /** Directory of the environment (created if missing). */
  readonly path: string;
  /** Maximum number of named databases. */
  readonly maxDbs?: number;
  /** Skip fsync at commit (tests and throwaway stores only). */
  readonly noSync?: boolean;
  /**
   * Commit every write on the calling thread before `put`/`remove`/`transaction` return (their promises are then
   * already resolved). lmdb's default commits in its write thread, batched: best for a live engine, but each awaited
   * commit is a thread round trip (~1 ms), which a backtest on a throwaway store pays for every order step.
   */
  readonly syncCommits?: boolean;
  /**
   * Open for reading only (LMDB MDB_RDONLY): nothing is written to the environment, not even a missing named
   * database; use `existingDb` to open one. For readers beside a running daemon (`cobalt history`).
   */
  readonly readOnly?: boolean;
  /**
   * Skip the writer lock (see writer-lock.ts): only for test tools that write beside a running daemon on purpose.
   * LMDB serializes their transactions, but two engines on one store overwrite each other's state.
   */
  readonly noLock?: boolean;
  /** Where taking over a stale writer lock is logged (default: the process-wide logger). */
  readonly logger?: Logger;
}

/** An ordered range within one database: `start` inclusive, `end` exclusive, also when `reverse`. */
export interface KeyRange {
  readonly start?: StoreKey;
  readonly end?: StoreKey;
  readonly reverse?: boolean;
  readonly limit?: number;
}

/** Returns the range covering every key that starts with the elements of `prefix`. */
export function prefixRange(prefix: readonly (string | number)[]): { start: StoreKey; end: StoreKey } {
  return { start: [...prefix], end: [...prefix, PREFIX_END] };
}

// lmdb walks a reverse range from `start` (inclusive, the high key) down to `end` (exclusive); keep our
// lower-inclusive/upper-exclusive meaning in both directions.
function toLmdbRange(r: KeyRange): Record<string, unknown> {
  if (!r.reverse) return { ...r };
  return { start: r.end, end: r.start, reverse: true, limit: r.limit, exclusiveStart: r.end !== undefined, inclusiveEnd: r.start !== undefined };
}

/** A typed view of one named database; writes are tracked so that the store can flush them. */
export class TypedDb<K extends StoreKey, V> {
  /** @internal */
  constructor(readonly name: string, private readonly db: Database<V, K>, private readonly owner: LmdbStore) {}

  // lmdb accepts a put after its environment is closed, never settles the promise, and throws "The environment is
  // already closed" from a setImmediate: an uncaught exception. Refuse such writes here, synchronously, once close()
  // was called. The writes of a transaction issued before it are let through: lmdb runs an asynchronous
  // transaction's callback only when its batch is written, which may be after close() was called.
  private track(p: Promise<unknown>): void {
    this.owner.track(p);
  }
  private writable(): void {
    if (this.owner.isClosed && !this.owner.inTransaction) throw new StoreError(`store ${this.owner.path} is closed: cannot write to ${this.name}`);
  }

  /** Returns a promise resolved (true) when the write has committed; throws StoreError once the store is closed. */
  put(key: K, value: V): Promise<boolean> {
    this.writable();
    if (this.owner.syncCommits) return settled(() => (this.db.putSync(key, value), true));
    const p = this.db.put(key, value);
    this.track(p);
    return p;
  }

  /** Returns a promise resolved when the removal has committed (true if the key existed). */
  remove(key: K): Promise<boolean> {
    this.writable();
    if (this.owner.syncCommits) return settled(() => this.db.removeSync(key));
    const p = this.db.remove(key);
    this.track(p);
    return p;
  }

  /** Returns the committed value at `key`. */
  get(key: K): V | undefined {
    return this.db.get(key);
  }

  /** Returns the committed entries in `range`, in key order. */
  *entries(range: KeyRange = {}): Generator<{ key: K; value: V }> {
    for (const { key, value } of this.db.getRange(toLmdbRange(range))) yield { key, value };
  }

  /** Returns the committed keys in `range`, in key order (no values decoded: cheap). */
  *keys(range: KeyRange = {}): Generator<K> {
    yield* this.db.getKeys(toLmdbRange(range));
  }

  /** Returns the number of entries in `range`. */
  count(range: KeyRange = {}): number {
    return this.db.getCount(toLmdbRange(range));
  }

  /** Runs `fn` in one write transaction (all its puts/removes commit together); resolves at commit. */
  transaction<T>(fn: () => T): Promise<T> {
    this.writable();
    const run = (): T => this.owner.runTransaction(fn);
    if (this.owner.syncCommits) return settled(() => this.db.transactionSync(run));
    const p = this.db.transaction(run);
    this.track(p);
    return p;
  }
}

// A synchronous write as the promise the asynchronous API returns: its value, or its error as a rejection.
function settled<T>(write: () => T): Promise<T> {
  try {
    return Promise.resolve(write());
  } catch (err) {
    return Promise.reject(err);
  }
}

/** One LMDB environment holding named databases. */
export class LmdbStore {
  private readonly env: RootDatabase;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly dbs = new Map<string, TypedDb<StoreKey, unknown>>();
  private closed = false;
  private closing: Promise<void> | undefined;
  private transactionDepth = 0;

  private constructor(readonly path: string, env: RootDatabase, readonly syncCommits: boolean, private readonly lock: WriterLock | undefined) {
    this.env = env;
  }

  /**
   * Returns the environment at `opts.path`, created if missing. A writer (not `readOnly`) takes the store's writer
   * lock first and throws StoreError while another process, or this one, has it open for writing.
   */
  static open(opts: StoreOptions): LmdbStore {
    const lock = opts.readOnly || opts.noLock ? undefined : takeWriterLock(opts.path, opts.logger ?? log());
    try {
      const env = open({ path: opts.path, maxDbs: opts.maxDbs ?? 32, noSync: opts.noSync ?? false, encoder: ENCODER_OPTIONS, ...(opts.readOnly ? { readOnly: true } : {}) });
      return new LmdbStore(opts.path, env, opts.syncCommits ?? false, lock);
    } catch (err) {
      if (lock) releaseWriterLock(lock);
      throw new StoreError(`cannot open LMDB environment at ${opts.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Returns true once `close()` has been called (new writes are refused from then on). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal Returns true while a write transaction's callback runs. */
  get inTransaction(): boolean {
    return this.transactionDepth > 0;
  }

  /** @internal Runs a write transaction's callback, marking it as such for the closed check. */
  runTransaction<T>(fn: () => T): T {
    this.transactionDepth++;
    try {
      return fn();
    } finally {
      this.transactionDepth--;
    }
  }

  /** Returns the named database, opened once with the pinned encoder. */
  db<K extends StoreKey, V>(name: string, opts: DbOptions = {}): TypedDb<K, V> {
    if (this.closed) throw new StoreError(`store ${this.path} is closed`);
    const have = this.dbs.get(name);
    if (have) return have as unknown as TypedDb<K, V>;
    // `encoder` is a valid openDB option that lmdb's typings leave out.
    const dbOpts = { name, encoder: ENCODER_OPTIONS, compression: opts.compression ?? false } as DatabaseOptions & { name: string };
    const raw = this.env.openDB<V, K>(dbOpts);
    const typed = new TypedDb<K, V>(name, raw, this);
    this.dbs.set(name, typed as unknown as TypedDb<StoreKey, unknown>);
    return typed;
  }

  /**
   * Returns the named database if the environment holds it, else undefined; never creates it (lmdb `create: false`),
   * so a reader does not add databases to a store it only reads.
   */
  existingDb<K extends StoreKey, V>(name: string, opts: DbOptions = {}): TypedDb<K, V> | undefined {
    if (this.closed) throw new StoreError(`store ${this.path} is closed`);
    const have = this.dbs.get(name);
    if (have) return have as unknown as TypedDb<K, V>;
    const dbOpts = { name, encoder: ENCODER_OPTIONS, compression: opts.compression ?? false, create: false } as DatabaseOptions & { name: string };
    // Typed as always returning a database; with `create: false` lmdb returns undefined where there is none.
    const raw = this.env.openDB<V, K>(dbOpts) as Database<V, K> | undefined;
    if (raw === undefined) return undefined;
    const typed = new TypedDb<K, V>(name, raw, this);
    this.dbs.set(name, typed as unknown as TypedDb<StoreKey, unknown>);
    return typed;
  }

  /** @internal Registers a write for `flush()`. */
  track(p: Promise<unknown>): void {
    this.pending.add(p);
    // The caller handles the rejection; this copy only keeps the set small and must not raise an unhandled one.
    p.then(() => this.pending.delete(p), () => this.pending.delete(p));
  }

  /** Resolves when every write issued so far has committed (failed writes included: they are the caller's). */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /**
   * Refuses new writes, lets every write issued before (transactions included) commit, then closes the environment
   * and releases the writer lock.
   * Every call returns the same promise: a second close() resolves only when the environment is closed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      try {
        await this.flush();
        await this.env.close();
      } finally {
        if (this.lock) releaseWriterLock(this.lock);
      }
    })();
    return this.closing;
  }
}
