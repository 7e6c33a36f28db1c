/** Exponential backoff with full jitter settings. */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** Fraction of the delay that is randomised (0 = none, 1 = full jitter). */
  readonly jitter: number;
}

/** Default reconnect policy: 250 ms doubling to 30 s, half of it jittered. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 30_000, factor: 2, jitter: 0.5 };

/** Returns the delay before attempt `attempt` (0-based): exponential, capped, with jitter drawn from `rng`. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, rng: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt));
  const jitter = base * policy.jitter;
  return Math.round(base - jitter + rng() * jitter);
}
