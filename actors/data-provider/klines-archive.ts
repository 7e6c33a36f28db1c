// The bundled kline CSVs (config.data.klinesDirs) as a kline source for replays: the same requests the REST
// failover answers live, served from files, and never a bar that has not closed on the replay clock.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../../engine/log.ts';
import { loadKlinesIndex, type KlinesIndex } from '../../engine/market/klines-index.ts';
import { klinesFileMatches } from '../../engine/market/klines-csv.ts';
import type { Candle } from '../../engine/messages/market.ts';
import { timeframeMs, type Timeframe } from '../../engine/types/time.ts';
import { KlinesMemo } from './klines-memo.ts';
import type { KlineQuery, KlineSource } from './market-source.ts';

// Where a file of kline history is told by its name (engine/market/klines-csv.ts): also what the simulator reads.
export { klinesFileMatches };

// A file's KlinesIndex, shared by every archive of the process: the files are immutable data, and tests and benches
// build several systems per process. A file is inflated and indexed only as far as queries reach (a backtest's history
// stops less than half-way into a 1m file), and a row is parsed the first time a query reaches it (~1500 of a 1m file's
// 43k); it stays the same Candle object for every later query.
interface CachedIndex {
  readonly stamp: string;
  readonly index: KlinesIndex;
}

const indexes = new Map<string, CachedIndex>();

// A file's inode, size and mtime ('' when it cannot be read).
function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino} ${st.size} ${st.mtimeMs}`;
  } catch {
    return '';
  }
}

// Returns the index of the file at `path`, read again when its inode, size or mtime changed since it was cached.
function cachedIndex(path: string): KlinesIndex {
  const key = resolve(path);
  // Unreadable (''): loadKlinesIndex throws the reader's own error below.
  const stamp = fileStamp(key);
  const hit = indexes.get(key);
  if (hit && stamp !== '' && hit.stamp === stamp) return hit.index;
  const index = loadKlinesIndex(path);
  indexes.set(key, { stamp, index });
  return index;
}

/**
 * Kline CSV files of several directories, read on first use and kept in memory (shared across archives). Rows are
 * checked as they are first read: `skipped` counts the malformed rows found so far (all of a file's after `all()`).
 */
export class KlinesArchive implements KlineSource {
  private readonly files = new Map<string, { path: string; index: KlinesIndex } | null>();
  private readonly loaded = new Map<string, Candle[]>();
  /** Rows skipped as malformed, per file. */
  readonly skipped = new Map<string, number>();

  private readonly memo: KlinesMemo | undefined;
  private readonly paths = new Map<string, string | null>();

  /** `memoDir`: keep query results there across processes (KlinesMemo; backtests, whose queries repeat). */
  constructor(private readonly dirs: readonly string[], private readonly log?: Logger, opts: { readonly memoDir?: string } = {}) {
    this.memo = opts.memoDir === undefined ? undefined : new KlinesMemo(opts.memoDir, log);
  }

  /** Memo hits, misses and writes (all 0 without a memo directory). */
  get memoStats(): { readonly hits: number; readonly misses: number; readonly writes: number } {
    return this.memo?.stats ?? { hits: 0, misses: 0, writes: 0 };
  }

  /** Returns the file holding `tf` klines of `symbol`, or undefined. */
  fileFor(symbol: string, tf: Timeframe): string | undefined {
    for (const dir of this.dirs) {
      if (!existsSync(dir)) continue;
      const name = readdirSync(dir).sort().find((f) => klinesFileMatches(f, symbol, tf));
      if (name) return join(dir, name);
    }
    return undefined;
  }

  /** Returns every bar of `symbol` and `tf` in the archive, oldest first (empty when no file matches). */
  all(symbol: string, tf: Timeframe): Candle[] {
    const key = `${symbol} ${tf}`;
    let c = this.loaded.get(key);
    if (c === undefined) {
      const f = this.file(symbol, tf);
      c = f ? f.index.candles() : [];
      if (f) this.noteSkipped(f.path, f.index);
      this.loaded.set(key, c);
    }
    return c;
  }

  /**
   * Returns bars like Binance's klines endpoint: open time within [startTime, endTime], the first `limit` from
   * startTime (or the last `limit` when only endTime is given); bars not closed at `q.nowMs` are never returned.
   */
  async klines(symbol: string, tf: Timeframe, q: KlineQuery): Promise<{ candles: Candle[]; source: string }> {
    const ms = timeframeMs(tf);
    const limit = q.limit ?? 1000;
    const lo = q.startTime ?? -Infinity;
    const hi = Math.min(q.endTime ?? Infinity, q.nowMs - ms);
    // A subclass serving its own bars through all() (MemoryKlines) and an odd limit take the slice of every bar.
    if (this.all !== KlinesArchive.prototype.all || !(Number.isInteger(limit) && limit > 0)) {
      return { candles: sliceKlines(this.all(symbol, tf), tf, q), source: 'csv' };
    }
    // A memo key names the file's identity and the window; the file is not opened when the memo has the answer.
    const path = this.memo ? this.pathFor(symbol, tf) : undefined;
    const stamp = path ? fileStamp(path) : '';
    const key = path && stamp !== '' ? KlinesMemo.key(`${resolve(path)}\t${stamp}\t${symbol}\t${tf}\t${lo}\t${hi}\t${limit}\t${q.startTime !== undefined}`) : undefined;
    const hit = key === undefined ? undefined : this.memo!.get(key);
    if (hit) return { candles: hit, source: 'csv' };
    // The same bars, reading only the rows they come from: once the index has read every valid row opening at or
    // before hi, its keys strictly increase and bound the valid rows' open times, so [from, to) in rows holds exactly
    // the valid bars in [lo, hi]; the first (or last) `limit` valid ones are the slice above.
    const candles: Candle[] = [];
    const f = this.file(symbol, tf);
    if (f) {
      const { index } = f;
      // The file is inflated and indexed no further than that needs (hi + 1: the bound `to` below is taken at).
      index.reach(hi + 1);
      const from = lowerBoundKeys(index.keys, lo);
      const to = lowerBoundKeys(index.keys, hi + 1);
      if (q.startTime !== undefined) {
        for (let k = from; k < to && candles.length < limit; k++) {
          const c = index.row(k);
          if (c !== undefined) candles.push(c);
        }
      } else {
        for (let k = to - 1; k >= from && candles.length < limit; k--) {
          const c = index.row(k);
          if (c !== undefined) candles.push(c);
        }
        candles.reverse();
      }
      this.noteSkipped(f.path, index);
      // Only a clean read is kept: malformed rows are reported where the file is read, and a memo would hide them.
      if (key !== undefined && index.errorCount === 0) this.memo!.put(key, candles);
    }
    return { candles, source: 'csv' };
  }

  private file(symbol: string, tf: Timeframe): { path: string; index: KlinesIndex } | null {
    const key = `${symbol} ${tf}`;
    let f = this.files.get(key);
    if (f === undefined) {
      const path = this.pathFor(symbol, tf);
      f = path ? { path, index: cachedIndex(path) } : null;
      this.files.set(key, f);
    }
    return f;
  }

  // fileFor, once per series (it lists the directories).
  private pathFor(symbol: string, tf: Timeframe): string | undefined {
    const key = `${symbol} ${tf}`;
    let p = this.paths.get(key);
    if (p === undefined) {
      p = this.fileFor(symbol, tf) ?? null;
      this.paths.set(key, p);
    }
    return p ?? undefined;
  }

  // Counts and logs malformed rows when reading found new ones.
  private noteSkipped(path: string, index: KlinesIndex): void {
    const errors = index.errorCount;
    if (errors === (this.skipped.get(path) ?? 0)) return;
    this.skipped.set(path, errors);
    this.log?.warn({ file: path, skipped: errors, first: index.errors()[0] }, 'malformed kline rows skipped');
  }
}

function lowerBoundKeys(a: Float64Array, t: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Returns the index of the first candle opening at or after `t` in `a` (sorted by open time). */
export function lowerBound(a: readonly Candle[], t: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]!.openTime < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Returns the bars of `all` (oldest first) that Binance's klines endpoint would: open time within [startTime,
 * endTime], the first `limit` (default 1000) from startTime, or the last `limit` when only endTime is given; none
 * that is not closed at `q.nowMs`.
 */
export function sliceKlines(all: readonly Candle[], tf: Timeframe, q: KlineQuery): Candle[] {
  const limit = q.limit ?? 1000;
  const lo = q.startTime ?? -Infinity;
  const hi = Math.min(q.endTime ?? Infinity, q.nowMs - timeframeMs(tf));
  const from = lowerBound(all, lo);
  const to = lowerBound(all, hi + 1);
  return q.startTime !== undefined ? all.slice(from, Math.min(to, from + limit)) : all.slice(Math.max(from, to - limit), to);
}
