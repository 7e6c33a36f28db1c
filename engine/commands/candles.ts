import type { Command } from 'commander';
import { DataProvider } from '../../actors/data-provider/provider.ts';
import { instrumentSpecsOf } from '../config/schema.ts';
import { loadConfig } from '../config/load.ts';
import { formatKlinesCsv } from '../market/klines-csv.ts';
import type { InstrumentSpec } from '../types/instrument.ts';
import type { EngineMsg } from '../messages/index.ts';
import type { Candle } from '../messages/market.ts';
import { Bus } from '../runtime/bus.ts';
import { SimulatedClock } from '../runtime/clock.ts';
import { timeframeMs, type Timeframe } from '../types/time.ts';
import { replayInstrument } from '../venues/replay/book-replay.ts';
import { ReplayFeed, type ReplayFeedCounters } from '../venues/replay/replay-feed.ts';
import { fail } from './fail.ts';

const TIMEFRAMES: readonly Timeframe[] = ['1s', '1m', '1h', '1d'];

/** What `candlesFromRecordings` returns: every bar the DataProvider closed, oldest first, and the replay figures. */
export interface CandlesResult {
  readonly symbol: string;
  readonly timeframe: Timeframe;
  readonly candles: Candle[];
  /** The replay feed's counters (bad lines and trade-id gaps included). */
  readonly replay: ReplayFeedCounters;
  /** Rolled-up bars left out because a finer bar of their period was missing (the partial first and last ones). */
  readonly partialRollups: number;
  /** 1s bars left out because the trade stream may have begun inside them (the first one, the first after a hole). */
  readonly partialBars: number;
  /** Trades that came after a later trade's bar had closed (trade times out of order): not in any bar. */
  readonly lateTrades: number;
  /** Bars left out because a late trade belonged to them. */
  readonly lateBars: number;
}

/**
 * Returns the closed `timeframe` bars a DataProvider builds from the trades of `files` (no kline history, no REST),
 * by trade time, whatever the receive clock says: only whole bars, so a bar the recording starts or ends inside, one
 * over a hole in the trade ids, and one a late trade belonged to are left out. Throws when `symbol` is not recorded
 * or a trade time is impossible (see MAX_QUIET_MS). `specs`: the known increments (a config's instrumentSpecsOf;
 * default the bundled ones).
 */
export async function candlesFromRecordings(files: readonly string[], symbol: string, timeframe: Timeframe, specs?: Readonly<Record<string, InstrumentSpec>>): Promise<CandlesResult> {
  const inst = replayInstrument(symbol, undefined, undefined, specs);
  let feed: ReplayFeed | undefined;
  let failure: unknown;
  const bus = new Bus<EngineMsg>({
    onHandlerError: (f) => {
      failure ??= f.error;
      void feed?.stop();
    },
  });
  // No history is loaded and bars close by trades (no timers), so the clock may start at 0 and jump anywhere.
  const clock = new SimulatedClock(0);
  const dp = new DataProvider({
    bus, clock, primary: inst.symbol, reference: inst.symbol, instruments: new Map([[inst.symbol, inst]]), maintenanceMs: 0, closeBy: 'trades',
  });
  const candles: Candle[] = [];
  bus.subscribe('md.candle', (m) => {
    if (m.symbol === inst.symbol && m.timeframe === timeframe && m.candle.closed) candles.push(m.candle);
  });
  await dp.start();
  // Runs after the DataProvider's handler: a trade it just counted late marks its bar as missing a trade.
  const tfMs = timeframeMs(timeframe);
  const lossy = new Set<number>();
  let late = 0;
  bus.subscribe('md.trade', (t) => {
    if (dp.stats.lateTrades === late) return;
    late = dp.stats.lateTrades;
    lossy.add(Math.floor(t.tsExchange / tfMs) * tfMs);
  });
  try {
    feed = new ReplayFeed({ bus, clock, files, instruments: [inst], kinds: ['trade'], requireInstruments: true });
    await feed.start();
    await feed.done;
  } finally {
    dp.stop();
  }
  if (failure !== undefined) throw failure;
  const whole = candles.filter((c) => !lossy.has(c.openTime));
  return {
    symbol: inst.symbol, timeframe, candles: whole, replay: feed.counters, partialRollups: dp.stats.partialRollups, partialBars: dp.stats.partialBars,
    lateTrades: dp.stats.lateTrades, lateBars: candles.length - whole.length,
  };
}

/** Registers `cobalt candles --replay FILE… --symbol S --timeframe 1s|1m|1h|1d [--csv]`. */
export function register(program: Command): void {
  program
    .command('candles')
    .description('Print the candles the DataProvider builds from a recording\'s trades, by trade time (whole bars only)')
    .requiredOption('--replay <files...>', 'recording files (gz or plain); several symbols and consecutive days are merged')
    .requiredOption('--symbol <symbol>', 'symbol, BTC/USDT or BTCUSDT')
    .option('--timeframe <tf>', 'bar length: 1s, 1m, 1h or 1d', '1m')
    .option('--csv', 'print the bars as open_time_ms,open_time_utc,open,high,low,close,volume (the data/klines layout)')
    .option('--config <file>', 'engine config whose instruments give the increments of a symbol that is not bundled')
    .action(async (o: { replay: string[]; symbol: string; timeframe: string; csv?: boolean; config?: string }) => {
      if (!TIMEFRAMES.includes(o.timeframe as Timeframe)) return fail(`candles: --timeframe must be one of ${TIMEFRAMES.join(', ')}, not '${o.timeframe}'`);
      let r: CandlesResult;
      try {
        r = await candlesFromRecordings(o.replay, o.symbol, o.timeframe as Timeframe, o.config ? instrumentSpecsOf(loadConfig(o.config).config) : undefined);
      } catch (err) {
        return fail(`candles: ${(err as Error).message}`);
      }
      if (o.csv) {
        process.stdout.write(formatKlinesCsv(r.candles));
        // The CSV has no room for them: what the bars do not hold goes to stderr.
        const { badLines, tradeIdGaps } = r.replay;
        if (badLines + tradeIdGaps + r.lateTrades > 0) {
          process.stderr.write(`candles: ${badLines} bad lines skipped, ${tradeIdGaps} trade-id gaps (bars over them left out), ${r.lateTrades} late trades (${r.lateBars} bars left out)\n`);
        }
        return;
      }
      process.stdout.write(`${JSON.stringify({
        symbol: r.symbol, timeframe: r.timeframe, count: r.candles.length, partialRollups: r.partialRollups, partialBars: r.partialBars,
        lateTrades: r.lateTrades, lateBars: r.lateBars, badLines: r.replay.badLines, tradeIdGaps: r.replay.tradeIdGaps, replay: r.replay, candles: r.candles,
      })}\n`);
    });
}
