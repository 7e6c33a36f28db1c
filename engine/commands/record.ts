// `cobalt record` writes live Binance streams to disk in the recording format the replay venue, `book-replay` and
// the exchange simulator read. It talks to the endpoints of the config (the simulator's, in tests).
import type { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { log } from '../log.ts';
import { LiveClock } from '../runtime/clock.ts';
import type { Instrument } from '../types/instrument.ts';
import type { Recorder } from '../venues/binance/recorder.ts';
import type { BinanceRest } from '../venues/binance/rest.ts';
import { combinedStreamUrl } from '../venues/binance/stream-client.ts';

/** Options of `cobalt record` as commander hands them over. */
export interface RecordOptions {
  readonly config: string;
  readonly out: string;
  readonly symbols?: string;
  readonly streams: string;
  readonly duration?: string;
}

/** Where `recordCommand` writes and when it stops; the defaults are the process's streams and signals. */
export interface RecordIo {
  readonly out?: (line: string) => void;
  readonly err?: (line: string) => void;
  /** Resolves when recording should stop; default: --duration, SIGINT or SIGTERM. */
  readonly stop?: (rec: Recorder, durationS: number | undefined) => Promise<void>;
}

const UNIT_S: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600 };

/** Returns a --duration in seconds: a positive number of seconds, or one with the unit s, m or h (`90`, `30s`, `5m`, `1.5h`). */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([smh]?)$/.exec(s.trim());
  const v = m ? Number(m[1]) * UNIT_S[m[2]!]! : NaN;
  if (!(v > 0) || !Number.isFinite(v)) throw new Error(`--duration must be a positive number of seconds (or with a unit: 30s, 5m, 1h), not '${s}'`);
  return v;
}

/** Returns the exit code of `cobalt record`: 0 when every symbol's depth got a snapshot and messages were recorded. */
export async function recordCommand(o: RecordOptions, io: RecordIo = {}): Promise<number> {
  const out = io.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = io.err ?? ((l: string) => process.stderr.write(`${l}\n`));
  let durationS: number | undefined;
  let instruments: Instrument[];
  let wsUrl: string;
  let rest: BinanceRest;
  let symbols: string[];
  // The REST client loads ccxt (~2 s of CPU): imported when a recording starts, not when the CLI does.
  const [{ BinanceRest: Rest }, { Recorder: Rec }] = await Promise.all([import('../venues/binance/rest.ts'), import('../venues/binance/recorder.ts')]);
  try {
    if (o.duration !== undefined) durationS = parseDuration(o.duration);
    const { config } = loadConfig(o.config);
    symbols = o.symbols ? o.symbols.split(',').map((s) => s.trim()) : [config.symbols.primary, config.symbols.reference];
    rest = new Rest({ baseUrl: config.venues.binance.restUrl });
    wsUrl = combinedStreamUrl(config.venues.binance.wsUrl);
    instruments = await loadInstruments(rest, symbols);
  } catch (e) {
    err(`record: ${(e as Error).message}`);
    return 1;
  }
  const rec = new Rec({ instruments, streams: o.streams.split(','), outDir: o.out, wsUrl, rest, clock: new LiveClock() });
  rec.start();
  log().info({ symbols, out: o.out }, 'recording');
  await (io.stop ?? ((_rec, s) => untilSignal(s)))(rec, durationS);
  await rec.stop();
  const missingSnapshot = rec.symbolsWithoutSnapshot();
  log().info({ files: rec.files, ...rec.counts, missingSnapshot }, 'recording closed');
  out(JSON.stringify({ files: rec.files, ...rec.counts, missingSnapshot, ...rec.streamStats }));
  if (rec.counts.messages === 0) {
    err(`record: no message was recorded from ${wsUrl} (connects ${rec.streamStats.connects}, drops ${rec.streamStats.drops})`);
    return 1;
  }
  if (missingSnapshot.length > 0) {
    err(`record: no depth snapshot was recorded for ${missingSnapshot.join(', ')} (${rec.counts.snapshotFailures} failed requests): its depth cannot be replayed`);
    return 1;
  }
  return 0;
}

// exchangeInfo answers "Invalid symbol." for the whole list; ask for each symbol to name the one it refuses.
async function loadInstruments(rest: BinanceRest, symbols: readonly string[]): Promise<Instrument[]> {
  try {
    return await rest.instruments(symbols);
  } catch (e) {
    const { default: ccxt } = await import('ccxt');
    if (!((e as Error).cause instanceof ccxt.BadSymbol)) throw e;
    const bad: string[] = [];
    for (const s of symbols) {
      try {
        await rest.instruments([s]);
      } catch (one) {
        if ((one as Error).cause instanceof ccxt.BadSymbol) bad.push(s);
        else throw one;
      }
    }
    throw new Error(`binance does not list ${bad.length > 0 ? bad.join(', ') : symbols.join(', ')}: ${(e as Error).message}`, { cause: e });
  }
}

function untilSignal(durationS: number | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (durationS === undefined) return;
    // setTimeout fires at once past 2^31-1 ms (24.8 days): wait in steps up to the deadline.
    const deadline = Date.now() + durationS * 1000;
    const arm = (): void => {
      const left = deadline - Date.now();
      timer = left <= 0 ? undefined : setTimeout(arm, Math.min(left, 2 ** 31 - 1));
      if (!timer) done();
    };
    arm();
  });
}

/** Registers `cobalt record`. */
export function register(program: Command): void {
  program
    .command('record')
    .description('record Binance streams (depth@100ms, trade, bookTicker) as gzipped `<ts_ns> <json>` lines; exits 1 when nothing, or no depth snapshot of a symbol, was recorded')
    .requiredOption('-c, --config <file>', 'config file (venue URLs and symbols)')
    .option('-o, --out <dir>', 'output directory', 'var/recordings')
    .option('-s, --symbols <list>', 'comma-separated unified symbols (default: primary and reference of the config)')
    .option('--streams <list>', 'comma-separated stream kinds', 'depth@100ms,trade,bookTicker')
    .option('-d, --duration <time>', 'stop after this long: seconds (90) or with a unit (30s, 5m, 1h); default until SIGINT/SIGTERM')
    .action(async (opts: RecordOptions) => {
      process.exitCode = await recordCommand(opts);
    });
}
