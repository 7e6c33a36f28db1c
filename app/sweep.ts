// `cobalt sweep`: a grid of backtests over config parameters, with an out-of-sample check. Searching a grid for the
// best backtest overfits: the best of N in-sample figures is biased upward by the search itself. So the recording's
// span is split at a fraction of its simulated time: every configuration runs on the in-sample part and is ranked on
// it alone; only the top K then run once on the out-of-sample part, and both figures are reported side by side with
// the number of configurations tried. The out-of-sample runs replay the in-sample lines first with trading held
// (runBacktest's `window`), so that they start with live books and candles, not from a cold engine.
// Every configuration is the config file with the swept keys set, validated by the same loader as `cobalt backtest`
// (COBALT_* overrides included); a key the schema does not have, a value it refuses, a key an override sets (itself or
// its section), two values the config takes as one, or a grid over MAX_SWEEP_RUNS is refused before any run. Runs go
// one after another in this process (the recording's replay catalog is decoded once and cached on disk under
// data.catalogDir, ./backtest-source.ts), and each is deterministic for its config and seed, so the same sweep prints
// the same table.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  compareDecimals, configSchemaJson, loadConfig, missingDataPaths, parseEnvOverrides, parseYamlConfig, setPath, validateConfig,
  type Config, type EnvOverride,
} from '../engine/config/index.ts';
import { createLogger, log, setLogger, type Logger } from '../engine/log.ts';
import { ConfigError, EngineError, EngineStartError } from '../engine/types/errors.ts';
import { isoSpan, parseSpanArgs } from '../engine/types/time-arg.ts';
import { BacktestInSampleError, BacktestModelStuckError, BacktestWindowError, runBacktest, type BacktestProgress, type BacktestSummary } from './backtest.ts';
import { progressText } from './backtest-progress.ts';
import { catalogSource } from './backtest-source.ts';
import { dataInstrumentsOf } from './system.ts';

/** Most configurations one sweep runs in-sample. */
export const MAX_SWEEP_RUNS = 200;
/** Least recorded time each side of the split must hold. */
export const MIN_SIDE_MS = 60_000;
export const DEFAULT_SPLIT = 0.6;
export const DEFAULT_TOP = 3;
/** Figures a sweep ranks by; maxDrawdown ranks lowest first, the others highest first. */
export const RANK_METRICS = ['sharpe', 'pnl', 'hitRate', 'maxDrawdown', 'trades'] as const;
export type RankMetric = (typeof RANK_METRICS)[number];

/** A sweep that cannot run as asked (a bad --param, grid, split or rank); the message names what was wrong. */
export class SweepRefusedError extends EngineError {
  readonly code = 'SWEEP_REFUSED';
}

/** One swept key and its values, parsed as the schema expects. */
export interface SweepParam {
  readonly key: string;
  readonly values: readonly unknown[];
}

/** One configuration of the grid: the swept values (by key) and the validated config. */
export interface GridPoint {
  readonly params: Readonly<Record<string, unknown>>;
  readonly config: Config;
}

/**
 * Recorded (receive) times [fromMs, toMs): toMs left out, so that the in-sample window ends where the out-of-sample
 * one starts and a line between them (receive times carry fractions of a ms) is measured by exactly one.
 */
export interface SweepWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

/** What one run did over its window. */
export interface SweepFigures {
  /** First and last line measured (ISO). */
  readonly from: string;
  readonly to: string;
  readonly trades: number;
  readonly pnl: number;
  readonly sharpe: number;
  readonly maxDrawdown: number;
  readonly hitRate: number;
}

/** One configuration's in-sample figures, and its out-of-sample ones when it was in the top K. */
export interface SweepRun {
  /** 1 = best in-sample. */
  readonly rank: number;
  /** Its place in the grid (1-based; the first key varies slowest): --out writes its summary as runs/in-sample-<grid>.json. */
  readonly grid: number;
  readonly params: Readonly<Record<string, unknown>>;
  readonly inSample: SweepFigures;
  readonly outOfSample: SweepFigures | null;
}

/** The JSON document of `cobalt sweep --json` (and sweep.json). */
export interface SweepResult {
  readonly configurations: number;
  readonly rankedBy: RankMetric;
  readonly split: number;
  readonly top: number;
  readonly recording: { readonly from: string; readonly to: string };
  readonly inSampleWindow: { readonly from: string; readonly to: string };
  readonly outOfSampleWindow: { readonly from: string; readonly to: string };
  /** Every configuration, best in-sample first. */
  readonly runs: readonly SweepRun[];
  readonly caveat: string;
  readonly notes: readonly string[];
}

/** Where a sweep stands: before a run (no figures) and after it. */
export interface SweepRunEvent {
  readonly phase: 'in-sample' | 'out-of-sample';
  /** 1-based, of `of` in this phase. */
  readonly index: number;
  readonly of: number;
  readonly params: Readonly<Record<string, unknown>>;
  readonly figures?: SweepFigures;
}

export interface SweepOptions {
  readonly split?: number;
  readonly rank?: RankMetric;
  readonly top?: number;
  /** Sweep over this much recorded time from the first line only (the split applies to it). */
  readonly maxSpanMs?: number;
  /** Sweep over recorded times [fromMs, toMs) only (--from/--to; the split applies to it, the time before warms up). */
  readonly span?: { readonly fromMs?: number; readonly toMs?: number };
  readonly logger?: Logger;
  readonly onRun?: (e: SweepRunEvent) => void;
  readonly onProgress?: (p: BacktestProgress) => void;
}

/** Returns `key=v1,v2,…` as its key and value texts; throws SweepRefusedError when it is not that shape. */
export function parseParamSpec(spec: string): { key: string; texts: string[] } {
  const eq = spec.indexOf('=');
  const key = eq < 0 ? '' : spec.slice(0, eq).trim();
  if (eq < 0 || key === '') throw new SweepRefusedError(`--param '${spec}': expected <dotted.key>=<v1,v2,…>`);
  const texts = spec.slice(eq + 1).split(',').map((t) => t.trim());
  const empty = texts.findIndex((t) => t === '');
  if (empty >= 0) throw new SweepRefusedError(`--param ${key}: value ${empty + 1} of '${spec.slice(eq + 1)}' is empty`);
  const twice = texts.find((t, i) => texts.indexOf(t) !== i);
  if (twice !== undefined) throw new SweepRefusedError(`--param ${key}: value '${twice}' is listed twice`);
  return { key, texts };
}

interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: SchemaNode | boolean;
  readonly anyOf?: readonly SchemaNode[];
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
}

// The JSON types a schema node accepts (its own, its union members', its constants').
function nodeTypes(n: SchemaNode): Set<string> {
  const out = new Set<string>([n.type ?? []].flat());
  for (const v of [...(n.enum ?? []), ...('const' in n ? [n.const] : [])]) out.add(typeof v);
  for (const m of n.anyOf ?? []) for (const t of nodeTypes(m)) out.add(t);
  return out;
}

// The node under `seg` of an object node (its properties, or the value schema of a record), undefined if none.
function childNode(n: SchemaNode, seg: string): SchemaNode | undefined {
  for (const o of [n, ...(n.anyOf ?? [])]) {
    if (o.properties !== undefined && Object.hasOwn(o.properties, seg)) return o.properties[seg];
    if (typeof o.additionalProperties === 'object') return o.additionalProperties;
  }
  return undefined;
}

/** Returns the schema node of the config value at dotted `key`; throws SweepRefusedError when it is not a swept value. */
export function schemaLeaf(key: string): SchemaNode {
  let node = configSchemaJson() as SchemaNode;
  const segs = key.split('.');
  segs.forEach((seg, i) => {
    const next = childNode(node, seg);
    if (next === undefined) {
      const at = segs.slice(0, i).join('.') || '(root)';
      const keys = Object.keys(node.properties ?? {});
      throw new SweepRefusedError(`--param ${key}: the config has no key '${seg}' under ${at}${keys.length ? ` (it has ${keys.join(', ')})` : ''}`);
    }
    node = next;
  });
  const types = nodeTypes(node);
  if (types.has('object') || types.has('array')) {
    throw new SweepRefusedError(`--param ${key}: is ${types.has('array') ? 'a list' : 'a section'}, not a single value; sweep one of its keys`);
  }
  return node;
}

// A value as the schema expects it: the text itself where a string is accepted (decimals stay exact: '0.001', not a
// float), else YAML's reading of it (numbers, true/false).
function parseValue(node: SchemaNode, text: string): unknown {
  if (nodeTypes(node).has('string')) return text;
  try {
    return parseYaml(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Returns the swept params of `specs` over the config document `raw`, each value parsed as the schema expects and
 * accepted by the loader on its own; throws SweepRefusedError naming the key and value otherwise.
 */
export function sweepParams(raw: unknown, specs: readonly string[], overrides: readonly EnvOverride[] = []): SweepParam[] {
  if (specs.length === 0) throw new SweepRefusedError('no --param given: a sweep needs at least one <dotted.key>=<v1,v2,…>');
  const params: SweepParam[] = [];
  for (const spec of specs) {
    const { key, texts } = parseParamSpec(spec);
    if (params.some((p) => p.key === key)) throw new SweepRefusedError(`--param ${key}: given twice; list every value in one --param`);
    const node = schemaLeaf(key);
    const env = overrides.find((o) => overridesKey(o, key));
    if (env !== undefined) throw new SweepRefusedError(`--param ${key}: ${env.variable} also sets it${env.path.length < key.split('.').length ? ` (its section ${env.path.join('.')})` : ''} and would win over the swept values; unset it`);
    const values = texts.map((t) => parseValue(node, t));
    const taken = values.map((v, i) => {
      const res = validateConfig(setPath(raw as Record<string, unknown>, key.split('.'), v), overrides);
      if (!res.ok) throw new SweepRefusedError(`--param ${key}=${texts[i]}: refused by the config schema: ${res.problems.join('; ')}`);
      return checkSwept(res.config, { [key]: v }, overrides)[0]!;
    });
    taken.forEach((t, i) => {
      const same = taken.findIndex((u) => sameValue(u, t));
      if (same < i) throw new SweepRefusedError(`--param ${key}: values '${texts[same]}' and '${texts[i]}' are the same value; list it once`);
    });
    params.push({ key, values });
  }
  return params;
}

/** Returns every combination of `params` (the first key varies slowest) as a validated config; refuses a grid over `maxRuns`. */
export function sweepGrid(raw: unknown, params: readonly SweepParam[], overrides: readonly EnvOverride[] = [], maxRuns = MAX_SWEEP_RUNS): GridPoint[] {
  const size = params.reduce((n, p) => n * p.values.length, 1);
  if (size > maxRuns) {
    throw new SweepRefusedError(`the grid has ${size} configurations (${params.map((p) => `${p.values.length} ${p.key}`).join(' × ')}); a sweep runs at most ${maxRuns}: fewer values, or several sweeps`);
  }
  let combos: Record<string, unknown>[] = [{}];
  for (const p of params) combos = combos.flatMap((c) => p.values.map((v) => ({ ...c, [p.key]: v })));
  return combos.map((combo) => {
    let doc = raw as Record<string, unknown>;
    for (const [k, v] of Object.entries(combo)) doc = setPath(doc, k.split('.'), v);
    const res = validateConfig(doc, overrides);
    if (!res.ok) throw new SweepRefusedError(`configuration ${paramsText(combo)}: refused by the config schema: ${res.problems.join('; ')}`);
    checkSwept(res.config, combo, overrides);
    return { params: combo, config: res.config };
  });
}

// True when override `o` sets `key` or a section above it (which replaces the swept value with the section's). The
// override's path is camel-cased as the variable was written, so the match ignores case as the loader does.
function overridesKey(o: EnvOverride, key: string): boolean {
  const k = key.toLowerCase();
  const p = o.path.join('.').toLowerCase();
  return k === p || k.startsWith(`${p}.`);
}

// Returns the value of `config` at each key of `swept`; throws SweepRefusedError where it is not the swept value (a
// rule of the loader, or an override the prefix check did not recognise, put another there): the table would label
// a configuration that did not run.
function checkSwept(config: Config, swept: Readonly<Record<string, unknown>>, overrides: readonly EnvOverride[]): unknown[] {
  return Object.entries(swept).map(([key, v]) => {
    const got = key.split('.').reduce<unknown>((node, seg) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined), config);
    if (!sameValue(got, v)) {
      const vars = overrides.length > 0 ? ` (overrides set: ${overrides.map((o) => o.variable).join(', ')})` : '';
      throw new SweepRefusedError(`--param ${key}=${valueText(v)}: the validated config holds ${valueText(got)} there instead${vars}; the run would not be the one its row names`);
    }
    return got;
  });
}

// Equal values as the config holds them: decimal strings by value ('0.010' is '0.01'), anything else exactly.
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string' && a !== b) {
    try {
      return compareDecimals(a, b) === 0;
    } catch {
      return false;
    }
  }
  return Object.is(a, b);
}

const valueText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));

/**
 * Returns the in-sample [first, split) and out-of-sample [split, endMs) windows (endMs by default the next time above
 * the last line, which keeps that line; a --to's own time, which it leaves out); refuses a side under MIN_SIDE_MS.
 */
export function splitWindows(firstMs: number, lastMs: number, split: number, endMs = nextAbove(lastMs), what = 'the recording'): { inSample: SweepWindow; outOfSample: SweepWindow } {
  if (!(split > 0 && split < 1)) throw new SweepRefusedError(`--split ${split}: expected a fraction of the recorded span between 0 and 1 (0.6 = the first 60 % in-sample)`);
  const at = firstMs + Math.round((lastMs - firstMs) * split);
  const isMs = at - firstMs;
  const oosMs = lastMs - at;
  if (isMs < MIN_SIDE_MS || oosMs < MIN_SIDE_MS) {
    throw new SweepRefusedError(`${what} is too short for --split ${split}: it spans ${seconds(lastMs - firstMs)}, which leaves ${seconds(isMs)} in-sample and ${seconds(oosMs)} out-of-sample; each side needs at least ${seconds(MIN_SIDE_MS)}`);
  }
  return { inSample: { fromMs: firstMs, toMs: at }, outOfSample: { fromMs: at, toMs: endMs } };
}

// The least double above `ms` (a positive time): an end left out that keeps a line at `ms` itself.
function nextAbove(ms: number): number {
  const f = new Float64Array([ms]);
  new BigInt64Array(f.buffer)[0]! += 1n;
  return f[0]!;
}

/** Returns how `metric` orders two figures: negative when `a` ranks above `b`. */
export function compareBy(metric: RankMetric, a: SweepFigures, b: SweepFigures): number {
  return metric === 'maxDrawdown' ? a[metric] - b[metric] : b[metric] - a[metric];
}

/**
 * Returns the indices of `inSample` (one figure per configuration) best first by `metric`. The in-sample figures are
 * all it sees: the out-of-sample runs come after it. Ties keep grid order, so the ranking is the same on every run.
 */
export function rankOrder(inSample: readonly SweepFigures[], metric: RankMetric): number[] {
  return inSample.map((_, i) => i).sort((a, b) => compareBy(metric, inSample[a]!, inSample[b]!) || a - b);
}

/**
 * Runs the sweep of `grid` (sweepGrid): every configuration on the in-sample window, ranked there, then the top K on
 * the out-of-sample window. Returns the result and every run's backtest summary.
 */
export async function runSweep(grid: readonly GridPoint[], opts: SweepOptions = {}): Promise<{ result: SweepResult; summaries: { inSample: BacktestSummary[]; outOfSample: BacktestSummary[] } }> {
  const rank = opts.rank ?? 'sharpe';
  const top = Math.min(opts.top ?? DEFAULT_TOP, grid.length);
  const split = opts.split ?? DEFAULT_SPLIT;
  if (grid.length === 0) throw new SweepRefusedError('the grid is empty');
  const span = await recordedSpan(grid[0]!.config, opts);
  const windows = splitWindows(span.firstMs, span.lastMs, split, span.endMs, opts.span ? 'the --from/--to span' : 'the recording');
  const run = async (p: GridPoint, phase: SweepRunEvent['phase'], index: number, of: number): Promise<{ figures: SweepFigures; summary: BacktestSummary }> => {
    opts.onRun?.({ phase, index, of, params: p.params });
    const window = phase === 'in-sample' ? windows.inSample : windows.outOfSample;
    const r = await runBacktest(p.config, { window, ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    const figures = figuresOf(r.summary);
    opts.onRun?.({ phase, index, of, params: p.params, figures });
    return { figures, summary: r.summary };
  };
  const inSample: { figures: SweepFigures; summary: BacktestSummary }[] = [];
  for (const [i, p] of grid.entries()) inSample.push(await run(p, 'in-sample', i + 1, grid.length));
  const order = rankOrder(inSample.map((r) => r.figures), rank);
  const outOfSample = new Map<number, { figures: SweepFigures; summary: BacktestSummary }>();
  for (const [k, i] of order.slice(0, top).entries()) outOfSample.set(i, await run(grid[i]!, 'out-of-sample', k + 1, top));
  const runs = order.map((i, k): SweepRun => ({ rank: k + 1, grid: i + 1, params: grid[i]!.params, inSample: inSample[i]!.figures, outOfSample: outOfSample.get(i)?.figures ?? null }));
  const summaries = { inSample: inSample.map((r) => r.summary), outOfSample: order.slice(0, top).map((i) => outOfSample.get(i)!.summary) };
  const result: SweepResult = {
    configurations: grid.length, rankedBy: rank, split, top,
    recording: isoWindow({ fromMs: span.recording.firstMs, toMs: span.recording.lastMs }), inSampleWindow: isoWindow(windows.inSample), outOfSampleWindow: isoWindow(windows.outOfSample),
    runs,
    caveat: `${grid.length} configuration(s) were tried on the in-sample part and ranked there by ${rank}: the best in-sample figure is biased upward by that search. `
      + `The out-of-sample columns (each of the top ${top} run once on data the ranking never saw) are the honest estimate.`,
    notes: sweepNotes(runs, [...summaries.inSample, ...summaries.outOfSample]),
  };
  return { result, summaries };
}

// The recording's first and last receive times (its replay catalog, built now when missing), cut to opts.span and
// opts.maxSpanMs; endMs is a --to inside the recording (left out of the out-of-sample window).
async function recordedSpan(config: Config, opts: SweepOptions): Promise<{ firstMs: number; lastMs: number; endMs?: number; recording: { firstMs: number; lastMs: number } }> {
  const onLines = opts.onProgress && ((lines: number) => opts.onProgress!({ phase: 'catalog', lines }));
  const source = await catalogSource(config.data.replayFiles, dataInstrumentsOf(config), config.data.catalogDir, opts.logger ?? log(), onLines);
  await source.close();
  if (source.first === undefined || source.last === undefined) throw new SweepRefusedError(`recordings ${config.data.replayFiles.join(', ')} hold no lines`);
  const firstMs = Math.max(source.first, opts.span?.fromMs ?? -Infinity);
  const cap = opts.maxSpanMs === undefined ? source.last : Math.min(source.last, source.first + opts.maxSpanMs);
  const toMs = opts.span?.toMs;
  if (firstMs > cap || (toMs !== undefined && toMs <= source.first)) {
    throw new SweepRefusedError(`--from/--to ${isoSpan(opts.span?.fromMs, toMs)} lies outside the recording (${isoSpan(source.first, source.last)})`);
  }
  const recording = { firstMs: source.first, lastMs: cap };
  if (toMs === undefined || toMs > cap) return { firstMs, lastMs: cap, recording };
  return { firstMs, lastMs: toMs, endMs: toMs, recording };
}


function figuresOf(s: BacktestSummary): SweepFigures {
  return { from: s.from, to: s.to, trades: s.trades, pnl: s.pnl, sharpe: s.sharpe, maxDrawdown: s.maxDrawdown, hitRate: s.hitRate };
}

// What makes the table say less than it seems to.
function sweepNotes(runs: readonly SweepRun[], summaries: readonly BacktestSummary[]): string[] {
  const notes: string[] = [];
  if (runs.every((r) => r.inSample.trades === 0)) notes.push('no configuration traded in-sample: the ranking is by ties (grid order) and says nothing');
  else if (runs[0]!.inSample.trades === 0) notes.push('the best in-sample configuration made no trade: it ranks first for doing nothing');
  const blindOos = runs.filter((r) => r.outOfSample !== null && r.outOfSample.trades === 0).length;
  if (blindOos > 0) notes.push(`${blindOos} of the top configuration(s) made no trade out-of-sample`);
  const failed = summaries.filter((s) => s.engineFailure !== null);
  if (failed.length > 0) notes.push(`${failed.length} run(s) halted on an engine fault (${failed[0]!.engineFailure}): their figures cover only the time before it`);
  return notes;
}

function isoWindow(w: SweepWindow): { from: string; to: string } {
  return { from: new Date(w.fromMs).toISOString(), to: new Date(w.toMs).toISOString() };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Returns `key=value key=value` of one configuration. */
export function paramsText(params: Readonly<Record<string, unknown>>): string {
  return Object.entries(params).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
}

/** Returns the table `cobalt sweep` prints: one row per configuration, best in-sample first, then the caveat and notes. */
export function sweepTable(r: SweepResult): string {
  const figs = (f: SweepFigures | null): string[] => (f === null ? ['-', '-', '-', '-', '-']
    : [String(f.trades), f.pnl.toFixed(2), f.sharpe.toFixed(2), `${(f.maxDrawdown * 100).toFixed(2)}%`, `${(f.hitRate * 100).toFixed(0)}%`]);
  const head = ['rank', 'params', 'IS trades', 'IS pnl', 'IS sharpe', 'IS maxDD', 'IS hit', 'OOS trades', 'OOS pnl', 'OOS sharpe', 'OOS maxDD', 'OOS hit'];
  const rows = r.runs.map((x) => [String(x.rank), paramsText(x.params), ...figs(x.inSample), ...figs(x.outOfSample)]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]): string => cells.map((s, c) => (c === 1 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join('  ').trimEnd();
  return [
    `sweep: ${r.configurations} configuration(s), ranked by in-sample ${r.rankedBy}; split ${r.split}`,
    `  in-sample     ${r.inSampleWindow.from} -> ${r.inSampleWindow.to}`,
    `  out-of-sample ${r.outOfSampleWindow.from} -> ${r.outOfSampleWindow.to} (top ${r.top})`,
    line(head), ...rows.map(line),
    r.caveat, ...r.notes.map((n) => `note: ${n}`),
  ].join('\n') + '\n';
}

/** Options of `cobalt sweep` as commander gives them. */
export interface SweepCommandOptions {
  readonly config: string;
  readonly param?: readonly string[];
  readonly split?: string;
  readonly rank?: string;
  readonly top?: string;
  readonly json?: boolean;
  readonly out?: string;
  readonly from?: string;
  readonly to?: string;
}

// The --split, --rank, --top, --from and --to flags checked.
function sweepFlags(o: SweepCommandOptions): { split: number; rank: RankMetric; top: number; span?: { fromMs?: number; toMs?: number } } {
  const split = o.split === undefined ? DEFAULT_SPLIT : Number(o.split);
  if (o.split !== undefined && (!/^\d*\.?\d+$/.test(o.split) || !(split > 0 && split < 1))) {
    throw new SweepRefusedError(`--split must be a fraction between 0 and 1 (0.6 = the first 60 % in-sample), not '${o.split}'`);
  }
  const rank = (o.rank ?? 'sharpe') as RankMetric;
  if (!RANK_METRICS.includes(rank)) throw new SweepRefusedError(`--rank must be one of ${RANK_METRICS.join(', ')}, not '${o.rank}'`);
  const top = o.top === undefined ? DEFAULT_TOP : Number(o.top);
  if (o.top !== undefined && (!/^\d+$/.test(o.top) || top < 1)) throw new SweepRefusedError(`--top must be a whole number of at least 1, not '${o.top}'`);
  const span = o.from === undefined && o.to === undefined ? undefined : parseSpanArgs(o.from, o.to);
  return { split, rank, top, ...(span ? { span } : {}) };
}

/** Reads the config, checks the flags and builds the grid (no run yet); throws SweepRefusedError or ConfigError. */
export function prepareSweep(o: SweepCommandOptions, env: Readonly<Record<string, string | undefined>> = process.env): { grid: GridPoint[]; flags: ReturnType<typeof sweepFlags>; base: Config } {
  const flags = sweepFlags(o);
  const base = loadConfig(o.config, env).config;
  const missing = missingDataPaths(base);
  if (base.data.replayFiles.length === 0) missing.push('data.replayFiles: a sweep needs at least one recording');
  if (missing.length > 0) throw new ConfigError(`${o.config}:\n${missing.map((m) => `  ${m}`).join('\n')}`);
  const raw = parseYamlConfig(o.config, readFileSync(o.config, 'utf8')) ?? {};
  const overrides = parseEnvOverrides(env);
  const grid = sweepGrid(raw, sweepParams(raw, o.param ?? [], overrides), overrides);
  return { grid, flags, base };
}

/** Runs `cobalt sweep`; returns the exit code. */
export async function sweepCommand(o: SweepCommandOptions): Promise<number> {
  let prepared;
  try {
    prepared = prepareSweep(o);
  } catch (err) {
    if (!(err instanceof SweepRefusedError || err instanceof ConfigError)) throw err;
    process.stderr.write(`cobalt sweep: ${err.message}\n`);
    return 2;
  }
  setLogger(createLogger({ level: process.env.COBALT_LOG_LEVEL ?? prepared.base.log.level }));
  const progress = sweepProgress(process.stderr);
  let out;
  try {
    out = await runSweep(prepared.grid, { ...prepared.flags, onRun: progress.onRun, ...(progress.onProgress ? { onProgress: progress.onProgress } : {}) });
  } catch (err) {
    // A window in a hole of the recording holds no line: a usage error like the others (the span is the caller's).
    if (err instanceof SweepRefusedError || err instanceof ConfigError || err instanceof BacktestInSampleError || err instanceof BacktestWindowError) {
      process.stderr.write(`cobalt sweep: ${err.message}\n`);
      return 2;
    }
    if (!(err instanceof EngineStartError || err instanceof BacktestModelStuckError)) throw err;
    process.stderr.write(`cobalt sweep: ${err.message}\n`);
    return 1;
  } finally {
    progress.done();
  }
  if (o.out !== undefined) await writeSweepDir(o.out, out.result, out.summaries);
  process.stdout.write(o.json ? `${JSON.stringify(out.result)}\n` : sweepTable(out.result));
  return 0;
}

/**
 * Writes sweep.json and each run's backtest summary (runs/in-sample-<grid>.json, runs/out-of-sample-<rank>.json) under
 * `dir`, first deleting the run summaries an earlier sweep left there (a smaller grid would leave some beside its own).
 */
export async function writeSweepDir(dir: string, result: SweepResult, summaries: { inSample: readonly BacktestSummary[]; outOfSample: readonly BacktestSummary[] }): Promise<void> {
  const runs = path.join(dir, 'runs');
  await mkdir(runs, { recursive: true });
  for (const f of await readdir(runs)) {
    if (/^(in-sample|out-of-sample)-\d+\.json$/.test(f)) await rm(path.join(runs, f));
  }
  await writeFile(path.join(dir, 'sweep.json'), `${JSON.stringify(result, null, 2)}\n`);
  for (const [i, s] of summaries.inSample.entries()) await writeFile(path.join(runs, `in-sample-${i + 1}.json`), `${JSON.stringify(s, null, 2)}\n`);
  for (const [i, s] of summaries.outOfSample.entries()) await writeFile(path.join(runs, `out-of-sample-${i + 1}.json`), `${JSON.stringify(s, null, 2)}\n`);
}

// A TTY line per run (with the backtest's own progress), else one pino line as each run ends.
function sweepProgress(out: NodeJS.WriteStream): { onRun: (e: SweepRunEvent) => void; onProgress?: (p: BacktestProgress) => void; done(): void } {
  const logRun = (e: SweepRunEvent): void => {
    if (e.figures !== undefined) log().info({ phase: e.phase, run: e.index, of: e.of, params: e.params, ...e.figures }, 'sweep run done');
  };
  if (!out.isTTY) return { onRun: logRun, done: () => undefined };
  let label = '';
  let t0 = performance.now();
  return {
    onRun: (e) => {
      label = `sweep ${e.phase} ${e.index}/${e.of} (${paramsText(e.params)})`;
      t0 = performance.now();
      out.write(`\r\x1b[K${label}`);
    },
    onProgress: (p) => out.write(`\r\x1b[K${label}: ${progressText(p, performance.now() - t0)}`),
    done: () => out.write('\r\x1b[K'),
  };
}
