import type { Clock } from '../../runtime/clock.ts';

/** Request weight per fixed wall-clock minute, as Binance counts `x-mbx-used-weight-1m` (per IP; one IP here). */
export class WeightLimiter {
  private minute = -1;
  private used = 0;

  constructor(private readonly limitPerMinute: number, private readonly clock: Clock) {}

  /** Adds `weight` and returns the weight used in this minute, or undefined when that would pass the limit. */
  take(weight: number): number | undefined {
    const m = Math.floor(this.clock.now() / 60_000);
    if (m !== this.minute) {
      this.minute = m;
      this.used = 0;
    }
    // Binance counts the rejected request too, so a client hammering past the limit stays blocked.
    this.used += weight;
    return this.used > this.limitPerMinute ? undefined : this.used;
  }

  /** The weight used in the current minute. */
  get usedWeight(): number {
    return this.used;
  }

  /** The configured limit. */
  get limit(): number {
    return this.limitPerMinute;
  }
}
