import type { Logger } from '../../log.ts';
import { ConfigError } from '../../types/errors.ts';
import {
  BINANCE_SPOT_DEFAULTS, lotsToQty, makeInstrument, ticksToPrice, type Instrument, type InstrumentSpec,
} from '../../types/instrument.ts';
import { BookSync, type BookSyncCounters, type SyncRules, type SyncState } from '../binance/book-sync.ts';
import { BinanceFrameDecoder, classifyFrame } from '../binance/frames.ts';
import { readHead } from '../sim/replay.ts';
import { frameStreamOf, readRecordingLines, RecordingFile, type RecordedLine, type RecordingStats } from './recording.ts';
import { TickerCheck, type TickerCheckCounts } from './ticker-check.ts';

/** Options of a book replay. */
export interface BookReplayOptions {
  /** Unified (`BTC/USDT`) or venue (`BTCUSDT`) symbol; inferred from the first stream frame when absent. */
  symbol?: string;
  /** Tick and lot sizes when the symbol is not one of `instruments`. */
  tickSize?: string;
  lotSize?: string;
  /** Known increments by unified symbol (a config's instrumentSpecsOf); default the bundled ones. */
  instruments?: Readonly<Record<string, InstrumentSpec>>;
  rules?: SyncRules | 'auto';
  log?: Logger;
}

/** The sync counters the replay reports at the top level of its result (all of them stay under `sync`). */
type TopCounters = 'frames' | 'applied' | 'malformed' | 'gaps' | 'resyncs' | 'crossed' | 'duplicates' | 'staleSnapshots' | 'snapshots' | 'snapshotRequests';

/** The figures of one replay. */
export interface BookReplayResult extends Pick<BookSyncCounters, TopCounters> {
  symbol: string;
  /** The files replayed, in the order replayed (by the receive time of their first line). */
  files: string[];
  lines: number;
  badLines: number;
  rules: SyncRules | null;
  state: SyncState;
  /** Depth quantities off the lot grid, rounded to it (see DepthGrid). */
  qtyRounded: number;
  bookTickerChecked: number;
  bookTickerMatched: number;
  bookTickerPriceMatched: number;
  lastUpdateId: number;
  finalTop: { bid: string; bidQty: string; ask: string; askQty: string } | null;
  elapsedMs: number;
  sync: BookSyncCounters;
  ticker: TickerCheckCounts;
}

/**
 * Returns the instrument for a symbol given as `BTC/USDT` or `BTCUSDT`, from `specs` (default the bundled ones; a
 * config's instrumentSpecsOf) or explicit sizes, which win over them.
 */
export function replayInstrument(symbol: string, tickSize?: string, lotSize?: string, specs: Readonly<Record<string, InstrumentSpec>> = BINANCE_SPOT_DEFAULTS): Instrument {
  const upper = symbol.toUpperCase();
  const known = Object.values(specs).find((s) => s.symbol === upper || s.symbol.replace('/', '') === upper);
  const unified = known?.symbol ?? (upper.includes('/') ? upper : splitVenueSymbol(upper));
  if (!known && (tickSize === undefined || lotSize === undefined)) {
    throw new Error(`symbol ${symbol} is not a bundled instrument nor under a config's instruments (known: ${Object.keys(specs).join(', ')}): give its tick and lot sizes`);
  }
  const spec: InstrumentSpec = {
    symbol: unified,
    venue: 'binance',
    tickSize: tickSize ?? known!.tickSize,
    lotSize: lotSize ?? known!.lotSize,
    minNotional: known?.minNotional ?? '0',
  };
  return makeInstrument(spec);
}

function splitVenueSymbol(s: string): string {
  for (const q of ['USDT', 'USDC', 'FDUSD', 'BUSD', 'BTC', 'ETH', 'BNB']) {
    if (s.endsWith(q) && s.length > q.length) return `${s.slice(0, -q.length)}/${q}`;
  }
  throw new Error(`cannot tell base and quote of symbol ${s}`);
}

/** Returns the venue symbol named by a recorded line's stream (`btcusdt@depth` → `BTCUSDT`) or `s` field. */
export function symbolOfLine(line: RecordedLine): string | undefined {
  const stream = frameStreamOf(line.text);
  if (stream) return stream.symbol;
  const m = /"s":"([A-Za-z0-9]+)"/.exec(line.text.slice(0, 200));
  return m ? m[1]!.toUpperCase() : undefined;
}

/** A file's first receive time and the symbol its first stream frame names (undefined: none in its head). */
interface FileHead {
  readonly file: string;
  readonly firstNs: bigint | undefined;
  readonly symbol: string | undefined;
}

async function fileHead(path: string): Promise<FileHead> {
  const file = new RecordingFile(path);
  try {
    const { lines, symbol } = await readHead(file, symbolOfLine);
    return { file: path, firstNs: lines[0]?.tsLocalNs, symbol };
  } finally {
    file.close();
  }
}

/**
 * Returns the files of the symbol replayed (`venueSymbol`, else the one symbol they hold) ordered by the receive time
 * of their first line, as the replay feed chains them. Throws when that symbol is not recorded, or when no symbol is
 * given and the files hold several.
 */
async function orderFiles(files: readonly string[], venueSymbol: string | undefined): Promise<string[]> {
  const heads = await Promise.all(files.map(fileHead));
  const found = [...new Set(heads.map((h) => h.symbol).filter((x) => x !== undefined))];
  if (venueSymbol !== undefined && found.length > 0 && !found.includes(venueSymbol)) {
    throw new ConfigError(`symbol ${venueSymbol} not in recording (found ${found.join(', ')})`);
  }
  if (venueSymbol === undefined && found.length > 1) {
    throw new ConfigError(`the files hold several symbols (${found.join(', ')}): choose one with --symbol`);
  }
  const want = venueSymbol ?? found[0];
  return heads
    .filter((h) => h.symbol === undefined || h.symbol === want)
    .sort((a, b) => (a.firstNs === undefined ? 1 : b.firstNs === undefined ? -1 : a.firstNs < b.firstNs ? -1 : a.firstNs > b.firstNs ? 1 : 0))
    .map((h) => h.file);
}

/**
 * Replays recorded Binance frames (one recording, possibly split over several files, given in any order) through the
 * real decoder and BookSync, checking the book against the recorded bookTicker stream. Snapshots come only from the
 * recording: a resync waits for the next recorded snapshot (a recording has no REST endpoint to ask).
 */
export async function replayBook(given: string[], opts: BookReplayOptions = {}): Promise<BookReplayResult> {
  const t0 = performance.now();
  const stats: RecordingStats = { badLines: 0 };
  let lines = 0;
  let inst: Instrument | undefined = opts.symbol ? replayInstrument(opts.symbol, opts.tickSize, opts.lotSize, opts.instruments) : undefined;
  const files = await orderFiles(given, inst?.venueSymbol);
  let decoder: BinanceFrameDecoder | undefined;
  let sync: BookSync | undefined;
  const check = new TickerCheck();

  const start = (i: Instrument): void => {
    decoder = new BinanceFrameDecoder(i);
    const book = (sync = new BookSync(i.venueSymbol, {
      rules: opts.rules ?? 'auto',
      ...(opts.log ? { log: opts.log } : {}),
      onApplied: (u) => {
        const b = book.book;
        check.onBook(u, b.bestBid() ?? -1, b.bestBidLots(), b.bestAsk() ?? -1, b.bestAskLots());
      },
    }));
  };
  if (inst) start(inst);

  const handle = (line: RecordedLine): void => {
    const s = sync!;
    const d = decoder!;
    const kind = classifyFrame(line.text);
    if (kind === 'depth') {
      const f = d.decodeDepthFrame(line.text);
      if (typeof f === 'string') s.onMalformed();
      else if (f.symbol === inst!.venueSymbol) s.onDepth(f);
      return;
    }
    if (kind !== 'snapshot' && kind !== 'bookTicker') return;
    const msg = d.decode(line);
    if (msg.type === 'md.snapshot') s.onSnapshot(msg);
    else if (msg.type === 'md.bookTicker') check.onTicker(msg);
    else if (msg.type === 'malformed' && kind === 'snapshot') s.counters.malformed++;
  };
  // Lines before the first one that names the symbol (a bare REST snapshot) wait until the symbol is known.
  const early: RecordedLine[] = [];
  for await (const line of readRecordingLines(files, stats)) {
    lines++;
    if (!sync) {
      const sym = symbolOfLine(line);
      if (!sym) {
        early.push(line);
        continue;
      }
      inst = replayInstrument(sym, opts.tickSize, opts.lotSize, opts.instruments);
      start(inst);
      for (const e of early.splice(0)) handle(e);
    }
    handle(line);
  }
  if (!sync || !inst || !decoder) throw new Error(`no Binance stream frame found in ${files.join(', ')}`);
  const c = sync.counters;
  const tc = check.finish();
  const top = sync.top();
  return {
    symbol: inst.symbol,
    files,
    lines,
    badLines: stats.badLines,
    rules: sync.syncRules ?? null,
    state: sync.state,
    frames: c.frames,
    applied: c.applied,
    malformed: c.malformed,
    gaps: c.gaps,
    resyncs: c.resyncs,
    crossed: c.crossed,
    duplicates: c.duplicates,
    staleSnapshots: c.staleSnapshots,
    snapshots: c.snapshots,
    snapshotRequests: c.snapshotRequests,
    qtyRounded: decoder.counters.qtyRounded,
    bookTickerChecked: tc.checked,
    bookTickerMatched: tc.matched,
    bookTickerPriceMatched: tc.priceMatched,
    lastUpdateId: sync.lastUpdateId,
    finalTop: top
      ? { bid: ticksToPrice(inst, top.bid), bidQty: lotsToQty(inst, top.bidLots), ask: ticksToPrice(inst, top.ask), askQty: lotsToQty(inst, top.askLots) }
      : null,
    elapsedMs: Math.round((performance.now() - t0) * 10) / 10,
    sync: { ...c },
    ticker: { ...tc },
  };
}
