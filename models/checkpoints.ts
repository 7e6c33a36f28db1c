import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LiveClock, type Clock } from '../engine/runtime/clock.ts';
import { InputValidationError } from '../engine/types/errors.ts';
import type { TsMs } from '../engine/types/time.ts';

/** The metric a model's checkpoints are ranked by. */
export interface CheckpointMetric {
  readonly name: string;
  readonly value: number;
  readonly higherIsBetter: boolean;
}

/** The name and direction of a metric, without a value: what a store ranks by. */
export type RankMetric = Pick<CheckpointMetric, 'name' | 'higherIsBetter'>;

/**
 * What the offline trainers rank checkpoints by and what the engine picks the one to load by (app/models.ts): figures
 * no test data went into, so that choosing among runs does not choose on their test spans. `valLogLoss`: the CNN's
 * pooled log loss on the walk-forward folds before the last (the saved model's test fold is the last); `valPnl`: the
 * DQN's greedy after-fee PnL on the validation span that picked its weights. The test figures (`oosLogLoss`,
 * `heldOutPnl`), which ranked checkpoints written before, ride along in `testMetric` for reporting only.
 */
export const SELECTION_METRICS = {
  // Skill over the folds' majority prior (models/train/cnn.ts): raw log loss is not comparable across label options.
  cnn: { name: 'valLogLossSkill', higherIsBetter: true },
  dqn: { name: 'valPnl', higherIsBetter: true },
} as const satisfies Record<string, RankMetric>;

/** Metrics older checkpoints were ranked by: listed after those of SELECTION_METRICS, ranked among themselves. */
export const LEGACY_SELECTION_METRICS: Record<keyof typeof SELECTION_METRICS, readonly RankMetric[]> = {
  cnn: [{ name: 'valLogLoss', higherIsBetter: false }],
  dqn: [],
};

/** Metadata stored with every checkpoint (checkpoint.json). */
export interface CheckpointMeta {
  readonly model: string;
  /** `v` + zero-padded sequence number, unique per model. */
  readonly version: string;
  readonly metric: CheckpointMetric;
  /** The model's figure on its test span, for reports; never ranked (absent on checkpoints ranked by it or without one). */
  readonly testMetric?: CheckpointMetric;
  /** Open times of the first and last bar the model was trained on. */
  readonly dataSpan: { readonly fromMs: TsMs; readonly toMs: TsMs };
  /**
   * Open times of the first and last bar of the span that picked the weights among those training produced (a DQN's
   * validation span), which lies after `dataSpan`: its data shaped the model too. Absent where no such span picked
   * them, and on checkpoints written before it was recorded (a DQN's train-report.json has it).
   */
  readonly validationSpan?: { readonly fromMs: TsMs; readonly toMs: TsMs };
  readonly configHash: string;
  /** Backend the weights were trained on (`wasm`, `tensorflow`, ...). */
  readonly backend: string;
  readonly createdAt: TsMs;
  /**
   * What the model reads, so a runner can refuse a checkpoint whose input it does not build: `kind` names the layout
   * (`bdi-klines-v1` for the engine's CNN, `bdi-rl-v1` for the engine's RL state), `size` is the float count, `symbol`
   * the market it was trained on (a run trading another symbol passes it over). Absent on checkpoints trained on other features.
   */
  readonly input?: CheckpointInput;
}

/** The input a model reads; layouts add their own fields (shape, window, …) beside these. */
export interface CheckpointInput {
  readonly kind: string;
  readonly size: number;
  /** The symbol whose market data the model was trained on (its primary series); absent on checkpoints written before it was recorded. */
  readonly symbol?: string;
  /** The reference symbol, recorded only by an input that reads the reference series (neither the engine's CNN nor its DQN does). */
  readonly reference?: string;
}

/**
 * Returns why a checkpoint trained on another market than the run's cannot join its blend, or undefined when it can:
 * a recorded `input.symbol` must be the traded symbol and a recorded `input.reference` the run's reference. A
 * checkpoint that records neither (written before they were recorded) passes. `input` is read from disk.
 */
export function inputSymbolMismatch(input: unknown, symbols: { readonly primary: string; readonly reference: string }): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const i = input as { symbol?: unknown; reference?: unknown };
  for (const [field, traded, key] of [['symbol', symbols.primary, 'symbols.primary'], ['reference', symbols.reference, 'symbols.reference']] as const) {
    const recorded = i[field];
    if (recorded === undefined) continue;
    if (typeof recorded !== 'string') return `its input.${field} is ${JSON.stringify(recorded)}, not a symbol name`;
    if (recorded !== traded) {
      return field === 'symbol' ? `trained on ${recorded}, this run trades ${traded} (${key})`
        : `trained with ${recorded} as reference symbol, this run's reference is ${traded} (${key})`;
    }
  }
  return undefined;
}

/** A stored checkpoint: its metadata and the directory holding its files. */
export interface Checkpoint {
  readonly meta: CheckpointMeta;
  readonly dir: string;
}

/** Options of a CheckpointStore. */
export interface CheckpointStoreOptions {
  readonly root: string;
  /** Checkpoints kept per model, metric and input (inputGroup; default 5), besides those `keepAlways` holds. */
  readonly keep?: number;
  readonly clock?: Clock;
  /** Never pruned, and not counted toward `keep` (e.g. the version running now and those a rollback goes back to). */
  readonly keepAlways?: (c: Checkpoint) => boolean;
  /** Ranked after all the others when pruning, so they are the first to go (e.g. versions an operator rolled back). */
  readonly pruneFirst?: (c: Checkpoint) => boolean;
}

const META_FILE = 'checkpoint.json';
const MODEL_NAME = /^[a-z0-9][a-z0-9_-]*$/i;

/**
 * Keeps the best `keep` checkpoints of a model by the metric each save ranks by, per input (inputGroup); the rest by
 * that metric are deleted, except those `keepAlways` holds (outside the count), and those `pruneFirst` marks go before
 * any other. Per input because research runs (`train cnn --input klines`) and runs on another symbol save under the
 * same model and metric as the checkpoints the engine can load: pooled, a few better ones deleted all of those.
 * Layout: `<root>/<model>/<version>/` with the model's own files plus checkpoint.json, written last, so a
 * directory without it is an interrupted save and is removed at the next save. One writer per root.
 * Values of different metrics are never compared. A ranking names its metric (`list`/`best`; a save ranks by its
 * own): checkpoints with that metric come first, best first; the others (e.g. written before a trainer changed its
 * metric) follow, newest first, and a save neither compares itself with them nor prunes them.
 */
export class CheckpointStore {
  readonly root: string;
  readonly keep: number;
  private readonly clock: Clock;
  private readonly keepAlways: (c: Checkpoint) => boolean;
  private readonly pruneFirst: (c: Checkpoint) => boolean;

  constructor(opts: CheckpointStoreOptions) {
    const keep = opts.keep ?? 5;
    if (!Number.isInteger(keep) || keep < 1) throw new InputValidationError(`checkpoint keep must be a positive integer, got ${keep}`);
    this.root = opts.root;
    this.keep = keep;
    this.clock = opts.clock ?? new LiveClock();
    this.keepAlways = opts.keepAlways ?? (() => false);
    this.pruneFirst = opts.pruneFirst ?? (() => false);
  }

  /**
   * Saves a checkpoint: `write(dir)` puts the model's files into a fresh directory, then the metadata is added
   * and the ranking pruned. Returns the checkpoint and whether it made the best `keep` (if not, it is already deleted).
   */
  async save(input: Omit<CheckpointMeta, 'version' | 'createdAt'> & { write: (dir: string) => Promise<void> }): Promise<Checkpoint & { kept: boolean }> {
    const { write, ...rest } = input;
    if (!MODEL_NAME.test(rest.model)) throw new InputValidationError(`checkpoint model name '${rest.model}' must be letters, digits, '-' or '_'`);
    if (!Number.isFinite(rest.metric.value)) throw new InputValidationError(`checkpoint metric ${rest.metric.name} is ${rest.metric.value}, not a finite number`);
    const existing = await this.list(rest.model);
    const other = existing.find((c) => c.meta.metric.name === rest.metric.name && c.meta.metric.higherIsBetter !== rest.metric.higherIsBetter);
    if (other) {
      throw new InputValidationError(`checkpoint for ${rest.model} ranks by ${rest.metric.name} (${rest.metric.higherIsBetter ? 'higher' : 'lower'} is better) but ${other.meta.version} ranks by ${other.meta.metric.name} (${other.meta.metric.higherIsBetter ? 'higher' : 'lower'} is better)`);
    }
    const modelDir = path.join(this.root, rest.model);
    const seq = (await this.versionNumbers(rest.model)).reduce((a, b) => Math.max(a, b), 0) + 1;
    const meta: CheckpointMeta = { ...rest, version: `v${String(seq).padStart(6, '0')}`, createdAt: this.clock.now() };
    const dir = path.join(modelDir, meta.version);
    await mkdir(dir, { recursive: true });
    await write(dir);
    const tmp = path.join(dir, `${META_FILE}.tmp`);
    await writeFile(tmp, JSON.stringify(meta, null, 1));
    await rename(tmp, path.join(dir, META_FILE));
    const kept = await this.prune(rest.model, rest.metric);
    return { meta, dir, kept: kept.some((c) => c.meta.version === meta.version) };
  }

  /**
   * Returns a model's complete checkpoints: those ranked by `rankBy` first, best first (ties: newer first), then those
   * ranked by each of `thenBy` in turn (ranked alike), then the others newest first. Default `rankBy`: the metric of
   * the newest checkpoint.
   */
  async list(model: string, rankBy?: RankMetric, ...thenBy: readonly RankMetric[]): Promise<Checkpoint[]> {
    const modelDir = path.join(this.root, model);
    const out: Checkpoint[] = [];
    for (const v of await subdirs(modelDir)) {
      const dir = path.join(modelDir, v);
      const meta = await readMeta(dir);
      if (meta) out.push({ meta, dir });
    }
    const by = rankBy ?? out.reduce<Checkpoint | undefined>((a, c) => (a === undefined || newerFirst(c, a) < 0 ? c : a), undefined)?.meta.metric;
    const groups = by === undefined ? [] : [by, ...thenBy];
    const ranked = groups.flatMap((m) => out.filter((c) => rankedBy(c, m)).sort(compareCheckpoints));
    return [...ranked, ...out.filter((c) => !groups.some((m) => rankedBy(c, m))).sort(newerFirst)];
  }

  /**
   * Returns the checkpoint to load at start, or undefined when there is none: the best by `rankBy` (default: the
   * newest checkpoint's metric), else the newest ranked by another metric. It need not be one a run can load: the
   * engine walks `list` for the first whose input suits it (app/models.ts).
   */
  async best(model: string, rankBy?: RankMetric): Promise<Checkpoint | undefined> {
    return (await this.list(model, rankBy))[0];
  }

  // Deletes the checkpoints ranked by `metric` past the best `keep` of their input group (those `pruneFirst` marks
  // ranked last, those `keepAlways` holds left out of the count), and any interrupted save; returns those kept.
  private async prune(model: string, metric: RankMetric): Promise<Checkpoint[]> {
    const held: Checkpoint[] = [];
    const groups = new Map<string, { rest: Checkpoint[]; goFirst: Checkpoint[] }>();
    const unranked: Checkpoint[] = [];
    // One pass, each filter asked once per checkpoint: a caller's filter may read the disk (app/online-learning.ts pruneFirst).
    for (const c of await this.list(model, metric)) {
      if (!rankedBy(c, metric)) unranked.push(c);
      else if (this.keepAlways(c)) held.push(c);
      else {
        const key = inputGroup(c.meta);
        let g = groups.get(key);
        if (g === undefined) groups.set(key, (g = { rest: [], goFirst: [] }));
        (this.pruneFirst(c) ? g.goFirst : g.rest).push(c);
      }
    }
    const keep = [...held, ...[...groups.values()].flatMap((g) => [...g.rest, ...g.goFirst].slice(0, this.keep))];
    const keepDirs = new Set([...keep, ...unranked].map((c) => path.basename(c.dir)));
    const modelDir = path.join(this.root, model);
    for (const v of await subdirs(modelDir)) if (!keepDirs.has(v)) await rm(path.join(modelDir, v), { recursive: true, force: true });
    return keep;
  }

  private async versionNumbers(model: string): Promise<number[]> {
    return (await subdirs(path.join(this.root, model))).map((v) => /^v(\d+)$/.exec(v)).filter((m) => m !== null).map((m) => Number(m[1]));
  }
}

/**
 * The group a checkpoint is pruned within: its recorded input kind and symbol (JSON of both, absent ones included), so
 * checkpoints one engine run can load are never counted against those it cannot. `meta` is read from disk.
 */
function inputGroup(meta: Pick<CheckpointMeta, 'input'>): string {
  const i = (typeof meta.input === 'object' && meta.input !== null ? meta.input : {}) as { kind?: unknown; symbol?: unknown };
  return JSON.stringify([i.kind ?? null, i.symbol ?? null]);
}

function rankedBy(c: Checkpoint, metric: RankMetric): boolean {
  return c.meta.metric.name === metric.name && c.meta.metric.higherIsBetter === metric.higherIsBetter;
}

// Within one metric only (callers group first).
function compareCheckpoints(a: Checkpoint, b: Checkpoint): number {
  const d = a.meta.metric.higherIsBetter ? b.meta.metric.value - a.meta.metric.value : a.meta.metric.value - b.meta.metric.value;
  return d !== 0 ? d : newerFirst(a, b);
}

function newerFirst(a: Checkpoint, b: Checkpoint): number {
  return versionNumber(b) - versionNumber(a) || b.meta.version.localeCompare(a.meta.version);
}

function versionNumber(c: Checkpoint): number {
  const m = /^v(\d+)$/.exec(c.meta.version);
  return m ? Number(m[1]) : -1;
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Returns the metadata of the checkpoint in `dir` (its checkpoint.json), or undefined when there is none or it is not
 * a JSON object: an interrupted save or a foreign folder, not a checkpoint. Synchronous, for callers outside the store.
 */
export function readCheckpointMeta(dir: string): CheckpointMeta | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(dir, META_FILE), 'utf8');
  } catch {
    return undefined;
  }
  return parseMeta(text);
}

async function readMeta(dir: string): Promise<CheckpointMeta | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, META_FILE), 'utf8');
  } catch {
    return undefined;
  }
  return parseMeta(text);
}

// Fields are not checked one by one: a checkpoint written before a field existed lacks it, and each reader says
// what it misses (app/backtest-model-spans.ts). Only what cannot be a checkpoint's metadata at all is refused.
function parseMeta(text: string): CheckpointMeta | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as CheckpointMeta) : undefined;
}
