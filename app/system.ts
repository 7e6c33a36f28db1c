// The composition root: one config in, the whole engine out. Builds bus, store and supervisor, and every actor as a
// supervised child, in start order:
//   store (opened here, not an actor) -> executor (reconciles with the venue before it takes an order) -> risk ->
//   dataProvider (loads candle history) -> cob -> orchestrator (+ model agents in its registry) -> feed (intake, last;
//   it starts publishing only once the executor has reconciled and the history has loaded).
// Shutdown (Lifecycle): stop intake, drain (executor and orchestrator idle), flush LMDB, stop the actors in reverse
// order, close the inference pool and the store.
// Wiring that belongs to no actor lives here: trades of the traded symbol become `risk.mark`; the paper venue's books
// follow the feed (app/paper-books.ts); `sys.halted` (an actor spent its restart budget) turns the risk kill switch on,
// so no further order is approved.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromCallback, type EventObject } from 'xstate';
import { cobAggregatorChild, CobHandle, cobSettingsFromConfig, cobSymbolsFromConfig } from '../actors/cob-aggregator/index.ts';
import { DataProvider, dataProviderOptions, type DataProviderOptions } from '../actors/data-provider/index.ts';
import { KlinesArchive } from '../actors/data-provider/klines-archive.ts';
import type { KlineSource } from '../actors/data-provider/market-source.ts';
import { InMemoryOrchestratorMemory, lmdbOrchestratorMemory, orchestratorChild, OrchestratorHandle } from '../actors/orchestrator/index.ts';
import type { SubscriptionConfig } from '../actors/orchestrator/subscriptions.ts';
import { applyFill, emptyPortfolio, lot9, type RiskState, type StartPosition } from '../actors/risk-manager/index.ts';
import { isRiskExit, TradingExecutor, type ExecutorStore } from '../actors/trading-executor/index.ts';
import { tradeHistory } from '../actors/trading-executor/reconcile.ts';
import { idleWithin, retireWhenIdle } from '../actors/trading-executor/retire.ts';
import { instrumentSpecsOf, type Config } from '../engine/config/schema.ts';
import type { Secrets } from '../engine/config/env.ts';
import { log as rootLog, type Logger } from '../engine/log.ts';
import type { EngineMsg } from '../engine/messages/index.ts';
import type { Fill } from '../engine/messages/orders.ts';
import type { RiskLimits } from '../engine/messages/risk.ts';
import { Bus, logHandlerFailures, type Unsubscribe } from '../engine/runtime/bus.ts';
import { LiveClock, SimulatedClock, type Clock } from '../engine/runtime/clock.ts';
import { Lifecycle, type ShutdownReport } from '../engine/runtime/lifecycle.ts';
import { Supervisor, type ChildSpec, type RestartPolicy } from '../engine/runtime/supervisor.ts';
import { CandleCache } from '../engine/store/candle-cache.ts';
import { ExecStore } from '../engine/store/exec-store.ts';
import { InferenceHistoryStore } from '../engine/store/inference-history.ts';
import { LmdbStore } from '../engine/store/lmdb.ts';
import { ModelOutputStore } from '../engine/store/model-output-store.ts';
import { parseFixed } from '../engine/types/decimal.ts';
import { notional, type Instrument, type VenueId } from '../engine/types/instrument.ts';
import { costAfterFill, costOfLots, type OpenCost } from '../engine/market/average-cost.ts';
import { baseAmount } from '../engine/venues/ledger.ts';
import type { ClientOrderId } from '../engine/types/ids.ts';
import { money, type Money } from '../engine/types/money.ts';
import type { Lots, Ticks } from '../engine/types/price.ts';
import type { FrameKind } from '../engine/venues/binance/frames.ts';
import { BinanceFeed } from '../engine/venues/binance/binance-feed.ts';
import { BinanceRest } from '../engine/venues/binance/rest.ts';
import type { MarketFeed, SnapshotSource } from '../engine/venues/feed.ts';
import { ReplayFeed } from '../engine/venues/replay/replay-feed.ts';
import type { ExecutionVenue } from '../engine/venues/venue.ts';
import type { PolicyConfig } from '../strategies/moe.ts';
import { BUNDLED_CNN_DIR, BUNDLED_DQN_DIR } from '../models/bundled/index.ts';
import type { ReplayTimeline } from '../actors/data-provider/replay-history.ts';
import { HistoryRetention, retentionOptionsOf } from './history-retention.ts';
import { loadModels, ONLINE_VERSION_PREFIX, onlineCheckpointRoot, type LoadedModels, type ModelOverrides } from './models.ts';
import { recordRollbacks } from './online-rollbacks.ts';
import { instrumentOf, liveVenue } from './live-venue.ts';
import { OnlineLearning, onlineLearningFor } from './online-learning.ts';
import { pollWhenDegraded } from './online-job.ts';
import { OnlineDqnLearning, onlineDqnFor } from './online-dqn.ts';
import { PaperBooks } from './paper-books.ts';
import { PersistentPaperVenue } from './paper-state.ts';
import { openOrdersAtStart, riskChild, RISK_ID } from './risk-child.ts';
import { riskLimitsFromConfig, riskLimitsKey } from './risk-limits.ts';
import { AlertsWebhook, SHUTDOWN_FLUSH_MS, webhookTargetOf } from './alerts-webhook.ts';
import { ConfigError, EngineStartError, StoreInUseError } from '../engine/types/errors.ts';

// The executor's child id, also the owner of its bus subscriptions (a throwing handler restarts it).
const EXECUTOR_ID = 'executor';

/** How the system trades: paper fills on live or replayed data, real orders, or a backtest (no persistence). */
export type SystemMode = 'paper' | 'live' | 'backtest';

/** What a feed factory gets. */
export interface FeedContext {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  readonly instruments: readonly Instrument[];
}

/** Options of `buildSystem`. */
export interface SystemOptions {
  readonly clock: Clock;
  readonly mode: SystemMode;
  readonly secrets?: Secrets;
  /** Replaces the execution venue (tests: a ccxt venue on the simulator, a faulty stub). */
  readonly venueOverride?: (ctx: { clock: Clock; instruments: readonly Instrument[] }) => ExecutionVenue;
  /**
   * Replaces the market-data feed. Return undefined for none: the caller publishes market data itself (the
   * backtest driver does, to wait for the actors between lines).
   */
  readonly dataOverride?: (ctx: FeedContext) => MarketFeed | undefined;
  readonly models?: ModelOverrides;
  readonly policy?: Partial<PolicyConfig>;
  readonly subscriptions?: Partial<SubscriptionConfig>;
  /**
   * Keep the reference symbol's books (its depth decoded, its COB built). Default: on, except in a backtest without
   * the dashboard, where nothing reads them.
   */
  readonly referenceBooks?: boolean;
  /** LMDB directory (default config.store.path). */
  readonly storePath?: string;
  readonly noSync?: boolean;
  /** Commit store writes on the main thread as they are made (see StoreOptions.syncCommits); backtests do. */
  readonly syncCommits?: boolean;
  /** Restart policy of every child (tests use a small budget). */
  readonly restart?: Partial<RestartPolicy>;
  readonly rng?: () => number;
  readonly logger?: Logger;
  /** Replay speed: against `replayPace` with a SimulatedClock, else against the (ScaledClock) clock itself. */
  readonly replaySpeed?: number;
  /**
   * With a SimulatedClock: the wall clock a replay is paced on (the daemon), and the one the orchestrator's model
   * deadlines and pending-intent timeout run on; omitted, a replay runs as fast as it can and those run on `clock`.
   */
  readonly replayPace?: Clock;
  /** A daemon's replay timeline (app/run.ts: each lap's shift): the DataProvider reads kline history at the recording's time by it. */
  readonly replayTimeline?: ReplayTimeline;
  /**
   * The clock the orchestrator's model deadlines and pending-intent timeout run on, when `clock` is not wall time at
   * speed 1 and is not paced by `replayPace` (a ScaledClock at --speed against the exchange simulator: its timers fire
   * `speed` times early in wall time, and those waits measure work done in wall time); default `replayPace`.
   */
  readonly deadlineClock?: Clock;
  /** Starting quote balance for the risk manager in live mode (read from the venue by the caller). */
  readonly liveCash?: Money;
  /**
   * Live mode: the account's equity at start in quote (its quote and base, valued by the caller: risk-limits.ts
   * accountEquity), which the VaR caps are a share of; default `liveCash`.
   */
  readonly liveEquity?: Money;
  /** Data provider maintenance period (0: off; a backtest turns the timer off and runs the passes itself, app/backtest.ts). */
  readonly maintenanceMs?: number;
  /** Extra supervised children (fault tests). */
  readonly extraChildren?: readonly ChildSpec[];
}

/** Stable handles on the running actors (each survives its actor's restarts). */
export interface SystemHandles {
  readonly cob: CobHandle;
  readonly orchestrator: OrchestratorHandle;
  provider(): DataProvider | undefined;
  executor(): TradingExecutor | undefined;
  risk(): RiskState | undefined;
}

/** A built system. */
export interface System {
  readonly config: Config;
  readonly mode: SystemMode;
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  readonly supervisor: Supervisor;
  readonly lifecycle: Lifecycle;
  readonly store: LmdbStore;
  readonly execStore: ExecutorStore;
  readonly history: InferenceHistoryStore;
  /** Applies the history's retention while a daemon runs (undefined in a backtest). */
  readonly retention: HistoryRetention | undefined;
  readonly outputs: ModelOutputStore;
  readonly handles: SystemHandles;
  readonly venue: ExecutionVenue;
  readonly paper: PersistentPaperVenue | undefined;
  readonly books: PaperBooks | undefined;
  readonly feed: MarketFeed | undefined;
  readonly models: LoadedModels;
  /** The CNN's online learning, when config.models.online enabled it and it can run (app/online-learning.ts). */
  readonly online: OnlineLearning | undefined;
  /** Why not, when config.models.online enabled it and it cannot run. */
  readonly onlineOff: string | undefined;
  /** The DQN's online learning, when config.models.online (and its `dqn`) enabled it and it can run (app/online-dqn.ts). */
  readonly onlineDqn: OnlineDqnLearning | undefined;
  /** Why not, when enabled and it cannot run. */
  readonly onlineDqnOff: string | undefined;
  /** Market-data instruments (venue of the data) and the traded instrument (venue of the orders). */
  readonly dataInstruments: readonly Instrument[];
  /** Frame kinds the feed publishes per symbol where not all (see `feedKindsFor`). */
  readonly feedKinds: Readonly<Record<string, readonly FrameKind[]>>;
  readonly traded: Instrument;
  readonly limits: RiskLimits;
  /** The key the operator's limits are stored under (see riskLimitsKey): the live caps line reads them with it. */
  readonly limitsKey: string;
  readonly initialCash: Money;
  /** Pushes alerts to config alerts.webhook's URL (a daemon's, when enabled; app/alerts-webhook.ts). */
  readonly alerts: AlertsWebhook | undefined;
  /** Starts every child; resolves once the executor has reconciled and the candle history has loaded. */
  start(): Promise<void>;
  /** Resolves when the executor reconciled and the data provider loaded its history (intake may begin). */
  ready(): Promise<void>;
  /**
   * Calls `fn` each time the RiskManager runs (its start, each restart), once its bus subscriptions are in place and
   * before anything else can reach it; returns the function that stops calling it.
   */
  onRiskRunning(fn: () => void): () => void;
  /** Graceful shutdown (idempotent). */
  stop(signal?: string): Promise<ShutdownReport>;
}

/**
 * Returns the market-data instruments of `config` (Binance): the primary symbol, then the reference one if it differs,
 * with the increments of config `instruments` over the bundled ones (the grid the data is parsed on).
 */
export function dataInstrumentsOf(config: Pick<Config, 'symbols' | 'instruments'>): Instrument[] {
  const { primary, reference } = config.symbols;
  const specs = instrumentSpecsOf(config);
  return (primary === reference ? [primary] : [primary, reference]).map((s) => instrumentOf(s, 'binance', specs));
}

/** Kline history from the live venues first and from the CSV archive when they fail (or lack the timeframe). */
class FallbackKlines implements KlineSource {
  constructor(private readonly primary: KlineSource, private readonly archive: KlineSource) {}
  async klines(...a: Parameters<KlineSource['klines']>): ReturnType<KlineSource['klines']> {
    try {
      return await this.primary.klines(...a);
    } catch {
      return this.archive.klines(...a);
    }
  }
}

/**
 * Returns the RiskManager's starting position of `inst` on a live start: the executor's stored lots with their average
 * cost (the stop-loss and take-profit reference) and the base they hold, or undefined when flat. A position stored
 * before the cost was kept gets it from its fills, once. (The cost was bought minus sold quote, which after a round
 * trip is not the cost of what is held: a profit taken earlier lowered it, and the exits fired off the wrong entry.)
 */
export function storedRiskPosition(store: ExecutorStore, venue: VenueId, inst: Instrument): { lots: Lots; cost: Money; base9: bigint } | undefined {
  const p = store.position(venue, inst.symbol);
  if (!p || p.netLots <= 0) return undefined;
  // What the engine's trades left in the account: every lot bought less sold, less every fee paid in the base asset
  // (a buy's fee on Binance without BNB). Taken as lots alone, an exit would try to sell the fees too and be refused.
  const full = baseAmount(inst, p.netLots);
  const fees = p.fees[inst.base] ?? 0n;
  const base9 = fees >= full ? 0n : full - fees;
  const cost = p.openCost ?? costFromFills(store, venue, inst).cost;
  // The executor's netLots still count what those fees took (bought less sold); the RiskManager keeps at most the
  // whole lots held (positions.ts applyFill, after a sell). Handing it netLots would bring back lots it cleared, which
  // count in limits, caps and the stop reference; they leave with their share of the cost, as there.
  const held = Math.min(p.netLots, Number(base9 / lot9(inst)));
  return { lots: held as Lots, cost: costOfLots({ lots: p.openLots ?? p.netLots, cost }, held), base9 };
}

// A live start's positions (the stored position, with the books of the fills up to `upToSeq`; flat with books after a
// round trip) and fees in other assets, for RiskInput.
function liveStartBooks(store: ExecutorStore, venue: VenueId, inst: Instrument, upToSeq: number): { positions: Record<string, StartPosition>; otherFees: Readonly<Record<string, bigint>> } {
  const held = storedRiskPosition(store, venue, inst);
  const books = storedBooks(store, venue, inst, upToSeq);
  const traded = held !== undefined || books.realised !== 0n || books.fees !== 0n;
  const position = { ...(held ?? { lots: 0 as Lots, cost: 0n as Money, base9: 0n }), realised: books.realised, fees: books.fees };
  return { positions: traded ? { [inst.symbol]: position } : {}, otherFees: books.otherFees };
}

// The open lots and their average cost by replaying every stored fill of `inst`.
function costFromFills(store: ExecutorStore, venue: VenueId, inst: Instrument): OpenCost {
  let open: OpenCost = { lots: 0, cost: 0n as Money };
  for (const f of storedFills(store, venue, inst.symbol)) open = costAfterFill(open, f.side, f.lots, notional(inst, f.price, f.lots));
  return open;
}

/**
 * Gives a position stored before the average cost was kept its openLots/openCost, from its fills, and stores it: once,
 * so that the executor's later fills carry it on and no later start reads every fill for it. Returns true if it did.
 */
export async function keepPositionCost(store: ExecutorStore, venue: VenueId, inst: Instrument): Promise<boolean> {
  const p = store.position(venue, inst.symbol);
  if (!p || p.openCost !== undefined) return false;
  const open = costFromFills(store, venue, inst);
  await store.commit({ position: { ...p, openLots: open.lots, openCost: open.cost } });
  return true;
}

/**
 * Runs `build` (buildSystem, or what calls it) and returns the ConfigError it raised instead of throwing it: a config
 * value that only the built system can judge (a quantity cap under one lot of the order venue's lot size) refuses to
 * start with its message, as a config that fails validation does, not with a stack trace. Other errors are thrown.
 */
export async function refuseOnConfigError<T>(build: () => Promise<T>): Promise<T | ConfigError> {
  try {
    return await build();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    // Another run holds the store: a refusal to start naming it (exit 2), not a crash with a stack.
    if (err instanceof StoreInUseError) return new ConfigError(err.message, { cause: err });
    throw err;
  }
}

/** Returns `fills` in time then trade id order. */
export function byTimeThenTradeId(fills: Fill[]): Fill[] {
  return fills.sort((a, b) => a.ts - b.ts || Number(a.tradeId) - Number(b.tradeId) || (a.tradeId < b.tradeId ? -1 : 1));
}

/**
 * Returns the executor's stored fills of `symbol` on `venue` (booked up to booking number `upToSeq` when given) in the
 * order they were booked, the order the running RiskManager applied them in: those booked before booking numbers were
 * kept first, by time then trade id, then the numbered ones. Not by time alone: a paper run on a replay restarts at
 * the recording's start, so its fills carry earlier times than the last run's, and a sell closing the last run's
 * position would come before the buy that opened it (an oversold sell, ignored, and the position counted as still held).
 */
export function storedFills(store: ExecutorStore, venue: VenueId, symbol: string, upToSeq?: number): Fill[] {
  // Two range reads (the fills, the booking index), not a read per fill: 100,000 fills in ~0.3 s rather than ~0.7 s.
  const byId = new Map(store.fillsOf(venue, symbol).map((f) => [f.tradeId, f] as const));
  const numbered: Fill[] = [];
  const ids = store.tradeIdsBookedAfter(venue, symbol, 0);
  // Those booked up to `upToSeq` are the first `upTo` (booking order); the later ones are left out, and taken out of
  // `byId` too, which keeps the unnumbered fills (all booked before any numbered one).
  const upTo = upToSeq === undefined ? ids.length : store.tradeIdsBookedAfter(venue, symbol, 0, upToSeq).length;
  ids.forEach((id, i) => {
    const f = byId.get(id);
    if (f === undefined) return;
    byId.delete(id);
    if (i < upTo) numbered.push(f);
  });
  return [...byTimeThenTradeId([...byId.values()]), ...numbered];
}

/** The realised PnL and fees of a symbol's fills as the RiskManager books them (positions.ts applyFill). */
export interface StoredBooks {
  readonly realised: Money;
  readonly fees: Money;
  /** Fees in assets that are neither base nor quote (Portfolio.otherFees). */
  readonly otherFees: Readonly<Record<string, bigint>>;
}

/**
 * Returns the realised PnL and fees of the executor's fills of `inst` booked up to booking number `upToSeq`, applied in
 * booking order from flat as a RiskManager running since the first of them applied them: what a live restart's
 * RiskManager starts its books with. Lots sold that no stored fill bought (base the account held before the engine
 * traded, sold by an order the executor adopted) have no known cost, so their realised PnL cannot be known: their sale
 * realises nothing here, as it realised nothing in the running RiskManager (applyFill counts them oversold); the
 * proceeds are in the venue's balance all the same.
 */
export function storedBooks(store: ExecutorStore, venue: VenueId, inst: Instrument, upToSeq: number): StoredBooks {
  let pf = emptyPortfolio(inst.quote, 0n as Money);
  for (const f of storedFills(store, venue, inst.symbol, upToSeq)) pf = applyFill(pf, inst, f);
  const p = pf.positions[inst.symbol];
  return { realised: p?.realised ?? (0n as Money), fees: p?.fees ?? (0n as Money), otherFees: pf.otherFees };
}

/**
 * Returns `cash` (a venue balance) as it was before the venue's trades of `inst` that the store has not booked
 * (`booked`, newest `lastTradeId`); on a failed query, `cash` unchanged and a warning.
 */
async function cashBeforeUnbookedFills(venue: ExecutionVenue, inst: Instrument, cash: Money, booked: (tradeId: string) => boolean, lastTradeId: string | undefined, logger: Logger): Promise<Money> {
  let out = cash as bigint;
  try {
    // Every page, as the executor's reconciliation books them (reconcile.ts bookTrades): at a first start that is the
    // whole history, and one page (Binance's 1,000 trades) would leave the rest counted twice.
    for await (const page of tradeHistory(venue, inst.symbol, lastTradeId)) {
      for (const t of page) {
        if (booked(t.tradeId)) continue;
        const q = notional(inst, t.price, t.lots) as bigint;
        const fee = t.feeAsset === inst.quote ? (t.fee as bigint) : 0n;
        out += t.side === 'buy' ? q + fee : fee - q;
      }
    }
  } catch (err) {
    logger.warn({ err, code: 'RISK_BASELINE_UNCHECKED' }, 'could not read the venue trades the store lacks: the risk manager may count them twice');
  }
  return out as Money;
}

/**
 * Returns the symbol each loaded CNN and DQN was trained on, by `name@version` (undefined where nothing says): what
 * its checkpoint's train-report.json names (`features.symbol`, else the first of `dataSpan.series`, "ETH/USDT 1m …").
 * The loader already passes over a checkpoint whose checkpoint.json records another symbol (input.symbol, app/models.ts);
 * this names the symbol of those written before that field existed. An online-promoted CNN
 * or DQN has no report of its own: its base's is read (it was fine-tuned on this engine's stored data since).
 */
export function modelTrainingSymbols(config: Pick<Config, 'models'>, models: Pick<LoadedModels, 'loaded' | 'cnn' | 'dqn'>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const id of models.loaded) {
    const [name, version] = id.split('@') as [string, string];
    if (name !== 'cnn' && name !== 'dqn') continue;
    // A promoted CNN's report is its base's; a test's override ('override') has no checkpoint folder.
    const promoted = version.startsWith(ONLINE_VERSION_PREFIX);
    const v = name === 'cnn' && promoted && models.cnn ? models.cnn.base : name === 'dqn' && promoted && models.dqn?.base ? models.dqn.base : version;
    const dir = v.startsWith('bundled-') ? (name === 'cnn' ? BUNDLED_CNN_DIR : BUNDLED_DQN_DIR)
      : v === 'override' ? undefined : join(config.models.checkpointDir, name, v);
    out[id] = dir === undefined ? undefined : reportedSymbol(join(dir, 'train-report.json'));
  }
  return out;
}

// The symbol a train-report.json names, or undefined (no file, unreadable, or none named).
function reportedSymbol(file: string): string | undefined {
  let report: { features?: { symbol?: unknown }; dataSpan?: { series?: unknown } };
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as typeof report;
  } catch {
    return undefined;
  }
  const series = report.dataSpan?.series;
  const first = typeof report.features?.symbol === 'string' ? report.features.symbol : Array.isArray(series) ? series[0] : series;
  const sym = typeof first === 'string' ? first.split(' ')[0] : undefined;
  return sym !== undefined && /^[A-Z0-9]+\/[A-Z0-9]+$/.test(sym) ? sym : undefined;
}

// Says at start which symbol each model was trained on against the traded one; a model trained on another symbol (or
// on one no report names) still joins the blend, so that is a warning.
function logModelSymbols(trainedOn: Record<string, string | undefined>, traded: string, logger: Logger): void {
  if (Object.keys(trainedOn).length === 0) return;
  logger.info({ trainedOn, traded }, `models trained on ${Object.entries(trainedOn).map(([m, s]) => `${m}: ${s ?? 'unknown'}`).join(', ')}; trading ${traded}`);
  for (const [model, sym] of Object.entries(trainedOn)) {
    if (sym === traded) continue;
    logger.warn({ code: 'MODEL_SYMBOL_MISMATCH', model, trainedOn: sym ?? null, traded },
      `${model} was trained on ${sym ?? 'a symbol its train-report.json does not name'}, not on ${traded}: it joins the blend anyway (its checkpoint.json, written before checkpoints recorded their symbol, names none); disable it (models.cnn/dqn.enabled) or train one on ${traded}`);
  }
}

/** Returns the policy the orchestrator sizes with, from config.risk. */
export function policyFromConfig(config: Config): Partial<PolicyConfig> {
  const bps = Math.max(1, Math.round(config.risk.fraction * 10_000));
  return { sizing: config.risk.sizing === 'volatility' ? { kind: 'volatility', riskBps: bps } : { kind: 'fixed-fraction', fractionBps: bps } };
}

/** Builds the whole engine for `config` (nothing runs until `start`); see the header. */
export async function buildSystem(config: Config, opts: SystemOptions): Promise<System> {
  // What the build opened so far, closed (last first) when a later step throws: the store would otherwise keep its
  // writer lock for the life of the process, refusing any later build on it (StoreInUseError).
  const opened: Array<() => unknown> = [];
  try {
    return await assembleSystem(config, opts, opened);
  } catch (err) {
    for (const close of opened.reverse()) {
      try {
        await close();
      } catch (closeErr) {
        (opts.logger ?? rootLog()).warn({ err: closeErr }, 'closing what a failed build opened failed');
      }
    }
    throw err;
  }
}

// The build itself; `opened` collects how to close what it opens.
async function assembleSystem(config: Config, opts: SystemOptions, opened: Array<() => unknown>): Promise<System> {
  const logger = opts.logger ?? rootLog();
  const { clock, mode } = opts;
  // A throwing handler is logged (rate-limited): one without a supervised owner (the wiring below, the paper books)
  // is not restarted, and was otherwise only counted.
  const bus = new Bus<EngineMsg>({ onHandlerError: logHandlerFailures(logger, clock) });
  const { primary } = config.symbols;
  const dataInstruments = dataInstrumentsOf(config);
  // The increments of every symbol of the run: config `instruments` over the bundled table.
  const specs = instrumentSpecsOf(config);
  const symbols = dataInstruments.map((i) => i.symbol);
  const primaryData = dataInstruments[0]!;
  // In a backtest without the dashboard nothing reads the reference symbol's book: the model input (BaseDataInput)
  // takes its 1s candles only and the paper venue trades the primary. Its depth is then neither decoded nor kept
  // (a test checks that decisions and fills are the same either way).
  const referenceBooks = opts.referenceBooks ?? (mode !== 'backtest' || config.dashboard.enabled);

  // Refused before anything opens: an enabled webhook without a usable COBALT_ALERTS_WEBHOOK_URL.
  const alertsUrl = webhookTargetOf(config, mode === 'backtest', opts.secrets);
  const store = LmdbStore.open({ path: opts.storePath ?? config.store.path, noSync: opts.noSync ?? false, syncCommits: opts.syncCommits ?? false });
  opened.push(() => store.close());
  const execStore: ExecutorStore = new ExecStore(store);
  const history = new InferenceHistoryStore(store, {
    retention: { maxRecords: config.store.retention.maxRecords, maxAgeMs: config.store.retention.maxAgeDays * 86_400_000 },
    archiveDir: config.store.archiveDir, archive: config.store.retention.archive, archiveMaxBytes: config.store.retention.archiveMaxMB * 1e6, logger,
  });
  const outputs = new ModelOutputStore();
  // A backtest records no history (its store is a temporary directory): nothing to retain.
  // The heatmap is the dashboard's (a ring of per-second columns and a cob.heatmap message each second); no model and no
  // figure reads it, and a backtest has no dashboard: 3-4% of its replay.
  const cobSettings = mode === 'backtest' ? { ...cobSettingsFromConfig(config.cob), heatmap: false as const, publishHeatmap: false } : cobSettingsFromConfig(config.cob);
  const retention = mode === 'backtest' ? undefined : new HistoryRetention({ history, clock, ...retentionOptionsOf(config.store.retention), logger });

  // ---- execution venue ----
  let paper: PersistentPaperVenue | undefined;
  let books: PaperBooks | undefined;
  let venue: ExecutionVenue;
  let venueId: VenueId;
  if (opts.venueOverride) {
    venue = opts.venueOverride({ clock, instruments: dataInstruments });
    venueId = venue.id;
  } else if (mode === 'live') {
    venue = await liveVenue(config, opts.secrets ?? {}, clock);
    venueId = venue.id;
  } else {
    venueId = 'paper';
    // Only the traded symbol: the paper venue matches nothing else, and the reference symbol's book was kept
    // (every diff applied) for no reader.
    books = new PaperBooks(bus, [primaryData]);
    // A stored account that started with another balance throws a ConfigError: the caller refuses to start.
    paper = new PersistentPaperVenue({
      clock, instruments: [instrumentOf(primary, 'paper', specs)], books: books.books(),
      makerFeeRate9: parseFixed(config.execution.fees.maker), takerFeeRate9: parseFixed(config.execution.fees.taker),
      latencyMs: config.execution.latencyMs, initialBalances: { [dataInstruments[0]!.quote]: money(config.execution.paper.initialQuote) },
      initialBalancesKey: 'execution.paper.initialQuote', ...(mode === 'paper' ? { store } : {}), id: 'paper',
    });
    venue = paper;
  }
  // A live venue trades with its own increments (read from its exchangeInfo at start); the others use the config's.
  const traded = venue.instrument?.(primary) ?? instrumentOf(primary, venueId, specs);

  // ---- risk ----
  if (await keepPositionCost(execStore, venueId, traded)) logger.info({ symbol: primary }, 'position cost basis computed from the stored fills (a store written before it was kept)');
  const initialCash = mode === 'live' ? (opts.liveCash ?? 0n as Money) : money(config.execution.paper.initialQuote);
  // The VaR caps are a share of the starting equity: the account's at start (live), the starting balance (paper). Limits
  // set at run time are kept while the config values behind the limits stay the same: a live account's equity is not
  // one of them (it moves with every trade), a paper starting balance is.
  const limits = riskLimitsFromConfig(config, mode === 'live' ? (opts.liveEquity ?? initialCash) : initialCash, traded);
  const limitsKey = riskLimitsKey(config, traded, mode === 'live' ? undefined : initialCash);
  // Paper: the stored fills rebuild cash and positions from the starting balance. Live: the venue's balance is the
  // cash and the executor's positions the holdings (fills are already in that balance). The store may lack the last
  // fills (the process died between the venue's answer and the commit): the executor's start-up reconciliation books
  // and publishes them and the risk manager applies them, so they are taken out of the starting cash here, or they
  // would count twice. A restart of the risk child re-applies the fills committed after this baseline.
  // The baseline is the store's booking number at start (not the set of every trade id booked so far: a long-lived
  // account's history would be read and held for the life of the process).
  // Live, the books (realised PnL, fees) of the stored fills up to the baseline are carried into the RiskManager's
  // position (liveStartBooks): a restart started them at 0, and the status line, /api/state and the dashboard read
  // them. Every stored fill of the symbol is read for it once per process start, not held; the fills booked after the
  // baseline (reconciliation's) reach the RiskManager as fills, so each counts once.
  const baseFillSeq = execStore.lastFillSeq(venueId);
  const riskCash = mode === 'live'
    ? await cashBeforeUnbookedFills(venue, traded, initialCash, (id) => execStore.hasFill(venueId, primary, id), execStore.lastTradeId(venueId, primary), logger)
    : initialCash;
  const riskInitial = mode === 'live'
    ? { limits, instruments: [traded], cash: riskCash, ...liveStartBooks(execStore, venueId, traded, baseFillSeq) }
    : { limits, instruments: [traded], cash: initialCash };
  let riskState: (() => RiskState) | undefined;
  const riskRunning = new Set<() => void>();

  // ---- models ----
  const models = await loadModels(config, clock, logger, opts.models);
  if (models.pool && models.ownsPool) opened.push(() => models.pool!.close());
  logModelSymbols(modelTrainingSymbols(config, models), primary, logger);
  const orchHandle = new OrchestratorHandle();
  // Online learning (config.models.online): a daemon's, never a backtest's. Promotions go through the orchestrator
  // (its accuracy record of the model starts over); between its restarts, straight to the registry.
  const learner = mode === 'backtest' ? undefined : await onlineLearningFor(config, {
    clock, logger, registry: models.registry, history, cnn: models.cnn, cnnBound: models.cnnBound, bus,
    bars: () => provider?.series(primary, '1m'),
    activate: (m, v) => void (orchHandle.current ? orchHandle.current.activate(m, v) : models.registry.activate(m, v, clock.now())),
  });
  const online = learner instanceof OnlineLearning ? learner : undefined;
  const onlineOff = learner instanceof OnlineLearning ? undefined : learner?.off;
  // The DQN's runs beside it; with a DQN bound to the CNN (the default blend) the CNN's stays off and this one learns.
  const dqnLearner = mode === 'backtest' ? undefined : onlineDqnFor(config, {
    clock, logger, registry: models.registry, history, dqn: models.dqn, bus,
    bars: () => provider?.series(primary, '1m'),
    activate: (m, v) => void (orchHandle.current ? orchHandle.current.activate(m, v) : models.registry.activate(m, v, clock.now())),
  });
  const onlineDqn = dqnLearner instanceof OnlineDqnLearning ? dqnLearner : undefined;
  const onlineDqnOff = dqnLearner instanceof OnlineDqnLearning ? undefined : dqnLearner?.off;
  // An operator's rollback of a promoted CNN or DQN is kept on disk, so that a restart does not load that version again.
  const rollbacks = mode === 'backtest' ? undefined
    : recordRollbacks({ bus, clock, logger, root: onlineCheckpointRoot(config), versionPrefix: ONLINE_VERSION_PREFIX });

  // ---- readiness: executor reconciled, history loaded ----
  let executor: TradingExecutor | undefined;
  let provider: DataProvider | undefined;
  let execReady!: () => void;
  let dataReady!: () => void;
  const execReadyP = new Promise<void>((r) => (execReady = r));
  const dataReadyP = new Promise<void>((r) => (dataReady = r));
  // A start must not wait forever on an actor that cannot start: a halt (restart budget spent) before readiness
  // fails it, and so does any failure of the two awaited actors in a backtest, whose restart delays run on the
  // simulated clock that only the replay (after the start) moves.
  let startFailed!: (err: EngineStartError) => void;
  const startFailedP = new Promise<never>((_, reject) => (startFailed = reject));
  let isReady = false;
  const readyP = Promise.race([Promise.all([execReadyP, dataReadyP]), startFailedP]).then(() => void (isReady = true));
  readyP.catch(() => undefined); // observed by start() and ready(); no unhandled rejection while nobody awaits yet

  // A restart's stopped executors until they are retired (actors/trading-executor/retire.ts): the successor subscribes
  // at once, but loads the store (and handles what came meanwhile) once they are, so that it reads what their last
  // venue answers committed and never races them for the store. A shutdown cuts their wait short (the drain hook).
  let retiring: Promise<unknown> | undefined;
  const retiringExecutors = new Set<TradingExecutor>();
  const cutRetiring = new AbortController();
  const executorLogic = fromCallback<EventObject, null>(() => {
    // A restart the supervisor fires once shutdown began starts nothing: it would reconcile with the venue and go live
    // after the drain, racing the flush.
    if (lifecycle.shuttingDown) return () => undefined;
    const ex = new TradingExecutor({
      bus, clock, venue, store: execStore, instruments: [traded], retry: config.execution.retry, ...(opts.rng ? { rng: opts.rng } : {}), log: logger,
      owner: EXECUTOR_ID,
      // Read once reconciled: orders a halted run left open are cancelled at start (a RiskManager that starts halted
      // publishes no risk.stateChanged).
      riskState: () => riskState?.(),
      protectiveStop: { ...config.execution.protectiveStop, ...(limits.stopLossBps !== undefined ? { stopLossBps: limits.stopLossBps } : {}) },
    });
    executor = ex;
    ex.start(retiring).then((report) => {
      logger.info({ report: { fillsApplied: report.fillsApplied, ordersClosed: report.ordersClosed, ordersAdopted: report.ordersAdopted } }, 'executor reconciled with the venue');
      execReady();
    }, (err: unknown) => {
      // Stopped while reconciling (or while its predecessor retired) is a shutdown or a restart; anything else (a store
      // that cannot be read) is this actor failing.
      if (ex.state !== 'stopped') supervisor.reportFailure(EXECUTOR_ID, err);
    });
    return () => {
      ex.stop();
      if (executor === ex) executor = undefined;
      // At shutdown no successor comes: the drain already waited for it, as before.
      if (lifecycle.shuttingDown) return;
      retiringExecutors.add(ex);
      const done: Promise<unknown> = Promise.all([retiring, retireWhenIdle(ex, clock, logger, undefined, cutRetiring.signal)]).finally(() => {
        retiringExecutors.delete(ex);
        if (retiring === done) retiring = undefined;
      });
      retiring = done;
    };
  });

  const cobHandle = new CobHandle();
  const providerOptions = (): DataProviderOptions => {
    // A backtest asks for the same history on every run of a recording: its answers are kept beside the replay catalog.
    const memo = mode === 'backtest' ? { klinesMemoDir: join(config.data.catalogDir, 'klines') } : {};
    const base = dataProviderOptions(config, { bus, clock, cob: cobHandle, modelOutputs: outputs, log: logger.child({ actor: 'dataProvider' }), ...memo, ...(opts.replayTimeline ? { replayTimeline: opts.replayTimeline } : {}) });
    // Live venues (or the simulator) may not serve every timeframe: the bundled archive fills what they cannot.
    if (config.data.replayFiles.length === 0 && config.data.klinesDirs.length > 0 && base.history) {
      return { ...base, history: new FallbackKlines(base.history, new KlinesArchive(config.data.klinesDirs, logger)) };
    }
    return base;
  };
  const candleCache = candleCacheFor(mode, config, store);
  // The saves of the providers stopped so far (the supervisor's stop, a restart): the store closes after them. A
  // restarted provider starts at once (it must not miss the market data): a stopped one's save that comes late (it
  // waits for the kline requests in flight) trims no bar of the new one's (takeUnsaved's window reaches now).
  let providerSaves: Promise<void> = Promise.resolve();
  const providerLogic = fromCallback<EventObject, null>(() => {
    const dp = new DataProvider({
      ...providerOptions(), owner: 'dataProvider', ...(opts.maintenanceMs !== undefined ? { maintenanceMs: opts.maintenanceMs } : {}), ...(candleCache ? { candleCache } : {}),
      // A request in flight at stop may be paced on a simulated clock, which nobody moves during the stop.
      ...(clock instanceof SimulatedClock ? { stopHistoryWaitMs: 0 } : {}),
    });
    provider = dp;
    dp.start().then(() => dataReady(), (err: unknown) => {
      logger.error({ err }, 'data provider failed to load history; running without it');
      dataReady();
    });
    return () => {
      const saved = dp.stop();
      providerSaves = Promise.all([providerSaves, saved]).then(() => undefined);
      if (provider === dp) provider = undefined;
    };
  });

  // ---- feed ----
  const feedKinds = feedKindsFor(primary, symbols, referenceBooks);
  const feedCtx: FeedContext = { bus, clock, instruments: dataInstruments };
  let feed: MarketFeed | undefined;
  if (opts.dataOverride) feed = opts.dataOverride(feedCtx);
  else if (config.data.replayFiles.length > 0) {
    feed = new ReplayFeed({
      bus, clock, files: config.data.replayFiles, instruments: dataInstruments, loop: config.data.loop, kindsBySymbol: feedKinds,
      // Paced on a wall clock while the feed sets the simulated clock (the daemon: engine time = data time), or 1:1
      // against a ScaledClock that already runs at the replay speed (0 means as fast as possible).
      ...(opts.replayPace ? { paceClock: opts.replayPace, speed: opts.replaySpeed ?? config.data.speed } : { speed: (opts.replaySpeed ?? config.data.speed) === 0 ? 0 : 1 }),
      logger: logger.child({ component: 'replay-feed' }),
    });
  } else {
    const rest = new BinanceRest({ baseUrl: config.venues.binance.restUrl });
    feed = new BinanceFeed({ bus, clock, instruments: dataInstruments, wsUrl: config.venues.binance.wsUrl, rest, kindsBySymbol: feedKinds, logger: logger.child({ component: 'binance-feed' }) });
  }
  const snapshots: SnapshotSource = feed ?? { requestSnapshot: () => undefined };
  const feedLogic = fromCallback<EventObject, null>(() => {
    let stopped = false;
    // A start that failed (EngineStartError, thrown by start()) starts no feed.
    readyP.then(() => {
      if (stopped || !feed) return;
      feed.start().catch((err: unknown) => logger.error({ err }, 'market-data feed failed to start'));
    }, () => undefined);
    return () => {
      stopped = true;
      void feed?.stop();
    };
  });

  // ---- orchestrator ----
  const children: ChildSpec[] = [
    { id: EXECUTOR_ID, logic: executorLogic, input: null, order: 1 },
    {
      id: RISK_ID, logic: riskChild, order: 2,
      input: {
        bus, clock, initial: riskInitial, limitsKey,
        fills: () => (mode === 'live' ? execStore.fillsBookedAfter(venueId, primary, baseFillSeq) : storedFills(execStore, venueId, primary)),
        ...(mode === 'paper' ? {
          fillLog: { id: `${venueId}:${primary}`, lastSeq: () => execStore.lastFillSeq(venueId), after: (seq: number) => execStore.fillsBookedAfter(venueId, primary, seq) },
        } : {}),
        ...(mode === 'backtest' ? {} : { store }), onState: (g: (() => RiskState) | undefined) => {
          riskState = g;
          if (g) for (const fn of [...riskRunning]) fn();
        },
        // A restart of the risk child alone: the exits the live executor still works are in flight (no second one).
        openExits: () => (executor?.state === 'live'
          ? executor.unfinishedOrders().filter(isRiskExit).map((o) => ({ symbol: o.intent.symbol, clientOrderId: o.clientOrderId as ClientOrderId }))
          : []),
        // Every order still worked counts as open from the start: the live executor's (in flight included) or, while
        // it loads and reconciles (a process start), the store's unfinished ones; reconciliation then publishes the
        // ends and fills of those that ended meanwhile.
        openOrders: () => openOrdersAtStart(executor?.state === 'live' ? executor.unfinishedOrders() : execStore.openOrders(venueId)),
      },
    },
    { id: 'dataProvider', logic: providerLogic, input: null, order: 3 },
    cobAggregatorChild({ bus, clock, snapshots, symbols: cobSymbolsFromConfig(config, referenceBooks ? dataInstruments : [primaryData]), settings: cobSettings, handle: cobHandle, logger }, 4),
    orchestratorChild({
      // A backtest's store is a temporary directory removed at the end: recording every 9,190-float input there (a
      // compressed LMDB put each, ~0.4 ms) only slowed the run, as persisting the risk control would (above).
      bus, clock, registry: models.registry, outputs, ...(mode === 'backtest' ? {} : { history }),
      input: (_tick, out) => provider?.assembleInput(out),
      thresholds: { buy: config.orchestrator.buyThreshold, sell: config.orchestrator.sellThreshold, minConfidence: config.orchestrator.minConfidence },
      health: config.orchestrator.health,
      // Thresholds set at run time and judged outcomes survive restarts: in LMDB for a daemon, in memory for a
      // backtest (its supervised restarts only; its store is a temporary directory).
      memory: mode === 'backtest' ? new InMemoryOrchestratorMemory() : lmdbOrchestratorMemory(store),
      timeoutMs: config.models.timeoutMs,
      // A model's deadline and the pending intent's timeout measure work done in wall time: on the wall clock the
      // replay is paced on, not on the data clock that the feed jumps past them while it catches up
      // (actors/orchestrator/orchestrator.ts); against a ScaledClock at another speed, on the wall clock the caller
      // passes (opts.deadlineClock). Live: undefined, the LiveClock; a backtest: undefined, no replay pace.
      deadlineClock: opts.deadlineClock ?? opts.replayPace,
      subscriptions: { symbol: primary, ...opts.subscriptions },
      // Seeded with the RiskManager's portfolio (started before it, rebuilt from the stored fills): a restart keeps the position.
      trading: {
        inst: traded, limits, currentLimits: () => riskState?.().limits, cash: initialCash, policy: { ...policyFromConfig(config), ...opts.policy },
        initialPortfolio: () => riskState?.().portfolio,
      },
      handle: orchHandle, logger,
    }, 5),
    ...(opts.extraChildren ?? []),
    { id: 'feed', logic: feedLogic, input: null, order: 9 },
  ];
  const supervisor = new Supervisor({ bus, clock, children, defaults: opts.restart, logger, ...(opts.rng ? { rng: opts.rng } : {}) });

  // ---- wiring that belongs to no actor ----
  // Subscribed before any actor starts, so that a failure at start is pushed too.
  const alerts = alertsUrl ? new AlertsWebhook({ url: alertsUrl, settings: config.alerts.webhook, from: { mode: config.mode, account: venueId }, logger }) : undefined;
  alerts?.subscribe(bus);
  // Unsubscribed at shutdown: a spread change held back by the quote throttle would otherwise mark after the stop.
  const stopMarks = publishMarks(bus, clock, primary);
  // A model judged worse than the naive baseline: its online learner looks at its data now, not at its next poll.
  if (online || onlineDqn) pollWhenDegraded(bus, { cnn: online, dqn: onlineDqn });
  bus.subscribe('sys.halted', (m) => {
    if (!isReady) startFailed(new EngineStartError(`the engine halted before it was ready: ${m.reason}`));
    logger.error({ code: 'SYSTEM_HALTED', actor: m.actor, reason: m.reason }, `trading halted: ${m.reason}`);
    // From the engine: an operator `start` cannot resume over it in this process (the failed actor stays down). With
    // the RiskManager down (restarting) it would reach nobody: it goes when the RiskManager runs again.
    const kill = (): void => bus.publish({ type: 'risk.killSwitch', on: true, reason: `system halted: ${m.reason}`, source: 'engine', ts: clock.now() });
    const riskGone = m.actor === RISK_ID || (m.actor === undefined && !riskState);
    if (riskGone) {
      // The RiskManager failed for good, or the supervisor did while it was down: it will not run again in this
      // process, and nothing closes positions on their stop-loss or take-profit (protective stops at the venue stay).
      logger.error({ code: 'RISK_MANAGER_DOWN', actor: m.actor ?? null },
        'the RiskManager is down for good: open positions are not managed any more; flatten at the venue by hand, or restart the engine');
    }
    // Published as before while riskState is set (the RiskManager's own halt may come before its child is stopped).
    if (riskState) kill();
    else if (!riskGone) {
      const once = (): void => {
        riskRunning.delete(once);
        kill();
      };
      riskRunning.add(once);
    }
  });

  if (mode === 'backtest') {
    bus.subscribe('sys.actorStatus', (m) => {
      if (isReady || (m.actor !== EXECUTOR_ID && m.actor !== 'dataProvider') || (m.status !== 'restarting' && m.status !== 'failed')) return;
      // The supervisor assigns the child's last error in the same step: read it once that step is done.
      queueMicrotask(() => {
        const last = supervisor.status().find((c) => c.id === m.actor)?.lastError;
        startFailed(new EngineStartError(`actor '${m.actor}' failed while the backtest started${last ? `: ${last}` : ''}`));
      });
    });
  }

  // ---- shutdown ----
  const lifecycle = new Lifecycle({ bus, clock: new LiveClock(), supervisor });
  if (feed) lifecycle.onStopIntake('feed', () => feed!.stop());
  lifecycle.onStopIntake('paper-books', () => books?.stop());
  lifecycle.onStopIntake('risk-marks', () => stopMarks());
  // A paper cancel lands on the clock (engine/venues/paper/paper-venue.ts cancel): a SimulatedClock stands still once
  // intake stopped (a backtest's or a replay's driver), so one in flight then would hold the drain to its timeout.
  lifecycle.onDrain('executor', async () => {
    // A restart's stopped executors first: their last venue answers commit before the store flushes, within a real-time
    // bound below this hook's timeout (the engine clock may stand still); then they are retired whatever is in flight,
    // so that an answer coming later commits nothing to a store being flushed and closed.
    let ex = executor;
    if (retiring) {
      // Their successor has not loaded yet: stopped, it reconciles nothing now and answers what it queued EXECUTOR_NOT_READY.
      if (ex?.state === 'starting') ex.stop();
      await idleWithin([...retiringExecutors], new LiveClock());
      cutRetiring.abort();
      await retiring;
      ex = executor;
      if (ex?.state === 'starting') ex.stop();
    }
    if (!ex) return;
    const inner = paper?.inner;
    if (!(clock instanceof SimulatedClock) || !inner) return ex.idle();
    // Polling ends with the hook's timeout at the latest (5 s). A paper run commits on LMDB's write thread: a commit in
    // progress can outlast a turn, so the check is made again once the store's writes are done.
    const signal = AbortSignal.timeout(6_000);
    const settled = async () => (await idleOrCancelsInFlight(ex, () => inner.cancelsInFlight, signal)) === 'idle';
    if (await settled()) return;
    await store.flush();
    if (await settled()) return;
    logger.warn({ code: 'PAPER_CANCELS_ABANDONED', cancels: inner.cancelsInFlight, at: new Date(clock.now()).toISOString() },
      'shutdown: paper cancels still on their way when the simulated clock stopped are abandoned; their orders stay open');
  });
  lifecycle.onDrain('orchestrator', () => orchHandle.current?.idle());
  if (paper) lifecycle.onFlush('paper-venue', () => paper!.flush());
  lifecycle.onFlush('store', () => store.flush());
  if (online) {
    // Its trainer thread ends with the drain (a run in progress is abandoned); its versions' pools close with the others.
    lifecycle.onDrain('online-learning', () => online.stop());
    lifecycle.onClose('online-pools', () => online.closePools());
  }
  if (onlineDqn) lifecycle.onDrain('online-dqn', () => onlineDqn.stop());
  if (retention) lifecycle.onDrain('history-retention', () => retention.stop());
  if (rollbacks) {
    lifecycle.onDrain('online-rollbacks', () => {
      rollbacks.stop();
      return rollbacks.idle();
    });
  }
  if (alerts) {
    // The "engine stopping" alert was queued with sys.shutdown, before the first hook.
    lifecycle.onFlush('alerts-webhook', () => alerts.flush(SHUTDOWN_FLUSH_MS), { timeoutMs: SHUTDOWN_FLUSH_MS + 1_000 });
    lifecycle.onClose('alerts-webhook', () => alerts.stop());
  }
  if (models.pool && models.ownsPool) lifecycle.onClose('inference-pool', () => models.pool!.close());
  lifecycle.onClose('store', () => store.close());
  // Close hooks run in reverse order: the provider's last save (7,400 bars when stopped soon after its history load:
  // ~116 transactions, issued one commit after another) finishes before the store refuses writes.
  if (candleCache) lifecycle.onClose('candles-cache', () => providerSaves, { timeoutMs: 30_000 });

  let started = false;
  return {
    config, mode, bus, clock, supervisor, lifecycle, store, execStore, history, retention, outputs, venue, paper, books, feed, models, online, onlineOff, onlineDqn, onlineDqnOff,
    dataInstruments, feedKinds, traded, limits, limitsKey, initialCash, alerts,
    handles: { cob: cobHandle, orchestrator: orchHandle, provider: () => provider, executor: () => executor, risk: () => riskState?.() },
    async start() {
      if (started) return;
      started = true;
      if (books && paper) books.start(paper);
      supervisor.start();
      await readyP;
      alerts?.started(primary, clock.now());
      online?.start();
      onlineDqn?.start();
      retention?.start();
    },
    ready: () => readyP,
    onRiskRunning: (fn) => {
      riskRunning.add(fn);
      return () => void riskRunning.delete(fn);
    },
    stop: (signal = 'manual') => lifecycle.shutdown(signal),
  };
}

/**
 * Turns the traded symbol's trades into `risk.mark`: one per price change, and at least one a second of trading at an
 * unchanged price, so that the RiskManager's breaker reads a stretch without any mark as a feed that stopped
 * (risk.breaker.staleMs), not as a price that held. Each mark carries the newest md.bookTicker's bid and ask (the
 * breaker's spread guard, risk.breaker.maxSpreadBps; every mode's feed publishes bookTicker for the traded symbol), and
 * a change of the spread marks again at the last trade price, at most once per QUOTE_MARK_MS: a change within it is
 * marked by a timer on the engine clock when QUOTE_MARK_MS is up (with the newest bid/ask then), unless a mark went out
 * before. Without that timer a change held back was lost for good when the book went quiet after it (a widening never
 * denied, a narrowing denying for minutes). The bundled ETH/USDT recording's 14,515 trades and 5,913 spread changes
 * give 5,328 marks.
 * Any bookTicker counts as the feed speaking, as a trade does: while they arrive, the last trade price is marked at
 * least once per MARK_REFRESH_MS whether the spread moves or not, so a live book without trades never reads as stale
 * and a feed with neither trades nor quotes does. Nothing is marked before the first trade (no price to mark).
 */
export function publishMarks(bus: Bus<EngineMsg>, clock: Clock, symbol: string): Unsubscribe {
  let last: Ticks | undefined;
  let markedAt = -Infinity; // any mark's time: the refresh of an unchanged price counts from it
  let bid: Ticks | undefined;
  let ask: Ticks | undefined;
  let sentSpread: number | undefined; // ask − bid on the last mark
  let quoteAt = -Infinity; // the last mark for a spread change
  let held: ReturnType<Clock['setTimeout']> | undefined; // the timer that marks a spread change held back
  const mark = (price: Ticks, ts: ReturnType<Clock['now']>): void => {
    if (held !== undefined) {
      clock.clearTimeout(held);
      held = undefined;
    }
    sentSpread = bid === undefined || ask === undefined ? undefined : ask - bid;
    markedAt = ts;
    bus.publish({ type: 'risk.mark', symbol, price, ts, ...(bid !== undefined && ask !== undefined ? { bid, ask } : {}) });
  };
  const markSpread = (): void => {
    held = undefined;
    // The spread may have gone back to the last mark's since it was held back: nothing new to say then.
    if (last === undefined || bid === undefined || ask === undefined || ask - bid === sentSpread) return;
    quoteAt = clock.now();
    mark(last, quoteAt);
  };
  const offTrades = bus.subscribe('md.trade', (m) => {
    if (m.symbol !== symbol) return;
    const now = clock.now();
    if (m.price === last && now - markedAt < MARK_REFRESH_MS) return;
    last = m.price;
    mark(m.price, now);
  });
  const offQuotes = bus.subscribe('md.bookTicker', (m) => {
    if (m.symbol !== symbol) return;
    bid = m.bid;
    ask = m.ask;
    if (last === undefined) return;
    const now = clock.now();
    if (ask - bid === sentSpread) {
      if (now - markedAt >= MARK_REFRESH_MS) mark(last, now);
      return;
    }
    const waitMs = QUOTE_MARK_MS - (now - quoteAt);
    if (waitMs <= 0) markSpread();
    else held ??= clock.setTimeout(markSpread, waitMs);
  });
  return () => {
    offTrades();
    offQuotes();
    if (held !== undefined) clock.clearTimeout(held);
    held = undefined;
  };
}

/** Engine time after which a trade at the last marked price is marked again. */
const MARK_REFRESH_MS = 1_000;
/** Engine time between two marks for a change of the bid/ask spread (without a trade). */
const QUOTE_MARK_MS = 250;

/**
 * Returns the candles cache the DataProvider keeps its series in across restarts, or undefined where it must not:
 * a backtest (its runs neither read nor write it), and a replay. A restarted replay resumes past where the last run
 * got to, and its kline history before that point is another stretch of the recording (ReplayHistory: the new first
 * lap's shift), so the last run's bars there would sit beside 1m/1h bars of another market.
 */
export function candleCacheFor(mode: SystemMode, config: Pick<Config, 'data'>, store: LmdbStore): CandleCache | undefined {
  return mode === 'backtest' || config.data.replayFiles.length > 0 ? undefined : new CandleCache(store);
}

/**
 * Frame kinds the feed publishes for the symbols other than the traded one: everything but bookTicker, and with
 * `referenceBooks` false only trades and klines. Only the orchestrator reads md.bookTicker, for the traded symbol's
 * bid and ask; the reference symbol's (41% of the bundled recording's lines) were decoded and published for no reader.
 * Its depth feeds only its own COB (the dashboard's) and nothing else.
 */
export function feedKindsFor(traded: string, symbols: readonly string[], referenceBooks = true): Record<string, readonly FrameKind[]> {
  const out: Record<string, readonly FrameKind[]> = {};
  for (const s of symbols) if (s !== traded) out[s] = referenceBooks ? ['depth', 'snapshot', 'trade', 'kline'] : ['trade', 'kline'];
  return out;
}

/**
 * Resolves 'idle' once `ex` is idle, or 'cancelsInFlight' once it is still busy a turn of the event loop after it was
 * asked while paper cancels are in flight (`cancelsInFlight() > 0`): those land only when the simulated clock moves.
 * Over a paper venue and synchronous store commits everything else the executor does ends within that turn (its
 * orders' latency runs in the matching engine, not in the executor), and anything still waiting waits on the clock too.
 * `signal` stops the polling when the caller gives up first.
 */
export async function idleOrCancelsInFlight(ex: { readonly busy: boolean; idle(): Promise<void> }, cancelsInFlight: () => number, signal?: AbortSignal): Promise<'idle' | 'cancelsInFlight'> {
  let done = false;
  const idle = ex.idle().then(() => {
    done = true;
    return 'idle' as const;
  });
  const polled = (async () => {
    while (!done && !signal?.aborted) {
      await new Promise<void>((r) => setImmediate(r));
      if (!done && ex.busy && cancelsInFlight() > 0) return 'cancelsInFlight' as const;
    }
    return 'idle' as const;
  })();
  return Promise.race([idle, polled]);
}
