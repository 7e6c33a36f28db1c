// Offline DQN training on the trading environment with a held-out evaluation. The bars are cut in time order into
// train | validation | test. The agent learns on random episodes of the train span; every few episodes it plays the
// validation span greedily and the best weights so far are kept (model selection never sees the test span); the
// kept weights then play the test span once, greedily, beside buy-and-hold and staying flat on the same bars. The
// checkpoint is ranked by that validation PnL; the test PnL is recorded beside it, never ranked.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputValidationError } from '../../engine/types/errors.ts';
import { CheckpointStore, SELECTION_METRICS } from '../checkpoints.ts';
import { klineWindow } from '../cnn/kline-features.ts';
import { loadCnn } from '../cnn/weights-io.ts';
import { saveDqn } from '../dqn/io.ts';
import { barStepMs } from '../data.ts';
import { buyAndHoldReturn, TradingEnv, type ExtraFeatures, type PositionMode, type TradingEnvOptions } from '../envs/trading-env.ts';
import { initTfBackend } from '../tf-backend.ts';
import { loadAlignedKlines, type AlignedSeries } from './dataset.ts';
import { cnnSpanConflict, greedyRun, tradingAgent, trainWithValidation, type DqnLoopOptions, type SpanResult } from './dqn-loop.ts';
import { dataSpan, hashOf, type DataSpan } from './report.ts';

/** Everything `cobalt train dqn` can be told. */
export interface DqnTrainOptions extends DqnLoopOptions {
  readonly data: readonly string[];
  readonly symbol?: string;
  readonly lastBars?: number;
  /** Log returns in the state. */
  readonly window: number;
  readonly volWindow: number;
  readonly feeRate: number;
  readonly mode: PositionMode;
  readonly testFraction: number;
  readonly valFraction: number;
  readonly rewardScale: number;
  /** CNN checkpoint directory: its hidden vector at each bar joins the state. */
  readonly cnn?: string;
  readonly out?: string;
  readonly modelName: string;
}

export { DQN_TRAIN_DEFAULTS } from './defaults.ts';

export type { SpanResult } from './dqn-loop.ts';

/** The JSON summary `cobalt train dqn --json` prints. */
export interface DqnTrainSummary {
  readonly outOfSample: SpanResult;
  readonly baselines: { readonly buyAndHold: number; readonly flat: number };
  readonly beatsBuyAndHold: boolean;
  readonly validation: SpanResult & { readonly bestAtEpisode: number };
  readonly training: { readonly episodes: number; readonly envSteps: number; readonly gradSteps: number; readonly span: DataSpan; readonly meanEpisodeReward: number };
  /**
   * unmatchedBars: bars of any file with no bar at the same open time in every other file, lost to the inner join
   * (a hole in the aligned series). flatAtGaps: steps from a bar to the next across a hole in the bars traded
   * (train, validation and test), over which the env holds no position.
   */
  readonly gaps: { readonly unmatchedBars: number; readonly flatAtGaps: number };
  readonly features: { readonly returnsWindow: number; readonly cnnHidden: number; readonly cnnCheckpoint: string | null; readonly stateSize: number };
  readonly feeRate: number;
  readonly mode: PositionMode;
  readonly backend: string;
  readonly dataSpan: DataSpan & { readonly series: string };
  readonly configHash: string;
  readonly checkpoint: { readonly dir: string; readonly version: string; readonly kept: boolean } | null;
  readonly seconds: number;
}

/** Trains, selects on validation, evaluates on the test span, and checkpoints by validation PnL when `out` is set. */
export async function trainDqn(opts: DqnTrainOptions): Promise<DqnTrainSummary> {
  const started = performance.now();
  let aligned = loadAlignedKlines(opts.data, opts.symbol);
  if (opts.lastBars !== undefined) {
    const from = Math.max(0, aligned.openTimeMs.length - opts.lastBars);
    aligned = { ...aligned, openTimeMs: aligned.openTimeMs.slice(from), series: aligned.series.map((c) => ({ ...c, openTimeMs: c.openTimeMs.slice(from), open: c.open.slice(from), high: c.high.slice(from), low: c.low.slice(from), close: c.close.slice(from), volume: c.volume.slice(from) })) };
  }
  const close = aligned.series[0]!.close;
  const n = close.length;
  const testFrom = n - Math.floor(n * opts.testFraction);
  const valFrom = testFrom - Math.floor(n * opts.valFraction);
  const extra = opts.cnn ? await cnnHiddenFeatures(opts.cnn, aligned, valFrom, testFrom) : undefined;
  const first = Math.max(opts.window, opts.volWindow, extra?.firstBar ?? 0);
  if (!(first < valFrom - opts.episodeLength - 1 && valFrom + 2 <= testFrom && testFrom + 2 <= n)) {
    throw new InputValidationError(`${n} bars cannot hold a ${opts.episodeLength}-bar training episode after ${first} warm-up bars plus validation (${testFrom - valFrom}) and test (${n - testFrom}) spans`);
  }
  const step = barStepMs(aligned.openTimeMs);
  const flatAtGaps = new Set<number>();
  for (let t = first; t + 1 < n; t++) if (aligned.openTimeMs[t + 1]! - aligned.openTimeMs[t]! !== step) flatAtGaps.add(t);
  const env = (from: number, to: number, episodeLength?: number, seed = opts.seed): TradingEnv => new GapFlatTradingEnv(flatAtGaps, {
    close, from, to, window: opts.window, volWindow: opts.volWindow, feeRate: opts.feeRate, mode: opts.mode,
    rewardScale: opts.rewardScale, seed, ...(episodeLength ? { episodeLength } : {}), ...(extra ? { extra: extra.features } : {}),
  });
  const trainEnv = env(first, valFrom, opts.episodeLength);
  const valEnv = env(valFrom, testFrom);
  const testEnv = env(testFrom, n);
  const agent = tradingAgent(trainEnv.stateSize, opts);
  const valSpan = dataSpan(aligned.openTimeMs, valFrom, testFrom - 1);
  const { best, episodes, rewardSum } = trainWithValidation(agent, trainEnv, valEnv, valSpan, opts);
  const test = greedyRun(agent, testEnv, dataSpan(aligned.openTimeMs, testFrom, n - 1));
  const buyAndHold = buyAndHoldReturn(close, testFrom, n - 1, opts.feeRate);
  const configHash = hashOf({ ...opts, data: aligned.names, out: undefined, progress: undefined });
  const trainSpan = dataSpan(aligned.openTimeMs, first - Math.max(opts.window, opts.volWindow), valFrom - 1);
  let checkpoint: DqnTrainSummary['checkpoint'] = null;
  if (opts.out !== undefined) {
    const store = new CheckpointStore({ root: opts.out, keep: 5 });
    const saved = await store.save({
      // Ranked by the validation PnL that picked the weights; the test PnL is reported, never ranked (checkpoints.ts).
      model: opts.modelName, metric: { ...SELECTION_METRICS.dqn, value: best.result.pnl }, testMetric: { name: 'heldOutPnl', value: test.pnl, higherIsBetter: true },
      dataSpan: { fromMs: trainSpan.fromMs, toMs: trainSpan.toMs }, validationSpan: { fromMs: valSpan.fromMs, toMs: valSpan.toMs },
      configHash, backend: 'js-mlp',
      write: async (dir) => saveDqn(agent, dir, { test, validation: best.result, buyAndHold, cnn: opts.cnn ?? null, window: opts.window, volWindow: opts.volWindow, feeRate: opts.feeRate, mode: opts.mode }),
    });
    checkpoint = { dir: saved.dir, version: saved.meta.version, kept: saved.kept };
  }
  return {
    outOfSample: test,
    baselines: { buyAndHold, flat: 0 },
    beatsBuyAndHold: test.pnl > buyAndHold,
    validation: { ...best.result, bestAtEpisode: best.episode },
    training: { episodes, envSteps: agent.steps, gradSteps: agent.updates, span: trainSpan, meanEpisodeReward: rewardSum / Math.max(1, episodes) },
    gaps: { unmatchedBars: aligned.unmatched, flatAtGaps: flatAtGaps.size },
    features: { returnsWindow: opts.window, cnnHidden: extra?.features.size ?? 0, cnnCheckpoint: opts.cnn ?? null, stateSize: trainEnv.stateSize },
    feeRate: opts.feeRate, mode: opts.mode,
    backend: extra ? `js-mlp + ${extra.backend} (cnn features)` : 'js-mlp',
    dataSpan: { ...dataSpan(aligned.openTimeMs, 0, n - 1), series: aligned.names[0]! },
    configHash, checkpoint, seconds: (performance.now() - started) / 1000,
  };
}

/**
 * A TradingEnv that closes the position on the bar before a hole, whatever the action: across the hole the price
 * moves over minutes or hours nobody could trade, so no equity (or reward) may ride on it. The returns window of the
 * state still reads across the hole; only the position is kept off it.
 */
export class GapFlatTradingEnv extends TradingEnv {
  constructor(private readonly flat: ReadonlySet<number>, opts: TradingEnvOptions) {
    super(opts);
  }

  protected override targetPosition(action: number): number {
    const target = super.targetPosition(action);
    return this.flat.has(this.t) ? 0 : target;
  }
}

/**
 * Returns the hidden vector of a saved CNN at every bar, computed from the window ending at that bar (no later data).
 * Refuses a CNN whose training data reaches into the DQN's validation or test span: its features there would carry
 * those bars' labels, and validation picks the DQN's weights.
 */
async function cnnHiddenFeatures(dir: string, aligned: AlignedSeries, valFrom: number, testFrom: number): Promise<{ features: ExtraFeatures; firstBar: number; backend: string }> {
  const backend = await initTfBackend();
  const meta = JSON.parse(await readFile(path.join(dir, 'checkpoint.json'), 'utf8')) as { dataSpan: { toMs: number } };
  const report = JSON.parse(await readFile(path.join(dir, 'train-report.json'), 'utf8')) as { features: { kind: string; series: string[]; window: number } };
  if (report.features.kind !== 'klines') throw new InputValidationError(`${dir}: CNN trained on '${report.features.kind}' features, the DQN builds kline features`);
  if (report.features.series.join(',') !== aligned.names.join(',')) {
    throw new InputValidationError(`${dir}: CNN was trained on series [${report.features.series.join(', ')}], --data gives [${aligned.names.join(', ')}] (same files, same order, primary first)`);
  }
  const t = aligned.openTimeMs;
  const conflict = valFrom < testFrom && testFrom < t.length
    ? cnnSpanConflict(meta.dataSpan.toMs, { fromMs: t[valFrom]!, toMs: t[testFrom - 1]! }, { fromMs: t[testFrom]!, toMs: t[t.length - 1]! })
    : undefined;
  if (conflict) {
    throw new InputValidationError(`${dir}: ${conflict}: train the DQN on later data (--data, --last-bars, or a smaller --val-fraction and --test-fraction) so that its validation span starts after ${new Date(meta.dataSpan.toMs).toISOString()}, or a CNN trained on data ending before ${new Date(t[valFrom]!).toISOString()}`);
  }
  const { model } = await loadCnn(dir);
  const w = report.features.window;
  const h = model.config.hidden;
  const n = aligned.openTimeMs.length;
  const first = w; // klineWindow(end = t + 1) needs bar t − w
  const hidden = new Float32Array(n * h);
  const batch = 256;
  for (let t = first; t < n; t += batch) {
    const m = Math.min(batch, n - t);
    const x = new Float32Array(m * w * model.config.features);
    for (let k = 0; k < m; k++) x.set(klineWindow(aligned.series, t + k + 1, w), k * w * model.config.features);
    hidden.set(model.predict(x, m).hidden, t * h);
  }
  model.dispose();
  return { features: { size: h, at: (bar) => hidden.subarray(bar * h, (bar + 1) * h) }, firstBar: first, backend: backend.backend };
}
