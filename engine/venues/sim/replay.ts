// Reads recordings of several symbols and merges them into one time-ordered stream of lines. Files of one symbol
// are chained in time order (0809 continues 0808; files that overlap in time are refused); symbols are merged by local receive time, ties to the symbol
// found first. Every lane always knows its next line, so `peekNs` is exact between calls; `nextSync` hands out a
// line without awaiting whenever the lane it comes from has its following line decoded already.
import { frameStreamOf, RecordingFile, type RecordedLine, type RecordingLine, type RecordingReadOptions, type RecordingStats } from '../replay/recording.ts';
import { ParseError } from '../../types/errors.ts';
import type { TsMs } from '../../types/time.ts';

/** One recorded line with the venue symbol (upper case, e.g. `BTCUSDT`) it belongs to. */
export interface SymbolLine extends RecordedLine {
  readonly symbol: string;
  /** Receive time in ms, exactly `nsToMs(tsLocalNs)` (cheaper: no bigint). */
  readonly tsMs: TsMs;
}

interface Source {
  readonly file: RecordingFile;
  /** Lines read while looking for the symbol, served before the rest of the file. */
  readonly head: RecordingLine[];
  at: number;
}

interface Lane {
  readonly symbol: string;
  readonly sources: readonly Source[];
  idx: number;
  next: RecordingLine | undefined;
}

/** A merged, time-ordered reader over recordings of one or more symbols. */
export class RecordingMerge {
  private lanes: Lane[] = [];
  private opened: RecordingFile[] = [];
  /** Lines that were not `<ts_ns> <json>` (counted by the reader). */
  readonly stats: RecordingStats = { badLines: 0 };
  /** Exchange time minus local receive time of the first frame that carries an event time (`E`), in ms. */
  offsetMs = 0;

  private constructor() {}

  /** Opens `files`, groups them by the symbol of their first stream frame and primes one line per symbol. */
  static async open(files: readonly string[], opts?: RecordingReadOptions): Promise<RecordingMerge> {
    if (files.length === 0) throw new ParseError('no recording files given');
    const m = new RecordingMerge();
    // Every file starts inflating now; their heads are then awaited in order, so the first bad file is the one named.
    m.opened = files.map((f) => new RecordingFile(f, m.stats, opts));
    const sources: Source[] = [];
    try {
      for (const f of m.opened) sources.push(await openSource(f));
    } catch (err) {
      await m.close();
      throw err;
    }
    const bySymbol = new Map<string, Source[]>();
    for (const s of sources) bySymbol.set(s.file.symbol, [...(bySymbol.get(s.file.symbol) ?? []), s]);
    let offsetFound = false;
    for (const [symbol, list] of bySymbol) {
      list.sort((a, b) => (a.head[0]!.before(b.head[0]!) ? -1 : b.head[0]!.before(a.head[0]!) ? 1 : 0));
      const lane: Lane = { symbol, sources: list, idx: 0, next: undefined };
      step(lane); // a head is never empty: the first line comes synchronously
      m.lanes.push(lane);
      for (const s of list) {
        if (offsetFound) break;
        for (const l of s.head) {
          const e = /"E":(\d+)/.exec(l.text);
          if (e) {
            m.offsetMs = Math.round(Number(e[1]) - Number(l.tsLocalNs / 1_000_000n));
            offsetFound = true;
            break;
          }
        }
      }
    }
    return m;
  }

  /** The venue symbols found, in file order. */
  get symbols(): string[] {
    return this.lanes.map((l) => l.symbol);
  }

  /** Returns the receive time (ns) of the next line, or undefined at the end. */
  peekNs(): bigint | undefined {
    return this.best()?.next!.tsLocalNs;
  }

  /** Returns the receive time (ms, as `nsToMs(peekNs())`) of the next line, or undefined at the end. */
  peekMs(): TsMs | undefined {
    return this.best()?.next!.tsMs;
  }

  /**
   * Returns the next line when that needs no waiting, else undefined: at the end, or when its file must decode more
   * first; then call `next()`. Use as `merge.nextSync() ?? (await merge.next())`.
   */
  nextSync(): SymbolLine | undefined {
    const best = this.best();
    if (!best) return undefined;
    const line = best.next!;
    return step(best) ? line : undefined;
  }

  /** Returns the next line across all symbols (earliest receive time first), or undefined at the end. */
  async next(): Promise<SymbolLine | undefined> {
    const best = this.best();
    if (!best) return undefined;
    const line = best.next!;
    while (!step(best)) await best.sources[best.idx]!.file.fill();
    return line;
  }

  /** Stops reading every file. */
  async close(): Promise<void> {
    for (const f of this.opened) f.close();
    this.opened = [];
    this.lanes = [];
  }

  private best(): Lane | undefined {
    let best: Lane | undefined;
    for (const l of this.lanes) if (l.next && (!best || l.next.before(best.next!))) best = l;
    return best;
  }
}

/** How many lines a head scan reads at most before it gives up looking for the file's symbol. */
export const HEAD_SCAN_LINES = 10_000;

/** The first lines of a recording file: up to the first that names its symbol, or HEAD_SCAN_LINES of them. */
export interface RecordingHead {
  readonly lines: RecordingLine[];
  /** The symbol `symbolOf` read from the last of `lines`; undefined when none of them names one. */
  readonly symbol: string | undefined;
}

/**
 * Returns the head of `file`: lines read until `symbolOf` names a symbol or HEAD_SCAN_LINES are read. The file reads
 * on after them; a caller that wants no more closes it.
 */
export async function readHead(file: RecordingFile, symbolOf: (line: RecordedLine) => string | undefined): Promise<RecordingHead> {
  const lines: RecordingLine[] = [];
  let symbol: string | undefined;
  while (!symbol && lines.length < HEAD_SCAN_LINES) {
    const l = file.nextSync();
    if (l === undefined) break;
    if (l === null) {
      await file.fill();
      continue;
    }
    lines.push(l);
    symbol = symbolOf(l);
  }
  return { lines, symbol };
}

/** Reads `file` until its first combined-stream frame names its symbol. */
async function openSource(file: RecordingFile): Promise<Source> {
  const { lines: head, symbol } = await readHead(file, (l) => frameStreamOf(l.text)?.symbol);
  if (!symbol || head.length === 0) throw new ParseError(`recording ${file.file} has no combined-stream frame to tell its symbol`);
  file.symbol = symbol;
  for (const l of head) l.symbol = symbol;
  return { file, head, at: 0 };
}

/** Moves `lane.next` to the lane's following line (undefined at its end); false when a file must `fill` first. */
function step(lane: Lane): boolean {
  for (;;) {
    const src = lane.sources[lane.idx];
    if (!src) {
      lane.next = undefined;
      return true;
    }
    if (src.at < src.head.length) {
      const l = src.head[src.at++]!;
      // lane.next is still the previous file's last line here (a head is never empty).
      if (src.at === 1 && lane.idx > 0) assertFollows(lane.sources[lane.idx - 1]!, lane.next!, src, l);
      lane.next = l;
      return true;
    }
    const l = src.file.nextSync();
    if (l === null) return false;
    if (l !== undefined) {
      lane.next = l;
      return true;
    }
    src.file.close();
    lane.idx++;
  }
}

// Files of one symbol are replayed one after the other, each whole: one that begins before the previous one ends
// (trades recorded apart from the book, a second recorder) would put its lines behind the clock, so it is refused.
function assertFollows(prev: Source, last: RecordingLine, src: Source, first: RecordingLine): void {
  if (!first.before(last)) return;
  const at = (l: RecordingLine): string => `${new Date(l.tsMs).toISOString()} (${l.tsLocalNs} ns)`;
  throw new ParseError(`recording ${src.file.file} of ${src.file.symbol} begins at ${at(first)}, before ${prev.file.file} ends at ${at(last)}: `
    + 'the files of one symbol must follow each other in time (merge overlapping recordings into one time-ordered file)');
}
