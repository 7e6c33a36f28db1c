import type { Clock } from '../runtime/clock.ts';

/** Circuit breaker states: closed (calls pass), open (calls refused until the cool-down ends), half-open (one probe). */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  readonly failureThreshold: number;
  /** How long it stays open before one probe call is let through. */
  readonly openMs: number;
}

/** Returns a breaker that opens after repeated failures and probes again after a cool-down, on the injected clock. */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private st: BreakerState = 'closed';
  private probing = false;
  /** Number of times the breaker opened. */
  opens = 0;

  constructor(private readonly clock: Clock, private readonly opts: BreakerOptions, private readonly onChange?: (s: BreakerState) => void) {}

  /** Returns the state, moving open → halfOpen once the cool-down has passed. */
  get state(): BreakerState {
    if (this.st === 'open' && this.clock.now() - this.openedAt >= this.opts.openMs) this.set('halfOpen');
    return this.st;
  }

  /** Returns true when a call may go through now (in half-open, only one probe at a time). */
  allow(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'halfOpen' && !this.probing) {
      this.probing = true;
      return true;
    }
    return false;
  }

  /** Records a successful call; closes the breaker. */
  success(): void {
    this.failures = 0;
    this.probing = false;
    this.set('closed');
  }

  /** Records a failed call; opens the breaker at the threshold, or again after a failed probe. */
  failure(): void {
    this.failures++;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || this.failures >= this.opts.failureThreshold) {
      this.openedAt = this.clock.now();
      if (this.st !== 'open') this.opens++;
      this.set('open');
    }
  }

  /**
   * Records a call that ended without saying whether the venue works again (a 418 ban, a 429 given up on). Only a
   * probe in flight is affected: it counts as failed, so the breaker reopens and probes again after `openMs` instead of
   * keeping the probe slot, and with it every later call, blocked. Outside a probe nothing changes.
   */
  inconclusive(): void {
    if (this.probing) this.failure();
  }

  /**
   * Gives back the probe slot of a call `allow()` let through that ended before reaching the venue (refused locally):
   * it says nothing about the venue, so the breaker stays half-open and the next call is the probe. Only the holder of
   * the probe may call it; outside a probe nothing changes.
   */
  release(): void {
    this.probing = false;
  }

  private set(s: BreakerState): void {
    if (s === this.st) return;
    this.st = s;
    this.onChange?.(s);
  }
}
