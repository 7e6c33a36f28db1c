/** Latency figures in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/**
 * Latency recorder: count, mean and max over every sample; percentiles exact over the last `capacity`
 * samples (a ring buffer sorted on demand), so a long run reports its recent tail, not its first minute.
 */
export class LatencyHistogram {
  private readonly ring: Float64Array;
  private n = 0;
  private sum = 0;
  private max = 0;

  constructor(readonly capacity = 8192) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`latency capacity must be a positive integer, got ${capacity}`);
    this.ring = new Float64Array(capacity);
  }

  /** Records one sample; negative or non-finite samples are ignored (a clock glitch must not poison the figures). */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.ring[this.n % this.capacity] = ms;
    this.n++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** Returns the p-th percentile (0..100, nearest rank) of the retained window, or 0 when empty. */
  percentile(p: number): number {
    const k = Math.min(this.n, this.capacity);
    if (k === 0) return 0;
    const sorted = this.ring.slice(0, k).sort();
    const rank = Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * k);
    return sorted[Math.max(rank, 1) - 1];
  }

  /** Returns count, p50, p99, max and mean. */
  summary(): LatencySummary {
    return { count: this.n, p50Ms: this.percentile(50), p99Ms: this.percentile(99), maxMs: this.max, meanMs: this.n ? this.sum / this.n : 0 };
  }
}
