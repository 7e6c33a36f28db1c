// Prometheus metrics of one dashboard instance, in its own prom-client Registry (never the global one, so two
// engines or two tests in one process do not share series). Event counts come from bus subscriptions (O(1) each);
// bus totals, book gaps and resyncs (the aggregator's own counters), PnL, the market circuit breaker, model health and
// connection figures are read at scrape time.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineMsg } from '../messages/index.ts';
import type { Bus, Unsubscribe } from '../runtime/bus.ts';
import type { TsMs } from '../types/time.ts';
import type { BookCounters, DashboardViewModel } from './view-model.ts';

/** An event-loop delay recorder the scrape reads and then empties (node's IntervalHistogram has both). */
export interface LoopLagSource {
  /** Returns the p99 delay recorded since the last reset, in ms (NaN when nothing was recorded). */
  p99Ms(): number;
  reset(): void;
}

/** Options of the metrics. */
export interface MetricsOptions {
  readonly bus: Bus<EngineMsg>;
  readonly view: DashboardViewModel;
  /** Returns the open WebSocket clients. */
  readonly wsClients: () => number;
  /** The event-loop delay since the last scrape: read, then reset, by every scrape. */
  readonly loopLag?: LoopLagSource;
  /**
   * The COB aggregator's gap and resync counts per venue book (undefined while it is not running). Without it the two
   * counters count md.bookStatus entries into 'resyncing', which misses a gap found while a book is already re-syncing.
   */
  readonly bookCounters?: () => readonly BookCounters[] | undefined;
  /** The alerts webhook's counts since start (app/alerts-webhook.ts); absent where no webhook runs (no series then). */
  readonly alertsWebhook?: () => WebhookCounters;
  /** The executor's protective stops (execution.protectiveStop); absent where they are off. Undefined: no executor. */
  readonly protectiveStops?: () => ProtectiveStopFigures | undefined;
}

/** What the executor's protective stops counted since start (actors/trading-executor/protective-stop.ts), and those resting now. */
export interface ProtectiveStopFigures {
  readonly placed: number;
  readonly cancelled: number;
  /** Positions below the venue's minimum notional: no stop. */
  readonly skippedDust: number;
  /**
   * Stops (placements and replacements) the venue refused; absent while none. A refused replacement leaves the old stop
   * resting, counted in `resting` though it no longer fits the position: this count is what tells.
   */
  readonly refused?: number;
  /**
   * Stops of ours the venue accepted and that are not final (part filled included): those that protect a position.
   * 0 while `unverified` is present: stored stops are not known to rest until the venue says so.
   */
  readonly resting: number;
  /** Stops of ours sent without an answer yet (not resting until the venue accepts them); absent when none. */
  readonly open?: number;
  /**
   * Present while the executor has not reconciled with the venue (after a restart, or while reconciliation fails; the
   * rows' `unverified`): the stops the last run left not final in the stored orders, which the venue may have cancelled
   * or filled since. Absent once reconciled.
   */
  readonly unverified?: number;
  /** Per symbol with a position, a stop or a problem left: what protects it at the venue now (the dashboard's panel). */
  readonly symbols?: readonly ProtectiveStopRow[];
}

/**
 * What the panel says first about a symbol's stop: one of ours `resting` at the venue, `pending` (sent, no answer yet),
 * `triggered` (part filled: selling the position now); or none because it is `stale` (the stop there no longer fits and
 * could not be cancelled), `unresolved` (a cancelled stop's trades are unread: no stop until they are), `refused` by the
 * venue, `through` (refused because the price is already through the stop), `dust` (below the venue's minimum),
 * `unpriced` (no stop price can be set), `flat`, or `missing` (wanted, not there yet: a check is on its way or retrying);
 * `unverified` while the executor has not reconciled with the venue (after a restart, or while reconciliation fails):
 * the stop shown is the last known, which the venue may have cancelled or filled since, and no check runs.
 */
export type ProtectiveStopState =
  | 'resting' | 'pending' | 'triggered' | 'stale' | 'unresolved' | 'refused' | 'through' | 'dust' | 'unpriced' | 'flat' | 'missing' | 'unverified';

/** A stop order of ours; prices and sizes are exact decimals in the order venue's increments. */
export interface ProtectiveStopOrderView {
  readonly clientOrderId: string;
  readonly status: string;
  /** The trigger price; null for a stop found at the venue without one. */
  readonly stopPrice: string | null;
  /** The limit price it sells at once triggered. */
  readonly price: string | null;
  readonly qty: string;
  readonly filledQty: string;
}

/** One symbol's protective stop as the dashboard shows it (exact decimals in the order venue's increments). */
export interface ProtectiveStopRow {
  readonly symbol: string;
  /** The open position (base asset); zero once flat while a stop or a problem is left. */
  readonly positionQty: string;
  readonly state: ProtectiveStopState;
  /** The stop that protects the position: the one that fits it, else one triggered. */
  readonly stop?: ProtectiveStopOrderView;
  /**
   * The venue refused this position's stop: its code and message, whether through the price, and when it is tried
   * again: Infinity (null in JSON) for a replacement refused for good, not sent again until the position or the plan
   * changes (the old stop rests).
   */
  readonly refusal?: { readonly code: string; readonly through: boolean; readonly retryAt: TsMs; readonly message?: string };
  /** Stops that no longer fit the position and could not be cancelled (PROTECTIVE_STOP_STALE); tried again on a backoff. */
  readonly stale?: readonly ProtectiveStopOrderView[];
  /** Cancelled stops whose trades could not be read: they may have sold up to `qty` not booked yet. */
  readonly unresolved?: { readonly clientOrderIds: readonly string[]; readonly qty: string };
}

/** What the alerts webhook counted since start, and the alerts waiting now. */
export interface WebhookCounters {
  /** Posted with a 2xx answer (a summary line counts once). */
  readonly sent: number;
  /** Given up: a 4xx other than 429, or retries spent. */
  readonly failed: number;
  /** Dropped unsent: the oldest of a full queue, or left when the shutdown's deadline passed. */
  readonly dropped: number;
  /** Folded into a summary line beyond maxPerMinute. */
  readonly coalesced: number;
  /** Attempts after the first (network error, timeout, 5xx, 429). */
  readonly retried: number;
  readonly queued: number;
}

const WEBHOOK_OUTCOMES = ['sent', 'failed', 'dropped', 'coalesced', 'retried'] as const;

const STATE_CODE = { active: 0, reducing: 1, halted: 2 } as const;

/** The dashboard's Prometheus registry and the handles the server updates directly. */
export class DashboardMetrics {
  readonly registry = new Registry();
  readonly wsPushes: Counter<'topic'>;
  readonly wsSkipped: Counter;
  readonly controls: Counter<'action' | 'outcome'>;
  readonly inference: Histogram<'model'>;
  private readonly subs: Unsubscribe[] = [];

  constructor(opts: MetricsOptions) {
    const { bus, view } = opts;
    const registers = [this.registry];
    const busTotals = (field: 'published' | 'handlerErrors', filter: (type: string) => boolean) => function (this: Counter<'type'>): void {
      this.reset();
      for (const [type, c] of Object.entries(bus.counters())) if (filter(type)) this.inc({ type }, c[field]);
    };
    new Counter({ name: 'cobalt_bus_messages_total', help: 'Messages published on the bus, by type', labelNames: ['type'], registers, collect: busTotals('published', () => true) });
    new Counter({ name: 'cobalt_bus_handler_errors_total', help: 'Bus handler calls that threw, by message type', labelNames: ['type'], registers, collect: busTotals('handlerErrors', () => true) });
    new Counter({
      name: 'cobalt_depth_frames_total', help: 'Order-book depth frames published (md.depthRaw and md.depth)', registers,
      collect(this: Counter) {
        const c = bus.counters();
        this.reset();
        this.inc((c['md.depthRaw']?.published ?? 0) + (c['md.depth']?.published ?? 0));
      },
    });
    const booksCollect = (field: 'gaps' | 'resyncs') => function (this: Counter<'venue' | 'symbol'>): void {
      const books = opts.bookCounters?.();
      if (books === undefined) return;
      this.reset();
      for (const b of books) this.inc({ venue: b.venue, symbol: b.symbol }, b[field]);
    };
    const gaps = new Counter({ name: 'cobalt_book_gaps_total', help: 'Sequence gaps that forced a book resync', labelNames: ['venue', 'symbol'], registers, ...(opts.bookCounters ? { collect: booksCollect('gaps') } : {}) });
    const resyncs = new Counter({ name: 'cobalt_book_resyncs_total', help: 'Order-book resyncs (gap, crossed book, feed reset)', labelNames: ['venue', 'symbol'], registers, ...(opts.bookCounters ? { collect: booksCollect('resyncs') } : {}) });
    this.inference = new Histogram({
      name: 'cobalt_inference_latency_seconds', help: 'Model inference latency (ModelOutput.extra.latencyMs)', labelNames: ['model'], registers,
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
    });
    const outputs = new Counter({ name: 'cobalt_model_outputs_total', help: 'Model outputs, by model', labelNames: ['model'], registers });
    const ignored = new Counter({
      name: 'cobalt_model_outputs_ignored_total', help: 'Model outputs left out of the blend, by model and reason (lowConfidence, notGated, badProbabilities)',
      labelNames: ['model', 'reason'], registers,
    });
    const orders = new Counter({ name: 'cobalt_orders_total', help: 'Order lifecycle events, by status', labelNames: ['status'], registers });
    const fills = new Counter({ name: 'cobalt_fills_total', help: 'Fills (partial and final), by symbol and side', labelNames: ['symbol', 'side'], registers });
    const denied = new Counter({ name: 'cobalt_orders_denied_total', help: 'Intents denied by risk, by reason code', labelNames: ['code'], registers });
    const riskAlerts = new Counter({ name: 'cobalt_risk_alerts_total', help: 'RiskManager alerts, by code (MARKET_MOVE, MARKET_STALE, DRAWDOWN, …)', labelNames: ['code'], registers });
    const restarts = new Counter({ name: 'cobalt_actor_restarts_total', help: 'Supervised actor restarts, by actor', labelNames: ['actor'], registers });
    // From the RiskManager's books at scrape time; while they cannot be read (no provider, risk manager not running)
    // the gauges keep the last figures read (prom-client writes NaN as 'Nan', which strict parsers refuse).
    const books = (field: 'realized' | 'unrealized' | 'equity') => function (this: Gauge): void {
      const b = view.pnl();
      if (b) this.set(b[field]);
    };
    new Gauge({ name: 'cobalt_pnl_realized_quote', help: 'Realised PnL (gross of fees) of the RiskManager\'s positions (quote units)', registers, collect: books('realized') });
    new Gauge({ name: 'cobalt_pnl_unrealized_quote', help: 'Unrealised PnL of the RiskManager\'s positions at its last marks (quote units)', registers, collect: books('unrealized') });
    new Gauge({ name: 'cobalt_equity_quote', help: 'Equity of the RiskManager\'s books: cash plus holdings at its last marks (quote units)', registers, collect: books('equity') });
    new Gauge({ name: 'cobalt_trading_state', help: 'Trading state: 0 active, 1 reducing, 2 halted', registers, collect(this: Gauge) { this.set(STATE_CODE[view.state]); } });
    // The breaker denies entries without moving cobalt_trading_state: its own gauge says it is tripped, whether or not
    // a buy was attempted. Kept at the last reading while the RiskManager cannot be read.
    new Gauge({
      name: 'cobalt_market_breaker', help: 'Market circuit breaker denying entries (1) or not (0), by symbol and guard (move: MARKET_MOVE, stale: MARKET_STALE, spread: MARKET_SPREAD)',
      labelNames: ['symbol', 'guard'], registers,
      collect(this: Gauge<'symbol' | 'guard'>) {
        const b = view.breaker;
        if (b === undefined) return;
        this.reset();
        for (const [symbol, g] of Object.entries(b.symbols)) {
          this.set({ symbol, guard: 'move' }, g.move ? 1 : 0);
          this.set({ symbol, guard: 'stale' }, g.stale ? 1 : 0);
          this.set({ symbol, guard: 'spread' }, g.spread ? 1 : 0);
        }
      },
    });
    // From the orchestrator's health monitor at scrape time (the view's modelHealth provider), else each model's last
    // signal.modelHealth: the state is exact either way (it only changes with a message); the windowed accuracy is
    // only exported from live figures, never as the stale figure of the last change.
    new Gauge({
      name: 'cobalt_model_health', help: 'Model judged worse than always predicting the most frequent move (1 degraded) or not (0 ok), by model',
      labelNames: ['model'], registers,
      collect(this: Gauge<'model'>) {
        this.reset();
        for (const [model, h] of Object.entries(view.modelHealth().models)) this.set({ model }, h.state === 'degraded' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'cobalt_model_accuracy_window', help: 'Model accuracy (0..1) over the health monitor\'s window of judged predictions, by model',
      labelNames: ['model'], registers,
      collect(this: Gauge<'model'>) {
        const h = view.modelHealth();
        this.reset();
        if (h.live) for (const [model, f] of Object.entries(h.models)) this.set({ model }, f.accuracy);
      },
    });
    new Gauge({ name: 'cobalt_dashboard_ws_clients', help: 'Open dashboard WebSocket connections', registers, collect(this: Gauge) { this.set(opts.wsClients()); } });
    if (opts.loopLag) {
      const lag = opts.loopLag;
      new Gauge({
        name: 'cobalt_event_loop_lag_p99_seconds', help: 'Event-loop delay p99 since the last scrape', registers,
        collect(this: Gauge) {
          const v = lag.p99Ms();
          lag.reset();
          // Nothing recorded (scrapes less than one 20 ms resolution apart): no delay seen.
          this.set(Number.isFinite(v) ? v / 1000 : 0);
        },
      });
    }
    this.wsPushes = new Counter({ name: 'cobalt_dashboard_ws_pushes_total', help: 'Topic updates pushed to dashboard clients', labelNames: ['topic'], registers });
    this.wsSkipped = new Counter({ name: 'cobalt_dashboard_ws_skipped_total', help: 'Pushes skipped because a slow client still had data buffered', registers });
    if (opts.alertsWebhook) {
      const read = opts.alertsWebhook;
      new Counter({
        name: 'cobalt_alerts_webhook_total', help: 'Alerts webhook outcomes: sent, failed (4xx or retries spent), dropped (queue full or shutdown), coalesced (into a summary), retried',
        labelNames: ['outcome'], registers,
        collect(this: Counter<'outcome'>) {
          const c = read();
          this.reset();
          for (const outcome of WEBHOOK_OUTCOMES) this.inc({ outcome }, c[outcome]);
        },
      });
      new Gauge({ name: 'cobalt_alerts_webhook_queued', help: 'Alerts waiting to be posted to the webhook', registers, collect(this: Gauge) { this.set(read().queued); } });
    }
    if (opts.protectiveStops) {
      const read = opts.protectiveStops;
      new Counter({
        name: 'cobalt_protective_stops_total',
        help: 'Protective stops at the venue: placed, cancelled, skipped (a position below the minimum notional), refused by the venue (placements and replacements; a refused replacement leaves the old stop resting, too small or mispriced)',
        labelNames: ['event'], registers,
        collect(this: Counter<'event'>) {
          const f = read();
          this.reset();
          this.inc({ event: 'placed' }, f?.placed ?? 0);
          this.inc({ event: 'cancelled' }, f?.cancelled ?? 0);
          this.inc({ event: 'dust' }, f?.skippedDust ?? 0);
          // Like any labelled series, present from the first refusal on.
          if (f?.refused !== undefined) this.inc({ event: 'refused' }, f.refused);
        },
      });
      // 0 while a position is held means it is unprotected at the venue, or not known to be (then _unverified says how
      // many stored stops wait on the venue's word): worth an alert rule either way.
      new Gauge({ name: 'cobalt_protective_stops_resting', help: 'Protective stops of this engine resting at the venue (accepted or part filled; those sent without an answer yet, and all while unverified, not counted)', registers, collect(this: Gauge) { this.set(read()?.resting ?? 0); } });
      new Gauge({ name: 'cobalt_protective_stops_unverified', help: 'Protective stops the last run left not final, not yet checked at the venue (the executor has not reconciled since its start)', registers, collect(this: Gauge) { this.set(read()?.unverified ?? 0); } });
    }
    this.controls = new Counter({ name: 'cobalt_dashboard_controls_total', help: 'Control requests, by action and outcome (a kill held while the RiskManager is not running counts queued per request, then once ok when it runs, or dropped)', labelNames: ['action', 'outcome'], registers });

    if (!opts.bookCounters) {
      this.subs.push(bus.subscribe('md.bookStatus', (m) => {
        if (m.status !== 'resyncing') return;
        resyncs.inc({ venue: m.venue, symbol: m.symbol });
        if (m.reason?.startsWith('gap')) gaps.inc({ venue: m.venue, symbol: m.symbol });
      }));
    }
    this.subs.push(
      bus.subscribe('signal.modelOutput', ({ output }) => {
        outputs.inc({ model: output.model });
        const ms = output.extra?.latencyMs;
        if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) this.inference.observe({ model: output.model }, ms / 1000);
      }),
      bus.subscribe('signal.decision', (m) => {
        for (const [model, reason] of Object.entries(m.ignored ?? {})) ignored.inc({ model, reason });
      }),
      bus.subscribe('exec.orderSubmitted', () => orders.inc({ status: 'submitted' })),
      bus.subscribe('exec.orderAccepted', () => orders.inc({ status: 'accepted' })),
      bus.subscribe('exec.orderFilled', (m) => {
        orders.inc({ status: 'filled' });
        fills.inc({ symbol: m.fill.symbol, side: m.fill.side });
      }),
      bus.subscribe('exec.orderPartiallyFilled', (m) => fills.inc({ symbol: m.fill.symbol, side: m.fill.side })),
      bus.subscribe('exec.orderCancelled', () => orders.inc({ status: 'cancelled' })),
      bus.subscribe('exec.orderRejected', () => orders.inc({ status: 'rejected' })),
      bus.subscribe('exec.orderExpired', () => orders.inc({ status: 'expired' })),
      bus.subscribe('risk.orderDenied', (m) => denied.inc({ code: m.reason.code })),
      bus.subscribe('risk.alert', (m) => riskAlerts.inc({ code: m.code })),
      bus.subscribe('sys.actorRestarted', (m) => restarts.inc({ actor: m.actor })),
    );
  }

  /** Returns the metrics in Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Returns the Content-Type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Unsubscribes from the bus. */
  close(): void {
    for (const u of this.subs) u();
    this.subs.length = 0;
  }
}
