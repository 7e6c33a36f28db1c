// The data each trained model in a backtest's blend learnt from, so that a backtest can refuse to grade a model on its
// own training data (app/backtest.ts: in-sample unless --allow-in-sample). Read from the checkpoints the loader chose:
// their checkpoint.json `dataSpan`, an online-promoted model's base (its data and, for a DQN, its validation span: a
// promoted version was fine-tuned from those weights), a DQN's validation span and the CNN a DQN reads (its
// outputs in the DQN's training states carry the CNN's training labels). A DQN's checkpoint.json records the last two
// (`validationSpan`, `input.cnn.dataSpan`); for one written before, they are looked up in its train-report.json and
// in the CNN's checkpoint folder.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../engine/config/schema.ts';
import { readCheckpointMeta, type CheckpointMeta } from '../models/checkpoints.ts';
import { BUNDLED_CNN_DIR, BUNDLED_DQN_DIR } from '../models/bundled/index.ts';
import { fileSha256 } from '../models/train/dqn-state.ts';
import { CNN_ONNX_FILE, ONLINE_VERSION_PREFIX, type LoadedCnn, type LoadedDqn, type LoadedModels } from './models.ts';

/** One bar span of a checkpoint's data (open times of its first and last 1m bars, ISO). */
export interface TrainingSpanPart {
  /** Whose span: `name@version`. */
  readonly of: string;
  readonly from: string;
  readonly to: string;
}

/** The data one model in the blend was trained on. */
export interface ModelTrainingSpan {
  /** `name@version`, as in BacktestSummary.models. */
  readonly model: string;
  /** The earliest `from` and the latest `to` of `parts`; null when no part is known. */
  readonly from: string | null;
  readonly to: string | null;
  /**
   * Each span that counts: the model's own checkpoint's; its base's (an online-promoted CNN was fine-tuned from it); a
   * DQN's validation span (it picked the weights) and, for a DQN that reads the CNN, that CNN's (its outputs in the
   * DQN's training states carry the CNN's training labels).
   */
  readonly parts: readonly TrainingSpanPart[];
  /** What no checkpoint says, when a span that counts is unknown. */
  readonly missing: readonly string[];
  /** Its training data reaches the recording's first line or later. */
  readonly inSample: boolean;
}

// checkpoint.json `dataSpan` holds the open times of the first and last bar a model's training read; both trainers work
// on 1m bars, so that data runs one minute past `toMs`.
const TRAINING_BAR_MS = 60_000;

type Span = { readonly fromMs: number; readonly toMs: number };
type SpanMs = Span & { readonly of: string };
type SpanLookup = { readonly parts: SpanMs[]; readonly missing: string[] };

/** The loaded models the spans are read from (a promoted version's base folder is their `baseDir`). */
type SpanModels = Pick<LoadedModels, 'loaded'> & { readonly cnn?: LoadedCnn; readonly dqn?: LoadedDqn };

/**
 * Returns the training span of each CNN and DQN in `models` and whether it reaches `firstLineMs` (the recording's first
 * line) or later. Read from the checkpoints the loader chose (app/models.ts): the CNN's and the DQN's metadata it kept,
 * a promoted CNN's base, and for a DQN that reads the CNN, the CNN the loader ran it beside (it loads such a DQN only
 * beside the CNN whose ONNX sha-256 it records), else the CNN span the DQN's checkpoint recorded.
 */
export function modelTrainingSpans(config: Config, models: SpanModels, firstLineMs: number): ModelTrainingSpan[] {
  const out: ModelTrainingSpan[] = [];
  for (const id of models.loaded) {
    const [name, version] = id.split('@') as [string, string];
    let found: SpanLookup;
    if (name === 'cnn') found = cnnSpans(config, models, version);
    else if (name === 'dqn') found = dqnSpans(config, models, version);
    else continue; // a rule: nothing trained
    out.push(spanOf(id, found, firstLineMs));
  }
  return out;
}

function spanOf(model: string, { parts, missing }: SpanLookup, firstLineMs: number): ModelTrainingSpan {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const fromMs = parts.reduce((m, p) => Math.min(m, p.fromMs), Infinity);
  const toMs = parts.reduce((m, p) => Math.max(m, p.toMs), -Infinity);
  return {
    model, from: parts.length > 0 ? iso(fromMs) : null, to: parts.length > 0 ? iso(toMs) : null,
    parts: parts.map((p) => ({ of: p.of, from: iso(p.fromMs), to: iso(p.toMs) })), missing,
    inSample: parts.length > 0 && toMs + TRAINING_BAR_MS > firstLineMs,
  };
}

function cnnSpans(config: Config, models: Pick<SpanModels, 'cnn'>, version: string): SpanLookup {
  const cnn = models.cnn;
  const id = `cnn@${version}`;
  if (cnn === undefined || cnn.version !== version) return { parts: [], missing: [`${id} is served without a checkpoint (an override): no training span recorded`] };
  const parts: SpanMs[] = [];
  const missing: string[] = [];
  addSpan(parts, missing, id, cnn.meta, cnn.dir);
  // Fine-tuned from its base: the base's data is in its weights too.
  if (version.startsWith(ONLINE_VERSION_PREFIX)) {
    addSpan(parts, missing, `cnn@${cnn.base}`, readCheckpointMeta(cnn.baseDir), cnn.baseDir);
  }
  return { parts, missing };
}

function dqnSpans(config: Config, models: Pick<SpanModels, 'cnn' | 'dqn'>, version: string): SpanLookup {
  const id = `dqn@${version}`;
  const dqn = models.dqn;
  if (dqn === undefined || dqn.version !== version) return { parts: [], missing: [`${id} is served without a checkpoint: no training span recorded`] };
  const parts: SpanMs[] = [];
  const missing: string[] = [];
  addSpan(parts, missing, id, dqn.meta, dqn.dir);
  // Its weights are the episode that did best on the validation span after its data: that span picked them.
  const validation = validationSpanOf(dqn.meta, dqn.dir);
  if (validation !== undefined) parts.push({ of: `${id} validation`, ...validation });
  // Fine-tuned online from its base: the base's data, and the validation span that picked the base's weights, are in
  // its weights too.
  if (version.startsWith(ONLINE_VERSION_PREFIX) && dqn.base !== undefined) addDqnBaseSpans(parts, missing, dqnBaseDir(config, dqn), dqn.base);
  const cnn = (dqn.meta.input as { cnn?: unknown } | undefined)?.cnn;
  if (typeof cnn !== 'object' || cnn === null) return { parts, missing }; // trained with `--cnn none`: reads no CNN
  const rec = cnn as { version?: unknown; onnxSha256?: unknown; dataSpan?: unknown };
  if (models.cnn !== undefined) {
    const own = cnnSpans(config, models, models.cnn.version);
    return { parts: [...parts, ...own.parts], missing: [...missing, ...own.missing] };
  }
  // The CNN is an override: the span the DQN recorded of the CNN it was trained beside, else (a checkpoint written
  // before it was recorded) the checkpoint the DQN names, if it is the same file.
  const recorded = recordedSpan(rec.dataSpan);
  if (recorded !== undefined) {
    parts.push({ of: `cnn@${String(rec.version)}`, ...recorded });
    return { parts, missing };
  }
  const cnnDir = typeof rec.version === 'string' ? cnnCheckpointDir(config, rec.version) : undefined;
  const onnx = cnnDir === undefined ? undefined : path.join(cnnDir, CNN_ONNX_FILE);
  if (onnx !== undefined && existsSync(onnx) && fileSha256(onnx) === rec.onnxSha256) {
    addSpan(parts, missing, `cnn@${String(rec.version)}`, readCheckpointMeta(cnnDir!), cnnDir!);
  } else {
    missing.push(`${id} reads CNN ${JSON.stringify(rec.version)} (ONNX sha-256 ${String(rec.onnxSha256).slice(0, 12)}…), whose checkpoint is not at ${cnnDir ?? 'a known folder'}; its checkpoint.json input.cnn records no training span of that CNN`);
  }
  return { parts, missing };
}

function addDqnBaseSpans(parts: SpanMs[], missing: string[], dir: string, base: string): void {
  const meta = readCheckpointMeta(dir);
  addSpan(parts, missing, `dqn@${base}`, meta, dir);
  const validation = meta === undefined ? undefined : validationSpanOf(meta, dir);
  if (validation !== undefined) parts.push({ of: `dqn@${base} validation`, ...validation });
}

// The folder of a promoted DQN's base: the loader's when it carries it, its rollback target's when that is the base,
// else where the loader reads that version from (`bundled-…` is models/bundled, any other a folder of checkpointDir).
function dqnBaseDir(config: Config, dqn: NonNullable<SpanModels['dqn']>): string {
  const { base, baseDir, parent } = dqn;
  if (baseDir !== undefined) return baseDir;
  if (parent !== undefined && parent.version === base) return parent.dir;
  return base!.startsWith('bundled-') ? BUNDLED_DQN_DIR : path.join(config.models.checkpointDir, 'dqn', base!);
}

// Recorded in checkpoint.json; a checkpoint written before records it only in its train-report.json.
function validationSpanOf(meta: CheckpointMeta, dir: string): Span | undefined {
  return recordedSpan(meta.validationSpan)
    ?? recordedSpan(readJson<{ validation?: { span?: unknown } }>(path.join(dir, 'train-report.json'))?.validation?.span);
}

function addSpan(parts: SpanMs[], missing: string[], of: string, meta: CheckpointMeta | undefined, dir: string): void {
  const span = recordedSpan(meta?.dataSpan);
  if (meta === undefined) missing.push(`${of}: no readable checkpoint.json in ${dir}`);
  else if (span === undefined) missing.push(`${of}: ${path.join(dir, 'checkpoint.json')} records no dataSpan { fromMs, toMs }`);
  else parts.push({ of, ...span });
}

// `{ fromMs, toMs }` read from disk, or undefined when it is not one.
function recordedSpan(v: unknown): Span | undefined {
  const s = v as { fromMs?: unknown; toMs?: unknown } | undefined;
  return typeof s?.fromMs === 'number' && typeof s.toMs === 'number' && Number.isFinite(s.fromMs) && Number.isFinite(s.toMs)
    ? { fromMs: s.fromMs, toMs: s.toMs } : undefined;
}

// Where the loader reads a CNN version from: `bundled-…` is models/bundled, any other version a folder of checkpointDir.
function cnnCheckpointDir(config: Config, version: string): string {
  return version.startsWith('bundled-') ? BUNDLED_CNN_DIR : path.join(config.models.checkpointDir, 'cnn', version);
}

// Undefined when missing or not JSON.
function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Returns one line naming each in-sample model, its training span and the backtest's span (`endMs` unknown: from its start). */
export function inSampleReason(models: readonly ModelTrainingSpan[], firstLineMs: number, endMs: number | undefined): string {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const run = endMs === undefined ? `from ${iso(firstLineMs)}` : `${iso(firstLineMs)} → ${iso(endMs)}`;
  const each = models.map((m) => `${m.model} was trained on bars ${m.from} → ${m.to}${m.parts.length > 1 ? ` (${m.parts.map((p) => `${p.of} ${p.from} → ${p.to}`).join(', ')})` : ''}`);
  return `${each.join('; ')}, reaching into this backtest's data (${run}): its figures would be in-sample`;
}
