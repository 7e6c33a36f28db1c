// Alerts that leave the process: what an operator of an unattended daemon must hear about (risk alerts, trading-state
// changes, the engine halting, an actor failing, the venue's circuit breaker, the daemon starting and stopping, a model
// doing worse than the naive baseline or claiming more confidence than its accuracy bears, a reconciliation that found
// a position mismatch or unresolved orders, rejected orders, the market-data feed dropping and the REST market data
// moving to the fallback venue) is
// POSTed as JSON `{ text, event }` to a webhook: `text` is one human line (what Slack's incoming webhooks show), `event`
// the fields (type, code, severity, symbol, ts, …).
//
// Nothing here may hold up or throw into the bus that publishes the alert: `push` only filters, counts and queues.
// Posting runs on its own, one request at a time, from a bounded queue that, when full, drops the oldest of its least
// severe entries (counted).
// A network error, a timeout or a 5xx is retried with doubling waits; a 429 waits what its Retry-After says; any other
// 4xx is a webhook that will never take the alert (a revoked token, a bad payload): not retried, and logged once per
// status. Past maxPerMinute alerts in a minute the rest but critical ones are counted by code and posted as one summary
// line when the minute ends ("WARNING 12 more alerts: MARKET_STALE×10 (first: …); VAR_WARN_95×2 (first: …)").
// Rejected orders are folded by rejection code before that: one line per code per 5 minutes ("INSUFFICIENT_BALANCE ×7 in
// the last 5 min").
//
// The URL carries the service's token (Slack, Discord, Telegram): it comes from COBALT_ALERTS_WEBHOOK_URL only, and no
// log line names more of it than its host.
import { ALERT_CODES, ALERT_SEVERITIES, type Config } from '../engine/config/schema.ts';
import { webhookPreflightProblems, webhookUrlOf, type Secrets } from '../engine/config/env.ts';
import type { WebhookCounters } from '../engine/dashboard/metrics.ts';
import type { Logger } from '../engine/log.ts';
import type { EngineMsg } from '../engine/messages/index.ts';
import type { Reconciled, VenueStatus } from '../engine/messages/exec-status.ts';
import type { FeedSourceMsg, FeedState, FeedStatusMsg } from '../engine/messages/feed.ts';
import type { ActorStatus, ShutdownStarted, SystemHalted } from '../engine/messages/lifecycle.ts';
import type { ModelHealthChange, ModelHealthMsg } from '../engine/messages/orchestrator.ts';
import type { OrderIntent, OrderRejected } from '../engine/messages/orders.ts';
import type { RiskAlert, TradingStateChanged } from '../engine/messages/risk.ts';
import type { Bus, Unsubscribe } from '../engine/runtime/bus.ts';
import { LiveClock, type Clock, type TimerHandle } from '../engine/runtime/clock.ts';
import { ConfigError } from '../engine/types/errors.ts';
import { clientOrderIdFor } from '../engine/types/ids.ts';

/** A pushed event's stable code (config alerts.webhook.codes). */
export type AlertCode = (typeof ALERT_CODES)[number];
/** How much an event matters (config alerts.webhook.minSeverity). */
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
/** The webhook's settings (config alerts.webhook). */
export type WebhookSettings = Config['alerts']['webhook'];

/** One event as posted (the body's `event`); `COALESCED` is the summary of those beyond maxPerMinute. */
export interface AlertEvent {
  /** The bus message it came from ('risk.alert', 'sys.halted', …), or 'sys.started', 'alerts.summary', 'alerts.test'. */
  readonly type: string;
  readonly code: AlertCode | 'COALESCED';
  readonly severity: AlertSeverity;
  readonly message: string;
  /** Engine time of the event (ms since the epoch; a replay's is the recording's). */
  readonly ts: number;
  readonly symbol?: string;
  readonly actor?: string;
  readonly venue?: string;
  /** COALESCED: how many of each code the summary stands for. */
  readonly counts?: Readonly<Record<string, number>>;
  /** COALESCED: the first message of each code (cut to FIRST_MESSAGE_CHARS). */
  readonly firsts?: Readonly<Record<string, string>>;
}

/**
 * The severity of each code. Critical: trading stopped or cannot be trusted (a halt, the kill switch, a failed actor, a
 * position that cannot be closed, orders refused locally). Warning: trading restricted or at risk. Info: the rest.
 */
export const ALERT_SEVERITY: Readonly<Record<AlertCode, AlertSeverity>> = {
  DRAWDOWN: 'critical', KILL_SWITCH: 'critical', SYSTEM_HALTED: 'critical', ACTOR_FAILED: 'critical', TRADING_HALTED: 'critical',
  FLATTEN_INCOMPLETE: 'critical', VENUE_CIRCUIT_OPEN: 'critical', VENUE_BANNED: 'critical', RECONCILE_MISMATCH: 'critical', EXIT_REJECTED: 'critical',
  VAR_95: 'warning', VAR_99: 'warning', VAR_WARN_95: 'warning', VAR_WARN_99: 'warning', STOP_LOSS: 'warning', MARKET_MOVE: 'warning',
  MARKET_STALE: 'warning', MARKET_SPREAD: 'warning', TRADING_REDUCING: 'warning', RESUME_REFUSED: 'warning', LIMITS_INVALID: 'warning', VENUE_RATE_LIMITED: 'warning',
  MODEL_DEGRADED: 'warning', MODEL_RECOVERED: 'info', MODEL_OVERCONFIDENT: 'info', MODEL_CALIBRATED: 'info', MODEL_RESET: 'info',
  ORDER_REJECTED: 'warning', FEED_DOWN: 'warning', FEED_FALLBACK: 'warning', FEED_UP: 'info', FEED_PRIMARY: 'info',
  TAKE_PROFIT: 'info', FLATTENED: 'info', FLATTEN_ENDED: 'info', MARKET_CLEARED: 'info', TRADING_ACTIVE: 'info', VENUE_UP: 'info',
  ENGINE_STARTED: 'info', ENGINE_STOPPING: 'info', TEST: 'info',
};

// Every risk.alert code must be one the config can name: a new one fails to compile here until added to ALERT_CODES.
const riskCode = (c: RiskAlert['code']): AlertCode => c;
const SYMBOL_IN_TEXT = /\b[A-Z0-9]{2,}\/[A-Z0-9]{2,}\b/;

const event = (type: string, code: AlertCode, message: string, ts: number, extra: Partial<AlertEvent> = {}): AlertEvent =>
  ({ type, code, severity: ALERT_SEVERITY[code], message, ts, ...extra });

/** Returns the event of a RiskManager alert; its symbol is the first one its message names (the alert has no field). */
export function riskAlertEvent(m: RiskAlert): AlertEvent {
  const symbol = SYMBOL_IN_TEXT.exec(m.message)?.[0];
  return event(m.type, riskCode(m.code), m.message, m.ts, symbol ? { symbol } : {});
}

/** Returns the event of a trading-state change (TRADING_ACTIVE, TRADING_REDUCING, TRADING_HALTED). */
export function stateEvent(m: TradingStateChanged): AlertEvent {
  const code = m.state === 'active' ? 'TRADING_ACTIVE' : m.state === 'reducing' ? 'TRADING_REDUCING' : 'TRADING_HALTED';
  return event(m.type, code, `trading ${m.state}: ${m.reason}`, m.ts);
}

/** Returns the event of the engine halting (an actor spent its restart budget). */
export function haltEvent(m: SystemHalted): AlertEvent {
  return event(m.type, 'SYSTEM_HALTED', `engine halted: ${m.reason}`, m.ts, m.actor ? { actor: m.actor } : {});
}

/** Returns the event of an actor that failed for good, or undefined for its other states. */
export function actorEvent(m: ActorStatus): AlertEvent | undefined {
  return m.status === 'failed' ? event(m.type, 'ACTOR_FAILED', `actor ${m.actor} failed and is not restarted`, m.ts, { actor: m.actor }) : undefined;
}

const VENUE_CODE: Readonly<Partial<Record<VenueStatus['status'], AlertCode>>> = {
  circuitOpen: 'VENUE_CIRCUIT_OPEN', rateLimited: 'VENUE_RATE_LIMITED', banned: 'VENUE_BANNED',
};

// A 429 or 418 again this long after the last one's end is a new episode: a resend made as the wait ends and limited
// again continues the old one (the executor resends at its untilTs; a live clock fires a few ms late).
const NEW_EPISODE_AFTER_MS = 10_000;

/**
 * Returns the event of the executor's venue status given the venue's last one (`was`, and the end it named,
 * `wasUntilTs`): entering circuitOpen, rateLimited or banned, the same again after the last one's end (a new episode,
 * should no `up` have come between), and `up` after one of them; undefined for a repeat, reconciling, or up after up.
 */
export function venueEvent(m: VenueStatus, was: VenueStatus['status'] | undefined, wasUntilTs?: number): AlertEvent | undefined {
  const newEpisode = wasUntilTs !== undefined && m.ts > wasUntilTs + NEW_EPISODE_AFTER_MS;
  if (m.status === was && !newEpisode) return undefined;
  const code = VENUE_CODE[m.status];
  if (code) return event(m.type, code, `venue ${m.venue} ${m.status}: ${m.reason}`, m.ts, { venue: m.venue });
  if (m.status === 'up' && was !== undefined && VENUE_CODE[was]) return event(m.type, 'VENUE_UP', `venue ${m.venue} up again: ${m.reason}`, m.ts, { venue: m.venue });
  return undefined;
}

const MODEL_CODE: Readonly<Record<ModelHealthChange, AlertCode>> = {
  degraded: 'MODEL_DEGRADED', recovered: 'MODEL_RECOVERED', overconfident: 'MODEL_OVERCONFIDENT', calibrated: 'MODEL_CALIBRATED', reset: 'MODEL_RESET',
};
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/**
 * Returns the event of a model health change: MODEL_DEGRADED, MODEL_RECOVERED, MODEL_OVERCONFIDENT, MODEL_CALIBRATED,
 * and MODEL_RESET, the all-clear of a flagged model whose new version (promotion, rollback) starts its window over (the
 * orchestrator publishes a reset only for a flagged model).
 */
export function modelHealthEvent(m: ModelHealthMsg): AlertEvent {
  const code = MODEL_CODE[m.change];
  if (m.change === 'reset') {
    // The message carries the state after the reset (ok); which flag the old version had is not in it.
    return event(m.type, code, `model ${m.model}: window restarted for version ${m.version}; the previous version was degraded or overconfident`, m.ts);
  }
  const figures = m.change === 'overconfident' || m.change === 'calibrated'
    ? `mean confidence ${pct(m.meanConfidence)} against accuracy ${pct(m.accuracy)}`
    : `accuracy ${pct(m.accuracy)} against ${pct(m.baseline)} for always ${m.baselineAction ?? 'the most frequent move'} (p ${m.pValue.toFixed(3)})`;
  return event(m.type, code, `model ${m.model}@${m.version} ${m.change}: ${figures} over its last ${m.judged} judged predictions`, m.ts);
}

/**
 * Returns the event of a reconciliation that found booked positions the venue's balances do not cover or orders whose
 * status it could not learn; undefined for a clean one. The message carries the symbols and the count only: the
 * booked and venue quantities are in the executor's POSITION_MISMATCH log line.
 */
export function reconcileEvent(m: Reconciled): AlertEvent | undefined {
  const found: string[] = [];
  if (m.positionMismatches.length > 0) {
    found.push(`booked position above the venue's balance for ${m.positionMismatches.join(', ')} (quantities in the POSITION_MISMATCH log line)`);
  }
  if (m.ordersUnresolved > 0) found.push(`${m.ordersUnresolved} order(s) left unresolved (their status query failed)`);
  if (found.length === 0) return undefined;
  const symbol = m.positionMismatches.length === 1 ? { symbol: m.positionMismatches[0]! } : {};
  return event(m.type, 'RECONCILE_MISMATCH', `reconciliation with ${m.venue}: ${found.join('; ')}`, m.ts, { venue: m.venue, ...symbol });
}

// A reconciliation's findings, '' when clean: the executor's polls repeat an unresolved order every run, pushed once.
const reconcileKey = (m: Reconciled): string => (reconcileEvent(m) ? `${[...m.positionMismatches].sort().join(',')}|${m.ordersUnresolved}` : '');

/** What the webhook keeps of an approved order to tell an exit's rejection from an entry's. */
export type ApprovedOrder = Pick<OrderIntent, 'symbol' | 'side' | 'reduceOnly'>;

/**
 * Returns the event of a rejected order: EXIT_REJECTED (critical) when its approval said reduce-only (an exit: a
 * position that may not close), else ORDER_REJECTED; `order` is undefined for one approved before the webhook started.
 */
export function rejectionEvent(m: OrderRejected, order: ApprovedOrder | undefined): AlertEvent {
  const exit = order?.reduceOnly === true;
  const what = `${exit ? 'exit' : 'order'} ${order ? `${order.side} ${order.symbol} ` : ''}${m.clientOrderId}`;
  return event(m.type, exit ? 'EXIT_REJECTED' : 'ORDER_REJECTED', `${what} rejected ${m.code}: ${m.message}`, m.ts, order ? { symbol: order.symbol } : {});
}

/** Where a feed that dropped stands: its down state and since when. */
export interface FeedDown { readonly status: FeedState; readonly since: number }

// No market data from the feed: reconnecting after a drop, or given up. `ended` and `stopped` are a replay's end and a
// shutdown, not an outage.
const FEED_DOWN_STATES: ReadonlySet<FeedState> = new Set(['waiting', 'failed']);
const FEED_OVER_STATES: ReadonlySet<FeedState> = new Set(['ended', 'stopped']);

/**
 * Returns a feed's down state after `m` given the one before, and the event: FEED_DOWN on entering a down state (or
 * another one), FEED_UP on `live` after one; none for the first `live`, a repeat, or connecting attempts.
 */
export function feedStep(m: FeedStatusMsg, was: FeedDown | undefined): { down: FeedDown | undefined; event?: AlertEvent } {
  const name = `market data feed ${m.venue} (${m.source})`;
  const detail = m.detail ? `: ${m.detail}` : '';
  if (FEED_DOWN_STATES.has(m.status)) {
    if (was?.status === m.status) return { down: was };
    return { down: { status: m.status, since: was?.since ?? m.ts }, event: event(m.type, 'FEED_DOWN', `${name} ${m.status}, no market data${detail}`, m.ts, { venue: m.venue }) };
  }
  if (m.status === 'live' && was) {
    const s = Math.round((m.ts - was.since) / 1_000);
    return { down: undefined, event: event(m.type, 'FEED_UP', `${name} live again after ${s} s ${was.status}${detail}`, m.ts, { venue: m.venue }) };
  }
  return { down: m.status === 'live' || FEED_OVER_STATES.has(m.status) ? undefined : was };
}

/** Returns the event of the REST market data moving to the fallback venue (FEED_FALLBACK) or back (FEED_PRIMARY). */
export function feedSourceEvent(m: FeedSourceMsg): AlertEvent {
  return m.status === 'fallback'
    ? event(m.type, 'FEED_FALLBACK', `market data (klines, prices) from ${m.fallback} instead of ${m.primary}: ${m.reason}`, m.ts, { venue: m.venue })
    : event(m.type, 'FEED_PRIMARY', `market data (klines, prices) from ${m.primary} again: ${m.reason}`, m.ts, { venue: m.venue });
}

/** Returns the event of a graceful shutdown beginning. */
export function stoppingEvent(m: ShutdownStarted): AlertEvent {
  return event(m.type, 'ENGINE_STOPPING', `engine stopping (${m.signal})`, m.ts);
}

/** Returns the event `cobalt alerts test` posts. */
export function testEvent(ts: number): AlertEvent {
  return event('alerts.test', 'TEST', 'test alert from `cobalt alerts test`: this webhook receives cobalt alerts', ts);
}

/** What the alerts of one code beyond maxPerMinute came to: how many, and the first one's message. */
export interface Coalesced { readonly count: number; readonly first: string }

// A summary quotes each code's first message, so that one line says what happened; a long one is cut.
const FIRST_MESSAGE_CHARS = 120;
const cut = (s: string): string => (s.length > FIRST_MESSAGE_CHARS ? `${s.slice(0, FIRST_MESSAGE_CHARS - 1)}…` : s);
const rankOf = (code: string): number => ALERT_SEVERITIES.indexOf(ALERT_SEVERITY[code as AlertCode]);

/**
 * Returns the summary line's event of the alerts beyond maxPerMinute, by code: most severe first, then most frequent;
 * its severity is the highest among them, and each code's first message is quoted.
 */
export function summaryEvent(counts: ReadonlyMap<string, Coalesced>, ts: number): AlertEvent {
  const sorted = [...counts].sort((a, b) => rankOf(b[0]) - rankOf(a[0]) || b[1].count - a[1].count || a[0].localeCompare(b[0]));
  const total = sorted.reduce((n, [, c]) => n + c.count, 0);
  const parts = sorted.map(([code, c]) => `${code}×${c.count} (first: ${cut(c.first)})`);
  const message = `${total} more alert${total === 1 ? '' : 's'}: ${parts.join('; ')}`;
  const severity = ALERT_SEVERITIES[Math.max(...sorted.map(([code]) => rankOf(code)))]!;
  return {
    type: 'alerts.summary', code: 'COALESCED', severity, message, ts,
    counts: Object.fromEntries(sorted.map(([code, c]) => [code, c.count])), firsts: Object.fromEntries(sorted.map(([code, c]) => [code, cut(c.first)])),
  };
}

/** Who sent an alert: the config's mode and the account (venue) traded. */
export interface AlertSource { readonly mode: string; readonly account: string }

/** Returns the JSON body posted for `ev`: one Slack-compatible `text` line and the event's fields. */
export function alertBody(ev: AlertEvent, from: AlertSource): { text: string; event: Record<string, unknown> } {
  const head = ev.code === 'COALESCED' ? `${ev.severity.toUpperCase()} ` : `${ev.severity.toUpperCase()} ${ev.code}${ev.symbol && !ev.message.includes(ev.symbol) ? ` ${ev.symbol}` : ''}: `;
  return {
    text: `[cobalt ${from.mode} ${from.account}] ${head}${ev.message}`,
    event: { ...ev, time: new Date(ev.ts).toISOString(), mode: from.mode, account: from.account },
  };
}

/** What one POST came to: a 2xx, another status (with its Retry-After in ms and the start of its body), or no answer. */
export type PostOutcome =
  | { readonly kind: 'ok'; readonly status: number }
  | { readonly kind: 'status'; readonly status: number; readonly retryAfterMs: number | undefined; readonly body: string }
  | { readonly kind: 'error'; readonly error: string };

// The longest Retry-After honoured: a longer one would hold every later alert back for it (the queue then drops them).
const MAX_RETRY_AFTER_MS = 300_000;
const BODY_SHOWN_CHARS = 200;

// RFC 7231 §7.1.3: delay-seconds, or an HTTP-date in its preferred form (IMF-fixdate). Date.parse alone would take
// "2026" for a year and "1.5" or "-1" for dates long past, each then read as "retry at once".
const DELAY_SECONDS = /^\d+$/;
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * Returns a Retry-After header (delay-seconds, or an IMF-fixdate against `nowMs`) in ms, at most 5 minutes; undefined
 * if absent or in any other form (the normal backoff then applies).
 */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  const v = header?.trim() ?? '';
  const ms = DELAY_SECONDS.test(v) ? Number(v) * 1_000 : IMF_FIXDATE.test(v) ? Date.parse(v) - nowMs : Number.NaN;
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS) : undefined;
}

/**
 * POSTs `body` as JSON to `url` within `timeoutMs`; never throws. No outcome names the URL beyond its host: a fetch
 * error that would carry it has it replaced.
 */
export async function postJson(url: URL, body: unknown, timeoutMs: number, opts: { signal?: AbortSignal; nowMs?: () => number } = {}): Promise<PostOutcome> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal, redirect: 'error' });
    // An accepted alert is delivered: waiting for the rest of a slow answer would time it out and post it again.
    if (res.ok) {
      void res.body?.cancel().catch(() => undefined);
      return { kind: 'ok', status: res.status };
    }
    const text = await res.text();
    const nowMs = opts.nowMs?.() ?? Date.now();
    return { kind: 'status', status: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after'), nowMs), body: hostOnly(text.slice(0, BODY_SHOWN_CHARS), url) };
  } catch (err) {
    if (timeout.aborted) return { kind: 'error', error: `no answer within ${timeoutMs} ms` };
    const e = err as Error & { cause?: { code?: unknown; message?: unknown } };
    const cause = e.cause ? ` (${String(e.cause.code ?? e.cause.message)})` : '';
    return { kind: 'error', error: hostOnly(`${e.message}${cause}`, url) };
  }
}

// A path segment or query value this long may be (part of) the token: a receiver that echoes the request shows its
// path in its own words (Express: "Cannot POST /bot123:AAH…/sendMessage"), with or without the query.
const TOKEN_LIKE_CHARS = 8;

// `text` with the URL, its path and its query replaced by the host, and any token-like piece of them blanked.
function hostOnly(text: string, url: URL): string {
  let out = text;
  for (const part of [url.href, `${url.host}${url.pathname}${url.search}`, `${url.pathname}${url.search}`, url.pathname, url.search]) {
    if (part.length > 1 && part !== '/') out = out.split(part).join(url.host);
  }
  for (const piece of tokenLikePieces(url)) out = out.split(piece).join('[redacted]');
  return out;
}

// The path's segments and the query's values of TOKEN_LIKE_CHARS or more, as sent and decoded, longest first.
function tokenLikePieces(url: URL): string[] {
  const raw = [...url.pathname.split('/'), ...url.search.slice(1).split('&').flatMap((kv) => kv.split('='))];
  const decoded = raw.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return [...new Set([...raw, ...decoded])].filter((p) => p.length >= TOKEN_LIKE_CHARS).sort((a, b) => b.length - a.length);
}

/** Options of an AlertsWebhook. */
export interface AlertsWebhookOptions {
  readonly url: URL;
  readonly settings: WebhookSettings;
  readonly from: AlertSource;
  readonly logger: Logger;
  /** Runs the waits (retries, the minute of maxPerMinute): wall time by default, whatever the engine's clock is. */
  readonly clock?: Clock;
  /** Wait before the first retry, doubled for each next one up to 30 s (default 1 s). */
  readonly backoffMs?: number;
}

const MINUTE_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;
/** How long the rejections of one code are folded into one line after one is posted. */
export const REJECTION_FOLD_MS = 300_000;
// Approvals remembered to tell an exit's rejection: an exit is rejected within seconds, an older order is an entry.
const APPROVALS_KEPT = 1_000;

/**
 * Posts the first rejection of each key (alert code and rejection code) and folds the next ones for REJECTION_FOLD_MS
 * of the webhook's clock: a venue refusing every order (a short balance) makes one line per 5 min, not one per decision.
 * When the time is up and some were folded, one line says how many ("INSUFFICIENT_BALANCE ×7 in the last 5 min") and
 * folds the following 5 min; when none were, the next rejection is posted at once.
 */
class RejectionFolds {
  private readonly folds = new Map<string, { count: number; latest: AlertEvent; rejectCode: string; timer: TimerHandle }>();

  constructor(private readonly clock: Clock, private readonly post: (ev: AlertEvent) => void) {}

  add(ev: AlertEvent, rejectCode: string): void {
    const key = `${ev.code}:${rejectCode}`;
    const f = this.folds.get(key);
    if (f) {
      f.count++;
      f.latest = ev;
      return;
    }
    this.post(ev);
    this.open(key, ev, rejectCode);
  }

  /** Posts what is folded now (a shutdown) and forgets the folds. */
  flush(): void {
    for (const key of [...this.folds.keys()]) this.close(key, false);
  }

  stop(): void {
    for (const f of this.folds.values()) this.clock.clearTimeout(f.timer);
    this.folds.clear();
  }

  private open(key: string, latest: AlertEvent, rejectCode: string): void {
    this.folds.set(key, { count: 0, latest, rejectCode, timer: this.clock.setTimeout(() => this.close(key, true), REJECTION_FOLD_MS) });
  }

  private close(key: string, reopen: boolean): void {
    const f = this.folds.get(key);
    if (!f) return;
    this.clock.clearTimeout(f.timer);
    this.folds.delete(key);
    if (f.count === 0) return;
    const { latest } = f;
    this.post({ ...latest, message: `${f.rejectCode} ×${f.count} in the last 5 min (latest: ${latest.message})` });
    if (reopen) this.open(key, latest, f.rejectCode);
  }
}

/** Pushes alerts to a webhook: see the header. */
export class AlertsWebhook {
  private readonly url: URL;
  private readonly settings: WebhookSettings;
  private readonly from: AlertSource;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly backoffMs: number;
  private readonly minRank: number;
  private readonly codes: ReadonlySet<string> | undefined;
  private readonly queue: AlertEvent[] = [];
  private readonly counts = { sent: 0, failed: 0, dropped: 0, coalesced: 0, retried: 0 };
  private sending = false;
  private pumpScheduled = false;
  private stopped = false;
  private abandoned = false;
  private inFlight: AbortController | undefined;
  private waiting: { handle: TimerHandle; resolve: () => void } | undefined;
  private idleWaiters: (() => void)[] = [];
  // The minute maxPerMinute counts in: from its first alert; what came beyond the limit, by code.
  private window: { count: number; timer: TimerHandle } | undefined;
  private readonly beyond = new Map<string, Coalesced>();
  private readonly folds: RejectionFolds;
  private overflowWarned = false;
  private failing = false;
  private readonly statusesLogged = new Set<number>();
  private unsubscribe: Unsubscribe | undefined;

  constructor(opts: AlertsWebhookOptions) {
    this.url = opts.url;
    this.settings = opts.settings;
    this.from = opts.from;
    this.clock = opts.clock ?? new LiveClock();
    this.backoffMs = opts.backoffMs ?? 1_000;
    this.minRank = ALERT_SEVERITIES.indexOf(opts.settings.minSeverity);
    this.codes = opts.settings.codes ? new Set(opts.settings.codes) : undefined;
    this.log = opts.logger.child({ component: 'alerts-webhook', host: opts.url.host });
    this.folds = new RejectionFolds(this.clock, (ev) => this.push(ev));
  }

  /** Returns the counts since start and the alerts waiting (for /metrics). */
  counters(): WebhookCounters {
    return { ...this.counts, queued: this.queue.length };
  }

  /** Queues `ev` unless filtered out or beyond maxPerMinute (then counted for the summary); never throws. */
  push(ev: AlertEvent): void {
    try {
      if (this.stopped || !this.wanted(ev)) return;
      if (!this.admit(ev)) return;
      this.enqueue(ev);
    } catch (err) {
      this.log.error({ err, code: 'ALERT_WEBHOOK_PUSH' }, 'alert not queued for the webhook');
    }
  }

  /** Pushes the daemon's start (mode, account, traded symbol). */
  started(symbol: string, ts: number): void {
    this.push(event('sys.started', 'ENGINE_STARTED', `engine running: mode ${this.from.mode}, account ${this.from.account}, trading ${symbol}`, ts, { symbol }));
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
   * Posts the summary of what went beyond maxPerMinute and the rejections folded so far now, then resolves once everything queued is posted (or given
   * up) or after `deadlineMs`, when what is left is dropped (counted) and the post in flight abandoned.
   */
  async flush(deadlineMs: number): Promise<void> {
    this.folds.flush();
    this.closeWindow();
    if (this.idle()) return;
    let timer: TimerHandle | undefined;
    const done = await new Promise<boolean>((resolve) => {
      this.idleWaiters.push(() => resolve(true));
      timer = this.clock.setTimeout(() => resolve(false), deadlineMs);
    });
    this.clock.clearTimeout(timer);
    if (done) return;
    const left = this.queue.length + (this.sending ? 1 : 0);
    this.abandon();
    this.counts.dropped += left;
    this.log.warn({ code: 'ALERT_WEBHOOK_UNSENT', left, deadlineMs }, `${left} alert(s) not sent to ${this.url.host} before the shutdown deadline`);
  }

  /** Stops: unsubscribes, cancels the waits and the post in flight; later pushes are ignored. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.folds.stop();
    if (this.window) this.clock.clearTimeout(this.window.timer);
    this.window = undefined;
    this.abandon();
  }

  // Pushes the event of bus message `m`, if it has one; a mapping that throws is logged, never thrown to the publisher.
  private pushOf<M extends EngineMsg>(m: M, map: (m: M) => AlertEvent | undefined): void {
    let ev: AlertEvent | undefined;
    try {
      ev = map(m);
    } catch (err) {
      this.log.error({ err, code: 'ALERT_WEBHOOK_PUSH', type: m.type }, 'alert not queued for the webhook');
      return;
    }
    if (ev) this.push(ev);
  }

  private wanted(ev: AlertEvent): boolean {
    return ALERT_SEVERITIES.indexOf(ev.severity) >= this.minRank && (this.codes === undefined || this.codes.has(ev.code));
  }

  // True when `ev` fits in this minute's maxPerMinute; otherwise counts it for the minute's summary. A critical alert
  // (trading stopped, the venue lost) is never held back for a minute behind a storm of lesser ones: it always goes
  // out, and counts against the budget of those.
  private admit(ev: AlertEvent): boolean {
    if (this.window === undefined) {
      this.window = { count: 0, timer: this.clock.setTimeout(() => this.closeWindow(), MINUTE_MS) };
    }
    if (this.window.count < this.settings.maxPerMinute || ev.severity === 'critical') {
      this.window.count++;
      return true;
    }
    const seen = this.beyond.get(ev.code);
    this.beyond.set(ev.code, { count: (seen?.count ?? 0) + 1, first: seen?.first ?? ev.message });
    this.counts.coalesced++;
    return false;
  }

  private closeWindow(): void {
    if (this.window) this.clock.clearTimeout(this.window.timer);
    this.window = undefined;
    if (this.beyond.size === 0) return;
    const summary = summaryEvent(this.beyond, this.clock.now());
    this.beyond.clear();
    this.enqueue(summary);
  }

  private enqueue(ev: AlertEvent): void {
    this.queue.push(ev);
    if (this.queue.length > this.settings.queueSize) {
      this.queue.splice(this.evictionIndex(), 1);
      this.counts.dropped++;
      if (!this.overflowWarned) {
        this.overflowWarned = true;
        this.log.warn({ code: 'ALERT_WEBHOOK_QUEUE_FULL', queueSize: this.settings.queueSize }, `alerts queue full (${this.settings.queueSize}): dropping the least severe, oldest first, until ${this.url.host} catches up`);
      }
    }
    this.schedulePump();
  }

  // The queued alert a full queue drops: the oldest of the least severe, so a halt is never dropped to keep info lines.
  private evictionIndex(): number {
    let at = 0;
    for (let i = 1; i < this.queue.length; i++) {
      if (ALERT_SEVERITIES.indexOf(this.queue[i]!.severity) < ALERT_SEVERITIES.indexOf(this.queue[at]!.severity)) at = i;
    }
    return at;
  }

  // Posts from the next event-loop turn, never inside the bus delivery that pushed.
  private schedulePump(): void {
    if (this.sending || this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.sending || this.stopped) return this.notifyIfIdle();
    this.sending = true;
    try {
      for (let ev = this.queue.shift(); ev !== undefined && !this.abandoned; ev = this.queue.shift()) await this.deliver(ev);
    } catch (err) {
      this.log.error({ err, code: 'ALERT_WEBHOOK_FAILED' }, 'alerts webhook sender failed');
    } finally {
      this.sending = false;
      this.abandoned = false;
      this.overflowWarned = false;
      this.notifyIfIdle();
    }
  }

  private async deliver(ev: AlertEvent): Promise<void> {
    const body = alertBody(ev, this.from);
    for (let attempt = 0; ; attempt++) {
      this.inFlight = new AbortController();
      const out = await postJson(this.url, body, this.settings.timeoutMs, { signal: this.inFlight.signal, nowMs: () => this.clock.now() });
      this.inFlight = undefined;
      if (this.abandoned) return;
      if (out.kind === 'ok') return this.delivered();
      if (out.kind === 'status' && out.status < 500 && out.status !== 429) return this.refused(ev, out.status, out.body);
      const why = out.kind === 'error' ? out.error : `HTTP ${out.status}`;
      if (attempt >= this.settings.retries) return this.gaveUp(ev, why, attempt + 1);
      this.counts.retried++;
      const retryAfter = out.kind === 'status' ? out.retryAfterMs : undefined;
      await this.wait(retryAfter ?? Math.min(this.backoffMs * 2 ** attempt, MAX_BACKOFF_MS));
      if (this.abandoned) return;
    }
  }

  private delivered(): void {
    this.counts.sent++;
    if (!this.failing) return;
    this.failing = false;
    this.log.info({ code: 'ALERT_WEBHOOK_OK' }, `alerts reach ${this.url.host} again`);
  }

  // A 4xx other than 429: this webhook will not take it however often it is sent.
  private refused(ev: AlertEvent, status: number, body: string): void {
    this.counts.failed++;
    if (this.statusesLogged.has(status)) return;
    this.statusesLogged.add(status);
    this.log.error({ code: 'ALERT_WEBHOOK_REFUSED', status, body, alert: ev.code },
      `${this.url.host} refused an alert with HTTP ${status} (not retried; later refusals with this status are counted, not logged): check COBALT_ALERTS_WEBHOOK_URL and the service's expected body`);
  }

  private gaveUp(ev: AlertEvent, why: string, attempts: number): void {
    this.counts.failed++;
    const fields = { code: 'ALERT_WEBHOOK_UNREACHABLE', alert: ev.code, attempts, error: why };
    if (this.failing) return void this.log.debug(fields, 'alert not sent');
    this.failing = true;
    this.log.warn(fields, `alert ${ev.code} not sent to ${this.url.host} after ${attempts} attempt(s): ${why}`);
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.clock.setTimeout(() => {
        this.waiting = undefined;
        resolve();
      }, ms);
      this.waiting = { handle, resolve };
    });
  }

  // Ends the current delivery at once (the shutdown's deadline, stop): drops the queue, cuts the wait, aborts the post.
  private abandon(): void {
    if (this.sending) this.abandoned = true;
    this.queue.length = 0;
    this.inFlight?.abort();
    const w = this.waiting;
    this.waiting = undefined;
    if (w) {
      this.clock.clearTimeout(w.handle);
      w.resolve();
    }
  }

  private idle(): boolean {
    return !this.sending && !this.pumpScheduled && this.queue.length === 0;
  }

  private notifyIfIdle(): void {
    if (!this.idle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
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
