// What the alerts webhook posts, mapped from the bus messages worth an operator's attention: risk alerts, trading-state
// changes, the engine halting, an actor failing, the venue's circuit breaker and rate limits, model health, a
// reconciliation's findings, rejected orders, the market-data feed dropping and moving to the fallback venue, the
// daemon starting, stopping and crashing. Pure functions of the message (and, where a repeat must be told apart, the
// one before).
import { ALERT_CODES, ALERT_SEVERITIES } from '../../engine/config/schema.ts';
import type { Reconciled, VenueStatus } from '../../engine/messages/exec-status.ts';
import type { FeedSourceMsg, FeedState, FeedStatusMsg } from '../../engine/messages/feed.ts';
import type { ActorStatus, ShutdownStarted, SystemHalted } from '../../engine/messages/lifecycle.ts';
import type { ModelHealthChange, ModelHealthMsg } from '../../engine/messages/orchestrator.ts';
import type { OrderIntent, OrderRejected } from '../../engine/messages/orders.ts';
import type { RiskAlert, TradingStateChanged } from '../../engine/messages/risk.ts';
import { describeError, scrubCrashText } from '../../engine/runtime/lifecycle.ts';
import { scrubVenueMessage } from '../../engine/venues/ccxt-exec.ts';

/** A pushed event's stable code (config alerts.webhook.codes). */
export type AlertCode = (typeof ALERT_CODES)[number];
/** How much an event matters (config alerts.webhook.minSeverity). */
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/**
 * The code of the daemon's crash (crashEvent). Not one of ALERT_CODES, which `alerts.webhook.codes` names: a crash is
 * posted whatever that list holds (the webhook's `crashed`).
 */
export const CRASH_CODE = 'ENGINE_CRASHED';

/**
 * One event as posted (the body's `event`); `COALESCED` is the summary of those beyond maxPerMinute, ENGINE_CRASHED the
 * daemon's crash.
 */
export interface AlertEvent {
  /**
   * The bus message it came from ('risk.alert', 'sys.halted', …), or 'sys.started', 'sys.crashed', 'alerts.summary',
   * 'alerts.test'.
   */
  readonly type: string;
  readonly code: AlertCode | 'COALESCED' | typeof CRASH_CODE;
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
  /** A cause posted with what followed from it (an actor failing, then the halt): each consequence's code and message. */
  readonly consequences?: readonly AlertConsequence[];
}

/** One alert folded into the post of its cause (CauseFolds). */
export interface AlertConsequence { readonly code: AlertCode; readonly message: string }

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

/**
 * What each all-clear ends. A full queue ranks it as the most severe of these (alerts/delivery.ts): dropping the
 * "trading active" that followed a "trading halted" would leave the operator's last word a halt that is over.
 */
export const ENDS: Readonly<Partial<Record<AlertCode, readonly AlertCode[]>>> = {
  TRADING_ACTIVE: ['TRADING_HALTED', 'TRADING_REDUCING'], VENUE_UP: ['VENUE_CIRCUIT_OPEN', 'VENUE_RATE_LIMITED', 'VENUE_BANNED'],
  FEED_UP: ['FEED_DOWN'], FEED_PRIMARY: ['FEED_FALLBACK'], MARKET_CLEARED: ['MARKET_MOVE', 'MARKET_STALE', 'MARKET_SPREAD'],
  MODEL_RECOVERED: ['MODEL_DEGRADED'], MODEL_CALIBRATED: ['MODEL_OVERCONFIDENT'], MODEL_RESET: ['MODEL_DEGRADED', 'MODEL_OVERCONFIDENT'],
  // The position is flat at last; an operator resume ends the standing flatten: either way nothing is left to close.
  FLATTENED: ['FLATTEN_INCOMPLETE'], FLATTEN_ENDED: ['FLATTEN_INCOMPLETE'],
};

/** The longest string a post carries (a message, a consequence's); a longer one is cut, ending in '…'. */
export const ALERT_TEXT_CHARS = 2_000;
// A long string is scrubbed this far past its cut, so that a secret across the cut is blanked whole: blanking the cut
// text alone would leave the start of a registered secret or a quoted value. What shows stops this far short of the
// scrubbed window's end, so that a secret across the window's end never shows either (blanking may have shortened the
// text before it). Secrets (keys, signatures, tokens) are far shorter.
const SCRUB_MARGIN_CHARS = 1_024;
const scrub = (text: string): string => scrubVenueMessage(scrubCrashText(text));

/**
 * Returns `text` with what the logs and the crash post blank blanked: credential-named pairs and registered secret
 * values (scrubCrashText), then the venues' signed parameters; cut to `maxChars` (ending in '…') first. Alerts quote
 * errors (an actor's last error in a halt's reason, a venue's answer in a rejection), and a post leaves the process as
 * a log line does. The cut bounds the cost: the credential pattern is quadratic on a long single word.
 */
export function scrubAlertText(text: string, maxChars = ALERT_TEXT_CHARS): string {
  if (text.length <= maxChars) return scrub(text);
  const window = scrub(text.slice(0, maxChars + SCRUB_MARGIN_CHARS));
  return `${window.slice(0, Math.max(0, Math.min(maxChars - 1, window.length - SCRUB_MARGIN_CHARS)))}…`;
}

/** Returns true for a code the config can name (not the summary's COALESCED, nor the crash's ENGINE_CRASHED). */
export const isAlertCode = (code: AlertEvent['code']): code is AlertCode => Object.hasOwn(ALERT_SEVERITY, code);

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
    const flags = m.was ? [m.was.degraded ? 'degraded' : '', m.was.overconfident ? 'overconfident' : ''].filter(Boolean).join(' and ') : '';
    return event(m.type, code, `model ${m.model}: window restarted for version ${m.version}; the previous version was ${flags || 'degraded or overconfident'}`, m.ts);
  }
  const figures = m.change === 'overconfident' || m.change === 'calibrated'
    ? `mean confidence ${pct(m.meanConfidence)} against accuracy ${pct(m.accuracy)}`
    : `accuracy ${pct(m.accuracy)} against ${pct(m.baseline)} for always ${m.baselineAction ?? 'the most frequent move'} (p ${m.pValue.toFixed(3)})`;
  return event(m.type, code, `model ${m.model}@${m.version} ${m.change}: ${figures} over its last ${m.judged} judged predictions`, m.ts);
}

/**
 * Returns the event of a reconciliation that found booked positions the venue's balances do not cover or orders whose
 * status it could not learn; undefined for a clean one. Each position is stated with both quantities, exact
 * ("BTC/USDT (booked 0.003 BTC, venue holds 0 BTC)"): the trader reading it decides from the numbers.
 */
export function reconcileEvent(m: Reconciled): AlertEvent | undefined {
  const found: string[] = [];
  const short = m.positionQuantities;
  if (short.length > 0) {
    const each = short.map((q) => `${q.symbol} (booked ${q.booked} ${q.asset}, venue holds ${q.venue} ${q.asset})`);
    found.push(`booked position above the venue's balance for ${each.join(', ')}`);
  }
  if (m.ordersUnresolved > 0) found.push(`${m.ordersUnresolved} order(s) left unresolved (their status query failed)`);
  if (found.length === 0) return undefined;
  const symbol = short.length === 1 ? { symbol: short[0]!.symbol } : {};
  return event(m.type, 'RECONCILE_MISMATCH', `reconciliation with ${m.venue}: ${found.join('; ')}`, m.ts, { venue: m.venue, ...symbol });
}

/**
 * Returns a reconciliation's findings as a key, '' when clean: the executor's polls repeat an unresolved order every
 * run, pushed once; a mismatch whose quantities changed is pushed again.
 */
export function reconcileKey(m: Reconciled): string {
  // Clean exactly when reconcileEvent has nothing to say.
  if (m.positionQuantities.length === 0 && m.ordersUnresolved === 0) return '';
  const positions = m.positionQuantities.map((q) => `${q.symbol}:${q.booked}:${q.venue}`).sort();
  return `${positions.join(',')}|${m.ordersUnresolved}`;
}

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


/** Returns the event of the daemon starting (mode, account, traded symbol). */
export function startedEvent(mode: string, account: string, symbol: string, ts: number): AlertEvent {
  return event('sys.started', 'ENGINE_STARTED', `engine running: mode ${mode}, account ${account}, trading ${symbol}`, ts, { symbol });
}

// The crash's error as posted: one line, cut (a stack or a huge inspected value is the log line's), credentials blanked
// before the cut (a cut secret would no longer match): named pairs and registered secret values (scrubCrashText), then
// the venues' signed parameters.
const CRASH_TEXT_CHARS = 300;

/**
 * Returns the event of the daemon crashing on `err` (an uncaught exception or unhandled rejection, `origin`): critical,
 * its message naming the error; the process exits without a graceful stop right after posting it.
 */
export function crashEvent(err: unknown, origin: string, ts: number): AlertEvent {
  const what = scrubAlertText(describeError(err)).replace(/\s+/g, ' ');
  const text = what.length > CRASH_TEXT_CHARS ? `${what.slice(0, CRASH_TEXT_CHARS - 1)}…` : what;
  return { type: 'sys.crashed', code: CRASH_CODE, severity: 'critical', message: `engine crashed (${origin}): ${text}; exiting without a graceful stop`, ts };
}
