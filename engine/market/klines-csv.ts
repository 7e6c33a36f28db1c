// Loads the bundled kline CSVs (data/klines) into Candle arrays and writes candles back in the same layout.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Candle } from '../messages/market.ts';
import { ParseError } from '../types/errors.ts';

/** Header of the freqtrade-derived files (mintanam, moudux1); also what `formatKlinesCsv` writes. */
export const KLINES_HEADER = 'open_time_ms,open_time_utc,open,high,low,close,volume';
/** Header of the RocketAlerts files: naive-UTC date (or date-time), then OHLCV. */
export const DATED_HEADER = 'Date,Open,High,Low,Close,Volume';

/** One malformed row: its 1-based line number in the file (the header is line 1) and what was wrong. */
export interface KlineRowError {
  readonly row: number;
  readonly message: string;
}

/** The candles of a file, in file order, plus every skipped row. */
export interface KlinesFile {
  readonly candles: Candle[];
  readonly errors: KlineRowError[];
  readonly layout: 'open_time_ms' | 'dated';
}

/** Options of the CSV reader. */
export interface KlinesReadOptions {
  /** Throw a ParseError on the first malformed row instead of counting and skipping it. */
  readonly strict?: boolean;
  /** Name used in error messages (the file path when loading). */
  readonly source?: string;
}

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

/** Returns the candles of a kline CSV text in either bundled layout; malformed rows are counted and skipped. */
export function parseKlinesCsv(text: string, opts: KlinesReadOptions = {}): KlinesFile {
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

/** Returns the candles of a kline CSV file (gunzipped when it ends in `.gz`); see `parseKlinesCsv`. */
export function loadKlinesCsv(path: string, opts: KlinesReadOptions = {}): KlinesFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
    if (path.endsWith('.gz')) buf = gunzipSync(buf);
  } catch (err) {
    throw new ParseError(`cannot read klines file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseKlinesCsv(buf.toString('utf8'), { ...opts, source: opts.source ?? path });
}

/** Returns `x` the way the bundled files print floats (Python repr: `67784.0`, `26.98425`). */
export function formatCsvNumber(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`cannot write ${x} to a klines csv`);
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  const s = String(x);
  // JS writes 1e-7 where Python writes 1e-07; plain decimals keep readers of either convention happy.
  return s.includes('e') ? x.toFixed(12).replace(/0+$/, '') : s;
}

/** Returns candles as CSV text in the `open_time_ms,open_time_utc,open,high,low,close,volume` layout. */
export function formatKlinesCsv(candles: Iterable<Candle>): string {
  const out: string[] = [KLINES_HEADER];
  for (const c of candles) {
    const utc = new Date(c.openTime).toISOString().replace(/\.000Z$/, 'Z');
    out.push(`${c.openTime},${utc},${formatCsvNumber(c.open)},${formatCsvNumber(c.high)},${formatCsvNumber(c.low)},${formatCsvNumber(c.close)},${formatCsvNumber(c.volume)}`);
  }
  return out.join('\n') + '\n';
}
