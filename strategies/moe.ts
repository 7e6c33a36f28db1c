// Mixture of experts: blend model outputs with gating weights, decide against thresholds, and turn a decision plus
// the current position into at most one OrderIntent. Pure: no I/O, no clock, no xstate. See strategies/README.md.
import { capLots, fixedFractionLots, volatilityScaledLots, type SizingCaps } from '../actors/risk-manager/sizing.ts';
import type { OrderIntent } from '../engine/messages/orders.ts';
import { ACTIONS, type Action, type Decision, type ModelOutput } from '../engine/messages/signals.ts';
import { ConfigError } from '../engine/types/errors.ts';
import type { IntentId } from '../engine/types/ids.ts';
import { notional, type Instrument } from '../engine/types/instrument.ts';
import type { Money } from '../engine/types/money.ts';
import type { Lots, Ticks } from '../engine/types/price.ts';
import type { TsMs } from '../engine/types/time.ts';

/** Decision thresholds, each a probability in 0..1. */
export interface MoeThresholds {
  /** Blended BUY probability needed to decide BUY. */
  readonly buy: number;
  /** Blended SELL probability needed to decide SELL. */
  readonly sell: number;
  /** Outputs with a lower confidence stay out of the blend. */
  readonly minConfidence: number;
}

/** Returns `next` merged over `current` after checking every given field is a probability; throws ConfigError naming the bad one. */
export function mergeThresholds(current: MoeThresholds, next: Partial<MoeThresholds>): MoeThresholds {
  for (const [k, v] of Object.entries(next)) {
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new ConfigError(`threshold ${k} must be a number in [0, 1], got ${String(v)}`);
  }
  return {
    buy: next.buy ?? current.buy,
    sell: next.sell ?? current.sell,
    minConfidence: next.minConfidence ?? current.minConfidence,
  };
}

/** Why an output stayed out of the blend. */
export type IgnoredReason = 'lowConfidence' | 'notGated' | 'badProbabilities';

/** The blend of one tick. */
export interface Blend {
  readonly action: Action;
  /** Blended probability of `action` (0 when nothing was blended). */
  readonly confidence: number;
  /** Blended [BUY, SELL, HOLD]. */
  readonly probabilities: readonly [number, number, number];
  /** Weights actually used: the gating weights of the blended models, renormalised to sum 1. */
  readonly weights: Readonly<Record<string, number>>;
  readonly ignored: readonly { readonly model: string; readonly reason: IgnoredReason }[];
}

const validProbs = (p: readonly number[]): boolean =>
  p.length === 3 && p.every((x) => Number.isFinite(x) && x >= 0) && Math.abs(p[0]! + p[1]! + p[2]! - 1) < 1e-3;

/**
 * Returns the weighted mean of the outputs' probabilities and the action it implies: BUY when P(BUY) ≥ `buy`,
 * SELL when P(SELL) ≥ `sell` (the larger wins if both pass), else HOLD. Outputs under `minConfidence`, without a
 * positive gating weight, or with malformed probabilities are left out; with none left the result is HOLD at 0.
 */
export function blend(outputs: readonly ModelOutput[], gating: Readonly<Record<string, number>>, t: MoeThresholds): Blend {
  const ignored: { model: string; reason: IgnoredReason }[] = [];
  const used: { o: ModelOutput; w: number }[] = [];
  for (const o of outputs) {
    const w = gating[o.model];
    if (w === undefined || !(w > 0)) ignored.push({ model: o.model, reason: 'notGated' });
    else if (!validProbs(o.probabilities)) ignored.push({ model: o.model, reason: 'badProbabilities' });
    else if (!(o.confidence >= t.minConfidence)) ignored.push({ model: o.model, reason: 'lowConfidence' });
    else used.push({ o, w });
  }
  const total = used.reduce((s, u) => s + u.w, 0);
  if (used.length === 0 || !(total > 0)) return { action: 'HOLD', confidence: 0, probabilities: [0, 0, 0], weights: {}, ignored };
  const p: [number, number, number] = [0, 0, 0];
  const weights: Record<string, number> = {};
  for (const { o, w } of used) {
    const k = w / total;
    weights[o.model] = k;
    for (let i = 0; i < 3; i++) p[i] = p[i]! + k * o.probabilities[i]!;
  }
  const buyOk = p[0] >= t.buy;
  const sellOk = p[1] >= t.sell;
  const action: Action = buyOk && (!sellOk || p[0] >= p[1]) ? 'BUY' : sellOk ? 'SELL' : 'HOLD';
  return { action, confidence: p[ACTIONS.indexOf(action)]!, probabilities: p, weights, ignored };
}

/** Returns the `signal.decision` message of a blend. */
export function decisionOf(symbol: string, ts: TsMs, b: Blend): Decision {
  const d: Decision = { type: 'signal.decision', symbol, action: b.action, confidence: b.confidence, weights: b.weights, ts };
  if (b.ignored.length === 0) return d;
  return { ...d, ignored: Object.fromEntries(b.ignored.map((i) => [i.model, i.reason])) };
}

/** How positions may be held: long or flat (spot), or also short. */
export type PositionMode = 'long-flat' | 'long-short';

/** How a decision becomes an order. */
export interface PolicyConfig {
  readonly mode: PositionMode;
  /** `limit` is a marketable limit: `slippageBps` through the touch, IOC. */
  readonly orderType: 'market' | 'limit';
  readonly slippageBps: number;
  /** Fixed fraction of equity per position, or a notional that loses `riskBps` of equity on a `volatility` move. */
  readonly sizing: { readonly kind: 'fixed-fraction'; readonly fractionBps: number } | { readonly kind: 'volatility'; readonly riskBps: number };
  /**
   * Cut sizes to the risk caps (default true). false sizes by `sizing` alone and leaves the caps to the
   * RiskManager, which then denies what is over them.
   */
  readonly capToLimits?: boolean;
}

/** Default policy: spot long/flat, marketable limit 10 bps through the touch, 10% of equity per position. */
export const DEFAULT_POLICY: PolicyConfig = { mode: 'long-flat', orderType: 'limit', slippageBps: 10, sizing: { kind: 'fixed-fraction', fractionBps: 1_000 } };

/** What the policy needs to know about the market and the account. */
export interface PolicyState {
  readonly inst: Instrument;
  /** Signed position in lots (negative = short; spot is never negative). */
  readonly positionLots: number;
  /** Lots that can be sold now (spot: bounded by base holdings after fees); default |positionLots|. */
  readonly sellableLots?: Lots;
  readonly equity: Money;
  /** Last price: the price market orders are sized and checked at, and the touch when bid/ask are unknown. */
  readonly mark: Ticks;
  readonly bid?: Ticks;
  readonly ask?: Ticks;
  /** Expected move over the holding horizon as a fraction of price (volatility sizing only). */
  readonly volatility?: number;
  /** Sizing caps: `capsFor` with the account (cash, holdings at the mark), so a buy fits the cash and exposure risk checks. */
  readonly caps: SizingCaps;
  /** An earlier intent of this symbol has not settled yet (no fill, denial or rejection). */
  readonly pending: boolean;
}

/** The policy's answer: an intent, or why there is none. */
export type PolicyResult =
  | { readonly intent: OrderIntent }
  | { readonly none: 'hold' | 'pending' | 'alreadyLong' | 'alreadyShort' | 'flatNoShort' | 'sizeZero' | 'noVolatility' | 'noPrice' };

/**
 * Returns the OrderIntent for `d` given the position: none on HOLD, while an intent is pending, or when already
 * positioned in the decision's direction. BUY opens a long sized by `cfg.sizing` (or closes a short); SELL closes
 * a long (reduce-only), and opens a short only in long-short mode. A flip takes two decisions: close, then open.
 * Sizes are computed at the price the RiskManager checks (`riskPrice`), so an order cut to a cap passes that cap.
 * A position no order could close (`closableLots` 0: dust) counts as flat; a close is cut to the per-order caps.
 */
export function intentFor(d: Decision, s: PolicyState, cfg: PolicyConfig, id: IntentId): PolicyResult {
  if (d.action === 'HOLD') return { none: 'hold' };
  if (s.pending) return { none: 'pending' };
  if (!(s.mark > 0)) return { none: 'noPrice' };
  const side = d.action === 'BUY' ? 'buy' : 'sell';
  const closable = closableLots(s, cfg);
  const long = closable > 0 && s.positionLots > 0;
  const short = closable > 0 && s.positionLots < 0;
  if (side === 'buy' && long) return { none: 'alreadyLong' };
  if (side === 'sell' && short) return { none: 'alreadyShort' };
  const price = riskPrice(side, s, cfg);
  let lots: Lots;
  let reduceOnly = false;
  if (closable > 0) {
    // Closing the opposite position. Risk checks the order caps on closes too: a position that outgrew one order
    // (the price rose, or it was seeded after a restart) closes over several decisions.
    lots = cfg.capToLimits === false ? closable : capLots(s.inst, price, BigInt(closable), orderCapsOf(s.caps));
    reduceOnly = true;
  } else {
    if (side === 'sell' && cfg.mode === 'long-flat') return { none: 'flatNoShort' };
    const caps = cfg.capToLimits === false ? uncapped(s.caps.currentLots) : s.caps;
    if (cfg.sizing.kind === 'fixed-fraction') {
      lots = fixedFractionLots(s.inst, s.equity, cfg.sizing.fractionBps, price, caps);
    } else {
      if (s.volatility === undefined || !(s.volatility > 0)) return { none: 'noVolatility' };
      const risk = ((s.equity * BigInt(cfg.sizing.riskBps)) / 10_000n) as Money;
      lots = volatilityScaledLots(s.inst, risk, price, s.volatility, caps);
    }
  }
  if (!(lots > 0)) return { none: 'sizeZero' };
  const reason = `moe ${d.action} p=${d.confidence.toFixed(3)}`;
  // Literals, not a spread of a shared base: this runs on every decision's path to the RiskManager.
  if (cfg.orderType === 'market') return { intent: { id, symbol: d.symbol, side, lots, timeInForce: 'IOC', reduceOnly, reason, ts: d.ts, orderType: 'market' } };
  return { intent: { id, symbol: d.symbol, side, lots, timeInForce: 'IOC', reduceOnly, reason, ts: d.ts, orderType: 'limit', price } };
}

/**
 * Returns the price the RiskManager values an order of `side` at: the marketable limit price for limit orders, the
 * mark for market orders (its notional checks use exactly these).
 */
export function riskPrice(side: 'buy' | 'sell', s: Pick<PolicyState, 'mark' | 'bid' | 'ask'>, cfg: Pick<PolicyConfig, 'orderType' | 'slippageBps'>): Ticks {
  return cfg.orderType === 'market' ? s.mark : marketableLimit(side, s, cfg.slippageBps);
}

/**
 * Returns the lots an order closing the position would carry (the sellable lots of a long, which a base-asset fee
 * leaves below the traded lots; the size of a short), or 0 when there is no position or it is dust: worth less than
 * the instrument's min notional at the closing order's `riskPrice`, so no order could close it (e.g. the remainder
 * of a round trip whose buy paid its fee in the base asset).
 */
export function closableLots(s: PolicyState, cfg: Pick<PolicyConfig, 'orderType' | 'slippageBps'>): Lots {
  const pos = s.positionLots;
  if (pos === 0) return 0 as Lots;
  const lots = pos > 0 ? Math.min(pos, s.sellableLots ?? pos) : -pos;
  if (!(lots > 0)) return 0 as Lots;
  const value = notional(s.inst, riskPrice(pos > 0 ? 'sell' : 'buy', s, cfg), lots as Lots);
  return (value < s.inst.minNotional ? 0 : lots) as Lots;
}

// Caps so large that only the sizing rule bounds the size (capToLimits: false).
const NO_CAP = (2n ** 62n) as Money;
const uncapped = (currentLots: Lots): SizingCaps => ({ maxOrderNotional: NO_CAP, maxPositionNotional: NO_CAP, currentLots });
// Only the per-order caps: a close does not grow the position.
const orderCapsOf = (c: SizingCaps): SizingCaps => ({
  maxOrderNotional: c.maxOrderNotional, maxPositionNotional: NO_CAP, currentLots: 0 as Lots, ...(c.maxOrderLots !== undefined ? { maxOrderLots: c.maxOrderLots } : {}),
});

/** Returns a limit price `bps` through the touch (ask for a buy, bid for a sell), rounded away from the touch, in ticks. */
export function marketableLimit(side: 'buy' | 'sell', s: Pick<PolicyState, 'mark' | 'bid' | 'ask'>, bps: number): Ticks {
  if (side === 'buy') {
    const touch = s.ask ?? s.mark;
    return Math.ceil((touch * (10_000 + bps)) / 10_000) as Ticks;
  }
  const touch = s.bid ?? s.mark;
  return Math.max(1, Math.floor((touch * (10_000 - bps)) / 10_000)) as Ticks;
}
