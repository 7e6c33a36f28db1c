// The dashboard's view of the engine: bus messages → bounded state per panel. Handlers run on the hot path, so each
// is O(1) (a Map write, a ring push, a reference kept); turning state into JSON happens in `build`, which the
// server calls at most `maxHz` times per second, never per message.
//
// Topics (one per panel group; `onChange(topic)` fires when one changes):
//   candles   md.candle per symbol and timeframe (the forming bar replaces the last one), rebased on the DataProvider's
//             series (the candles provider) when bars entered them without one: history, backfills
//   cob       the last cob.snapshot per symbol, shown as a ladder of buckets, with its flags and the venues' md.bookStatus
//   heatmap   cob.heatmap columns per symbol (time × price)
//   models    signal.modelOutput, signal.decision (MoE weights), signal.modelStatus, signal.modelHealth (live figures
//             from the modelHealth provider when there is one), orchestrator.* controls
//   portfolio positions, PnL and equity from the RiskManager's books (the portfolio provider), re-read on risk.mark
//             and fills; the equity series samples them once per second of data time
//   risk      risk.alert, provider figures (drawdown and its peak, trading state, its reason and kill switch: the
//             RiskManager's, as restored at a restart; the market circuit breaker per symbol); without a provider,
//             drawdown and peak from the equity series and the state as risk.stateChanged and risk.killSwitch last
//             announced it; the executor's protective stops per symbol (the protectiveStops provider; off without
//             one), re-read on every exec.* event of a stop and with the other providers once a second
//   orders    exec.* order lifecycle (the rows changed since the client's cursor) and fills (fees in the asset they were
//             paid in); risk.orderDenied, with the symbol and side of the risk.intent it answers
//   system    sys.*, md.feedStatus, md.bookStatus, exec.venueStatus, supervisor status, bus counters, providers
//   training  the training provider's report
import type { CobSnapshot } from '../market/cob.ts';
import type { EngineMsg } from '../messages/index.ts';
import type { Candle } from '../messages/market.ts';
import { isProtectiveStopId, type Fill, type Side } from '../messages/orders.ts';
import type { Action } from '../messages/signals.ts';
import type { BreakerSettings, RiskLimits, TradingState } from '../messages/risk.ts';
import type { Bus, Unsubscribe } from '../runtime/bus.ts';
import type { ChildStatus } from '../runtime/supervisor.ts';
import type { ProtectiveStopFigures, WebhookCounters } from './metrics.ts';
import { BINANCE_SPOT_DEFAULTS, lotsToFloat, makeInstrument, ticksToFloat, type Instrument } from '../types/instrument.ts';
import { formatMoney, type Money } from '../types/money.ts';
import type { Timeframe, TsMs } from '../types/time.ts';
import { SeqMap, SeqRing, type SeqSlice } from './seq-ring.ts';

/** Every topic the dashboard pushes. */
export const TOPICS = ['candles', 'cob', 'heatmap', 'models', 'portfolio', 'risk', 'orders', 'system', 'training'] as const;
/** One dashboard topic. */
export type Topic = (typeof TOPICS)[number];

/** A candle as the page draws it: [time s, open, high, low, close, volume]. */
export type Bar = [number, number, number, number, number, number];

/** One heatmap column: quantities per bucket around `center` (row r is bucket center − range + r). */
export interface HeatColumn {
  readonly t: number;
  readonly center: number;
  readonly bucketSize: number;
  readonly range: number;
  readonly bid: number[];
  readonly ask: number[];
  readonly spread: number;
}

/** One model output as the page plots it. */
export interface ModelPoint {
  readonly t: TsMs;
  readonly model: string;
  readonly version: string;
  readonly symbol: string;
  readonly action: Action;
  readonly p: readonly [number, number, number];
  readonly confidence: number;
  /** Hit rate the model reports for itself (`extra.accuracy`, 0..1), if it does. */
  readonly accuracy?: number;
  /** Inference latency (`extra.latencyMs`), if reported. */
  readonly latencyMs?: number;
}

/** One blended decision with its MoE weights. */
export interface DecisionPoint { readonly t: TsMs; readonly symbol: string; readonly action: Action; readonly confidence: number; readonly weights: Readonly<Record<string, number>> }

/** One fill as the orders table and the chart markers show it; `fee` is in `feeAsset` units (base, quote or another asset). */
export interface FillRow { readonly t: TsMs; readonly symbol: string; readonly side: Side; readonly price: number; readonly qty: number; readonly fee: number; readonly feeAsset: string; readonly liquidity: string; readonly orderId: string }

/** One order's latest state (`id` is the key a receiver merges rows by). */
export interface OrderRow { id: string; intentId?: string; status: string; symbol?: string; side?: Side; filledQty: number; leavesQty?: number; detail?: string; updated: TsMs }

/**
 * One position of the RiskManager's books as display floats (quote units): open quantity in the base asset, average
 * entry, the RiskManager's last mark (null before its first: unrealised is then 0, as equity counts the holding at cost),
 * realised PnL (gross) and fees valued in the quote (a base-asset fee at its fill price).
 */
export interface PositionRow {
  readonly symbol: string; readonly qty: number; readonly avgPrice: number; readonly mark: number | null;
  readonly realized: number; readonly unrealized: number; readonly fees: number;
}

/** The RiskManager's books as the portfolio panel shows them (display floats, quote units). */
export interface PortfolioFigures {
  readonly quote: string;
  readonly cash: number;
  /** Cash plus every holding at the RiskManager's last mark (at cost before the first), as its drawdown is measured. */
  readonly equity: number;
  readonly positions: readonly PositionRow[];
  /** Fees paid in assets that are neither base nor quote (BNB), per asset, in that asset; in neither equity nor `fees`. */
  readonly otherFees: Readonly<Record<string, number>>;
}

/** The portfolio figures with their totals over positions (what the portfolio topic and the PnL gauges show). */
export interface PortfolioBooks extends PortfolioFigures {
  readonly realized: number;
  readonly unrealized: number;
  readonly fees: number;
}

/** A venue's book state of one symbol, from md.bookStatus. */
export interface BookState { readonly status: string; readonly reason?: string; readonly ts: TsMs }

/**
 * Figures a provider adds to the risk panel (from the RiskManager's state, in quote units). `drawdownPct` and
 * `peakEquity` replace the view model's own, which only see the equity samples since this process started.
 */
export interface RiskFigures {
  readonly exposure?: number; readonly var95?: number; readonly var99?: number; readonly drawdownPct?: number; readonly equity?: number;
  /** The equity peak `drawdownPct` is measured from (the RiskManager's, kept across restarts). */
  readonly peakEquity?: number;
  /**
   * The RiskManager's trading state, its reason and kill switch as they are now. They replace the ones last announced
   * on the bus: a restart restores them from the store without announcing them.
   */
  readonly state?: TradingState;
  readonly reason?: string;
  readonly killSwitch?: boolean;
  /** The market circuit breaker: its settings and, per traded symbol, whether it denies entries now. */
  readonly breaker?: BreakerFigures;
}

/**
 * The market circuit breaker as the risk panel and `cobalt_market_breaker` show it (actors/risk-manager/market-guard.ts).
 * A setting absent: that guard is off.
 */
export interface BreakerFigures extends BreakerSettings {
  readonly symbols: Readonly<Record<string, SymbolBreaker>>;
}

/**
 * One symbol's breaker now: `move` while a move episode denies entries (MARKET_MOVE: the move in bps and until when,
 * which a further move over the limit extends), `stale` while its last mark is too old (MARKET_STALE), `spread` while
 * its bid/ask spread has been too wide for too long (MARKET_SPREAD: the widest spread in bps, and for how long); null
 * when not. `spread` is absent where the provider predates the spread guard.
 */
export interface SymbolBreaker {
  readonly move: { readonly moveBps: number; readonly until: TsMs } | null;
  readonly stale: { readonly lastMarkAgoMs: number } | null;
  readonly spread?: { readonly spreadBps: number; readonly wideForMs: number } | null;
}

/**
 * The protective stops as the risk topic carries them: off (no provider: execution.protectiveStop disabled), or on with
 * the executor's figures and a row per symbol (null while no executor runs; `error` when reading them failed).
 */
export type ProtectiveStopsView =
  | { readonly enabled: false }
  | { readonly enabled: true; readonly figures: ProtectiveStopFigures | null; readonly error?: string };

/** Training progress a provider reports (the training pipeline). */
export interface TrainingReport {
  readonly jobs: readonly { readonly model: string; readonly status: string; readonly epoch?: number; readonly epochs?: number; readonly loss?: number; readonly valMetric?: number; readonly startedAt?: TsMs }[];
  readonly checkpoints: readonly { readonly model: string; readonly version: string; readonly metric: number; readonly metricName: string; readonly active?: boolean; readonly ts?: TsMs }[];
}

/** One venue book's sequence gaps and resyncs since its aggregator started. */
export interface BookCounters { readonly venue: string; readonly symbol: string; readonly gaps: number; readonly resyncs: number }

/** A model's prediction quality as the models panel and /metrics show it (actors/orchestrator/model-health.ts). */
export interface ModelHealthView {
  readonly state: 'ok' | 'degraded';
  readonly overconfident: boolean;
  /** Over the last `judged` outcomes (0..1). */
  readonly accuracy: number;
  /** Always predicting the most frequent realised move, on the same outcomes. */
  readonly baseline: number;
  readonly judged: number;
}

/**
 * The DataProvider's candle series: the bars the models read. Bars enter them without an md.candle (the history at
 * start, backfilled holes such as a replay lap's junction minutes, bars fetched again), so the candles topic re-reads
 * them when `source` or `revision` changes.
 */
export interface CandleHistory {
  /** The provider these series belong to (a restarted one is another). */
  readonly source: object;
  /** Changes whenever bars entered a series other than at its end by a published md.candle. */
  readonly revision: number;
  readonly symbols: readonly string[];
  readonly timeframes: readonly Timeframe[];
  /** The newest `n` closed bars of `symbol` and `tf`, oldest first. */
  bars(symbol: string, tf: Timeframe, n: number): readonly Candle[];
}

/** Pull-based sources the view model samples when it builds (never per message). */
export interface DashboardProviders {
  /** The DataProvider's series (undefined while none runs); without it, the charts hold the md.candle bars only. */
  readonly candles?: () => CandleHistory | undefined;
  /** Supervisor children (actor state, restarts, last error). */
  readonly supervisor?: { status(): ChildStatus[] };
  readonly risk?: () => RiskFigures | undefined;
  /** The RiskManager's cash, positions and equity (undefined while it is not running). */
  readonly portfolio?: () => PortfolioFigures | undefined;
  /** Gap and resync counts of every venue book, as the COB aggregator counts them (read at scrape time). */
  readonly bookCounters?: () => readonly BookCounters[] | undefined;
  /** What the alerts webhook sent, failed, dropped and coalesced (absent: no webhook). */
  readonly alertsWebhook?: () => WebhookCounters;
  /** The executor's protective stops at the venue (absent: off). */
  readonly protectiveStops?: () => ProtectiveStopFigures | undefined;
  readonly training?: () => TrainingReport | undefined;
  /** The decision thresholds in force (the orchestrator's, config or set); without it, those last set through the bus. */
  readonly thresholds?: () => { readonly buy: number; readonly sell: number; readonly minConfidence: number } | undefined;
  /** Each model's health now (the orchestrator's monitor; undefined while it is not running or the monitor is off). */
  readonly modelHealth?: () => Readonly<Record<string, ModelHealthView>> | undefined;
  /** The versions a rollback of `model` would go back to, newest first (undefined: no such model). */
  readonly rollbackTargets?: (model: string) => readonly string[] | undefined;
  /** Why the RiskManager would refuse a resume (`start`) with this `resetPeak` now, undefined when it would not. */
  readonly resumeRefusal?: (resetPeak: boolean) => string | undefined;
  /** Anything else for the system table: backend, pool latency, feed counters… (name → JSON-able value). */
  readonly status?: Readonly<Record<string, () => unknown>>;
}

/** Options of a view model. */
export interface ViewModelOptions {
  readonly bus: Bus<EngineMsg>;
  /** Increments of the market data, for fills where `venueInstruments` has none (default: the bundled Binance spot instruments). */
  readonly instruments?: readonly Instrument[];
  /**
   * Increments of the order venue, for fills (default: `instruments`): a live venue's tick or lot may differ from the
   * market data's (MEXC's, or Binance's own after a filter change), and a fill counted in its lots shown with the
   * data's lot size would show the wrong quantity and price.
   */
  readonly venueInstruments?: readonly Instrument[];
  /** Bars kept per symbol and timeframe (default 1500). */
  readonly candleCapacity?: number;
  /** Heatmap columns kept per symbol (default 300: five minutes). */
  readonly heatmapCapacity?: number;
  readonly providers?: DashboardProviders;
}

/** Per-client cursors into the view model's histories (one per ring key). */
export type Cursors = Map<string, number>;

interface SystemActor { status: string; restarts: number; lastError?: string; ts: TsMs }

// Orders kept (the least recently changed evicted first); the page keeps the same number (web/src/store.ts).
const ORDER_ROWS = 200;
// Intents awaiting their verdict, kept for the symbol and side of a denial (risk.orderDenied names only the intent).
// A verdict follows its intent within the same bus delivery, so a few are enough; the cap bounds intents no verdict
// answers (the RiskManager down).
const PENDING_INTENTS = 64;

function defaultInstruments(): Instrument[] {
  return Object.values(BINANCE_SPOT_DEFAULTS).map((s) => makeInstrument(s));
}

const fin = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Keeps the dashboard state from the bus; `build(topic, cursors)` returns a topic's JSON payload. */
export class DashboardViewModel {
  /** Called on every state change with its topic; the server throttles what follows. */
  onChange: (topic: Topic) => void = () => {};
  /** Messages seen per type (cheap; the /metrics bridge reads bus counters instead). */
  readonly seen = new Map<string, number>();
  private readonly bus: Bus<EngineMsg>;
  /** The order venue's instruments by symbol (fills), falling back to the market data's. */
  private readonly fillInsts = new Map<string, Instrument>();
  private readonly candleCap: number;
  private readonly heatCap: number;
  private readonly providers: DashboardProviders;
  private subs: Unsubscribe[] = [];

  private readonly candles = new Map<string, SeqRing<Bar>>();
  /** Per candle ring, how many times it was rebuilt from the provider's series: a client of an older one gets it whole. */
  private readonly candleGens = new Map<string, number>();
  /** The provider series last read (`CandleHistory` source and revision). */
  private candlesRead: { source: object; revision: number } | undefined;
  /** An md.candle older than a ring's newest bar came (a venue kline out of order, which the provider merges). */
  private candlesBehind = false;
  private readonly cob = new Map<string, CobSnapshot>();
  private readonly heat = new Map<string, SeqRing<HeatColumn>>();
  private readonly outputs = new SeqRing<ModelPoint>(2000);
  private readonly latestOutput = new Map<string, ModelPoint>();
  private readonly decisions = new SeqRing<DecisionPoint>(1000);
  private readonly modelStatus = new Map<string, { version: string; state: string; failures: number; reason: string; ts: TsMs }>();
  private thresholds: { buy?: number; sell?: number; minConfidence?: number } = {};
  /** Each model's health as its last signal.modelHealth said (the figures at that change). */
  private readonly healthAtChange = new Map<string, ModelHealthView>();
  private readonly rollbacks: { model: string; ts: TsMs }[] = [];
  private readonly equity = new SeqRing<[number, number]>(3600);
  private peakEquity = -Infinity;
  private lastTs: TsMs = 0;
  private tradingState: TradingState = 'active';
  private tradingReason = '';
  private killSwitch = false;
  private lastBreaker: BreakerFigures | undefined;
  private readonly alerts = new SeqRing<{ t: TsMs; code: string; message: string }>(100);
  private readonly orders = new SeqMap<OrderRow>(ORDER_ROWS);
  private readonly pendingIntents = new Map<string, { symbol: string; side: Side }>();
  private readonly fills = new SeqRing<FillRow>(500);
  private readonly actors = new Map<string, SystemActor>();
  private halted: { reason: string; actor?: string; ts: TsMs } | undefined;
  private readonly feeds = new Map<string, { source: string; status: string; detail?: string; ts: TsMs }>();
  private readonly books = new Map<string, BookState>();
  /** The same states by symbol, then venue (the ladder's marks). */
  private readonly bookStates = new Map<string, Map<string, BookState>>();
  private readonly venues = new Map<string, { status: string; reason: string; ts: TsMs }>();
  /** Extra system rows the server adds (WebSocket clients, event-loop lag). */
  private readonly serverStatus = new Map<string, () => unknown>();

  constructor(opts: ViewModelOptions) {
    this.bus = opts.bus;
    for (const i of opts.instruments ?? defaultInstruments()) this.fillInsts.set(i.symbol, i);
    for (const i of opts.venueInstruments ?? []) this.fillInsts.set(i.symbol, i);
    this.candleCap = opts.candleCapacity ?? 1500;
    this.heatCap = opts.heatmapCapacity ?? 300;
    this.providers = opts.providers ?? {};
  }

  /** Subscribes to the bus (exact types only: raw depth frames never reach the dashboard). */
  start(): void {
    if (this.subs.length > 0) return;
    const b = this.bus;
    const on = <T extends EngineMsg['type']>(type: T, h: (m: Extract<EngineMsg, { type: T }>) => void): void => {
      this.subs.push(b.subscribe(type, (m) => {
        this.seen.set(type, (this.seen.get(type) ?? 0) + 1);
        h(m);
      }));
    };
    on('md.candle', (m) => this.onCandle(m.symbol, m.timeframe, m.candle));
    // The RiskManager's books move with its marks and with fills: re-read them (at most once per data second here).
    on('risk.mark', (m) => this.booksMoved(m.ts));
    on('md.bookStatus', (m) => {
      const st: BookState = { status: m.status, ...(m.reason ? { reason: m.reason } : {}), ts: m.tsLocal };
      let venues = this.bookStates.get(m.symbol);
      if (!venues) this.bookStates.set(m.symbol, (venues = new Map()));
      venues.set(m.venue, st);
      this.setSys('system', this.books, `${m.venue} ${m.symbol}`, st);
      this.onChange('cob');
    });
    on('md.feedStatus', (m) => this.setSys('system', this.feeds, m.venue, { source: m.source, status: m.status, ...(m.detail ? { detail: m.detail } : {}), ts: m.ts }));
    on('cob.snapshot', (m) => {
      this.cob.set(m.symbol, m.cob);
      this.lastTs = Math.max(this.lastTs, m.ts);
      this.onChange('cob');
    });
    on('cob.heatmap', (m) => {
      let r = this.heat.get(m.symbol);
      if (!r) this.heat.set(m.symbol, (r = new SeqRing(this.heatCap)));
      r.push({ t: m.time, center: m.center, bucketSize: m.bucketSize, range: m.range, bid: Array.from(m.bid), ask: Array.from(m.ask), spread: m.spread });
      this.onChange('heatmap');
    });
    on('signal.modelOutput', ({ output: o }) => {
      const acc = o.extra?.accuracy;
      const lat = o.extra?.latencyMs;
      const p: ModelPoint = {
        t: o.ts, model: o.model, version: o.version, symbol: o.symbol, action: o.action, p: o.probabilities, confidence: o.confidence,
        ...(typeof acc === 'number' ? { accuracy: acc } : {}), ...(typeof lat === 'number' ? { latencyMs: lat } : {}),
      };
      this.outputs.push(p);
      this.latestOutput.set(o.model, p);
      this.onChange('models');
    });
    on('signal.decision', (m) => {
      this.decisions.push({ t: m.ts, symbol: m.symbol, action: m.action, confidence: m.confidence, weights: m.weights });
      this.onChange('models');
    });
    on('signal.modelStatus', (m) => {
      this.modelStatus.set(m.model, { version: m.version, state: m.state, failures: m.consecutiveFailures, reason: m.reason, ts: m.ts });
      this.onChange('models');
    });
    on('signal.modelHealth', (m) => {
      this.healthAtChange.set(m.model, { state: m.state, overconfident: m.overconfident, accuracy: m.accuracy, baseline: m.baseline, judged: m.judged });
      this.onChange('models');
    });
    on('orchestrator.setThresholds', (m) => {
      this.thresholds = {
        ...this.thresholds,
        ...(m.buy !== undefined ? { buy: m.buy } : {}),
        ...(m.sell !== undefined ? { sell: m.sell } : {}),
        ...(m.minConfidence !== undefined ? { minConfidence: m.minConfidence } : {}),
      };
      this.onChange('models');
    });
    on('orchestrator.rollback', (m) => {
      this.rollbacks.push({ model: m.model, ts: this.lastTs });
      if (this.rollbacks.length > 20) this.rollbacks.shift();
      this.onChange('models');
    });
    on('risk.stateChanged', (m) => {
      this.tradingState = m.state;
      this.tradingReason = m.reason;
      this.onChange('risk');
    });
    on('risk.killSwitch', (m) => {
      this.killSwitch = m.on;
      this.onChange('risk');
    });
    on('risk.alert', (m) => {
      this.alerts.push({ t: m.ts, code: m.code, message: m.message });
      this.onChange('risk');
    });
    on('risk.limitsChanged', (m) => {
      const l = m.limits;
      const message = `limits set: max order ${formatMoney(l.maxOrderNotional)}, max position ${formatMoney(l.maxPositionNotional)}, `
        + `max exposure ${formatMoney(l.maxExposure)}, ${l.maxSubmitsPerSecond}/s, max drawdown ${l.maxDrawdownBps} bps, ${breakerLimits(l)}, `
        + `stop loss ${l.stopLossBps === undefined ? 'off' : `${l.stopLossBps} bps`}, take profit ${l.takeProfitBps === undefined ? 'off' : `${l.takeProfitBps} bps`}, `
        + `VaR 95 warn/max ${varLevels(l.warnVar95, l.maxVar95)}, VaR 99 warn/max ${varLevels(l.warnVar99, l.maxVar99)}, `
        + `exits ${l.exitOrderType === 'limit' ? `limit ${l.exitSlippageBps} bps through the mark` : 'market'}, `
        + symbolCaps(l.symbols);
      this.alerts.push({ t: m.ts, code: 'LIMITS_SET', message });
      this.onChange('risk');
    });
    on('risk.intent', ({ intent }) => {
      this.pendingIntents.set(intent.id, { symbol: intent.symbol, side: intent.side });
      if (this.pendingIntents.size > PENDING_INTENTS) this.pendingIntents.delete(this.pendingIntents.keys().next().value!);
    });
    on('risk.orderApproved', (m) => this.pendingIntents.delete(m.intent.id));
    on('risk.orderDenied', (m) => {
      const intent = this.pendingIntents.get(m.intentId);
      this.pendingIntents.delete(m.intentId);
      this.setOrder(m.intentId, { status: 'denied', detail: m.reason.code, ...intent }, m.ts);
    });
    on('exec.submitOrder', (m) => this.setOrder(m.clientOrderId, { status: 'new', intentId: m.intent.id, symbol: m.intent.symbol, side: m.intent.side }, m.intent.ts));
    on('exec.orderSubmitted', (m) => this.setOrder(m.clientOrderId, { status: 'submitted', intentId: m.intentId }, m.ts));
    on('exec.orderAccepted', (m) => this.setOrder(m.clientOrderId, { status: 'accepted' }, m.ts));
    on('exec.orderPartiallyFilled', (m) => this.onFill(m.fill, 'partiallyFilled', m.leavesLots));
    on('exec.orderFilled', (m) => this.onFill(m.fill, 'filled', undefined));
    on('exec.orderCancelled', (m) => this.setOrder(m.clientOrderId, { status: 'cancelled', detail: m.reason }, m.ts));
    on('exec.orderRejected', (m) => this.setOrder(m.clientOrderId, { status: 'rejected', detail: `${m.code}: ${m.message}` }, m.ts));
    on('exec.orderExpired', (m) => this.setOrder(m.clientOrderId, { status: 'expired' }, m.ts));
    on('exec.venueStatus', (m) => this.setSys('system', this.venues, m.venue, { status: m.status, reason: m.reason, ts: m.ts }));
    on('sys.actorStatus', (m) => {
      const a = this.actors.get(m.actor);
      this.actors.set(m.actor, { ...(a ?? { restarts: 0 }), status: m.status, ts: m.ts });
      this.onChange('system');
    });
    on('sys.actorRestarted', (m) => {
      const a = this.actors.get(m.actor);
      this.actors.set(m.actor, { ...(a ?? { status: 'restarting' }), restarts: (a?.restarts ?? 0) + 1, lastError: m.error, ts: m.ts });
      this.onChange('system');
    });
    on('sys.halted', (m) => {
      this.halted = { reason: m.reason, ...(m.actor ? { actor: m.actor } : {}), ts: m.ts };
      this.onChange('system');
      this.onChange('risk');
    });
  }

  /** Unsubscribes from the bus; the state stays readable. */
  stop(): void {
    for (const u of this.subs) u();
    this.subs = [];
  }

  /** Adds a row to the system table that the server computes (clients, lag). */
  addServerStatus(name: string, f: () => unknown): void {
    this.serverStatus.set(name, f);
  }

  /** Returns the thresholds in force (see DashboardProviders.thresholds), else those last set through the bus. */
  get currentThresholds(): { buy?: number; sell?: number; minConfidence?: number } {
    return this.providers.thresholds?.() ?? this.thresholds;
  }

  /**
   * Returns each model's health: `live` figures from the modelHealth provider when it answers, else the figures of
   * each model's last signal.modelHealth (its state is current, its accuracy that of the change).
   */
  modelHealth(): { readonly live: boolean; readonly models: Readonly<Record<string, ModelHealthView>> } {
    const now = this.providers.modelHealth?.();
    return now ? { live: true, models: now } : { live: false, models: Object.fromEntries(this.healthAtChange) };
  }

  /** Returns the RiskManager's books with their PnL totals (quote units), or undefined without them (no provider, not running). */
  pnl(): PortfolioBooks | undefined {
    const f = this.providers.portfolio?.();
    if (!f) return undefined;
    let realized = 0;
    let unrealized = 0;
    let fees = 0;
    for (const p of f.positions) {
      realized += p.realized;
      unrealized += p.unrealized;
      fees += p.fees;
    }
    return { ...f, realized, unrealized, fees };
  }

  /**
   * Returns the market circuit breaker as the risk provider reads it now, else as last read (undefined before any
   * reading: no provider, or the RiskManager not running yet).
   */
  get breaker(): BreakerFigures | undefined {
    this.adoptTradingState(this.riskFigures());
    return this.lastBreaker;
  }

  /** Returns the RiskManager's trading state: its own where the risk provider reads it, else the one last announced. */
  get state(): TradingState {
    this.adoptTradingState(this.riskFigures());
    return this.tradingState;
  }

  /** Returns the protective stops as the risk topic carries them (see ProtectiveStopsView). */
  protectiveStops(): ProtectiveStopsView {
    const read = this.providers.protectiveStops;
    if (!read) return { enabled: false };
    try {
      return { enabled: true, figures: read() ?? null };
    } catch (e) {
      return { enabled: true, figures: null, error: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Returns the payload of `topic`, advancing `cursors` (a fresh Map gives the full state). */
  build(topic: Topic, cursors: Cursors): unknown {
    switch (topic) {
      case 'candles': {
        this.readProviderCandles();
        const series: Record<string, SeqSlice<Bar>> = {};
        for (const [key, ring] of this.candles) {
          const gen = this.candleGens.get(key) ?? 0;
          const rebuilt = (cursors.get(`g:${key}`) ?? 0) !== gen;
          const s = ring.since(rebuilt ? -1 : cursors.get(`c:${key}`) ?? -1);
          cursors.set(`c:${key}`, s.seq);
          cursors.set(`g:${key}`, gen);
          if (s.reset || s.items.length > 0) series[key] = s;
        }
        return { series };
      }
      case 'heatmap': {
        const symbols: Record<string, SeqSlice<HeatColumn>> = {};
        for (const [sym, ring] of this.heat) {
          const s = ring.since(cursors.get(`h:${sym}`) ?? -1);
          cursors.set(`h:${sym}`, s.seq);
          if (s.reset || s.items.length > 0) symbols[sym] = s;
        }
        return { symbols };
      }
      case 'cob': {
        const books: Record<string, unknown> = {};
        for (const [sym, c] of this.cob) books[sym] = { ...(ladder(c) as object), ...bookHealth(c, this.bookStates.get(sym)) };
        return { books };
      }
      case 'models':
        return {
          outputs: this.slice(this.outputs, 'mo', cursors),
          decisions: this.slice(this.decisions, 'md', cursors),
          latest: Object.fromEntries(this.latestOutput),
          status: Object.fromEntries(this.modelStatus),
          health: this.modelHealth().models,
          thresholds: this.currentThresholds,
          rollbacks: this.rollbacks,
        };
      case 'portfolio': {
        let books: PortfolioBooks | undefined;
        try {
          books = this.pnl();
        } catch (e) {
          return { books: null, error: e instanceof Error ? e.message : String(e), equitySeries: this.slice(this.equity, 'eq', cursors) };
        }
        // The current second's point follows the books to their state now (a sample is taken at the first move of a second).
        if (books && this.lastTs > 0) this.sampleEquity(Math.floor(this.lastTs / 1000), books.equity);
        return { books: books ?? null, equitySeries: this.slice(this.equity, 'eq', cursors) };
      }
      case 'risk': {
        // Only a fallback: the provider's drawdown and peak (the RiskManager's, kept across restarts) replace these,
        // which see the equity samples of this process alone.
        const eq = this.equity.last()?.[1] ?? NaN;
        const ddPct = this.peakEquity > 0 && Number.isFinite(this.peakEquity) && Number.isFinite(eq) ? ((this.peakEquity - eq) / this.peakEquity) * 100 : 0;
        const figures = this.riskFigures();
        this.adoptTradingState(figures);
        return {
          state: this.tradingState, reason: this.tradingReason, killSwitch: this.killSwitch, halted: this.halted ?? null,
          drawdownPct: ddPct, peakEquity: fin(this.peakEquity),
          ...(this.lastBreaker !== undefined ? { breaker: this.lastBreaker } : {}),
          ...(figures ?? {}),
          protectiveStops: this.protectiveStops(),
          alerts: this.slice(this.alerts, 'al', cursors),
        };
      }
      case 'orders':
        // A delta like fills: the full table is 17-20 KB, and resending it on every fill made most pushes that size.
        return { orders: this.slice(this.orders, 'or', cursors), fills: this.slice(this.fills, 'fi', cursors) };
      case 'system': {
        const actors: Record<string, unknown> = Object.fromEntries(this.actors);
        for (const c of this.providers.supervisor?.status() ?? []) {
          actors[c.id] = { status: c.state, restarts: c.restarts, ...(c.lastError ? { lastError: c.lastError } : {}), ...(c.nextRestartAt ? { nextRestartAt: c.nextRestartAt } : {}) };
        }
        const extra: Record<string, unknown> = {};
        for (const [k, f] of this.serverStatus) extra[k] = safeCall(f);
        for (const [k, f] of Object.entries(this.providers.status ?? {})) extra[k] = safeCall(f);
        return {
          actors, halted: this.halted ?? null, feeds: Object.fromEntries(this.feeds), books: Object.fromEntries(this.books),
          venues: Object.fromEntries(this.venues), messages: Object.fromEntries(this.seen), status: extra,
        };
      }
      case 'training':
        return safeCall(() => this.providers.training?.() ?? null);
    }
  }

  /** Returns every topic's full payload (what /api/state serves and a new client first receives). */
  snapshot(): Record<Topic, unknown> {
    const cursors: Cursors = new Map();
    return Object.fromEntries(TOPICS.map((t) => [t, this.build(t, cursors)])) as Record<Topic, unknown>;
  }

  // The provider's reading wins over the bus's last announcement, and is kept: while the RiskManager cannot be read
  // (its child restarting) the page and the metric keep its last known state rather than the announcements alone.
  private adoptTradingState(f: RiskFigures | undefined): void {
    if (f?.state !== undefined) this.tradingState = f.state;
    if (f?.reason !== undefined) this.tradingReason = f.reason;
    if (f?.killSwitch !== undefined) this.killSwitch = f.killSwitch;
    if (f?.breaker !== undefined) this.lastBreaker = f.breaker;
  }

  // Neither a metrics scrape nor the risk topic may fail on a risk provider that throws (its child restarting): the
  // last known state stands, with the drawdown this process saw.
  private riskFigures(): RiskFigures | undefined {
    try {
      return this.providers.risk?.();
    } catch {
      return undefined;
    }
  }

  private slice<T>(ring: SeqRing<T> | SeqMap<T>, key: string, cursors: Cursors): SeqSlice<T> {
    const s = ring.since(cursors.get(key) ?? -1);
    cursors.set(key, s.seq);
    return s;
  }

  private onCandle(symbol: string, tf: Timeframe, c: { openTime: TsMs; open: number; high: number; low: number; close: number; volume: number }): void {
    const key = `${symbol}|${tf}`;
    let ring = this.candles.get(key);
    if (!ring) this.candles.set(key, (ring = new SeqRing(this.candleCap)));
    const t = Math.floor(c.openTime / 1000);
    const bar: Bar = [t, c.open, c.high, c.low, c.close, c.volume];
    const last = ring.last();
    // A bar older than the last one would break the ring's time order: the next build rebases on the provider's series.
    if (last && last[0] === t) ring.replaceLast(bar);
    else if (!last || last[0] < t) ring.push(bar);
    else {
      this.candlesBehind = true;
      return;
    }
    if (tf === '1s') this.lastTs = Math.max(this.lastTs, c.openTime);
    this.onChange('candles');
  }

  // The charts are the DataProvider's series, the bars the models read. Most bars reach them as md.candle, but the
  // history loaded at start, backfilled holes (a replay lap's junction minutes, minutes a break left partial) and bars
  // fetched again enter the series without one: publishing them would put thousands of out-of-order bars on the bus
  // for every candle subscriber. So a build re-reads the series when the provider says they changed (an O(1) check
  // otherwise, and never per message), and a ring that differs is rebuilt and sent whole to every client.
  private readProviderCandles(): void {
    const h = this.providers.candles?.();
    // A provider that is gone (stopped, restarting) is not held on to: the next one is read afresh.
    if (!h) {
      this.candlesRead = undefined;
      return;
    }
    const seen = this.candlesRead;
    if (!this.candlesBehind && seen?.source === h.source && seen.revision === h.revision) return;
    this.candlesRead = { source: h.source, revision: h.revision };
    this.candlesBehind = false;
    for (const symbol of h.symbols) {
      for (const tf of h.timeframes) this.rebaseCandles(`${symbol}|${tf}`, h.bars(symbol, tf, this.candleCap));
    }
  }

  private rebaseCandles(key: string, closed: readonly Candle[]): void {
    if (closed.length === 0) return;
    const ring = this.candles.get(key);
    const kept = ring?.toArray() ?? [];
    const oldest = Math.floor(closed[0]!.openTime / 1000);
    const newest = Math.floor(closed[closed.length - 1]!.openTime / 1000);
    // Bars past the series' newest one stay: a venue's forming kline is in no series. Bars before its oldest stay too: a
    // provider restarted without a candles cache (a replay, a backtest) holds seconds of bars until its history loads.
    const series = closed.map((c): Bar => [Math.floor(c.openTime / 1000), c.open, c.high, c.low, c.close, c.volume]);
    const bars = [...kept.filter((b) => b[0] < oldest), ...series, ...kept.filter((b) => b[0] > newest)].slice(-this.candleCap);
    if (bars.length === kept.length && bars.every((b, i) => b.every((x, j) => x === kept[i]![j]))) return;
    const fresh = new SeqRing<Bar>(this.candleCap);
    for (const b of bars) fresh.push(b);
    this.candles.set(key, fresh);
    this.candleGens.set(key, (this.candleGens.get(key) ?? 0) + 1);
  }

  // The RiskManager's books changed at `ts` (a mark or a fill). Reading them costs more than a handler should per
  // message (the risk child first applies the marks it holds back), so the equity series samples them at the first
  // move of each data second; a build brings the current second's point up to date.
  private booksMoved(ts: TsMs): void {
    this.lastTs = Math.max(this.lastTs, ts);
    const t = Math.floor(this.lastTs / 1000);
    const last = this.equity.last();
    if (this.providers.portfolio && (!last || last[0] < t)) {
      const f = this.providers.portfolio();
      if (f) this.sampleEquity(t, f.equity);
    }
    this.onChange('portfolio');
  }

  // One equity point per second of data time: the current second's point is replaced until the next one starts.
  private sampleEquity(t: number, eq: number): void {
    if (!Number.isFinite(eq)) return;
    if (eq > this.peakEquity) this.peakEquity = eq;
    const last = this.equity.last();
    if (last && last[0] === t) {
      if (last[1] !== eq) this.equity.replaceLast([t, eq]);
    } else if (!last || last[0] < t) this.equity.push([t, eq]);
  }

  private onFill(f: Fill, status: 'filled' | 'partiallyFilled', leaves: number | undefined): void {
    const inst = this.fillInsts.get(f.symbol);
    const price = inst ? ticksToFloat(inst, f.price) : NaN;
    const qty = inst ? lotsToFloat(inst, f.lots) : NaN;
    // Fees are 1e-9 units of the asset they were paid in (Fill.fee), shown as such: their quote value is the books' business.
    this.fills.push({ t: f.ts, symbol: f.symbol, side: f.side, price, qty, fee: Number(f.fee) / 1e9, feeAsset: f.feeAsset, liquidity: f.liquidity, orderId: f.clientOrderId });
    const prev = this.orders.get(f.clientOrderId);
    this.setOrder(f.clientOrderId, {
      status, symbol: f.symbol, side: f.side, filledQty: (prev?.filledQty ?? 0) + qty,
      ...(leaves !== undefined && inst ? { leavesQty: lotsToFloat(inst, leaves as never) } : {}),
    }, f.ts);
    this.booksMoved(f.ts);
    this.onChange('orders');
    this.onChange('risk');
  }

  private setOrder(id: string, patch: Partial<OrderRow>, ts: TsMs): void {
    const prev = this.orders.get(id);
    this.orders.set(id, { ...(prev ?? { id, status: 'new', filledQty: 0 }), ...patch, updated: ts });
    this.onChange('orders');
    // A stop placed, refused or cancelled changes what protects the position: the panel follows at once.
    if (isProtectiveStopId(id)) this.onChange('risk');
  }

  private setSys<V>(topic: Topic, map: Map<string, V>, key: string, v: V): void {
    map.set(key, v);
    this.onChange(topic);
  }
}

/** Returns a ladder view of a COB snapshot: one row per bucket, highest price first. */
export function ladder(c: CobSnapshot): unknown {
  const rows: { price: number; bid: number; ask: number }[] = [];
  if (Number.isFinite(c.centerBucket)) {
    for (let k = c.bidBuckets.length - 1; k >= 0; k--) {
      rows.push({ price: (c.centerBucket - c.range + k) * c.bucketSize, bid: c.bidBuckets[k]!, ask: c.askBuckets[k]! });
    }
  }
  return {
    ts: c.ts, mid: fin(c.mid), bestBid: fin(c.bestBid), bestAsk: fin(c.bestAsk), spread: fin(c.spread), spreadBps: fin(c.spreadBps),
    bucketSize: c.bucketSize, imbalance: c.imbalance, imbalanceNear: c.imbalanceNear,
    imbalanceMa: c.imbalanceMa.map(fin), maWindowsMs: c.maWindowsMs, flags: c.flags, rows,
  };
}

/**
 * Returns whether a consolidated book can be read as live, and if not why (`status`: 'live' or the reasons joined):
 * its own flags (a crossed book, stale venues, no live venue, an empty side) and every venue of the symbol whose last
 * md.bookStatus is not 'live'. When no venue is live the aggregator stops publishing, so the snapshot kept is the last
 * one from before: the venues' states are what says so.
 */
export function bookHealth(c: CobSnapshot, venues: ReadonlyMap<string, BookState> | undefined): { live: boolean; status: string } {
  const why: string[] = [];
  const named = new Set<string>();
  for (const [venue, st] of venues ?? []) {
    if (st.status === 'live') continue;
    named.add(venue);
    why.push(`${venue} ${st.status}${st.reason ? ` (${st.reason})` : ''}`);
  }
  const f = c.flags;
  for (const v of f.staleVenues) if (!named.has(v)) why.push(`${v} stale`);
  if (f.noLiveVenue) why.push('no live venue');
  if (f.crossed) why.push('crossed');
  if (f.emptyBid) why.push('no bids');
  if (f.emptyAsk) why.push('no asks');
  return { live: why.length === 0, status: why.length === 0 ? 'live' : why.join(' · ') };
}

function safeCall(f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

// The per-symbol lot caps as the LIMITS_SET alert shows them (lots: the view's instruments are the market data's, whose
// lot size may differ from the order venue's; the risk panel shows the quantities from the RiskManager's own).
function symbolCaps(symbols: RiskLimits['symbols'] | undefined): string {
  const caps = Object.entries(symbols ?? {}).map(([sym, c]) => `${sym} max order ${lotsCap(c.maxOrderLots)}, max position ${lotsCap(c.maxPositionLots)}`);
  return caps.length > 0 ? caps.join(', ') : 'no lot caps';
}

function lotsCap(lots: number | undefined): string {
  return lots === undefined ? 'off' : `${lots} lots`;
}

// A VaR warning level and limit as the LIMITS_SET alert shows them ('off' where absent).
function varLevels(warn: Money | undefined, max: Money | undefined): string {
  return `${warn === undefined ? 'off' : formatMoney(warn)}/${max === undefined ? 'off' : formatMoney(max)}`;
}

// The market circuit breaker's limits as the LIMITS_SET alert shows them ('off' for a guard without its limit).
function breakerLimits(l: RiskLimits): string {
  const move = l.maxMoveBps === undefined ? 'off'
    : `${l.maxMoveBps} bps within ${l.moveWindowMs} ms (entries denied until ${l.moveCooldownMs} ms without such a move)`;
  const stale = l.markStaleMs === undefined ? 'off' : `entries denied after ${l.markStaleMs} ms without a mark`;
  const spread = l.maxSpreadBps === undefined ? 'off' : `entries denied while over ${l.maxSpreadBps} bps for ${l.spreadMs} ms`;
  return `market move breaker ${move}, stale mark breaker ${stale}, spread breaker ${spread}`;
}
