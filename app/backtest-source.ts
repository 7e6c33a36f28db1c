// Where a backtest's lines come from: the recording's text through the merge, or its replay catalog (decoded once,
// cached; engine/venues/replay/catalog.ts). Both publish the same messages line by line; the loop in backtest.ts
// takes a line without an await whenever one is ready.
import type { Logger } from '../engine/log.ts';
import type { Instrument } from '../engine/types/instrument.ts';
import type { TsMs } from '../engine/types/time.ts';
import type { BinanceFramePublisher } from '../engine/venues/binance/binance-feed.ts';
import { ReplayCatalog, type CatalogCursor } from '../engine/venues/replay/catalog.ts';
import { recordedTradeId } from '../engine/venues/replay/trade-ids.ts';
import { RecordingMerge, type SymbolLine } from '../engine/venues/sim/replay.ts';

/** A backtest's lines in receive-time order. */
export interface BacktestSource {
  /** Receive time of the first line (undefined: no lines). */
  readonly first: TsMs | undefined;
  /** Receive time of the last line, when known ahead (a catalog). */
  readonly last: TsMs | undefined;
  /** Receive time of the current line. */
  readonly ts: TsMs;
  /** Venue symbol of the current line (`BTCUSDT`). */
  readonly symbol: string;
  /** Trade id of the current line when it is a trade, else undefined. */
  tradeId(): number | undefined;
  /** Where the lines come from, for the summary: `catalog` (with `built` when it was made now) or `text`. */
  readonly kind: 'text' | 'catalog';
  readonly built: boolean;
  /** Resolves once the lines can be read (a catalog loads its records in the background); rejects when they cannot. */
  ready(): Promise<void>;
  /** Sets the publisher lines go through (before the first `publish`). */
  bind(pub: BinanceFramePublisher): void;
  /** Moves to the next line when one is ready now: true; false means call `next`. */
  nextSync(): boolean;
  /** Moves to the next line; false at the end. */
  next(): Promise<boolean>;
  /** Publishes the current line. */
  publish(): void;
  close(): Promise<void>;
}

/** Returns the text of `files` as a source. */
export async function textSource(files: readonly string[]): Promise<BacktestSource> {
  const merge = await RecordingMerge.open(files);
  let line: SymbolLine | undefined;
  let pub: BinanceFramePublisher | undefined;
  return {
    first: merge.peekMs(),
    last: undefined,
    kind: 'text',
    built: false,
    get ts() {
      return line!.tsMs;
    },
    get symbol() {
      return line!.symbol;
    },
    tradeId: () => recordedTradeId(line!.text),
    ready: () => Promise.resolve(),
    bind: (p) => void (pub = p),
    nextSync: () => (line = merge.nextSync()) !== undefined,
    next: async () => (line = await merge.next()) !== undefined,
    publish: () => pub!.publish(line!.text, line!.tsMs, line!.symbol),
    close: () => merge.close(),
  };
}

/** Returns the replay catalog of `files` for `instruments` in `dir` (built and written first when missing) as a source. */
export async function catalogSource(files: readonly string[], instruments: readonly Instrument[], dir: string, logger: Logger, onLines?: (lines: number) => void): Promise<BacktestSource> {
  const t0 = performance.now();
  const { catalog, built, path, rebuiltBecause } = await ReplayCatalog.open(files, instruments, dir, onLines);
  if (built) {
    logger.info({ path, records: catalog.records, ms: Math.round(performance.now() - t0), ...(rebuiltBecause ? { rebuiltBecause } : {}) }, 'replay catalog built');
  }
  let cursor: CatalogCursor | undefined;
  return {
    first: catalog.firstMs,
    last: catalog.lastMs,
    kind: 'catalog',
    built,
    get ts() {
      return cursor!.ts;
    },
    get symbol() {
      return cursor!.symbol;
    },
    tradeId: () => cursor!.tradeId(),
    ready: () => catalog.loaded(),
    bind: (p) => void (cursor = catalog.cursor(p)),
    nextSync: () => cursor!.next(),
    next: () => Promise.resolve(false),
    publish: () => cursor!.publish(),
    close: () => Promise.resolve(),
  };
}
