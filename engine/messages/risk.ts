import type { IntentId } from '../types/ids.ts';
import type { Money } from '../types/money.ts';
import type { Lots, Ticks } from '../types/price.ts';
import type { TsMs } from '../types/time.ts';
import type { OrderIntent } from './orders.ts';

/** Trading state, as in Nautilus: active, reducing (only risk-reducing orders), halted (none). */
export type TradingState = 'active' | 'reducing' | 'halted';

/** Why an intent was denied; `code` is stable and greppable. */
export type DenyReason = DenyCode & {
  /**
   * When orders approved and not yet ended (the RiskManager's open orders) decided the denial, what of them it
   * counted, in words (`'6000 lots of open buys'`): the reason's own fields hold the totals with them included, so
   * without it a denial of a position that looks within its limits could not be told from a bug. Absent otherwise.
   */
  readonly including?: string;
};

/** The denial codes and their fields (DenyReason without `including`). */
export type DenyCode =
  | { readonly code: 'TRADING_HALTED' }
  | { readonly code: 'REDUCING_ONLY' }
  | { readonly code: 'KILL_SWITCH' }
  | { readonly code: 'PRICE_NOT_ON_TICK'; readonly price: Ticks }
  | { readonly code: 'QTY_ZERO' }
  | { readonly code: 'QTY_EXCEEDS_MAX'; readonly lots: Lots; readonly max: Lots }
  | { readonly code: 'NOTIONAL_BELOW_MIN'; readonly notional: Money; readonly min: Money }
  | { readonly code: 'NOTIONAL_EXCEEDS_MAX'; readonly notional: Money; readonly max: Money }
  | { readonly code: 'POSITION_LIMIT'; readonly position: Lots; readonly max: Lots }
  | { readonly code: 'EXPOSURE_LIMIT'; readonly exposure: Money; readonly max: Money }
  | { readonly code: 'SUBMIT_RATE'; readonly perSecond: number; readonly max: number }
  | { readonly code: 'NO_PRICE' }
  | { readonly code: 'INSUFFICIENT_BALANCE'; readonly needed: Money; readonly available: Money }
  | { readonly code: 'QTY_NOT_ON_LOT'; readonly lots: Lots }
  | { readonly code: 'UNKNOWN_INSTRUMENT'; readonly symbol: string }
  | { readonly code: 'POSITION_NOTIONAL_LIMIT'; readonly notional: Money; readonly max: Money }
  /** Spot cannot go short: a sell larger than the sellable holding. */
  | { readonly code: 'INSUFFICIENT_POSITION'; readonly lots: Lots; readonly available: Lots }
  /** Market circuit breaker (actors/risk-manager/market-guard.ts): an entry while the price moved over maxMoveBps. */
  | { readonly code: 'MARKET_MOVE'; readonly moveBps: number; readonly max: number; readonly until: TsMs }
  /** An entry while the symbol's last mark is more than markStaleMs old (a feed that stopped). */
  | { readonly code: 'MARKET_STALE'; readonly lastMarkAgoMs: number; readonly max: number }
  /** An entry while the best bid/ask spread has been over maxSpreadBps for spreadMs or longer (`spreadBps`: the widest seen). */
  | { readonly code: 'MARKET_SPREAD'; readonly spreadBps: number; readonly max: number; readonly wideForMs: number };

export interface IntentProposed { readonly type: 'risk.intent'; readonly intent: OrderIntent }
export interface OrderApproved { readonly type: 'risk.orderApproved'; readonly intent: OrderIntent; readonly ts: TsMs }
export interface OrderDenied { readonly type: 'risk.orderDenied'; readonly intentId: IntentId; readonly reason: DenyReason; readonly ts: TsMs }
export interface TradingStateChanged { readonly type: 'risk.stateChanged'; readonly state: TradingState; readonly reason: string; readonly ts: TsMs }
/**
 * Something an operator should know. The flatten codes: FLATTEN_INCOMPLETE (an exit of a standing flatten was refused
 * or ended with the position still held, what is left is dust that can never be sold, or the symbol is not traded),
 * FLATTENED (the position is flat), FLATTEN_ENDED (an operator resume ended a standing flatten). The market circuit
 * breaker's, once per episode: MARKET_MOVE (entries denied after an extreme move), MARKET_STALE (no mark for
 * markStaleMs), MARKET_SPREAD (the spread over maxSpreadBps for spreadMs), MARKET_CLEARED (the first mark after one ended).
 */
export interface RiskAlert {
  readonly type: 'risk.alert';
  readonly code: 'VAR_95' | 'VAR_99' | 'VAR_WARN_95' | 'VAR_WARN_99' | 'DRAWDOWN' | 'STOP_LOSS' | 'TAKE_PROFIT' | 'KILL_SWITCH' | 'RESUME_REFUSED' | 'LIMITS_INVALID'
    | 'FLATTEN_INCOMPLETE' | 'FLATTENED' | 'FLATTEN_ENDED' | 'MARKET_MOVE' | 'MARKET_STALE' | 'MARKET_SPREAD' | 'MARKET_CLEARED';
  readonly message: string;
  readonly ts: TsMs;
}

/** Per-symbol limits in the instrument's own lots. */
export interface SymbolLimits { readonly maxOrderLots?: Lots; readonly maxPositionLots?: Lots }

/** RiskManager limits: money in Money, ratios in integer basis points (1 bps = 0.01%), never floats. */
export interface RiskLimits {
  readonly maxOrderNotional: Money;
  /** Per-symbol position value cap after the fill, at the order's price. */
  readonly maxPositionNotional: Money;
  /** Sum over symbols of position value at the last mark, after the fill. */
  readonly maxExposure: Money;
  /** Approved intents allowed in any sliding 1000 ms window. */
  readonly maxSubmitsPerSecond: number;
  readonly maxDrawdownBps: number;
  /** Drawdown at which trading moves to `reducing`; absent: no reducing step. */
  readonly reduceAtDrawdownBps?: number;
  readonly stopLossBps?: number;
  readonly takeProfitBps?: number;
  /** Exit orders: market, or a limit `exitSlippageBps` through the mark (marketable limit). */
  readonly exitOrderType: 'market' | 'limit';
  readonly exitSlippageBps: number;
  /** Cash kept back for the fee on a buy, in bps of its notional. */
  readonly feeReserveBps: number;
  /** VaR above which an alert is raised (VAR_WARN_95 / VAR_WARN_99, once per crossing); absent: none. */
  readonly warnVar95?: Money;
  readonly warnVar99?: Money;
  /** VaR above which trading moves from active to `reducing` (alert VAR_95 / VAR_99); absent: none. */
  readonly maxVar95?: Money;
  readonly maxVar99?: Money;
  /** Each symbol's price is sampled once per interval for VaR (actors/risk-manager/var.ts); the window keeps the last `varWindow` returns. */
  readonly varIntervalMs: number;
  /**
   * Horizon the VaR figures and caps are stated for: the loss quantile of one-interval returns is scaled by
   * sqrt(varHorizonMs / varIntervalMs) (square-root-of-time), at most the value held. Absent: one interval.
   */
  readonly varHorizonMs?: number;
  readonly varWindow: number;
  readonly varMinSamples: number;
  /**
   * Market circuit breaker (actors/risk-manager/market-guard.ts), per symbol: a move of more than `maxMoveBps` within
   * `moveWindowMs` (up to twice it) denies entries until `moveCooldownMs` passed without one; absent: off (the window
   * and cooldown are then unused; both are required with it).
   */
  readonly maxMoveBps?: number;
  readonly moveWindowMs?: number;
  readonly moveCooldownMs?: number;
  /** No mark of a symbol for this long denies its entries until the next mark (MARKET_STALE); absent: off. */
  readonly markStaleMs?: number;
  /**
   * A best bid/ask spread (the marks' bid and ask) of more than `maxSpreadBps` of the bid, held for `spreadMs` or longer,
   * denies entries until a mark shows it back within the limit (MARKET_SPREAD); absent: off (`spreadMs` is required with it).
   */
  readonly maxSpreadBps?: number;
  readonly spreadMs?: number;
  readonly symbols: Readonly<Record<string, SymbolLimits>>;
}

/** The market circuit breaker's settings within RiskLimits (actors/risk-manager/market-guard.ts); absent: that guard is off. */
export type BreakerSettings = Pick<RiskLimits, 'maxMoveBps' | 'moveWindowMs' | 'moveCooldownMs' | 'markStaleMs' | 'maxSpreadBps' | 'spreadMs'>;

/**
 * The mark (last price) of a symbol, from the data provider or the book, with the best bid and ask last seen when the
 * publisher has them (both or neither; app/system.ts publishMarks): the breaker's spread guard reads them.
 */
export interface RiskMark {
  readonly type: 'risk.mark';
  readonly symbol: string;
  readonly price: Ticks;
  readonly ts: TsMs;
  readonly bid?: Ticks;
  readonly ask?: Ticks;
}
/**
 * Kill switch: on halts trading and denies every intent until off and `risk.resume`. `source` 'engine' is the system
 * halting for a failure (sys.halted: an actor spent its restart budget): besides the switch it records an engine
 * failure, which refuses every resume for as long as this process runs (the failed actor is not restarted in it).
 */
export interface KillSwitch { readonly type: 'risk.killSwitch'; readonly on: boolean; readonly reason?: string; readonly source?: 'operator' | 'engine'; readonly ts: TsMs }
/**
 * Back to active from reducing/halted; `resetPeak` restarts drawdown from now. Refused (RESUME_REFUSED alert) while the
 * kill switch is on, after an engine failure, or while drawdown is at or above maxDrawdownBps without `resetPeak`.
 * An accepted resume ends every standing flatten (FLATTEN_ENDED).
 */
export interface ResumeTrading { readonly type: 'risk.resume'; readonly resetPeak?: boolean; readonly ts: TsMs }
/**
 * Replaces some limits; an invalid set is refused with a `LIMITS_INVALID` alert. `symbols` is merged per symbol and per
 * key (a key sent as undefined removes that cap; symbols not named keep theirs), and must name the RiskManager's instruments.
 */
export interface SetLimits { readonly type: 'risk.setLimits'; readonly limits: Partial<RiskLimits>; readonly ts: TsMs }
/** The RiskManager accepted a `risk.setLimits`: the whole set now enforced (the orchestrator sizes by the same). */
export interface LimitsChanged { readonly type: 'risk.limitsChanged'; readonly limits: RiskLimits; readonly ts: TsMs }
/**
 * Closes every position (or one symbol) with reduce-only exits, in any trading state, and keeps at it ("flatten until
 * flat"): a standing request per symbol, persisted, that sends the next exit when one is refused or a fill adds lots,
 * until the position is flat. Without a symbol it covers every instrument, held or not (an order approved before a
 * kill may still fill). While halted a request stands until an operator resume; otherwise it ends when flat.
 */
export interface FlattenPositions { readonly type: 'risk.flatten'; readonly symbol?: string; readonly reason: string; readonly ts: TsMs }

/** Commands to the RiskManager. */
export type RiskCommand = RiskMark | KillSwitch | ResumeTrading | SetLimits | FlattenPositions;

export type RiskMsg = IntentProposed | OrderApproved | OrderDenied | TradingStateChanged | RiskAlert | LimitsChanged | RiskCommand;
