import type { IntentId } from '../types/ids.ts';
import type { Money } from '../types/money.ts';
import type { Lots, Ticks } from '../types/price.ts';
import type { TsMs } from '../types/time.ts';
import type { OrderIntent } from './orders.ts';

/** Trading state, as in Nautilus: active, reducing (only risk-reducing orders), halted (none). */
export type TradingState = 'active' | 'reducing' | 'halted';

/** Why an intent was denied; `code` is stable and greppable. */
export type DenyReason =
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
  | { readonly code: 'INSUFFICIENT_BALANCE'; readonly needed: Money; readonly available: Money };

export interface IntentProposed { readonly type: 'risk.intent'; readonly intent: OrderIntent }
export interface OrderApproved { readonly type: 'risk.orderApproved'; readonly intent: OrderIntent; readonly ts: TsMs }
export interface OrderDenied { readonly type: 'risk.orderDenied'; readonly intentId: IntentId; readonly reason: DenyReason; readonly ts: TsMs }
export interface TradingStateChanged { readonly type: 'risk.stateChanged'; readonly state: TradingState; readonly reason: string; readonly ts: TsMs }
export interface RiskAlert { readonly type: 'risk.alert'; readonly code: 'VAR_95' | 'VAR_99' | 'DRAWDOWN' | 'STOP_LOSS' | 'TAKE_PROFIT'; readonly message: string; readonly ts: TsMs }

export type RiskMsg = IntentProposed | OrderApproved | OrderDenied | TradingStateChanged | RiskAlert;
