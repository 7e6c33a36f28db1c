// Retiring a stopped TradingExecutor before its successor loads the store (a supervised restart). stop() cuts the
// backoff waits short but not a venue call in flight: its answer would otherwise be committed from the stopped
// executor's stale memory after the successor loaded the store, and each would overwrite the other's records. So the
// successor, subscribed at once (what comes meanwhile queues: TradingExecutor.start), loads the store once the stopped
// one's work has answered and committed, or once RETIRE_WAIT_MS has passed (a venue that never answers must not keep
// the executor down); from then on the stopped one commits and publishes nothing, and whatever it left unsettled (an
// order still 'submitted') is the successor's reconciliation's to query at the venue.
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../engine/runtime/clock.ts';

/**
 * Engine time a restart waits for the stopped executor's venue calls: longer than a call's own request timeout (ccxt's
 * and BinanceRest's 10 s), so a call that will answer at all has answered or timed out by then. The stopped executor's
 * backoff waits are cut short by stop(), so only calls already sent are waited on.
 */
export const RETIRE_WAIT_MS = 15_000;

/**
 * Real time a shutdown waits for a restart's stopped executors to be idle before it retires them: below the drain
 * hook's timeout (the lifecycle's 5 s), since the engine clock may not move any more (a SimulatedClock whose driver
 * stopped), and what answers later must not commit to a store being flushed and closed.
 */
export const SHUTDOWN_RETIRE_WAIT_MS = 2_000;

/** Thrown into a retired executor's work that comes back after it was retired (nothing is committed or published). */
export class ExecutorRetiredError extends Error {
  constructor() {
    super('executor retired: a successor owns the store and the bus');
    this.name = 'ExecutorRetiredError';
  }
}

/** What retiring needs of an executor. */
export interface Retirable {
  idle(): Promise<void>;
  retire(): Promise<void>;
}

/**
 * Waits (at most `waitMs` of `clock` time, and no longer than `cut` stays unaborted) until `ex`, already stopped, is
 * idle, then retires it. Resolves 'idle' when its work all finished in time, 'abandoned' when work still waiting on
 * the venue was cut off.
 */
export async function retireWhenIdle(ex: Retirable, clock: Clock, log: Logger, waitMs = RETIRE_WAIT_MS, cut?: AbortSignal): Promise<'idle' | 'abandoned'> {
  let timer: TimerHandle | undefined;
  let onCut: (() => void) | undefined;
  const timedOut = new Promise<'abandoned'>((r) => {
    timer = clock.setTimeout(() => r('abandoned'), waitMs);
    onCut = () => r('abandoned');
    cut?.addEventListener('abort', onCut, { once: true });
  });
  const outcome = cut?.aborted ? 'abandoned' : await Promise.race([ex.idle().then(() => 'idle' as const), timedOut]);
  if (timer !== undefined) clock.clearTimeout(timer);
  if (onCut) cut?.removeEventListener('abort', onCut);
  if (outcome === 'abandoned') {
    log.warn({ code: 'EXECUTOR_RETIRED_BUSY', waitMs, cut: cut?.aborted ?? false },
      'the stopped executor still waits on the venue: its late answers are dropped, and the next executor reconciles those orders with the venue');
  }
  await ex.retire();
  return outcome;
}

/**
 * At shutdown: waits at most `waitMs` of `clock` time (a real clock: the engine's may stand still) until every one of
 * `exs`, stopped executors still retiring, is idle. Resolves whether they all were; the caller retires them either way.
 */
export async function idleWithin(exs: readonly Retirable[], clock: Clock, waitMs = SHUTDOWN_RETIRE_WAIT_MS): Promise<boolean> {
  let timer: TimerHandle | undefined;
  const timedOut = new Promise<false>((r) => (timer = clock.setTimeout(() => r(false), waitMs)));
  const idle = await Promise.race([Promise.all(exs.map((ex) => ex.idle())).then(() => true as const), timedOut]);
  if (timer !== undefined) clock.clearTimeout(timer);
  return idle;
}
