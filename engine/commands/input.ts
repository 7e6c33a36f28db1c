import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { cobSettingsFromConfig } from '../../actors/cob-aggregator/logic.ts';
import { CobAggregator } from '../../actors/cob-aggregator/logic.ts';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import { DataProvider, defaultInstruments } from '../../actors/data-provider/provider.ts';
import { recordingStartMs } from '../../actors/data-provider/replay.ts';
import { summarizeInput, type InputSummary } from '../../actors/data-provider/summary.ts';
import { configSchema, instrumentSpecsOf, type Config } from '../config/schema.ts';
import { loadConfig } from '../config/load.ts';
import { log } from '../log.ts';
import type { EngineMsg } from '../messages/index.ts';
import { Bus } from '../runtime/bus.ts';
import { SimulatedClock } from '../runtime/clock.ts';
import { ModelOutputStore } from '../store/model-output-store.ts';
import { ConfigError } from '../types/errors.ts';
import { ReplayFeed, type ReplayFeedCounters } from '../venues/replay/replay-feed.ts';
import { fail } from './fail.ts';

/** What `inputFromRecordings` returns: the summary of the BaseDataInput assembled when the replay ended. */
export interface InputResult extends InputSummary {
  readonly replay: ReplayFeedCounters;
  readonly backfilledBars: number;
  readonly partialRollups: number;
}

/**
 * Replays `files` through a DataProvider (history from the kline CSVs of `config.data.klinesDirs`) and a
 * CobAggregator on a SimulatedClock, then assembles the BaseDataInput and returns its summary. Throws a ConfigError
 * naming a kline directory that does not exist (the archive would skip it and load no history).
 */
export async function inputFromRecordings(files: readonly string[], config: Config): Promise<InputResult> {
  for (const dir of config.data.klinesDirs) {
    let isDir: boolean;
    try {
      isDir = statSync(dir).isDirectory();
    } catch (err) {
      throw new ConfigError(`kline directory ${dir} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    if (!isDir) throw new ConfigError(`kline directory ${dir} is not a directory`);
  }
  const { primary, reference } = config.symbols;
  const instruments = defaultInstruments([primary, reference], instrumentSpecsOf(config));
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(await recordingStartMs(files));
  const feed = new ReplayFeed({ bus, clock, files, instruments: [...instruments.values()] });
  const cob = new CobAggregator({
    bus, clock, snapshots: feed, settings: cobSettingsFromConfig(config.cob),
    symbols: [...instruments.values()].map((inst) => ({ symbol: inst.symbol, bucketSize: config.symbols.cobBucketSize[inst.symbol]!, venues: [inst] })),
  });
  const dp = new DataProvider({
    bus, clock, primary, reference, instruments, history: new KlinesArchive(config.data.klinesDirs, log()), cob, modelOutputs: new ModelOutputStore(),
  });
  cob.start();
  await dp.start();
  await feed.start();
  await feed.done;
  // Let a maintenance pass started by the last timer finish before reading the series.
  await dp.maintain();
  const bdi = dp.assembleInput();
  dp.stop();
  cob.stop();
  return { ...summarizeInput(dp, bdi), replay: feed.counters, backfilledBars: dp.stats.backfilledBars, partialRollups: dp.stats.partialRollups };
}

/** Registers `cobalt input --replay FILE… [--klines DIR…] [--config FILE] [--json]`. */
export function register(program: Command): void {
  program
    .command('input')
    .description('Replay recordings through the DataProvider and the COB aggregator and print the last BaseDataInput summary')
    .requiredOption('--replay <files...>', 'recording files (gz or plain); several symbols and consecutive days are merged')
    .option('--klines <dirs...>', 'kline CSV directories for history (default: config data.klinesDirs, else data/klines)')
    .option('--config <file>', 'engine config (symbols, instruments, cob settings, klinesDirs); defaults otherwise')
    .option('--json', 'print one JSON object')
    .action(async (o: { replay: string[]; klines?: string[]; config?: string; json?: boolean }) => {
      let r: InputResult;
      try {
        const base = o.config ? loadConfig(o.config).config : configSchema.parse({});
        const klinesDirs = o.klines ?? (base.data.klinesDirs.length > 0 ? base.data.klinesDirs : ['data/klines']);
        r = await inputFromRecordings(o.replay, { ...base, data: { ...base.data, klinesDirs } });
      } catch (err) {
        return fail(`input: ${(err as Error).message}`);
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      const lines = [
        `BaseDataInput at ${r.time}: completeness ${r.completeness.toFixed(3)}, can infer: ${r.canInfer}, ${r.featureLength} features`,
        ...Object.entries(r.series).map(([s, n]) => `  ${s}: ${Object.entries(n).map(([tf, k]) => `${tf} ${k}`).join(', ')}`),
        `  quality ${JSON.stringify(r.quality)}`,
        `  COB buckets ${JSON.stringify(r.buckets)}; imbalance MA ${JSON.stringify(r.imbalanceMA)}`,
        `  pivots per level ${JSON.stringify(r.pivots)}`,
        `  recording: ${r.replay.frames} lines, ${r.replay.badLines} bad lines skipped, ${r.replay.malformed} malformed, ${r.replay.tradeIdGaps} trade-id gaps`,
        ...r.reasons.map((x) => `  - ${x}`),
        '',
      ];
      process.stdout.write(lines.join('\n'));
    });
}
