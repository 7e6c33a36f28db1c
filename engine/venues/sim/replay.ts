// Reads recordings of several symbols and merges them into one time-ordered stream of lines. Files of one symbol
// are chained in time order (0809 continues 0808; files that overlap in time are refused); symbols are merged by local receive time, ties to the symbol
// found first. Every lane always knows its next line, so `peekNs` is exact between calls; `nextSync` hands out a
// line without awaiting whenever the lane it comes from has its following line decoded already.
// After each line handed out, `skipped` says how many non-lines (not `<ts_ns> <json>`) its file held before it since
// the file's previous line, plus those after it when it is the file's last: every non-line is told once, with the line
// it precedes, so a replay can count those up to the last line it replayed whatever it read ahead (app/backtest-source.ts).
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
  /** The file's own count of non-lines (the merge's `stats` counts them too). */
  readonly stats: FileStats;
  /** Lines read while looking for the symbol, served before the rest of the file. */
  readonly head: RecordingLine[];
  /** Per head line, the file's non-lines read before it. */
  readonly headBad: number[];
  at: number;
  /** The file's non-lines told so far (with the lines they precede). */
  told: number;
}

interface Lane {
  readonly symbol: string;
  readonly sources: readonly Source[];
  idx: number;
  next: RecordingLine | undefined;
  /** Non-lines of its file before `next` since the file's previous line. */
  nextBad: number;
  /** Non-lines after the last line of a file the lane stepped past, not told yet: the line handed out's. */
  trailingBad: number;
}

/** A file's count of non-lines that adds each to the merge's total too. */
class FileStats implements RecordingStats {
  private n = 0;
  constructor(private readonly total: RecordingStats) {}
  get badLines(): number {
    return this.n;
  }
  set badLines(v: number) {
    this.total.badLines += v - this.n;
    this.n = v;
  }
}

/** A merged, time-ordered reader over recordings of one or more symbols. */
export class RecordingMerge {
  private lanes: Lane[] = [];
  private opened: RecordingFile[] = [];
  /** Lines that were not `<ts_ns> <json>` (counted by the reader), of all files as far as they have been read. */
  readonly stats: RecordingStats = { badLines: 0 };
  /**
   * Non-lines told with the line `next`/`nextSync` handed out last: those its file held between its previous line and
   * it, and when it is its file's last line, those after it too. Summed over every line of a recording, all its non-lines.
   */
  skipped = 0;
  /** Exchange time minus local receive time of the first frame that carries an event time (`E`), in ms. */
  offsetMs = 0;

  private constructor() {}

  /** Opens `files`, groups them by the symbol of their first stream frame and primes one line per symbol. */
  static async open(files: readonly string[], opts?: RecordingReadOptions): Promise<RecordingMerge> {
    if (files.length === 0) throw new ParseError('no recording files given');
    const m = new RecordingMerge();
    // Every file starts inflating now; their heads are then awaited in order, so the first bad file is the one named.
    const stats = files.map(() => new FileStats(m.stats));
    m.opened = files.map((f, i) => new RecordingFile(f, stats[i], opts));
    const sources: Source[] = [];
    try {
      for (const [i, f] of m.opened.entries()) sources.push(await openSource(f, stats[i]!));
    } catch (err) {
      await m.close();
      throw err;
    }
    const bySymbol = new Map<string, Source[]>();
    for (const s of sources) bySymbol.set(s.file.symbol, [...(bySymbol.get(s.file.symbol) ?? []), s]);
    let offsetFound = false;
    for (const [symbol, list] of bySymbol) {
      list.sort((a, b) => (a.head[0]!.before(b.head[0]!) ? -1 : b.head[0]!.before(a.head[0]!) ? 1 : 0));
      const lane: Lane = { symbol, sources: list, idx: 0, next: undefined, nextBad: 0, trailingBad: 0 };
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
    const bad = best.nextBad;
    if (!step(best)) return undefined;
    this.told(best, bad);
    return line;
  }

  /** Returns the next line across all symbols (earliest receive time first), or undefined at the end. */
  async next(): Promise<SymbolLine | undefined> {
    const best = this.best();
    if (!best) return undefined;
    const line = best.next!;
    const bad = best.nextBad;
    while (!step(best)) await best.sources[best.idx]!.file.fill();
    this.told(best, bad);
    return line;
  }

  /** Stops reading every file. */
  async close(): Promise<void> {
    for (const f of this.opened) f.close();
    this.opened = [];
    this.lanes = [];
  }

  /** Sets `skipped` for the line `lane` handed out, which had `bad` non-lines before it. */
  private told(lane: Lane, bad: number): void {
    this.skipped = bad + lane.trailingBad;
    lane.trailingBad = 0;
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

/** Reads `file` (counting its non-lines in `stats`) until its first combined-stream frame names its symbol. */
async function openSource(file: RecordingFile, stats: FileStats): Promise<Source> {
  const headBad: number[] = [];
  // Called once per head line, right after it is read: the non-lines counted by then are those before it.
  const { lines: head, symbol } = await readHead(file, (l) => {
    headBad.push(stats.badLines);
    return frameStreamOf(l.text)?.symbol;
  });
  if (!symbol || head.length === 0) throw new ParseError(`recording ${file.file} has no combined-stream frame to tell its symbol`);
  file.symbol = symbol;
  for (const l of head) l.symbol = symbol;
  return { file, stats, head, headBad, at: 0, told: 0 };
}

/**
 * Moves `lane.next` to the lane's following line (undefined at its end) and `lane.nextBad` to the non-lines before it;
 * false when a file must `fill` first. The non-lines after a file's last line go to `lane.trailingBad`.
 */
function step(lane: Lane): boolean {
  for (;;) {
    const src = lane.sources[lane.idx];
    if (!src) {
      lane.next = undefined;
      lane.nextBad = 0;
      return true;
    }
    if (src.at < src.head.length) {
      const k = src.at++;
      const l = src.head[k]!;
      // lane.next is still the previous file's last line here (a head is never empty).
      if (k === 0 && lane.idx > 0) assertFollows(lane.sources[lane.idx - 1]!, lane.next!, src, l);
      lane.next = l;
      lane.nextBad = src.headBad[k]! - src.told;
      src.told = src.headBad[k]!;
      return true;
    }
    const l = src.file.nextSync();
    if (l === null) return false;
    const bad = src.stats.badLines - src.told;
    src.told += bad;
    if (l !== undefined) {
      lane.next = l;
      lane.nextBad = bad;
      return true;
    }
    lane.trailingBad += bad;
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
