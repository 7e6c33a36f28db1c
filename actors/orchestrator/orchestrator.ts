// The Orchestrator: subscriptions decide when an input tick is ready, the coordinator runs the registered models on
// it, the gating weighs them by recent accuracy, the mixture of experts decides, and the policy turns a decision
// and the current position into at most one `risk.intent`. Plain class; orchestratorActor (./actor.ts) runs it as a
// supervised xstate child.
//
// Bus in:  cob.snapshot, md.candle, md.trade, md.bookTicker (streams, prices, marks), md.feedReset (outcomes),
//          exec.orderSubmitted / exec.orderFilled / exec.orderPartiallyFilled / exec.orderRejected /
//          exec.orderCancelled / exec.orderExpired and risk.orderDenied (position and the pending intent),
//          orchestrator.setThresholds / orchestrator.rollback (control, also accepted through `handle`).
// Bus out: signal.modelOutput, signal.modelStatus, signal.modelHealth, signal.decision, risk.intent.
//
// One tick runs at a time: a tick that becomes ready while one runs waits as the single pending tick (a newer one
// replaces it: coalesced). Outcomes: every output is judged after the horizon (./outcomes.ts) against the closes of
// the trigger timeframe, from the last close when its tick became ready, and the right/wrong result feeds the gating
// and the model health monitor (./model-health.ts), whose changes go out as signal.modelHealth after the close.
// An output is dropped, not judged, when its symbol's data is reset (md.feedReset) before its horizon ends, or when the
// first close at or after its due time is more than one trigger bar late (a hole in the data).
// An output whose version is no longer the model's active one when the tick ends (a rollback or an activation
// during the tick) is dropped: not judged, not blended.
// Wall-time waits: a model's deadline and the pending intent's timeout run on `deadlineClock` (default `clock`). Both
// wait for work done in wall time (a model's run; the risk manager's and executor's answer: store commits, a venue
// round trip, an IOC fill), and a daemon's replay that catches up moves its data clock by tens of seconds in that
// time: the intent "timed out" while its order was still on the way, and a second one went out beside it. Everything
// else (subscriptions, outcomes, health cool-downs, save throttle) is on `clock`, the data's time.
// Restarts: with `memory`, the thresholds set at run time and the judged outcomes come back (./memory.ts). Saved at
// once on a control command, at most every 10 s of engine time as outcomes are judged (after the tick's decision
// and intent are out, never before them), and at stop.
import { applyFill, emptyPortfolio, equity, sellableLots, type Portfolio } from '../risk-manager/positions.ts';
import { capsFor } from '../risk-manager/sizing.ts';
import { settingsKey } from '../../engine/config/settings-key.ts';
import { log, type Logger } from '../../engine/log.ts';
import { BDI_FRAMES, BDI_LENGTH, bdiSeriesColumn, SERIES_FEATURES, type BaseDataInput } from '../../engine/market/base-data-input.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { CobSnapshotMsg } from '../../engine/messages/cob.ts';
import type { CandleMsg, Trade, BookTicker } from '../../engine/messages/market.ts';
import type { ModelHealthChange, ModelHealthMsg, ModelStatusMsg, OrchestratorCommand } from '../../engine/messages/orchestrator.ts';
import type { Fill } from '../../engine/messages/orders.ts';
import type { RiskLimits } from '../../engine/messages/risk.ts';
import type { Decision, ModelOutput } from '../../engine/messages/signals.ts';
import type { Bus, Unsubscribe } from '../../engine/runtime/bus.ts';
import type { Clock } from '../../engine/runtime/clock.ts';
import type { ModelOutputStore } from '../../engine/store/model-output-store.ts';
import { assertNever, ConfigError } from '../../engine/types/errors.ts';
import { clientOrderIdFor, intentId, type ClientOrderId, type IntentId } from '../../engine/types/ids.ts';
import { ticksToFloat, type Instrument } from '../../engine/types/instrument.ts';
import type { Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import { timeframeMs, type TsMs } from '../../engine/types/time.ts';
import {
  blend, decisionOf, DEFAULT_POLICY, intentFor, mergeThresholds, type MoeThresholds, type PolicyConfig, type PolicyResult, type PolicyState,
} from '../../strategies/moe.ts';
import { InferenceCoordinator, type InferenceRecorder, type TickResult } from './coordinator.ts';
import { AccuracyTracker, gatingConfig, gatingWeights, isOutcomes, type GatingConfig } from './gating.ts';
import { ModelHealthMonitor, PendingConfidence, type HealthConfig, type SavedHealth } from './model-health.ts';
import { type OrchestratorMemory, type OrchestratorSaved, type SavedOutcomes } from './memory.ts';
import { HorizonOutcomeEvaluator, type HorizonConfig, type OutcomeBase } from './outcomes.ts';
import type { ModelRegistry } from './registry.ts';
import { SubscriptionManager, type DroppedTick, type ReadyTick, type SubscriptionConfig } from './subscriptions.ts';

/** Trading side of the orchestrator: without it, decisions are published but no intents. */
export interface TradingOptions {
  readonly inst: Instrument;
  /**
   * Sizing caps come from the same limits the RiskManager enforces: these (a getter is read each time an Orchestrator
   * is built, like `initialPortfolio`; undefined from it means none changed), then each `risk.limitsChanged`.
   */
  readonly limits: RiskLimits;
  readonly currentLimits?: () => RiskLimits | undefined;
  /** Starting cash in the quote currency (the RiskManager's equity starts from the same). */
  readonly cash: Money;
  /**
   * The account to start from instead of flat `cash`: after a restart, the RiskManager's portfolio (rebuilt from the
   * stored fills) or one built from the executor's stored position. A getter is read each time an Orchestrator is
   * built, so a supervised restart resumes the position as it is then; undefined from it means flat `cash`.
   */
  readonly initialPortfolio?: Portfolio | (() => Portfolio | undefined);
  readonly policy?: Partial<PolicyConfig>;
  /**
   * An intent with no fill, denial or rejection after this long (on the orchestrator's `deadlineClock`, see the
   * header) stops blocking new ones (default 30 s).
   */
  readonly pendingTimeoutMs?: number;
}

/** Options of the orchestrator. */
export interface OrchestratorOptions {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  readonly registry: ModelRegistry;
  readonly outputs: ModelOutputStore;
  readonly history?: InferenceRecorder;
  /**
   * Assembles the input of a ready tick (the DataProvider's BaseDataInput) into `out`, a fresh BDI_LENGTH array the
   * input may keep; undefined when it cannot.
   */
  readonly input: (tick: ReadyTick, out: Float32Array) => BaseDataInput | undefined;
  readonly thresholds: MoeThresholds;
  readonly subscriptions?: Partial<SubscriptionConfig>;
  readonly gating?: Partial<GatingConfig>;
  readonly outcomes?: Partial<HorizonConfig>;
  /** Model health (./model-health.ts; config orchestrator.health); `enabled: false` runs none. */
  readonly health?: Partial<HealthConfig>;
  /** Deadline of one model run on `deadlineClock` (default 1000 ms); Infinity: none, as in a backtest (see ./coordinator.ts). */
  readonly timeoutMs?: number;
  /**
   * The clock model deadlines and the pending intent's timeout run on (default `clock`): the wall clock a replay is
   * paced on when `clock` is the data's SimulatedClock (see the header and ./coordinator.ts).
   */
  readonly deadlineClock?: Clock;
  readonly trading?: TradingOptions;
  /** Bus owner id (the supervised child's id): a throwing handler is a failure of this actor. */
  readonly owner?: string;
  /** Where thresholds set at run time and judged outcomes are kept across restarts; without it they start over. */
  readonly memory?: OrchestratorMemory;
  readonly logger?: Logger;
}

/** Judged outcomes are saved at most this often (engine time); control changes at once. */
const SAVE_EVERY_MS = 10_000;
/** Ticks dropped without a decision are logged at most this often (engine time), with the count since the last line. */
const DROP_LOG_EVERY_MS = 60_000;

/** Counters of the orchestrator. */
export interface OrchestratorStats {
  ticks: number;
  /** Ready ticks not run because no model is registered (nothing would read the input; no decision to publish). */
  noModels: number;
  noInput: number;
  coalescedTicks: number;
  decisions: number;
  intents: number;
  /** Why decisions produced no intent, by reason. */
  noIntent: Record<string, number>;
  /** Outputs left out of the blend, by model and reason (a model always below minConfidence never counts). */
  ignored: Record<string, Record<string, number>>;
  pendingTimeouts: number;
  controlRejected: number;
}

/** The orchestrator; see the header. */
export class Orchestrator {
  readonly registry: ModelRegistry;
  readonly subscriptions: SubscriptionManager;
  readonly coordinator: InferenceCoordinator;
  readonly accuracy: AccuracyTracker;
  readonly evaluator: HorizonOutcomeEvaluator;
  /** Undefined when config orchestrator.health is off. */
  readonly health: ModelHealthMonitor | undefined;
  private readonly confidences: PendingConfidence | undefined;
  /** The trigger close being judged now (the evaluator's sink runs inside onPrice), and the health changes it made. */
  private judging: { symbol: string; ts: TsMs } | undefined;
  private healthChanges: { model: string; change: ModelHealthChange; was?: ModelHealthMsg['was'] }[] = [];
  readonly stats: OrchestratorStats = { ticks: 0, noModels: 0, noInput: 0, coalescedTicks: 0, decisions: 0, intents: 0, noIntent: {}, ignored: {}, pendingTimeouts: 0, controlRejected: 0 };
  private thresholdsNow: MoeThresholds;
  private readonly gating: GatingConfig;
  private readonly policy: PolicyConfig;
  private readonly log: Logger;
  private unsubs: Unsubscribe[] = [];
  private running: Promise<void> | undefined;
  private queued: ReadyTick | undefined;
  /** The outcome base (last trigger close) when the queued tick became ready. */
  private queuedBase: OutcomeBase | undefined;
  private lastDecision: Decision | undefined;
  private portfolio: Portfolio | undefined;
  private mark: Ticks | undefined;
  private bid: Ticks | undefined;
  private ask: Ticks | undefined;
  /** The intent in flight; `since` is on `deadline`. */
  private pending: { id: IntentId; since: TsMs; clientOrderId?: ClientOrderId; derivedOrderId?: ClientOrderId } | undefined;
  /** The clock of the waits on wall-time work (see the header). */
  private readonly deadline: Clock;
  private seq = 0;
  /** This start's number (see OrchestratorSaved.starts): part of every intent id. */
  private startNo = 1;
  private limits: RiskLimits | undefined;
  /** The config's thresholds (`settingsKey`): thresholds other than these are saved as set at run time. */
  private readonly thresholdsBase: string;
  /** Outcomes judged since the last save. */
  private dirty = false;
  private savedAt = -Infinity;
  /** Health windows kept by an earlier run and not taken back (see restoreHealth): saved again as they were. */
  private readonly healthCarried: Record<string, { version: string; state: SavedHealth }> = {};
  /** Judged outcomes of models not registered at this start (see restore): saved again as they were. */
  private readonly accuracyCarried: Record<string, SavedOutcomes> = {};
  /** Ticks dropped since the last line logged about them, and when that was (engine time). */
  private drops = { since: 0, loggedAt: -Infinity };
  /** `{ [symbol]: inst }` of the traded instrument, built once: equity() takes a map every tick. */
  private readonly instruments: Readonly<Record<string, Instrument>>;
  /**
   * The next tick's input array, allocated once a tick's decision and intent are out: a 36 KB typed array costs ~5 µs
   * (allocation and zeroing), which this keeps out of the tick -> intent window. Never reused: an input may be kept
   * (the inference history holds it until its write).
   */
  private spare: Float32Array | undefined;

  constructor(private readonly opts: OrchestratorOptions) {
    this.registry = opts.registry;
    this.deadline = opts.deadlineClock ?? opts.clock;
    this.log = opts.logger ?? log().child({ actor: 'orchestrator' });
    this.thresholdsNow = mergeThresholds({ buy: 1, sell: 1, minConfidence: 0 }, opts.thresholds);
    this.thresholdsBase = settingsKey(this.thresholdsNow);
    this.gating = gatingConfig(opts.gating);
    this.policy = { ...DEFAULT_POLICY, ...opts.trading?.policy };
    this.subscriptions = new SubscriptionManager({ ...(opts.trading ? { symbol: opts.trading.inst.symbol } : {}), ...opts.subscriptions }, (d) => this.onDrop(d));
    this.accuracy = new AccuracyTracker(this.gating);
    // A trigger close is due on the bar; one more than a bar late means the closes had a hole there.
    const outcomes = { maxLateMs: timeframeMs(this.subscriptions.config.triggerTimeframe), ...opts.outcomes };
    this.evaluator = new HorizonOutcomeEvaluator({
      recordOutcome: (model, predicted, realised) => {
        this.accuracy.recordOutcome(model, predicted, realised);
        this.judgeHealth(model, predicted, realised);
      },
    }, outcomes);
    // Sampled one outcome per horizon (see ./model-health.ts): the evaluator judges one per trigger bar.
    this.health = opts.health?.enabled === false ? undefined : new ModelHealthMonitor(opts.health, this.evaluator.config.horizonMs);
    this.confidences = this.health && new PendingConfidence(outcomes.maxLateMs ?? 0, outcomes.maxPending);
    this.coordinator = new InferenceCoordinator({
      registry: opts.registry, clock: opts.clock, outputs: opts.outputs, history: opts.history, timeoutMs: opts.timeoutMs, deadlineClock: opts.deadlineClock, logger: this.log,
      deferHistory: true,
      onOutput: (o) => opts.bus.publish({ type: 'signal.modelOutput', output: o }),
      onStatus: (m) => this.publishStatus(m),
    });
    if (opts.trading) {
      this.portfolio = startPortfolio(opts.trading);
      this.limits = opts.trading.currentLimits?.() ?? opts.trading.limits;
    }
    this.instruments = opts.trading ? { [opts.trading.inst.symbol]: opts.trading.inst } : {};
    const saved = opts.memory?.load();
    this.startNo = (saved?.starts ?? 0) + 1;
    this.restore(saved);
    // Counted before the first intent, so a start that dies early still moves the ids on.
    if (opts.memory) this.save();
  }

  /** Returns the decision thresholds in force. */
  get thresholds(): MoeThresholds {
    return this.thresholdsNow;
  }

  /** Returns the last decision published. */
  get decision(): Decision | undefined {
    return this.lastDecision;
  }

  /** Returns the position in lots of the traded symbol (0 without trading). */
  get positionLots(): number {
    const t = this.opts.trading;
    return t && this.portfolio ? this.portfolio.positions[t.inst.symbol]?.lots ?? 0 : 0;
  }

  /** Returns the current gating weights of the blendable models. */
  weights(): Record<string, number> {
    const names = this.registry.names().filter((n) => this.registry.blendable(n));
    return gatingWeights(names, (m) => this.accuracy.accuracy(m).smoothed, this.gating);
  }

  /** Subscribes to the bus. */
  start(): void {
    if (this.unsubs.length > 0) return;
    const { bus, owner } = this.opts;
    this.unsubs.push(
      bus.subscribe('cob.snapshot', (m) => this.onCob(m), owner),
      bus.subscribe('md.candle', (m) => this.onCandle(m), owner),
      bus.subscribe('md.trade', (m) => this.onTrade(m), owner),
      bus.subscribe('md.bookTicker', (m) => this.onBookTicker(m), owner),
      // Both scopes break the trades the trigger closes are built from: nothing is judged across the break.
      bus.subscribe('md.feedReset', (m) => {
        this.evaluator.onReset(m.symbol);
        this.confidences?.resetSymbol(m.symbol);
      }, owner),
      bus.subscribe('orchestrator.setThresholds', (m) => this.handle(m), owner),
      bus.subscribe('orchestrator.rollback', (m) => this.handle(m), owner),
      bus.subscribe('risk.orderDenied', (m) => this.settle((p) => p.id === m.intentId, 'denied'), owner),
      bus.subscribe('risk.limitsChanged', (m) => void (this.limits = m.limits), owner),
      bus.subscribe('exec.orderSubmitted', (m) => {
        if (this.pending?.id === m.intentId) this.pending = { ...this.pending, clientOrderId: m.clientOrderId };
      }, owner),
      bus.subscribe('exec.orderFilled', (m) => this.onFill(m.fill, true), owner),
      bus.subscribe('exec.orderPartiallyFilled', (m) => this.onFill(m.fill, false), owner),
      bus.subscribe('exec.orderRejected', (m) => this.settleOrder(m.clientOrderId, 'rejected'), owner),
      bus.subscribe('exec.orderCancelled', (m) => this.settleOrder(m.clientOrderId, 'cancelled'), owner),
      bus.subscribe('exec.orderExpired', (m) => this.settleOrder(m.clientOrderId, 'expired'), owner),
    );
  }

  /** Unsubscribes; a tick in flight finishes but publishes nothing more. */
  stop(): void {
    for (const u of this.unsubs) u();
    this.unsubs = [];
    this.queued = undefined;
    this.queuedBase = undefined;
    if (this.dirty) this.save();
  }

  /** True while a tick runs (or waits queued behind one) or an intent awaits its fill, denial or rejection. */
  get busy(): boolean {
    return this.running !== undefined || this.pending !== undefined;
  }

  /** Resolves when no tick is running or queued. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Applies a control command; a bad one is logged and counted, never thrown (it comes from the dashboard). */
  handle(cmd: OrchestratorCommand): void {
    try {
      switch (cmd.type) {
        case 'orchestrator.setThresholds': {
          this.thresholdsNow = mergeThresholds(this.thresholdsNow, { buy: cmd.buy, sell: cmd.sell, minConfidence: cmd.minConfidence });
          this.log.info({ thresholds: this.thresholdsNow }, 'thresholds set');
          this.save();
          return;
        }
        case 'orchestrator.rollback':
          this.rollback(cmd.model);
          return;
        default:
          assertNever(cmd, 'orchestrator command');
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.stats.controlRejected++;
      this.log.warn({ cmd, err: err.message }, 'control command refused');
    }
  }

  /** Rolls `model` back to its previous version; its accuracy record starts over. Throws ConfigError when impossible. */
  rollback(model: string): ModelStatusMsg {
    const m = this.registry.rollback(model, this.opts.clock.now());
    this.forgetOutcomes(model);
    this.publishStatus(m);
    return m;
  }

  /** Activates `version` of `model`; its accuracy record starts over. */
  activate(model: string, version: string): ModelStatusMsg {
    const m = this.registry.activate(model, version, this.opts.clock.now());
    this.forgetOutcomes(model);
    this.publishStatus(m);
    return m;
  }

  /** Runs one tick now (the subscriptions call this when a tick is ready); ticks never overlap. */
  runTick(tick: ReadyTick): Promise<TickResult | undefined> {
    return this.run(tick, this.evaluator.base(tick.symbol));
  }

  // `base`: the outcome base price (the last trigger close) as it was when the tick became ready, before the models
  // ran; a close that arrives during inference is not the base of this tick's predictions.
  private async run(tick: ReadyTick, base: OutcomeBase | undefined): Promise<TickResult | undefined> {
    this.stats.ticks++;
    const out = this.spare ?? new Float32Array(BDI_LENGTH);
    this.spare = undefined;
    const input = this.opts.input(tick, out);
    if (!input) {
      this.stats.noInput++;
      return undefined;
    }
    const result = await this.coordinator.runTick({ symbol: tick.symbol, ts: tick.ts, timeframe: tick.timeframe, input });
    try {
      if (result.refused !== undefined || this.unsubs.length === 0) return result;
      // An output counts only while its version is still the active one (a rollback or activation during the tick
      // drops it): it is neither judged into the new version's record nor blended.
      for (const o of result.outputs) if (this.isCurrent(o)) this.track(o, base);
      this.decide(tick, result.outputs, input);
      return result;
    } finally {
      // The inputs go to the history after the decision and its intent are out (see CoordinatorOptions.deferHistory),
      // and so does the state.
      this.coordinator.flushHistory();
      if (this.dirty && this.opts.clock.now() - this.savedAt >= SAVE_EVERY_MS) this.save();
      this.spare = new Float32Array(BDI_LENGTH);
    }
  }

  private decide(tick: ReadyTick, outputs: readonly ModelOutput[], input: BaseDataInput): void {
    const blendable = outputs.filter((o) => this.registry.blendable(o.model) && this.isCurrent(o));
    const gate = gatingWeights(blendable.map((o) => o.model), (m) => this.accuracy.accuracy(m).smoothed, this.gating);
    const b = blend(blendable, gate, this.thresholdsNow);
    for (const { model, reason } of b.ignored) {
      const byReason = (this.stats.ignored[model] ??= {});
      byReason[reason] = (byReason[reason] ?? 0) + 1;
    }
    const d = decisionOf(tick.symbol, tick.ts, b);
    this.lastDecision = d;
    this.stats.decisions++;
    this.opts.bus.publish(d);
    const t = this.opts.trading;
    if (!t || !this.portfolio || tick.symbol !== t.inst.symbol) return;
    const r = this.policyFor(d, t, input);
    if ('intent' in r) {
      this.pending = { id: r.intent.id, since: this.deadline.now() };
      this.stats.intents++;
      this.opts.bus.publish({ type: 'risk.intent', intent: r.intent });
    } else {
      this.stats.noIntent[r.none] = (this.stats.noIntent[r.none] ?? 0) + 1;
    }
  }

  private isCurrent(o: ModelOutput): boolean {
    return this.registry.active(o.model)?.version === o.version;
  }

  private policyFor(d: Decision, t: TradingOptions, input: BaseDataInput): PolicyResult {
    if (this.pending && this.deadline.now() - this.pending.since > (t.pendingTimeoutMs ?? 30_000)) {
      this.log.warn({ intentId: this.pending.id }, 'pending intent timed out without fill, denial or rejection');
      this.stats.pendingTimeouts++;
      this.pending = undefined;
    }
    const pf = this.portfolio!;
    const sym = t.inst.symbol;
    const pos = pf.positions[sym];
    const lots = pos?.lots ?? 0;
    // sellableLots is the base actually held, floored to lots: a buy's base-asset fee leaves less than it bought.
    const mark = this.mark;
    if (mark === undefined) return { none: 'noPrice' };
    const eq = equity(pf, this.instruments, { [sym]: mark });
    // One object shape every tick (absent values as undefined, which the policy reads as absent): conditional spreads
    // here cost a few µs of a ~100 µs tick -> intent window.
    const state: PolicyState = {
      inst: t.inst,
      positionLots: lots,
      sellableLots: pos ? sellableLots(t.inst, pos) : undefined,
      equity: eq,
      mark,
      bid: this.bid,
      ask: this.ask,
      volatility: horizonVolatility(input.data, this.evaluator.config.horizonMs),
      // Buys are cut to the cash (with fee reserve) and exposure room the RiskManager checks: holdings at the mark.
      caps: capsFor(this.limits ?? t.limits, sym, lots as Lots, { cash: pf.cash, exposure: (eq - pf.cash) as Money }),
      pending: this.pending !== undefined,
    };
    return intentFor(d, state, this.policy, intentId(`moe-${sym}-${Math.floor(d.ts)}-r${this.startNo}-${++this.seq}`));
  }

  // A dropped tick is a trigger bar with no decision: said, so that decisions never stop silently (a stalled input, a
  // stale close), at most once a minute with the count since.
  private onDrop(d: DroppedTick): void {
    this.drops.since++;
    const now = this.opts.clock.now();
    if (now - this.drops.loggedAt < DROP_LOG_EVERY_MS) return;
    this.log.warn({ code: 'ORCH_TICK_DROPPED', candleClose: d.candleClose, reason: d.reason, blockers: d.blockers, dropped: this.drops.since },
      `input tick dropped (${d.reason}) without a decision: ${d.blockers.join('; ') || 'no blocker left'}`);
    this.drops = { since: 0, loggedAt: now };
  }

  private onCob(m: CobSnapshotMsg): void {
    this.subscriptions.onCob(m);
    this.poll();
  }

  private onCandle(m: CandleMsg): void {
    const now = this.opts.clock.now();
    this.subscriptions.onCandle(m, now);
    if (m.candle.closed && m.timeframe === this.subscriptions.config.triggerTimeframe) {
      const ts = (m.candle.openTime + timeframeMs(m.timeframe)) as TsMs;
      this.judging = { symbol: m.symbol, ts };
      if (this.evaluator.onPrice(m.symbol, m.candle.close, ts) > 0 && this.opts.memory) this.dirty = true;
      this.judging = undefined;
      if (this.healthChanges.length > 0) this.publishHealth();
      const t = this.opts.trading;
      if (t && m.symbol === t.inst.symbol && this.mark === undefined) this.mark = Math.round(m.candle.close / ticksToFloat(t.inst, 1 as Ticks)) as Ticks;
    }
    this.poll();
  }

  private onTrade(m: Trade): void {
    this.subscriptions.onTrade(m);
    if (this.opts.trading && m.symbol === this.opts.trading.inst.symbol) this.mark = m.price;
    this.poll();
  }

  private onBookTicker(m: BookTicker): void {
    if (!this.opts.trading || m.symbol !== this.opts.trading.inst.symbol) return;
    this.bid = m.bid;
    this.ask = m.ask;
  }

  private onFill(fill: Fill, full: boolean): void {
    const t = this.opts.trading;
    if (!t || !this.portfolio || fill.symbol !== t.inst.symbol) return;
    this.portfolio = applyFill(this.portfolio, t.inst, fill);
    if (full && this.pending?.clientOrderId === fill.clientOrderId) this.pending = undefined;
  }

  private settle(match: (p: { id: IntentId; clientOrderId?: ClientOrderId }) => boolean, why: string): void {
    if (this.pending && match(this.pending)) {
      this.log.debug({ intentId: this.pending.id, why }, 'pending intent settled');
      this.pending = undefined;
    }
  }

  // Settles the pending intent on its order's end. The executor derives the client order id from the intent id
  // (clientOrderIdFor), and rejects some intents before any exec.orderSubmitted (not ready, circuit open, ...): the
  // derived id matches those. Derived only here, when an order ends, never on the tick -> intent path.
  private settleOrder(cid: ClientOrderId, why: string): void {
    const p = this.pending;
    if (p === undefined) return;
    if (p.clientOrderId !== cid) {
      p.derivedOrderId ??= clientOrderIdFor(p.id);
      if (p.derivedOrderId !== cid) return;
    }
    this.settle(() => true, why);
  }

  // Starts the ready tick, or queues it behind the running one (replacing an older queued tick).
  private poll(): void {
    const tick = this.subscriptions.poll(this.opts.clock.now());
    if (!tick) return;
    // Models off (a data-only backtest, a daemon run without models): assembling a 9,190-float input every second
    // that no model reads was a tenth of such a backtest's time.
    if (this.registry.size === 0) {
      this.stats.noModels++;
      return;
    }
    if (this.running) {
      if (this.queued) this.stats.coalescedTicks++;
      this.queued = tick;
      this.queuedBase = this.evaluator.base(tick.symbol);
      return;
    }
    this.running = this.loop(tick);
  }

  private async loop(first: ReadyTick): Promise<void> {
    let tick: ReadyTick | undefined = first;
    let base = this.evaluator.base(first.symbol);
    try {
      while (tick) {
        await this.run(tick, base);
        tick = this.queued;
        base = this.queuedBase;
        this.queued = undefined;
        this.queuedBase = undefined;
      }
    } catch (err) {
      // runTick does not throw for model failures; anything here is a bug in the orchestrator itself.
      this.log.error({ err }, 'orchestrator tick failed');
    } finally {
      this.running = undefined;
    }
  }

  private forgetOutcomes(model: string): void {
    this.accuracy.reset(model);
    this.evaluator.drop(model);
    this.confidences?.dropModel(model);
    // A new version's window starts over: a flag the old one raised is taken down with it.
    const was = this.health?.reset(model);
    if (was) {
      this.healthChanges.push({ model, change: 'reset', was });
      this.publishHealth();
    }
    this.save();
  }

  // Tracks `o` for its outcome, and its confidence for the health monitor. The evaluator takes the last price now when
  // there was no base; so does the due time kept here.
  private track(o: ModelOutput, base: OutcomeBase | undefined): void {
    const b = base ?? this.evaluator.base(o.symbol);
    if (this.evaluator.track(o, b) && b) this.confidences?.track(o.model, o.symbol, b.ts + this.evaluator.config.horizonMs, o.confidence);
  }

  // Called by the evaluator for each judged outcome (inside onPrice); the changes are published once the close is done.
  private judgeHealth(model: string, predicted: ModelOutput['action'], realised: ModelOutput['action']): void {
    const j = this.judging;
    if (!this.health || !this.confidences || !j) return;
    const t = this.confidences.take(model, j.symbol, j.ts);
    if (t === undefined) return;
    const at = t.due - this.evaluator.config.horizonMs;
    for (const change of this.health.record(model, predicted, realised, t.confidence, at)) this.healthChanges.push({ model, change });
  }

  private publishHealth(): void {
    const changes = this.healthChanges;
    this.healthChanges = [];
    if (this.unsubs.length === 0) return;
    const ts = this.opts.clock.now();
    for (const { model, change, was } of changes) {
      const f = this.health?.figures(model);
      const version = this.registry.active(model)?.version ?? '';
      const m = {
        type: 'signal.modelHealth', model, version, change, state: f?.state ?? 'ok', overconfident: f?.overconfident ?? false,
        accuracy: f?.accuracy ?? 0, baseline: f?.baseline ?? 0, ...(f?.baselineAction ? { baselineAction: f.baselineAction } : {}),
        meanConfidence: f?.meanConfidence ?? 0, judged: f?.judged ?? 0, pValue: f?.pValue ?? 1, ...(was ? { was } : {}), ts,
      } as const;
      const level = change === 'degraded' || change === 'overconfident' ? 'warn' : 'info';
      this.log[level]({ code: `MODEL_${change.toUpperCase()}`, model, version, accuracy: m.accuracy, baseline: m.baseline, judged: m.judged, pValue: m.pValue },
        `model ${model}@${version} ${change}`);
      this.opts.bus.publish(m);
    }
  }

  // Takes back what `memory` kept: thresholds set over the same config thresholds, outcomes of the active versions.
  private restore(saved: OrchestratorSaved | undefined): void {
    if (!saved) return;
    let thresholds: MoeThresholds | undefined;
    let dropped = false;
    const t = saved.thresholds;
    if (t && t.base === this.thresholdsBase) {
      try {
        // A dashboard before the config's floor took buy or sell 0 (every tick then decides BUY or SELL) and stored it;
        // the config and the dashboard refuse 0 now, so a stored 0 goes as any invalid set does.
        for (const k of ['buy', 'sell'] as const) if (t.set[k] === 0) throw new ConfigError(`threshold ${k} must be above 0, got 0`);
        thresholds = this.thresholdsNow = mergeThresholds(this.thresholdsNow, t.set);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        dropped = true;
        this.log.warn({ code: 'ORCH_THRESHOLDS_RESET', set: t.set, err: err.message }, 'stored thresholds are invalid; the config thresholds apply');
      }
    } else if (t) {
      dropped = true;
      this.log.warn({ code: 'ORCH_THRESHOLDS_RESET', set: t.set }, 'thresholds set at run time are dropped: the config thresholds changed since; the config thresholds apply');
    }
    const outcomes: string[] = [];
    const startOver: string[] = [];
    const carried: string[] = [];
    for (const [model, o] of Object.entries(saved.accuracy ?? {})) {
      const active = this.registry.active(model)?.version;
      // A record not in the expected form (an older store, a hand edit) starts over rather than stopping the start.
      if (typeof o?.version !== 'string' || !isOutcomes(o.outcomes)) startOver.push(`${model}@${String(o?.version)}`);
      else if (active === o.version) {
        this.accuracy.restore(model, o.outcomes);
        outcomes.push(`${model}@${o.version}: ${this.accuracy.accuracy(model).evaluated}`);
      } else if (active === undefined) {
        // As its health window (restoreHealth): one start without the model (its checkpoint failed to load) must not
        // erase its judged outcomes.
        this.accuracyCarried[model] = o;
        carried.push(`${model}@${o.version}`);
      } else startOver.push(`${model}@${o.version}`);
    }
    const health = this.restoreHealth(saved.health);
    this.log.info({ code: 'ORCH_STATE_RESTORED', thresholds, outcomes, carried, startOver, ...health }, 'orchestrator state restored');
    // Written back at once, so that a dropped set is not dropped (and warned of) again at every start.
    if (dropped) this.save();
  }

  // Takes back the health windows of the active versions; a window kept under other settings, or of a version no longer
  // active, starts over. One of a model not registered now, or kept while health is off, is carried on unread: one
  // start without the model (its checkpoint failed to load) or without the monitor must not erase it.
  private restoreHealth(saved: OrchestratorSaved['health']): { health: string[]; healthStartOver: string[] } {
    const health: string[] = [];
    const healthStartOver: string[] = [];
    for (const [model, h] of Object.entries(saved ?? {})) {
      if (typeof h?.version !== 'string') continue;
      const active = this.registry.active(model)?.version;
      if (active !== undefined && active !== h.version) healthStartOver.push(`${model}@${h.version}`);
      else if (!this.health || active === undefined) this.healthCarried[model] = h;
      else if (this.health.restore(model, h.state)) {
        const f = this.health.figures(model);
        health.push(`${model}@${h.version}: ${f?.judged ?? 0} judged, ${f?.state ?? 'ok'}${f?.overconfident ? ', overconfident' : ''}`);
      } else healthStartOver.push(`${model}@${h.version}`);
    }
    return { health, healthStartOver };
  }

  private save(): void {
    const memory = this.opts.memory;
    if (!memory) return;
    this.dirty = false;
    this.savedAt = this.opts.clock.now();
    const accuracy: Record<string, SavedOutcomes> = {};
    for (const [model, o] of Object.entries(this.accuracyCarried)) {
      const active = this.registry.active(model)?.version;
      if (active === undefined || active === o.version) accuracy[model] = o;
    }
    for (const model of this.accuracy.models()) {
      const version = this.registry.active(model)?.version;
      if (version !== undefined) accuracy[model] = { version, outcomes: this.accuracy.outcomes(model) };
    }
    const health: Record<string, { version: string; state: SavedHealth }> = {};
    for (const [model, h] of Object.entries(this.healthCarried)) {
      const active = this.registry.active(model)?.version;
      if (active === undefined || active === h.version) health[model] = h;
    }
    for (const model of this.health?.models() ?? []) {
      const version = this.registry.active(model)?.version;
      const state = this.health!.export(model);
      if (version !== undefined && state) health[model] = { version, state };
    }
    const t = this.thresholdsNow;
    memory.save({ ...(settingsKey(t) === this.thresholdsBase ? {} : { thresholds: { base: this.thresholdsBase, set: t } }), accuracy, health, starts: this.startNo });
  }

  private publishStatus(m: ModelStatusMsg): void {
    if (this.unsubs.length > 0) this.opts.bus.publish(m);
  }
}

// The portfolio trading starts from: the given one (checked against the instrument's quote), else flat cash.
function startPortfolio(t: TradingOptions): Portfolio {
  const seed = typeof t.initialPortfolio === 'function' ? t.initialPortfolio() : t.initialPortfolio;
  if (!seed) return emptyPortfolio(t.inst.quote, t.cash);
  if (seed.quote !== t.inst.quote) throw new ConfigError(`initial portfolio is in ${seed.quote}, but ${t.inst.symbol} is quoted in ${t.inst.quote}`);
  return seed;
}

/**
 * Returns the expected move over `horizonMs` as a fraction of price, from the packed primary 1m closes: the standard
 * deviation of the newest 60 one-minute log returns scaled by √(horizon in minutes); undefined with too few bars.
 */
export function horizonVolatility(bdi: Float32Array, horizonMs: number): number | undefined {
  // Reads the packed [frame, feature] block in place (bdiSeriesColumn) into a reused scratch; the sums run
  // in the same order as over an array of the returns, so the result is the same double.
  const r = RETURNS;
  let n = 0;
  for (let t = BDI_FRAMES - 60; t < BDI_FRAMES; t++) {
    const at = t * SERIES_FEATURES;
    const prev = at - SERIES_FEATURES;
    if (bdi[at + PRESENT_1M] === 1 && bdi[prev + PRESENT_1M] === 1) r[n++] = Math.log((1 + bdi[at + CLOSE_1M]!) / (1 + bdi[prev + CLOSE_1M]!));
  }
  if (n < 20) return undefined;
  let sum = 0;
  for (let i = 0; i < n; i++) sum = sum + r[i]!;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq = sq + (r[i]! - mean) ** 2;
  const sd = Math.sqrt(sq / (n - 1));
  return sd * Math.sqrt(Math.max(horizonMs, 60_000) / 60_000);
}

const CLOSE_1M = bdiSeriesColumn('primary1m', 'close');
const PRESENT_1M = bdiSeriesColumn('primary1m', 'present');
// Float64: the returns are doubles, stored exactly.
const RETURNS = new Float64Array(60);
