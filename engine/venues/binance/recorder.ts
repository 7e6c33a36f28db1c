import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createGzip, type Gzip } from 'node:zlib';
import type { Clock, TimerHandle } from '../../runtime/clock.ts';
import type { Logger } from '../../log.ts';
import { log as rootLog } from '../../log.ts';
import type { Instrument } from '../../types/instrument.ts';
import { backoffDelay, venueBlockOf, type BackoffPolicy } from './backoff.ts';
import { BinanceStreamClient, type StreamStatus } from './stream-client.ts';
import type { BinanceRest } from './rest.ts';

/**
 * Records Binance streams in the hftbacktest line format: `<receive_ts_ns> <json>` per message, gzipped, one file per
 * symbol and UTC day (`spot_<symbol>_<yyyymmdd>.jsonl.gz`). REST depth snapshots are written as bare JSON lines, at
 * start and after every reconnect, because a reconnect leaves a hole in the diff chain that a replay must resync over.
 * A failed snapshot request is retried (backoff, or the venue's Retry-After on 429/418) until one lands: without it
 * the depth recorded since the last (re)connect cannot be replayed. Requests go through BinanceRest and so pass the
 * origin's 429/418 gate (rest-gate.ts): none is sent while a block another client of the process met is in force.
 */
export interface RecorderOptions {
  readonly instruments: readonly Instrument[];
  readonly streams: readonly string[];
  readonly outDir: string;
  readonly wsUrl: string;
  readonly rest: Pick<BinanceRest, 'depthAnswer'>;
  readonly clock: Clock;
  readonly prefix?: string;
  readonly snapshotLimit?: number;
  /** Delay between failed snapshot requests of one symbol; default 0.5 s doubling to 60 s. */
  readonly snapshotBackoff?: BackoffPolicy;
  readonly logger?: Logger;
}

/** Default snapshot retry policy: 0.5 s doubling to 60 s, a fifth of it jittered. */
const SNAPSHOT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 60_000, factor: 2, jitter: 0.2 };

interface Sink { day: string; gz: Gzip; file: WriteStream; path: string }

/** Snapshot bookkeeping of one symbol. */
interface SnapshotState {
  /** Consecutive failed requests; the next delay grows with it. */
  failures: number;
  /** A retry waiting on the clock. */
  retry?: TimerHandle;
  inFlight: boolean;
  /** A (re)connect asked for a snapshot while one was in flight: that one may predate the new connection's diffs. */
  again: boolean;
  written: number;
}

/** Returns a running recorder; `stop()` flushes and closes every file. */
export class Recorder {
  private readonly sinks = new Map<string, Sink>();
  /** Sinks of a finished day, still flushing. */
  private readonly closing = new Set<Promise<void>>();
  /** Symbols (lower-case venue ids) whose next depth frame should trigger a snapshot. */
  private readonly needSnapshot = new Set<string>();
  private readonly snapshotState = new Map<string, SnapshotState>();
  private readonly requests = new Set<Promise<void>>();
  private readonly client: BinanceStreamClient;
  private readonly log: Logger;
  private stopped = false;
  /** `droppedAfterStop`: frames or snapshot replies that arrived once stop() had begun (not written). */
  readonly counts = { messages: 0, snapshots: 0, snapshotFailures: 0, unknownStream: 0, droppedAfterStop: 0 };
  readonly files: string[] = [];

  constructor(private readonly opts: RecorderOptions) {
    this.log = opts.logger ?? rootLog().child({ component: 'recorder' });
    mkdirSync(opts.outDir, { recursive: true });
    this.client = new BinanceStreamClient({
      url: opts.wsUrl,
      clock: opts.clock,
      logger: this.log,
      onMessage: (data, ts) => this.onMessage(data, ts),
      onStatus: (s) => this.onStatus(s),
    });
    const names = opts.instruments.flatMap((i) => opts.streams.map((s) => `${i.venueSymbol.toLowerCase()}@${s}`));
    this.client.subscribe(names);
  }

  /** Returns the stream client's counters. */
  get streamStats() {
    return this.client.stats;
  }

  /**
   * Returns the venue symbols (`ETHUSDT`) whose depth stream is recorded but that never got a snapshot: their depth
   * cannot be replayed.
   */
  symbolsWithoutSnapshot(): string[] {
    if (!this.opts.streams.some((s) => s.startsWith('depth'))) return [];
    return this.opts.instruments
      .filter((i) => (this.snapshotState.get(i.venueSymbol.toLowerCase())?.written ?? 0) === 0)
      .map((i) => i.venueSymbol);
  }

  /** Connects and starts writing. */
  start(): void {
    this.client.start();
  }

  /**
   * Stops the stream and closes all files; resolves when everything is on disk. Snapshot requests still in flight are
   * awaited first and their replies dropped, so nothing reopens a file once it is closed.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.client.stop();
    for (const s of this.snapshotState.values()) if (s.retry) this.opts.clock.clearTimeout(s.retry);
    await Promise.all(this.requests);
    await Promise.all([...this.sinks.values()].map((s) => closeSink(s)));
    this.sinks.clear();
    await Promise.all(this.closing);
  }

  private onStatus(s: StreamStatus): void {
    // Binance's procedure: buffer diffs first, then snapshot. So the snapshot is taken on the first depth frame after
    // each (re)connect, which guarantees the recording holds diffs from before the snapshot's lastUpdateId.
    if (s === 'live') for (const inst of this.opts.instruments) this.needSnapshot.add(inst.venueSymbol.toLowerCase());
  }

  private requestSnapshot(inst: Instrument): void {
    const symbol = inst.venueSymbol.toLowerCase();
    let st = this.snapshotState.get(symbol);
    if (!st) {
      st = { failures: 0, inFlight: false, again: false, written: 0 };
      this.snapshotState.set(symbol, st);
    }
    if (st.inFlight) st.again = true;
    // A retry already waiting will ask after this frame, which is all a fresh connection needs.
    else if (!st.retry) this.fetchSnapshot(inst, st);
  }

  private fetchSnapshot(inst: Instrument, st: SnapshotState): void {
    if (this.stopped) return;
    st.inFlight = true;
    st.again = false;
    const p = this.snapshotOnce(inst, st).finally(() => {
      st.inFlight = false;
      this.requests.delete(p);
    });
    this.requests.add(p);
  }

  private async snapshotOnce(inst: Instrument, st: SnapshotState): Promise<void> {
    let raw: unknown;
    try {
      raw = await this.opts.rest.depthAnswer(inst, this.opts.snapshotLimit ?? 1000);
    } catch (err) {
      this.counts.snapshotFailures++;
      if (this.stopped) return;
      // A 429's Retry-After, a 418 ban's end, or the time left of a block the gate refused the request for.
      const venueWait = venueBlockOf(err)?.retryAfterMs;
      const delayMs = Math.max(venueWait ?? 0, backoffDelay(this.opts.snapshotBackoff ?? SNAPSHOT_BACKOFF, st.failures++));
      this.log.error({ symbol: inst.symbol, err: (err as Error).message, attempt: st.failures, retryInMs: delayMs }, 'depth snapshot for the recording failed; retrying');
      st.retry = this.opts.clock.setTimeout(() => {
        st.retry = undefined;
        this.fetchSnapshot(inst, st);
      }, delayMs);
      return;
    }
    if (this.stopped) {
      this.counts.droppedAfterStop++;
      return;
    }
    this.write(inst.venueSymbol.toLowerCase(), this.opts.clock.now(), JSON.stringify(raw));
    this.counts.snapshots++;
    st.written++;
    st.failures = 0;
    if (st.again) this.fetchSnapshot(inst, st);
  }

  private onMessage(data: Buffer, ts: number): void {
    if (this.stopped) {
      this.counts.droppedAfterStop++;
      return;
    }
    // Combined-stream envelopes start with {"stream":"<symbol>@…; route by that prefix without parsing the frame.
    const head = data.subarray(0, 64).toString('latin1');
    const m = /"stream":"([a-z0-9]+)@(depth)?/.exec(head);
    if (!m) {
      this.counts.unknownStream++;
      return;
    }
    const symbol = m[1]!;
    this.counts.messages++;
    this.write(symbol, ts, data);
    if (m[2] && this.needSnapshot.delete(symbol)) {
      const inst = this.opts.instruments.find((i) => i.venueSymbol.toLowerCase() === symbol);
      if (inst) this.requestSnapshot(inst);
    }
  }

  private write(symbol: string, tsMs: number, body: string | Buffer): void {
    const day = new Date(tsMs).toISOString().slice(0, 10).replaceAll('-', '');
    let sink = this.sinks.get(symbol);
    if (!sink || sink.day !== day) {
      if (sink) {
        const done = closeSink(sink);
        this.closing.add(done);
        void done.then(() => this.closing.delete(done));
      }
      const path = join(this.opts.outDir, `${this.opts.prefix ?? 'spot'}_${symbol}_${day}.jsonl.gz`);
      const gz = createGzip();
      const file = createWriteStream(path, { flags: 'a' });
      gz.pipe(file);
      sink = { day, gz, file, path };
      this.sinks.set(symbol, sink);
      this.files.push(path);
    }
    const ns = BigInt(Math.round(tsMs * 1e3)) * 1000n;
    sink.gz.write(`${ns} `);
    sink.gz.write(body);
    sink.gz.write('\n');
  }
}

function closeSink(s: Sink): Promise<void> {
  return new Promise((resolve) => {
    s.file.on('close', () => resolve());
    s.gz.end();
  });
}
