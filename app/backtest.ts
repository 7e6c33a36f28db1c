// `cobalt backtest`: the recorded data through the same actors as a live run, on a SimulatedClock, with the paper
// venue, as fast as the machine goes. Deterministic for (data, config, seed): the driver reads the recording itself
// and, after each line, waits until the executor and the orchestrator are idle before the next one, so an order's
// asynchronous steps (LMDB commits, inference) always land at the same point of the data. The store is a fresh
// temporary LMDB environment (nothing carries over between runs), committed synchronously (no write-thread round trip
// per order step) and without inference history (it would be deleted with the store). The data provider's own
// maintenance timer is off: the driver runs the same pass itself, 5 s after each simulated minute (`maintenanceAfter`),
// awaited before the next line, so the bars a paper or live run backfills from klines (a partial first minute, hour or
// day, a minute cut by a hole) are backfilled here too, at the same point of the data on every run.
// Honest figures: a model whose training data reaches into the recording is refused unless the caller allows it
// (`allowInSample`; the summary then lists it), each model's training span is in the summary, and so is the time the
// traded symbol's book was not live (a hole in the recording that lost depth drops it until the next recorded
// snapshot; a depth gap with no recorded snapshot after it leaves it down for good: no decision, no fill) and the orders
// still open at the end.
// The models have no deadline here (see `runBacktest`): they answer at the tick's own simulated time, so a backtest
// counts zero inference latency; an inference worker that never answers fails the run (BacktestModelStuckError).
import { seededRng } from '../engine/runtime/rng.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../engine/config/schema.ts';
import { log as rootLog, type Logger } from '../engine/log.ts';
import type { Fill, OrderStatus, OrderType, Side } from '../engine/messages/orders.ts';
import { SimulatedClock } from '../engine/runtime/clock.ts';
import { ConfigError, EngineError } from '../engine/types/errors.ts';
import { isoSpan } from '../engine/types/time-arg.ts';
import { formatSteps } from '../engine/types/price.ts';
import type { Instrument } from '../engine/types/instrument.ts';
import type { TsMs } from '../engine/types/time.ts';
import { BinanceFramePublisher } from '../engine/venues/binance/binance-feed.ts';
import { RecordingHoles } from '../engine/venues/replay/trade-ids.ts';
import type { PolicyConfig } from '../strategies/moe.ts';
import type { SubscriptionConfig } from '../actors/orchestrator/subscriptions.ts';
import { BACKFILL_GRACE_MS } from '../actors/data-provider/provider.ts';
import type { OrderRecord } from '../actors/trading-executor/logic.ts';
import { BookDowntime, EquityTracker, judgedSince, ModelAnswers, modelFigures, ModelTimelineRecorder, type EquityPoint, type ModelAgreement, type ModelEnd, type ModelFigures, type ModelReading, type ModelTimeline } from './backtest-metrics.ts';
import type { Orchestrator } from '../actors/orchestrator/orchestrator.ts';
import type { ModelOverrides } from './models.ts';
import { inSampleReason, modelTrainingSpans, type ModelTrainingSpan } from './backtest-model-spans.ts';
import { catalogSource, textSource, unrecordedSymbolRefusal } from './backtest-source.ts';
import { buildSystem, dataInstrumentsOf, idleOrCancelsInFlight, type System } from './system.ts';

/** An inference worker gave no answer within its pool's wall-time bound (`stuckMs`; 60 s in a backtest's own pool). */
export class BacktestModelStuckError extends EngineError {
  readonly code = 'BACKTEST_MODEL_STUCK';
}

/**
 * A model in the blend was trained on data that reaches into the recording (see `modelTrainingSpans`): its figures
 * would be in-sample. Thrown before the replay unless `BacktestOptions.allowInSample`.
 */
export class BacktestInSampleError extends EngineError {
  readonly code = 'BACKTEST_IN_SAMPLE';
}

/** A window (--from/--to) that holds no recorded line: nothing to measure. */
export class BacktestWindowError extends RangeError {
  readonly code = 'BACKTEST_EMPTY_WINDOW';
}

/** Options of a backtest. */
export interface BacktestOptions {
  /**
   * Run although a model's training data reaches the recording's first line or later (default: refused with
   * BacktestInSampleError); the summary's `inSample` then names those models.
   */
  readonly allowInSample?: boolean;
  /** Overrides config.seed. */
  readonly seed?: number;
  readonly logger?: Logger;
  readonly models?: ModelOverrides;
  readonly policy?: Partial<PolicyConfig>;
  readonly subscriptions?: Partial<SubscriptionConfig>;
  /** Stop after this much recorded time (ms from the first line). */
  readonly maxSpanMs?: number;
  /**
   * Trade and measure over recorded (receive) times [fromMs, toMs) only: toMs is left out, so that two windows split
   * at one time measure every line once (receive times carry fractions of a ms). The lines before fromMs are still
   * replayed, with trading held by the kill switch, so that books, candles and indicators stand at fromMs where a live
   * engine's would (the recording has one depth snapshot, at its start); the summary's figures (equity samples, fills,
   * orders, verdicts, decisions, book downtime, the models' answers, judged outcomes, failures and timeline, lines and
   * speeds) start at the first line at or after fromMs, and the run ends after the last line before toMs. An end left
   * out is the recording's (`cobalt backtest --from` alone).
   */
  readonly window?: { readonly fromMs?: number; readonly toMs?: number };
  /** Called with the built system before it starts (benchmarks attach probes to the bus). */
  readonly onSystem?: (sys: System) => void;
  /**
   * Replay at most this many times faster than recorded (wall clock), sleeping when ahead; 0 (default) = as fast as
   * possible. The engine then idles between lines as it does live, which is how bench/loop measures latencies.
   * Results do not depend on it (the clock is still the simulated one).
   */
  readonly paceX?: number;
  /** Keep the reference symbol's books (its depth decoded, its COB built) although no actor of a backtest reads them. */
  readonly referenceBooks?: boolean;
  /**
   * Read the recording's replay catalog (config.data.catalogDir; built and cached on first use) rather than its text.
   * Default true; the results are the same (tested).
   */
  readonly catalog?: boolean;
  /** Called every 65,536 lines: while the catalog is built (`catalog`), then during the replay (`replay`). */
  readonly onProgress?: (p: BacktestProgress) => void;
}

/** Where a backtest stands; `totalMs` (recorded span) is known when the replay reads a catalog. */
export type BacktestProgress =
  | { readonly phase: 'catalog'; readonly lines: number }
  | { readonly phase: 'replay'; readonly lines: number; readonly doneMs: number; readonly totalMs: number | undefined };

/** The JSON summary `cobalt backtest --json` prints. */
export interface BacktestSummary {
  readonly seed: number;
  readonly symbol: string;
  readonly from: string;
  readonly to: string;
  readonly pnl: number;
  readonly pnlExact: string;
  readonly fees: number;
  readonly trades: number;
  readonly roundTrips: number;
  readonly hitRate: number;
  readonly sharpe: number;
  readonly maxDrawdown: number;
  readonly exposure: number;
  readonly initialEquity: number;
  readonly finalEquity: number;
  readonly orders: number;
  readonly approvals: number;
  readonly denials: Record<string, number>;
  readonly rejections: Record<string, number>;
  readonly decisions: Record<string, number>;
  /**
   * Decisions that produced no order intent, by the policy's reason: `hold`, `flatNoShort` (a SELL while flat in
   * long-flat mode), `alreadyLong`, `pending` (an intent still awaiting its fill or verdict), `sizeZero`,
   * `noVolatility`, `noPrice`. With `approvals` and `denials` (one verdict per intent) they account for every
   * decision: a backtest with no trades says why.
   */
  readonly noIntent: Record<string, number>;
  readonly haltedReason: string | null;
  /**
   * Set when an actor spent its restart budget (sys.halted): the engine stopped trading for a fault, not for a risk
   * limit, so the figures cover only the time before it and `cobalt backtest` exits 1.
   */
  readonly engineFailure: string | null;
  /** Holes in the recording's trade ids (each cut the candles there, as a stream break does live). */
  readonly tradeIdGaps: number;
  /**
   * Holes in the recording seen as a symbol falling silent for longer than its bound (engine/venues/replay/trade-ids.ts):
   * each cut the candles at the symbol's last line before it, before the clock moved into the hole.
   */
  readonly silences: number;
  readonly models: readonly string[];
  /** The training span of every trained model in `models` (the momentum rule has none). */
  readonly modelSpans: readonly ModelTrainingSpan[];
  /**
   * What each model in `models` did: its answers by action, how many the orchestrator judged and its accuracy on them
   * (its own outcome rule), its gating weight at the end, its failed runs (app/backtest-metrics.ts).
   */
  readonly modelFigures: readonly ModelFigures[];
  /** How often two models' actions agreed, over the ticks both answered. */
  readonly modelAgreement: ModelAgreement;
  /**
   * Each model over time: outcomes judged per step of recorded time (adding up to its `modelFigures` judged and
   * correct), its accuracy over a rolling window of steps and its gating weight at each step (app/backtest-metrics.ts).
   * From the first line measured, as `modelFigures` (a `window`'s warm-up left out).
   */
  readonly modelTimeline: ModelTimeline;
  /**
   * Models whose training data reaches the recording's first line or later: their part of the figures is in-sample.
   * Empty unless the run was allowed to go on with them (`allowInSample`); otherwise it was refused.
   */
  readonly inSample: readonly string[];
  /**
   * Recorded time (ms) the traded symbol's book was not live (waiting for its first snapshot, or re-syncing after a
   * depth gap or over a hole in the recording that lost depth, from the symbol's last line before it): no COB
   * snapshot, so no decision, and no paper order can fill. A backtest has no REST snapshot to ask for: after a gap the
   * book comes back only with a snapshot recorded later, and without one it stays down to the end.
   */
  readonly bookDownMs: number;
  /** When the traded symbol's book last went down (ISO; the first line when it was never live), null if never. */
  readonly bookLastDownAt: string | null;
  /** Why it last went down (the aggregator's reason), null if never. */
  readonly bookLastDownReason: string | null;
  /** True when it was down at the end: the run's last `bookDownMs` stretch traded blind. */
  readonly bookDownAtEnd: boolean;
  /** Orders not final at the end (an order whose activation waited for a book that never came back stays open). */
  readonly openOrders: readonly OpenOrderAtEnd[];
  /** What the replay skipped of the recording (a `window`'s warm-up included): the figures are over the rest. */
  readonly feed: BacktestFeed;
  /** Lines measured (a `window`'s warm-up left out). */
  readonly lines: number;
  readonly simulatedMs: number;
  /**
   * Wall time of the whole run: opening the recording (its replay catalog, built first when missing), building and
   * starting the system (history load), the replay, the stop.
   */
  readonly durationMs: number;
  /** simulatedMs / durationMs, a `window`'s warm-up replay left out of durationMs (its lines are not in simulatedMs). */
  readonly speedX: number;
  /**
   * Wall time from the first line measured (a `window`'s first) to the last one settled (the replay alone, without
   * start, warm-up and stop).
   */
  readonly replayMs: number;
  /** simulatedMs / replayMs: the speed a long backtest approaches, where start-up is a fixed cost. */
  readonly replaySpeedX: number;
}

/** What a backtest skipped of its recording; all zero for a whole one. */
export interface BacktestFeed {
  /**
   * Lines that are not `<ts_ns> <json>` (a torn write, a foreign line): skipped by the reader. Those up to the last line
   * replayed (warm-up included): a bad line counts with the line after it in its file, and those after a file's last
   * line with that last line, so a whole run counts them all and one stopped early (`maxSpanMs`, `window`) none past its
   * end, from the text and from a catalog alike, whatever either read ahead.
   */
  readonly badLines: number;
  /** Frames that did not decode (a trade, bookTicker, snapshot or kline with a bad field): skipped by the publisher. */
  readonly malformed: number;
  /**
   * Depth diffs of the traded symbol that did not parse: never applied to the paper venue's book, which re-syncs (and
   * stays down without a recorded snapshot after it, see `bookDownMs`). Depth goes out raw, so `malformed` has none.
   */
  readonly malformedDepth: number;
}

/** Returns a line saying what a backtest skipped of its recording (`feed`); undefined when nothing. */
export function feedSkipped(feed: BacktestFeed): string | undefined {
  const parts = [
    feed.badLines > 0 ? `${feed.badLines} line(s) not <ts> <json>` : '',
    feed.malformed > 0 ? `${feed.malformed} malformed frame(s)` : '',
    feed.malformedDepth > 0 ? `${feed.malformedDepth} malformed depth diff(s) of the traded symbol` : '',
  ].filter((x) => x !== '');
  if (parts.length === 0) return undefined;
  return `the recording had ${parts.join(', ')}: skipped, so the figures are over the rest of it`;
}

/** An order still open at the end of a backtest, in the instrument's decimals. */
export interface OpenOrderAtEnd {
  readonly clientOrderId: string;
  readonly side: Side;
  readonly type: OrderType;
  readonly qty: string;
  readonly filledQty: string;
  /** Limit price; null for a market order. */
  readonly price: string | null;
  readonly status: OrderStatus;
  /** When it was created (recorded time, ISO). */
  readonly createdAt: string;
}

/** Everything a report needs. */
export interface BacktestResult {
  readonly summary: BacktestSummary;
  /** The traded instrument (its increments turn the fills' ticks, lots and 1e-9 fees into decimals). */
  readonly instrument: Instrument;
  readonly equity: readonly EquityPoint[];
  readonly fills: readonly Fill[];
  readonly stateChanges: readonly { readonly t: TsMs; readonly state: string; readonly reason: string }[];
  /** The RiskManager's position of the traded symbol at the end (lots, base held in 1e-9 units) and cash. */
  readonly finalRisk: { readonly lots: number; readonly base9: bigint; readonly cash: bigint } | undefined;
  /** Last trade price of the traded symbol, in ticks. */
  readonly lastMark: number | undefined;
  /** Denials in arrival order (code and time). */
  readonly denials: readonly { readonly t: TsMs; readonly code: string }[];
}

/**
 * Runs the backtest of `config` and returns its summary, equity curve and fills. Throws ConfigError when its traded or
 * reference symbol has no line in the recordings, and BacktestInSampleError when a model in the blend was trained on
 * data reaching into them (unless `opts.allowInSample`).
 */
export async function runBacktest(config: Config, opts: BacktestOptions = {}): Promise<BacktestResult> {
  const logger = opts.logger ?? rootLog();
  const seed = opts.seed ?? config.seed;
  const files = config.data.replayFiles;
  if (files.length === 0) throw new TypeError('a backtest needs data.replayFiles');
  const wall0 = performance.now();
  const win = backtestWindow(opts.window);
  const { primary } = config.symbols;
  // A catalog about to be built refuses an unrecorded symbol before decoding the recordings (the check below serves a
  // catalog already on disk and the text).
  const refuseUnrecorded = (symbols: readonly string[]): void => {
    const why = unrecordedSymbolRefusal(config, symbols);
    if (why !== undefined) throw new ConfigError(why);
  };
  const source = opts.catalog === false ? await textSource(files)
    : await catalogSource(files, dataInstrumentsOf(config), config.data.catalogDir, logger, opts.onProgress && ((lines) => opts.onProgress!({ phase: 'catalog', lines })), refuseUnrecorded);
  // A symbol the recording does not hold would run to the end without a price of it: no trade, no decision, no word.
  const unrecorded = unrecordedSymbolRefusal(config, source.symbols);
  if (unrecorded !== undefined) {
    await source.close();
    throw new ConfigError(unrecorded);
  }
  const first = source.first;
  if (first === undefined) {
    await source.close();
    throw new RangeError(`recordings ${files.join(', ')} hold no lines`);
  }
  const clock = new SimulatedClock(first);
  // No model deadline (models.timeoutMs Infinity: none in the coordinator, none in the pool it starts). The driver waits
  // for the models after every line while the simulated clock stands still, so a deadline measured either the host
  // (the pool's, on the wall clock: a GC pause or a busy core) or the recording's gap after a tick that became ready
  // inside a clock timer (the coordinator's: clock.set() runs on to the next line before any answer), and turned
  // answers into failures that changed decisions between runs of one seed. A caller's pool (models.cnnPool) is asked
  // for none either (app/models.ts). A worker that really hangs is the pool's wall-time stuck guard's (`stuckMs`), which
  // fails the run (below).
  const sysConfig: Config = { ...config, models: { ...config.models, timeoutMs: Number.POSITIVE_INFINITY } };
  const dir = await mkdtemp(path.join(tmpdir(), 'cobalt-backtest-'));
  const sys = await buildSystem(sysConfig, {
    clock, mode: 'backtest', storePath: dir, noSync: true, syncCommits: true, rng: seededRng(seed), logger, maintenanceMs: 0,
    dataOverride: () => undefined,
    ...(opts.models ? { models: opts.models } : {}), ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.subscriptions ? { subscriptions: opts.subscriptions } : {}),
    ...(opts.referenceBooks !== undefined ? { referenceBooks: opts.referenceBooks } : {}),
  }).catch(async (err: unknown) => {
    await source.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  opts.onSystem?.(sys);
  const { bus } = sys;
  const tradedSymbol = sys.traded.symbol;
  // In-sample is judged against what is measured: a model trained up to a window's start is tested out of sample on it
  // (the warm-up before it counts nothing).
  const measuredFrom = Math.max(first, win.fromMs);
  const modelSpans = modelTrainingSpans(config, sys.models, measuredFrom);
  const inSample = modelSpans.filter((m) => m.inSample);
  for (const m of modelSpans) {
    if (m.missing.length > 0) logger.warn({ code: 'MODEL_SPAN_UNKNOWN', model: m.model, missing: m.missing }, `${m.model}: training span not fully known (${m.missing.join('; ')}): cannot tell whether it saw this recording`);
  }
  // Before the window (win.fromMs) nothing counts: `measuring` turns on at its first line (startWindow below).
  let measuring = win.fromMs <= first;
  let windowStart = first;
  // The orchestrator's no-intent counts at the window's start (its counters run from its start).
  let noIntentBefore: Record<string, number> = {};
  const counted = <M>(f: (m: M) => void) => (m: M): void => {
    if (measuring) f(m);
  };
  // The traded symbol's last book status per venue, replayed into the downtime count when the window starts.
  const bookStatus = new Map<string, { status: 'syncing' | 'live' | 'resyncing' | 'stale'; reason: string | undefined }>();
  let book = new BookDowntime(first);
  bus.subscribe('md.bookStatus', (m) => {
    if (m.symbol !== tradedSymbol) return;
    bookStatus.set(m.venue, { status: m.status, reason: m.reason });
    if (measuring) book.onStatus(m.venue, m.status, clock.now(), m.reason);
  });
  const tracker = new EquityTracker(sys.traded, sys.initialCash);
  const denials: Record<string, number> = {};
  const rejections: Record<string, number> = {};
  const decisions: Record<string, number> = {};
  const noIntent: Record<string, number> = {};
  const stateChanges: { t: TsMs; state: string; reason: string }[] = [];
  let orders = 0;
  let approvals = 0;
  let halted: string | null = null;
  let engineFailure: string | null = null;
  bus.subscribe('sys.halted', (m) => void (engineFailure ??= m.actor ? `actor '${m.actor}': ${m.reason}` : m.reason));
  bus.subscribe('exec.orderFilled', (m) => tracker.onFill(m.fill));
  bus.subscribe('exec.orderPartiallyFilled', (m) => tracker.onFill(m.fill));
  bus.subscribe('exec.orderSubmitted', counted(() => void orders++));
  bus.subscribe('risk.orderApproved', counted(() => void approvals++));
  const denialList: { t: TsMs; code: string }[] = [];
  let lastMark: number | undefined;
  let finalRisk: BacktestResult['finalRisk'];
  let openOrders: OpenOrderAtEnd[] = [];
  let feed: BacktestFeed = { badLines: 0, malformed: 0, malformedDepth: 0 };
  bus.subscribe('risk.orderDenied', counted((m) => {
    denials[m.reason.code] = (denials[m.reason.code] ?? 0) + 1;
    denialList.push({ t: m.ts, code: m.reason.code });
  }));
  bus.subscribe('exec.orderRejected', counted((m) => void (rejections[m.code] = (rejections[m.code] ?? 0) + 1)));
  bus.subscribe('signal.decision', counted((m) => void (decisions[m.action] = (decisions[m.action] ?? 0) + 1)));
  const answers = new ModelAnswers();
  bus.subscribe('signal.modelOutput', counted((m) => answers.onOutput(m.output)));
  // Every Orchestrator instance of the run: a supervised restart starts a new one, whose outcome counts start over.
  const orchestrators = new Set<Orchestrator>();
  let timeline = new ModelTimelineRecorder(first);
  const readModels = (): ReadonlyMap<string, ModelReading> => modelReadings(sys, orchestrators);
  // What the models had been judged and had failed by the window's start: their figures are the differences from it.
  let modelsBase: ModelsBase = { readings: new Map(), health: new Map() };
  let models: Pick<BacktestSummary, 'modelFigures' | 'modelAgreement' | 'modelTimeline'> = {
    modelFigures: [], modelAgreement: { models: [], both: [], share: [] }, modelTimeline: timeline.timeline([]),
  };
  bus.subscribe('risk.stateChanged', counted((m) => {
    stateChanges.push({ t: m.ts, state: m.state, reason: m.reason });
    if (m.state === 'halted') halted ??= m.reason;
  }));
  bus.subscribe('md.trade', (m) => {
    if (m.symbol !== tradedSymbol) return;
    tracker.onMark(m.price);
    lastMark = m.price;
  });

  let lines = 0;
  let replayed = 0;
  let last = first;
  let holes: RecordingHoles | undefined;
  let replay0 = NaN;
  // Wall time at the first line measured: a window's warm-up replay is left out of its speeds.
  let measured0 = NaN;
  let replayMs = NaN;
  const paperVenue = sys.paper?.inner;
  const cancelsInFlight = (): number => paperVenue?.cancelsInFlight ?? 0;
  const pool = sys.models.pool;
  const stuck0 = pool?.stuck().requests ?? 0;
  // A request the pool gave up on as stuck left its model out of a decision: not a result, whatever follows.
  const failIfStuck = (): void => {
    const s = pool?.stuck();
    if (s && s.requests > stuck0) {
      throw new BacktestModelStuckError(`backtest stopped at ${new Date(clock.now()).toISOString()} (recorded time): ${s.last?.message ?? 'an inference worker is hung'}`, { cause: s.last });
    }
  };
  try {
    if (inSample.length > 0) {
      const end = Math.min(source.last ?? Infinity, opts.maxSpanMs === undefined ? Infinity : first + opts.maxSpanMs, win.toMs);
      const why = inSampleReason(inSample, measuredFrom, Number.isFinite(end) ? end : undefined);
      if (!opts.allowInSample) throw new BacktestInSampleError(`${why}; train on data ending before the recording (or point models.checkpointDir elsewhere), or pass --allow-in-sample to run it anyway`);
      logger.warn({ code: 'BACKTEST_IN_SAMPLE', models: inSample.map((m) => m.model) }, `${why}: running anyway (allowInSample); its figures are in-sample`);
    }
    await sys.start();
    // The catalog's records were read while the system was built and started.
    await source.ready();
    replay0 = measured0 = performance.now();
    const pub = new BinanceFramePublisher({ bus, venue: 'binance', instruments: sys.dataInstruments, depth: 'raw', kindsBySymbol: sys.feedKinds });
    source.bind(pub);
    const spanEnd = opts.maxSpanMs === undefined ? Infinity : first + opts.maxSpanMs;
    // Held until the window: the decisions before it are denied (TRADING_HALTED) and counted nowhere.
    if (!measuring) bus.publish({ type: 'risk.killSwitch', on: true, reason: 'backtest warm-up before its window', source: 'operator', ts: clock.now() });
    const startWindow = (ts: TsMs): void => {
      bus.publish({ type: 'risk.killSwitch', on: false, reason: 'backtest window starts', source: 'operator', ts });
      bus.publish({ type: 'risk.resume', ts });
      windowStart = ts;
      book = new BookDowntime(ts);
      for (const [venue, b] of bookStatus) book.onStatus(venue, b.status, ts, b.reason);
      noIntentBefore = { ...sys.handles.orchestrator.current?.stats.noIntent };
      modelsBase = { readings: readModels(), health: modelHealth(sys) };
      timeline = new ModelTimelineRecorder(ts, undefined, undefined, modelsBase.readings);
      measured0 = performance.now();
      measuring = true;
    };
    const pace = opts.paceX ?? 0;
    if (!(pace >= 0)) throw new RangeError(`backtest paceX ${pace} must be >= 0`);
    // Lanes whose trades are published: a hole in their trade ids, or a silence of their recording, cuts the candles there
    // (engine/venues/replay/trade-ids.ts), as the replay feed does. A silence across which the symbol's depth lost
    // updates (a recorder stop: its next depth diff does not chain) also drops its books, as a live reconnect does: the
    // paper venue fills nothing and the COB decides nothing on the book from before the hole, which comes back with the
    // recording's next snapshot, and the hole counts in bookDownMs. A silence that lost nothing (a delivery stall) cuts
    // the trades only: the recorder wrote no snapshot after it, so a dropped book would stay down to the end.
    const cuts = (holes = new RecordingHoles({ bus, venue: 'binance', logger, publisher: pub }));
    // The start-up history load was the first pass (at the first line's time).
    let nextMaintenance = maintenanceAfter(first);
    for (;;) {
      // Most lines are ready: take them without an await (one per line was a visible cost).
      if (!source.nextSync() && !(await source.next())) break;
      const ts = source.ts;
      if (ts > spanEnd || ts >= win.toMs) break;
      if (pace > 0) {
        const wait = replay0 + (ts - first) / pace - performance.now();
        if (wait >= 1) await new Promise<void>((r) => setTimeout(r, wait));
      }
      const tradeId = source.tradeId();
      const lane = cuts.lane(source.symbol);
      // Before the clock moves to the trade after the hole.
      cuts.before(lane, tradeId, last);
      // The step times this line passes, as the lines before it left the orchestrator (settled after each).
      if (measuring && ts > timeline.nextAt) timeline.sampleBefore(ts, readModels);
      clock.set(ts);
      // An order activating inside set() filled there on the paper venue, but its exec.orderFilled comes only once the
      // executor's commit is done: settle that first, so the samples up to this line count the fill and the line goes
      // out after it (execution events before market data). Most lines activate nothing: no await then.
      const exNow = sys.handles.executor();
      if (exNow?.busy) {
        await settle(exNow, sys.handles.orchestrator.current, logger, cancelsInFlight);
        failIfStuck();
      }
      if (!measuring && ts >= win.fromMs) startWindow(ts);
      if (measuring) tracker.tick(ts);
      const malformed = pub.counters.malformed;
      source.publish();
      const silence = source.silence;
      const breakBooks = silence !== undefined && lane !== undefined && (await source.depthBreaks(silence));
      cuts.after(lane, tradeId, pub.counters.malformed === malformed, silence, ts, 0, breakBooks);
      if (measuring) lines++;
      replayed++;
      last = ts;
      if ((replayed & 0xffff) === 0 && opts.onProgress) {
        opts.onProgress({ phase: 'replay', lines: replayed, doneMs: ts - first, totalMs: source.last === undefined ? undefined : source.last - first });
      }
      const ex = sys.handles.executor();
      const orch = sys.handles.orchestrator.current;
      if (orch !== undefined) orchestrators.add(orch);
      if (ex?.busy || orch?.busy) {
        await settle(ex, orch, logger, cancelsInFlight);
        failIfStuck();
      }
      // With nothing else in flight, so that its awaits land at the same point of the data on every run. One pass
      // after a hole in the recording fills every bar the clock passed over. A provider between supervised restarts
      // (undefined) has nothing to fill.
      if (ts >= nextMaintenance) {
        await sys.handles.provider()?.maintain();
        nextMaintenance = maintenanceAfter(ts);
      }
    }
    if (!measuring || (opts.window !== undefined && lines === 0)) throw new BacktestWindowError(`backtest window ${isoSpan(win.fromMs, win.toMs)} holds no recorded line (the recording runs ${isoSpan(first, source.last ?? last)})`);
    // Let the last orders activate and fill on the simulated clock.
    clock.advance(config.execution.latencyMs + 1);
    await settle(sys.handles.executor(), sys.handles.orchestrator.current, logger, cancelsInFlight);
    failIfStuck();
    replayMs = performance.now() - measured0;
    tracker.finish(clock.now());
    const rs = sys.handles.risk();
    const p = rs?.portfolio.positions[primary];
    if (rs) finalRisk = { lots: p?.lots ?? 0, base9: p?.base9 ?? 0n, cash: rs.portfolio.cash };
    // The orchestrator's counters since its last (re)start: a supervised restart mid-run would leave earlier ones out.
    for (const [k, n] of Object.entries(sys.handles.orchestrator.current?.stats.noIntent ?? {})) {
      noIntent[k] = n - (noIntentBefore[k] ?? 0);
    }
    timeline.finish(clock.now(), readModels);
    models = modelsAtEnd(sys, [...orchestrators], answers, timeline, modelsBase);
    book.finish(clock.now());
    if (book.downAtEnd) {
      logger.warn({ code: 'BACKTEST_BOOK_DOWN', symbol: tradedSymbol, since: new Date(book.lastDownAt!).toISOString(), reason: book.lastDownReason, downMs: Math.round(clock.now() - book.lastDownAt!) },
        `the ${tradedSymbol} book went down at ${new Date(book.lastDownAt!).toISOString()} (${book.lastDownReason ?? 'no reason given'}) and the recording holds no snapshot to bring it back: no decision and no fill after it`);
    }
    openOrders = (sys.handles.executor()?.unfinishedOrders() ?? []).map((o) => openOrderAtEnd(o, sys.traded));
    // Counted by the reader, the publisher and the paper venue's books, and said nowhere else: a damaged recording's
    // run would look like a whole one's.
    feed = { badLines: source.badLines, malformed: pub.counters.malformed, malformedDepth: sys.books?.counters.malformed ?? 0 };
    const skipped = feedSkipped(feed);
    if (skipped !== undefined) logger.warn({ code: 'BACKTEST_FEED_SKIPPED', ...feed }, skipped);
  } finally {
    await source.close();
    await sys.stop('backtest end');
    await rm(dir, { recursive: true, force: true });
  }
  const durationMs = performance.now() - wall0;
  const measuredMs = durationMs - (measured0 - replay0);
  const s = tracker.summary();
  const simulatedMs = last - windowStart;
  const summary: BacktestSummary = {
    seed, symbol: primary, from: new Date(windowStart).toISOString(), to: new Date(last).toISOString(),
    pnl: s.pnl, pnlExact: s.pnlExact, fees: s.fees, trades: s.trades, roundTrips: s.roundTrips, hitRate: s.hitRate, sharpe: s.sharpe,
    maxDrawdown: s.maxDrawdown, exposure: s.exposure, initialEquity: Number(config.execution.paper.initialQuote), finalEquity: s.finalEquity,
    orders, approvals, denials, rejections, decisions, noIntent, haltedReason: halted, engineFailure, tradeIdGaps: holes?.tradeIdGaps ?? 0, silences: holes?.silences ?? 0, models: sys.models.loaded,
    modelSpans, inSample: inSample.map((m) => m.model), ...models,
    bookDownMs: Math.round(book.downMs), bookLastDownAt: book.lastDownAt === undefined ? null : new Date(book.lastDownAt).toISOString(),
    bookLastDownReason: book.lastDownReason ?? null, bookDownAtEnd: book.downAtEnd, openOrders, feed, lines, simulatedMs,
    durationMs: Math.round(durationMs), speedX: Math.round((simulatedMs / Math.max(1, measuredMs)) * 10) / 10,
    replayMs: Math.round(replayMs), replaySpeedX: Math.round((simulatedMs / Math.max(1, replayMs)) * 10) / 10,
  };
  return { summary, instrument: sys.traded, equity: tracker.points, fills: tracker.fills, stateChanges, finalRisk, lastMark, denials: denialList };
}

/** Each model's readings (by name) and failed runs at a window's start; empty for a run measured from its first line. */
interface ModelsBase {
  readonly readings: ReadonlyMap<string, ModelReading>;
  readonly health: ReadonlyMap<string, { readonly failures: number; readonly timeouts: number }>;
}

// The failed runs of each registered model so far, by name.
function modelHealth(sys: System): ModelsBase['health'] {
  return new Map(sys.models.registry.list().map((m) => [m.name, { failures: m.failures, timeouts: m.timeouts }]));
}

// Each model's figures and the agreement matrix, over `sys.models.loaded` and any other version that answered. The
// outcomes judged by every orchestrator instance of the run add up, less what `base` held at the window's start; the
// weights are the last instance's.
function modelsAtEnd(sys: System, orchestrators: readonly Orchestrator[], answers: ModelAnswers, timeline: ModelTimelineRecorder, base: ModelsBase): Pick<BacktestSummary, 'modelFigures' | 'modelAgreement' | 'modelTimeline'> {
  const ids = [...sys.models.loaded, ...answers.models().filter((m) => !sys.models.loaded.includes(m))];
  const last = sys.handles.orchestrator.current ?? orchestrators[orchestrators.length - 1];
  const weights = last?.weights() ?? {};
  const health = modelHealth(sys);
  const endOf = (name: string): ModelEnd => {
    const judged = orchestrators.map((o) => o.accuracy.judged(name));
    const now = { judged: judged.reduce((n, j) => n + j.evaluated, 0), correct: judged.reduce((n, j) => n + j.correct, 0) };
    const failed = health.get(name) ?? { failures: 0, timeouts: 0 };
    const failedBefore = base.health.get(name) ?? { failures: 0, timeouts: 0 };
    return {
      ...judgedSince(now, base.readings.get(name)),
      gatingWeight: weights[name] ?? 0, gatingAccuracy: last?.accuracy.accuracy(name).smoothed ?? 0,
      failures: failed.failures - failedBefore.failures, timeouts: failed.timeouts - failedBefore.timeouts,
    };
  };
  return { modelFigures: modelFigures(ids, answers, endOf), modelAgreement: answers.agreement(ids), modelTimeline: timeline.timeline(ids) };
}

// What the orchestrators hold of each registered model now, by name: as modelsAtEnd counts it (the outcomes judged by
// every instance so far add up; the weight is the current instance's).
function modelReadings(sys: System, orchestrators: Set<Orchestrator>): ReadonlyMap<string, ModelReading> {
  const current = sys.handles.orchestrator.current;
  if (current !== undefined) orchestrators.add(current);
  const weights = current?.weights() ?? {};
  const out = new Map<string, ModelReading>();
  for (const name of sys.models.registry.names()) {
    let judged = 0;
    let correct = 0;
    for (const o of orchestrators) {
      const j = o.accuracy.judged(name);
      judged += j.evaluated;
      correct += j.correct;
    }
    out.set(name, { judged, correct, gatingWeight: weights[name] ?? 0 });
  }
  return out;
}

// Returns `window` checked (times, fromMs before toMs; receive times have fractions of a ms); an end left out is
// ±Infinity, and without a window every line counts.
function backtestWindow(window: BacktestOptions['window']): { fromMs: number; toMs: number } {
  const fromMs = window?.fromMs ?? -Infinity;
  const toMs = window?.toMs ?? Infinity;
  if (Number.isNaN(fromMs) || Number.isNaN(toMs) || fromMs === Infinity || toMs === -Infinity || fromMs >= toMs) {
    throw new RangeError(`backtest window fromMs ${fromMs} must be a time before toMs ${toMs}`);
  }
  return { fromMs, toMs };
}


/** Returns the first maintenance time after `t`: `BACKFILL_GRACE_MS` past a minute, when that minute's bar can be fetched. */
export function maintenanceAfter(t: number): number {
  return Math.floor((t - BACKFILL_GRACE_MS) / 60_000) * 60_000 + 60_000 + BACKFILL_GRACE_MS;
}

function openOrderAtEnd(o: OrderRecord, traded: Instrument): OpenOrderAtEnd {
  const { intent } = o;
  // The paper venue trades the traded symbol alone; an order of another would show its raw units.
  const own = intent.symbol === traded.symbol;
  return {
    clientOrderId: o.clientOrderId, side: intent.side, type: intent.orderType,
    qty: own ? formatSteps(intent.lots, traded.lotSize) : `${intent.lots} lots`, filledQty: own ? formatSteps(o.filledLots, traded.lotSize) : `${o.filledLots} lots`,
    price: intent.price === undefined ? null : own ? formatSteps(intent.price, traded.tickSize) : `${intent.price} ticks`,
    status: o.status, createdAt: new Date(o.createdAt).toISOString(),
  };
}

// Waits until the executor and the orchestrator have nothing in flight, but for paper cancels on their way: those land
// only when the driver moves the clock (paper-venue.ts cancel), at their own time inside clock.set(), and the line after
// settles what they started. The wall-clock guard only reports a bug: a paper executor waits on nothing else.
// Most lines start nothing: then nothing is awaited (an await per line was most of a models-off backtest's time).
async function settle(ex: { busy: boolean; idle(): Promise<void> } | undefined, orch: { busy: boolean; idle(): Promise<void> } | undefined, logger: Logger, cancelsInFlight: () => number): Promise<void> {
  if (orch?.busy) await orch.idle();
  if (ex?.busy) {
    let timer: NodeJS.Timeout | undefined;
    const stop = new AbortController();
    const guard = new Promise<'stuck'>((r) => (timer = setTimeout(() => r('stuck'), 10_000)));
    const r = await Promise.race([idleOrCancelsInFlight(ex, cancelsInFlight, stop.signal), guard]);
    clearTimeout(timer);
    stop.abort();
    if (r === 'stuck') logger.error({ code: 'BACKTEST_EXECUTOR_STUCK' }, 'executor still busy after 10 s of wall time; continuing (the run may not be deterministic)');
    if (orch) await orch.idle();
  }
}
