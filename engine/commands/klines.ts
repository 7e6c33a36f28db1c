// `cobalt klines fetch` pages a venue's REST klines (./klines-pager.ts) into the kline CSV of a symbol and timeframe in
// a klines folder (data/klines by default), the file the kline archive, the simulator and `cobalt train` read.
//
// Which file: the first name in the folder, in sorted order, that klinesFileMatches the series (the one every reader
// picks), extended in place in its own layout; a `mexc_` file only takes MEXC bars and any other file only Binance
// bars (the bundled files are Binance data), and without such a file `<venue>_<BASE>_<QUOTE>-<tf>.csv.gz` is created,
// unless its name would sort before the file readers pick now: that would hide the history they read (a MEXC day
// in place of the bundled years), so the fetch is refused and names both files.
// What is there is kept; a fetched bar replaces the stored bar of its open time (the venue's answer wins, counted as
// `replaced`). Only closed bars are written: those the venue's clock (GET /api/v3/time) says have ended.
//
// Gaps: a bar the venue does not send is not made up. The summary line (stdout, JSON) lists `venueGaps`, the runs of
// missing bars inside the span asked for, [--from, --until) or up to where a fetch stopped (the venue has no bars
// there: an outage, a listing; one at an edge of the span is bounded by the edge), and `unfetchedGaps`, the missing
// bars outside it (between what was stored and the span, or older ones); each venue gap is also logged as a warning.
//
// The file is replaced atomically (a temporary file in the same folder, then rename), so a reader never sees half of
// it. A fetch that fails part-way writes what it got (the bars run without a hole from --from up to where it stopped),
// says where it stopped and exits 1; running it again from there goes on. Ctrl-C (SIGINT) or SIGTERM stops the paging
// the same way and exits with the signal's code (130, 143); a second Ctrl-C ends the process at once.
//
// Size: the merged series is written as one text in memory, which V8 caps (about 512 Mi characters, some 7 million
// rows); a fetch that could make the file hold more than MAX_FILE_BARS bars (46 days of 1s) is refused up front.
import type { Command } from 'commander';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { log } from '../log.ts';
import { mergeKlines, spanGaps, type KlinesGap } from '../market/klines-merge.ts';
import { formatDatedKlinesCsv, formatKlinesCsv, klinesFileMatches, loadKlinesCsv, scanDate, type KlinesFile } from '../market/klines-csv.ts';
import type { Candle } from '../messages/market.ts';
import { timeframeMs, type Timeframe } from '../types/time.ts';
import { BINANCE_REST_URL, MEXC_REST_URL } from '../venues/rest-urls.ts';
import { restOrigin } from '../venues/rest-gate.ts';
// The pager loads ccxt (~2 s of CPU): imported when a fetch runs, not when the CLI starts.
import type { FetchInterrupted as FetchInterruptedError, KlinesVenueName, pageKlines as PageKlines, RetryPolicy } from './klines-pager.ts';

const TIMEFRAMES: readonly Timeframe[] = ['1s', '1m', '1h', '1d'];
const VENUES: readonly KlinesVenueName[] = ['binance', 'mexc'];
const QUOTES = ['USDT', 'USDC', 'FDUSD', 'BUSD', 'TUSD', 'BTC', 'ETH', 'BNB', 'EUR'];
/** Binance's (and MEXC's) most bars per klines request. */
export const MAX_PAGE_LIMIT = 1000;
/** The most bars a fetch may leave in one file: its text (~75 characters a row) stays well under V8's string cap. */
export const MAX_FILE_BARS = 4_000_000;

/** Options of `cobalt klines fetch` as commander hands them over. */
export interface KlinesFetchOptions {
  readonly symbol: string;
  readonly timeframe: string;
  readonly from: string;
  readonly until: string;
  readonly venue?: string;
  readonly out?: string;
  readonly baseUrl?: string;
  /** Bars asked for per request (1..1000, default 1000); for tests. */
  readonly pageLimit?: number;
}

/** Where the command writes, and how it waits (tests move a simulated clock). */
export interface KlinesFetchIo {
  readonly out?: (line: string) => void;
  readonly err?: (line: string) => void;
  readonly retry?: Partial<RetryPolicy>;
  /** Where the progress line goes when it is a TTY (default stderr). */
  readonly progress?: { readonly isTTY?: boolean; write(s: string): unknown };
  /** Stops the fetch when aborted, its reason the signal's name (default: SIGINT and SIGTERM to this process). */
  readonly stop?: AbortSignal;
}

/** A checked request. */
interface FetchPlan {
  readonly venue: KlinesVenueName;
  readonly symbol: string;
  readonly tf: Timeframe;
  readonly stepMs: number;
  readonly fromMs: number;
  /** Exclusive; undefined for `now` (the venue's clock). */
  readonly untilMs: number | undefined;
  readonly dir: string;
  readonly baseUrl: string;
  readonly pageLimit: number;
}

/** Returns the unified form (`ETH/USDT`) of `ETHUSDT`, `ethusdt` or `ETH/USDT`; throws naming a symbol it cannot split. */
export function unifiedSymbol(s: string): string {
  const upper = s.trim().toUpperCase();
  if (/^[A-Z0-9]+\/[A-Z0-9]+$/.test(upper)) return upper;
  if (/^[A-Z0-9]+$/.test(upper)) {
    for (const q of QUOTES) if (upper.endsWith(q) && upper.length > q.length) return `${upper.slice(0, -q.length)}/${q}`;
  }
  throw new Error(`--symbol '${s}' is not a spot symbol like ETHUSDT or ETH/USDT (quote one of ${QUOTES.join(', ')}, or write BASE/QUOTE)`);
}

/** Returns epoch ms of a --from/--until value: YYYY-MM-DD[THH:MM[:SS]][Z] in UTC, or epoch milliseconds (2001 on). */
export function parseWhen(s: string, flag: string): number {
  const t = s.trim();
  // `date +%s` prints seconds: read as ms they fall in January 1970, and the fetch would quietly start at listing.
  if (/^\d+$/.test(t) && Number(t) < 1e12) {
    throw new Error(`${flag} '${s}' looks like epoch seconds: give epoch milliseconds (13 digits, ${t}000) or a UTC date (YYYY-MM-DD)`);
  }
  const ms = /^\d+$/.test(t) ? Number(t) : scanDate(t, 0, t.length);
  if (!Number.isSafeInteger(ms)) throw new Error(`${flag} '${s}' is not a UTC date (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]) or epoch milliseconds`);
  return ms;
}

function plan(o: KlinesFetchOptions): FetchPlan {
  const venue = (o.venue ?? 'binance') as KlinesVenueName;
  if (!VENUES.includes(venue)) throw new Error(`--venue must be one of ${VENUES.join(', ')}, not '${o.venue}'`);
  if (!TIMEFRAMES.includes(o.timeframe as Timeframe)) throw new Error(`--timeframe must be one of ${TIMEFRAMES.join(', ')}, not '${o.timeframe}'`);
  const tf = o.timeframe as Timeframe;
  if (venue === 'mexc' && tf === '1s') throw new Error('--timeframe 1s: mexc has no 1s klines (use --venue binance)');
  const symbol = unifiedSymbol(o.symbol);
  const stepMs = timeframeMs(tf);
  const from = parseWhen(o.from, '--from');
  const untilMs = o.until.trim().toLowerCase() === 'now' ? undefined : parseWhen(o.until, '--until');
  if (untilMs !== undefined && untilMs <= from) throw new Error(`--until ${o.until} is not after --from ${o.from}`);
  const baseUrl = o.baseUrl ?? (venue === 'binance' ? BINANCE_REST_URL : MEXC_REST_URL);
  try {
    restOrigin(baseUrl);
  } catch (err) {
    throw new Error(`--base-url: ${(err as Error).message}`);
  }
  const pageLimit = o.pageLimit ?? MAX_PAGE_LIMIT;
  if (!Number.isInteger(pageLimit) || pageLimit < 1 || pageLimit > MAX_PAGE_LIMIT) throw new Error(`page limit ${pageLimit} must be a whole number from 1 to ${MAX_PAGE_LIMIT}`);
  // The first bar opening at or after --from.
  const fromMs = Math.ceil(from / stepMs) * stepMs;
  return { venue, symbol, tf, stepMs, fromMs, untilMs, dir: o.out ?? 'data/klines', baseUrl, pageLimit };
}

/** Returns the name of the file a fetch of `symbol` and `tf` from `venue` extends in `dir` (see the header), and whether it exists. */
export function seriesFile(dir: string, venue: KlinesVenueName, symbol: string, tf: Timeframe): { path: string; exists: boolean } {
  const names = existsSync(dir) ? readdirSync(dir).sort().filter((f) => klinesFileMatches(f, symbol, tf)) : [];
  const own = names.find((f) => (venue === 'mexc') === f.toLowerCase().startsWith('mexc_'));
  if (own) return { path: join(dir, own), exists: true };
  const [base, quote] = symbol.split('/');
  return { path: join(dir, `${venue}_${base}_${quote}-${tf}.csv.gz`), exists: false };
}

// The file every reader of `dir` picks for the series (the first matching name).
function readersPick(dir: string, symbol: string, tf: Timeframe): string | undefined {
  const name = existsSync(dir) ? readdirSync(dir).sort().find((f) => klinesFileMatches(f, symbol, tf)) : undefined;
  return name === undefined ? undefined : join(dir, name);
}

// Throws when creating `path` would put it first for the readers, in place of the file they read now.
function refuseShadowing(p: FetchPlan, path: string): void {
  const pick = readersPick(p.dir, p.symbol, p.tf);
  if (pick === undefined || !(basename(path) < basename(pick))) return;
  throw new Error(`creating ${path} would hide ${pick} from every reader (they take the first matching name in sorted order); fetch into another folder with --out, or move ${pick} away first`);
}

// Throws when the file could end up holding more than MAX_FILE_BARS bars; names a --until that fits.
function refuseOversize(p: FetchPlan, untilMs: number, path: string, storedBars: number): void {
  const spanBars = Math.ceil((untilMs - p.fromMs) / p.stepMs);
  if (spanBars + storedBars <= MAX_FILE_BARS) return;
  const room = MAX_FILE_BARS - storedBars;
  const held = storedBars > 0 ? ` and ${path} holds ${storedBars.toLocaleString('en-US')}` : '';
  const split = room > 0
    ? `fetch up to --until ${iso(p.fromMs + room * p.stepMs)} here and the rest into another folder (--out)`
    : 'fetch into another folder (--out)';
  throw new Error(`[${iso(p.fromMs)}, ${iso(untilMs)}) is ${spanBars.toLocaleString('en-US')} ${p.tf} bars${held}: more than the ${MAX_FILE_BARS.toLocaleString('en-US')} one klines file is written with (as one text in memory); ${split}`);
}

// SIGINT and SIGTERM to this process, as an AbortSignal whose reason is the signal's name. Each handler runs once:
// a second Ctrl-C meets Node's default and ends the process.
function processStop(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onInt = (): void => ac.abort('SIGINT');
  const onTerm = (): void => ac.abort('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  return {
    signal: ac.signal,
    dispose: () => {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
    },
  };
}

// The stored series; a file with malformed rows is refused, since rewriting it would drop them without a word.
function storedSeries(path: string): KlinesFile {
  const file = loadKlinesCsv(path);
  if (file.errors.length > 0) {
    const e = file.errors[0]!;
    throw new Error(`${path} has ${file.errors.length} malformed rows (first: row ${e.row}: ${e.message}); fix or move the file, rewriting it would drop them`);
  }
  return file;
}

/** Writes `text` to `path` (gzipped when it ends in .gz) through a temporary file in the same folder and a rename. */
export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const bytes = path.endsWith('.gz') ? gzipSync(text, { level: 9 }) : Buffer.from(text);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
const gapJson = (g: KlinesGap) => ({ after: iso(g.afterMs), before: iso(g.beforeMs), missing: g.missing });

// A TTY progress line on `out`, as `cobalt backtest` keeps one; nothing at all when `out` is not a terminal.
function ttyLine(out: KlinesFetchIo['progress']): { show(text: string): void; done(): void } {
  if (!out?.isTTY) return { show: () => undefined, done: () => undefined };
  let shown = false;
  return {
    show: (text) => {
      out.write(`\r\x1b[K${text}`);
      shown = true;
    },
    done: () => {
      if (shown) out.write('\r\x1b[K');
    },
  };
}

/** Returns the exit code of `cobalt klines fetch`: 0 when the range was fetched and written; see the header. */
export async function klinesFetchCommand(o: KlinesFetchOptions, io: KlinesFetchIo = {}): Promise<number> {
  const out = io.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = io.err ?? ((l: string) => process.stderr.write(`${l}\n`));
  const pager = await import('./klines-pager.ts');
  const policy: RetryPolicy = {
    ...pager.DEFAULT_RETRY, ...io.retry,
    onRetry: (what, reason, waitMs) => log().warn({ what, reason, waitMs }, 'klines fetch: retrying'),
  };
  let p: FetchPlan;
  let target: { path: string; exists: boolean };
  let stored: KlinesFile | undefined;
  try {
    p = plan(o);
    target = seriesFile(p.dir, p.venue, p.symbol, p.tf);
    if (target.exists) stored = storedSeries(target.path);
    else refuseShadowing(p, target.path);
  } catch (e) {
    err(`klines fetch: ${(e as Error).message}`);
    return 1;
  }
  const stop = io.stop ? { signal: io.stop, dispose: () => undefined } : processStop();
  try {
    return await fetchAndWrite(pager, p, target, stored, policy, stop.signal, io, out, err);
  } finally {
    stop.dispose();
  }
}

async function fetchAndWrite(
  pager: typeof import('./klines-pager.ts'), p: FetchPlan, target: { path: string; exists: boolean }, stored: KlinesFile | undefined, policy: RetryPolicy, stop: AbortSignal,
  io: KlinesFetchIo, out: (l: string) => void, err: (l: string) => void,
): Promise<number> {
  const { openKlinesVenue, pageKlines, retrying, unlessStopped, FetchInterrupted } = pager;
  const venue = openKlinesVenue(p.venue, p.baseUrl, p.symbol, p.tf);
  let untilMs: number;
  try {
    await unlessStopped(retrying(venue.gate, `${p.venue} exchangeInfo`, () => venue.prepare(), policy), stop);
    const nowMs = await unlessStopped(retrying(venue.gate, `${p.venue} time`, () => venue.serverTimeMs(), policy), stop);
    // A bar opening before this has closed on the venue's clock.
    untilMs = Math.min(p.untilMs ?? Infinity, Math.floor(nowMs / p.stepMs) * p.stepMs);
    if (untilMs <= p.fromMs) throw new Error(`no ${p.tf} bar opening from ${iso(p.fromMs)} has closed yet (${p.venue} time ${iso(nowMs)}): nothing to fetch`);
    refuseOversize(p, untilMs, target.path, stored?.candles.length ?? 0);
  } catch (e) {
    err(`klines fetch: ${(e as Error).message}${e instanceof FetchInterrupted ? '; nothing written' : ''}`);
    return e instanceof FetchInterrupted ? e.exitCode : 1;
  }
  log().info({ venue: p.venue, symbol: p.symbol, timeframe: p.tf, from: iso(p.fromMs), until: iso(untilMs), file: target.path }, 'klines fetch: start');
  const line = ttyLine(io.progress ?? process.stderr);
  const span = untilMs - p.fromMs;
  const paged = await pageKlines(venue, { fromMs: p.fromMs, untilMs, stepMs: p.stepMs, pageLimit: p.pageLimit }, policy, (next, count) => {
    line.show(`klines ${p.symbol} ${p.tf}: ${Math.min(100, (100 * (next - p.fromMs)) / span).toFixed(0)}%, ${count.toLocaleString('en-US')} bars, up to ${iso(next)}`);
  }, stop);
  line.done();
  return finish(p, untilMs, target, stored, paged, FetchInterrupted, out, err);
}

function finish(
  p: FetchPlan, untilMs: number, target: { path: string; exists: boolean }, stored: KlinesFile | undefined,
  paged: Awaited<ReturnType<typeof PageKlines>>, FetchInterrupted: typeof FetchInterruptedError, out: (l: string) => void, err: (l: string) => void,
): number {
  const fetched = paged.candles;
  // A user's interrupt ends with the signal's code, as the shell expects; what was fetched is written first.
  const failed = paged.error instanceof FetchInterrupted ? paged.error.exitCode : 1;
  if (fetched.length === 0) {
    const why = paged.error ? paged.error.message : `${p.venue} has no ${p.symbol} ${p.tf} bars opening in [${iso(p.fromMs)}, ${iso(untilMs)})`;
    err(`klines fetch: ${why}; nothing written`);
    return failed;
  }
  let merged: ReturnType<typeof mergeKlines>;
  try {
    merged = mergeKlines(stored?.candles ?? [], fetched);
    mkdirSync(p.dir, { recursive: true });
    const text = stored?.layout === 'dated' ? formatDatedKlinesCsv(merged.candles) : formatKlinesCsv(merged.candles);
    writeAtomically(target.path, text);
  } catch (e) {
    err(`klines fetch: ${(e as Error).message}`);
    return failed;
  }
  // After a failure only [--from, the stop) was asked for: a hole past it is not the venue's.
  const spanEnd = paged.error ? fetched[fetched.length - 1]!.openTime + p.stepMs : untilMs;
  const summary = summarise(p, untilMs, spanEnd, target.path, fetched, merged, paged.requests);
  for (const g of summary.venueGaps.slice(0, 20)) log().warn({ symbol: p.symbol, timeframe: p.tf, ...g }, 'klines fetch: the venue has no bars here; left as a gap');
  log().info({ ...summary, venueGaps: summary.venueGaps.length, unfetchedGaps: summary.unfetchedGaps.length }, 'klines fetch: written');
  out(JSON.stringify(summary));
  if (paged.error) {
    const next = iso(fetched[fetched.length - 1]!.openTime + p.stepMs);
    err(`klines fetch: stopped before ${next} (${fetched.length} bars written to ${target.path}): ${paged.error.message}; run again with --from ${next} to go on`);
    return failed;
  }
  return 0;
}

function summarise(
  p: FetchPlan, untilMs: number, spanEnd: number, file: string, fetched: readonly Candle[], merged: ReturnType<typeof mergeKlines>, requests: number,
) {
  // A missing bar in the span asked for is the venue's: it was asked for and not sent.
  const gaps = spanGaps(merged.candles, p.stepMs, p.fromMs, spanEnd);
  const pick = readersPick(p.dir, p.symbol, p.tf);
  return {
    venue: p.venue, symbol: p.symbol, timeframe: p.tf, file, from: iso(p.fromMs), until: iso(untilMs),
    fetched: fetched.length, added: merged.added, replaced: merged.replaced, unchanged: merged.unchanged, bars: merged.candles.length,
    first: iso(merged.candles[0]!.openTime), last: iso(merged.candles[merged.candles.length - 1]!.openTime), requests,
    venueGaps: gaps.inSpan.map(gapJson), unfetchedGaps: gaps.outside.map(gapJson),
    // Readers take the first matching name: another file sorting first hides this one from them.
    ...(pick !== undefined && pick !== file ? { shadowedBy: pick } : {}),
  };
}

/** Registers `cobalt klines fetch`. */
export function register(program: Command): void {
  const klines = program.command('klines').description('kline history files (data/klines)');
  klines
    .command('fetch')
    .description('page a venue\'s REST klines into the symbol\'s kline CSV (merged with what is there, written atomically); prints a JSON summary with the gaps; exits 1 on bad options or a failed fetch, 130/143 on SIGINT/SIGTERM after writing what it got')
    .requiredOption('--symbol <symbol>', 'symbol, ETHUSDT or ETH/USDT')
    .requiredOption('--timeframe <tf>', 'bar length: 1s, 1m, 1h or 1d (no 1s on mexc)')
    .requiredOption('--from <date>', 'first bar: UTC date YYYY-MM-DD[THH:MM[:SS]] or epoch ms, 13 digits (inclusive)')
    .requiredOption('--until <date>', 'end (exclusive), same forms, or `now`; bars not closed on the venue\'s clock are left out')
    .option('--venue <venue>', 'binance or mexc', 'binance')
    .option('--out <dir>', 'klines folder', 'data/klines')
    .option('--base-url <url>', 'REST base URL (default the venue\'s own; the exchange simulator: http://127.0.0.1:<port>, its MEXC dialect under /mexc)')
    .action(async (opts: KlinesFetchOptions) => {
      // As record does: every failure was said in one line on stderr; exit 1 like fail() does.
      process.exitCode = await klinesFetchCommand(opts);
    });
}
