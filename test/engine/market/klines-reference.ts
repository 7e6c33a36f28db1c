// The kline CSV reader and archive as they were before the scanning parser and the lazy index (split and the per-row
// rule book for every row, whole files parsed per archive), kept as the reference the new ones are checked against
// (test/engine/market/klines-fast.test.ts, test/actors/data-provider/klines-archive.test.ts) and timed against
// (bench/klines-load.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { klinesFileMatches, sliceKlines } from '../../../actors/data-provider/klines-archive.ts';
import type { KlineQuery, KlineSource } from '../../../actors/data-provider/market-source.ts';
import { DATED_HEADER, KLINES_HEADER, parseRow, type KlineRowError, type KlinesFile, type KlinesReadOptions } from '../../../engine/market/klines-csv.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { ParseError } from '../../../engine/types/errors.ts';
import type { Timeframe } from '../../../engine/types/time.ts';

/**
 * The former `parseKlinesCsv` loop (split, trim, one row at a time) over the rule book the engine still keeps for
 * every row its scanner does not accept (`parseRow`, the former per-row code): the scanner and the lazy index must
 * agree with it row for row, errors included.
 */
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
      const c = parseRow(line, layout, prevOpen);
      prevOpen = c.openTime;
      candles.push(c);
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

  /** The former `KlinesArchive.klines`: the query's slice of every bar. */
  async klines(symbol: string, tf: Timeframe, q: KlineQuery): Promise<{ candles: Candle[]; source: string }> {
    return { candles: sliceKlines(this.all(symbol, tf), tf, q), source: 'csv' };
  }
}
