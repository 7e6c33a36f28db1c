import type { Command } from 'commander';
import { instrumentSpecsOf } from '../config/schema.ts';
import { loadConfig } from '../config/load.ts';
import { log } from '../log.ts';
import { replayBook, type BookReplayResult } from '../venues/replay/book-replay.ts';
import { fail } from './fail.ts';

/** Registers `cobalt book-replay FILE… [--symbol S] [--json]`: replays a recording through the book sync. */
export function register(program: Command): void {
  program
    .command('book-replay')
    .description('Replay a recorded Binance depth stream (gz or plain) through the order-book sync and check it against the recorded bookTicker')
    .argument('<files...>', 'recording files of one symbol, in any order: they are chained by the time of their first line')
    .option('--symbol <symbol>', 'symbol (BTC/USDT or BTCUSDT); inferred from the stream when absent')
    .option('--tick <size>', 'tick size, for a symbol that is not bundled nor in --config')
    .option('--lot <size>', 'lot size, for a symbol that is not bundled nor in --config')
    .option('--config <file>', 'engine config whose instruments (increments by symbol) the recording is parsed with')
    .option('--rules <rules>', 'sync rules: spot, usdm or auto (futures when diffs carry pu)', 'auto')
    .option('--json', 'print one JSON object')
    .action(async (files: string[], o: { symbol?: string; tick?: string; lot?: string; config?: string; rules: string; json?: boolean }) => {
      if (o.rules !== 'spot' && o.rules !== 'usdm' && o.rules !== 'auto') {
        program.error(`--rules must be spot, usdm or auto, not '${o.rules}'`);
      }
      let r: BookReplayResult;
      try {
        r = await replayBook(files, {
          ...(o.symbol ? { symbol: o.symbol } : {}),
          ...(o.tick ? { tickSize: o.tick } : {}),
          ...(o.lot ? { lotSize: o.lot } : {}),
          ...(o.config ? { instruments: instrumentSpecsOf(loadConfig(o.config).config) } : {}),
          rules: o.rules as 'spot' | 'usdm' | 'auto',
          log: log(),
        });
      } catch (err) {
        return fail(`book-replay: ${(err as Error).message}`);
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      const pct = r.bookTickerChecked ? ((100 * r.bookTickerMatched) / r.bookTickerChecked).toFixed(3) : 'n/a';
      const top = r.finalTop ? `${r.finalTop.bid} × ${r.finalTop.bidQty}  /  ${r.finalTop.ask} × ${r.finalTop.askQty}` : '(book not live)';
      process.stdout.write([
        `${r.symbol}: ${r.lines} lines from ${r.files.length} file(s) (${r.badLines} bad lines skipped), ${r.rules ?? 'unknown'} rules, final state ${r.state}`,
        `  depth frames ${r.frames}, applied ${r.applied}, malformed ${r.malformed}, duplicates ${r.duplicates}`,
        `  gaps ${r.gaps}, resyncs ${r.resyncs}, crossed ${r.crossed}, stale snapshots ${r.staleSnapshots}, snapshots ${r.snapshots}`,
        `  bookTicker matched ${r.bookTickerMatched}/${r.bookTickerChecked} (${pct}%), prices only ${r.bookTickerPriceMatched}`,
        `  final top ${top}`,
        `  off-grid quantities rounded ${r.qtyRounded}; ${r.elapsedMs} ms`,
        '',
      ].join('\n'));
    });
}
