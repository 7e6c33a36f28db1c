// Kline query results kept on disk between processes, for backtests. A backtest's DataProvider asks the archive for
// the same dozen windows of history every time it replays one recording (they depend only on the recording's first
// timestamp), and in a fresh process answering them inflates and indexes half of each 1m file: tens of ms of every
// `cobalt backtest`. A memo answers one from a file of its bars.
//
// The caller keys an entry by everything the answer depends on (the kline file's path, size, mtime and inode, the
// symbol, timeframe and window), so a changed file or window is a miss, never a stale answer. An entry that does not
// read back whole is a miss. Writes go to a temp file renamed into place (test workers share the directory). The
// directory keeps the newest MAX_ENTRIES entries: a sweep over many recordings must not grow it without bound.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../engine/log.ts';
import type { Candle } from '../../engine/messages/market.ts';

const MAGIC = 'COBALTKM1';
/** Numbers per bar: openTime, open, high, low, close, volume. */
const PER_BAR = 6;
const HEAD = 16;
/** Entries kept; a backtest of one recording makes 12 (2 symbols × 3 timeframes × 2 windows). */
export const MAX_ENTRIES = 240;

/** Bars of earlier kline queries, read from and written to `dir`. */
export class KlinesMemo {
  /** Hits and misses since construction. */
  readonly stats = { hits: 0, misses: 0, writes: 0 };
  private warned = false;

  constructor(private readonly dir: string, private readonly log?: Logger) {}

  /** Returns the entry name for a description of everything an answer depends on. */
  static key(description: string): string {
    return createHash('sha256').update(`${MAGIC}\n${description}`).digest('hex').slice(0, 32);
  }

  /** Returns the bars stored under `key` (closed bars, oldest first), or undefined when there is no whole entry. */
  get(key: string): Candle[] | undefined {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.path(key));
    } catch {
      this.stats.misses++;
      return undefined;
    }
    const n = bytes.length >= HEAD && bytes.toString('latin1', 0, MAGIC.length) === MAGIC ? bytes.readUInt32LE(12) : -1;
    if (n < 0 || bytes.length !== HEAD + n * PER_BAR * 8) {
      this.stats.misses++;
      return undefined;
    }
    // A copy: a Float64Array needs an 8-aligned offset, which a small file's pooled Buffer may not have.
    const x = new Float64Array(Uint8Array.prototype.slice.call(bytes, HEAD).buffer);
    const out = new Array<Candle>(n);
    for (let i = 0, o = 0; i < n; i++, o += PER_BAR) {
      out[i] = { openTime: x[o]!, open: x[o + 1]!, high: x[o + 2]!, low: x[o + 3]!, close: x[o + 4]!, volume: x[o + 5]!, closed: true };
    }
    this.stats.hits++;
    return out;
  }

  /**
   * Stores `candles` under `key`. Only closed bars without a trade count can be stored (what the archive returns);
   * anything else is not stored. A failed write is logged once and otherwise ignored: the memo only saves time.
   */
  put(key: string, candles: readonly Candle[]): void {
    if (candles.some((c) => !c.closed || c.trades !== undefined)) return;
    const x = new Float64Array(candles.length * PER_BAR);
    candles.forEach((c, i) => x.set([c.openTime, c.open, c.high, c.low, c.close, c.volume], i * PER_BAR));
    const head = Buffer.alloc(HEAD);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32LE(candles.length, 12);
    const buf = Buffer.concat([head, new Uint8Array(x.buffer)]);
    try {
      mkdirSync(this.dir, { recursive: true });
      const path = this.path(key);
      const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      writeFileSync(tmp, buf);
      renameSync(tmp, path);
      this.stats.writes++;
      this.prune();
    } catch (err) {
      if (!this.warned) this.log?.warn({ dir: this.dir, err: (err as Error).message }, 'kline memo not written; history loads from the archive');
      this.warned = true;
    }
  }

  private path(key: string): string {
    return join(this.dir, `${key}.klm`);
  }

  // Removes the oldest entries past MAX_ENTRIES. Another process may prune at the same time: a file already gone is fine.
  private prune(): void {
    const names = readdirSync(this.dir).filter((f) => f.endsWith('.klm'));
    if (names.length <= MAX_ENTRIES) return;
    const aged = names.flatMap((f) => {
      try {
        return [{ f, t: statSync(join(this.dir, f)).mtimeMs }];
      } catch {
        return [];
      }
    });
    aged.sort((a, b) => a.t - b.t);
    for (const { f } of aged.slice(0, aged.length - MAX_ENTRIES)) {
      try {
        unlinkSync(join(this.dir, f));
      } catch {
        // removed by another process
      }
    }
  }
}
