// The order state machine as a pure transition function, plus the idempotent client order id and positions.
//
//   new ─submit→ submitted ─accepted→ accepted ─fill→ partiallyFilled ─fill→ filled
//    │              │  │                 │  │             │  │
//    └─rejected     │  └─fill (fills may arrive before the ack)  └─cancelled / expired / closed (venue says final)
//                   └─rejected / cancelled / expired / closed
// A fill on a cancelled or expired order is a late execution the venue really made: it is booked, the status stays.
// Anything else (an overfill, a fill on a rejected order, a second ack) is illegal: logged and ignored, never thrown.
import { isFinalStatus, PROTECTIVE_STOP_PREFIX, type Fill, type OrderIntent, type OrderStatus } from '../../engine/messages/orders.ts';
import { costAfterFill } from '../../engine/market/average-cost.ts';
import { clientOrderIdFor, RISK_EXIT_PREFIX, type ClientOrderId, type VenueOrderId } from '../../engine/types/ids.ts';
import type { VenueId } from '../../engine/types/instrument.ts';
import type { Money } from '../../engine/types/money.ts';
import type { Lots } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';

/** Everything the executor knows about one order; persisted on every change. */
export interface OrderRecord {
  readonly clientOrderId: ClientOrderId;
  readonly intent: OrderIntent;
  readonly venue: VenueId;
  readonly status: OrderStatus;
  readonly venueOrderId?: VenueOrderId;
  readonly filledLots: Lots;
  /** Sum of fill notionals in quote Money. */
  readonly filledQuote: Money;
  /**
   * The newest trade ids booked to the order (at most TRADE_IDS_KEPT), so a fill seen twice (push, then poll) counts
   * once; the store's fills, keyed by trade id, are the whole record (transition's `booked`).
   */
  readonly tradeIds: readonly string[];
  readonly createdAt: TsMs;
  readonly updatedAt: TsMs;
  readonly rejectCode?: string;
  readonly reason?: string;
  /** True for an order found at the venue that this engine did not place (adopted at reconciliation). */
  readonly adopted?: boolean;
}

/** What can happen to an order. */
export type OrderEvent =
  | { readonly type: 'submit' }
  | { readonly type: 'accepted'; readonly venueOrderId: VenueOrderId }
  | { readonly type: 'fill'; readonly fill: Fill }
  | { readonly type: 'cancelled'; readonly reason: string }
  | { readonly type: 'expired' }
  | { readonly type: 'rejected'; readonly code: string; readonly message: string }
  /** The venue reports a final status (reconciliation); quantities change only through real fills. */
  | { readonly type: 'closed'; readonly status: 'filled' | 'cancelled' | 'expired'; readonly reason: string };

/** A transition's result: the new record, a no-op (already applied), or an illegal move with the reason. */
export type TransitionResult =
  | { readonly kind: 'ok'; readonly order: OrderRecord }
  | { readonly kind: 'noop'; readonly reason: string }
  | { readonly kind: 'illegal'; readonly reason: string };

/** Returns true when no more events can change the order's status. */
export const isTerminal = (s: OrderStatus): boolean => isFinalStatus(s);

/**
 * Returns true for an order the RiskManager placed itself (a stop, take-profit or flatten exit): its intent ids start
 * with RISK_EXIT_PREFIX (exitIntent in actors/risk-manager/logic.ts; the client order id is a hash of it). A halt
 * leaves these working: they are how a halted engine closes its positions.
 */
export const isRiskExit = (o: OrderRecord): boolean => o.intent.id.startsWith(RISK_EXIT_PREFIX);

/**
 * Returns the client order id of `intent`: clientOrderIdFor its id, behind PROTECTIVE_STOP_PREFIX for a protective
 * stop (its intent id starts with it), so that the venue's list shows which orders are our stops (32 characters).
 */
export function clientOrderIdOfIntent(intent: Pick<OrderIntent, 'id'>): ClientOrderId {
  const cid = clientOrderIdFor(intent.id);
  return intent.id.startsWith(PROTECTIVE_STOP_PREFIX) ? (`${PROTECTIVE_STOP_PREFIX}${cid}` as ClientOrderId) : cid;
}

/** Returns a fresh order record in state `new`. */
export function newOrder(intent: OrderIntent, venue: VenueId, now: TsMs): OrderRecord {
  return {
    clientOrderId: clientOrderIdOfIntent(intent), intent, venue, status: 'new', filledLots: 0 as Lots, filledQuote: 0n as Money,
    tradeIds: [], createdAt: now, updatedAt: now,
  };
}

const illegal = (o: OrderRecord, what: string): TransitionResult => ({ kind: 'illegal', reason: `${what} is not allowed in state ${o.status}` });
// A module-level helper rather than a closure per call: under tsx (esbuild keepNames) creating a named closure costs a
// defineProperty, a visible share of a backtest's fill path.
const withPatch = (o: OrderRecord, patch: Partial<OrderRecord>, now: TsMs): TransitionResult => ({ kind: 'ok', order: { ...o, ...patch, updatedAt: now } });

/**
 * How many trade ids an order record keeps. Unbounded, an order of many trades (one adopted from a long history grows
 * with each) copied and scanned its whole list on every fill: a start quadratic in the trades of one order.
 */
export const TRADE_IDS_KEPT = 1000;

/**
 * Returns the order after `ev`; `quoteOf` prices a fill in quote Money (the instrument's notional); `booked`, where
 * given, tells a trade id already booked (the store's fills), older ones than the record keeps included.
 */
export function transition(o: OrderRecord, ev: OrderEvent, now: TsMs, quoteOf: (f: Fill) => Money, booked?: (tradeId: string) => boolean): TransitionResult {
  switch (ev.type) {
    case 'submit':
      return o.status === 'new' ? withPatch(o, { status: 'submitted' }, now) : illegal(o, 'submit');
    case 'accepted':
      if (o.status === 'submitted') return withPatch(o, { status: 'accepted', venueOrderId: ev.venueOrderId }, now);
      // The ack can trail fills pushed by the venue; it then only brings the venue's id.
      if ((o.status === 'partiallyFilled' || o.status === 'filled') && o.venueOrderId === undefined) return withPatch(o, { venueOrderId: ev.venueOrderId }, now);
      if (o.venueOrderId === ev.venueOrderId && o.status !== 'new' && o.status !== 'rejected') return { kind: 'noop', reason: 'ack already applied' };
      return illegal(o, 'accepted');
    case 'fill': {
      const f = ev.fill;
      if (booked?.(f.tradeId) || o.tradeIds.includes(f.tradeId)) return { kind: 'noop', reason: `trade ${f.tradeId} already booked` };
      // An order closed as filled while the trade history still lacked some of its fills (FILLS_MISSING) takes them
      // when they show up, up to its size, as a cancelled or expired order takes its late fills.
      if (o.status === 'new' || o.status === 'rejected' || (o.status === 'filled' && o.filledLots >= o.intent.lots)) return illegal(o, `fill ${f.tradeId}`);
      if (f.side !== o.intent.side || f.symbol !== o.intent.symbol) return illegal(o, `fill ${f.tradeId} for ${f.side} ${f.symbol}`);
      const filled = o.filledLots + f.lots;
      if (!Number.isSafeInteger(f.lots) || f.lots <= 0 || filled > o.intent.lots) {
        return { kind: 'illegal', reason: `fill ${f.tradeId} of ${f.lots} lots would take the order to ${filled} of ${o.intent.lots} lots` };
      }
      const late = o.status === 'cancelled' || o.status === 'expired' || o.status === 'filled';
      const status: OrderStatus = late ? o.status : filled === o.intent.lots ? 'filled' : 'partiallyFilled';
      return withPatch(o, {
        status, filledLots: filled as Lots, filledQuote: (o.filledQuote + quoteOf(f)) as Money, tradeIds: [...o.tradeIds.slice(1 - TRADE_IDS_KEPT), f.tradeId],
        venueOrderId: o.venueOrderId ?? f.venueOrderId,
      }, now);
    }
    case 'cancelled':
      if (o.status === 'cancelled') return { kind: 'noop', reason: 'already cancelled' };
      return o.status === 'submitted' || o.status === 'accepted' || o.status === 'partiallyFilled' ? withPatch(o, { status: 'cancelled', reason: ev.reason }, now) : illegal(o, 'cancel');
    case 'expired':
      if (o.status === 'expired') return { kind: 'noop', reason: 'already expired' };
      return o.status === 'submitted' || o.status === 'accepted' || o.status === 'partiallyFilled' ? withPatch(o, { status: 'expired' }, now) : illegal(o, 'expiry');
    case 'rejected':
      return o.status === 'new' || o.status === 'submitted' ? withPatch(o, { status: 'rejected', rejectCode: ev.code, reason: ev.message }, now) : illegal(o, 'rejection');
    case 'closed':
      if (o.status === ev.status) return { kind: 'noop', reason: `already ${ev.status}` };
      return o.status === 'submitted' || o.status === 'accepted' || o.status === 'partiallyFilled' ? withPatch(o, { status: ev.status, reason: ev.reason }, now) : illegal(o, `close as ${ev.status}`);
  }
}

const CLIENT_ID_RE = /^[.A-Z:/a-z0-9_-]{1,36}$/;

// The intent -> client order id rule is shared with the RiskManager (which follows its own exits by it): it lives in
// engine/types/ids.ts so that neither actor imports the other.
export { clientOrderIdFor } from '../../engine/types/ids.ts';

/** Returns true when `s` is a valid Binance client order id. */
export const isValidClientOrderId = (s: string): boolean => CLIENT_ID_RE.test(s);

/** A net position of one symbol on one venue, moved only by fills. */
export interface PositionRecord {
  readonly venue: VenueId;
  readonly symbol: string;
  /** Bought minus sold lots (fees paid in the base asset are not deducted: see `baseFees`). */
  readonly netLots: number;
  readonly boughtLots: number;
  readonly soldLots: number;
  readonly buyQuote: Money;
  readonly sellQuote: Money;
  /** Fees per asset in 1e-9 fixed point. */
  readonly fees: Readonly<Record<string, Money>>;
  /**
   * Open lots and their average cost (engine/market/average-cost.ts), as the RiskManager keeps them: a live start
   * takes them as its position. Absent on a position stored before they were kept (the start then replays the fills).
   */
  readonly openLots?: number;
  readonly openCost?: Money;
  readonly lastTradeId?: string;
  readonly updatedAt: TsMs;
}

/** Returns an empty position. */
export function emptyPosition(venue: VenueId, symbol: string, now: TsMs): PositionRecord {
  return { venue, symbol, netLots: 0, boughtLots: 0, soldLots: 0, buyQuote: 0n as Money, sellQuote: 0n as Money, fees: {}, openLots: 0, openCost: 0n as Money, updatedAt: now };
}

/** Returns the position after one fill priced at `quote`. */
export function positionAfterFill(p: PositionRecord, f: Fill, quote: Money): PositionRecord {
  const buy = f.side === 'buy';
  const open = p.openLots !== undefined && p.openCost !== undefined ? costAfterFill({ lots: p.openLots, cost: p.openCost }, f.side, f.lots, quote) : undefined;
  return {
    ...p,
    netLots: p.netLots + (buy ? f.lots : -f.lots),
    boughtLots: p.boughtLots + (buy ? f.lots : 0),
    soldLots: p.soldLots + (buy ? 0 : f.lots),
    buyQuote: (buy ? p.buyQuote + quote : p.buyQuote) as Money,
    sellQuote: (buy ? p.sellQuote : p.sellQuote + quote) as Money,
    fees: { ...p.fees, [f.feeAsset]: ((p.fees[f.feeAsset] ?? 0n) + f.fee) as Money },
    ...(open ? { openLots: open.lots, openCost: open.cost } : {}),
    lastTradeId: f.tradeId,
    updatedAt: f.ts,
  };
}
