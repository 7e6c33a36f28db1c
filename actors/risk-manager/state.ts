// The RiskManager's state and step shapes, shared by logic.ts and the files it delegates to (exits.ts, held-sells.ts,
// stop-exits.ts): kept apart so that those import no logic.ts and no import cycle forms. Plain data (bigint included).
import type { ClientOrderId } from '../../engine/types/ids.ts';
import type { Instrument } from '../../engine/types/instrument.ts';
import type { Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import type { CancelOrder } from '../../engine/messages/orders.ts';
import type {
  OrderApproved, OrderDenied, RiskAlert, LimitsChanged, RiskLimits, TradingState, TradingStateChanged,
} from '../../engine/messages/risk.ts';
import type { OpenOrders } from './open-orders.ts';
import type { Portfolio } from './positions.ts';
import type { VarState } from './var.ts';
import type { MarketGuards } from './market-guard.ts';

/** What the RiskManager emits. */
export type RiskOut = OrderApproved | OrderDenied | TradingStateChanged | RiskAlert | LimitsChanged | ExitCancel;

/** A cancel risk asks of the executor to free the lots of an open strategy sell for its exit, stamped like its other outputs. */
export type ExitCancel = CancelOrder & { readonly ts: TsMs };

/** The whole RiskManager state: plain data (bigint included), so it snapshots and restores as it is. */
export interface RiskState {
  readonly tradingState: TradingState;
  readonly stateReason: string;
  readonly killSwitch: boolean;
  readonly limits: RiskLimits;
  readonly instruments: Readonly<Record<string, Instrument>>;
  readonly portfolio: Portfolio;
  readonly marks: Readonly<Record<string, Ticks>>;
  /** The market circuit breaker per symbol (market-guard.ts); rebuilt from marks, never stored. */
  readonly market: MarketGuards;
  readonly peakEquity: Money;
  /** Times of approvals (including risk's own exits) within the last second, ascending. */
  readonly submits: readonly TsMs[];
  readonly var: VarState;
  /** Counter for ids of risk-generated exit intents (the id also carries the firing time: see exitIntent). */
  readonly exitSeq: number;
  /**
   * The client order id of the last exit sent per symbol, until it ends: when it ends without closing the position
   * (rejected, cancelled, expired, or filled with lots left), the position's exits are armed again (onOrderEnded).
   */
  readonly exitOrders: Readonly<Record<string, ClientOrderId>>;
  /** Orders approved and not ended, in approval order (open-orders.ts); never stored. */
  readonly openOrders: OpenOrders;
  /** Stop-loss / take-profit exits refused in a row per symbol, and the backoff before the next; never stored. */
  readonly stopRetry: Readonly<Record<string, StopRetry>>;
  /** Recent fill keys (venue:symbol:tradeId), so a fill delivered twice is applied once. */
  readonly recentFills: readonly string[];
  /** Standing flatten requests per symbol ("flatten until flat"): onFlatten sets them, driveFlatten works them off. */
  readonly flatten: Readonly<Record<string, FlattenRequest>>;
  /**
   * Why the engine halted for a failure (risk.killSwitch with source 'engine'), when it did: every resume is refused
   * while it holds. Kept for the process only (the risk child), never stored: the failed actor stays down in this
   * process, and a restart of the process is the remedy.
   */
  readonly engineFailure?: string;
}

/** One symbol's standing flatten: plain data, persisted with the risk control state. */
export interface FlattenRequest {
  /** Why (the operator's reason), for the alerts. */
  readonly reason: string;
  readonly since: TsMs;
  /** Exits ended without a fill in a row (rejected, cancelled, expired); a sell fill starts the count again. */
  readonly refusals: number;
  /** No exit before this time: the backoff after a refusal, or the submit window's next free slot (0: none). */
  readonly retryAt: TsMs;
  /** When FLATTEN_INCOMPLETE was last raised for a refusal (then at most once per FLATTEN_ALERT_EVERY_MS). */
  readonly alertedAt?: TsMs;
  /** When this request's exit in flight was sent; absent: the exit in flight (a stop's) predates it, counted from `since`. */
  readonly exitSince?: TsMs;
  /** When FLATTEN_INCOMPLETE was last raised for an exit in flight too long (then at most once per FLATTEN_ALERT_EVERY_MS). */
  readonly lateAlertedAt?: TsMs;
  /** The held lots last reported as dust that can never be sold, so that report is not repeated for them. */
  readonly dust?: Lots;
  /**
   * Open strategy sells holding lots, as last reported (their cancels asked: freeHeldLots): reported when this request
   * first finds them and when more cancels are asked, and again at most once a minute while the cancels go unanswered.
   * Not restored: a start asks afresh.
   */
  readonly held?: HeldReport;
}

/** The lots open strategy sells held when FLATTEN_INCOMPLETE last named them, and when their cancels are asked again. */
export interface HeldReport {
  readonly lots: Lots;
  readonly alertedAt: TsMs;
  /** The next time a cancel of them is asked again (nextFlattenCheck drives it without marks); absent: none asked. */
  readonly cancelAt?: TsMs;
}

/** One symbol's stop exit episode: present from its first exit until a fill or a mark that no longer calls for one. */
export interface StopRetry {
  /** Exits of the episode ended without a fill in a row. */
  readonly refusals: number;
  /** No exit before this time (0: none). */
  readonly retryAt: TsMs;
  /** When STOP_LOSS last named lots held by open strategy sells (repeated at most once a minute while they hold them). */
  readonly heldAlertedAt?: TsMs;
}

/** A move of the trading state decided by logic; the machine performs it. */
export interface Transition { readonly to: TradingState; readonly reason: string }

/** Result of one event: next state, messages to emit, and maybe a trading-state move. */
export interface Step {
  readonly state: RiskState;
  readonly out: readonly RiskOut[];
  readonly to?: Transition;
}

export const withFlatten = (s: RiskState, symbol: string, req: FlattenRequest): RiskState => ({ ...s, flatten: { ...s.flatten, [symbol]: req } });

export const NO_OUT: readonly RiskOut[] = [];
