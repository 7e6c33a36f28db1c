// `cobalt train dqn --state bdi`: the DQN trained on the state the running engine feeds its RL agent.
// Rows: the 1m klines are replayed through a real DataProvider (bdi-dataset.ts `replayBaseDataInputs`) and the
// BaseDataInput is packed at each decision time (a decision every `everyMinutes`, DECISION_LAG_MS after the bar's
// close). Where the engine's coordinator would write the CNN's same-tick output and hidden vector, the trainer runs
// the CNN agent's own runner (`cnnRunner`: `selectCnnInput` → ONNX, here onnxruntime-node in-process) on the same row
// and writes them with the coordinator's own `feedModelOutputs`; the state is then `dqnStateBuilder` (dqn-state.ts),
// which app/models.ts rebuilds from the checkpoint's `input`. Environment: long/flat over the decision times, fills
// at the decision bar's close, reward = after-fee equity change (dqn-bdi-env.ts). Walk-forward in time:
// train | validation (picks the weights) | test (played once, beside buy-and-hold and flat on the same decisions).
// Holes in the 1m klines: a decision whose 300-bar frame crosses one is dropped (as the CNN trainer drops its samples;
// the engine never builds that state), and the step between the decisions either side of it holds no position (it
// spans the hole's hours and price move); cutting the episode there instead would need PositionEnv to know the hole.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { cnnRunner, type InferPort } from '../../actors/model-agents/cnn-agent.ts';
import { feedModelOutputs } from '../../actors/orchestrator/coordinator.ts';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import type { InferResult } from '../../engine/infer/pool.ts';
import type { ModelOutput } from '../../engine/messages/signals.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { bundledCnnCheckpoint } from '../bundled/index.ts';
import { CheckpointStore, SELECTION_METRICS, type CheckpointMeta } from '../checkpoints.ts';
import { CNN_INPUT_SPEC, cnnInputMismatch } from '../cnn/bdi-adapter.ts';
import { saveDqn } from '../dqn/io.ts';
import { runStarts } from '../data.ts';
import { buyAndHoldReturn } from '../envs/trading-env.ts';
import { DECISION_LAG_MS, replayBaseDataInputs } from './bdi-dataset.ts';
import { BdiTradingEnv } from './dqn-bdi-env.ts';
import { DQN_STATE_KIND, DQN_STATE_SIZE, DQN_STATE_WINDOW, dqnStateBuilder, fileSha256, type DqnStateInput, type DqnStatePart } from './dqn-state.ts';
import { cnnSpanConflict, greedyRun, tradingAgent, trainWithValidation, type DqnLoopOptions, type SpanResult } from './dqn-loop.ts';
import { dataSpan, hashOf, type DataSpan } from './report.ts';

const MIN = 60_000;

/** Everything `cobalt train dqn --state bdi` can be told. */
export interface DqnBdiOptions extends DqnLoopOptions {
  /** Kline folders: the 1m stream and the history of every timeframe (as config data.klinesDirs). */
  readonly klinesDirs: readonly string[];
  readonly symbol?: string;
  /** First decision time (ms); default the first with 300 bars of 1m history. */
  readonly fromMs?: TsMs;
  /** No bar opening at or after this time is read. */
  readonly untilMs?: TsMs;
  readonly everyMinutes: number;
  /** 'bundled' (models/bundled/cnn), 'none' (CNN slots zeroed here and in the engine) or a CNN checkpoint dir. */
  readonly cnn: string;
  readonly closesScale: number;
  readonly feeRate: number;
  readonly testFraction: number;
  readonly valFraction: number;
  readonly rewardScale: number;
  readonly out?: string;
  readonly modelName: string;
}

export { DQN_BDI_DEFAULTS } from './defaults.ts';

/** The JSON summary of a `--state bdi` run. */
export interface DqnBdiSummary {
  readonly outOfSample: SpanResult;
  readonly baselines: { readonly buyAndHold: number; readonly flat: number };
  readonly beatsBuyAndHold: boolean;
  readonly validation: SpanResult & { readonly bestAtEpisode: number; readonly buyAndHold: number };
  readonly training: { readonly episodes: number; readonly envSteps: number; readonly gradSteps: number; readonly span: DataSpan; readonly meanEpisodeReward: number };
  /** What the state is: the checkpoint's `input`. Spans count decisions in `bars`. */
  readonly state: DqnStateInput & { readonly cnnTrainedUntil: string | null };
  /**
   * Decision counts. droppedAtGaps: left out, their 300-bar frame crossing a hole in the 1m klines; flatAtGaps: steps
   * across a hole (train, validation and test together), over which the env holds no position.
   */
  readonly decisions: {
    readonly total: number; readonly train: number; readonly validation: number; readonly test: number; readonly everyMinutes: number;
    readonly droppedAtGaps: number; readonly flatAtGaps: number;
  };
  readonly feeRate: number;
  readonly mode: 'long-flat';
  readonly backend: string;
  readonly dataSpan: DataSpan & { readonly series: string };
  readonly configHash: string;
  readonly checkpoint: { readonly dir: string; readonly version: string; readonly kept: boolean } | null;
  readonly seconds: number;
}

/** Decision rows of the engine's RL state. */
export interface DqnRows {
  /** Row-major [n, DQN_STATE_SIZE]. */
  readonly states: Float32Array;
  /** Close of each decision's bar (the fill price). */
  readonly price: Float64Array;
  /** Open time of each decision's bar, and the decision time (bar close + DECISION_LAG_MS). */
  readonly barOpenMs: Float64Array;
  readonly decisionMs: Float64Array;
  readonly input: DqnStateInput;
  readonly cnnMeta: CheckpointMeta | null;
  readonly series: string;
  /** Decisions left out because their 300-bar frame crosses a hole in the 1m open times (as the CNN trainer drops them). */
  readonly droppedAtGaps: number;
  /** Decisions d whose step to d + 1 crosses a hole: the env holds no position over it (dqn-bdi-env.ts). */
  readonly flatAtGaps: Int32Array;
}

/** Returns an InferPort running one ONNX CNN in-process (onnxruntime-node), for the trainer. */
export async function ortCnnPort(onnxPath: string): Promise<InferPort & { release(): Promise<void> }> {
  const session = await ort.InferenceSession.create(readFileSync(onnxPath));
  return {
    async infer(_model, input, dims): Promise<InferResult> {
      const t0 = performance.now();
      const r = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, [...dims]) });
      const outputs: Record<string, Float32Array> = {};
      const outDims: Record<string, number[]> = {};
      for (const [k, v] of Object.entries(r)) {
        outputs[k] = v.data as Float32Array;
        outDims[k] = [...v.dims];
      }
      return { outputs, dims: outDims, ms: performance.now() - t0 };
    },
    release: () => session.release(),
  };
}

/** Resolves `--cnn` to its ONNX file and metadata, checked against the agent's input; null for 'none'. */
export function resolveCnn(cnn: string): { onnx: string; meta: CheckpointMeta; version: string } | null {
  if (cnn === 'none') return null;
  let onnx: string, meta: CheckpointMeta, version: string;
  if (cnn === 'bundled') {
    const b = bundledCnnCheckpoint();
    if (!b) throw new InputValidationError('--cnn bundled: models/bundled/cnn has no cnn.onnx + checkpoint.json');
    onnx = b.onnxPath;
    meta = b.meta;
    version = `bundled-${b.meta.version}`;
  } else {
    onnx = path.join(cnn, 'cnn.onnx');
    try {
      meta = JSON.parse(readFileSync(path.join(cnn, 'checkpoint.json'), 'utf8')) as CheckpointMeta;
    } catch (err) {
      throw new InputValidationError(`--cnn ${cnn}: cannot read its checkpoint.json (${(err as Error).message})`);
    }
    version = meta.version;
  }
  const why = cnnInputMismatch(meta.input);
  if (why) throw new InputValidationError(`--cnn ${cnn}: ${why}`);
  return { onnx, meta, version };
}

/** Replays the klines and returns the engine's RL state at each decision time, CNN slots filled as the engine fills them. */
export async function buildDqnRows(o: Pick<DqnBdiOptions, 'klinesDirs' | 'symbol' | 'fromMs' | 'untilMs' | 'everyMinutes' | 'cnn' | 'closesScale'> & {
  /** Called with the decision bar open times before the replay; may throw (the trainer's leakage check). */
  readonly check?: (barOpenMs: Float64Array, cnn: CheckpointMeta | null) => void;
}): Promise<DqnRows> {
  const symbol = o.symbol ?? 'ETH/USDT';
  const every = o.everyMinutes;
  if (!Number.isInteger(every) || every < 1) throw new InputValidationError(`decision interval must be a positive whole number of minutes, got ${every}`);
  const cnn = resolveCnn(o.cnn);
  // The engine passes a CNN trained on another symbol over (app/models.ts), so a DQN bound to it would never run.
  const cnnSymbol = cnn?.meta.input?.symbol;
  if (cnnSymbol !== undefined && cnnSymbol !== symbol) {
    throw new InputValidationError(`--cnn ${o.cnn}: that CNN was trained on ${String(cnnSymbol)}, this DQN on ${symbol}; a run trading ${symbol} does not load it, so this DQN would never run: use a CNN trained on ${symbol} (--cnn <dir>) or --cnn none`);
  }
  const archive = new KlinesArchive([...o.klinesDirs]);
  const until = o.untilMs ?? Infinity;
  const grid = archive.all(symbol, '1m').filter((c) => c.openTime + MIN <= until);
  const from = o.fromMs ?? -Infinity;
  const run = runStarts(Float64Array.from(grid, (c) => c.openTime), MIN);
  const bars: number[] = [];
  let droppedAtGaps = 0;
  for (let t = CNN_INPUT_SPEC.seqLen - 1; t < grid.length; t++) {
    const at = grid[t]!.openTime + MIN;
    if (!(at >= from && at % (every * MIN) === 0)) continue;
    // A frame across a hole is a state the engine never builds (its 1m history is contiguous).
    if (run[t]! > t - (CNN_INPUT_SPEC.seqLen - 1)) droppedAtGaps++;
    else bars.push(t);
  }
  if (bars.length < 2) throw new InputValidationError(`${bars.length} decision time(s) with 300 bars of 1m history without a gap of ${symbol} in ${o.klinesDirs.join(', ')}${Number.isFinite(until) ? ` before ${new Date(until).toISOString()}` : ''} (${droppedAtGaps} dropped at gaps)`);
  const barOpenMs = Float64Array.from(bars, (t) => grid[t]!.openTime);
  // After the drop, decisions either side of a hole are neighbours: their step spans the hole (hours, a price jump).
  const flatAtGaps = Int32Array.from(bars.flatMap((t, d) => (d + 1 < bars.length && grid[bars[d + 1]!]!.openTime - grid[t]!.openTime !== every * MIN ? [d] : [])));
  o.check?.(barOpenMs, cnn?.meta ?? null);
  const zeroed: DqnStatePart[] = cnn ? ['cobStats', 'dqnSlot'] : ['cobStats', 'cnnSlot', 'dqnSlot', 'cnnHidden'];
  const input: DqnStateInput = {
    kind: DQN_STATE_KIND, size: DQN_STATE_SIZE, window: DQN_STATE_WINDOW, zeroed, closesScale: o.closesScale,
    cnn: cnn ? { version: cnn.version, onnxSha256: fileSha256(cnn.onnx), dataSpan: { fromMs: cnn.meta.dataSpan.fromMs, toMs: cnn.meta.dataSpan.toMs } } : null,
    everyMinutes: every, symbol,
  };
  const build = dqnStateBuilder(input);
  const decisionMs = Float64Array.from(barOpenMs, (t) => t + MIN + DECISION_LAG_MS);
  const states = new Float32Array(bars.length * DQN_STATE_SIZE);
  const port = cnn ? await ortCnnPort(cnn.onnx) : undefined;
  const runCnn = port && cnn ? cnnRunner({ pool: port, checkpoint: cnn.meta }) : undefined;
  try {
    await replayBaseDataInputs(archive, symbol, grid, decisionMs, 120, async (bdi, d) => {
      let fed = bdi;
      if (runCnn) {
        const out = await runCnn(bdi, { model: 'cnn', version: cnn!.version, symbol, ts: decisionMs[d]!, deps: new Map<string, ModelOutput>() });
        fed = feedModelOutputs(bdi, new Map([['cnn', out]]));
      }
      states.set(build(fed), d * DQN_STATE_SIZE);
    });
  } finally {
    await port?.release();
  }
  return {
    states, price: Float64Array.from(bars, (t) => grid[t]!.close), barOpenMs, decisionMs, input, cnnMeta: cnn?.meta ?? null,
    series: `${symbol} 1m (${archive.fileFor(symbol, '1m') ?? 'memory'})`, droppedAtGaps, flatAtGaps,
  };
}

/** Trains on the engine's RL state, selects on validation, plays the test span once; checkpoints by validation PnL when `out` is set. */
export async function trainDqnBdi(opts: DqnBdiOptions): Promise<DqnBdiSummary> {
  const started = performance.now();
  const split = (n: number): { valFrom: number; testFrom: number } => {
    const testFrom = n - Math.floor(n * opts.testFraction);
    return { valFrom: testFrom - Math.floor(n * opts.valFraction), testFrom };
  };
  const rows = await buildDqnRows({
    ...opts,
    check: (barOpenMs, cnn) => {
      const { valFrom, testFrom } = split(barOpenMs.length);
      if (!(opts.episodeLength < valFrom - 1 && valFrom + 2 <= testFrom && testFrom + 2 <= barOpenMs.length)) {
        throw new InputValidationError(`${barOpenMs.length} decisions cannot hold a ${opts.episodeLength}-decision training episode plus validation (${testFrom - valFrom}) and test (${barOpenMs.length - testFrom}) spans of ≥ 2`);
      }
      // A CNN fitted on labels inside the validation or test span would carry them into the DQN's state there.
      const conflict = cnn ? cnnSpanConflict(cnn.dataSpan.toMs, { fromMs: barOpenMs[valFrom]!, toMs: barOpenMs[testFrom - 1]! }, { fromMs: barOpenMs[testFrom]!, toMs: barOpenMs[barOpenMs.length - 1]! }) : undefined;
      if (conflict) {
        throw new InputValidationError(`${conflict}: train the DQN on later data (--from, or a smaller --val-fraction and --test-fraction) so that its validation span starts after ${new Date(cnn!.dataSpan.toMs).toISOString()}, use a CNN trained on data ending before ${new Date(barOpenMs[valFrom]!).toISOString()} (--cnn <dir>), or --cnn none`);
      }
    },
  });
  const n = rows.price.length;
  const { valFrom, testFrom } = split(n);
  const S = DQN_STATE_SIZE;
  const env = (from: number, to: number, episodeLength?: number): BdiTradingEnv => new BdiTradingEnv({
    states: rows.states, stateSize: S, price: rows.price, from, to, feeRate: opts.feeRate, rewardScale: opts.rewardScale, seed: opts.seed,
    flatAtGaps: rows.flatAtGaps, ...(episodeLength ? { episodeLength } : {}),
  });
  const trainEnv = env(0, valFrom, opts.episodeLength);
  const valEnv = env(valFrom, testFrom);
  const testEnv = env(testFrom, n);
  const agent = tradingAgent(S, opts);
  const span = (from: number, to: number): DataSpan => dataSpan(rows.barOpenMs, from, to - 1);
  const valSpan = span(valFrom, testFrom);
  const { best, episodes, rewardSum } = trainWithValidation(agent, trainEnv, valEnv, valSpan, opts);
  const test = greedyRun(agent, testEnv, span(testFrom, n));
  const buyAndHold = buyAndHoldReturn(rows.price, testFrom, n - 1, opts.feeRate);
  const configHash = hashOf({ ...opts, out: undefined, progress: undefined });
  const trainSpan = span(0, valFrom);
  const summaryBody = {
    outOfSample: test,
    baselines: { buyAndHold, flat: 0 },
    beatsBuyAndHold: test.pnl > buyAndHold,
    validation: { ...best.result, bestAtEpisode: best.episode, buyAndHold: buyAndHoldReturn(rows.price, valFrom, testFrom - 1, opts.feeRate) },
    training: { episodes, envSteps: agent.steps, gradSteps: agent.updates, span: trainSpan, meanEpisodeReward: rewardSum / Math.max(1, episodes) },
    state: { ...rows.input, cnnTrainedUntil: rows.cnnMeta ? new Date(rows.cnnMeta.dataSpan.toMs).toISOString() : null },
    decisions: { total: n, train: valFrom, validation: testFrom - valFrom, test: n - testFrom, everyMinutes: opts.everyMinutes,
      droppedAtGaps: rows.droppedAtGaps, flatAtGaps: rows.flatAtGaps.length,
    },
    feeRate: opts.feeRate, mode: 'long-flat' as const,
    backend: rows.cnnMeta ? 'js-mlp + onnxruntime-node (cnn slots)' : 'js-mlp',
    dataSpan: { ...dataSpan(rows.barOpenMs, 0, n - 1), series: rows.series },
    configHash,
  };
  let checkpoint: DqnBdiSummary['checkpoint'] = null;
  if (opts.out !== undefined) {
    const store = new CheckpointStore({ root: opts.out, keep: 5 });
    const saved = await store.save({
      // Ranked by the validation PnL that picked the weights; the test PnL is reported, never ranked (checkpoints.ts).
      model: opts.modelName, metric: { ...SELECTION_METRICS.dqn, value: best.result.pnl }, testMetric: { name: 'heldOutPnl', value: test.pnl, higherIsBetter: true },
      dataSpan: { fromMs: trainSpan.fromMs, toMs: trainSpan.toMs }, validationSpan: { fromMs: valSpan.fromMs, toMs: valSpan.toMs },
      configHash, backend: 'js-mlp', input: { ...rows.input },
      write: async (dir) => {
        saveDqn(agent, dir, { test, validation: best.result, buyAndHold, state: rows.input, feeRate: opts.feeRate, mode: 'long-flat' });
        await writeFile(path.join(dir, 'train-report.json'), `${JSON.stringify(summaryBody, null, 1)}\n`);
      },
    });
    checkpoint = { dir: saved.dir, version: saved.meta.version, kept: saved.kept };
  }
  return { ...summaryBody, checkpoint, seconds: (performance.now() - started) / 1000 };
}

