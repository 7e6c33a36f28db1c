import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createGzip, type Gzip } from 'node:zlib';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../log.ts';
import { log as rootLog } from '../../log.ts';
import type { Instrument } from '../../types/instrument.ts';
import { BinanceStreamClient, type StreamStatus } from './stream-client.ts';
import type { BinanceRest } from './rest.ts';

/**
 * Records Binance streams in the hftbacktest line format: `<receive_ts_ns> <json>` per message, gzipped, one file per
 * symbol and UTC day (`spot_<symbol>_<yyyymmdd>.jsonl.gz`). REST depth snapshots are written as bare JSON lines, at
 * start and after every reconnect, because a reconnect leaves a hole in the diff chain that a replay must resync over.
 */
export interface RecorderOptions {
  readonly instruments: readonly Instrument[];
  readonly streams: readonly string[];
  readonly outDir: string;
  readonly wsUrl: string;
  readonly rest: BinanceRest;
  readonly clock: Clock;
  readonly prefix?: string;
  readonly snapshotLimit?: number;
  readonly logger?: Logger;
}

interface Sink { day: string; gz: Gzip; file: WriteStream; path: string }

/** Returns a running recorder; `stop()` flushes and closes every file. */
export class Recorder {
  private readonly sinks = new Map<string, Sink>();
  /** Symbols (lower-case venue ids) whose next depth frame should trigger a snapshot. */
  private readonly needSnapshot = new Set<string>();
  private readonly client: BinanceStreamClient;
  private readonly log: Logger;
  readonly counts = { messages: 0, snapshots: 0, snapshotFailures: 0, unknownStream: 0 };
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

  /** Connects and starts writing. */
  start(): void {
    this.client.start();
  }

  /** Stops the stream and closes all files; resolves when everything is on disk. */
  async stop(): Promise<void> {
    this.client.stop();
    await Promise.all([...this.sinks.values()].map((s) => closeSink(s)));
    this.sinks.clear();
  }

  private onStatus(s: StreamStatus): void {
    // Binance's procedure: buffer diffs first, then snapshot. So the snapshot is taken on the first depth frame after
    // each (re)connect, which guarantees the recording holds diffs from before the snapshot's lastUpdateId.
    if (s === 'live') for (const inst of this.opts.instruments) this.needSnapshot.add(inst.venueSymbol.toLowerCase());
  }

  private async snapshot(inst: Instrument): Promise<void> {
    try {
      const raw = await (this.opts.rest.exchange as unknown as { publicGetDepth(p: object): Promise<unknown> })
        .publicGetDepth({ symbol: inst.venueSymbol, limit: this.opts.snapshotLimit ?? 1000 });
      this.write(inst.venueSymbol.toLowerCase(), this.opts.clock.now(), JSON.stringify(raw));
      this.counts.snapshots++;
    } catch (err) {
      this.counts.snapshotFailures++;
      this.log.error({ symbol: inst.symbol, err: (err as Error).message }, 'depth snapshot for the recording failed');
    }
  }

  private onMessage(data: Buffer, ts: number): void {
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
      if (inst) void this.snapshot(inst);
    }
  }

  private write(symbol: string, tsMs: number, body: string | Buffer): void {
    const day = new Date(tsMs).toISOString().slice(0, 10).replaceAll('-', '');
    let sink = this.sinks.get(symbol);
    if (!sink || sink.day !== day) {
      if (sink) void closeSink(sink);
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
