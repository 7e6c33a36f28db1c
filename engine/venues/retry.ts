import type { Clock } from '../runtime/clock.ts';
import { backoffDelay, type BackoffPolicy } from './binance/backoff.ts';

export interface RetryOptions {
  readonly attempts: number;
  readonly backoff: BackoffPolicy;
  readonly clock: Clock;
  readonly rng?: () => number;
  /** Returns true for errors worth retrying (timeouts, 5xx, network); others are thrown at once. */
  readonly retryable: (err: unknown) => boolean;
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  readonly signal?: AbortSignal;
}

/** Returns a promise resolved after `ms` on the injected clock (a SimulatedClock resolves it when advanced). */
export function delay(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const h = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clock.clearTimeout(h);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Returns `fn()`'s result, retrying retryable failures with backoff; the last error is rethrown unchanged. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt + 1 >= opts.attempts || !opts.retryable(err) || opts.signal?.aborted) throw err;
      const ms = backoffDelay(opts.backoff, attempt, opts.rng);
      opts.onRetry?.(err, attempt + 1, ms);
      await delay(opts.clock, ms, opts.signal);
    }
  }
}
