// Offline CNN training with honest out-of-sample evaluation: triple-barrier labels, purged and embargoed
// walk-forward folds, one fresh model per fold trained only on its training part, every figure measured on the
// fold's test part beside baselines scored on exactly the same samples. The last fold's model (the one trained on
// the most data) is exported to ONNX, checked against tfjs and saved as a checkpoint ranked by the pooled log loss of
// the folds before the last (no data of its own test fold went into it), as skill over the majority prior on the same
// rows (CNN_RANK_METRIC); its own test log loss is reported, never ranked.
// Samples come from a dataset provider (samples.ts): BaseDataInput rows replayed through the DataProvider
// (`input: 'bdi'`, what the engine's CNN agent feeds), the BaseDataInputs the daemon recorded in its inference history
// (`input: 'history'`, history-dataset.ts: the same input kind) or kline windows (`input: 'klines'`, research only).
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { log } from '../../engine/log.ts';
import { CNN_HIDDEN_SIZE } from '../../engine/market/base-data-input.ts';
import { HistoryReader, noStoreAt, openHistoryStore, replayedUntil } from '../../engine/store/history-reader.ts';
import type { LmdbStore } from '../../engine/store/lmdb.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import { directionBaseline, majorityBaseline, persistenceBaseline, type BaselinePrediction } from '../baselines.ts';
import { CheckpointStore, SELECTION_METRICS } from '../checkpoints.ts';
import type { CnnInputSpec } from '../cnn/bdi-adapter.ts';
import { cnnConfig, cnnConfigHash, cnnInputSize, type CnnConfig } from '../cnn/config.ts';
import { CnnModel } from '../cnn/model.ts';
import { cnnToOnnx } from '../cnn/onnx-export.ts';
import { saveCnn } from '../cnn/weights-io.ts';
import { barStepMs } from '../data.ts';
import { Rng } from '../dqn/rng.ts';
import { NUM_CLASSES, type TripleBarrierOptions } from '../labels/triple-barrier.ts';
import { initTfBackend } from '../tf-backend.ts';
import { walkForwardFolds, type Fold } from '../walk-forward.ts';
import { buildBdiDataset } from './bdi-dataset.ts';
import { buildHistoryDataset, ReadProgress, replayRefusal, type HistoryReport } from './history-dataset.ts';
import { buildCnnDataset, loadAlignedKlines, type AlignedSeries } from './dataset.ts';
import { onnxParity, type ParityResult } from './parity.ts';
import { classFigures, dataSpan, hashOf, Progress, type ClassFigures, type DataSpan } from './report.ts';
import { sampleBatch, sampleLabels, type CnnSamples } from './samples.ts';

/** Where the history input reads: the LMDB store, its archive directory (none: LMDB only) and one model's records. */
export interface HistoryInput {
  /** The daemon's store.path; needed unless `archivesOnly`. */
  readonly storePath?: string;
  readonly archiveDir?: string;
  /** Only this model's records (default every model's). */
  readonly model?: string;
  /** Read the archives of `archiveDir` alone, not LMDB (a store lost or moved); the store, if there, is only checked. */
  readonly archivesOnly?: boolean;
}

/** Everything `cobalt train cnn` can be told. */
export interface CnnTrainOptions {
  /**
   * 'bdi' (default): BaseDataInput rows through the CNN input adapter; 'klines': kline windows of `data`; 'history': the
   * BaseDataInputs the daemon recorded in its inference history (`history`), labelled from the klines of `klinesDirs`.
   */
  readonly input?: 'bdi' | 'klines' | 'history';
  /** History input: where the history lies and which records are read. */
  readonly history?: HistoryInput;
  /** Kline files (klines input). */
  readonly data?: readonly string[];
  /** Kline folders (bdi input; the engine's `data.klinesDirs`), default data/klines. */
  readonly klinesDirs?: readonly string[];
  readonly symbol?: string;
  /** Use only the newest `lastBars` bars (quick runs; bdi: decisions in the newest `lastBars` 1m bars). */
  readonly lastBars?: number;
  /** First decision time, and the time no bar may reach: a bar is read only if it closed by `untilMs` (ms). */
  readonly fromMs?: number;
  readonly untilMs?: number;
  /** Bars per feature window (klines input; the bdi input is always 300 frames). */
  readonly window: number;
  /** Keep every `stride`-th labelled bar (bdi: a decision every `stride` minutes, on whole multiples). */
  readonly stride: number;
  readonly volWindow: number;
  readonly horizon: number;
  readonly ptMult: number;
  readonly slMult: number;
  readonly folds: number;
  /** Fraction of the samples that are test samples, split evenly over the folds. */
  readonly testFraction: number;
  /** Bars after each test window in which no training sample may start; default = horizon. */
  readonly embargo?: number;
  readonly epochs: number;
  /** Cap on optimizer steps per fold. */
  readonly maxSteps: number;
  readonly batch: number;
  readonly learningRate: number;
  readonly channels: number;
  readonly hidden: number;
  readonly seed: number;
  /** Checkpoint root; undefined = do not save. */
  readonly out?: string;
  readonly modelName: string;
  /** Draw a progress bar (default: when stderr is a TTY). */
  readonly progress?: boolean;
}

export { CNN_TRAIN_DEFAULTS } from './defaults.ts';

/**
 * What CNN checkpoints are ranked by: 1 − ll_model / ll_majority on the ranking rows (0: no better than the training
 * folds' class prior, 1: perfect). Raw log loss is not comparable across runs whose labels differ (--pt/--sl,
 * --horizon, --stride, input span): barriers that make nearly every label HOLD give a small loss to a model that
 * learnt only the prior. The engine must load by the same metric (SELECTION_METRICS.cnn in models/checkpoints.ts).
 */
export const CNN_RANK_METRIC = SELECTION_METRICS.cnn;

/** Figures per fold and pooled over all test samples. */
export interface FoldedFigures {
  readonly folds: ClassFigures[];
  readonly pooled: ClassFigures;
}

/** The JSON summary `cobalt train cnn --json` prints. */
export interface CnnTrainSummary {
  readonly input: CnnInputSpec;
  readonly outOfSample: FoldedFigures;
  readonly baselines: { readonly majority: FoldedFigures; readonly persistence: FoldedFigures; readonly direction: FoldedFigures };
  /** Whether the model's pooled figure beats the best baseline's (lower log loss, higher accuracy). */
  readonly beatsBaselines: { readonly logLoss: boolean; readonly accuracy: boolean; readonly bestBaselineLogLoss: number; readonly bestBaselineAccuracy: number };
  readonly labels: {
    readonly counts: { BUY: number; SELL: number; HOLD: number };
    readonly fractions: { BUY: number; SELL: number; HOLD: number };
    readonly ambiguous: number;
    readonly samples: number;
    /** Samples left out because a bar they read (features, σ, horizon) lies across a hole in the klines. */
    readonly droppedAtGaps: number;
    readonly options: { volWindow: number; horizon: number; ptMult: number; slMult: number; stride: number };
  };
  readonly folds: {
    readonly train: number; readonly test: number; readonly purged: number; readonly embargoed: number;
    readonly steps: number; readonly lastLoss: number; readonly trainSpan: DataSpan; readonly testSpan: DataSpan;
  }[];
  readonly backend: string;
  readonly dataSpan: DataSpan & { readonly series: readonly string[]; readonly skippedRows: number; readonly unmatchedBars: number };
  readonly model: { readonly config: CnnConfig; readonly params: number };
  readonly configHash: string;
  readonly parity: ParityResult | null;
  /**
   * `metric`: what it is ranked by (CNN_RANK_METRIC, folds before the last); `valLogLoss`: the raw log loss of those rows;
   * `testLogLoss`: its own test fold's, reported only.
   */
  readonly checkpoint: {
    readonly dir: string; readonly version: string; readonly kept: boolean; readonly onnx: string; readonly onnxBytes: number; readonly weightsBytes: number;
    readonly metric: number; readonly valLogLoss: number; readonly testLogLoss: number;
  } | null;
  /** Why nothing was saved, when nothing was. */
  readonly notSaved?: string;
  /** History input: records read, dropped (no label, wrong shape, duplicate tick), left off the decision grid, and their span. */
  readonly history?: HistoryReport;
  readonly seconds: number;
}

/** What `trainCnn` returns: the summary plus what tests inspect (dataset, folds). */
export interface CnnTrainResult {
  readonly summary: CnnTrainSummary;
  readonly dataset: CnnSamples;
  readonly folds: readonly Fold[];
  readonly embargo: number;
}

/** Returns the labelled samples `opts` asks for (the dataset provider of `trainCnnOn`). */
export async function cnnSamples(opts: CnnTrainOptions): Promise<CnnSamples> {
  const labels = { volWindow: opts.volWindow, horizon: opts.horizon, ptMult: opts.ptMult, slMult: opts.slMult };
  if ((opts.input ?? 'bdi') === 'klines') {
    if (!opts.data || opts.data.length === 0) throw new InputValidationError('klines input needs kline files (--data)');
    let aligned = loadAlignedKlines(opts.data, opts.symbol);
    // Same cut as the bdi input: no bar that closes after --until is read; --from is the first decision (t0's close).
    if (opts.untilMs !== undefined) aligned = closedBy(aligned, opts.untilMs);
    if (opts.lastBars !== undefined) aligned = lastBars(aligned, opts.lastBars);
    return buildCnnDataset(aligned, { window: opts.window, stride: opts.stride, labels, ...(opts.fromMs !== undefined ? { fromMs: opts.fromMs } : {}) });
  }
  if (opts.data !== undefined && opts.data.length > 0) {
    throw new InputValidationError(`--data is for --input klines; the ${opts.input ?? 'bdi'} input reads the kline folders of --klines-dir (default data/klines)`);
  }
  const klines = new KlinesArchive(opts.klinesDirs ?? ['data/klines'], log());
  const symbol = opts.symbol ?? 'ETH/USDT';
  if (opts.input === 'history') return historySamples(opts, klines, symbol, labels);
  let fromMs = opts.fromMs;
  if (opts.lastBars !== undefined) {
    if (!Number.isInteger(opts.lastBars) || opts.lastBars < 2) throw new InputValidationError(`--last-bars must be an integer ≥ 2, got ${opts.lastBars}`);
    const grid = klines.all(symbol, '1m').filter((c) => opts.untilMs === undefined || c.openTime + 60_000 <= opts.untilMs);
    const cut = grid[Math.max(0, grid.length - opts.lastBars)];
    // A decision is placed by its bar's close: the bar opening at cut.openTime closes a minute later.
    if (cut) fromMs = Math.max(fromMs ?? -Infinity, cut.openTime + 60_000);
  }
  return buildBdiDataset({
    symbol, klines, everyMinutes: opts.stride, labels,
    ...(fromMs !== undefined ? { fromMs } : {}), ...(opts.untilMs !== undefined ? { untilMs: opts.untilMs } : {}),
  });
}

// The history input: the store opened read-only (beside a running daemon), closed once the rows are in memory.
async function historySamples(opts: CnnTrainOptions, klines: KlinesArchive, symbol: string, labels: TripleBarrierOptions): Promise<CnnSamples> {
  const h = opts.history;
  if (!h) throw new InputValidationError('history input needs the inference history store (--store)');
  if (opts.lastBars !== undefined) throw new InputValidationError('--last-bars is for --input bdi and klines; cut the history with --from and --until');
  const store = await openHistory(h, opts.fromMs);
  const reader = new HistoryReader(store, h.archiveDir ?? '', { onWarning: (w) => log().warn(w, 'inference history: skipped') });
  const progress = new ReadProgress(opts.progress);
  try {
    return await buildHistoryDataset({
      reader, klines, symbol, labels, everyMinutes: opts.stride, ...(h.model !== undefined ? { model: h.model } : {}),
      ...(opts.fromMs !== undefined ? { fromMs: opts.fromMs } : {}), ...(opts.untilMs !== undefined ? { untilMs: opts.untilMs } : {}),
      onRecord: (read, ts, samples) => progress.update(read, ts, samples),
    });
  } finally {
    progress.done();
    await store?.close();
  }
}

// The store of the history input, opened read-only after the checks below; undefined with archivesOnly.
// A store path that holds no store is refused even beside an archive directory: a mistyped --store would otherwise
// train on the archives alone (the oldest records) and exit 0; --archives-only says that is meant. (No --archive-dir:
// LMDB only; '' lists as an empty directory.)
async function openHistory(h: HistoryInput, fromMs: number | undefined): Promise<LmdbStore | undefined> {
  const archives = h.archiveDir === undefined ? undefined : path.resolve(h.archiveDir);
  if (h.archivesOnly && (archives === undefined || !existsSync(archives))) {
    throw new InputValidationError(`--archives-only reads the retention archives of --archive-dir${archives === undefined ? ', which is not given' : `, and ${archives} does not exist`}`);
  }
  const missing = h.storePath === undefined ? undefined : noStoreAt(h.storePath);
  if (h.storePath === undefined || missing !== undefined) {
    if (h.archivesOnly) return undefined;
    const beside = archives === undefined ? '' : existsSync(archives) ? `; to train on the archive files in ${archives} alone, add --archives-only` : `, nor an archive directory at ${archives}`;
    throw new InputValidationError(`--store: ${missing ?? 'not given'}${beside}`);
  }
  const store = openHistoryStore(h.storePath)!;
  if (!h.archivesOnly) return store;
  // Archives alone: the store is only asked whether a replay wrote it (buildHistoryDataset asks through the reader).
  const replay = replayRefusal(replayedUntil(store), fromMs);
  await store.close();
  if (replay !== undefined) throw new InputValidationError(`store ${path.resolve(h.storePath)}: ${replay}`);
  return undefined;
}

/** Runs walk-forward training and evaluation; saves the last fold's model when `out` is set and parity holds. */
export async function trainCnn(opts: CnnTrainOptions): Promise<CnnTrainResult> {
  const started = performance.now();
  if ((opts.input ?? 'bdi') !== 'klines' && opts.hidden !== CNN_HIDDEN_SIZE) {
    throw new InputValidationError(`${opts.input ?? 'bdi'} input: --hidden must be ${CNN_HIDDEN_SIZE}, the size of the BaseDataInput's cnnHidden slot other models read; got ${opts.hidden}`);
  }
  const ds = await cnnSamples(opts);
  log().info({ input: ds.input.kind, samples: ds.t0.length, seconds: (performance.now() - started) / 1000 }, 'cnn samples built');
  return trainCnnOn(ds, opts, started);
}

/** Trains and evaluates on any dataset provider's samples (the machinery behind `trainCnn`). */
export async function trainCnnOn(ds: CnnSamples, opts: CnnTrainOptions, started = performance.now()): Promise<CnnTrainResult> {
  const backend = await initTfBackend();
  const n = ds.t0.length;
  if (!(opts.testFraction > 0 && opts.testFraction < 1)) throw new InputValidationError(`test fraction must be in (0, 1), got ${opts.testFraction}`);
  const testSize = Math.floor((n * opts.testFraction) / opts.folds);
  if (testSize < 1) throw new InputValidationError(`${n} samples are too few for ${opts.folds} test folds of ${opts.testFraction} of the data`);
  const embargo = opts.embargo ?? opts.horizon;
  const folds = walkForwardFolds(ds, { folds: opts.folds, testSize, minTrainSize: n - opts.folds * testSize, mode: 'expanding', embargo });
  const cfg = cnnConfig({
    seqLen: ds.input.seqLen, features: ds.input.features, tailLen: ds.input.tailLen, channels: opts.channels, hidden: opts.hidden,
    learningRate: opts.learningRate, seed: opts.seed,
  });
  if (cnnInputSize(cfg) !== ds.input.size) throw new InputValidationError(`dataset rows have ${ds.input.size} floats, the model takes ${cnnInputSize(cfg)}`);
  const stepsPerFold = folds.map((f) => Math.min(opts.maxSteps, Math.ceil((opts.epochs * f.train.length) / opts.batch)));
  const progress = new Progress(stepsPerFold.reduce((a, b) => a + b, 0), { enabled: opts.progress });
  log().info({ samples: n, folds: folds.length, testSize, stepsPerFold, backend: backend.backend }, 'cnn walk-forward training');

  const modelProbs: Float64Array[] = [];
  const foldInfo: CnnTrainSummary['folds'][number][] = [];
  let last: CnnModel | undefined;
  let doneSteps = 0;
  for (let f = 0; f < folds.length; f++) {
    const fold = folds[f]!;
    if (fold.train.length === 0) throw new InputValidationError(`fold ${f + 1} has no training samples left after purge and embargo`);
    const model = new CnnModel({ ...cfg, seed: opts.seed + f });
    const rng = new Rng(opts.seed * 7919 + f);
    let order = shuffled(fold.train, rng);
    let pos = 0, lastLoss = NaN;
    for (let s = 0; s < stepsPerFold[f]!; s++) {
      if (pos + opts.batch > order.length && pos > 0) { order = shuffled(fold.train, rng); pos = 0; }
      const idx = order.subarray(pos, Math.min(order.length, pos + opts.batch));
      pos += idx.length;
      lastLoss = model.trainStep(sampleBatch(ds, idx), sampleLabels(ds, idx));
      progress.update(++doneSteps, `fold ${f + 1}/${folds.length}`, lastLoss);
    }
    modelProbs.push(predictProbs(model, ds, fold.test));
    foldInfo.push({
      train: fold.train.length, test: fold.test.length, purged: fold.purged, embargoed: fold.embargoed, steps: stepsPerFold[f]!, lastLoss,
      trainSpan: dataSpan(ds.openTimeMs, ds.firstBar(fold.train[0]!), maxT1(ds, fold.train)),
      testSpan: dataSpan(ds.openTimeMs, ds.firstBar(fold.test[0]!), fold.testEnd),
    });
    log().info({ fold: f + 1, train: fold.train.length, test: fold.test.length, purged: fold.purged, steps: stepsPerFold[f], lastLoss }, 'fold trained');
    if (f === folds.length - 1) last = model;
    else model.dispose();
  }
  progress.done();

  const score = (probsOf: (f: number) => BaselinePrediction | { probs: Float64Array; pred?: Uint8Array }): FoldedFigures => {
    const per = folds.map((fold, f) => {
      const p = probsOf(f);
      return { fig: classFigures(p.probs, sampleLabels(ds, fold.test), p.pred), probs: p.probs, pred: p.pred };
    });
    const allLabels = sampleLabels(ds, concat(folds.map((x) => x.test)));
    const allProbs = concatF64(per.map((p) => p.probs));
    const allPred = per.every((p) => p.pred) ? concatU8(per.map((p) => p.pred!)) : undefined;
    return { folds: per.map((p) => p.fig), pooled: classFigures(allProbs, allLabels, allPred) };
  };
  const outOfSample = score((f) => ({ probs: modelProbs[f]! }));
  const baselines = {
    majority: score((f) => majorityBaseline(ds.label, folds[f]!.train, folds[f]!.test)),
    persistence: score((f) => persistenceBaseline(ds.label, ds, folds[f]!.test)),
    direction: score((f) => directionBaseline(ds.close, ds, folds[f]!.test)),
  };
  const bestLL = Math.min(...Object.values(baselines).map((b) => b.pooled.logLoss));
  const bestAcc = Math.max(...Object.values(baselines).map((b) => b.pooled.accuracy));

  const [b, s, h] = ds.balance.counts;
  const firstBar = ds.firstBar(0);
  const lastBar = ds.t1[n - 1]!;
  const configHash = hashOf({ arch: cnnConfigHash(cfg), input: ds.input, opts: { ...opts, data: ds.series, klinesDirs: undefined, out: undefined, progress: undefined } });
  const summaryBase = {
    input: ds.input,
    outOfSample, baselines,
    beatsBaselines: { logLoss: outOfSample.pooled.logLoss < bestLL, accuracy: outOfSample.pooled.accuracy > bestAcc, bestBaselineLogLoss: bestLL, bestBaselineAccuracy: bestAcc },
    labels: {
      counts: { BUY: b, SELL: s, HOLD: h }, fractions: { BUY: b / n, SELL: s / n, HOLD: h / n }, ambiguous: ds.balance.ambiguous, samples: n, droppedAtGaps: ds.gapDropped,
      options: { volWindow: opts.volWindow, horizon: opts.horizon, ptMult: opts.ptMult, slMult: opts.slMult, stride: opts.stride },
    },
    folds: foldInfo,
    backend: backend.backend,
    dataSpan: { ...dataSpan(ds.openTimeMs, firstBar, lastBar), series: ds.series, skippedRows: ds.skippedRows, unmatchedBars: ds.unmatchedBars },
    model: { config: cfg, params: last!.weights().reduce((k, w) => k + w.data.length, 0) },
    configHash,
    ...(ds.history ? { history: ds.history } : {}),
  };

  // Export and parity on held-out rows of the last fold (never training rows), then save.
  const lastFold = folds[folds.length - 1]!;
  const parityIdx = lastFold.test.subarray(0, Math.min(64, lastFold.test.length));
  const onnx = cnnToOnnx(last!.config, last!.weights(), configHash);
  const parity = await onnxParity(last!, onnx, sampleBatch(ds, parityIdx), parityIdx.length);
  const lastTestLogLoss = outOfSample.folds[outOfSample.folds.length - 1]!.logLoss;
  // What the checkpoint is ranked by: the folds before the last, each scored by its own fold's model, all before the
  // saved model's test fold. Ranking by the last fold's test log loss would pick among runs on their test data.
  const prior = folds.slice(0, -1);
  const rank = prior.length > 0 ? rankingFigures(ds, prior, modelProbs, lastFold.testStart) : undefined;
  let checkpoint: CnnTrainSummary['checkpoint'] = null;
  let notSaved: string | undefined;
  if (!parity.ok) notSaved = `ONNX export differs from tfjs by ${parity.maxAbsDiff} (> 1e-5): not saved`;
  else if (opts.out === undefined) notSaved = 'no --out directory';
  else if (folds.length < 2) notSaved = 'one fold: no earlier fold to rank the checkpoint by (use --folds 2 or more)';
  else if (rank!.n === 0) notSaved = 'every label of the folds before the last reaches the saved model\'s test window: nothing to rank the checkpoint by';
  // A prior that was certain and right on every ranking row leaves no skill to measure (0/0, or −∞ written as null).
  else if (!Number.isFinite(rank!.skill)) notSaved = `the majority prior's log loss on the ranking rows is ${rank!.majorityLogLoss}: no skill to rank the checkpoint by`;
  if (notSaved === undefined) {
    const store = new CheckpointStore({ root: opts.out!, keep: 5 });
    let onnxBytes = 0, weightsBytes = 0;
    const seconds = (performance.now() - started) / 1000;
    // `input` rides along in checkpoint.json (CheckpointStore spreads what it is given): the CNN agent refuses a
    // checkpoint whose input is not the one it feeds (models/cnn/bdi-adapter.ts cnnInputMismatch), and a run trading
    // another symbol than `input.symbol` passes it over (app/models.ts). Neither input reads the reference series.
    const entry = {
      model: opts.modelName,
      metric: { ...CNN_RANK_METRIC, value: rank!.skill },
      testMetric: { name: 'oosLogLoss', value: lastTestLogLoss, higherIsBetter: false },
      dataSpan: { fromMs: ds.openTimeMs[ds.firstBar(lastFold.train[0]!)]!, toMs: ds.openTimeMs[maxT1(ds, lastFold.train)]! },
      configHash, backend: backend.backend, input: { ...ds.input, ...(ds.symbol !== undefined ? { symbol: ds.symbol } : {}) },
      write: async (dir: string) => {
        await saveCnn(last!, dir, configHash);
        await writeFile(path.join(dir, 'cnn.onnx'), onnx);
        onnxBytes = onnx.byteLength;
        weightsBytes = last!.weights().reduce((k, w) => k + w.data.length * 4, 0);
        // Enough to rebuild the exact input features and to audit the run.
        await writeFile(path.join(dir, 'train-report.json'), JSON.stringify({
          ...summaryBase, parity, seconds,
          features: { ...ds.describe, ...(opts.data ? { files: opts.data.map((d) => path.basename(d)) } : {}), inputSize: cnnInputSize(cfg) },
          savedModel: {
            fold: folds.length, testLogLoss: lastTestLogLoss, testAccuracy: outOfSample.folds[outOfSample.folds.length - 1]!.accuracy,
            rankedBy: { metric: CNN_RANK_METRIC.name, folds: prior.length, ...rank! },
          },
        }, null, 1));
      },
    };
    const saved = await store.save(entry);
    checkpoint = { dir: saved.dir, version: saved.meta.version, kept: saved.kept, onnx: path.join(saved.dir, 'cnn.onnx'), onnxBytes, weightsBytes, metric: rank!.skill, valLogLoss: rank!.logLoss, testLogLoss: lastTestLogLoss };
    log().info({ dir: saved.dir, version: saved.meta.version, kept: saved.kept }, 'cnn checkpoint saved');
  } else if (!parity.ok) {
    log().error({ parity }, 'cnn not saved: ONNX parity check failed');
  }
  last!.dispose();
  const summary: CnnTrainSummary = { ...summaryBase, parity, checkpoint, ...(notSaved ? { notSaved } : {}), seconds: (performance.now() - started) / 1000 };
  return { summary, dataset: ds, folds, embargo };
}

/** The ranking figure and what it is made of (train-report.json `savedModel.rankedBy`). */
export interface RankingFigures extends ClassFigures {
  readonly majorityLogLoss: number;
  /** 1 − logLoss / majorityLogLoss: the CNN_RANK_METRIC value. */
  readonly skill: number;
  /** Test samples of the ranking folds left out because their label reads the saved model's test window. */
  readonly purged: number;
}

// Scores the test samples of the folds before the last whose label resolves before `testStart` (the saved model's test
// window; the last labels of the fold before it can reach in), beside each fold's majority prior on the same rows.
function rankingFigures(ds: CnnSamples, prior: readonly Fold[], modelProbs: readonly Float64Array[], testStart: number): RankingFigures {
  const idx: Int32Array[] = [], model: Float64Array[] = [], major: Float64Array[] = [];
  let purged = 0;
  prior.forEach((fold, f) => {
    const keep: number[] = [];
    for (let k = 0; k < fold.test.length; k++) if (ds.t1[fold.test[k]!]! < testStart) keep.push(k);
    purged += fold.test.length - keep.length;
    const kept = Int32Array.from(keep, (k) => fold.test[k]!);
    const rows = new Float64Array(keep.length * NUM_CLASSES);
    keep.forEach((k, r) => rows.set(modelProbs[f]!.subarray(k * NUM_CLASSES, (k + 1) * NUM_CLASSES), r * NUM_CLASSES));
    idx.push(kept);
    model.push(rows);
    major.push(majorityBaseline(ds.label, fold.train, kept).probs);
  });
  const labels = sampleLabels(ds, concat(idx));
  const fig = classFigures(concatF64(model), labels);
  const majorityLogLoss = classFigures(concatF64(major), labels).logLoss;
  return { ...fig, majorityLogLoss, skill: 1 - fig.logLoss / majorityLogLoss, purged };
}

/** Returns class probabilities of samples `idx` as row-major float64, predicted in batches. */
export function predictProbs(model: CnnModel, ds: CnnSamples, idx: ArrayLike<number>, batch = 256): Float64Array {
  const out = new Float64Array(idx.length * NUM_CLASSES);
  const all = Int32Array.from(idx as ArrayLike<number>);
  for (let i = 0; i < all.length; i += batch) {
    const part = all.subarray(i, Math.min(all.length, i + batch));
    const p = model.predict(sampleBatch(ds, part), part.length);
    out.set(p.probs, i * NUM_CLASSES);
  }
  return out;
}

function lastBars(a: AlignedSeries, n: number): AlignedSeries {
  if (!Number.isInteger(n) || n < 2) throw new InputValidationError(`--last-bars must be an integer ≥ 2, got ${n}`);
  return sliceAligned(a, Math.max(0, a.openTimeMs.length - n), a.openTimeMs.length);
}

// Keeps the bars that closed by `untilMs` (open + bar length ≤ untilMs).
function closedBy(a: AlignedSeries, untilMs: number): AlignedSeries {
  const step = barStepMs(a.openTimeMs);
  let to = 0;
  while (to < a.openTimeMs.length && a.openTimeMs[to]! + step <= untilMs) to++;
  if (to < 2) throw new InputValidationError(`--until ${new Date(untilMs).toISOString()} leaves ${to} bars of the --data files (first opens ${new Date(a.openTimeMs[0]!).toISOString()})`);
  return sliceAligned(a, 0, to);
}

function sliceAligned(a: AlignedSeries, from: number, to: number): AlignedSeries {
  const cut = (c: AlignedSeries['series'][number]) => ({
    openTimeMs: c.openTimeMs.slice(from, to), open: c.open.slice(from, to), high: c.high.slice(from, to), low: c.low.slice(from, to),
    close: c.close.slice(from, to), volume: c.volume.slice(from, to), skipped: c.skipped,
  });
  return { ...a, series: a.series.map(cut), openTimeMs: a.openTimeMs.slice(from, to) };
}

/** Returns the last bar any of the samples' labels reads. */
function maxT1(ds: CnnSamples, idx: ArrayLike<number>): number {
  let m = -1;
  for (let k = 0; k < idx.length; k++) m = Math.max(m, ds.t1[idx[k]!]!);
  return m;
}

function shuffled(idx: Int32Array, rng: Rng): Int32Array {
  const a = idx.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!; a[i] = a[j]!; a[j] = t;
  }
  return a;
}

function concat(parts: readonly Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
function concatF64(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
function concatU8(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
