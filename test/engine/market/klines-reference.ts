// The kline CSV reader and archive as they were before the scanning parser and the lazy index (split, regexps, Date
// per row, whole files parsed per archive), kept verbatim as the reference the new ones are checked against
// (test/engine/market/klines-fast.test.ts, test/actors/data-provider/klines-archive.test.ts) and timed against
// (bench/klines-load.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { klinesFileMatches, lowerBound } from '../../../actors/data-provider/klines-archive.ts';
import type { KlineQuery, KlineSource } from '../../../actors/data-provider/market-source.ts';
import { DATED_HEADER, KLINES_HEADER, type KlineRowError, type KlinesFile, type KlinesReadOptions } from '../../../engine/market/klines-csv.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { ParseError } from '../../../engine/types/errors.ts';
import { timeframeMs, type Timeframe } from '../../../engine/types/time.ts';

const NUM_RE = /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?(Z|\+00:00)?$/;

function num(field: string | undefined, name: string): number {
  if (field === undefined || !NUM_RE.test(field)) throw new Error(`${name} '${field ?? ''}' is not a number`);
  return Number(field);
}

function parseDate(s: string): number {
  const m = DATE_RE.exec(s);
  if (!m) throw new Error(`date '${s}' is not YYYY-MM-DD[ HH:MM[:SS]] in UTC`);
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  if (Number.isNaN(t) || new Date(t).getUTCDate() !== +m[3]!) throw new Error(`date '${s}' does not exist`);
  return t;
}

/** The former `parseKlinesCsv`, unchanged. */
export function referenceParseKlinesCsv(text: string, opts: KlinesReadOptions = {}): KlinesFile {
  const source = opts.source ?? 'klines csv';
  const lines = text.split('\n');
  const header = (lines[0] ?? '').replace(/\r$/, '').trim();
  let layout: KlinesFile['layout'];
  if (header === KLINES_HEADER) layout = 'open_time_ms';
  else if (header === DATED_HEADER) layout = 'dated';
  else throw new ParseError(`${source}: unknown header '${header}', expected '${KLINES_HEADER}' or '${DATED_HEADER}'`);

  const candles: Candle[] = [];
  const errors: KlineRowError[] = [];
  let prevOpen = -Infinity;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    try {
      const f = line.split(',');
      const want = layout === 'open_time_ms' ? 7 : 6;
      if (f.length !== want) throw new Error(`has ${f.length} fields, expected ${want}`);
      let openTime: number;
      let k: number;
      if (layout === 'open_time_ms') {
        openTime = num(f[0], 'open_time_ms');
        if (!Number.isSafeInteger(openTime)) throw new Error(`open_time_ms '${f[0]}' is not a whole number`);
        if (parseDate(f[1]!) !== openTime) throw new Error(`open_time_utc '${f[1]}' disagrees with open_time_ms ${f[0]}`);
        k = 2;
      } else {
        openTime = parseDate(f[0]!);
        k = 1;
      }
      const open = num(f[k], 'open');
      const high = num(f[k + 1], 'high');
      const low = num(f[k + 2], 'low');
      const close = num(f[k + 3], 'close');
      const volume = num(f[k + 4], 'volume');
      if (!(low <= Math.min(open, close) && high >= Math.max(open, close))) {
        throw new Error(`OHLC inconsistent (open ${open}, high ${high}, low ${low}, close ${close})`);
      }
      if (volume < 0) throw new Error(`volume ${volume} is negative`);
      if (openTime <= prevOpen) throw new Error(`open time ${new Date(openTime).toISOString()} is not after the previous row`);
      prevOpen = openTime;
      candles.push({ openTime, open, high, low, close, volume, closed: true });
    } catch (err) {
      const message = (err as Error).message;
      if (opts.strict) throw new ParseError(`${source} row ${i + 1}: ${message}`);
      errors.push({ row: i + 1, message });
    }
  }
  return { candles, errors, layout };
}

/** The former `loadKlinesCsv`, unchanged. */
export function referenceLoadKlinesCsv(path: string, opts: KlinesReadOptions = {}): KlinesFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
    if (path.endsWith('.gz')) buf = gunzipSync(buf);
  } catch (err) {
    throw new ParseError(`cannot read klines file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return referenceParseKlinesCsv(buf.toString('utf8'), { ...opts, source: opts.source ?? path });
}

/** The former KlinesArchive: each archive parses whole files with the reference reader and slices the candles. */
export class ReferenceKlinesArchive implements KlineSource {
  private readonly loaded = new Map<string, Candle[]>();

  constructor(private readonly dirs: readonly string[]) {}

  /** Returns every bar of `symbol` and `tf`, oldest first. */
  all(symbol: string, tf: Timeframe): Candle[] {
    const key = `${symbol} ${tf}`;
    let c = this.loaded.get(key);
    if (c === undefined) {
      c = [];
      for (const dir of this.dirs) {
        const name = readdirSync(dir).sort().find((f) => klinesFileMatches(f, symbol, tf));
        if (name) {
          c = referenceLoadKlinesCsv(join(dir, name)).candles;
          break;
        }
      }
      this.loaded.set(key, c);
    }
    return c;
  }

  /** The former `KlinesArchive.klines`, unchanged. */
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
