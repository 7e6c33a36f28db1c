// A recording decoded once into a binary file, for backtests. Reading the text (inflate, line split, timestamp,
// JSON-ish byte parsing of every trade, bookTicker and depth diff) is most of a backtest's cost; a sweep of backtests
// over one recording paid it on every run. The catalog keeps the merged line order and, per line, what the frame
// publisher would publish: trades and bookTickers as their fields, depth diffs as parsed frames (ticks and lots), and
// anything else (snapshots, malformed or unrouted lines) as its text, which replays through the publisher as before.
// Replaying a catalog publishes the same messages with the same counters as publishing the text (a test compares
// every message of the bundled recording); depth goes out as `md.depthRaw` carrying the parsed frame. The header also
// holds the recording's silences (holes, ./trade-ids.ts), found at build by the look-ahead a text replay runs per line.
//
// Cached as <dir>/<key>.cat, where the key hashes the format version, the silence bounds, each file's path, size,
// mtime, ctime, inode and device, and the instruments' increments: a changed file or grid builds a new catalog. A file
// that does not read back whole is rebuilt; one whose records are damaged is deleted when a replay meets the damage
// (see `CatalogCursor.checked`). Writes go to a temp file renamed into place, so concurrent builders (test workers) never see half a file.
// Opening a cached catalog reads its header at once and its records (~22 MB for the bundled recording, ~20 ms) in the
// background: a backtest builds and starts its actors meanwhile and awaits `loaded()` before the first record.
// The header also says before which records the text had lines that are not `<ts> <json>` (RecordingMerge.skipped),
// so that a replay counts those up to the record it published last, as a replay of the text does.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { EngineMsg } from '../../messages/index.ts';
import type { BookTicker, Trade } from '../../messages/market.ts';
import { Bus } from '../../runtime/bus.ts';
import type { Instrument } from '../../types/instrument.ts';
import { ParseError } from '../../types/errors.ts';
import type { Lots, Ticks } from '../../types/price.ts';
import type { TsMs } from '../../types/time.ts';
import { BinanceFramePublisher, type FeedLane } from '../binance/binance-feed.ts';
import { DepthFrame, DepthParser, instrumentGrid } from '../binance/parse-depth.ts';
import { RecordingMerge } from '../sim/replay.ts';
import { RecordingLookahead, recordedTradeId, SILENCE_MS, TRADES_ONLY_SILENCE_MS, type DepthIds, type Silence } from './trade-ids.ts';

// 3: the silences (holes) of the recording are found once, at build, and kept in the header.
// 4: the header holds the receive times' bounds (minMs, maxMs); the key holds each file's ctime and device.
// 5: the header holds where the bad lines were (badLinesAt), so that a replay stopped early counts those it passed.
const VERSION = 5;
const MAGIC = 'COBALTCAT';
const TEXT = 0;
const TRADE = 1;
const TICKER = 2;
const DEPTH = 3;
// Numbers per record before a depth frame's levels: kind, symbol, ts, E, U, u, pu, T, qtyRounded, bids, asks.
const DEPTH_HEAD = 11;

interface Header {
  readonly version: number;
  readonly key: string;
  readonly symbols: string[];
  readonly strings: string[];
  readonly records: number;
  readonly lines: number;
  readonly badLines: number;
  /**
   * Pairs [record, n], in record order, for the records told non-lines (`RecordingMerge.skipped`): n before the
   * record in its file (and after it, when it is its file's last line). Only records with any: a few in a damaged file.
   */
  readonly badLinesAt: readonly (readonly [number, number])[];
  readonly numbers: number;
  /** Receive time of the last record (0 when there is none). */
  readonly lastMs: number;
  /** Bounds of the records' receive times (0 when there is none): lines of a file need not be in time order. */
  readonly minMs: number;
  readonly maxMs: number;
  /** Every record after which its symbol falls silent (a hole, ./trade-ids.ts), in record order. */
  readonly silences: readonly CatalogSilence[];
}

/** A silence found at build: the record after which it starts (index in record order), and what `RecordingLookahead` said. */
interface CatalogSilence {
  readonly record: number;
  readonly symbol: string;
  readonly fromMs: number;
  /** Absent (JSON has no undefined) when the symbol has no later line within the look-ahead. */
  readonly nextMs?: number;
  readonly boundMs: number;
}

/** How `ReplayCatalog.open` got the catalog. */
export interface CatalogOpen {
  readonly catalog: ReplayCatalog;
  /** True when it was built now (no valid cached file). */
  readonly built: boolean;
  readonly path: string;
  /** Why a cached file was not used, when one existed. */
  readonly rebuiltBecause?: string;
}

/** Returns the cache key of `files` decoded for `instruments`. */
export function catalogKey(files: readonly string[], instruments: readonly Instrument[]): string {
  // The silence bounds decide which silences the header holds: other bounds, another catalog.
  const h = createHash('sha256').update(`v${VERSION}\t${SILENCE_MS}\t${TRADES_ONLY_SILENCE_MS}\n`);
  for (const f of files) {
    const p = resolve(f);
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      throw new ParseError(`cannot read recording ${f}: ${(err as Error).message}`, { cause: err });
    }
    // The ctime too: a file rewritten in place with its size and mtime put back (cp -p, rsync -t) keeps the others,
    // and no user tool sets a ctime back.
    h.update(`${p}\t${st.size}\t${st.mtimeMs}\t${st.ctimeMs}\t${st.ino}\t${st.dev}\n`);
  }
  for (const i of instruments) h.update(`${i.venueSymbol}\t${JSON.stringify(instrumentGrid(i))}\n`);
  return h.digest('hex').slice(0, 24);
}

/** A recording decoded for replay; see the header. Open with `ReplayCatalog.open`. */
export class ReplayCatalog {
  private nums: Float64Array | undefined;
  private readonly body: Promise<void>;
  /** The cache file, once it has one (named by a cursor that finds it damaged). */
  private file: string | undefined;

  private constructor(private readonly head: Header, nums: Float64Array | Promise<Float64Array>, private readonly first: TsMs | undefined) {
    if (nums instanceof Float64Array) {
      this.nums = nums;
      this.body = Promise.resolve();
    } else {
      this.body = nums.then((x) => void (this.nums = x));
      // Whoever uses the records awaits loaded() and sees the error; a catalog dropped before that must not crash.
      this.body.catch(() => undefined);
    }
  }

  /** Resolves once the records are in memory (at once for a catalog just built); rejects when reading them failed. */
  loaded(): Promise<void> {
    return this.body;
  }

  /** The cache key it was built under (see `catalogKey`). */
  get key(): string {
    return this.head.key;
  }

  /** Records (one per recorded line). */
  get records(): number {
    return this.head.records;
  }

  /** Receive time (ms) of the first record; undefined when there is none. */
  get firstMs(): TsMs | undefined {
    return this.first;
  }

  /** Lines that were not `<ts_ns> <json>` (skipped by the reader, as in a text replay), in its whole files. */
  get badLines(): number {
    return this.head.badLines;
  }

  /** Venue symbols of the recording, in merge order. */
  get symbols(): readonly string[] {
    return this.head.symbols;
  }

  /**
   * Returns the catalog of `files` for `instruments` from `dir`, building and writing it first when missing or stale.
   * `beforeBuild` gets the recordings' venue symbols before a build reads them through, and may throw to refuse (a
   * config trading a symbol they do not hold: refused before seconds of decoding, not after).
   */
  static async open(files: readonly string[], instruments: readonly Instrument[], dir: string, onLines?: (lines: number) => void,
    beforeBuild?: (symbols: readonly string[]) => void): Promise<CatalogOpen> {
    const key = catalogKey(files, instruments);
    const path = join(dir, `${key}.cat`);
    // The last catalog opened stays in memory: sweeps and test runs backtest one recording many times per process.
    // Its key changes with the recordings, and the cache file must be the one it was read from (size, mtime).
    if (lastOpened?.path === path && lastOpened.catalog.key === key && lastOpened.stamp === fileStamp(path)) {
      return { catalog: lastOpened.catalog, built: false, path };
    }
    // Not built yet (undefined) is the usual case; any other reason is said where the rebuild is logged.
    const peeked = peek(path, key);
    if (typeof peeked === 'object') {
      const catalog = new ReplayCatalog(peeked.head, readNumbers(path, peeked.start, peeked.head.numbers), peeked.first);
      catalog.file = path;
      const stamp = fileStamp(path);
      catalog.loaded().then(() => void (lastOpened = { path, catalog, stamp }), () => undefined);
      return { catalog, built: false, path };
    }
    const rebuiltBecause = peeked;
    const catalog = await ReplayCatalog.build(files, instruments, key, onLines, beforeBuild);
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, catalog.encode());
    renameSync(tmp, path);
    catalog.file = path;
    lastOpened = { path, catalog, stamp: fileStamp(path) };
    return { catalog, built: true, path, ...(rebuiltBecause ? { rebuiltBecause } : {}) };
  }

  /** Decodes `files` into a catalog (in memory) with the frame publisher's own routing and decoders. */
  static async build(files: readonly string[], instruments: readonly Instrument[], key = catalogKey(files, instruments), onLines?: (lines: number) => void,
    beforeBuild?: (symbols: readonly string[]) => void): Promise<ReplayCatalog> {
    const merge = await RecordingMerge.open(files);
    try {
      beforeBuild?.(merge.symbols);
    } catch (err) {
      await merge.close();
      throw err;
    }
    const captured: EngineMsg[] = [];
    const bus = { publish: (m: EngineMsg) => void captured.push(m) } as unknown as Bus<EngineMsg>;
    const pub = new BinanceFramePublisher({ bus, venue: 'binance', instruments, depth: 'raw' });
    const parsers = new Map(instruments.map((i) => [i.venueSymbol, new DepthParser(instrumentGrid(i))]));
    const symbols: string[] = [];
    const symIndex = new Map<string, number>();
    const strings: string[] = [];
    let out = new Float64Array(1 << 20);
    let n = 0;
    let records = 0;
    let lastMs = 0;
    let minMs = Infinity;
    let maxMs = -Infinity;
    // The look-ahead a text replay runs per line, run here once: a catalog replay only reads what it found.
    const ahead = new RecordingLookahead<number>();
    const silences: CatalogSilence[] = [];
    const badLinesAt: [number, number][] = [];
    const takeReady = (): void => {
      while (!ahead.needsMore && ahead.take()) {
        const q = ahead.silence;
        if (q) silences.push({ record: ahead.item!, symbol: q.symbol, fromMs: q.fromMs, ...(q.nextMs === undefined ? {} : { nextMs: q.nextMs }), boundMs: q.boundMs });
      }
    };
    const room = (k: number): void => {
      if (n + k <= out.length) return;
      const bigger = new Float64Array(Math.max(out.length * 2, n + k));
      bigger.set(out.subarray(0, n));
      out = bigger;
    };
    try {
      for (;;) {
        const line = merge.nextSync() ?? (await merge.next());
        if (line === undefined) break;
        if (merge.skipped > 0) badLinesAt.push([records, merge.skipped]);
        ahead.push(records, line.tsMs, line.symbol, recordedTradeId(line.text));
        takeReady();
        if ((++records & 0xffff) === 0) onLines?.(records);
        lastMs = line.tsMs;
        if (lastMs < minMs) minMs = lastMs;
        if (lastMs > maxMs) maxMs = lastMs;
        let sym = symIndex.get(line.symbol);
        if (sym === undefined) {
          sym = symbols.length;
          symbols.push(line.symbol);
          symIndex.set(line.symbol, sym);
        }
        captured.length = 0;
        pub.publish(line.text, line.tsMs, line.symbol);
        // Routed by the merge's symbol, as a backtest publishes it: a decoded record's lane is that symbol's.
        const lane = pub.lastLane;
        const m = captured.length === 1 ? captured[0]! : undefined;
        if (m?.type === 'md.trade' && m.tsLocal === line.tsMs) {
          room(8);
          out[n++] = TRADE; out[n++] = sym; out[n++] = line.tsMs;
          out[n++] = m.tsExchange; out[n++] = m.tradeId; out[n++] = m.price; out[n++] = m.lots; out[n++] = m.buyerMaker ? 1 : 0;
          continue;
        }
        if (m?.type === 'md.bookTicker' && m.tsLocal === line.tsMs) {
          room(9);
          out[n++] = TICKER; out[n++] = sym; out[n++] = line.tsMs;
          out[n++] = m.tsExchange; out[n++] = m.updateId; out[n++] = m.bid; out[n++] = m.bidLots; out[n++] = m.ask; out[n++] = m.askLots;
          continue;
        }
        if (m?.type === 'md.depthRaw' && lane && m.tsLocal === line.tsMs) {
          const p = parsers.get(lane.inst.venueSymbol)!;
          if (p.parse(line.text) && p.frame.symbol === lane.inst.venueSymbol) {
            const f = p.frame;
            room(DEPTH_HEAD + 2 * (f.bidCount + f.askCount));
            out[n++] = DEPTH; out[n++] = sym; out[n++] = line.tsMs;
            out[n++] = f.eventTime; out[n++] = f.firstUpdateId; out[n++] = f.finalUpdateId; out[n++] = f.prevFinalUpdateId; out[n++] = f.txTime;
            out[n++] = f.qtyRounded; out[n++] = f.bidCount; out[n++] = f.askCount;
            for (let i = 0; i < 2 * f.bidCount; i++) out[n++] = f.bids[i]!;
            for (let i = 0; i < 2 * f.askCount; i++) out[n++] = f.asks[i]!;
            continue;
          }
        }
        room(4);
        out[n++] = TEXT; out[n++] = sym; out[n++] = line.tsMs; out[n++] = strings.length;
        strings.push(line.text);
      }
      ahead.end();
      takeReady();
    } finally {
      await merge.close();
    }
    const head: Header = { version: VERSION, key, symbols, strings, records, lines: records, badLines: merge.stats.badLines, badLinesAt, numbers: n, lastMs,
      minMs: records > 0 ? minMs : 0, maxMs: records > 0 ? maxMs : 0, silences };
    return new ReplayCatalog(head, out.slice(0, n), n > 0 ? (out[2] as TsMs) : undefined);
  }

  /** Returns the catalog as file bytes: magic, header length, JSON header, padding to 8, then the numbers. */
  encode(): Buffer {
    const nums = this.loadedNumbers();
    const json = Buffer.from(JSON.stringify(this.head));
    const start = align8(MAGIC.length + 4 + json.length);
    const buf = Buffer.alloc(start + nums.byteLength);
    buf.write(MAGIC, 0, 'latin1');
    buf.writeUInt32LE(json.length, MAGIC.length);
    json.copy(buf, MAGIC.length + 4);
    Buffer.from(nums.buffer, nums.byteOffset, nums.byteLength).copy(buf, start);
    return buf;
  }

  /** Receive time (ms) of the last record; undefined when there is none. */
  get lastMs(): TsMs | undefined {
    return this.head.records > 0 ? (this.head.lastMs as TsMs) : undefined;
  }

  /** Returns a cursor publishing the records through `pub` (which must have a lane for every decoded record's symbol). */
  cursor(pub: BinanceFramePublisher): CatalogCursor {
    return new CatalogCursor(this.head, this.loadedNumbers(), pub, this.file);
  }

  private loadedNumbers(): Float64Array {
    if (this.nums === undefined) throw new TypeError('replay catalog: its records are still loading (await loaded() first)');
    return this.nums;
  }
}

/** What the start of a cached catalog file says: its header, where the numbers start and the first receive time. */
interface Peeked {
  readonly head: Header;
  readonly start: number;
  readonly first: TsMs | undefined;
}

// Reads a catalog file's header and first receive time; returns why the file is not a whole catalog of `key`, or
// undefined when there is no file. The size is checked against the header, so a cut file is caught before any read.
function peek(path: string, key: string): Peeked | string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : `unreadable: ${(err as Error).message}`;
  }
  try {
    const size = fstatSync(fd).size;
    const at = (n: number, pos: number): Buffer => {
      const b = Buffer.alloc(n);
      if (readSync(fd, b, 0, n, pos) !== n) throw new RangeError(`short read at ${pos}`);
      return b;
    };
    const pre = MAGIC.length + 4;
    if (size < pre) return 'not a catalog file';
    const lead = at(pre, 0);
    if (lead.toString('latin1', 0, MAGIC.length) !== MAGIC) return 'not a catalog file';
    const len = lead.readUInt32LE(MAGIC.length);
    let head: Header;
    try {
      if (pre + len > size) throw new RangeError('header past the end');
      head = JSON.parse(at(len, pre).toString('utf8')) as Header;
    } catch {
      return 'unreadable header';
    }
    if (head.version !== VERSION || head.key !== key) return `version or key differs (${head.version}, ${head.key})`;
    const start = align8(pre + len);
    if (size !== start + head.numbers * 8) return `truncated: ${size} bytes, expected ${start + head.numbers * 8}`;
    // Every record starts kind, symbol, receive time.
    const first = head.numbers >= 3 ? (at(8, start + 16).readDoubleLE(0) as TsMs) : undefined;
    return { head, start, first };
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  } finally {
    closeSync(fd);
  }
}

// Reads the numbers of a catalog file straight into their array, off the main thread (one read per call, in libuv's pool).
async function readNumbers(path: string, start: number, numbers: number): Promise<Float64Array> {
  const nums = new Float64Array(numbers);
  const bytes = new Uint8Array(nums.buffer);
  const fh = await openFile(path, 'r');
  try {
    let off = 0;
    while (off < bytes.length) {
      const { bytesRead } = await fh.read(bytes, off, bytes.length - off, start + off);
      if (bytesRead === 0) throw new ParseError(`replay catalog ${path} ends at byte ${start + off}, expected ${start + bytes.length}: delete it to rebuild`);
      off += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return nums;
}

let lastOpened: { readonly path: string; readonly catalog: ReplayCatalog; readonly stamp: string } | undefined;

function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.size} ${st.mtimeMs} ${st.ino}`;
  } catch {
    return '';
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Walks a catalog: `next()` moves to the next record (false at the end), `ts` is its receive time, `publish()`
 * publishes it as the frame publisher would have published its line.
 */
export class CatalogCursor {
  /** Receive time (ms) of the current record. */
  ts = 0;
  /** Set when the current record's symbol falls silent after it (a hole in the recording); else undefined. */
  silence: Silence | undefined;
  /**
   * Lines of the text that were not `<ts> <json>`, up to the record published last (`Header.badLinesAt`): after the
   * last record, all of them.
   */
  badLines = 0;
  /** Offsets of the current record and of the one after it. */
  private at = -1;
  private end = 0;
  /** Index of the current record, and of the next silence in `head.silences` and pair in `head.badLinesAt`. */
  private record = -1;
  private nextSilence = 0;
  private nextBad = 0;
  /** Non-lines told with the current record, counted when it is published. */
  private bad = 0;
  private readonly lanes: (FeedLane | undefined)[];
  /** Per symbol index: the record offset of its last depth diff published (-1: none). */
  private readonly lastDepthAt: Float64Array;

  /** @internal use ReplayCatalog.cursor */
  constructor(private readonly head: Header, private readonly nums: Float64Array, private readonly pub: BinanceFramePublisher,
    private readonly file?: string) {
    this.lanes = head.symbols.map((s) => pub.lane(s));
    this.lastDepthAt = new Float64Array(head.symbols.length).fill(-1);
  }

  /** The update ids of the last depth diff of venue symbol `symbol` published through this cursor; undefined when none. */
  lastDepth(symbol: string): DepthIds | undefined {
    const at = this.lastDepthAt[this.head.symbols.indexOf(symbol)] ?? -1;
    return at < 0 ? undefined : this.depthIds(at);
  }

  /**
   * The update ids of the next depth diff of venue symbol `symbol` after the current record; undefined when none. A
   * look-ahead that walks the records up to it: for a silence (rare), not per record.
   */
  nextDepth(symbol: string): DepthIds | undefined {
    const sym = this.head.symbols.indexOf(symbol);
    if (sym < 0 || this.at < 0) return undefined;
    const x = this.nums;
    for (let p = this.end, k = this.record + 1; p < x.length; k++) {
      const end = this.checked(p, k);
      if (x[p] === DEPTH && x[p + 1] === sym) return this.depthIds(p);
      p = end;
    }
    return undefined;
  }

  /** Moves to the next record; false when there is none. Throws a ParseError when the catalog is damaged there. */
  next(): boolean {
    const p = this.end;
    if (p >= this.nums.length) {
      this.silence = undefined;
      if (this.record + 1 !== this.head.records) throw this.damaged(this.record + 1, `the records end there, the header says ${this.head.records}`);
      return false;
    }
    const k = ++this.record;
    this.end = this.checked(p, k);
    this.at = p;
    this.ts = this.nums[p + 2]!;
    const q = this.head.silences[this.nextSilence];
    if (q?.record === k) {
      this.nextSilence++;
      this.silence = { symbol: q.symbol, fromMs: q.fromMs, nextMs: q.nextMs, boundMs: q.boundMs };
    } else {
      this.silence = undefined;
    }
    const b = this.head.badLinesAt[this.nextBad];
    if (b?.[0] === k) {
      this.nextBad++;
      this.bad = b[1];
    } else {
      this.bad = 0;
    }
    return true;
  }

  /** The venue symbol of the current record. */
  get symbol(): string {
    return this.head.symbols[this.nums[this.at + 1]!]!;
  }

  /** The trade id of the current record when it is a trade (a backtest watches them for holes), else undefined. */
  tradeId(): number | undefined {
    return this.nums[this.at] === TRADE ? this.nums[this.at + 4]! : undefined;
  }

  /** Publishes the current record. */
  publish(): void {
    this.badLines += this.bad;
    this.bad = 0;
    const x = this.nums;
    const p = this.at;
    const kind = x[p]!;
    const symbol = this.head.symbols[x[p + 1]!]!;
    if (kind === TEXT) {
      this.pub.publish(this.head.strings[x[p + 3]!]!, this.ts as TsMs, symbol);
      return;
    }
    const lane = this.lanes[x[p + 1]!];
    if (!lane) throw new TypeError(`replay catalog: the publisher has no lane for ${symbol}`);
    const ts = this.ts as TsMs;
    if (kind === TRADE) {
      if (!this.pub.admit(lane, 'trade')) return;
      const m: Trade = {
        type: 'md.trade', venue: lane.decoder.venue, symbol: lane.inst.symbol, tsLocal: ts,
        tsExchange: x[p + 3]!, tradeId: x[p + 4]!, price: x[p + 5]! as Ticks, lots: x[p + 6]! as Lots, buyerMaker: x[p + 7] === 1,
      };
      this.pub.emitDecoded(lane, 'trade', m);
    } else if (kind === TICKER) {
      if (!this.pub.admit(lane, 'bookTicker')) return;
      const m: BookTicker = {
        type: 'md.bookTicker', venue: lane.decoder.venue, symbol: lane.inst.symbol, tsLocal: ts,
        tsExchange: x[p + 3]!, updateId: x[p + 4]!, bid: x[p + 5]! as Ticks, bidLots: x[p + 6]! as Lots, ask: x[p + 7]! as Ticks, askLots: x[p + 8]! as Lots,
      };
      this.pub.emitDecoded(lane, 'bookTicker', m);
    } else {
      this.lastDepthAt[x[p + 1]!] = p;
      if (!this.pub.admit(lane, 'depth')) return;
      const f = new DepthFrame();
      f.symbol = lane.inst.venueSymbol;
      f.eventTime = x[p + 3]!;
      f.firstUpdateId = x[p + 4]!;
      f.finalUpdateId = x[p + 5]!;
      f.prevFinalUpdateId = x[p + 6]!;
      f.txTime = x[p + 7]!;
      f.qtyRounded = x[p + 8]!;
      const nb = (f.bidCount = x[p + 9]!);
      const na = (f.askCount = x[p + 10]!);
      let q = p + DEPTH_HEAD;
      const bids = new Array<number>(2 * nb);
      for (let i = 0; i < 2 * nb; i++) bids[i] = x[q++]!;
      const asks = new Array<number>(2 * na);
      for (let i = 0; i < 2 * na; i++) asks[i] = x[q++]!;
      f.bids = bids;
      f.asks = asks;
      this.pub.emitDecoded(lane, 'depth', { type: 'md.depthRaw', venue: lane.decoder.venue, symbol: lane.inst.symbol, tsLocal: ts, data: f });
    }
  }

  private depthIds(p: number): DepthIds {
    return { first: this.nums[p + 4]!, final: this.nums[p + 5]!, prevFinal: this.nums[p + 6]! };
  }

  // The records carry no checksum: hashing 22 MB on every load would cost a good part of what the catalog saves, and
  // a walk over them all at load ~10 ms before the replay's code is warm. Each record's structure is checked as it is
  // reached instead (a few compares, in the replay's hot loop): a damaged byte breaks it as soon as it hits a kind, a
  // symbol, a text index or a level count, the walk falls out of step and the next record fails too, and the walk
  // must end on the header's record count. A receive time must lie within the recording's bounds (lines of one file
  // need not be in time order, so no more is asked). A flipped bit inside a price, size, id or exchange time reads as
  // a valid record and goes undetected. Returns the offset after record `k` at `p`.
  private checked(p: number, k: number): number {
    const x = this.nums;
    const kind = x[p];
    const end = kind === TRADE ? (x[p + 7] === 0 || x[p + 7] === 1 ? p + 8 : -1)
      : kind === TICKER ? p + 9
      : kind === DEPTH ? ((x[p + 9]! >>> 0) === x[p + 9] && (x[p + 10]! >>> 0) === x[p + 10] ? p + DEPTH_HEAD + 2 * (x[p + 9]! + x[p + 10]!) : -1)
      : kind === TEXT ? ((x[p + 3]! >>> 0) === x[p + 3] && x[p + 3]! < this.head.strings.length ? p + 4 : -1)
      : -1;
    const sym = x[p + 1]!;
    const ts = x[p + 2]!;
    // Kept small, so that it inlines: what is wrong is told by malformed().
    if (end < 0 || end > x.length || (sym >>> 0) !== sym || sym >= this.lanes.length || !(ts >= this.head.minMs && ts <= this.head.maxMs)) {
      throw this.malformed(p, k);
    }
    return end;
  }

  private malformed(p: number, k: number): ParseError {
    const x = this.nums;
    const head = Array.from(x.subarray(p, Math.min(p + DEPTH_HEAD, x.length))).join(', ');
    return this.damaged(k, `at number ${p} of ${x.length}, it starts [${head}] (kind, symbol index of ${this.lanes.length}, receive time in `
      + `${this.head.minMs}..${this.head.maxMs}, ...)`);
  }

  // Deleted, so that the next run (or the next open in this process: the in-memory copy is keyed on the file) rebuilds it.
  private damaged(k: number, reason: string): ParseError {
    if (lastOpened !== undefined && lastOpened.path === this.file) lastOpened = undefined;
    let deleted = false;
    if (this.file !== undefined) {
      try {
        unlinkSync(this.file);
        deleted = true;
      } catch {
        // Said below: the user deletes it.
      }
    }
    return new ParseError(`replay catalog ${this.file ?? '(in memory)'} is damaged at record ${k} of ${this.head.records}: ${reason}; `
      + (deleted ? 'it has been deleted, and the next run rebuilds it from the recordings' : 'delete it, and the next run rebuilds it from the recordings'));
  }
}
