// `cobalt record` writes live Binance streams to disk in the recording format the replay venue, `book-replay` and
// the exchange simulator read. It talks to the endpoints of the config (the simulator's, in tests).
import type { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { log } from '../log.ts';
import { LiveClock } from '../runtime/clock.ts';
import { Recorder } from '../venues/binance/recorder.ts';
import { BinanceRest } from '../venues/binance/rest.ts';
import { combinedStreamUrl } from '../venues/binance/stream-client.ts';

/** Registers `cobalt record`. */
export function register(program: Command): void {
  program
    .command('record')
    .description('record Binance streams (depth@100ms, trade, bookTicker) as gzipped `<ts_ns> <json>` lines')
    .requiredOption('-c, --config <file>', 'config file (venue URLs and symbols)')
    .option('-o, --out <dir>', 'output directory', 'var/recordings')
    .option('-s, --symbols <list>', 'comma-separated unified symbols (default: primary and reference of the config)')
    .option('--streams <list>', 'comma-separated stream kinds', 'depth@100ms,trade,bookTicker')
    .option('-d, --duration <seconds>', 'stop after this many seconds (default: until SIGINT/SIGTERM)')
    .action(async (opts: { config: string; out: string; symbols?: string; streams: string; duration?: string }) => {
      const { config } = loadConfig(opts.config);
      const symbols = opts.symbols ? opts.symbols.split(',') : [config.symbols.primary, config.symbols.reference];
      const rest = new BinanceRest({ baseUrl: config.venues.binance.restUrl });
      const instruments = await rest.instruments(symbols);
      const rec = new Recorder({
        instruments,
        streams: opts.streams.split(','),
        outDir: opts.out,
        wsUrl: combinedStreamUrl(config.venues.binance.wsUrl),
        rest,
        clock: new LiveClock(),
      });
      rec.start();
      log().info({ symbols, out: opts.out }, 'recording');
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
        if (opts.duration) setTimeout(done, Number(opts.duration) * 1000).unref();
      });
      await rec.stop();
      log().info({ files: rec.files, ...rec.counts }, 'recording closed');
      process.stdout.write(`${JSON.stringify({ files: rec.files, ...rec.counts, ...rec.streamStats })}\n`);
    });
}
