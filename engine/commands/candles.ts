import type { Command } from 'commander';
import { DataProvider } from '../../actors/data-provider/provider.ts';
import { formatKlinesCsv } from '../market/klines-csv.ts';
import type { EngineMsg } from '../messages/index.ts';
import type { Candle } from '../messages/market.ts';
import { Bus } from '../runtime/bus.ts';
import { SimulatedClock } from '../runtime/clock.ts';
import type { Timeframe } from '../types/time.ts';
import { replayInstrument } from '../venues/replay/book-replay.ts';
import { ReplayFeed } from '../venues/replay/replay-feed.ts';
import type { FeedCounters } from '../venues/feed.ts';

const TIMEFRAMES: readonly Timeframe[] = ['1s', '1m', '1h', '1d'];

/** What `candlesFromRecordings` returns: every bar the DataProvider closed, oldest first, and the replay figures. */
export interface CandlesResult {
  readonly symbol: string;
  readonly timeframe: Timeframe;
  readonly candles: Candle[];
  /** The replay feed's counters. */
  readonly replay: FeedCounters;
  /** Rolled-up bars left out because a finer bar of their period was missing (the partial first and last ones). */
  readonly partialRollups: number;
}

/**
 * Returns the closed `timeframe` bars a DataProvider builds from the trades of `files` (no kline history, no REST):
 * only whole bars, so a minute the recording starts or ends inside is left out.
 */
export async function candlesFromRecordings(files: readonly string[], symbol: string, timeframe: Timeframe): Promise<CandlesResult> {
  const inst = replayInstrument(symbol);
  const bus = new Bus<EngineMsg>();
  // No history is loaded and the timers start with the first trade, so the clock may start at 0.
  const clock = new SimulatedClock(0);
  const dp = new DataProvider({ bus, clock, primary: inst.symbol, reference: inst.symbol, instruments: new Map([[inst.symbol, inst]]), maintenanceMs: 0 });
  const candles: Candle[] = [];
  bus.subscribe('md.candle', (m) => {
    if (m.symbol === inst.symbol && m.timeframe === timeframe && m.candle.closed) candles.push(m.candle);
  });
  await dp.start();
  const feed = new ReplayFeed({ bus, clock, files, instruments: [inst], kinds: ['trade'] });
  await feed.start();
  await feed.done;
  dp.stop();
  return { symbol: inst.symbol, timeframe, candles, replay: feed.counters, partialRollups: dp.stats.partialRollups };
}

/** Registers `cobalt candles --replay FILE… --symbol S --timeframe 1s|1m|1h|1d [--csv]`. */
export function register(program: Command): void {
  program
    .command('candles')
    .description('Print the candles the DataProvider builds from a recording\'s trades (whole bars only)')
    .requiredOption('--replay <files...>', 'recording files (gz or plain); several symbols and consecutive days are merged')
    .requiredOption('--symbol <symbol>', 'symbol, BTC/USDT or BTCUSDT')
    .option('--timeframe <tf>', 'bar length: 1s, 1m, 1h or 1d', '1m')
    .option('--csv', 'print the bars as open_time_ms,open_time_utc,open,high,low,close,volume (the data/klines layout)')
    .action(async (o: { replay: string[]; symbol: string; timeframe: string; csv?: boolean }) => {
      if (!TIMEFRAMES.includes(o.timeframe as Timeframe)) return fail(`candles: --timeframe must be one of ${TIMEFRAMES.join(', ')}, not '${o.timeframe}'`);
      let r: CandlesResult;
      try {
        r = await candlesFromRecordings(o.replay, o.symbol, o.timeframe as Timeframe);
      } catch (err) {
        return fail(`candles: ${(err as Error).message}`);
      }
      if (o.csv) {
        process.stdout.write(formatKlinesCsv(r.candles));
        return;
      }
      process.stdout.write(`${JSON.stringify({ symbol: r.symbol, timeframe: r.timeframe, count: r.candles.length, partialRollups: r.partialRollups, replay: r.replay, candles: r.candles })}\n`);
    });
}

// A bad file or option is the user's input, not a usage error: say what was wrong, without the whole help text.
function fail(message: string): void {
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
}
