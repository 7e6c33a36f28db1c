// Coalescing throttle: any number of `mark(topic)` calls between two flushes become one flush naming each dirty topic
// once, and flushes are at least `1000 / maxHz` ms apart on the injected clock. The payload is built at flush time
// from the current state, so intermediate states are dropped and the last state wins.
import type { Clock, TimerHandle } from '../runtime/clock.ts';

/** Options of a throttle. */
export interface ThrottleOptions<T extends string> {
  readonly clock: Clock;
  /** Most flushes per second (e.g. 4). */
  readonly maxHz: number;
  /** Receives the topics marked since the previous flush (never empty). */
  readonly flush: (topics: ReadonlySet<T>) => void;
}

/** Counters of a throttle. */
export interface ThrottleStats {
  /** `mark` calls. */
  marked: number;
  /** Flushes made. */
  flushes: number;
  /** Marks absorbed by a topic already dirty. */
  coalesced: number;
}

/** Returns a per-topic coalescing throttle with at most `maxHz` flushes per second. */
export class TopicThrottle<T extends string> {
  readonly stats: ThrottleStats = { marked: 0, flushes: 0, coalesced: 0 };
  readonly intervalMs: number;
  private dirty = new Set<T>();
  private timer: TimerHandle | undefined;
  private lastFlush = -Infinity;
  private closed = false;

  constructor(private readonly opts: ThrottleOptions<T>) {
    if (!(opts.maxHz > 0 && opts.maxHz <= 1000)) throw new TypeError(`throttle maxHz ${opts.maxHz} must be in (0, 1000]`);
    this.intervalMs = 1000 / opts.maxHz;
  }

  /** Notes that `topic` changed; schedules a flush if none is pending. O(1). */
  mark(topic: T): void {
    if (this.closed) return;
    this.stats.marked++;
    if (this.dirty.has(topic)) this.stats.coalesced++;
    else this.dirty.add(topic);
    if (this.timer !== undefined) return;
    // Always through a timer, even when the interval has passed: building payloads must not run inside a bus handler.
    const wait = Math.max(0, this.lastFlush + this.intervalMs - this.opts.clock.now());
    this.timer = this.opts.clock.setTimeout(() => this.run(), wait);
  }

  /** Flushes now if anything is dirty (tests, shutdown). */
  flushNow(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.run();
  }

  /** Stops scheduling; pending topics are dropped. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
  }

  private run(): void {
    this.timer = undefined;
    if (this.dirty.size === 0 || this.closed) return;
    const topics = this.dirty;
    this.dirty = new Set();
    this.lastFlush = this.opts.clock.now();
    this.stats.flushes++;
    this.opts.flush(topics);
  }
}
