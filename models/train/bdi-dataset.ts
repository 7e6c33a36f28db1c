// CNN training rows built by the engine's own code: the 1m klines are replayed as closed `md.candle` messages into
// a real DataProvider (history and backfill from a KlinesArchive, 1h and 1d rolled up from the stream as at
// runtime), the BaseDataInput is packed by `assembleInput` at each decision time, and `selectCnnInput` keeps the
// CNN's columns. So a training row is the row the running engine would feed the CNN at that moment.
// Labels: triple barrier on the primary 1m bars; decision bar t0 = the newest 1m bar closed at the decision time
// (a decision is made DECISION_LAG_MS after each `everyMinutes` boundary). A decision is kept only if the 1m bars it
// reads (the 300-bar frame, the volatility window, the full horizon) have no hole in their open times, the rule the
// online evaluator applies to live predictions.
import { BDI_LENGTH } from '../../engine/market/base-data-input.ts';
import type { Candle } from '../../engine/messages/market.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import type { Clock, TimerHandle } from '../../engine/runtime/clock.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import { timeframeMs, type Timeframe, type TsMs } from '../../engine/types/time.ts';
import { KlinesArchive, lowerBound } from '../../actors/data-provider/klines-archive.ts';
import { DataProvider } from '../../actors/data-provider/provider.ts';
import { CNN_INPUT_SERIES, CNN_INPUT_SIZE, CNN_INPUT_SPEC, selectCnnInput } from '../cnn/bdi-adapter.ts';
import { runStarts } from '../data.ts';
import { classCounts, tripleBarrierLabels, type TripleBarrierOptions } from '../labels/triple-barrier.ts';
import type { CnnSamples } from './samples.ts';

const MIN = 60_000;

/**
 * Seconds after a bar's close at which a decision is made (ms): past the DataProvider's 5 s backfill grace, so its
 * maintenance has fetched every bar closed by then, as it would have in a running engine.
 */
export const DECISION_LAG_MS = 10_000;

/** How the BaseDataInput rows are replayed and labelled. */
export interface BdiDatasetOptions {
  /** Primary symbol (default ETH/USDT). */
  readonly symbol?: string;
  /** Where klines come from: the 1m stream, and the history and backfills of every timeframe. */
  readonly klines: KlinesArchive;
  /** A decision every `everyMinutes` minutes, at whole multiples of it (UTC). */
  readonly everyMinutes: number;
  readonly labels: TripleBarrierOptions;
  /** No decision before this time (ms); default the first time with 300 bars of 1m history. */
  readonly fromMs?: TsMs;
  /** No bar opening at or after this time is read, by features or labels. */
  readonly untilMs?: TsMs;
  /** Minutes streamed before the first decision, so roll-ups run as they would in a running engine (default 120). */
  readonly warmupMinutes?: number;
}

/** A KlinesArchive serving candles held in memory (tests change them; the query logic is the archive's own). */
export class MemoryKlines extends KlinesArchive {
  constructor(private readonly data: ReadonlyMap<string, readonly Candle[]>) {
    super([]);
  }

  /** Returns the candles given for `symbol` and `tf` (`"ETH/USDT 1m"` keys), oldest first. */
  override all(symbol: string, tf: Timeframe): Candle[] {
    return [...(this.data.get(`${symbol} ${tf}`) ?? [])];
  }
}

// Timers never fire: the replay runs the DataProvider's maintenance itself after every bar, and the 1 s close tick
// has nothing to close (no trades).
class ReplayClock implements Clock {
  private next = 1;
  constructor(public t: TsMs) {}
  now(): TsMs {
    return this.t;
  }
  setTimeout(): TimerHandle {
    return { id: this.next++ };
  }
  clearTimeout(): void {}
}

/** Labelled BaseDataInput rows (through `selectCnnInput`), plus the decision times. */
export interface BdiSamples extends CnnSamples {
  /** Decision time of each sample: the close of its bar t0 plus DECISION_LAG_MS. */
  readonly decisionMs: Float64Array;
}

/** Replays the klines through a DataProvider and returns one labelled CNN input row per decision time. */
export async function buildBdiDataset(opts: BdiDatasetOptions): Promise<BdiSamples> {
  const symbol = opts.symbol ?? 'ETH/USDT';
  const every = opts.everyMinutes;
  if (!Number.isInteger(every) || every < 1) throw new InputValidationError(`decision interval must be a positive whole number of minutes, got ${every}`);
  const until = opts.untilMs ?? Infinity;
  const grid = opts.klines.all(symbol, '1m').filter((c) => c.openTime + MIN <= until);
  if (grid.length === 0) throw new InputValidationError(`no 1m klines of ${symbol}${Number.isFinite(until) ? ` before ${new Date(until).toISOString()}` : ''}`);
  const n = grid.length;
  const bars = {
    open: Float64Array.from(grid, (c) => c.open), high: Float64Array.from(grid, (c) => c.high),
    low: Float64Array.from(grid, (c) => c.low), close: Float64Array.from(grid, (c) => c.close),
  };
  const labels = tripleBarrierLabels(bars, opts.labels);
  const first = labels.t0.length > 0 ? labels.t0[0]! : n;
  const from = opts.fromMs ?? -Infinity;
  const run = runStarts(Float64Array.from(grid, (c) => c.openTime), MIN);
  const back = Math.max(CNN_INPUT_SPEC.seqLen - 1, opts.labels.volWindow);
  const keep: number[] = [];
  let gapDropped = 0;
  for (let k = 0; k < labels.t0.length; k++) {
    const t = labels.t0[k]!;
    const at = grid[t]!.openTime + MIN;
    if (!(t >= CNN_INPUT_SPEC.seqLen - 1 && at >= from && at % (every * MIN) === 0)) continue;
    if (run[t + opts.labels.horizon]! > t - back) gapDropped++;
    else keep.push(k);
  }
  if (keep.length === 0) {
    throw new InputValidationError(`no decision time with a label and ${CNN_INPUT_SPEC.seqLen} bars of 1m history without a gap in ${n} bars of ${symbol} (labels from bar ${first}; ${gapDropped} decisions dropped at gaps)`);
  }
  const t0 = Int32Array.from(keep, (k) => labels.t0[k]!);
  const t1 = Int32Array.from(keep, (k) => labels.t1[k]!);
  const label = Uint8Array.from(keep, (k) => labels.label[k]!);
  const decisionMs = Float64Array.from(t0, (t) => grid[t]!.openTime + MIN + DECISION_LAG_MS);
  const rows = await replayRows(opts.klines, symbol, grid, decisionMs, opts.warmupMinutes ?? 120);

  let ambiguous = 0;
  for (let i = 0; i < t0.length; i++) if (label[i] === 2 && t1[i]! < t0[i]! + opts.labels.horizon) ambiguous++;
  const fileOf = (tf: Timeframe) => opts.klines.fileFor(symbol, tf) ?? 'memory';
  return {
    t0, t1, label, decisionMs, gapDropped,
    openTimeMs: Float64Array.from(grid, (c) => c.openTime), close: bars.close,
    input: CNN_INPUT_SPEC, symbol,
    balance: { counts: classCounts(label), ambiguous },
    firstBar: (i) => t0[i]! - (CNN_INPUT_SPEC.seqLen - 1),
    write(i, out, offset) {
      out.set(rows.subarray(i * CNN_INPUT_SIZE, (i + 1) * CNN_INPUT_SIZE), offset);
    },
    series: [`${symbol} 1m`, `${symbol} 1h`, `${symbol} 1d`],
    skippedRows: [...opts.klines.skipped.values()].reduce((a, b) => a + b, 0),
    unmatchedBars: 0,
    describe: {
      kind: CNN_INPUT_SPEC.kind, input: CNN_INPUT_SPEC, adapter: 'models/cnn/bdi-adapter.ts selectCnnInput',
      bdiSeries: CNN_INPUT_SERIES, bdiTail: ['pivots'], symbol, everyMinutes: every,
      files: { '1m': fileOf('1m'), '1h': fileOf('1h'), '1d': fileOf('1d') },
      packedBy: 'actors/data-provider DataProvider.assembleInput (1m klines streamed as md.candle, 1h/1d rolled up, history and backfill from the archive)',
      note: 'the 1m frames reach 299 bars before each decision; the 1h and 1d frames reach up to 300 hours and 300 days back (history from the archive)',
    },
  };
}

// Packs + selects the CNN's columns at each decision time.
async function replayRows(klines: KlinesArchive, symbol: string, grid: readonly Candle[], decisionMs: Float64Array, warmupMinutes: number): Promise<Float32Array> {
  const rows = new Float32Array(decisionMs.length * CNN_INPUT_SIZE);
  await replayBaseDataInputs(klines, symbol, grid, decisionMs, warmupMinutes, (bdi, d) => {
    selectCnnInput(bdi, rows.subarray(d * CNN_INPUT_SIZE, (d + 1) * CNN_INPUT_SIZE));
  });
  return rows;
}

/**
 * Streams the 1m bars of `grid` into a fresh DataProvider as a kline stream would deliver them (each at its close),
 * runs the provider's maintenance DECISION_LAG_MS after each close as its 60 s loop would, and hands the packed
 * BaseDataInput at each of `decisionMs` (ascending, each a bar close + DECISION_LAG_MS) to `onRow`, awaited (the
 * buffer is reused: copy what you keep). Also used by the DQN trainer (models/train/dqn-bdi.ts).
 */
export async function replayBaseDataInputs(
  klines: KlinesArchive, symbol: string, grid: readonly Candle[], decisionMs: Float64Array, warmupMinutes: number,
  onRow: (bdi: Float32Array, d: number) => void | Promise<void>,
): Promise<void> {
  const firstAt = decisionMs[0]! - DECISION_LAG_MS;
  const startAt = Math.max(grid[0]!.openTime + MIN, firstAt - warmupMinutes * MIN);
  const clock = new ReplayClock(startAt);
  const bus = new Bus();
  const provider = new DataProvider({ bus, clock, primary: symbol, reference: symbol, history: klines, maintenanceMs: 0 });
  await provider.start();
  const bdi = new Float32Array(BDI_LENGTH);
  const m1 = provider.series(symbol, '1m');
  let i = lowerBound(grid, (m1.last()?.openTime ?? -Infinity) + 1);
  let d = 0;
  const tf = timeframeMs('1m');
  try {
    for (; i < grid.length && d < decisionMs.length; i++) {
      const c = grid[i]!;
      const at = c.openTime + tf;
      clock.t = at;
      bus.publish({ type: 'md.candle', venue: 'binance', symbol, timeframe: '1m', candle: c.closed ? c : { ...c, closed: true }, tsExchange: at, tsLocal: at });
      clock.t = at + DECISION_LAG_MS;
      await provider.maintain();
      if (clock.t === decisionMs[d]) {
        provider.assembleInput(bdi);
        await onRow(bdi, d);
        d++;
      }
    }
  } finally {
    provider.stop();
  }
  if (d !== decisionMs.length) throw new InputValidationError(`replay packed ${d} of ${decisionMs.length} rows: the 1m stream ended early`);
}

