// Reads recordings (`<ts_ns> <json>` per line, gzip or plain). The hot path (`RecordingFile`, used by the merge and
// by `readRecordingLines`) inflates each file in large chunks on the libuv pool, ahead of the consumer, splits the
// decoded text with indexOf and parses the timestamp digits as numbers; the bigint ns is only built when asked for.
// Line breaks are those of node's readline (`\n`, `\r\n` and a lone `\r`), which the previous stream reader used.
import { isAscii } from 'node:buffer';
import { createReadStream, readFileSync, type ReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { ParseError } from '../../types/errors.ts';
import { nsToMs, type TsMs } from '../../types/time.ts';

/** One line of a recording: the local receive time and the JSON text after it. */
export interface RecordedLine {
  /** Local receive time in nanoseconds since the epoch (the recorder's clock). */
  tsLocalNs: bigint;
  /** The JSON part of the line (a combined-stream envelope or a bare REST snapshot). */
  text: string;
}

/** Counts of lines a reader could not split into `<ts_ns> <json>`. */
export interface RecordingStats {
  badLines: number;
}

const isGz = (file: string): boolean => file.endsWith('.gz');

/**
 * Returns the index of the space after the timestamp of the line s[start, end), or -1 when the line is not
 * `<1..20 digits><space><non-empty text>`: the one rule of both readers.
 */
function timestampEnd(s: string, start: number, end: number): number {
  let sp = start;
  for (let c = s.charCodeAt(sp); c >= 48 && c <= 57 && sp < end; c = s.charCodeAt(++sp));
  return sp === start || sp - start > 20 || sp >= end - 1 || s.charCodeAt(sp) !== 32 ? -1 : sp;
}

/** Returns the line split into ts and JSON text, or undefined when it is not `<digits> <text>`. */
export function splitRecordedLine(line: string): RecordedLine | undefined {
  const end = line.endsWith('\r') ? line.length - 1 : line.length;
  const sp = timestampEnd(line, 0, end);
  if (sp < 0) return undefined;
  return { tsLocalNs: BigInt(line.slice(0, sp)), text: line.slice(sp + 1, end) };
}

/** The stream a combined-stream frame names: the venue symbol (upper case) and the kind after `@`. */
export interface FrameStream {
  readonly symbol: string;
  /** `depth`, `trade`, `aggTrade`, `bookTicker`, `kline` (up to the first character that is not a letter or digit). */
  readonly kind: string;
}

const FRAME_STREAM_RE = /^\{"stream":"([a-z0-9]+)@([A-Za-z0-9]*)/;

/**
 * Returns the stream named by the JSON text of a recorded line when it is a combined-stream frame
 * (`{"stream":"btcusdt@depth@100ms",…` → `BTCUSDT`, `depth`), else undefined (a REST snapshot, a bare event).
 */
export function frameStreamOf(text: string): FrameStream | undefined {
  const m = FRAME_STREAM_RE.exec(text);
  return m ? { symbol: m[1]!.toUpperCase(), kind: m[2]! } : undefined;
}

/** A parsed recorded line: receive time in ms (exactly `nsToMs(tsLocalNs)`), ns built on first use, and a symbol. */
export class RecordingLine implements RecordedLine {
  /** floor(ns / 1000), a safe integer; Infinity when it is not (then `#ns` holds the exact value). */
  readonly #us: number;
  /** ns % 1000. */
  readonly #sub: number;
  #ns: bigint | undefined;

  constructor(
    /** The venue symbol (upper case) once the file's symbol is known; '' before. */
    public symbol: string,
    readonly text: string,
    /** Receive time in ms, equal to `nsToMs(tsLocalNs)`. */
    readonly tsMs: TsMs,
    us: number,
    sub: number,
    ns?: bigint,
  ) {
    this.#us = us;
    this.#sub = sub;
    this.#ns = ns;
  }

  /** Receive time in nanoseconds since the epoch. */
  get tsLocalNs(): bigint {
    return (this.#ns ??= BigInt(this.#us) * 1000n + BigInt(this.#sub));
  }

  /** True when this line was received strictly before `o` (exact ns comparison). */
  before(o: RecordingLine): boolean {
    if (this.#us !== o.#us) return this.#us < o.#us;
    if (this.#us === Infinity) return this.tsLocalNs < o.tsLocalNs;
    return this.#sub < o.#sub;
  }
}

/** Sizes the chunked reader works with (tests shrink them to put chunk boundaries everywhere). */
export interface RecordingReadOptions {
  /** Bytes per chunk read (inflated bytes for gzip, at least 64 there); default 256 KiB: each chunk costs a
   * main-thread callback, so fewer is cheaper. */
  readonly chunkBytes?: number;
  /** Bytes of text decoded at a time; default 64 KiB: below V8's large-object size (128 KiB) the strings live and
   * die in the young generation, which measured cheaper than bigger ones. */
  readonly pieceBytes?: number;
}

const CHUNK_BYTES = 256 * 1024;
const PIECE_BYTES = 64 * 1024;
/** Inflated bytes a file may queue ahead of its consumer before its stream pauses (the read-ahead, per file). */
const AHEAD_BYTES = 2 * 1024 * 1024;
const CR_RE = /\r\n?/g;

/** The raw (inflated) byte chunks of one file, read ahead on the libuv pool with a bounded queue. */
class ChunkSource {
  private readonly raw: ReadStream;
  private readonly out: Readable;
  private readonly q: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private error: Error | undefined;
  private waiter: (() => void) | undefined;

  constructor(file: string, chunkBytes: number) {
    const gz = isGz(file);
    this.raw = createReadStream(file, { highWaterMark: gz ? 1024 * 1024 : chunkBytes });
    this.out = gz ? this.raw.pipe(createGunzip({ chunkSize: Math.max(64, chunkBytes) })) : this.raw;
    // Errors are kept for the next wait(), so a file nobody reads yet never raises an unhandled error.
    const fail = (err: Error): void => {
      this.error ??= err;
      this.wake();
    };
    this.raw.on('error', fail);
    if (this.out !== this.raw) this.out.on('error', fail);
    this.out.on('data', (b: Buffer) => {
      this.q.push(b);
      this.bytes += b.length;
      if (this.bytes >= AHEAD_BYTES) this.out.pause();
      this.wake();
    });
    this.out.on('end', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** Returns the next chunk when one is ready; undefined at the end; null when none is ready yet (or an error waits). */
  takeSync(): Buffer | null | undefined {
    const b = this.q.shift();
    if (b) {
      this.bytes -= b.length;
      if (this.bytes < AHEAD_BYTES && this.out.isPaused() && !this.ended) this.out.resume();
      return b;
    }
    return this.ended && !this.error ? undefined : null;
  }

  /** Resolves once a chunk or the end is there; throws the stream's error once the chunks before it are taken. */
  async wait(): Promise<void> {
    while (this.q.length === 0 && !this.ended && !this.error) await new Promise<void>((r) => (this.waiter = r));
    if (this.q.length === 0 && this.error) throw this.error;
  }

  close(): void {
    this.ended = true;
    this.q.length = 0;
    this.raw.destroy();
    if (this.out !== this.raw) this.out.destroy();
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** Returns the bytes as text: latin1 when they are ASCII (the common case, cheaper), else utf8. */
function decode(buf: Buffer): string {
  const s = isAscii(buf) ? buf.toString('latin1') : buf.toString('utf8');
  return s.includes('\r') ? s.replace(CR_RE, '\n') : s;
}

/**
 * One recording file read in large chunks; `nextSync` parses the next line out of the decoded text, decoding the
 * next piece when one is ready, and `fill` waits for the next chunk. Reading starts (in the background) at
 * construction.
 */
export class RecordingFile {
  /** Symbol given to the lines parsed from now on. */
  symbol = '';
  private readonly src: ChunkSource;
  private s = '';
  private pos = 0;
  /** The inflated chunk being cut into pieces, and where the next piece starts. */
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;
  private carry: Buffer | undefined;
  private eof = false;

  private readonly pieceBytes: number;

  constructor(readonly file: string, private readonly stats?: RecordingStats, opts: RecordingReadOptions = {}) {
    this.src = new ChunkSource(file, Math.max(1, opts.chunkBytes ?? CHUNK_BYTES));
    this.pieceBytes = Math.max(1, opts.pieceBytes ?? PIECE_BYTES);
  }

  /**
   * Returns the next line; undefined at the end of the file; null when no more text is ready and `fill` must run
   * first. Blank lines are skipped; lines that are not `<ts_ns> <json>` are counted in `stats.badLines`.
   */
  nextSync(): RecordingLine | null | undefined {
    for (;;) {
      const s = this.s;
      const n = s.length;
      let p = this.pos;
      while (p < n) {
        let e = s.indexOf('\n', p);
        if (e === -1) e = n;
        const start = p;
        p = e + 1;
        if (e === start) continue;
        const sp = timestampEnd(s, start, e);
        if (sp < 0) {
          if (this.stats) this.stats.badLines++;
          continue;
        }
        this.pos = p;
        return this.line(s, start, sp, e);
      }
      this.s = '';
      this.pos = 0;
      if (this.eof) return undefined;
      if (!this.cut()) return null;
    }
  }

  /** Waits until `nextSync` can go on (after it returned null). Throws a ParseError naming the file. */
  async fill(): Promise<void> {
    try {
      await this.src.wait();
    } catch (err) {
      throw new ParseError(`cannot read recording ${this.file}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Stops reading the file. */
  close(): void {
    this.src.close();
    this.s = '';
    this.buf = Buffer.alloc(0);
    this.carry = undefined;
    this.eof = true;
  }

  /** Decodes the next piece of text from the chunk at hand or a ready one; false when no chunk is ready. */
  private cut(): boolean {
    for (;;) {
      if (this.at >= this.buf.length) {
        const chunk = this.src.takeSync();
        if (chunk === null) return false;
        if (chunk === undefined) {
          this.eof = true;
          this.s = this.carry ? decode(this.carry) : '';
          this.carry = undefined;
          return true;
        }
        this.buf = chunk;
        this.at = 0;
      }
      const { buf, at } = this;
      // Cut after a '\n' byte (never inside a utf8 sequence, so each piece decodes whole), at most pieceBytes on
      // unless one line is longer.
      const to = at + this.pieceBytes;
      let last = to >= buf.length ? buf.lastIndexOf(10) : buf.lastIndexOf(10, to - 1);
      if (last < at) last = buf.indexOf(10, to);
      if (last < at) {
        this.carry = this.carry ? Buffer.concat([this.carry, buf.subarray(at)]) : buf.subarray(at);
        this.at = buf.length;
        continue;
      }
      const piece = buf.subarray(at, last + 1);
      this.s = decode(this.carry ? Buffer.concat([this.carry, piece]) : piece);
      this.carry = undefined;
      this.at = last + 1;
      return true;
    }
  }

  private line(s: string, start: number, sp: number, e: number): RecordingLine {
    const text = s.slice(sp + 1, e);
    const subStart = Math.max(start, sp - 3);
    let us = 0;
    for (let i = start; i < subStart; i++) us = us * 10 + s.charCodeAt(i) - 48;
    let sub = 0;
    for (let i = subStart; i < sp; i++) sub = sub * 10 + s.charCodeAt(i) - 48;
    if (us <= Number.MAX_SAFE_INTEGER) return new RecordingLine(this.symbol, text, us / 1000, us, sub);
    // Beyond 2^53 µs (year 2255+): keep the exact bigint and order by it.
    const ns = BigInt(s.slice(start, sp));
    return new RecordingLine(this.symbol, text, nsToMs(ns), Infinity, sub, ns);
  }
}

/**
 * Returns the lines of `files` in order (gzip or plain, chosen by the `.gz` suffix) as an async stream.
 * Blank lines are skipped; a line that is not `<ts_ns> <json>` is counted in `stats.badLines` and skipped.
 */
export async function* readRecordingLines(files: string[], stats?: RecordingStats, opts?: RecordingReadOptions): AsyncIterable<RecordedLine> {
  for (const file of files) {
    const f = new RecordingFile(file, stats, opts);
    try {
      for (;;) {
        const l = f.nextSync();
        if (l === undefined) break;
        if (l === null) await f.fill();
        else yield { tsLocalNs: l.tsLocalNs, text: l.text };
      }
    } finally {
      f.close();
    }
  }
}

/** Returns every line of `files` in order, read synchronously (small files, tests and benchmarks). */
export function readRecordingLinesSync(files: string[], stats?: RecordingStats): RecordedLine[] {
  const out: RecordedLine[] = [];
  for (const file of files) {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
      if (isGz(file)) buf = gunzipSync(buf);
    } catch (err) {
      throw new ParseError(`cannot read recording ${file}: ${(err as Error).message}`, { cause: err });
    }
    for (const line of buf.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      const rec = splitRecordedLine(line);
      if (rec) out.push(rec);
      else if (stats) stats.badLines++;
    }
  }
  return out;
}
