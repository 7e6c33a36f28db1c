// Delivery of the alerts the webhook takes: a bounded queue posted one request at a time, on its own, never inside the
// bus delivery that pushed. A full queue drops the oldest of its least severe entries (counted, and said in the next
// post), so a halt is never dropped to keep info lines, nor the all-clear that ended it (events.ts ENDS).
// A network error, a timeout or a 5xx is retried with doubling waits; a 429 waits what its Retry-After says; any other
// 4xx, or a redirect, is a webhook that will never take the alert (a revoked token, a bad payload, a moved hook): not
// retried, and logged once per status. Past maxPerMinute alerts in a minute the rest but critical ones are counted by
// code and posted as one summary line when the minute ends ("WARNING 12 more alerts: MARKET_STALE×10 (first: …);
// VAR_WARN_95×2 (first: …)"), or before a critical alert that comes meanwhile: posts keep the order of events, so a
// held "trading active" never follows a later "trading halted".
import { ALERT_SEVERITIES, type Config } from '../../engine/config/schema.ts';
import type { WebhookCounters } from '../../engine/dashboard/metrics.ts';
import type { Logger } from '../../engine/log.ts';
import type { Clock, TimerHandle } from '../../engine/runtime/clock.ts';
import { ALERT_SEVERITY, ENDS, isAlertCode, scrubAlertText, type AlertCode, type AlertEvent } from './events.ts';
import { alertBody, isRedirect, postJson, type AlertSource } from './post.ts';

/** The webhook's settings (config alerts.webhook). */
export type WebhookSettings = Config['alerts']['webhook'];

/** What the alerts of one code beyond maxPerMinute came to: how many, and the first one's message. */
export interface Coalesced { readonly count: number; readonly first: string }

// A summary quotes each code's first message, so that one line says what happened; a long one is cut, after its
// secrets are blanked (a cut secret would no longer match).
const FIRST_MESSAGE_CHARS = 120;
const cut = (text: string): string => {
  const s = scrubAlertText(text);
  return s.length > FIRST_MESSAGE_CHARS ? `${s.slice(0, FIRST_MESSAGE_CHARS - 1)}…` : s;
};
const rankOf = (code: string): number => ALERT_SEVERITIES.indexOf(ALERT_SEVERITY[code as AlertCode]);
// A code ranks as the most severe of itself and what it ends (events.ts ENDS); a summary as the highest of the codes it
// stands for: one holding back a "trading active" outlives lesser alerts as that alert would have.
const codeRank = (code: AlertEvent['code']): number => Math.max(rankOf(code), ...(isAlertCode(code) ? ENDS[code] ?? [] : []).map(rankOf));
const evictionRank = (ev: AlertEvent): number =>
  Math.max(ALERT_SEVERITIES.indexOf(ev.severity), ...(ev.code === 'COALESCED' ? Object.keys(ev.counts ?? {}) as AlertEvent['code'][] : [ev.code]).map(codeRank));

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

/** What a WebhookDelivery needs: where to, with which settings, logging where, and the clock its waits run on. */
export interface DeliveryOptions {
  readonly url: URL;
  readonly settings: WebhookSettings;
  readonly from: AlertSource;
  /** Logs with the URL's host only. */
  readonly log: Logger;
  readonly clock: Clock;
  /** Wait before the first retry, doubled for each next one up to MAX_BACKOFF_MS. */
  readonly backoffMs: number;
}

const MINUTE_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

/** Posts the alerts it is given to one webhook: see the header. `send` only counts and queues. */
export class WebhookDelivery {
  private readonly url: URL;
  private readonly settings: WebhookSettings;
  private readonly from: AlertSource;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly backoffMs: number;
  private readonly queue: AlertEvent[] = [];
  private readonly counts = { sent: 0, failed: 0, dropped: 0, coalesced: 0, retried: 0 };
  private sending = false;
  private pumpScheduled = false;
  // A post that must go first (sendFirst) is under way: the queue waits for it.
  private holding = false;
  private stopped = false;
  private abandoned = false;
  private inFlight: AbortController | undefined;
  private waiting: { handle: TimerHandle; resolve: () => void } | undefined;
  private idleWaiters: (() => void)[] = [];
  // The minute maxPerMinute counts in: from its first alert; what came beyond the limit, by code.
  private window: { count: number; timer: TimerHandle } | undefined;
  private readonly beyond = new Map<string, Coalesced>();
  // The summary's ts: the latest of the alerts it stands for. Not the clock's now: that is wall time (the waits'), and
  // every event's ts is engine time, a replay's the recording's.
  private beyondTs = Number.NEGATIVE_INFINITY;
  private overflowWarned = false;
  // Dropped by a full queue since the last post: the next one says how many.
  private droppedUntold = 0;
  private failing = false;
  private readonly statusesLogged = new Set<number>();

  constructor(opts: DeliveryOptions) {
    this.url = opts.url;
    this.settings = opts.settings;
    this.from = opts.from;
    this.log = opts.log;
    this.clock = opts.clock;
    this.backoffMs = opts.backoffMs;
  }

  /** Returns the counts since start and the alerts waiting (for /metrics). */
  counters(): WebhookCounters {
    return { ...this.counts, queued: this.queue.length };
  }

  /** Queues `ev` unless beyond maxPerMinute (then counted for the minute's summary). */
  send(ev: AlertEvent): void {
    if (this.stopped || !this.admit(ev)) return;
    this.enqueue(ev);
  }

  /**
   * Queues the summary of what went beyond maxPerMinute now, then resolves once everything queued is posted (or given
   * up) or after `deadlineMs`, when what is left is dropped (counted) and the post in flight abandoned.
   */
  async flush(deadlineMs: number): Promise<void> {
    this.closeWindow();
    if (this.idle()) return;
    let timer: TimerHandle | undefined;
    const done = await new Promise<boolean>((resolve) => {
      this.idleWaiters.push(() => resolve(true));
      timer = this.clock.setTimeout(() => resolve(false), deadlineMs);
    });
    this.clock.clearTimeout(timer);
    if (done) return;
    const left = this.abandon();
    this.log.warn({ code: 'ALERT_WEBHOOK_UNSENT', left, deadlineMs }, `${left} alert(s) not sent to ${this.url.host} before the shutdown deadline`);
  }

  /**
   * Posts `ev` at once, ahead of everything queued (which waits meanwhile; a post already in flight goes on), in one
   * attempt of at most `deadlineMs`: the process crashed and exits within seconds, which a retry's wait would outlast.
   * Resolves once it is posted, refused or given up; maxPerMinute does not apply.
   */
  async sendFirst(ev: AlertEvent, deadlineMs: number): Promise<void> {
    if (this.stopped) return;
    this.holding = true;
    try {
      const out = await postJson(this.url, alertBody(ev, this.from), Math.min(deadlineMs, this.settings.timeoutMs), { nowMs: () => this.clock.now() });
      if (out.kind === 'ok') this.delivered();
      else if (out.kind === 'status' && out.status < 500 && out.status !== 429) this.refused(ev, out.status, out.body);
      else this.gaveUp(ev, out.kind === 'error' ? out.error : `HTTP ${out.status}`, 1);
    } finally {
      this.holding = false;
      if (this.queue.length > 0) this.schedulePump();
    }
  }

  /** Stops: cancels the minute, the waits and the post in flight; later sends are ignored. */
  stop(): void {
    this.stopped = true;
    if (this.window) this.clock.clearTimeout(this.window.timer);
    this.window = undefined;
    this.abandon();
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
      // Beyond the budget only a critical alert gets here: what was held back before it goes first, else a held
      // recovery (TRADING_ACTIVE, VENUE_UP) would be posted after the later halt it does not end.
      this.postSummary();
      return true;
    }
    const seen = this.beyond.get(ev.code);
    this.beyond.set(ev.code, { count: (seen?.count ?? 0) + 1, first: seen?.first ?? ev.message });
    this.beyondTs = Math.max(this.beyondTs, ev.ts);
    this.counts.coalesced++;
    return false;
  }

  private closeWindow(): void {
    if (this.window) this.clock.clearTimeout(this.window.timer);
    this.window = undefined;
    this.postSummary();
  }

  // Queues the summary of what went beyond maxPerMinute so far, if anything did.
  private postSummary(): void {
    if (this.beyond.size === 0) return;
    const summary = summaryEvent(this.beyond, this.beyondTs);
    this.beyond.clear();
    this.beyondTs = Number.NEGATIVE_INFINITY;
    this.enqueue(summary);
  }

  private enqueue(ev: AlertEvent): void {
    this.queue.push(ev);
    if (this.queue.length > this.settings.queueSize) {
      this.queue.splice(this.evictionIndex(), 1);
      this.counts.dropped++;
      this.droppedUntold++;
      if (!this.overflowWarned) {
        this.overflowWarned = true;
        this.log.warn({ code: 'ALERT_WEBHOOK_QUEUE_FULL', queueSize: this.settings.queueSize }, `alerts queue full (${this.settings.queueSize}): dropping the least severe, oldest first, until ${this.url.host} catches up`);
      }
    }
    this.schedulePump();
  }

  // The queued alert a full queue drops: the oldest of the least severe, so a halt is never dropped to keep info lines.
  // An all-clear ranks as what it ends: of a halt and the "active" after it the older goes first, and the operator is
  // left with the state trading is in.
  private evictionIndex(): number {
    let at = 0;
    for (let i = 1; i < this.queue.length; i++) if (evictionRank(this.queue[i]!) < evictionRank(this.queue[at]!)) at = i;
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
    if (this.sending || this.stopped || this.holding) return this.notifyIfIdle();
    this.sending = true;
    try {
      for (let ev = this.nextQueued(); ev !== undefined; ev = this.nextQueued()) await this.deliver(ev);
    } catch (err) {
      this.log.error({ err, code: 'ALERT_WEBHOOK_FAILED' }, 'alerts webhook sender failed');
    } finally {
      this.sending = false;
      this.abandoned = false;
      this.overflowWarned = false;
      this.notifyIfIdle();
    }
  }

  // The next alert the pump posts, none while abandoned or while a post that goes first is under way.
  private nextQueued(): AlertEvent | undefined {
    return this.abandoned || this.holding ? undefined : this.queue.shift();
  }

  // Posts `ev`, saying the drops since the last post; one not delivered leaves them to the next.
  private async deliver(ev: AlertEvent): Promise<void> {
    const dropped = this.droppedUntold;
    this.droppedUntold = 0;
    if (!(await this.attempts(ev, alertBody(ev, this.from, dropped)))) this.droppedUntold += dropped;
  }

  // Posts `body` with the retries; true once delivered.
  private async attempts(ev: AlertEvent, body: unknown): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      this.inFlight = new AbortController();
      const out = await postJson(this.url, body, this.settings.timeoutMs, { signal: this.inFlight.signal, nowMs: () => this.clock.now() });
      this.inFlight = undefined;
      if (this.abandoned) return false;
      if (out.kind === 'ok') {
        this.delivered();
        return true;
      }
      if (out.kind === 'status' && out.status < 500 && out.status !== 429) {
        this.refused(ev, out.status, out.body);
        return false;
      }
      const why = out.kind === 'error' ? out.error : `HTTP ${out.status}`;
      if (attempt >= this.settings.retries) {
        this.gaveUp(ev, why, attempt + 1);
        return false;
      }
      this.counts.retried++;
      const retryAfter = out.kind === 'status' ? out.retryAfterMs : undefined;
      await this.wait(retryAfter ?? Math.min(this.backoffMs * 2 ** attempt, MAX_BACKOFF_MS));
      if (this.abandoned) return false;
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
    if (isRedirect(status)) {
      return void this.log.error({ code: 'ALERT_WEBHOOK_REFUSED', status, body, alert: ev.code },
        `${this.url.host} answered an alert with HTTP ${status}, a ${body}: not followed, alerts go to the configured URL only (not retried; later answers with this status are counted, not logged): update COBALT_ALERTS_WEBHOOK_URL to the webhook's new address`);
    }
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

  // Ends the current delivery at once (the shutdown's deadline, stop): drops the queue, cuts the wait, aborts the post;
  // returns how many alerts that dropped (counted), the post in flight among them unless abandoned already.
  private abandon(): number {
    const left = this.queue.length + (this.sending && !this.abandoned ? 1 : 0);
    this.counts.dropped += left;
    if (this.sending) this.abandoned = true;
    this.queue.length = 0;
    this.inFlight?.abort();
    const w = this.waiting;
    this.waiting = undefined;
    if (w) {
      this.clock.clearTimeout(w.handle);
      w.resolve();
    }
    return left;
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
