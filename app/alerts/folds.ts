// What the alerts webhook folds before its queue, so that one story makes one post: the rejections of one code (a venue
// refusing every order makes one line per 5 min), and the consequences of one cause (an actor failing halts the engine,
// which turns the kill switch on, which halts trading: four critical alerts within milliseconds, posted as one; a
// drawdown and the trading halt it causes: one post).
import { ALERT_SEVERITIES } from '../../engine/config/schema.ts';
import type { Clock, TimerHandle } from '../../engine/runtime/clock.ts';
import { isAlertCode, type AlertCode, type AlertEvent } from './events.ts';

/** How long the rejections of one code are folded into one line after one is posted. */
export const REJECTION_FOLD_MS = 300_000;

/**
 * Posts the first rejection of each key (alert code and rejection code) and folds the next ones for REJECTION_FOLD_MS
 * of the webhook's clock: a venue refusing every order (a short balance) makes one line per 5 min, not one per decision.
 * When the time is up and some were folded, one line says how many ("INSUFFICIENT_BALANCE ×7 in the last 5 min") and
 * folds the following 5 min; when none were, the next rejection is posted at once.
 */
export class RejectionFolds {
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

/** How long a cause waits for its consequences before it is posted with those that came. */
export const CAUSE_FOLD_MS = 2_000;

// What follows from each cause, within milliseconds of it: a failed actor halts the engine (the supervisor), the
// engine's halt turns the kill switch on (app/system.ts), and the kill switch halts trading (the RiskManager). A
// drawdown alert comes with the move of the trading state it caused, in the same RiskManager step: halted at
// maxDrawdownBps, reducing at reduceAtDrawdownBps.
const CONSEQUENCES: Readonly<Partial<Record<AlertEvent['code'], readonly AlertCode[]>>> = {
  ACTOR_FAILED: ['SYSTEM_HALTED', 'KILL_SWITCH', 'TRADING_HALTED'],
  SYSTEM_HALTED: ['KILL_SWITCH', 'TRADING_HALTED'],
  KILL_SWITCH: ['TRADING_HALTED'],
  DRAWDOWN: ['TRADING_HALTED', 'TRADING_REDUCING'],
};
// Causes followed by one of their consequences, never more: the first that comes ends the wait.
const ONE_OF: ReadonlySet<AlertEvent['code']> = new Set(['DRAWDOWN']);
// Causes whose consequence comes in the same synchronous step (the RiskManager emits the drawdown alert and the state
// change together): held to the end of the event-loop turn, not CAUSE_FOLD_MS, since nothing of theirs comes later.
// That step emits its VaR alerts between the two (logic.ts onMark: the drawdown alert, then VaR, then the transition
// the machine raises), so an alert that is no cause is held behind such a fold, posted right after it, rather than
// ending it.
const SAME_STEP: ReadonlySet<AlertEvent['code']> = new Set(['DRAWDOWN']);

// A message's head, what happened, before the colon that starts its reason ("kill switch on: system halted: …").
const headOf = (message: string): string => {
  const at = message.indexOf(': ');
  return at > 0 ? message.slice(0, at) : message;
};

/**
 * Returns the one event posted for `cause` and what followed from it: the cause's code and fields, its message and then
 * what each consequence did ("actor risk failed and is not restarted → engine halted, kill switch on, trading halted"),
 * the highest severity among them, and each consequence's code and whole message in `consequences`.
 */
export function causeEvent(cause: AlertEvent, consequences: readonly (AlertEvent & { code: AlertCode })[]): AlertEvent {
  if (consequences.length === 0) return cause;
  const rank = Math.max(...[cause, ...consequences].map((e) => ALERT_SEVERITIES.indexOf(e.severity)));
  return {
    ...cause,
    severity: ALERT_SEVERITIES[rank]!,
    message: `${cause.message} → ${consequences.map((c) => headOf(c.message)).join(', ')}`,
    consequences: consequences.map((c) => ({ code: c.code, message: c.message })),
  };
}

interface CauseFold {
  readonly cause: AlertEvent;
  readonly awaited: Set<AlertEvent['code']>;
  readonly came: (AlertEvent & { code: AlertCode })[];
  /** Alerts with no consequences that came during a SAME_STEP fold: posted after it, in the order they came. */
  readonly behind: AlertEvent[];
  /** Cancels the end of the wait. */
  readonly cancel: () => void;
}

/**
 * Holds a cause (ACTOR_FAILED, SYSTEM_HALTED, KILL_SWITCH) for up to CAUSE_FOLD_MS of the webhook's clock, a DRAWDOWN to
 * the end of the event-loop turn, and posts it with the consequences that come meanwhile, each code once: at once when
 * the last one awaited comes (for a drawdown, the one trading state it moved to), else when the time is up, when any
 * other alert comes (posts keep the order of events), or at a flush. A DRAWDOWN's fold is ended early only by another
 * cause: an alert with nothing to wait for (the VaR alerts of the drawdown's step) is posted right after it. Everything
 * else is posted at once. `awaits` leaves out the codes the webhook would not post, which never come here.
 */
export class CauseFolds {
  private fold: CauseFold | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly post: (ev: AlertEvent) => void,
    private readonly awaits: (code: AlertCode) => boolean,
  ) {}

  add(ev: AlertEvent): void {
    const f = this.fold;
    const code = ev.code;
    if (f && isAlertCode(code) && f.awaited.delete(code)) {
      f.came.push({ ...ev, code });
      if (ONE_OF.has(f.cause.code)) f.awaited.clear();
      if (f.awaited.size === 0) this.close();
      return;
    }
    const awaited = this.awaitedOf(ev);
    if (f && awaited.length === 0 && SAME_STEP.has(f.cause.code)) {
      f.behind.push(ev);
      return;
    }
    // Anything else ends the wait first, so posts keep the order things happened in: a "kill switch on" held for a
    // TRADING_HALTED that never comes (trading was halted already) must not arrive after the "kill switch off".
    this.close();
    if (awaited.length === 0) return this.post(ev);
    this.fold = { cause: ev, awaited: new Set(awaited), came: [], behind: [], cancel: this.waitFor(code) };
  }

  /** Posts the cause held now and the alerts held behind it (a shutdown). */
  flush(): void {
    this.close();
  }

  stop(): void {
    this.fold?.cancel();
    this.fold = undefined;
  }

  // The consequences `ev` waits for, as far as the webhook posts them; none for an alert that causes nothing.
  private awaitedOf(ev: AlertEvent): AlertCode[] {
    // The switch turned off has no consequence to wait for: trading resumes (or stays halted, said in its message).
    if (ev.code === 'KILL_SWITCH' && ev.message.startsWith('kill switch off')) return [];
    return (CONSEQUENCES[ev.code] ?? []).filter(this.awaits);
  }

  // Ends the wait of a `code` cause when its time is up; returns the function that cancels that.
  private waitFor(code: AlertEvent['code']): () => void {
    if (SAME_STEP.has(code)) {
      const t = setImmediate(() => this.close());
      return () => clearImmediate(t);
    }
    const t = this.clock.setTimeout(() => this.close(), CAUSE_FOLD_MS);
    return () => this.clock.clearTimeout(t);
  }

  private close(): void {
    const f = this.fold;
    if (!f) return;
    this.fold = undefined;
    f.cancel();
    this.post(causeEvent(f.cause, f.came));
    for (const ev of f.behind) this.post(ev);
  }
}
