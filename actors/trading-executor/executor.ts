// TradingExecutor: approved intents become orders at the venue, each moved through the pure state machine of
// ./logic.ts. Every change is committed to the exec store before its exec.* event is published.
//
// States of the executor itself: starting -> reconciling -> live -> stopped. While reconciling, approvals are
// rejected with EXECUTOR_NOT_READY; a failed reconciliation is retried with backoff (the executor never trades on a
// state it could not check against the venue). One order whose status query fails (or, closed at the venue short of
// our fills, whose trades query by order id fails) does not fail it: that order stays as it was, reported in
// `ordersUnresolved`, and the poll (or the next start) queries it again.
// Submission (per order, concurrent with others): the circuit breaker must allow it (else VENUE_CIRCUIT_OPEN); in
//   half-open, one order is the probe, and one that ends before its request reaches the venue gives the probe back;
//   rejected by the venue                 -> rejected with the venue's code, no retry;
//   429 (rateLimited)                     -> wait Retry-After, resend (the venue did not process it);
//   418 (banned)                          -> rejected VENUE_IP_BANNED, venue status 'banned' until the ban ends;
//   timeout / network / 5xx / bad answer  -> the order may exist: wait until the venue can no longer accept the
//                                            request, QUERY it by client order id; present -> adopt its state, absent
//                                            -> resend with the same id after a backoff; query impossible -> stays
//                                            'submitted' for the poll/reconciliation to settle. Never a second order.
// Venue events for an order whose submission is in flight are held and applied after the submission's outcome, so
// exec.orderAccepted always precedes that order's fills.
// On a venue that pushes no events, a cancel (or a close found by it) makes the next poll, run at once, read that
// symbol's trades even with no order left open there: fills the order got before the cancel are only in that history.
// There the cancelled order's end is published only after every fill the venue reports for it (its query; its trades
// by order id): the end frees its rest, which the RiskManager then sells. Fills not readable at once: the order stays
// open here and the poll books them, then closes it. A cancel that did not happen (failed every attempt, "not open"
// while the venue lists it open, a symbol the venue no longer trades) publishes exec.cancelRejected; the order stays.
// Likewise an order rejected without the venue refusing it (no answer after every attempt, not found by a query that
// may lag, any rejection after an answer of unknown outcome) makes the next WATCH_POLLS polls reconcile its symbol: if
// the venue has it after all, reconciliation adopts it (a protective stop taken back as the stop it is) and books its
// fills; its final record would otherwise drop the symbol from the poll.
// While trading is halted (risk.stateChanged to halted; at start, once reconciled, the RiskManager's state as
// `riskState` reads it, since a RiskManager that starts halted announces nothing), every open order but the
// RiskManager's own exits (isRiskExit) is cancelled, and kept at: a cancel that failed every attempt is sent again in
// the next round, rounds on the clock with backoff (HALT_CANCEL_BACKOFF, never before a venue's Retry-After), until the
// venue says the order is no longer open or the halt ends. A venue that pushes events has no poll to fall back on.
// Memory holds the unfinished orders only. A finished one is read back from the exec store when it is asked for (a
// status query, a late fill, a repeated approval, a trade naming its venue id), so a daemon's memory does not grow
// with every order it ever placed, and a start loads only the unfinished ones.
// Protective stops (./protective-stop.ts, config execution.protectiveStop): after fills change a position, and once
// the start-up reconciliation is done, its stop at the venue is placed, replaced or cancelled; before any other sell is
// sent the stop is cancelled (its answer awaited) and, where it may have filled, the sell is cut to what is still held
// (POSITION_GONE when nothing is); when the stop's trades cannot be read, to what the stop cannot have sold
// (PROTECTIVE_STOP_UNRESOLVED when that is nothing). A halt leaves the stops resting: they protect what a halted engine
// still holds. Every symbol's stop is checked again on risk.limitsChanged and once the RiskManager's state is first
// read (its stop-loss prices the stop); a stop the venue itself refused brings no check of its own (the retries are on
// a backoff there), one the executor rejected for want of an answer (VENUE_UNKNOWN_ORDER, ...) does.
// A stop replaced in one request (venue.replace, Binance cancelReplace): the new stop is recorded and runs as a
// submission (events held, cancels wait, no poll meanwhile); both done -> the new one accepted, the old one cancelled
// as a cancel's answer cancels it (its trades read at once); cancel done, new refused -> the old one cancelled, the new
// one rejected with the venue's code; cancel failed -> the new one rejected REPLACE_CANCEL_FAILED and the stops take
// the cancel-then-place path; refused before acting, 429, 418 -> rejected as a submission would be, the old one kept
// (a refusal, VenueCallError kind `rejected` such as a -1013 filter failure, is told apart from a 429/418 the venue did
// not process: 'refused', not 'kept'; whether it is for good the stops read from its words); no answer -> the new one
// queried by client id after the venue's settle time (present: both done; absent: rejected and the same path; no
// answer: it stays submitted for the poll), never sent twice.
import type { Logger } from 'pino';
import { log as rootLog } from '../../engine/log.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { isProtectiveStopId, type ExecEvent, type Fill, type OrderIntent } from '../../engine/messages/orders.ts';
import type { Bus, Unsubscribe } from '../../engine/runtime/bus.ts';
import type { Clock, TimerHandle } from '../../engine/runtime/clock.ts';
import type { ExecStore } from '../../engine/store/exec-store.ts';
import { backoffDelay, type BackoffPolicy } from '../../engine/venues/binance/backoff.ts';
import { CircuitBreaker, type BreakerOptions, type BreakerState } from '../../engine/venues/circuit-breaker.ts';
import { delay } from '../../engine/venues/retry.ts';
import {
  asVenueCallError, type ExecutionVenue, type ReplaceResult, type SubmitResult, type VenueCallError, type VenueEvent, type VenueOrder, type VenueOrderRequest,
  type VenueTrade,
} from '../../engine/venues/venue.ts';
import { ADOPTED_ORDER_PREFIX, clientOrderId, intentId, type ClientOrderId, type VenueOrderId } from '../../engine/types/ids.ts';
import { notional, type Instrument } from '../../engine/types/instrument.ts';
import { baseAmount } from '../../engine/venues/ledger.ts';
import type { Money } from '../../engine/types/money.ts';
import type { Lots } from '../../engine/types/price.ts';
import type { TradingState } from '../../engine/messages/risk.ts';
import {
  emptyPosition, isRiskExit, isTerminal, newOrder, positionAfterFill, transition,
  type OrderEvent, type OrderRecord, type PositionRecord, type TransitionResult,
} from './logic.ts';
import { noReconcileCounts, reconcile, type ApplyTradeOptions, type ReconcileHost, type ReconcileOptions, type ReconcileReport } from './reconcile.ts';
import {
  isLiveStop, isVenueRefusal, ProtectiveStops, REPLACE_CANCEL_FAILED, sellableLots, type ClearResult, type ProtectiveStopHost,
  type ProtectiveStopSettings, type ReplaceOutcome,
} from './protective-stop.ts';
import { ExecutorRetiredError } from './retire.ts';

/** The executor's store type. */
export type ExecutorStore = ExecStore<OrderRecord, PositionRecord>;

/** Retry settings (config.execution.retry). */
export interface ExecRetry {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** Options of a TradingExecutor. */
export interface TradingExecutorOptions {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  readonly venue: ExecutionVenue;
  readonly store: ExecutorStore;
  readonly instruments: readonly Instrument[];
  readonly retry?: ExecRetry;
  readonly breaker?: BreakerOptions;
  /** How often open orders are synced with a venue that pushes no events (ccxt REST); default 2000 ms. */
  readonly pollMs?: number;
  /** Longest Retry-After the executor waits on for a submission before rejecting it (default 60 s). */
  readonly maxRateLimitWaitMs?: number;
  /** Uniform [0, 1) source for backoff jitter; inject a seeded one for deterministic runs. */
  readonly rng?: () => number;
  readonly log?: Logger;
  /** Bus owner of its subscriptions (the supervised child's id): a handler that throws then counts as this actor failing. */
  readonly owner?: string;
  /**
   * Reads the RiskManager's state now (the wiring passes its state getter), undefined while it is not running. Read once
   * the start-up reconciliation is done: a RiskManager that starts halted publishes no risk.stateChanged.
   */
  readonly riskState?: () => RiskStateView | undefined;
  /** Protective stops at the venue (config execution.protectiveStop); absent: none. */
  readonly protectiveStop?: ProtectiveStopSettings;
}

/** What the executor reads of the RiskManager's state (its RiskState has these fields). */
export interface RiskStateView {
  readonly tradingState: TradingState;
  readonly killSwitch: boolean;
  readonly stateReason: string;
  /** The limits in force (the protective stop sits beyond their stop-loss). */
  readonly limits?: { readonly stopLossBps?: number | undefined };
}

/** Lifecycle state of the executor. */
export type ExecutorState = 'starting' | 'reconciling' | 'live' | 'stopped';

const DEFAULT_RETRY: ExecRetry = { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5_000 };
/** Delay between rounds of cancels while halted: 1 s doubling to 30 s, so a venue that keeps failing is not hammered. */
/** Reads of the RiskManager's state, a second apart, before the executor gives up waiting for it to start. */
const RISK_STATE_TRIES = 30;
const HALT_CANCEL_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0.5 };
/** Polls that reconcile a symbol after a rejection there that proves nothing about the venue (see mayBeAtVenue). */
const WATCH_POLLS = 5;
/** Reject codes the executor gives an order that may be at the venue all the same: no answer, or not found (yet). */
const UNPROVEN_REJECTS: ReadonlySet<string> = new Set(['VENUE_UNAVAILABLE', 'VENUE_UNKNOWN_ORDER', 'VENUE_ERROR']);

/** The reason of an order adopted for a trade of it (see applyTrade): sized by its trades, not by the venue. */
const TRADE_ADOPTED_REASON = 'adopted from the venue trade history';

// Whether `o` was adopted for a trade (applyTrade), not from the open orders (adoptOpenOrder, adoptFinalHere), whose
// records carry the venue's size: only the former grow with the trades booked to them.
const isTradeAdopted = (o: OrderRecord): boolean =>
  o.adopted === true && o.intent.reason === TRADE_ADOPTED_REASON && o.clientOrderId === `${ADOPTED_ORDER_PREFIX}${o.venueOrderId}`;

/** Orders from approved intents to the venue and back as exec.* events; see the header comment. */
export class TradingExecutor implements ReconcileHost {
  readonly venue: ExecutionVenue;
  readonly clock: Clock;
  readonly log: Logger;
  readonly breaker: CircuitBreaker;
  private readonly bus: Bus<EngineMsg>;
  private readonly store: ExecutorStore;
  private readonly instruments = new Map<string, Instrument>();
  private readonly retry: ExecRetry;
  private readonly backoff: BackoffPolicy;
  private readonly rng: () => number;
  private readonly pollMs: number;
  private readonly maxRateLimitWaitMs: number;
  private readonly owner: string | undefined;
  private readonly riskState: (() => RiskStateView | undefined) | undefined;
  /** Unfinished orders (finished ones live in the store only). */
  private readonly orders = new Map<string, OrderRecord>();
  /** Venue order id -> client id of the unfinished orders. */
  private readonly byVenueId = new Map<string, ClientOrderId>();
  private readonly positions = new Map<string, PositionRecord>();
  /** Events held for orders whose submission is in flight. */
  private readonly held = new Map<string, VenueEvent[]>();
  /** Submissions in flight, so a cancel can wait for the outcome. */
  private readonly submitting = new Map<string, Promise<void>>();
  /**
   * Symbols whose trades the next poll reads although no order on them may be open: an order there was just closed by
   * a cancel on a venue that pushes no fills, and fills it got before the cancel are only in the trade history.
   */
  private readonly tradeSync = new Set<string>();
  /**
   * Symbols the next polls reconcile (open orders and trades), with how many polls are left: an order there was
   * rejected without the venue refusing it (mayBeAtVenue), and if the venue has it after all, nothing else would look:
   * a final record drops its symbol from the poll.
   */
  private readonly watched = new Map<string, number>();
  /** Orders whose submission (or replace) in flight has had an answer of unknown outcome: a later rejection proves nothing. */
  private readonly unknownOutcome = new Set<string>();
  /** Why we asked the venue to cancel an order (its pushed close then carries our reason). */
  private readonly cancelling = new Map<string, string>();
  /** Cancels in progress, so a second request (a halt's next round) for the same order joins the one running. */
  private readonly cancels = new Map<string, Promise<void>>();
  /** Orders the venue answered a cancel for with "not open": no more cancels; their end comes from events or the poll. */
  private readonly notOpen = new Set<string>();
  /** Why trading is halted, or undefined while it is not (see the header). */
  private halt: string | undefined;
  private haltTimer: TimerHandle | undefined;
  /** The limits the RiskManager last announced (risk.limitsChanged): they price the stops before its state getter. */
  private announcedLimits: RiskStateView['limits'] | undefined;
  /** The next check of a symbol's protective stop after one that failed (see ./protective-stop.ts). */
  private readonly stopTimers = new Map<string, TimerHandle>();
  /** The next read of the RiskManager's state while it has not started yet (see readRiskState). */
  private riskTimer: TimerHandle | undefined;
  /** Rounds of halt cancels that sent some since the halt began (the backoff of the next round). */
  private haltRounds = 0;
  /** No cancel round starts before this time: the end of a venue's Retry-After or ban. */
  private cancelNotBefore = 0;
  /**
   * While a 429 or 418 was reported and no `up` since: when it ends (its publication time when the venue named no end).
   * Nothing else says it ended (the breaker stays closed through both), so the first answer after it publishes `up`.
   */
  private limitedUntil: number | undefined;
  /**
   * The order whose submission (or replace) holds the breaker's half-open probe slot. A flow that ends without its
   * request reaching the venue (a sell refused POSITION_GONE, the executor stopping, a throw) gives the slot back, else
   * the breaker would refuse every later call for good; a flow that did reach the venue already settled it (success,
   * failure, inconclusive), and one whose slot a later probe took (after a reopen) gives back nothing.
   */
  private probeHolder: ClientOrderId | undefined;
  private readonly tasks = new Set<Promise<unknown>>();
  private readonly subs: Unsubscribe[] = [];
  private mutex: Promise<unknown> = Promise.resolve();
  /** Settles once start() loaded the store (a cancel waits for it: a restart's hand-over may still hold it). */
  private loaded: Promise<void> = Promise.resolve();
  private isLoaded = false;
  /** An immediate poll (schedulePoll(0)) was asked for and has not run yet: re-armed once the submissions or the poll in flight end. */
  private pollAsked = false;
  private st: ExecutorState = 'starting';
  private pollTimer: TimerHandle | undefined;
  private polling = false;
  private abort = new AbortController();
  /** Retiring (see ./retire.ts): no state change starts any more; retired: nothing is published or saved either. */
  private retiring = false;
  private retired = false;
  /** The protective stops at the venue (see the header). */
  readonly protectiveStops: ProtectiveStops;
  /** Counters for tests, metrics and the dashboard. */
  readonly counters = { submitted: 0, resubmitted: 0, queriedAfterUnknown: 0, rejectedLocally: 0, illegalTransitions: 0, heldEvents: 0, reconciliations: 0 };

  constructor(opts: TradingExecutorOptions) {
    this.bus = opts.bus;
    this.clock = opts.clock;
    this.venue = opts.venue;
    this.store = opts.store;
    for (const i of opts.instruments) this.instruments.set(i.symbol, i);
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.backoff = { initialMs: this.retry.baseDelayMs, maxMs: this.retry.maxDelayMs, factor: 2, jitter: 0.5 };
    this.rng = opts.rng ?? Math.random;
    this.pollMs = opts.pollMs ?? 2_000;
    this.maxRateLimitWaitMs = opts.maxRateLimitWaitMs ?? 60_000;
    this.owner = opts.owner;
    this.riskState = opts.riskState;
    this.log = (opts.log ?? rootLog()).child({ actor: 'trading-executor', venue: opts.venue.id });
    this.breaker = new CircuitBreaker(opts.clock, opts.breaker ?? { failureThreshold: 5, openMs: 30_000 }, (s) => this.onBreaker(s));
    this.protectiveStops = new ProtectiveStops(this.stopHost(), this.stopSettings(opts.protectiveStop));
  }

  // The config's settings, switched off (loudly) on a venue that says it has no stop orders: the config refuses that
  // combination, so this only guards a venue wired by hand. A venue that does not say (a wrapper) is asked; a refusal
  // comes back as the stop's rejection.
  private stopSettings(s: ProtectiveStopSettings | undefined): ProtectiveStopSettings {
    if (!s?.enabled) return s ?? { enabled: false, extraBps: 0, limitBps: 0 };
    if (this.venue.supportsStopOrders !== false) return s;
    this.log.error({ code: 'PROTECTIVE_STOP_UNSUPPORTED' }, `venue ${this.venue.id} has no stop orders: no protective stops are placed`);
    return { ...s, enabled: false };
  }

  private stopHost(): ProtectiveStopHost {
    const ex = this;
    return {
      log: this.log,
      get isLive() { return ex.st === 'live'; },
      now: () => this.clock.now(),
      instrumentOf: (symbol) => this.instruments.get(symbol),
      position: (symbol) => this.positions.get(symbol),
      unfinishedOrders: () => this.unfinishedOrders(),
      order: (cid) => this.order(cid),
      riskStopLossBps: () => (this.announcedLimits ?? this.riskState?.()?.limits)?.stopLossBps,
      placeOrder: (intent) => this.placeOwn(intent),
      ...(this.venue.replace ? { replaceOrder: (old: string, intent: OrderIntent, reason: string) => this.replaceOwn(old as ClientOrderId, intent, reason) } : {}),
      cancelOrder: (cid, reason) => this.cancelOne(cid as ClientOrderId, reason),
      syncSymbol: async (symbol) => void (await this.reconcile({ balances: false, symbols: [symbol] })),
      canSend: () => this.breaker.state !== 'open',
      checkLater: (symbol, ms) => this.checkStopLater(symbol, ms),
      sleep: (ms) => this.sleep(ms),
    };
  }

  // Checks the symbol's protective stop when stops are on or one of ours rests there (stops just switched off).
  private checkStop(symbol: string): void {
    if (this.stopped) return;
    if (!this.protectiveStops.settings.enabled && !this.hasLiveStop(symbol)) return;
    this.track(this.protectiveStops.refresh(symbol));
  }

  private checkStopLater(symbol: string, ms: number): void {
    const t = this.stopTimers.get(symbol);
    if (t) this.clock.clearTimeout(t);
    if (this.stopped) return;
    this.stopTimers.set(symbol, this.clock.setTimeout(() => {
      this.stopTimers.delete(symbol);
      this.checkStop(symbol);
    }, ms));
  }

  // Every symbol's stop: its price inputs (the RiskManager's stop-loss) changed.
  private checkAllStops(): void {
    for (const s of this.venue.symbols) this.checkStop(s);
  }

  // A loop, not a spread: it runs on every fill, a backtest's too.
  private hasLiveStop(symbol: string): boolean {
    for (const o of this.orders.values()) if (isLiveStop(o, symbol)) return true;
    return false;
  }

  private get stopped(): boolean {
    return this.st === 'stopped';
  }

  /** The executor's lifecycle state. */
  get state(): ExecutorState {
    return this.st;
  }

  /**
   * Subscribes, loads persisted orders and positions, reconciles with the venue (retrying), then goes live. With
   * `handOver` (a restart: the stopped predecessor's retirement, ./retire.ts) it subscribes at once, and loading waits
   * until `handOver` settles: approvals, cancels and venue events queue behind it, then are handled as during the
   * start-up reconciliation (an approval is rejected EXECUTOR_NOT_READY), so none is lost in the hand-over.
   */
  async start(handOver?: Promise<unknown>): Promise<ReconcileReport> {
    if (handOver) this.mutex = this.mutex.then(() => handOver).catch(() => undefined);
    this.subs.push(
      this.bus.subscribe('risk.orderApproved', (m) => this.onApproved(m.intent), this.owner),
      this.bus.subscribe('risk.stateChanged', (m) => this.setHalt(m.state === 'halted' ? m.reason : undefined), this.owner),
      this.bus.subscribe('risk.limitsChanged', (m) => {
        this.announcedLimits = m.limits;
        this.checkAllStops();
      }, this.owner),
      this.bus.subscribe('exec.cancelOrder', (m) => void this.cancelOne(m.clientOrderId, m.reason), this.owner),
      this.venue.onEvent((e) => this.onVenueEvent(e)),
    );
    const reconciling = (): void => {
      this.st = 'reconciling';
      this.publishStatus('reconciling', 'start-up reconciliation with the venue');
    };
    if (!handOver) reconciling();
    // Serialised, so an approval or venue event that comes meanwhile is applied after the unfinished orders are loaded.
    const loading = this.serial(async () => {
      // Loaded even when stopped meanwhile (a shutdown during the hand-over): steps queued behind this one (a venue fill)
      // must apply to what the store holds, not to empty memory whose position would overwrite the stored one.
      if (handOver && !this.stopped) reconciling();
      for (const p of this.store.allPositions(this.venue.id)) this.positions.set(p.symbol, p);
      const indexed = await this.store.ensureIndexed();
      if (indexed > 0) this.log.info({ orders: indexed }, 'order indexes built from the stored orders (a store written before they existed)');
      for (const o of this.store.openOrders(this.venue.id)) this.remember(o);
      this.reportUntraded();
    });
    this.loaded = loading.then(() => void (this.isLoaded = true), () => undefined);
    await loading;
    if (this.stopped) throw new Error('executor stopped before its start-up reconciliation');
    // One set of counters for every attempt: a failed one's fills are booked, and the report says so.
    const counts = noReconcileCounts();
    for (let attempt = 0; ; attempt++) {
      try {
        const report = await this.reconcile({ balances: true, counts });
        if (this.stopped) return report;
        this.st = 'live';
        this.publishStatus('up', 'reconciled');
        this.schedulePoll();
        this.readRiskState();
        this.checkAllStops();
        return report;
      } catch (err) {
        const ms = backoffDelay(this.backoff, attempt, this.rng);
        this.log.error({ err, attempt: attempt + 1, retryInMs: ms, code: 'RECONCILE_FAILED' }, 'start-up reconciliation failed; orders are refused until it succeeds');
        await delay(this.clock, ms, this.abort.signal).catch(() => undefined);
        if (this.stopped) throw err;
      }
    }
  }

  // Whether the venue trades `symbol`: every venue call for one it does not (a symbol the config dropped) fails.
  private tradesOnVenue(symbol: string): boolean {
    return this.venue.symbols.includes(symbol);
  }

  // Unfinished orders on symbols the venue no longer trades (the config dropped them): every venue call for such a
  // symbol fails, so reconciliation and the poll leave them out and they stay as they are. Said once, at start.
  private reportUntraded(): void {
    const untraded = [...this.orders.values()].filter((o) => !this.tradesOnVenue(o.intent.symbol));
    if (untraded.length === 0) return;
    this.log.error({
      clientOrderIds: untraded.map((o) => o.clientOrderId), venueOrderIds: untraded.map((o) => o.venueOrderId ?? null),
      symbols: [...new Set(untraded.map((o) => o.intent.symbol))], code: 'ORDER_ON_UNTRADED_SYMBOL',
    }, `unfinished orders on symbols venue ${this.venue.id} no longer trades: not reconciled or polled, their records stay as they are; `
      + 'check them at the venue by hand (cancel them there), or trade the symbol again and restart to reconcile them');
  }

  /** Stops listening and polling; in-flight venue calls finish but their backoff waits are cut short. */
  stop(): void {
    this.st = 'stopped';
    for (const u of this.subs.splice(0)) u();
    if (this.pollTimer) this.clock.clearTimeout(this.pollTimer);
    if (this.haltTimer) this.clock.clearTimeout(this.haltTimer);
    if (this.riskTimer) this.clock.clearTimeout(this.riskTimer);
    for (const t of this.stopTimers.values()) this.clock.clearTimeout(t);
    this.stopTimers.clear();
    this.abort.abort(new Error('executor stopped'));
  }

  /**
   * Hands the store and the bus over to a successor (./retire.ts): stops, lets the state change running now commit and
   * publish, and from then on commits and publishes nothing; a venue answer that comes later is dropped.
   */
  async retire(): Promise<void> {
    this.stop();
    this.retiring = true;
    await this.mutex;
    this.retired = true;
  }

  /** Resolves when no submission, cancel, poll or state change is in progress. */
  async idle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    await this.mutex;
  }

  /** True when nothing is in progress (tests drive a SimulatedClock until this holds). */
  get busy(): boolean {
    return this.tasks.size > 0;
  }

  /** Returns the order with this client id (from the store when it is finished). */
  order(cid: string): OrderRecord | undefined {
    const o = this.orders.get(cid) ?? this.store.order(cid);
    return o?.venue === this.venue.id ? o : undefined;
  }

  /** Returns every order of this venue in the store, oldest first: a full read, for tests and tools. */
  allOrders(): OrderRecord[] {
    return this.store.allOrders(this.venue.id).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** What the executor holds in memory (finished orders are dropped): for the dashboard and tests. */
  get memory(): { orders: number; venueIds: number; cancelling: number } {
    return { orders: this.orders.size, venueIds: this.byVenueId.size, cancelling: this.cancelling.size };
  }

  /** Returns the booked position of `symbol`. */
  position(symbol: string): PositionRecord | undefined {
    return this.positions.get(symbol);
  }

  /** Runs one reconciliation with the venue now (also used by the poll). */
  reconcile(opts: ReconcileOptions): Promise<ReconcileReport> {
    this.counters.reconciliations++;
    return this.track(reconcile(this, opts));
  }

  // ---- ReconcileHost -------------------------------------------------------------------------------------------

  /** Orders not yet final, those whose submission is in flight included (the RiskManager's restart reads its exits here). */
  unfinishedOrders(): OrderRecord[] {
    return [...this.orders.values()];
  }

  /** @internal Orders not yet final, leaving out those whose submission is in flight. */
  openOrders(): OrderRecord[] {
    return [...this.orders.values()].filter((o) => !this.submitting.has(o.clientOrderId));
  }

  /** @internal */
  baseOf(symbol: string, lots: number): bigint | undefined {
    const inst = this.instruments.get(symbol);
    return inst && baseAmount(inst, lots);
  }

  /** @internal */
  publishBus(m: EngineMsg): void {
    this.publish(m);
  }

  /** @internal */
  orderByVenueId(id: VenueOrderId): OrderRecord | undefined {
    const cid = this.byVenueId.get(id);
    return cid !== undefined ? this.orders.get(cid) : this.store.orderByVenueId(this.venue.id, id);
  }

  /** @internal */
  lastTradeId(symbol: string): string | undefined {
    return this.store.lastTradeId(this.venue.id, symbol);
  }

  /** @internal */
  hasFill(symbol: string, tradeId: string): boolean {
    return this.store.hasFill(this.venue.id, symbol, tradeId);
  }

  /** @internal How far the trade history of `symbol` was read (reconcile.ts bookTrades): kept across restarts. */
  saveTradeCursor(symbol: string, tradeId: string): Promise<void> {
    if (this.retiring) return Promise.reject(new ExecutorRetiredError());
    return this.store.setLastTradeId(this.venue.id, symbol, tradeId);
  }

  /** @internal */
  hasInstrument(symbol: string): boolean {
    return this.instruments.has(symbol);
  }

  /** @internal Applies an order event (serialised): transition, commit, then publish. */
  apply(cid: string, ev: OrderEvent): Promise<TransitionResult> {
    return this.serial(() => this.applyNow(cid, ev));
  }

  /**
   * @internal Books a trade from the venue's history: to its order, or to an order adopted for it. A trade of an
   * unknown order is left unbooked ('deferred') when it is likely an order of ours whose venue id we lack yet: with
   * `deferWhileSubmitting`, while an order on its symbol is being submitted (the id comes with the answer); and on a
   * symbol in `deferSymbols` (reconcile: an order there whose status query failed before we learnt its id).
   */
  applyTrade(t: VenueTrade, opts: ApplyTradeOptions = {}): Promise<'booked' | 'duplicate' | 'illegal' | 'adopted' | 'deferred'> {
    return this.serial(async () => {
      if (this.store.hasFill(this.venue.id, t.symbol, t.tradeId)) return 'duplicate';
      const known = (t.clientOrderId !== undefined ? this.order(t.clientOrderId) : undefined) ?? this.orderByVenueId(t.venueOrderId);
      if (known && !isTradeAdopted(known)) {
        const r = await this.applyNow(known.clientOrderId, { type: 'fill', fill: { ...t, clientOrderId: known.clientOrderId } });
        return r.kind === 'ok' ? 'booked' : r.kind === 'noop' ? 'duplicate' : 'illegal';
      }
      const why = known ? undefined : this.deferReason(t.symbol, opts);
      if (why !== undefined) {
        this.log.info({ code: 'TRADE_DEFERRED', tradeId: t.tradeId, venueOrderId: t.venueOrderId, symbol: t.symbol, why },
          'trade of an unknown order that may be ours: left for a later read');
        return 'deferred';
      }
      // A real execution of an order we never placed (another client on the account, or state lost): book it so
      // positions match the venue, and say so loudly. Its size is unknown (a trade names no order size, and asking the
      // venue would put a call that can fail inside this lock), so the record is sized by the trades booked to it:
      // each later trade of the order grows it, else that trade would be refused as a fill on a filled order.
      const cid = known?.clientOrderId ?? clientOrderId(`${ADOPTED_ORDER_PREFIX}${t.venueOrderId}`);
      const existing = known ?? this.order(cid);
      const intent: OrderIntent = {
        id: intentId(cid), symbol: t.symbol, side: t.side, orderType: 'limit', lots: ((existing?.filledLots ?? 0) + t.lots) as Lots, price: t.price,
        timeInForce: 'GTC', reduceOnly: false, reason: TRADE_ADOPTED_REASON, ts: t.ts,
      };
      const base: OrderRecord = existing
        ? { ...existing, intent: { ...existing.intent, lots: intent.lots }, status: 'partiallyFilled' }
        : { ...newOrder(intent, this.venue.id, this.clock.now()), clientOrderId: cid, status: 'accepted', venueOrderId: t.venueOrderId, adopted: true };
      this.log.warn({ code: 'ADOPTED_TRADE', tradeId: t.tradeId, venueOrderId: t.venueOrderId, symbol: t.symbol, side: t.side, lots: t.lots, adoptedLots: intent.lots },
        'venue reports a trade of an order this engine did not place: booking it');
      this.remember(base);
      const r = await this.applyNow(cid, { type: 'fill', fill: { ...t, clientOrderId: cid } });
      // Only the order's first trade adopts an order; the later ones book to it.
      return r.kind !== 'ok' ? 'illegal' : existing ? 'booked' : 'adopted';
    });
  }

  // Why a trade of an unknown order on `symbol` must wait, or undefined when it may be adopted now.
  private deferReason(symbol: string, opts: ApplyTradeOptions): 'submitting' | 'unresolved' | undefined {
    if (opts.deferWhileSubmitting && [...this.submitting.keys()].some((cid) => this.orders.get(cid)?.intent.symbol === symbol)) return 'submitting';
    return opts.deferSymbols?.has(symbol) ? 'unresolved' : undefined;
  }

  /**
   * @internal Takes over an open order the venue has and we do not know (placed elsewhere or state lost). With `held`,
   * the final record of ours the venue lists it under (a rejection that was no refusal): a protective stop is taken
   * back under its own client id, anything else is adopted under `v`'s name, a RiskManager exit keeping its intent.
   */
  adoptOpenOrder(v: VenueOrder, held?: OrderRecord): Promise<boolean> {
    return this.serial(async () => {
      if (held && isProtectiveStopId(held.clientOrderId)) return this.takeBackStop(held.clientOrderId, v);
      if (this.order(v.clientOrderId) || this.orderByVenueId(v.venueOrderId)) return false;
      // A protective stop of ours the store lost (or never saw committed): ours, not a stranger's.
      const ours = isProtectiveStopId(v.clientOrderId);
      // A halt leaves the RiskManager's exits working, and its restart finds them by their intent (app/system.ts).
      const intent: OrderIntent = held && isRiskExit(held) ? { ...held.intent, lots: v.lots } : {
        id: intentId(`adopted:${v.clientOrderId}`), symbol: v.symbol, side: v.side, orderType: v.orderType === 'market' ? 'market' : 'limit', lots: v.lots,
        ...(v.price !== undefined ? { price: v.price } : {}), ...(v.stopPrice !== undefined ? { stopPrice: v.stopPrice } : {}), timeInForce: v.timeInForce,
        reduceOnly: ours, reason: ours ? 'protective stop found at the venue' : 'adopted from the venue open orders', ts: v.ts,
      };
      const rec: OrderRecord = {
        ...newOrder(intent, this.venue.id, this.clock.now()), clientOrderId: v.clientOrderId, status: 'accepted', venueOrderId: v.venueOrderId,
        ...(ours ? {} : { adopted: true }),
      };
      if (ours) {
        this.log.info({ code: 'PROTECTIVE_STOP_FOUND', clientOrderId: v.clientOrderId, venueOrderId: v.venueOrderId, symbol: v.symbol, lots: v.lots, stopPrice: v.stopPrice },
          'protective stop of ours resting at the venue: taken back');
        await this.store.commit({ order: rec });
        this.remember(rec);
        return true;
      }
      this.log.warn({ code: 'ADOPTED_ORDER', clientOrderId: v.clientOrderId, venueOrderId: v.venueOrderId, symbol: v.symbol, side: v.side, lots: v.lots, filledLots: v.filledLots },
        'venue has an open order this engine does not know: adopting it (its earlier fills come from the trade history)');
      await this.store.commit({ order: rec });
      this.remember(rec);
      this.publish({ type: 'exec.orderAccepted', clientOrderId: rec.clientOrderId, venueOrderId: v.venueOrderId, ts: this.clock.now() });
      // Found while halted (the halt's rounds may have ended): cancelled like ours.
      if (this.halt !== undefined) this.cancelWhileHalted();
      return true;
    });
  }

  // Inside the mutex. Protective stop `cid`, final here, is open at the venue as `v`: its record is made accepted
  // again with `v`'s venue id, so the stops module resizes it, clears it before an exit and a halt leaves it resting
  // (adopted under another name it would be a stranger's sell the stops wait on). Its fills then book to it.
  private async takeBackStop(cid: string, v: VenueOrder): Promise<boolean> {
    const o = this.order(cid);
    if (!o || !isTerminal(o.status) || this.orderByVenueId(v.venueOrderId)) return false;
    const { rejectCode: _code, reason: _reason, ...kept } = o;
    const rec: OrderRecord = { ...kept, status: 'accepted', venueOrderId: v.venueOrderId, updatedAt: this.clock.now() };
    this.log.warn({ code: 'PROTECTIVE_STOP_FOUND', clientOrderId: cid, was: o.status, rejectCode: o.rejectCode, venueOrderId: v.venueOrderId, symbol: v.symbol, lots: v.lots, stopPrice: v.stopPrice },
      `protective stop of ours we held ${o.status} is resting at the venue: taken back`);
    await this.store.commit({ order: rec });
    this.remember(rec);
    // Its rejection went out: the dashboard, the metrics and the order's fills to come hear it is accepted after all.
    this.publish({ type: 'exec.orderAccepted', clientOrderId: rec.clientOrderId, venueOrderId: v.venueOrderId, ts: this.clock.now() });
    // Sized for the position when it was placed: the stops module checks it now (at start, once reconciled).
    if (this.st === 'live') this.checkStop(v.symbol);
    return true;
  }

  // ---- intake ----------------------------------------------------------------------------------------------------

  private onApproved(intent: OrderIntent): void {
    this.track(this.serial(async () => {
      const rec = newOrder(intent, this.venue.id, this.clock.now());
      if (this.order(rec.clientOrderId)) {
        this.log.info({ intentId: intent.id, clientOrderId: rec.clientOrderId }, 'approval seen before: the order exists, nothing sent');
        return;
      }
      await this.store.commit({ order: rec });
      this.remember(rec);
      if (this.st !== 'live') return void (await this.rejectNow(rec.clientOrderId, 'EXECUTOR_NOT_READY', `executor is ${this.st}; start-up reconciliation has not finished`));
      const inst = this.instruments.get(intent.symbol);
      if (!inst || !this.tradesOnVenue(intent.symbol)) {
        return void (await this.rejectNow(rec.clientOrderId, 'UNKNOWN_INSTRUMENT', `venue ${this.venue.id} does not trade ${intent.symbol}`));
      }
      if (intent.orderType === 'limit' && intent.price === undefined) {
        return void (await this.rejectNow(rec.clientOrderId, 'INVALID_ORDER', 'limit intent without a price'));
      }
      if (!this.admit(rec.clientOrderId)) {
        this.counters.rejectedLocally++;
        return void (await this.rejectNow(rec.clientOrderId, 'VENUE_CIRCUIT_OPEN', `venue ${this.venue.id} circuit breaker is open after repeated failures; order not sent`));
      }
      this.startSubmit(rec.clientOrderId);
    }));
  }

  private startSubmit(cid: ClientOrderId): Promise<void> {
    return this.runSubmission(cid, () => this.submitFlow(cid));
  }

  // Runs `flow`, the submission of `cid`: venue events for it are held until it ends, a cancel of it waits for it.
  private runSubmission<T>(cid: ClientOrderId, flow: () => Promise<T>): Promise<T> {
    this.held.set(cid, []);
    const p = flow().finally(() => {
      this.giveBackProbe(cid);
      this.submitting.delete(cid);
      this.unknownOutcome.delete(cid);
      this.releaseHeld(cid);
      // An immediate poll skipped while submissions were in flight (pollOnce): nothing else may ask again.
      if (this.submitting.size === 0 && this.pollAsked) this.schedulePoll(0);
    });
    this.submitting.set(cid, p.then(() => undefined, () => undefined));
    return this.track(p);
  }

  /**
   * A protective stop replaced in one venue request (see the header): the order of `intent` is recorded, then sent
   * with the cancel of `oldCid`. Without sending anything: 'fallback' when the venue has no replace or the old stop is
   * not resting untouched (accepted, no cancel or submission running); 'kept' when the executor is not live, a
   * reported 429/418 block lasts or the breaker is open. Sent and refused before the venue acted: 'refused'.
   */
  private async replaceOwn(oldCid: ClientOrderId, intent: OrderIntent, reason: string): Promise<ReplaceOutcome> {
    // Boxed: a promise returned from the serialised step would make the mutex wait for the whole request.
    const box = await this.serial(async (): Promise<{ p: Promise<ReplaceOutcome> } | ReplaceOutcome> => {
      const old = this.order(oldCid);
      const rec = newOrder(intent, this.venue.id, this.clock.now());
      if (!this.venue.replace || old?.status !== 'accepted' || this.cancels.has(oldCid) || this.submitting.has(oldCid)) return 'fallback';
      if (this.order(rec.clientOrderId)) return 'fallback';
      // Nothing can be sent now (a reported 429/418 block lasts too: each try would only make another rejected
      // record): the old stop stays as it is.
      if (this.st !== 'live' || (this.limitedUntil !== undefined && this.clock.now() < this.limitedUntil) || !this.admit(rec.clientOrderId)) return 'kept';
      try {
        await this.store.commit({ order: rec });
      } catch (err) {
        this.giveBackProbe(rec.clientOrderId);
        throw err;
      }
      this.remember(rec);
      return { p: this.runSubmission(rec.clientOrderId, () => this.replaceFlow(old, rec.clientOrderId, reason)) };
    });
    return typeof box === 'string' ? box : box.p;
  }

  private async replaceFlow(old: OrderRecord, cid: ClientOrderId, reason: string): Promise<ReplaceOutcome> {
    const out = await this.replaceRequest(old, cid, reason);
    // The old stop was not cancelled: a later cancel of it by the venue is not this replace's.
    if ((out === 'fallback' || out === 'kept' || out === 'refused') && !this.cancels.has(old.clientOrderId)) this.cancelling.delete(old.clientOrderId);
    return out;
  }

  private async replaceRequest(old: OrderRecord, cid: ClientOrderId, reason: string): Promise<ReplaceOutcome> {
    const req = this.requestOf(cid);
    await this.apply(cid, { type: 'submit' });
    this.cancelling.set(old.clientOrderId, reason);
    this.counters.submitted++;
    let r: ReplaceResult;
    try {
      r = await this.venue.replace!(req.symbol, { clientOrderId: old.clientOrderId, venueOrderId: old.venueOrderId }, req);
    } catch (e) {
      return this.replaceFailed(old, cid, reason, asVenueCallError(e));
    }
    this.breaker.success();
    this.venueAnswered();
    switch (r.status) {
      case 'replaced':
        await this.apply(cid, { type: 'accepted', venueOrderId: r.placed.venueOrderId });
        await this.replacedOld(old, reason);
        return 'replaced';
      case 'newRejected':
        this.log.warn({ clientOrderId: cid, replaced: old.clientOrderId, code: r.code }, 'venue cancelled the old stop and refused its replacement');
        await this.apply(cid, { type: 'rejected', code: r.code, message: r.message });
        await this.replacedOld(old, reason);
        return 'newRefused';
      case 'cancelFailed':
        this.log.warn({ clientOrderId: cid, replaced: old.clientOrderId, code: r.code, notOpen: r.notOpen }, 'venue could not cancel the stop to replace: nothing placed');
        await this.apply(cid, { type: 'rejected', code: REPLACE_CANCEL_FAILED, message: r.message });
        return 'fallback';
    }
  }

  // The old stop of a replace the venue cancelled, applied as a cancel's answer is: its trades are read at once.
  private async replacedOld(old: OrderRecord, reason: string): Promise<void> {
    await this.apply(old.clientOrderId, { type: 'cancelled', reason });
    this.syncTradesNow(old.intent.symbol);
  }

  // A replace request that failed: classified as a submission's failure is; no answer -> the new order is queried.
  private async replaceFailed(old: OrderRecord, cid: ClientOrderId, reason: string, err: VenueCallError): Promise<ReplaceOutcome> {
    const ctx = { clientOrderId: cid, replaced: old.clientOrderId, code: err.code, kind: err.kind };
    switch (err.kind) {
      // Refused by the venue (a filter failure, an account or open-order limit), unlike a 429/418 below, which it did
      // not process: whether the same request would be refused again the stops tell from its words (isRefusedForGood).
      case 'rejected':
        this.breaker.success();
        this.venueAnswered();
        this.log.warn({ ...ctx, err }, 'venue refused the replace request before acting: the old stop stays');
        await this.apply(cid, { type: 'rejected', code: err.code, message: err.message });
        return 'refused';
      case 'banned':
        this.publishStatus('banned', err.message, err.retryAfterMs);
        this.breaker.inconclusive();
        await this.apply(cid, { type: 'rejected', code: 'VENUE_IP_BANNED', message: err.message });
        return 'kept';
      case 'rateLimited':
        this.publishStatus('rateLimited', err.message, err.retryAfterMs ?? 0);
        this.breaker.inconclusive();
        await this.apply(cid, { type: 'rejected', code: 'VENUE_RATE_LIMITED', message: err.message });
        return 'kept';
      case 'unknown':
        this.breaker.failure();
        this.unknownOutcome.add(cid);
        this.log.warn({ ...ctx, err }, 'replace outcome unknown: querying the new stop by client id, never resending it');
        return this.resolveUnknownReplace(old, cid, reason, err);
    }
  }

  // STOP_ON_FAILURE places the new order only once the old one is cancelled: the new one present means both were done.
  private async resolveUnknownReplace(old: OrderRecord, cid: ClientOrderId, reason: string, err: VenueCallError): Promise<ReplaceOutcome> {
    const found = await this.resolveUnknownSubmit(cid);
    if (found === 'present') {
      await this.replacedOld(old, reason);
      return 'replaced';
    }
    if (found === 'absent') {
      await this.apply(cid, { type: 'rejected', code: 'VENUE_UNAVAILABLE', message: `replacement not at the venue after a request with no answer: ${err.message}` });
      return 'fallback';
    }
    if (found === 'unresolved') this.log.error({ clientOrderId: cid, code: 'SUBMIT_UNRESOLVED' }, 'cannot tell whether the replacement stop reached the venue: it stays submitted until the poll or reconciliation finds out');
    return 'unresolved';
  }

  // An order of the executor's own (a protective stop): recorded and submitted; resolves once the venue answered.
  private async placeOwn(intent: OrderIntent): Promise<void> {
    // Boxed: a promise returned from the serialised step would make the mutex wait for the whole submission.
    const box = await this.serial(async () => {
      const rec = newOrder(intent, this.venue.id, this.clock.now());
      if (this.order(rec.clientOrderId) || this.st !== 'live') return undefined;
      await this.store.commit({ order: rec });
      this.remember(rec);
      if (!this.admit(rec.clientOrderId)) {
        this.counters.rejectedLocally++;
        await this.rejectNow(rec.clientOrderId, 'VENUE_CIRCUIT_OPEN', `venue ${this.venue.id} circuit breaker is open after repeated failures; protective stop not sent`);
        return undefined;
      }
      return { p: this.startSubmit(rec.clientOrderId) };
    });
    await box?.p;
  }

  /**
   * Before a sell of ours (not a stop) goes out: the symbol's protective stop is cancelled, since it locks the base
   * asset. Where it may have filled, the sell is cut to what is still held, or rejected (POSITION_GONE) when nothing
   * is; where its trades could not be read, to what the stop cannot have sold (never sell twice). Returns false when
   * the order was rejected here.
   */
  private async clearStopsBefore(cid: ClientOrderId): Promise<boolean> {
    const it = this.order(cid)!.intent;
    if (it.side !== 'sell' || isProtectiveStopId(cid)) return true;
    // Through the symbol's queue even with no stop known yet: one may be on its way to the venue.
    if (!this.protectiveStops.settings.enabled && !this.hasLiveStop(it.symbol)) return true;
    let cleared: ClearResult;
    try {
      cleared = await this.protectiveStops.clearForExit(it.symbol);
    } catch (err) {
      // The stop's cancel or read failed unexpectedly: whether it sold is unknown, and selling blind could sell twice.
      this.log.error({ err, clientOrderId: cid, code: 'PROTECTIVE_STOP_UNRESOLVED' }, 'could not tell whether the protective stop sold the position: this sell is not sent');
      await this.apply(cid, { type: 'rejected', code: 'PROTECTIVE_STOP_UNRESOLVED', message: `the ${it.symbol} protective stop's state could not be read from the venue` });
      return false;
    }
    if (cleared.kind === 'clear') return true;
    return this.serial(async () => {
      const o = this.order(cid)!;
      const sellable = sellableLots(this.instruments.get(it.symbol)!, this.positions.get(it.symbol));
      const unaccounted = cleared.kind === 'unresolved' ? cleared.unaccounted : 0;
      const held = Math.max(0, sellable - unaccounted);
      if (cleared.kind === 'unresolved') {
        this.log.error({ clientOrderId: cid, lots: o.intent.lots, sellable, unaccounted, cap: held, code: 'PROTECTIVE_STOP_UNRESOLVED' },
          'the cancelled protective stop\'s trades could not be read: this sell leaves out what the stop may have sold');
      }
      if (held >= o.intent.lots) return true;
      if (held <= 0 && cleared.kind === 'unresolved') {
        await this.rejectNow(cid, 'PROTECTIVE_STOP_UNRESOLVED',
          `the ${it.symbol} protective stop's trades could not be read and it may have sold all ${sellable} lots held: nothing can be sold without risking selling twice`);
        return false;
      }
      if (held <= 0) {
        await this.rejectNow(cid, 'POSITION_GONE', `the protective stop sold the ${it.symbol} position before this sell was sent: nothing left to sell`);
        return false;
      }
      this.log.warn({ clientOrderId: cid, lots: o.intent.lots, held, code: 'SELL_CUT_TO_HELD' }, 'the protective stop may have sold part of the position: the sell is cut to what is still held');
      const next: OrderRecord = { ...o, intent: { ...o.intent, lots: held as Lots } };
      await this.store.commit({ order: next });
      this.remember(next);
      return true;
    });
  }

  private onVenueEvent(e: VenueEvent): void {
    const cid = e.kind === 'fill' ? e.fill.clientOrderId : e.clientOrderId;
    const hold = this.held.get(cid);
    if (hold) {
      this.counters.heldEvents++;
      hold.push(e);
      return;
    }
    this.track(this.applyVenueEvent(e));
  }

  private async applyVenueEvent(e: VenueEvent): Promise<void> {
    if (e.kind === 'fill') {
      await this.applyTrade(e.fill);
      return;
    }
    const ev: OrderEvent = e.status === 'cancelled'
      ? { type: 'cancelled', reason: this.cancelling.get(e.clientOrderId) ?? 'cancelled by the venue' }
      : { type: 'expired' };
    await this.apply(e.clientOrderId, ev);
  }

  private releaseHeld(cid: string): void {
    const hold = this.held.get(cid);
    this.held.delete(cid);
    for (const e of hold ?? []) this.track(this.applyVenueEvent(e));
  }

  // ---- submission --------------------------------------------------------------------------------------------

  private async submitFlow(cid: ClientOrderId): Promise<void> {
    if (!(await this.clearStopsBefore(cid))) return;
    const req = this.requestOf(cid);
    await this.apply(cid, { type: 'submit' });
    for (let attempt = 1; ; attempt++) {
      // Only the venue call is in the try: a failure to record its answer is not a venue error (submitAnswered).
      let res: SubmitResult | undefined;
      let err: VenueCallError | undefined;
      try {
        this.counters.submitted++;
        res = await this.venue.submit(req);
      } catch (e) {
        err = asVenueCallError(e);
      }
      if (err === undefined) {
        this.breaker.success();
        this.venueAnswered();
        return this.submitAnswered(cid, res!);
      }
      const ctx = { clientOrderId: cid, attempt, code: err.code, kind: err.kind };
      switch (err.kind) {
        case 'rejected':
          this.breaker.success();
          this.venueAnswered();
          this.log.warn({ ...ctx, err }, 'venue rejected the order');
          return void (await this.apply(cid, { type: 'rejected', code: err.code, message: err.message }));
        case 'banned':
          this.publishStatus('banned', err.message, err.retryAfterMs);
          this.log.error({ ...ctx, retryAfterMs: err.retryAfterMs }, 'venue banned this IP (HTTP 418): order rejected, nothing is sent until the ban ends');
          this.breaker.inconclusive();
          return void (await this.apply(cid, { type: 'rejected', code: 'VENUE_IP_BANNED', message: err.message }));
        case 'rateLimited': {
          const wait = err.retryAfterMs ?? backoffDelay(this.backoff, attempt - 1, this.rng);
          if (attempt >= this.retry.maxAttempts || wait > this.maxRateLimitWaitMs) {
            this.log.error({ ...ctx, retryAfterMs: wait }, 'venue rate limit: order rejected');
            this.breaker.inconclusive();
            return void (await this.apply(cid, { type: 'rejected', code: 'VENUE_RATE_LIMITED', message: err.message }));
          }
          this.publishStatus('rateLimited', err.message, wait);
          this.log.warn({ ...ctx, retryAfterMs: wait }, 'venue rate limit (HTTP 429): the request was not processed; resending after Retry-After');
          if (!(await this.sleep(wait))) return;
          this.counters.resubmitted++;
          continue;
        }
        case 'unknown': {
          this.breaker.failure();
          this.unknownOutcome.add(cid);
          this.log.warn({ ...ctx, err }, 'submission outcome unknown: querying the order by client id before any resend');
          const found = await this.resolveUnknownSubmit(cid);
          if (found === 'present' || found === 'stopped') return;
          if (found === 'unresolved') {
            this.log.error({ ...ctx, code: 'SUBMIT_UNRESOLVED' }, 'cannot tell whether the order reached the venue: it stays submitted until the poll or reconciliation finds out');
            return;
          }
          if (attempt >= this.retry.maxAttempts) {
            this.log.error({ ...ctx }, 'order not at the venue after every attempt: rejected');
            return void (await this.apply(cid, { type: 'rejected', code: 'VENUE_UNAVAILABLE', message: `not placed after ${attempt} attempts; last error: ${err.message}` }));
          }
          if (!this.admit(cid)) {
            this.counters.rejectedLocally++;
            return void (await this.apply(cid, { type: 'rejected', code: 'VENUE_CIRCUIT_OPEN', message: `venue circuit breaker opened; last error: ${err.message}` }));
          }
          if (!(await this.sleep(backoffDelay(this.backoff, attempt - 1, this.rng)))) return;
          this.counters.resubmitted++;
          continue;
        }
      }
    }
  }

  // The venue answered the submission of `cid`. Its fate there is known, so a commit that fails here (a store error)
  // is no venue failure: no breaker failure, no query, no resend. The order stays submitted in memory and in the store,
  // and a poll run now asks the venue for it by client id (reconcile.ts), as the next start would.
  private async submitAnswered(cid: ClientOrderId, res: SubmitResult): Promise<void> {
    const ev: OrderEvent = res.status === 'rejected' ? { type: 'rejected', code: res.code, message: res.message } : { type: 'accepted', venueOrderId: res.venueOrderId };
    try {
      await this.apply(cid, ev);
    } catch (err) {
      if (err instanceof ExecutorRetiredError) throw err;
      this.log.error({ err, clientOrderId: cid, answer: res.status, ...(res.status === 'accepted' ? { venueOrderId: res.venueOrderId } : {}), code: 'SUBMIT_ANSWER_NOT_RECORDED' },
        `the venue ${res.status} the order but recording its answer failed: it stays submitted here until reconciliation queries it at the venue`);
      this.schedulePoll(0);
    }
  }

  // The venue request of recorded order `cid`.
  private requestOf(cid: ClientOrderId): VenueOrderRequest {
    const it = this.order(cid)!.intent;
    return {
      clientOrderId: cid, symbol: it.symbol, side: it.side, orderType: it.stopPrice !== undefined ? 'stopLossLimit' : it.orderType, lots: it.lots,
      ...(it.orderType === 'limit' && it.price !== undefined ? { price: it.price } : {}), ...(it.stopPrice !== undefined ? { stopPrice: it.stopPrice } : {}),
      timeInForce: it.timeInForce,
    };
  }

  /** After an unknown submission outcome: waits until the request is void at the venue, then queries by client id. */
  private async resolveUnknownSubmit(cid: ClientOrderId): Promise<'present' | 'absent' | 'unresolved' | 'stopped'> {
    const rec = this.order(cid)!;
    if (!(await this.sleep(this.venue.submitSettleMs))) return 'stopped';
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
      this.counters.queriedAfterUnknown++;
      try {
        const v = await this.venue.fetchOrder(rec.intent.symbol, cid);
        this.venueAnswered();
        if (!v) return 'absent';
        await this.apply(cid, { type: 'accepted', venueOrderId: v.venueOrderId });
        this.log.info({ clientOrderId: cid, venueOrderId: v.venueOrderId, status: v.status }, 'order found at the venue after an unknown outcome: not resent');
        // Fills and a final status come from the trade history and open-order sync.
        if (!this.venue.pushesEvents || isTerminal(v.status)) this.schedulePoll(0);
        return 'present';
      } catch (e) {
        const err = asVenueCallError(e);
        if (err.kind === 'banned') {
          this.publishStatus('banned', err.message, err.retryAfterMs);
          return 'unresolved';
        }
        const wait = err.kind === 'rateLimited' ? (err.retryAfterMs ?? backoffDelay(this.backoff, attempt - 1, this.rng)) : backoffDelay(this.backoff, attempt - 1, this.rng);
        this.log.warn({ clientOrderId: cid, attempt, code: err.code, retryInMs: wait }, 'order query failed');
        if (attempt < this.retry.maxAttempts && !(await this.sleep(wait))) return 'stopped';
      }
    }
    return 'unresolved';
  }

  // ---- cancels ---------------------------------------------------------------------------------------------------

  /** Reads the RiskManager's state after the start-up reconciliation: orders the last run left open are cancelled if halted. */
  private readRiskState(tries = 0): void {
    this.riskTimer = undefined;
    if (!this.riskState || this.stopped) return;
    const s = this.riskState();
    if (s === undefined) {
      // The RiskManager starts after the executor and a reconciliation against a paper venue can end first: ask again.
      if (tries < RISK_STATE_TRIES) {
        this.riskTimer = this.clock.setTimeout(() => this.readRiskState(tries + 1), 1_000);
        return;
      }
      this.log.warn({ code: 'RISK_STATE_UNKNOWN', halted: this.halt !== undefined }, 'the RiskManager is not running: open orders are cancelled when it reports a halt');
      return;
    }
    this.setHalt(s.tradingState === 'halted' || s.killSwitch ? s.stateReason : undefined);
    // The stops checked at start may have been priced on the config's stop-loss: the RiskManager's restored one rules.
    this.checkAllStops();
  }

  /** Records whether trading is halted (`reason`) or not (undefined); a halt starts the rounds of cancels. */
  private setHalt(reason: string | undefined): void {
    const was = this.halt;
    this.halt = reason;
    if (reason !== undefined) return this.cancelWhileHalted();
    if (this.haltTimer) this.clock.clearTimeout(this.haltTimer);
    this.haltTimer = undefined;
    this.haltRounds = 0;
    if (was !== undefined) this.log.info({ was }, 'trading no longer halted: open orders are no longer cancelled');
  }

  /**
   * One round of cancels while halted: every open order but the RiskManager's exits whose cancel is not running gets
   * one, then the next round is set on the clock. Rounds end when none is left open or the halt ends.
   */
  private cancelWhileHalted(): void {
    if (this.haltTimer) this.clock.clearTimeout(this.haltTimer);
    this.haltTimer = undefined;
    // Serialised: a halt that comes while the start loads the unfinished orders still cancels them.
    this.track(this.serial(async () => {
      const reason = this.halt;
      if (reason === undefined || this.stopped) return;
      // Not those on a symbol the venue no longer trades: every cancel there fails (reportUntraded named them).
      const open = [...this.orders.values()].filter((o) => !isRiskExit(o) && !isProtectiveStopId(o.clientOrderId) && !this.notOpen.has(o.clientOrderId)
        && this.tradesOnVenue(o.intent.symbol));
      if (open.length === 0) return void (this.haltRounds = 0);
      const send = open.filter((o) => !this.cancels.has(o.clientOrderId));
      if (this.haltRounds === 0) this.log.warn({ open: open.length, reason }, 'trading halted: cancelling every open order');
      else if (send.length > 0) {
        this.log.error({ clientOrderIds: send.map((o) => o.clientOrderId), round: this.haltRounds + 1, reason, code: 'HALT_ORDERS_OPEN' },
          'trading is halted and orders are still open at the venue: cancelling them again');
      }
      for (const o of send) void this.cancelOne(o.clientOrderId, `trading halted: ${reason}`);
      // A round whose cancels were all still running sent nothing: the delay grows only with rounds that sent some.
      if (send.length > 0) this.haltRounds++;
      const ms = Math.max(backoffDelay(HALT_CANCEL_BACKOFF, this.haltRounds - 1, this.rng), this.cancelNotBefore - this.clock.now());
      this.haltTimer = this.clock.setTimeout(() => {
        this.haltTimer = undefined;
        this.cancelWhileHalted();
      }, ms);
    }));
  }

  /** Starts a cancel of `cid`, or joins the one running. */
  private cancelOne(cid: ClientOrderId, reason: string): Promise<void> {
    const running = this.cancels.get(cid);
    if (running) return running;
    const p = this.cancelFlow(cid, reason).finally(() => this.cancels.delete(cid));
    this.cancels.set(cid, p);
    return this.track(p);
  }

  private async cancelFlow(cid: ClientOrderId, reason: string): Promise<void> {
    // Sent during a restart's hand-over: the order is read once the predecessor's last answers are in the store.
    if (!this.isLoaded) await this.loaded;
    // A cancel during submission waits for its outcome, so it targets an order the venue knows.
    await this.submitting.get(cid)?.catch(() => undefined);
    const o = this.order(cid);
    if (!o || isTerminal(o.status)) return;
    const symbol = o.intent.symbol;
    // Every call for a symbol the venue dropped fails (reportUntraded): retrying would only fail again.
    if (!this.tradesOnVenue(symbol)) {
      this.log.warn({ clientOrderId: cid, symbol, code: 'CANCEL_UNTRADED_SYMBOL' }, `venue ${this.venue.id} no longer trades the order's symbol: no cancel sent`);
      return this.cancelRejected(cid, `UNTRADED_SYMBOL: venue ${this.venue.id} no longer trades ${symbol}; cancel it at the venue by hand`);
    }
    this.cancelling.set(cid, reason);
    let last = '';
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
      try {
        const r = await this.venue.cancel(symbol, cid, o.venueOrderId);
        this.venueAnswered();
        if (r.status === 'cancelled') return await this.endAfterFills(o, { type: 'cancelled', reason });
        // Not open at the venue: it filled or closed meanwhile; the poll / pushed events bring the truth.
        const v = await this.venue.fetchOrder(symbol, cid);
        if (v && !isTerminal(v.status)) {
          // Binance's -2011 for an order it still lists open (a lagging index, a cancel restriction): nothing changed.
          this.log.warn({ clientOrderId: cid, venueStatus: v.status, code: 'CANCEL_NOT_OPEN_BUT_OPEN' },
            'the venue refused the cancel as for an order not open, yet lists the order open: it stays open');
          return this.cancelRejected(cid, `CANCEL_NOT_OPEN_BUT_OPEN: the venue answered "not open" but lists the order ${v.status}`);
        }
        this.notOpen.add(cid);
        if (v && (v.status === 'cancelled' || v.status === 'expired')) return await this.endAfterFills(o, { type: 'closed', status: v.status, reason }, v);
        if (!v) await this.apply(cid, { type: 'rejected', code: 'VENUE_UNKNOWN_ORDER', message: 'the venue has no such order' });
        return this.syncTradesNow(symbol);
      } catch (e) {
        const err = asVenueCallError(e);
        last = `${err.code} (${err.kind})`;
        const wait = err.retryAfterMs ?? backoffDelay(this.backoff, attempt - 1, this.rng);
        if (err.retryAfterMs !== undefined) this.cancelNotBefore = Math.max(this.cancelNotBefore, this.clock.now() + err.retryAfterMs);
        this.log.warn({ clientOrderId: cid, attempt, code: err.code, kind: err.kind, retryInMs: wait }, 'cancel failed');
        if (err.kind === 'banned') this.publishStatus('banned', err.message, err.retryAfterMs);
        if (attempt < this.retry.maxAttempts && !(await this.sleep(wait))) return;
      }
    }
    this.log.error({ clientOrderId: cid, attempts: this.retry.maxAttempts, code: 'CANCEL_FAILED' }, this.halt !== undefined
      ? 'could not cancel the order after every attempt; tried again in the next round while trading is halted'
      : 'could not cancel the order after every attempt; it may still be open at the venue');
    this.cancelRejected(cid, `CANCEL_FAILED: ${this.retry.maxAttempts} attempts, the last ${last}; the order may still be open at the venue`);
  }

  // Whoever asked the cancel holds the order open until it hears otherwise (the RiskManager's stop waiting on the lots).
  private cancelRejected(cid: ClientOrderId, reason: string): void {
    this.publish({ type: 'exec.cancelRejected', clientOrderId: cid, reason, ts: this.clock.now() });
  }

  /**
   * Ends order `o`, which the venue has cancelled (or found closed), once every fill it got is booked: its end frees
   * its unfilled rest, and an exit sized on that rest before a fill of it is heard sells lots already sold. A venue
   * that pushes events pushed the fills before its answer; one that does not is asked (`v` when just read). When they
   * cannot be read now, the order is left open here and the poll, run at once, books them and then closes it.
   */
  private async endAfterFills(o: OrderRecord, ev: OrderEvent, v?: VenueOrder): Promise<void> {
    const cid = o.clientOrderId;
    if (!this.venue.pushesEvents && !(await this.fillsBooked(o, v))) {
      this.notOpen.add(cid);
      this.log.info({ clientOrderId: cid, code: 'CANCEL_END_AFTER_FILLS' }, 'the order closed at the venue with fills not booked yet: it ends once the poll books them');
      return this.syncTradesNow(o.intent.symbol);
    }
    await this.apply(cid, ev);
    this.syncTradesNow(o.intent.symbol);
  }

  // Whether every fill the venue reports for `o` is booked, reading its trades by order id where the venue can.
  private async fillsBooked(o: OrderRecord, known?: VenueOrder): Promise<boolean> {
    const { clientOrderId: cid, intent: { symbol } } = o;
    const booked = () => this.order(cid)?.filledLots ?? o.filledLots;
    try {
      const v = known ?? await this.venue.fetchOrder(symbol, cid as ClientOrderId);
      // Cancelled by the venue's own answer yet not found (a lagging query): the answer stands; late fills still book.
      if (!v || v.filledLots <= booked()) return true;
      if (!this.venue.fetchOrderTrades) return false;
      for (const t of await this.venue.fetchOrderTrades(symbol, v.venueOrderId)) {
        if (t.venueOrderId === v.venueOrderId) await this.applyTrade({ ...t, clientOrderId: cid as ClientOrderId, outOfSequence: true });
      }
      return booked() >= v.filledLots;
    } catch (e) {
      const err = asVenueCallError(e);
      this.log.warn({ clientOrderId: cid, code: err.code, kind: err.kind }, 'reading the fills of a cancelled order failed: the poll reads them');
      return false;
    }
  }

  /**
   * Whether order `cid`, rejected with `code`, may be at the venue all the same: a rejection for want of an answer or
   * for not being found (a query may lag the venue), or any rejection after an answer of unknown outcome (a resend
   * refused as a duplicate, a breaker opened meanwhile). A refusal the venue gave to a request it got is proof.
   */
  private mayBeAtVenue(cid: string, code: string): boolean {
    return UNPROVEN_REJECTS.has(code) || this.unknownOutcome.has(cid);
  }

  // The next WATCH_POLLS polls reconcile `symbol` (a venue that pushes events reports the order itself).
  private watch(symbol: string): void {
    if (this.venue.pushesEvents) return;
    this.log.info({ symbol, polls: WATCH_POLLS, code: 'REJECTED_WATCH' }, 'an order was rejected without the venue refusing it: the next polls look for it at the venue');
    this.watched.set(symbol, WATCH_POLLS);
  }

  /**
   * Polls at once, reading `symbol`'s trades even when no order on it is left open: on a venue that pushes no fills, an
   * order closed by a cancel may have filled in part since the last poll, and nothing else would fetch those fills.
   */
  private syncTradesNow(symbol: string): void {
    if (!this.venue.pushesEvents) this.tradeSync.add(symbol);
    this.schedulePoll(0);
  }

  // ---- state changes ---------------------------------------------------------------------------------------------

  private async rejectNow(cid: string, code: string, message: string): Promise<void> {
    this.log.warn({ clientOrderId: cid, code }, message);
    await this.applyNow(cid, { type: 'rejected', code, message });
  }

  private async applyNow(cid: string, ev: OrderEvent): Promise<TransitionResult> {
    const o = this.order(cid);
    if (!o) {
      this.counters.illegalTransitions++;
      this.log.warn({ clientOrderId: cid, event: ev.type, code: 'UNKNOWN_ORDER' }, 'event for an order this executor does not know: ignored');
      return { kind: 'illegal', reason: `unknown order ${cid}` };
    }
    const r = transition(o, ev, this.clock.now(), (f) => this.quoteOf(f), (id) => this.store.hasFill(this.venue.id, o.intent.symbol, id));
    if (r.kind === 'illegal') {
      this.counters.illegalTransitions++;
      this.log.warn({ clientOrderId: cid, event: ev.type, status: o.status, code: 'ILLEGAL_TRANSITION' }, r.reason);
      return r;
    }
    if (r.kind === 'noop') return r;
    const next = r.order;
    if (ev.type === 'fill') {
      const f = { ...ev.fill, clientOrderId: o.clientOrderId };
      const pos = positionAfterFill(this.positions.get(f.symbol) ?? emptyPosition(this.venue.id, f.symbol, f.ts), f, this.quoteOf(f));
      await this.store.commit({ order: next, fill: f, position: pos });
      this.positions.set(f.symbol, pos);
      this.remember(next);
      if (isTerminal(o.status)) {
        this.log.warn({ clientOrderId: cid, tradeId: f.tradeId, status: o.status, code: 'LATE_FILL' }, 'fill after the order closed: booked');
      }
      // An order closed as filled with fills missing is complete only once its late fills reach its size.
      this.publish(next.status === 'filled' && next.filledLots === next.intent.lots
        ? { type: 'exec.orderFilled', fill: f, ts: this.clock.now() }
        : { type: 'exec.orderPartiallyFilled', fill: f, leavesLots: (next.intent.lots - next.filledLots) as Lots, ts: this.clock.now() });
      this.checkStop(f.symbol);
      return r;
    }
    await this.store.commit({ order: next });
    this.remember(next);
    if (ev.type === 'rejected' && this.mayBeAtVenue(cid, ev.code)) this.watch(next.intent.symbol);
    const out = this.eventFor(o, next, ev);
    if (out) this.publish(out);
    // A sell that ended (an exit) lets the stop come back for what it left. A stop the venue refused brings no check:
    // the venue would refuse it again at once (its retry is on a backoff, see ./protective-stop.ts). One rejected
    // here for want of an answer does: no stop rests, and the per-plan refusal gate there keeps it from looping.
    if (isTerminal(next.status) && !(next.status === 'rejected' && isProtectiveStopId(cid) && isVenueRefusal(next))) this.checkStop(next.intent.symbol);
    return r;
  }

  private eventFor(prev: OrderRecord, next: OrderRecord, ev: OrderEvent): ExecEvent | undefined {
    const ts = this.clock.now();
    const cid = next.clientOrderId;
    switch (ev.type) {
      case 'submit': return { type: 'exec.orderSubmitted', clientOrderId: cid, intentId: next.intent.id, ts };
      case 'accepted': return prev.status === 'submitted' ? { type: 'exec.orderAccepted', clientOrderId: cid, venueOrderId: ev.venueOrderId, ts } : undefined;
      case 'cancelled': return { type: 'exec.orderCancelled', clientOrderId: cid, reason: ev.reason, ts };
      case 'expired': return { type: 'exec.orderExpired', clientOrderId: cid, ts };
      case 'rejected': return { type: 'exec.orderRejected', clientOrderId: cid, code: ev.code, message: ev.message, ts };
      case 'closed':
        if (ev.status === 'cancelled') return { type: 'exec.orderCancelled', clientOrderId: cid, reason: ev.reason, ts };
        if (ev.status === 'expired') return { type: 'exec.orderExpired', clientOrderId: cid, ts };
        // Filled at the venue with fills we cannot see: no fill is invented (the reconciliation reports FILLS_MISSING),
        // and no end either: the venue holds what the order filled, so the RiskManager keeps its unfilled rest counted
        // as open (a buy's lots, a sell's, its own exit in flight) until the late fills book it. Published as a cancel
        // (tried in a8616f6) it freed that rest: a second buy past the position cap at the venue, and a re-armed stop
        // selling lots already sold.
        return undefined;
      case 'fill': return undefined;
    }
  }

  private quoteOf(f: Fill): Money {
    const inst = this.instruments.get(f.symbol);
    return inst ? notional(inst, f.price, f.lots) : (0n as Money);
  }

  // Called once the order's change has committed, so a finished order dropped here reads back from the store.
  private remember(o: OrderRecord): void {
    if (isTerminal(o.status)) {
      this.orders.delete(o.clientOrderId);
      if (o.venueOrderId !== undefined && this.byVenueId.get(o.venueOrderId) === o.clientOrderId) this.byVenueId.delete(o.venueOrderId);
      this.cancelling.delete(o.clientOrderId);
      this.notOpen.delete(o.clientOrderId);
      return;
    }
    this.orders.set(o.clientOrderId, o);
    if (o.venueOrderId !== undefined) this.byVenueId.set(o.venueOrderId, o.clientOrderId);
  }

  private publish(m: EngineMsg): void {
    if (this.retired) return;
    this.bus.publish(m);
  }

  private publishStatus(status: 'up' | 'circuitOpen' | 'rateLimited' | 'banned' | 'reconciling', reason: string, afterMs?: number): void {
    const now = this.clock.now();
    if (status === 'rateLimited' || status === 'banned') this.limitedUntil = Math.max(this.limitedUntil ?? 0, now + (afterMs ?? 0));
    else if (status === 'up') this.limitedUntil = undefined;
    this.publish({ type: 'exec.venueStatus', venue: this.venue.id, status, reason, ...(afterMs !== undefined ? { untilTs: now + afterMs } : {}), ts: now });
  }

  // A venue call succeeded: past the end of a reported rate limit or ban, says the venue is up again.
  private venueAnswered(): void {
    if (this.limitedUntil === undefined || this.clock.now() < this.limitedUntil) return;
    this.publishStatus('up', 'the venue answered again after its rate limit or ban ended');
  }

  // Asks the breaker to let a request of `cid` go to the venue; when it goes as the half-open probe, `cid` holds it.
  private admit(cid: ClientOrderId): boolean {
    if (!this.breaker.allow()) return false;
    if (this.breaker.state === 'halfOpen') this.probeHolder = cid;
    return true;
  }

  // The end of `cid`'s flow: a probe slot it still holds is given back (see probeHolder).
  private giveBackProbe(cid: ClientOrderId): void {
    if (this.probeHolder !== cid) return;
    this.probeHolder = undefined;
    this.breaker.release();
  }

  private onBreaker(s: BreakerState): void {
    if (s === 'open') {
      this.log.error({ code: 'VENUE_CIRCUIT_OPEN' }, 'venue circuit breaker opened: new orders are rejected locally');
      this.publishStatus('circuitOpen', 'repeated venue failures');
    } else if (s === 'closed') {
      this.publishStatus('up', 'venue answered again');
    }
  }

  // ---- plumbing --------------------------------------------------------------------------------------------------

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    // Checked when the step's turn comes, not when it is queued: one queued before retire() must not commit either.
    const p = this.mutex.then(() => (this.retiring ? Promise.reject(new ExecutorRetiredError()) : fn()));
    this.mutex = p.catch(() => undefined);
    return p;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const t = p.catch((err) => {
      if (err instanceof ExecutorRetiredError) this.log.info({ code: 'EXECUTOR_RETIRED_DROP' }, 'work that came back after this executor retired (a late venue answer) is dropped');
      else this.log.error({ err, code: 'EXECUTOR_TASK_FAILED' }, 'executor task failed');
      return undefined as T;
    });
    this.tasks.add(t);
    void t.finally(() => this.tasks.delete(t));
    return p;
  }

  /** Waits on the clock; false when the executor stopped meanwhile. */
  private async sleep(ms: number): Promise<boolean> {
    if (ms <= 0) return this.st !== 'stopped';
    try {
      await delay(this.clock, ms, this.abort.signal);
      return this.st !== 'stopped';
    } catch {
      return false;
    }
  }

  private schedulePoll(inMs = this.pollMs): void {
    if (this.venue.pushesEvents && inMs !== 0) return;
    if (this.st === 'stopped') return;
    if (inMs === 0) this.pollAsked = true;
    if (this.pollTimer) this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = this.clock.setTimeout(() => {
      this.pollTimer = undefined;
      void this.pollOnce().finally(() => {
        if (!this.venue.pushesEvents) this.schedulePoll();
      });
    }, inMs);
  }

  // A poll that reconciled the `watched` symbols: one poll fewer left for each.
  private watchedPollDone(watched: readonly string[]): void {
    for (const s of watched) {
      const left = (this.watched.get(s) ?? 0) - 1;
      if (left > 0) this.watched.set(s, left);
      else this.watched.delete(s);
    }
  }

  private async pollOnce(): Promise<void> {
    // A trade of an order still being submitted could not be matched to it yet: sync once the submissions settle.
    // Skipped then, an immediate poll stays asked for: re-armed when the submissions (runSubmission) or the poll end.
    if (this.st !== 'live') return void (this.pollAsked = false);
    if (this.polling || this.submitting.size > 0) return;
    this.pollAsked = false;
    // Taken before the reconcile: a symbol added while it runs may come after its trade fetch, so it stays for the next.
    const closed = [...this.tradeSync];
    this.tradeSync.clear();
    const watched = [...this.watched.keys()];
    // Only symbols the venue trades: every call for one it dropped fails (orders left there: reportUntraded).
    const symbols = [...new Set([...this.openOrders().map((o) => o.intent.symbol), ...closed, ...watched])].filter((s) => this.tradesOnVenue(s));
    if (symbols.length === 0) return;
    this.polling = true;
    try {
      // One run per symbol, so a symbol whose reads fail holds up no other symbol's fills.
      for (let i = 0; i < symbols.length && !this.stopped; i++) {
        const symbol = symbols[i]!;
        try {
          await this.reconcile({ balances: false, symbols: [symbol] });
          this.venueAnswered();
          if (watched.includes(symbol)) this.watchedPollDone([symbol]);
        } catch (err) {
          const kind = asVenueCallError(err).kind;
          // A rate limit or ban refuses every later call too: the symbols not read yet wait for the next poll.
          const stop = kind === 'rateLimited' || kind === 'banned';
          for (const sym of stop ? symbols.slice(i) : [symbol]) if (closed.includes(sym)) this.tradeSync.add(sym);
          this.log.warn({ err, symbol, code: 'POLL_FAILED' }, 'order sync with the venue failed; retrying at the next poll');
          if (stop) break;
        }
      }
    } finally {
      this.polling = false;
      if (this.pollAsked && this.submitting.size === 0) this.schedulePoll(0);
    }
  }
}

