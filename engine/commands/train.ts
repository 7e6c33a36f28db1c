import type { Command } from 'commander';
// The trainers (TensorFlow.js, the datasets) are imported when a training runs, not at every start of `cobalt`.
import type { CnnTrainSummary } from '../../models/train/cnn.ts';
import { CNN_TRAIN_DEFAULTS, DQN_BDI_DEFAULTS, DQN_TRAIN_DEFAULTS } from '../../models/train/defaults.ts';
import type { DqnTrainSummary } from '../../models/train/dqn.ts';
import type { DqnBdiSummary } from '../../models/train/dqn-bdi.ts';
import type { PositionMode } from '../../models/envs/trading-env.ts';
import { ConfigError } from '../types/errors.ts';
import { parseTimeArg } from '../types/time-arg.ts';
import { fail } from './fail.ts';

const DEFAULT_OUT = 'var/checkpoints';

function int(name: string, min = 1): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

function num(name: string, lo: number, hi = Infinity): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < lo || n > hi) throw new Error(`${name} must be a number in [${lo}, ${hi}], got '${v}'`);
    return n;
  };
}

function inputKind(v: string): 'bdi' | 'klines' | 'history' {
  if (v !== 'bdi' && v !== 'klines' && v !== 'history') throw new Error(`--input must be 'bdi', 'klines' or 'history', got '${v}'`);
  return v;
}

// Options only one input reads; given (on the command line) with another they would be ignored, so they are refused.
const HISTORY_ONLY = ['store', 'archiveDir', 'archivesOnly', 'historyModel'];
const NOT_HISTORY = ['data', 'window', 'lastBars'];

// Why the options given do not fit the chosen input, or undefined.
function misplaced(cmd: Command, input: string): string | undefined {
  const are = (bad: string[]): string => `${bad.join(', ')} ${bad.length > 1 ? 'are' : 'is'}`;
  if (input === 'klines' && given(cmd, ['klinesDir']).length > 0) return '--klines-dir is for --input bdi and history; --input klines reads the --data files';
  if (input === 'history') {
    const bad = given(cmd, NOT_HISTORY);
    if (bad.length > 0) return `${are(bad)} not for --input history (rows are the recorded BaseDataInputs; cut them with --from and --until)`;
    if (cmd.getOptionValue('archivesOnly') === true) return cmd.getOptionValue('archiveDir') === undefined ? '--archives-only needs --archive-dir <dir>' : undefined;
    return cmd.getOptionValue('store') === undefined ? '--input history needs --store <path> (the daemon\'s store.path; --archives-only with --archive-dir for the archives alone)' : undefined;
  }
  const bad = given(cmd, HISTORY_ONLY);
  return bad.length > 0 ? `${are(bad)} for --input history` : undefined;
}

function historyLine(h: NonNullable<CnnTrainSummary['history']>): string {
  const c = h.counts;
  const span = h.span ? `${h.span.from} → ${h.span.to}` : 'none';
  return `history ${h.model ?? 'every model'}: ${c.read} records read (${span}), ${c.samples} samples; dropped: no label ${c.noLabel}, at kline gaps ${c.atGaps}, wrong shape ${c.wrongShape}, duplicate ticks ${c.duplicate}; off the decision grid ${c.offGrid}`
    + (c.storedCopies + c.badLines + c.unreadableArchives > 0 ? `; store: ${c.storedCopies} stored copies, ${c.badLines} bad archive lines, ${c.unreadableArchives} unreadable archives` : '');
}

function stateKind(v: string): 'bdi' | 'env' {
  if (v !== 'bdi' && v !== 'env') throw new Error(`--state must be 'bdi' or 'env', got '${v}'`);
  return v;
}

// --from and --until in parseTimeArg's forms: a date (UTC), a date-time with Z or an offset, epoch ms in 2000-2100 (a
// zoneless date-time is refused: it would be another instant on a machine in another zone). Returns why not, as a line
// for fail(): one line and exit 1, where program.error would print the whole help after it (cli.ts showHelpAfterError).
function timeSpan(o: Record<string, unknown>): { fromMs?: number; untilMs?: number } | string {
  try {
    const fromMs = o.from === undefined ? undefined : parseTimeArg('--from', o.from as string);
    const untilMs = o.until === undefined ? undefined : parseTimeArg('--until', o.until as string);
    if (fromMs !== undefined && untilMs !== undefined && fromMs >= untilMs) return `--from ${String(o.from)} is not before --until ${String(o.until)}`;
    return { ...(fromMs !== undefined ? { fromMs } : {}), ...(untilMs !== undefined ? { untilMs } : {}) };
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

// Options given on the command line (not defaults) among `names`, as `--kebab-case`: those the chosen input ignores.
function given(cmd: Command, names: readonly string[]): string[] {
  return names.filter((n) => cmd.getOptionValueSource(n) === 'cli').map((n) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

// Commander reports a thrown parser error as a plain exception; wrap so it reads as a usage error.
function checked<T>(program: Command, f: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return f(v);
    } catch (err) {
      program.error(`train: ${(err as Error).message}`);
    }
  };
}

function printCnn(s: CnnTrainSummary, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  const f = (x: { accuracy: number; logLoss: number }): string => `acc ${x.accuracy.toFixed(4)}  logloss ${x.logLoss.toFixed(4)}`;
  const lines = [
    `input ${s.input.kind} [${s.input.seqLen}, ${s.input.features}] + ${s.input.tailLen}`,
    ...(s.history ? [historyLine(s.history)] : []),
    `data ${s.dataSpan.series.join(', ')}  ${s.dataSpan.from} → ${s.dataSpan.to} (${s.dataSpan.bars} bars)  backend ${s.backend}`,
    `labels ${s.labels.samples}: BUY ${s.labels.counts.BUY}  SELL ${s.labels.counts.SELL}  HOLD ${s.labels.counts.HOLD}  (dropped at kline gaps ${s.labels.droppedAtGaps})`,
    ...s.outOfSample.folds.map((x, i) => `fold ${i + 1}: model ${f(x)}  | majority ${f(s.baselines.majority.folds[i]!)}  persistence ${f(s.baselines.persistence.folds[i]!)}  (n ${x.n})`),
    `pooled model ${f(s.outOfSample.pooled)}  | majority ${f(s.baselines.majority.pooled)}  persistence ${f(s.baselines.persistence.pooled)}  direction ${f(s.baselines.direction.pooled)}`,
    `beats baselines: logloss ${s.beatsBaselines.logLoss}  accuracy ${s.beatsBaselines.accuracy}`,
    `parity ${s.parity ? s.parity.maxAbsDiff.toExponential(2) : 'n/a'}  checkpoint ${s.checkpoint ? `${s.checkpoint.dir} (${s.checkpoint.onnxBytes} B onnx)` : `none: ${s.notSaved}`}  ${s.seconds.toFixed(1)} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function printDqn(s: DqnTrainSummary | DqnBdiSummary, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  process.stdout.write([
    `data ${s.dataSpan.series} ${s.dataSpan.from} → ${s.dataSpan.to}  fee ${s.feeRate}  mode ${s.mode}`,
    `training ${s.training.episodes} episodes, ${s.training.envSteps} steps; best validation pnl ${pct(s.validation.pnl)} at episode ${s.validation.bestAtEpisode}`,
    `held-out ${s.outOfSample.span.from} → ${s.outOfSample.span.to}: pnl ${pct(s.outOfSample.pnl)} (fees ${pct(s.outOfSample.fees)}, ${s.outOfSample.trades} trades)  buy-and-hold ${pct(s.baselines.buyAndHold)}  flat 0%`,
    `checkpoint ${s.checkpoint ? s.checkpoint.dir : 'none'}  ${s.seconds.toFixed(1)} s`,
  ].join('\n') + '\n');
}

/** Registers `cobalt train cnn|dqn`. */
export function register(program: Command): void {
  const train = program.command('train').description('Train models offline on kline files with honest out-of-sample evaluation');
  const d = CNN_TRAIN_DEFAULTS;
  train
    .command('cnn')
    .description('Walk-forward CNN training on triple-barrier labels; JSON summary compares out-of-sample figures with baselines')
    .option('--input <kind>', "'bdi': BaseDataInput rows replayed through the DataProvider, the input the engine's CNN agent feeds (models/cnn/bdi-adapter.ts); 'history': the BaseDataInputs the daemon recorded in its inference history (--store), labelled from --klines-dir; 'klines': kline windows of --data (research only, the engine cannot load it)", checked(program, inputKind), 'bdi')
    .option('--klines-dir <dirs...>', 'bdi input: kline folders (1m replayed, 1h/1d history), as config data.klinesDirs; history input: the 1m klines the labels come from (refused with --input klines)', ['data/klines'])
    .option('--store <path>', "history input: the daemon's LMDB store (config store.path), opened read-only")
    .option('--archive-dir <dir>', 'history input: its retention archives (config store.archiveDir); without it, LMDB only')
    .option('--archives-only', 'history input: train on the --archive-dir files alone, not LMDB (a store lost or moved; without it a --store that holds no store is refused)')
    .option('--history-model <name>', "history input: only this model's records (default every model's, one sample per tick)")
    .option('--from <time>', 'first decision time: no sample decides before it (all inputs); a date (UTC), a date-time with Z or an offset, or epoch ms')
    .option('--until <time>', 'no bar opening at or after this time is read, by features or labels (all inputs, applied before --last-bars); forms as --from')
    .option('--data <files...>', 'klines input: kline CSV files (gz or plain) at one timeframe; the --symbol one is labelled, the others are extra features')
    .option('--symbol <symbol>', 'symbol to label (e.g. ETH/USDT); bdi default ETH/USDT, klines default the first file')
    .option('--last-bars <n>', 'use only the newest n (aligned) bars', checked(program, int('--last-bars', 2)))
    .option('--window <n>', 'klines input: bars per feature window (bdi: always 300 frames)', checked(program, int('--window', 2)), d.window)
    .option('--stride <n>', 'take every n-th labelled bar as a sample (bdi: a decision every n minutes)', checked(program, int('--stride')), d.stride)
    .option('--vol-window <n>', 'bars of the rolling volatility', checked(program, int('--vol-window', 2)), d.volWindow)
    .option('--horizon <n>', 'time barrier, bars', checked(program, int('--horizon')), d.horizon)
    .option('--pt <mult>', 'profit-take barrier, multiples of volatility', checked(program, num('--pt', 1e-9)), d.ptMult)
    .option('--sl <mult>', 'stop-loss barrier, multiples of volatility', checked(program, num('--sl', 1e-9)), d.slMult)
    .option('--folds <n>', 'walk-forward test folds', checked(program, int('--folds')), d.folds)
    .option('--test-fraction <f>', 'share of samples in the test folds', checked(program, num('--test-fraction', 0.01, 0.9)), d.testFraction)
    .option('--embargo <bars>', 'bars after each test window no training sample may start in (default = horizon)', checked(program, int('--embargo', 0)))
    .option('--epochs <n>', 'passes over each fold\'s training part', checked(program, num('--epochs', 1e-6)), d.epochs)
    .option('--max-steps <n>', 'optimizer steps per fold, at most', checked(program, int('--max-steps')), d.maxSteps)
    .option('--batch <n>', 'batch size', checked(program, int('--batch')), d.batch)
    .option('--lr <rate>', 'Adam learning rate', checked(program, num('--lr', 1e-9, 1)), d.learningRate)
    .option('--channels <n>', 'channels per convolution', checked(program, int('--channels')), d.channels)
    .option('--hidden <n>', 'hidden vector size', checked(program, int('--hidden')), d.hidden)
    .option('--seed <n>', 'seed', checked(program, int('--seed', 0)), d.seed)
    .option('--out <dir>', 'checkpoint root', DEFAULT_OUT)
    .option('--no-save', 'evaluate only; save no checkpoint')
    .option('--model-name <name>', 'checkpoint model name', d.modelName)
    .option('--json', 'print the summary as one JSON line')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const wrong = misplaced(cmd, o.input as string);
      if (wrong !== undefined) program.error(`train cnn: ${wrong}`);
      const span = timeSpan(o);
      if (typeof span === 'string') return fail(`train cnn: ${span}`);
      try {
        const { trainCnn } = await import('../../models/train/cnn.ts');
        const s = await trainCnn({
          input: o.input as 'bdi' | 'klines' | 'history', klinesDirs: o.klinesDir as string[],
          ...(o.input === 'history' ? { history: {
            ...(o.store !== undefined ? { storePath: o.store as string } : {}), ...(o.archiveDir ? { archiveDir: o.archiveDir as string } : {}),
            ...(o.historyModel ? { model: o.historyModel as string } : {}), ...(o.archivesOnly === true ? { archivesOnly: true } : {}),
          } } : {}),
          ...(o.data ? { data: o.data as string[] } : {}), ...(o.symbol ? { symbol: o.symbol as string } : {}), ...(o.lastBars ? { lastBars: o.lastBars as number } : {}),
          ...span, window: o.window as number, stride: o.stride as number, volWindow: o.volWindow as number, horizon: o.horizon as number,
          ptMult: o.pt as number, slMult: o.sl as number, folds: o.folds as number, testFraction: o.testFraction as number,
          ...(o.embargo !== undefined ? { embargo: o.embargo as number } : {}),
          epochs: o.epochs as number, maxSteps: o.maxSteps as number, batch: o.batch as number, learningRate: o.lr as number,
          channels: o.channels as number, hidden: o.hidden as number, seed: o.seed as number,
          ...(o.save === false ? {} : { out: o.out as string }), modelName: o.modelName as string,
        });
        printCnn(s.summary, o.json === true);
        if (s.summary.parity && !s.summary.parity.ok) process.exitCode = 1;
      } catch (err) {
        program.error(`train cnn: ${(err as Error).message}`);
      }
    });

  const q = DQN_TRAIN_DEFAULTS;
  const b = DQN_BDI_DEFAULTS;
  const both = (name: string, bdi: unknown, env: unknown): string => `${name} (default ${String(bdi)} with --state bdi, ${String(env)} with --state env)`;
  train
    .command('dqn')
    .description("Train the DQN; greedy held-out PnL after fees beside buy-and-hold and flat on the same span. --state bdi (default): the engine's RL state from BaseDataInputs replayed through the DataProvider (the only kind the engine loads); --state env: trading-env features of --data (research)")
    .option('--state <kind>', "'bdi' or 'env'", checked(program, stateKind), 'bdi')
    .option('--klines-dir <dirs...>', 'bdi: kline folders (1m replayed, 1h/1d history), as config data.klinesDirs (refused with --state env)', ['data/klines'])
    .option('--from <time>', 'bdi: first decision time: a date (UTC), a date-time with Z or an offset, or epoch ms (refused with --state env)')
    .option('--until <time>', 'bdi: no bar opening at or after this time is read; forms as --from (refused with --state env)')
    .option('--every <minutes>', 'bdi: a decision every n minutes (refused with --state env)', checked(program, int('--every')), b.everyMinutes)
    .option('--data <files...>', 'env: kline CSV files; the --symbol one is traded (the others only matter with --cnn)')
    .option('--symbol <symbol>', 'symbol to trade (bdi default ETH/USDT; env default the first file)')
    .option('--last-bars <n>', 'env: use only the newest n aligned bars', checked(program, int('--last-bars', 2)))
    .option('--window <n>', 'env: log returns in the state', checked(program, int('--window')), q.window)
    .option('--vol-window <n>', 'env: bars of the volatility that scales the returns', checked(program, int('--vol-window', 2)), q.volWindow)
    .option('--fee <rate>', 'fee per unit of notional traded', checked(program, num('--fee', 0, 0.1)), q.feeRate)
    .option('--mode <mode>', 'env: long-flat or long-short (bdi: long-flat)', q.mode)
    .option('--episode-length <n>', both('steps per training episode', b.episodeLength, q.episodeLength), checked(program, int('--episode-length', 2)))
    .option('--episodes <n>', both('training episodes, at most', b.episodes, q.episodes), checked(program, int('--episodes')))
    .option('--max-steps <n>', 'environment steps budget (checked after each episode)', checked(program, int('--max-steps')), q.maxSteps)
    .option('--test-fraction <f>', both('newest share held out for the test', b.testFraction, q.testFraction), checked(program, num('--test-fraction', 0.01, 0.9)))
    .option('--val-fraction <f>', both('share before the test used to pick the best weights', b.valFraction, q.valFraction), checked(program, num('--val-fraction', 0.01, 0.9)))
    .option('--eval-every <n>', 'validation run every n episodes', checked(program, int('--eval-every')), q.evalEvery)
    .option('--cnn <which>', "bdi: 'bundled' (default), 'none' (CNN slots zeroed, here and in the engine) or a CNN checkpoint dir, run on each row to fill the CNN slots; env: a CNN checkpoint dir whose hidden vector joins the state")
    .option('--seed <n>', 'seed', checked(program, int('--seed', 0)), q.seed)
    .option('--out <dir>', 'checkpoint root', DEFAULT_OUT)
    .option('--no-save', 'evaluate only; save no checkpoint')
    .option('--model-name <name>', 'checkpoint model name', q.modelName)
    .option('--json', 'print the summary as one JSON line')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      if (o.mode !== 'long-flat' && o.mode !== 'long-short') program.error(`train dqn: --mode must be long-flat or long-short, not '${String(o.mode)}'`);
      const bdi = o.state === 'bdi';
      const bdiOnly = bdi ? [] : given(cmd, ['klinesDir', 'from', 'until', 'every']);
      if (bdiOnly.length > 0) program.error(`train dqn: ${bdiOnly.join(', ')} ${bdiOnly.length > 1 ? 'are' : 'is'} for --state bdi; --state env uses all of --data (cut it with --last-bars)`);
      if (bdi && (o.data !== undefined || o.lastBars !== undefined)) program.error('train dqn: --data and --last-bars are for --state env; --state bdi reads --klines-dir');
      if (bdi && o.mode !== 'long-flat') program.error('train dqn: --state bdi trades long-flat only');
      if (!bdi && o.data === undefined) program.error('train dqn: --state env needs --data <files...>');
      const span = timeSpan(o);
      if (typeof span === 'string') return fail(`train dqn: ${span}`);
      const pick = <T>(v: unknown, bdiDefault: T, envDefault: T): T => (v === undefined ? (bdi ? bdiDefault : envDefault) : v as T);
      const shared = {
        feeRate: o.fee as number, episodeLength: pick(o.episodeLength, b.episodeLength, q.episodeLength), episodes: pick(o.episodes, b.episodes, q.episodes),
        maxSteps: o.maxSteps as number, testFraction: pick(o.testFraction, b.testFraction, q.testFraction), valFraction: pick(o.valFraction, b.valFraction, q.valFraction),
        evalEvery: o.evalEvery as number, seed: o.seed as number, ...(o.save === false ? {} : { out: o.out as string }), modelName: o.modelName as string,
      };
      try {
        const { trainDqnBdi } = await import('../../models/train/dqn-bdi.ts');
        const { trainDqn } = await import('../../models/train/dqn.ts');
        const s = bdi
          ? await trainDqnBdi({
            ...shared, klinesDirs: o.klinesDir as string[], ...(o.symbol ? { symbol: o.symbol as string } : {}),
            ...span, everyMinutes: o.every as number, cnn: (o.cnn as string | undefined) ?? b.cnn, closesScale: b.closesScale, hidden: [...b.hidden], rewardScale: b.rewardScale,
          })
          : await trainDqn({
            ...shared, data: o.data as string[], ...(o.symbol ? { symbol: o.symbol as string } : {}), ...(o.lastBars ? { lastBars: o.lastBars as number } : {}),
            window: o.window as number, volWindow: o.volWindow as number, mode: o.mode as PositionMode,
            hidden: [...q.hidden], rewardScale: q.rewardScale, ...(o.cnn ? { cnn: o.cnn as string } : {}),
          });
        printDqn(s, o.json === true);
      } catch (err) {
        program.error(`train dqn: ${(err as Error).message}`);
      }
    });
}
