import type { TsMs } from '../types/time.ts';

// The longest delay Node's setTimeout takes as given (a signed 32-bit int of ms, ~24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A cancellable timer handle. */
export interface TimerHandle { readonly id: number }

/**
 * Time source for every actor: `LiveClock` in production, `SimulatedClock` in backtests and tests.
 * The shape matches xstate v5's `Clock` (setTimeout/clearTimeout) so it can be passed to `createActor`.
 */
export interface Clock {
  /** Returns the current time in ms since the epoch. */
  now(): TsMs;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | unknown): void;
}

/**
 * Wall time that starts at `startMs` (default: now) and runs `speed` times faster than real time; timers fire after
 * `ms / speed` real milliseconds. At speed 1 from now it is the live clock; other settings let "now" follow the data,
 * e.g. a real-speed replay of a 2024 recording, or a venue whose server time is not ours (the exchange simulator).
 */
export class ScaledClock implements Clock {
  readonly startMs: TsMs;
  private readonly wall0: number;
  private next = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();

  constructor(startMs?: TsMs, readonly speed = 1, private readonly wall: () => number = Date.now) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new TypeError(`clock speed ${speed} must be a finite number > 0`);
    this.wall0 = wall();
    this.startMs = startMs ?? this.wall0;
  }

  now(): TsMs {
    return this.startMs + (this.wall() - this.wall0) * this.speed;
  }

  /**
   * Calls `fn` once `now()` has reached now + `ms` (Infinity: never; NaN or negative: as soon as possible). Node runs
   * any delay over 2^31−1 ms after 1 ms, so a longer one waits in parts of at most that. Node's timers run on the
   * monotonic clock while `now()` reads the wall clock, and may fire before `now()` got there (10–100 ms early at
   * speed 10–100): the timer then waits again for what is left.
   */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.next++;
    const due = this.now() + ms;
    const arm = (wallMs: number): void => {
      this.timers.set(id, setTimeout(() => {
        const left = due - this.now();
        if (left > 0) return arm(left / this.speed);
        this.timers.delete(id);
        fn();
      }, Math.min(MAX_TIMER_MS, Math.max(0, wallMs))));
    };
    arm(ms / this.speed);
    return { id };
  }

  clearTimeout(handle: TimerHandle | unknown): void {
    const id = (handle as TimerHandle | undefined)?.id;
    if (id === undefined) return;
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }
}

/** Returns wall-clock time and real timers. */
export class LiveClock extends ScaledClock {
  constructor() {
    super();
  }
}

interface Pending { id: number; at: number; seq: number; fn: () => void }

/** Time moved only by `set`/`advance` (data timestamps or tests); due timers fire in time order, then by creation order. */
export class SimulatedClock implements Clock {
  private t: number;
  private seq = 0;
  private nextId = 1;
  private pending: Pending[] = [];
  // Earliest due time among `pending` (a lower bound after a clear): a backtest calls `set` once per recorded line,
  // and most lines fall before the next timer, so they skip the scan.
  private nextAt = Infinity;
  constructor(start: TsMs = 0) {
    this.t = start;
  }
  now(): TsMs {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    // NaN would make the timer never due (every comparison false); treat it like a negative delay: fire next advance.
    const delay = ms > 0 ? ms : 0;
    const at = this.t + delay;
    this.pending.push({ id, at, seq: this.seq++, fn });
    if (at < this.nextAt) this.nextAt = at;
    return { id };
  }
  clearTimeout(handle: TimerHandle | unknown): void {
    const id = (handle as TimerHandle | undefined)?.id;
    if (id !== undefined) this.pending = this.pending.filter((p) => p.id !== id);
  }
  /** Moves time forward by `ms`, firing every timer that falls due (including ones scheduled while firing). */
  advance(ms: number): void {
    this.set(this.t + ms);
  }
  /** Alias of `advance` matching xstate's SimulatedClock. */
  increment(ms: number): void {
    this.advance(ms);
  }
  /** Moves time to `to` (never backwards), firing due timers in order. */
  set(to: TsMs): void {
    if (to < this.t) return;
    if (to < this.nextAt) {
      this.t = to;
      return;
    }
    for (;;) {
      let best: Pending | undefined;
      let next = Infinity;
      for (const p of this.pending) {
        if (p.at <= to && (!best || p.at < best.at || (p.at === best.at && p.seq < best.seq))) best = p;
        if (p.at < next) next = p.at;
      }
      this.nextAt = next;
      if (!best) break;
      this.pending = this.pending.filter((p) => p !== best);
      this.t = best.at;
      best.fn();
    }
    // A timer callback may itself have advanced past `to`; time must not step back.
    if (to > this.t) this.t = to;
  }
  /** Returns how many timers are waiting. */
  get pendingCount(): number {
    return this.pending.length;
  }
}
