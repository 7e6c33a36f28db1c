import type { TsMs } from '../types/time.ts';
import type { VenueId } from '../types/instrument.ts';

/**
 * The executor's view of its venue: `up`; `circuitOpen` (repeated failures: new orders are rejected locally with
 * VENUE_CIRCUIT_OPEN until a probe succeeds); `rateLimited` (HTTP 429: nothing is sent until `untilTs`); `banned`
 * (HTTP 418, IP ban: nothing is sent until `untilTs`); `reconciling` (start-up reconciliation not finished).
 */
export interface VenueStatus {
  readonly type: 'exec.venueStatus';
  readonly venue: VenueId;
  readonly status: 'up' | 'circuitOpen' | 'rateLimited' | 'banned' | 'reconciling';
  readonly reason: string;
  readonly untilTs?: TsMs;
  readonly ts: TsMs;
}

/**
 * A booked position the venue's balance does not cover, as exact decimal strings of the base asset ("0.003"): the
 * message crosses JSON (dashboard, ws), which a bigint does not survive.
 */
export interface PositionQuantity {
  readonly symbol: string;
  readonly asset: string;
  /** Booked net base amount, fees paid in the base asset taken off. */
  readonly booked: string;
  /** What the venue holds of `asset`, free plus locked. */
  readonly venue: string;
}

/** What one reconciliation with the venue found and changed (counts; other details go to the log). */
export interface Reconciled {
  readonly type: 'exec.reconciled';
  readonly venue: VenueId;
  readonly fillsApplied: number;
  readonly ordersClosed: number;
  readonly ordersAdopted: number;
  /** Our orders whose status query failed, left as they were for the next run (RECONCILE_ORDER_QUERY_FAILED). */
  readonly ordersUnresolved: number;
  /** Symbols whose booked position exceeds the venue's balance (reported, never "fixed" with a fill). */
  readonly positionMismatches: readonly string[];
  /** The quantities of each of `positionMismatches`, in the same order. */
  readonly positionQuantities: readonly PositionQuantity[];
  readonly ts: TsMs;
}

export type ExecStatusMsg = VenueStatus | Reconciled;
