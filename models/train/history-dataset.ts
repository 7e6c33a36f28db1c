// CNN training rows from what the daemon actually saw: the BaseDataInputs its inference history recorded (LMDB and the
// retention archives, read through HistoryReader, read-only beside a running daemon), labelled from a 1m kline series.
//
// Features: every model's record holds the packed BaseDataInput it ran on (the coordinator records `input` as
// [BDI_LENGTH]; the DQN's copy carries the CNN's same-tick output in the model slots, which the CNN's columns leave
// out). `selectCnnInput` keeps the CNN's columns, as the CNN agent does before inference, so the rows are those the
// agent fed its CNN and the input kind stays `bdi-klines-v1`: the engine loads a history-trained checkpoint as it loads
// a kline-trained one. A record of another length (a model with another input) is dropped and counted; when no record
// has the BaseDataInput's length the run is refused, naming the shapes found.
// Labels: the features are normalised, so prices come from klines (`cobalt klines` folders, data/klines). Decision bar
// t0 = the last 1m bar closed at the record's time (the online evaluator's rule); the same triple barrier on the same
// 1m grid as `--input bdi`, so a record made at a bdi decision time gets the bdi sample's label and the checkpoints
// compare. A record whose t0, σ window or horizon is not in the klines (no price at t0 + horizon) gets no label, and
// one whose σ window or horizon crosses a hole in the klines is dropped as the online evaluator drops it; both counted.
// One sample per decision: records are unique per (symbol, ts) (several models, or versions of one under other
// names, record the same tick; the first in the reader's (ts, model) order is kept), and, as the bdi input decides
// every `everyMinutes` minutes, only the first record of a decision bar closing on a whole multiple of it is kept (the
// trigger is the 1 s candle: ~60 records a bar, one label; 22 KB of rows each in memory). Samples are in time order;
// the trainer's walk-forward split never shuffles across it.
// A store a replay of a recording wrote is refused (replayRefusal): its times are not the market's, so the labels
// read at them would be another market's.
import { resolve } from 'node:path';
import type { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import { BDI_LENGTH } from '../../engine/market/base-data-input.ts';
import type { HistoryReader } from '../../engine/store/history-reader.ts';
import type { InferenceRecord } from '../../engine/store/inference-history.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { CNN_INPUT_SIZE, CNN_INPUT_SPEC, selectCnnInput } from '../cnn/bdi-adapter.ts';
import { runStarts } from '../data.ts';
import { classCounts, tripleBarrierLabels, type TripleBarrierOptions } from '../labels/triple-barrier.ts';
import type { CnnSamples } from './samples.ts';

const MIN = 60_000;

/** Which history records become samples, and how they are labelled. */
export interface HistoryDatasetOptions {
  readonly reader: HistoryReader;
  /** Symbol whose records are read and labelled (default ETH/USDT). */
  readonly symbol?: string;
  /** Only this model's records; default every model's (deduplicated per tick). */
  readonly model?: string;
  /** Where the 1m bars of the labels come from. */
  readonly klines: KlinesArchive;
  readonly labels: TripleBarrierOptions;
  /** One decision every `everyMinutes` minutes, at whole multiples of it (UTC), as the bdi input. */
  readonly everyMinutes: number;
  /** Records from this time (inclusive). */
  readonly fromMs?: TsMs;
  /** Records before this time, and no bar opening at or after it is read by the labels. */
  readonly untilMs?: TsMs;
  /** Told every record read (a progress display). */
  readonly onRecord?: (read: number, ts: TsMs, samples: number) => void;
}

/** What became of the records read. */
export interface HistoryCounts {
  /** Records of the symbol (and model) in the time range, each stored record once. */
  read: number;
  /** Dropped: features not the BaseDataInput's length. */
  wrongShape: number;
  /** Dropped: the same (symbol, ts) as a record already taken (another model's copy of the tick). */
  duplicate: number;
  /** Left out: not the first record of a decision bar on the `everyMinutes` grid. */
  offGrid: number;
  /** Dropped: no 1m bar at t0, at t0 + horizon, or not volWindow bars before t0 in the klines. */
  noLabel: number;
  /** Dropped: the σ window or the horizon crosses a hole in the klines' open times. */
  atGaps: number;
  samples: number;
  /** What the reader skipped: stored copies of one record (LMDB + archive), bad archive lines, unreadable archives. */
  storedCopies: number;
  badLines: number;
  unreadableArchives: number;
}

/** The history behind a dataset: counts, the records' span and the shapes that were refused. */
export interface HistoryReport {
  readonly model: string | null;
  readonly counts: HistoryCounts;
  /** Times of the first and last record read (null when none was). */
  readonly span: { readonly fromMs: number; readonly toMs: number; readonly from: string; readonly to: string } | null;
  /** Shapes of the dropped wrong-shape records, per model: `model [shape]` -> records. */
  readonly wrongShapes: Readonly<Record<string, number>>;
}

/** Labelled CNN rows from the inference history. */
export interface HistorySamples extends CnnSamples {
  /** Time of the record behind each sample. */
  readonly recordTs: Float64Array;
  readonly history: HistoryReport;
}

/** One kept record: its time, its label's index on the grid, its CNN row. */
interface Kept {
  readonly ts: number;
  readonly k: number;
  readonly row: Float32Array;
}

/** Returns the open time of the decision bar of a record made at `ts`: the last 1m bar closed by then. */
export function decisionBarOpen(ts: number): number {
  return Math.floor(ts / MIN) * MIN - MIN;
}

// The labelled 1m grid: for each bar index, the index of its label (or -1), and whether its label reads across a hole.
interface LabelGrid {
  readonly openTime: Float64Array;
  readonly close: Float64Array;
  readonly labels: ReturnType<typeof tripleBarrierLabels>;
  /** Index of the bar opening at `openMs`, or -1. */
  barAt(openMs: number): number;
  /** Label index of bar t, -1 without one (not volWindow bars before it, or not horizon bars after it). */
  labelAt(t: number): number;
  /** True when bars [t − volWindow, t + horizon] have a hole in their open times. */
  acrossGap(t: number): boolean;
}

function labelGrid(klines: KlinesArchive, symbol: string, opts: TripleBarrierOptions, untilMs: number): LabelGrid {
  const grid = klines.all(symbol, '1m').filter((c) => c.openTime + MIN <= untilMs);
  if (grid.length === 0) {
    throw new InputValidationError(`no 1m klines of ${symbol}${Number.isFinite(untilMs) ? ` before ${new Date(untilMs).toISOString()}` : ''} to label the history with (--klines-dir)`);
  }
  const openTime = Float64Array.from(grid, (c) => c.openTime);
  const close = Float64Array.from(grid, (c) => c.close);
  const labels = tripleBarrierLabels({
    open: Float64Array.from(grid, (c) => c.open), high: Float64Array.from(grid, (c) => c.high), low: Float64Array.from(grid, (c) => c.low), close,
  }, opts);
  const first = labels.t0.length > 0 ? labels.t0[0]! : grid.length;
  const run = runStarts(openTime, MIN);
  return {
    openTime, close, labels,
    barAt: (openMs) => {
      let lo = 0, hi = openTime.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (openTime[mid]! < openMs) lo = mid + 1;
        else hi = mid;
      }
      return lo < openTime.length && openTime[lo] === openMs ? lo : -1;
    },
    labelAt: (t) => (t >= first && t - first < labels.t0.length ? t - first : -1),
    acrossGap: (t) => run[t + opts.horizon]! > t - opts.volWindow,
  };
}

const shapeOf = (r: InferenceRecord): string => `${r.model} [${Array.isArray(r.input.shape) ? r.input.shape.join(', ') : '?'}]`;

/**
 * Returns why the history from `fromMs` on cannot be labelled, or undefined, given how far a replay of a recording got
 * in its store (HistoryReader.replayedUntil). A replay's records are at engine times, not at the recording's market
 * times: each lap of a looping replay (npm start) and each restarted replay (replay-feed.ts "Resume") records the same
 * market moments again, later, and the labels would come from the klines at those shifted times (a market the
 * recording never held). The records keep no shift to undo; records after the replay's bound are a later live run's.
 */
export function replayRefusal(replayedUntil: number | null | undefined, fromMs: number | undefined): string | undefined {
  if (replayedUntil === undefined) return undefined;
  if (replayedUntil !== null && fromMs !== undefined && fromMs >= replayedUntil) return undefined;
  const after = replayedUntil === null ? '' : new Date(Math.ceil(replayedUntil)).toISOString();
  return `a replay of a recording wrote this history${after ? ` (up to ${after})` : ''}, at engine times shifted by each loop and each restarted replay, `
    + `so labels read from the klines at those times would describe another market; train on the recording itself with --input bdi${after ? `, or on records a live run made after the replay with --from ${after}` : ''}`;
}

/** Reads the history records of one symbol and returns one labelled CNN input row per decision (see the header). */
export async function buildHistoryDataset(opts: HistoryDatasetOptions): Promise<HistorySamples> {
  const replay = replayRefusal(opts.reader.replayedUntil(), opts.fromMs);
  if (replay !== undefined) throw new InputValidationError(`store ${resolve(opts.reader.storePath ?? '')}: ${replay}`);
  const symbol = opts.symbol ?? 'ETH/USDT';
  const every = opts.everyMinutes;
  if (!Number.isInteger(every) || every < 1) throw new InputValidationError(`decision interval must be a positive whole number of minutes, got ${every}`);
  const until = opts.untilMs ?? Infinity;
  const g = labelGrid(opts.klines, symbol, opts.labels, until);
  const counts: HistoryCounts = { read: 0, wrongShape: 0, duplicate: 0, offGrid: 0, noLabel: 0, atGaps: 0, samples: 0, storedCopies: 0, badLines: 0, unreadableArchives: 0 };
  const wrongShapes: Record<string, number> = {};
  const kept: Kept[] = [];
  let firstTs = NaN, lastTs = NaN, lastTick = NaN, lastBar = NaN;
  const bdi = new Float32Array(BDI_LENGTH);
  const query = { symbol, ...(opts.model !== undefined ? { model: opts.model } : {}), ...(opts.fromMs !== undefined ? { from: opts.fromMs } : {}), ...(Number.isFinite(until) ? { to: until } : {}) };
  for await (const r of opts.reader.records(query)) {
    if (counts.read++ === 0) firstTs = r.ts;
    lastTs = r.ts;
    opts.onRecord?.(counts.read, r.ts, kept.length);
    const f = r.input.features;
    if (f.length !== BDI_LENGTH) {
      counts.wrongShape++;
      wrongShapes[shapeOf(r)] = (wrongShapes[shapeOf(r)] ?? 0) + 1;
      continue;
    }
    // Records come in (ts, model) order: a tick's copies are adjacent. A wrong-shape copy does not take the tick.
    if (r.ts === lastTick) { counts.duplicate++; continue; }
    lastTick = r.ts;
    const t0Open = decisionBarOpen(r.ts);
    if ((t0Open + MIN) % (every * MIN) !== 0 || t0Open === lastBar) { counts.offGrid++; continue; }
    lastBar = t0Open;
    const t = g.barAt(t0Open);
    const k = t < 0 ? -1 : g.labelAt(t);
    if (k < 0) { counts.noLabel++; continue; }
    if (g.acrossGap(t)) { counts.atGaps++; continue; }
    bdi.set(f);
    kept.push({ ts: r.ts, k, row: selectCnnInput(bdi) });
  }
  const c = opts.reader.counts;
  Object.assign(counts, { samples: kept.length, storedCopies: c.duplicates, badLines: c.badLines, unreadableArchives: c.unreadable });
  const history: HistoryReport = {
    model: opts.model ?? null, counts, wrongShapes,
    span: counts.read > 0 ? { fromMs: firstTs, toMs: lastTs, from: new Date(firstTs).toISOString(), to: new Date(lastTs).toISOString() } : null,
  };
  if (kept.length === 0) throw new InputValidationError(noSamplesMessage(symbol, opts.model, history));
  const skippedRows = [...opts.klines.skipped.values()].reduce((a, b) => a + b, 0);
  return samplesOf(kept, g, opts.labels.horizon, every, { ...history, symbol, skippedRows });
}

// Why a history gave no sample, naming the shapes when the records are not BaseDataInputs.
function noSamplesMessage(symbol: string, model: string | undefined, h: HistoryReport): string {
  const whose = `history records of ${symbol}${model !== undefined ? ` by model ${model}` : ''}`;
  const c = h.counts;
  if (c.read === 0) return `no ${whose} in the time range (LMDB and archives; ${c.badLines} bad archive lines, ${c.unreadableArchives} unreadable archives)`;
  if (c.wrongShape === c.read) {
    const shapes = Object.entries(h.wrongShapes).map(([s, n]) => `${s} × ${n}`).join(', ');
    return `the ${c.read} ${whose} are not BaseDataInputs: found ${shapes}; the CNN trains on the BaseDataInput [${BDI_LENGTH}] (its columns through selectCnnInput, ${CNN_INPUT_SIZE} floats)`;
  }
  return `no labelled sample in ${c.read} ${whose}: ${c.wrongShape} of another shape, ${c.duplicate} duplicate ticks, ${c.offGrid} off the decision grid, ${c.noLabel} without a price at t0 + horizon (or the σ window) in the klines, ${c.atGaps} across kline gaps`;
}

function samplesOf(kept: readonly Kept[], g: LabelGrid, horizon: number, every: number, history: HistoryReport & { readonly symbol: string; readonly skippedRows: number }): HistorySamples {
  const { symbol } = history;
  const t0 = Int32Array.from(kept, (s) => g.labels.t0[s.k]!);
  const t1 = Int32Array.from(kept, (s) => g.labels.t1[s.k]!);
  const label = Uint8Array.from(kept, (s) => g.labels.label[s.k]!);
  let ambiguous = 0;
  // HOLD resolved before the time barrier: both barriers touched inside one bar (tripleBarrierLabels' same-bar rule).
  for (let i = 0; i < t0.length; i++) if (label[i] === 2 && t1[i]! < t0[i]! + horizon) ambiguous++;
  return {
    t0, t1, label, recordTs: Float64Array.from(kept, (s) => s.ts), history,
    openTimeMs: g.openTime, close: g.close, input: CNN_INPUT_SPEC, symbol,
    gapDropped: history.counts.atGaps,
    balance: { counts: classCounts(label), ambiguous },
    // The features reach 299 bars before t0, which the label grid may not hold: spans start at the grid's first bar then.
    firstBar: (i) => Math.max(0, t0[i]! - (CNN_INPUT_SPEC.seqLen - 1)),
    write(i, out, offset) {
      out.set(kept[i]!.row, offset);
    },
    series: [`${symbol} inference history (${history.model ?? 'every model'})`, `${symbol} 1m klines (labels)`],
    skippedRows: history.skippedRows,
    unmatchedBars: 0,
    describe: {
      kind: CNN_INPUT_SPEC.kind, input: CNN_INPUT_SPEC, adapter: 'models/cnn/bdi-adapter.ts selectCnnInput', source: 'inference history (HistoryReader: LMDB + archives)',
      symbol, everyMinutes: every, model: history.model, counts: history.counts, span: history.span, wrongShapes: history.wrongShapes,
      labels: 'triple barrier on the 1m klines; decision bar = the last 1m bar closed at the record time',
    },
  };
}

/** One line on stderr while the history is read (a TTY only, as the training bar): records read, time reached, samples. */
export class ReadProgress {
  private readonly enabled: boolean;
  private lastDraw = 0;
  private shown = false;

  constructor(enabled = process.stderr.isTTY === true) {
    this.enabled = enabled;
  }

  /** Redraws the line, at most every 200 ms. */
  update(read: number, ts: number, samples: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    this.shown = true;
    process.stderr.write(`\rhistory: ${read} records read, at ${new Date(ts).toISOString()}, ${samples} samples\x1b[K`);
  }

  /** Ends the line. */
  done(): void {
    if (this.shown) process.stderr.write('\n');
  }
}
