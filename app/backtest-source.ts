// Where a backtest's lines come from: the recording's text through the merge, or its replay catalog (decoded once,
// cached; engine/venues/replay/catalog.ts). Both publish the same messages line by line; the loop in backtest.ts
// takes a line without an await whenever one is ready. Both say when a symbol falls silent after the current line, a
// hole the backtest cuts before its clock moves into it (engine/venues/replay/trade-ids.ts): the text by reading ahead
// (a RecordingLookahead holds its lines a few seconds), the catalog from what its build found the same way.
// At a silence both read ahead to the symbol's next depth diff, which says whether the depth lost updates across it
// (`depthBreaks`: a recorder stop, not a delivery stall).
// Both take a line's trade id and depth update ids only from a line that decodes: a trade that does not is missing
// from the candles, so the id jump it leaves is a real hole (its own id must not close it), and a depth diff that does
// not parse was never applied, so the book really lacks its updates. The catalog keeps no ids for such a line; the
// text decodes its trades and depth diffs here as the catalog's build did (test/app/backtest-malformed-at-hole.test.ts).
// Both say which symbols the recording holds, so that a config trading another one is refused (unrecordedSymbolRefusal).
// Both count the lines that are not `<ts> <json>` as they publish the line each precedes (RecordingMerge.skipped, kept
// per record by the catalog's build), so a run stopped early counts the same on both, whatever either read ahead.
import type { Config } from '../engine/config/schema.ts';
import type { Logger } from '../engine/log.ts';
import type { Instrument } from '../engine/types/instrument.ts';
import type { TsMs } from '../engine/types/time.ts';
import type { BinanceFramePublisher } from '../engine/venues/binance/binance-feed.ts';
import { ReplayCatalog, type CatalogCursor } from '../engine/venues/replay/catalog.ts';
import { BinanceFrameDecoder, classifyFrame } from '../engine/venues/binance/frames.ts';
import { depthChains, RecordingLookahead, recordedTradeId, type DepthIds, type Silence } from '../engine/venues/replay/trade-ids.ts';
import { RecordingMerge, type SymbolLine } from '../engine/venues/sim/replay.ts';
import { dataInstrumentsOf } from './system.ts';

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
  /** Trade id of the current line when it is a trade that decodes, else undefined (a malformed trade leaves its hole open). */
  tradeId(): number | undefined;
  /** Set when the current line's symbol has no line for longer than its silence bound after it (a hole); else undefined. */
  readonly silence: Silence | undefined;
  /** Venue symbols the recording holds (`BTCUSDT`): the catalog's lanes, or the stream names of the text files. */
  readonly symbols: readonly string[];
  /** Where the lines come from, for the summary: `catalog` (with `built` when it was made now) or `text`. */
  readonly kind: 'text' | 'catalog';
  readonly built: boolean;
  /**
   * Lines that were not `<ts_ns> <json>`, skipped, up to the line published last: those before it in its file since
   * the file's previous line count when it is published, and those after a file's last line with that last line
   * (RecordingMerge.skipped). A whole run counts them all; one stopped early, none past its end, whatever was read ahead.
   */
  readonly badLines: number;
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
  /**
   * At `silence` (after the current line): true when its symbol's depth lost updates across it, i.e. the symbol's next
   * depth diff does not continue the update-id chain of its last one published (`depthChains`), or there is none
   * after it; false when the symbol had no depth diff before. Only diffs that parse count (one that does not was not
   * applied). Reads ahead to that diff: call it at a silence only.
   */
  depthBreaks(silence: Silence): Promise<boolean>;
  close(): Promise<void>;
}

/** Returns whether the depth chain ending with `last` breaks before `next` (none: no depth after, so the book is lost). */
function breaksBetween(last: DepthIds | undefined, next: DepthIds | undefined): boolean {
  if (last === undefined) return false;
  return next === undefined || !depthChains(last.final, next);
}

/** Returns the non-negative integer after `key` in `text` (`"u":123` -> 123); undefined when absent. */
function intAfter(text: string, key: string): number | undefined {
  let i = text.indexOf(key);
  if (i < 0) return undefined;
  i += key.length;
  const start = i;
  let v = 0;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) v = v * 10 + c - 48;
  return i > start && Number.isSafeInteger(v) ? v : undefined;
}

/** Returns the update ids of a recorded depth diff's text; undefined when it lacks `U` or `u`. */
export function recordedDepthIds(text: string): DepthIds | undefined {
  const first = intAfter(text, '"U":');
  const final = intAfter(text, '"u":');
  if (first === undefined || final === undefined) return undefined;
  return { first, final, prevFinal: intAfter(text, '"pu":') ?? -1 };
}

/**
 * Returns the venue symbols recordings `files` hold, from the stream names at the head of each file (the rest of a
 * file is not read).
 */
export async function recordedSymbols(files: readonly string[]): Promise<readonly string[]> {
  const merge = await RecordingMerge.open(files);
  try {
    return merge.symbols;
  } finally {
    await merge.close();
  }
}

/**
 * Returns why `config` cannot run on its recordings (`data.replayFiles`, holding the venue symbols `recorded`): its
 * traded or reference symbol has no line there. One line naming the symbol and the files; undefined when both have
 * lines. `cobalt run` and `cobalt backtest` refuse then: the engine would run on without a price of that symbol (no
 * trade, an empty decision count) and say nothing.
 */
export function unrecordedSymbolRefusal(config: Pick<Config, 'symbols' | 'instruments' | 'data'>, recorded: readonly string[]): string | undefined {
  const missing = dataInstrumentsOf(config)
    .filter((i) => !recorded.includes(i.venueSymbol))
    .map((i) => `symbols.${i.symbol === config.symbols.primary ? 'primary' : 'reference'} ${i.symbol} (${i.venueSymbol})`);
  if (missing.length === 0) return undefined;
  return `${missing.join(' and ')} ${missing.length === 1 ? 'has' : 'have'} no line in data.replayFiles `
    + `(${config.data.replayFiles.join(', ')}), which hold ${[...recorded].sort().join(', ')}`;
}

/** Returns the text of `files` as a source. */
export async function textSource(files: readonly string[]): Promise<BacktestSource> {
  const merge = await RecordingMerge.open(files);
  const ahead = new RecordingLookahead<SymbolLine>();
  const push = (l: SymbolLine): void => ahead.push(l, l.tsMs, l.symbol, recordedTradeId(l.text));
  // The merge's lines are read, pushed and taken in one order: the k-th read is the k-th taken. Pairs (k, non-lines
  // before line k, `merge.skipped`) for the lines read with any, in order; `publish` counts them (rare: no cost per line).
  const badAt: number[] = [];
  let badHead = 0;
  let read = 0;
  let taken = 0;
  let badLines = 0;
  const fromMerge = (l: SymbolLine | undefined): SymbolLine | undefined => {
    if (l === undefined) return undefined;
    if (merge.skipped > 0) badAt.push(read, merge.skipped);
    read++;
    return l;
  };
  // Lines `depthBreaks` read past the look-ahead: they go into it before the merge's next ones, so the look-ahead
  // (and the silences it finds) is the same as without them.
  const extra: SymbolLine[] = [];
  let extraAt = 0;
  const readSync = (): SymbolLine | undefined => {
    if (extra.length === 0) return fromMerge(merge.nextSync());
    const l = extra[extraAt++];
    if (extraAt === extra.length) extra.length = extraAt = 0;
    return l;
  };
  // Per venue symbol, a decoder of its own (the publisher's counts what it publishes): it says whether a line decodes
  // before the line is published, as the catalog's build found out. Set by `bind`.
  let decoders = new Map<string, BinanceFrameDecoder>();
  /** Returns the update ids of `l` when it is a depth diff of its symbol that parses; undefined otherwise. */
  const depthIdsOf = (l: SymbolLine): DepthIds | undefined => {
    if (classifyFrame(l.text) !== 'depth') return undefined;
    const d = decoders.get(l.symbol);
    // A publisher's text parsed again is a copy (DepthParser keeps the last parse), so this costs little per diff.
    if (d === undefined || !d.depth.parse(l.text)) return undefined;
    const f = d.depth.frame;
    return f.symbol === d.inst.venueSymbol ? { first: f.firstUpdateId, final: f.finalUpdateId, prevFinal: f.prevFinalUpdateId } : undefined;
  };
  // Per venue symbol, the update ids of its last depth diff published that parsed.
  const lastDepth = new Map<string, DepthIds>();
  const nextDepth = async (symbol: string): Promise<DepthIds | undefined> => {
    const of = (l: SymbolLine): DepthIds | undefined => (l.symbol === symbol ? depthIdsOf(l) : undefined);
    for (let k = 0, l = ahead.peek(0); l !== undefined; l = ahead.peek(++k)) {
      const ids = of(l);
      if (ids) return ids;
    }
    for (let k = extraAt; k < extra.length; k++) {
      const ids = of(extra[k]!);
      if (ids) return ids;
    }
    for (;;) {
      const l = fromMerge(merge.nextSync() ?? (await merge.next()));
      if (l === undefined) return undefined;
      extra.push(l);
      const ids = of(l);
      if (ids) return ids;
    }
  };
  let line: SymbolLine | undefined;
  let pub: BinanceFramePublisher | undefined;
  const take = (): boolean => {
    line = ahead.take() ? ahead.item : undefined;
    if (line === undefined) return false;
    taken++;
    return true;
  };
  return {
    first: merge.peekMs(),
    last: undefined,
    symbols: merge.symbols,
    kind: 'text',
    built: false,
    get badLines() {
      return badLines;
    },
    get ts() {
      return line!.tsMs;
    },
    get symbol() {
      return line!.symbol;
    },
    get silence() {
      return ahead.silence;
    },
    tradeId: () => {
      if (ahead.tradeId === undefined) return undefined;
      // Decoded twice, here and by the publisher: the text is the slow path already (a catalog decodes once, at its build).
      const m = decoders.get(line!.symbol)?.decodeText(line!.text, line!.tsMs, 'trade');
      return m?.type === 'md.trade' ? m.tradeId : undefined;
    },
    ready: () => Promise.resolve(),
    bind: (p) => {
      pub = p;
      decoders = new Map(p.lanes.map((l) => [l.inst.venueSymbol, new BinanceFrameDecoder(l.inst, l.decoder.venue)]));
    },
    nextSync: () => {
      while (ahead.needsMore) {
        const l = readSync();
        if (l === undefined) return false; // its file must decode more first, or the end: next() tells which
        push(l);
      }
      return take();
    },
    next: async () => {
      while (ahead.needsMore) {
        const l = readSync() ?? fromMerge(await merge.next());
        if (l === undefined) ahead.end();
        else push(l);
      }
      return take();
    },
    publish: () => {
      // The line taken last is the (taken - 1)-th read; a line taken and not published has its non-lines dropped.
      if (badHead < badAt.length) {
        for (; badHead < badAt.length && badAt[badHead]! <= taken - 1; badHead += 2) if (badAt[badHead] === taken - 1) badLines += badAt[badHead + 1]!;
        if (badHead === badAt.length) badAt.length = badHead = 0;
      }
      pub!.publish(line!.text, line!.tsMs, line!.symbol);
      const ids = ahead.tradeId === undefined ? depthIdsOf(line!) : undefined;
      if (ids !== undefined) lastDepth.set(line!.symbol, ids);
    },
    depthBreaks: async (silence) => {
      const before = lastDepth.get(silence.symbol);
      if (before === undefined) return false;
      return breaksBetween(before, await nextDepth(silence.symbol));
    },
    close: () => merge.close(),
  };
}

/** Returns the replay catalog of `files` for `instruments` in `dir` (built and written first when missing) as a source. */
export async function catalogSource(files: readonly string[], instruments: readonly Instrument[], dir: string, logger: Logger, onLines?: (lines: number) => void,
  beforeBuild?: (symbols: readonly string[]) => void): Promise<BacktestSource> {
  const t0 = performance.now();
  const { catalog, built, path, rebuiltBecause } = await ReplayCatalog.open(files, instruments, dir, onLines, beforeBuild);
  if (built) {
    logger.info({ path, records: catalog.records, ms: Math.round(performance.now() - t0), ...(rebuiltBecause ? { rebuiltBecause } : {}) }, 'replay catalog built');
  }
  let cursor: CatalogCursor | undefined;
  const nextSync = (): boolean => cursor!.next();
  return {
    first: catalog.firstMs,
    last: catalog.lastMs,
    symbols: catalog.symbols,
    kind: 'catalog',
    built,
    get badLines() {
      return cursor?.badLines ?? 0;
    },
    get ts() {
      return cursor!.ts;
    },
    get symbol() {
      return cursor!.symbol;
    },
    get silence() {
      return cursor!.silence;
    },
    tradeId: () => cursor!.tradeId(),
    ready: () => catalog.loaded(),
    bind: (p) => void (cursor = catalog.cursor(p)),
    nextSync,
    next: () => Promise.resolve(false),
    publish: () => cursor!.publish(),
    depthBreaks: (silence) => {
      const last = cursor!.lastDepth(silence.symbol);
      return Promise.resolve(last !== undefined && breaksBetween(last, cursor!.nextDepth(silence.symbol)));
    },
    close: () => Promise.resolve(),
  };
}
