// The bundled kline CSVs (config.data.klinesDirs) as a kline source for replays: the same requests the REST
// failover answers live, served from files, and never a bar that has not closed on the replay clock.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../engine/log.ts';
import { loadKlinesCsv } from '../../engine/market/klines-csv.ts';
import type { Candle } from '../../engine/messages/market.ts';
import { timeframeMs, type Timeframe } from '../../engine/types/time.ts';
import type { KlineQuery, KlineSource } from './market-source.ts';

/** Returns true when `file` holds `tf` klines of `symbol` (`*_ETH_USDT-1m.csv.gz`, `*_ETHUSDT_1d.csv.gz`, …). */
export function klinesFileMatches(file: string, symbol: string, tf: Timeframe): boolean {
  const [base, quote] = symbol.split('/');
  if (!base || !quote) return false;
  return new RegExp(`(^|[_-])${base}_?${quote}[-_]${tf}\\.csv(\\.gz)?$`, 'i').test(file);
}

/** Kline CSV files of several directories, loaded on first use and kept in memory. */
export class KlinesArchive implements KlineSource {
  private readonly loaded = new Map<string, Candle[]>();
  /** Rows skipped as malformed, per file. */
  readonly skipped = new Map<string, number>();

  constructor(private readonly dirs: readonly string[], private readonly log?: Logger) {}

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
      const file = this.fileFor(symbol, tf);
      c = [];
      if (file) {
        const f = loadKlinesCsv(file);
        c = f.candles;
        if (f.errors.length > 0) {
          this.skipped.set(file, f.errors.length);
          this.log?.warn({ file, skipped: f.errors.length, first: f.errors[0] }, 'malformed kline rows skipped');
        }
      }
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
    const all = this.all(symbol, tf);
    const from = lowerBound(all, lo);
    const to = lowerBound(all, hi + 1);
    const picked = q.startTime !== undefined ? all.slice(from, Math.min(to, from + limit)) : all.slice(Math.max(from, to - limit), to);
    return { candles: picked, source: 'csv' };
  }
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
