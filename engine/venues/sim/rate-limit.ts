import type { Clock } from '../../runtime/clock.ts';

// Binance (spot REST "LIMITS"): "A Retry-After header is sent with a 418 or 429 responses and will give the number of
// seconds required to wait, in the case of a 429, to prevent a ban, or, in the case of a 418, until the ban is over."
// "Repeatedly violating rate limits and/or failing to back off after receiving 429s will result in an automated IP
// ban (HTTP status 418). IP bans are tracked and scale in duration for repeat offenders, from 2 minutes to 3 days."
// Binance does not publish its thresholds; the simulator's are simple and fixed:
// - a 429 stays in force until the wall-clock minute turns (its Retry-After);
// - the BAN_AFTER_IGNORED_429-th request sent while a 429 is in force bans the IP;
// - the first ban lasts 2 minutes, each later one twice the one before, at most 3 days.

/** Requests sent while a 429 is in force before the next one is answered 418 (IP ban). */
export const BAN_AFTER_IGNORED_429 = 10;
/** Length of the first IP ban; each later ban doubles it, up to MAX_BAN_MS. */
export const FIRST_BAN_MS = 120_000;
/** Longest IP ban (Binance: 3 days). */
export const MAX_BAN_MS = 3 * 86_400_000;

/** What the limiter decides for one request; `retryAfterS` is the Retry-After header (seconds). */
export type WeightVerdict =
  | { readonly kind: 'ok' }
  | { readonly kind: 'limited'; readonly retryAfterS: number }
  | { readonly kind: 'banned'; readonly retryAfterS: number; readonly untilMs: number };

// A Retry-After header's whole seconds until `untilMs`, at least 1.
const retryAfterS = (untilMs: number, now: number): number => Math.max(1, Math.ceil((untilMs - now) / 1000));

/** Request weight per fixed wall-clock minute, as Binance counts `x-mbx-used-weight-1m` (per IP; one IP here). */
export class WeightLimiter {
  private minute = -1;
  private used = 0;
  /** End of the minute a 429 was answered in: until then the client should send nothing. */
  private limitedUntil = 0;
  private ignored = 0;
  private bannedUntil = 0;
  private bans = 0;

  constructor(private readonly limitPerMinute: number, private readonly clock: Clock) {}

  /** Adds `weight` and returns whether the request may run, is rate-limited (429) or the IP is banned (418). */
  take(weight: number): WeightVerdict {
    const now = this.clock.now();
    if (now < this.bannedUntil) return this.banned(now);
    const m = Math.floor(now / 60_000);
    if (m !== this.minute) {
      this.minute = m;
      this.used = 0;
    }
    if (now < this.limitedUntil) {
      if (++this.ignored >= BAN_AFTER_IGNORED_429) {
        this.bannedUntil = now + Math.min(MAX_BAN_MS, FIRST_BAN_MS * 2 ** this.bans);
        this.bans++;
        this.ignored = 0;
        this.limitedUntil = 0;
        return this.banned(now);
      }
    } else {
      this.ignored = 0;
    }
    // Binance counts the rejected request too, so a client hammering past the limit stays blocked.
    this.used += weight;
    if (this.used <= this.limitPerMinute) return { kind: 'ok' };
    this.limitedUntil = (m + 1) * 60_000;
    return { kind: 'limited', retryAfterS: retryAfterS(this.limitedUntil, now) };
  }

  private banned(now: number): WeightVerdict {
    return { kind: 'banned', retryAfterS: retryAfterS(this.bannedUntil, now), untilMs: this.bannedUntil };
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

/** New orders an account may place per 10 s (exchangeInfo's ORDERS / SECOND / 10 limit). */
export const ORDERS_PER_10S = 100;

/**
 * New-order count per account and fixed 10 s wall-clock window, as Binance counts `x-mbx-order-count-10s`; past the
 * limit a new order is answered 429 / -1015 (and does not count).
 */
export class OrderCountLimiter {
  private readonly windows = new Map<string, { window: number; count: number }>();

  constructor(private readonly clock: Clock, private readonly limitPer10s = ORDERS_PER_10S) {}

  /** Counts one new order of `account`; returns undefined when allowed, else the Retry-After seconds. */
  take(account: string): number | undefined {
    const now = this.clock.now();
    const w = Math.floor(now / 10_000);
    let s = this.windows.get(account);
    if (!s || s.window !== w) this.windows.set(account, (s = { window: w, count: 0 }));
    if (s.count >= this.limitPer10s) return retryAfterS((w + 1) * 10_000, now);
    s.count++;
    return undefined;
  }

  /** The limit per 10 s. */
  get limit(): number {
    return this.limitPer10s;
  }
}
