// Alerts that leave the process: what an operator of an unattended daemon must hear about (risk alerts, trading-state
// changes, the engine halting, an actor failing, the venue's circuit breaker, the daemon starting and stopping, a model
// doing worse than the naive baseline or claiming more confidence than its accuracy bears, a reconciliation that found
// a position mismatch or unresolved orders, rejected orders, the market-data feed dropping and the REST market data
// moving to the fallback venue) is POSTed as JSON `{ text, event }` to a webhook: `text` is one human line (what
// Slack's incoming webhooks show), `event` the fields (type, code, severity, symbol, ts, …).
//
// Here: the wiring. Bus messages map to events (alerts/events.ts); those below minSeverity or not among `codes` are
// left out; rejected orders are folded by rejection code (one line per code per 5 minutes) and the consequences of
// one cause into its post (an actor failing, then the engine halting, the kill switch, trading halted: one post; a
// drawdown and the trading state it moved to: one post), both in alerts/folds.ts; what is left is delivered
// (alerts/delivery.ts: bounded queue, maxPerMinute, retries, Retry-After) by one POST at a time (alerts/post.ts, which
// keeps the URL's token out of every log line).
// Nothing here may hold up or throw into the bus that publishes the alert: `push` only filters, counts and queues.
// The daemon's crash (app/run.ts) is posted by `crashed`, ahead of all that, before the process exits.
//
// The URL carries the service's token (Slack, Discord, Telegram): it comes from COBALT_ALERTS_WEBHOOK_URL only, and no
// log line names more of it than its host.
import { ALERT_SEVERITIES, type Config } from '../engine/config/schema.ts';
import { webhookPreflightProblems, webhookUrlOf, type Secrets } from '../engine/config/env.ts';
import type { WebhookCounters } from '../engine/dashboard/metrics.ts';
import type { Logger } from '../engine/log.ts';
import type { EngineMsg } from '../engine/messages/index.ts';
import type { VenueStatus } from '../engine/messages/exec-status.ts';
import type { Bus, Unsubscribe } from '../engine/runtime/bus.ts';
import { LiveClock, type Clock } from '../engine/runtime/clock.ts';
import { ConfigError } from '../engine/types/errors.ts';
import { clientOrderIdFor } from '../engine/types/ids.ts';
import { WebhookDelivery, type WebhookSettings } from './alerts/delivery.ts';
import {
  actorEvent, ALERT_SEVERITY, feedSourceEvent, feedStep, haltEvent, modelHealthEvent, reconcileEvent, reconcileKey, rejectionEvent, riskAlertEvent,
  startedEvent, stateEvent, stoppingEvent, venueEvent, type AlertEvent, type ApprovedOrder, type FeedDown,
} from './alerts/events.ts';
import { CauseFolds, RejectionFolds } from './alerts/folds.ts';
import type { AlertSource } from './alerts/post.ts';

export {
  actorEvent, ALERT_SEVERITY, crashEvent, CRASH_CODE, feedSourceEvent, feedStep, haltEvent, modelHealthEvent, reconcileEvent, rejectionEvent,
  riskAlertEvent, stateEvent, stoppingEvent, testEvent, venueEvent, type AlertCode, type AlertConsequence, type AlertEvent, type AlertSeverity, type ApprovedOrder, type FeedDown,
} from './alerts/events.ts';
export { summaryEvent, type Coalesced, type WebhookSettings } from './alerts/delivery.ts';
export { CAUSE_FOLD_MS, REJECTION_FOLD_MS } from './alerts/folds.ts';
export { alertBody, postJson, retryAfterMs, type AlertSource, type PostOutcome } from './alerts/post.ts';

/** Options of an AlertsWebhook. */
export interface AlertsWebhookOptions {
  readonly url: URL;
  readonly settings: WebhookSettings;
  readonly from: AlertSource;
  readonly logger: Logger;
  /**
   * Runs the waits (retries, the minute of maxPerMinute, the folds): wall time by default, whatever the engine's clock
   * is, a replay's included, and rightly: they pace posts for the receiver (its rate limits and Retry-After are wall
   * time) and for the reader (a summary a minute, a rejection line per 5 min), and a cause's consequences follow it
   * within real milliseconds. On the engine's clock a replay at 100× would post 100 × maxPerMinute a real minute. What
   * is posted carries engine time (`ts`).
   */
  readonly clock?: Clock;
  /** Wait before the first retry, doubled for each next one up to 30 s (default 1 s). */
  readonly backoffMs?: number;
}

// Approvals remembered to tell an exit's rejection: an exit is rejected within seconds, an older order is an entry.
const APPROVALS_KEPT = 1_000;

/** Pushes alerts to a webhook: see the header. */
export class AlertsWebhook {
  private readonly from: AlertSource;
  private readonly log: Logger;
  private readonly minRank: number;
  private readonly codes: ReadonlySet<string> | undefined;
  private readonly delivery: WebhookDelivery;
  private readonly folds: RejectionFolds;
  private readonly causes: CauseFolds;
  private readonly clock: Clock;
  private stopped = false;
  private unsubscribe: Unsubscribe | undefined;

  constructor(opts: AlertsWebhookOptions) {
    const clock = opts.clock ?? new LiveClock();
    this.clock = clock;
    this.from = opts.from;
    this.minRank = ALERT_SEVERITIES.indexOf(opts.settings.minSeverity);
    this.codes = opts.settings.codes ? new Set(opts.settings.codes) : undefined;
    this.log = opts.logger.child({ component: 'alerts-webhook', host: opts.url.host });
    this.delivery = new WebhookDelivery({ url: opts.url, settings: opts.settings, from: opts.from, log: this.log, clock, backoffMs: opts.backoffMs ?? 1_000 });
    this.folds = new RejectionFolds(clock, (ev) => this.push(ev));
    this.causes = new CauseFolds(clock, (ev) => this.push(ev), (code) => this.wantedCode(code, ALERT_SEVERITY[code]));
  }

  /** Returns the counts since start and the alerts waiting (for /metrics). */
  counters(): WebhookCounters {
    return this.delivery.counters();
  }

  /**
   * Queues `ev` unless filtered out or beyond maxPerMinute (then counted for the summary); never throws. `ev` goes as
   * is: the folds take the bus's messages only.
   */
  push(ev: AlertEvent): void {
    try {
      if (this.stopped || !this.wanted(ev)) return;
      this.delivery.send(ev);
    } catch (err) {
      this.log.error({ err, code: 'ALERT_WEBHOOK_PUSH' }, 'alert not queued for the webhook');
    }
  }

  /** Pushes the daemon's start (mode, account, traded symbol). */
  started(symbol: string, ts: number): void {
    this.push(startedEvent(this.from.mode, this.from.account, symbol, ts));
  }

  /** Subscribes to the bus messages worth pushing; returns (and keeps, for `stop`) the unsubscribe function. */
  subscribe(bus: Bus<EngineMsg>): Unsubscribe {
    const venues = new Map<string, VenueStatus>();
    const subs = [
      ...this.subscribeOrders(bus),
      ...this.subscribeFeeds(bus),
      bus.subscribe('risk.alert', (m) => this.pushOf(m, riskAlertEvent)),
      bus.subscribe('risk.stateChanged', (m) => this.pushOf(m, stateEvent)),
      bus.subscribe('sys.halted', (m) => this.pushOf(m, haltEvent)),
      bus.subscribe('sys.actorStatus', (m) => this.pushOf(m, actorEvent)),
      bus.subscribe('exec.venueStatus', (m) => this.pushOf(m, (v) => {
        const was = venues.get(v.venue);
        venues.set(v.venue, v);
        return venueEvent(v, was?.status, was?.untilTs);
      })),
      bus.subscribe('sys.shutdown', (m) => this.pushOf(m, stoppingEvent)),
      bus.subscribe('signal.modelHealth', (m) => this.pushOf(m, modelHealthEvent)),
    ];
    this.unsubscribe = () => subs.forEach((u) => u());
    return this.unsubscribe;
  }

  // Reconciliation findings, and rejections folded by code (an exit's told from its approval).
  private subscribeOrders(bus: Bus<EngineMsg>): Unsubscribe[] {
    const reconciled = new Map<string, string>();
    const approved = new Map<string, ApprovedOrder>();
    return [
      bus.subscribe('exec.reconciled', (m) => this.pushOf(m, (r) => {
        const key = reconcileKey(r);
        const same = reconciled.get(r.venue) === key;
        reconciled.set(r.venue, key);
        return same ? undefined : reconcileEvent(r);
      })),
      bus.subscribe('risk.orderApproved', (m) => {
        const { symbol, side, reduceOnly } = m.intent;
        approved.set(clientOrderIdFor(m.intent.id), { symbol, side, reduceOnly });
        if (approved.size > APPROVALS_KEPT) approved.delete(approved.keys().next().value!);
      }),
      bus.subscribe('exec.orderRejected', (m) => this.pushOf(m, (r) => {
        const ev = rejectionEvent(r, approved.get(r.clientOrderId));
        approved.delete(r.clientOrderId);
        if (this.wanted(ev)) this.folds.add(ev, r.code);
        return undefined;
      })),
    ];
  }

  // The market-data feed's outages (per venue and source) and the REST market data's move to the fallback venue.
  private subscribeFeeds(bus: Bus<EngineMsg>): Unsubscribe[] {
    const down = new Map<string, FeedDown>();
    return [
      bus.subscribe('md.feedStatus', (m) => this.pushOf(m, (f) => {
        const key = `${f.venue}/${f.source}`;
        const step = feedStep(f, down.get(key));
        if (step.down) down.set(key, step.down);
        else down.delete(key);
        return step.event;
      })),
      bus.subscribe('md.feedSource', (m) => this.pushOf(m, feedSourceEvent)),
    ];
  }

  /**
   * Posts the cause held, the rejections folded so far and the summary of what went beyond maxPerMinute now, then
   * resolves once everything queued is posted (or given up) or after `deadlineMs`, when what is left is dropped
   * (counted) and the post in flight abandoned.
   */
  async flush(deadlineMs: number): Promise<void> {
    this.causes.flush();
    this.folds.flush();
    await this.delivery.flush(deadlineMs);
  }

  /**
   * Posts the daemon's crash (`ev`, events.ts crashEvent) ahead of everything queued or folded, whatever minSeverity,
   * `codes` and maxPerMinute say, then what was queued and folded, the whole within `deadlineMs` of the webhook's
   * clock; resolves when done or at the deadline (what is left then is dropped, counted). Never throws.
   */
  async crashed(ev: AlertEvent, deadlineMs: number): Promise<void> {
    if (this.stopped) return;
    try {
      const t0 = this.clock.now();
      await this.delivery.sendFirst(ev, deadlineMs);
      const left = deadlineMs - (this.clock.now() - t0);
      if (left > 0) await this.flush(left);
    } catch (err) {
      this.log.error({ err, code: 'ALERT_WEBHOOK_PUSH' }, 'the crash alert was not posted');
    }
  }

  /** Stops: unsubscribes, cancels the waits and the post in flight; later pushes are ignored. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.causes.stop();
    this.folds.stop();
    this.delivery.stop();
  }

  // Pushes the event of bus message `m`, if it has one, through the cause folds; a mapping that throws is logged, never
  // thrown to the publisher.
  private pushOf<M extends EngineMsg>(m: M, map: (m: M) => AlertEvent | undefined): void {
    let ev: AlertEvent | undefined;
    try {
      ev = map(m);
      if (ev && this.wanted(ev)) this.causes.add(ev);
    } catch (err) {
      this.log.error({ err, code: 'ALERT_WEBHOOK_PUSH', type: m.type }, 'alert not queued for the webhook');
    }
  }

  private wanted(ev: AlertEvent): boolean {
    return this.wantedCode(ev.code, ev.severity);
  }

  private wantedCode(code: AlertEvent['code'], severity: AlertEvent['severity']): boolean {
    return ALERT_SEVERITIES.indexOf(severity) >= this.minRank && (this.codes === undefined || this.codes.has(code));
  }
}

/** How long a shutdown waits for the queued alerts (the "engine stopping" one among them). */
export const SHUTDOWN_FLUSH_MS = 3_000;

/**
 * Returns the webhook URL a paper or live daemon pushes alerts to, or undefined where none is pushed (disabled, a
 * backtest); throws ConfigError when enabled without a usable COBALT_ALERTS_WEBHOOK_URL.
 */
export function webhookTargetOf(config: Pick<Config, 'alerts'>, backtest: boolean, secrets: Secrets | undefined): URL | undefined {
  const { enabled } = config.alerts.webhook;
  if (!enabled || backtest) return undefined;
  const problems = webhookPreflightProblems(enabled, secrets ?? {});
  if (problems.length > 0) throw new ConfigError(`cannot start: ${problems.join('; ')}`);
  return webhookUrlOf(secrets?.alertsWebhookUrl) as URL;
}
