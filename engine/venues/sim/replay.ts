// Reads recordings of several symbols and merges them into one time-ordered stream of lines. Files of one symbol
// are chained in time order (0809 continues 0808); symbols are merged by local receive time.
import { readRecordingLines, type RecordedLine, type RecordingStats } from '../replay/recording.ts';
import { ParseError } from '../../types/errors.ts';

/** One recorded line with the venue symbol (upper case, e.g. `BTCUSDT`) it belongs to. */
export interface SymbolLine extends RecordedLine {
  readonly symbol: string;
}

interface Source {
  readonly symbol: string;
  readonly firstNs: bigint;
  readonly head: RecordedLine[];
  readonly rest: AsyncIterator<RecordedLine>;
}

interface Lane {
  readonly symbol: string;
  readonly it: AsyncIterator<RecordedLine>;
  next: RecordedLine | undefined;
}

const STREAM_RE = /^\{"stream":"([a-z0-9]+)@/;

/** A merged, time-ordered reader over recordings of one or more symbols. */
export class RecordingMerge {
  private lanes: Lane[] = [];
  /** Lines that were not `<ts_ns> <json>` (counted by the reader). */
  readonly stats: RecordingStats = { badLines: 0 };
  /** Exchange time minus local receive time of the first frame that carries an event time (`E`), in ms. */
  offsetMs = 0;

  private constructor() {}

  /** Opens `files`, groups them by the symbol of their first stream frame and primes one line per symbol. */
  static async open(files: readonly string[]): Promise<RecordingMerge> {
    if (files.length === 0) throw new ParseError('no recording files given');
    const m = new RecordingMerge();
    const sources: Source[] = [];
    for (const file of files) sources.push(await m.openSource(file));
    const bySymbol = new Map<string, Source[]>();
    for (const s of sources) bySymbol.set(s.symbol, [...(bySymbol.get(s.symbol) ?? []), s]);
    let offsetFound = false;
    for (const [symbol, list] of bySymbol) {
      list.sort((a, b) => (a.firstNs < b.firstNs ? -1 : a.firstNs > b.firstNs ? 1 : 0));
      const lane: Lane = { symbol, it: chain(list), next: undefined };
      lane.next = await nextOf(lane.it);
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
    let best: bigint | undefined;
    for (const l of this.lanes) if (l.next && (best === undefined || l.next.tsLocalNs < best)) best = l.next.tsLocalNs;
    return best;
  }

  /** Returns the next line across all symbols (earliest receive time first), or undefined at the end. */
  async next(): Promise<SymbolLine | undefined> {
    let best: Lane | undefined;
    for (const l of this.lanes) if (l.next && (!best || l.next.tsLocalNs < best.next!.tsLocalNs)) best = l;
    if (!best) return undefined;
    const line = best.next!;
    best.next = await nextOf(best.it);
    return { symbol: best.symbol, tsLocalNs: line.tsLocalNs, text: line.text };
  }

  /** Stops reading every file. */
  async close(): Promise<void> {
    for (const l of this.lanes) await l.it.return?.();
    this.lanes = [];
  }

  private async openSource(file: string): Promise<Source> {
    const it = readRecordingLines([file], this.stats)[Symbol.asyncIterator]();
    const head: RecordedLine[] = [];
    let symbol: string | undefined;
    while (!symbol && head.length < 10_000) {
      const r = await it.next();
      if (r.done) break;
      head.push(r.value);
      symbol = STREAM_RE.exec(r.value.text)?.[1]?.toUpperCase();
    }
    if (!symbol || head.length === 0) {
      await it.return?.();
      throw new ParseError(`recording ${file} has no combined-stream frame to tell its symbol`);
    }
    return { symbol, firstNs: head[0]!.tsLocalNs, head, rest: it };
  }
}

async function* chainGen(list: readonly Source[]): AsyncGenerator<RecordedLine> {
  for (const s of list) {
    yield* s.head;
    for (;;) {
      const r = await s.rest.next();
      if (r.done) break;
      yield r.value;
    }
  }
}

function chain(list: readonly Source[]): AsyncIterator<RecordedLine> {
  return chainGen(list);
}

async function nextOf(it: AsyncIterator<RecordedLine>): Promise<RecordedLine | undefined> {
  const r = await it.next();
  return r.done ? undefined : r.value;
}
