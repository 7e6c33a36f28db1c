// Shapes of the dashboard's JSON (built by engine/dashboard/view-model.ts; imported as types only).
import type {
  Bar, DecisionPoint, FillRow, HeatColumn, ModelPoint, OrderRow, PortfolioBooks, PositionRow, ProtectiveStopsView, Topic, TrainingReport,
} from '../../engine/dashboard/view-model.ts';
import type { ProtectiveStopOrderView, ProtectiveStopRow } from '../../engine/dashboard/metrics.ts';
import type { SeqSlice } from '../../engine/dashboard/seq-ring.ts';

export type {
  Bar, DecisionPoint, FillRow, HeatColumn, ModelPoint, OrderRow, PortfolioBooks, PositionRow, ProtectiveStopOrderView, ProtectiveStopRow, ProtectiveStopsView,
  Topic, TrainingReport,
};
export type Slice<T> = SeqSlice<T>;

export interface LadderRow { price: number; bid: number; ask: number }
export interface Ladder {
  ts: number; mid: number | null; bestBid: number | null; bestAsk: number | null; spread: number | null; spreadBps: number | null;
  bucketSize: number; imbalance: number; imbalanceNear: number; imbalanceMa: (number | null)[]; maWindowsMs: number[];
  flags: { emptyBid: boolean; emptyAsk: boolean; crossed: boolean; staleVenues: string[]; noLiveVenue: boolean; beyondSnapshot?: { bid: number; ask: number } };
  /** False when the book must not be read as live (bookHealth): `status` then says why. */
  live: boolean; status: string;
  rows: LadderRow[];
}
export interface Thresholds { buy?: number; sell?: number; minConfidence?: number }
export interface ModelsPayload {
  outputs: Slice<ModelPoint>; decisions: Slice<DecisionPoint>; latest: Record<string, ModelPoint>;
  status: Record<string, { version: string; state: string; failures: number; reason: string; ts: number }>;
  /** Judged predictions against the naive baseline (absent from an older engine). */
  health?: Record<string, { state: 'ok' | 'degraded'; overconfident: boolean; accuracy: number; baseline: number; judged: number }>;
  thresholds: Thresholds; rollbacks: { model: string; ts: number }[];
}
/** The RiskManager's books (null while they cannot be read; `error` when reading them failed) and the equity series. */
export interface PortfolioPayload { books: PortfolioBooks | null; error?: string; equitySeries: Slice<[number, number]> }
/** The RiskManager's limits in force: quote amounts as decimal strings. */
/** The engine's OperatorLimits (actors/risk-manager/limits.ts). */
export interface RiskLimitsView {
  maxOrderNotional: string; maxPositionNotional: string; maxExposure: string; maxSubmitsPerSecond: number; maxDrawdownBps: number;
  /** Absent: no reducing step, or no automatic exit on that side. */
  reduceAtDrawdownBps?: number; stopLossBps?: number; takeProfitBps?: number;
  /** VaR warning levels and limits (quote amounts); absent: none. */
  warnVar95?: string; maxVar95?: string; warnVar99?: string; maxVar99?: string;
  exitOrderType: 'market' | 'limit'; exitSlippageBps: number;
  /** Lot caps by symbol, with their base quantities; absent: none. */
  symbols?: Record<string, { maxOrderLots?: number; maxPositionLots?: number; maxOrderQty?: string; maxPositionQty?: string }>;
}
/** An instrument of the RiskManager: what its lot caps are counted in. */
export interface RiskInstrumentView { symbol: string; base: string; lotSize: string }
export interface Alert { t: number; code: string; message: string }
export interface RiskPayload {
  state: 'active' | 'reducing' | 'halted'; reason: string; killSwitch: boolean; halted: { reason: string; actor?: string; ts: number } | null;
  drawdownPct: number; peakEquity: number | null; exposure?: number; var95?: number; var99?: number; equity?: number; alerts: Slice<Alert>;
  limits?: RiskLimitsView;
  instruments?: RiskInstrumentView[];
  breaker?: BreakerView;
  /** The executor's protective stops at the venue (absent from an older engine). */
  protectiveStops?: ProtectiveStopsView;
}
/** The market circuit breaker: its settings (absent: that guard is off) and, per symbol, what denies entries now. */
export interface BreakerView {
  maxMoveBps?: number; moveWindowMs?: number; moveCooldownMs?: number; markStaleMs?: number; maxSpreadBps?: number; spreadMs?: number;
  symbols: Record<string, {
    move: { moveBps: number; until: number } | null; stale: { lastMarkAgoMs: number } | null;
    spread?: { spreadBps: number; wideForMs: number } | null;
  }>;
}
/** `orders`: the rows changed since the last frame, least recently changed first (a reset replaces the table). */
export interface OrdersPayload { orders: Slice<OrderRow>; fills: Slice<FillRow> }
export interface SystemPayload {
  actors: Record<string, { status: string; restarts: number; lastError?: string; nextRestartAt?: number }>;
  halted: { reason: string; actor?: string } | null;
  feeds: Record<string, { source: string; status: string; detail?: string }>;
  books: Record<string, { status: string; reason?: string }>;
  venues: Record<string, { status: string; reason: string }>;
  messages: Record<string, number>;
  status: Record<string, unknown>;
}
/** A frame from /ws. */
export interface WsFrame { type: 'snapshot' | 'delta'; topics: Partial<Record<Topic, unknown>> }
