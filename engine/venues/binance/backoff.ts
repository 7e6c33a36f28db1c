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

/** A venue-wide block a REST answer imposed: 429 (rate limited, back off) or 418 (this IP is banned). */
export interface VenueBlock {
  readonly kind: 'rateLimited' | 'banned';
  /** How long nothing may be sent (the Retry-After header, or the ban's end), in ms from when the answer came. */
  readonly retryAfterMs: number;
}

/**
 * Returns the block an error carries (BinanceRestError.block), if any. Read by shape, so that the feed, which replay
 * workers load too, does not import ccxt through rest.ts.
 */
export function venueBlockOf(err: unknown): VenueBlock | undefined {
  const b = (err as { block?: Partial<VenueBlock> } | null | undefined)?.block;
  if (!b || (b.kind !== 'rateLimited' && b.kind !== 'banned') || typeof b.retryAfterMs !== 'number' || !Number.isFinite(b.retryAfterMs)) return undefined;
  return { kind: b.kind, retryAfterMs: Math.max(0, b.retryAfterMs) };
}
