// Market circuit breaker: per traded symbol, from the marks the RiskManager receives (risk.mark, the traded symbol's
// trade price, published by app/system.ts when it changes). Two guards, each off while its limit is absent:
//   MARKET_MOVE   the price moved more than maxMoveBps within moveWindowMs: new entries (buys) are denied until
//                 moveCooldownMs passed without a mark over the limit. One MARKET_MOVE alert per episode; the first
//                 mark after the cooldown raises MARKET_CLEARED (the denial itself ends at the cooldown, mark or not).
//                 Every mark measures the move again while the price before it is in the window (up to two windows):
//                 an episode lasts until moveCooldownMs after the window let go of the move, or after the last mark.
//   MARKET_STALE  no mark for markStaleMs (a feed that silently stopped): entries are denied until the next mark. The
//                 RiskManager has no timer of its own, so the MARKET_STALE alert (once per episode) comes with the first
//                 intent it denies; the next mark raises MARKET_CLEARED, which says whether entries are allowed again
//                 or a move episode still denies them (a feed outage during a crash). A symbol never marked is not
//                 stale: market orders are denied NO_PRICE then, and a limit order carries the strategy's own price.
// Exits are never denied here: risk's own exits (stops, flatten) bypass checkIntent, and a spot sell only reduces.
//
// The move window, without keeping every mark: two tumbling buckets of moveWindowMs, each holding its highest and
// lowest price. The move at a mark is its distance to the highest and lowest of both buckets (a drop measured against
// the high, a rise against the low), so every move within moveWindowMs is seen; one spread over up to twice the
// window can be too (the older bucket reaches that far back). A mark comes with each price change (and once a
// second at an unchanged price: app/system.ts), so the price of the last mark held until this one: it opens each new
// bucket.
//
// Hot path: onMark runs at trade rate. The guard is plain immutable data (held-steps.ts applies the same mark to a
// shadow and may redo it on the machine), so a change means a new record; one is made only when a bucket extreme,
// the bucket, the breaker state, or the mark time changes, and the mark time is recorded at SEEN_STEP_MS resolution
// (once a second per symbol, not once per trade). The state is not persisted: it is rebuilt from the marks after a
// restart within one window, and a restart starts with no mark (so nothing is stale before the feed speaks).
import type { DenyReason, RiskAlert, RiskLimits } from '../../engine/messages/risk.ts';
import type { Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';

/** The mark time is recorded once per this many ms per symbol (see the header). */
export const SEEN_STEP_MS = 1_000;

/** One symbol's breaker state: plain data. */
export interface MarketGuard {
  /** Start of the current move bucket; `hi`/`lo` are its extremes, `prevHi`/`prevLo` those of the bucket before it. */
  readonly bucketAt: TsMs;
  readonly hi: Ticks;
  readonly lo: Ticks;
  readonly prevHi: Ticks;
  readonly prevLo: Ticks;
  /** Time of the last mark, to within SEEN_STEP_MS (never later than it). */
  readonly seenAt: TsMs;
  /** The last mark whose move was over maxMoveBps, and that move in bps: entries are denied until moveCooldownMs after it. */
  readonly breachAt?: TsMs;
  readonly breachBps?: number;
  /** `seenAt` of the stale episode already reported (MARKET_STALE), so it is reported once. */
  readonly staleAlerted?: TsMs;
}

/** Where alerts go: the step's output (a RiskOut[] takes them). */
export interface AlertSink { push(a: RiskAlert): unknown }

/** Per-symbol breaker states. */
export type MarketGuards = Readonly<Record<string, MarketGuard>>;

const BPS = 10_000;
// Above this a price in ticks times 10 000 leaves the exact integer range of a double: bigint then.
const EXACT_TICKS = Math.floor(Number.MAX_SAFE_INTEGER / BPS);

/** Returns the move from `ref` to a price `diff` ticks away, in whole bps (floored). */
export function moveBps(diff: number, ref: number): number {
  if (diff <= 0 || ref <= 0) return 0;
  if (ref <= EXACT_TICKS && diff <= EXACT_TICKS) return Math.floor((diff * BPS) / ref);
  return Number((BigInt(diff) * BigInt(BPS)) / BigInt(ref));
}

/**
 * Returns the guard after a mark of `price` at `nowMs` (`last`: the symbol's mark before it), pushing MARKET_MOVE at
 * the start of an episode and MARKET_CLEARED at the first mark after one into `out`; returns `g` itself when nothing
 * changed (no allocation), and undefined while both guards are off.
 */
export function markGuard(
  g: MarketGuard | undefined, last: Ticks | undefined, symbol: string, price: Ticks, nowMs: TsMs, l: RiskLimits, out: AlertSink,
): MarketGuard | undefined {
  if (l.maxMoveBps === undefined && l.markStaleMs === undefined) return g;
  if (g === undefined) return { bucketAt: nowMs, hi: price, lo: price, prevHi: price, prevLo: price, seenAt: nowMs };
  let { bucketAt, hi, lo, prevHi, prevLo, seenAt, breachAt, breachBps, staleAlerted } = g;
  let changed = false;
  let move = 0;
  if (l.maxMoveBps !== undefined && l.moveWindowMs !== undefined) {
    const w = l.moveWindowMs;
    if (nowMs - bucketAt >= w) {
      const held = last ?? price;
      if (nowMs - bucketAt < 2 * w) {
        prevHi = hi;
        prevLo = lo;
        bucketAt = (bucketAt + w) as TsMs;
      } else {
        prevHi = held;
        prevLo = held;
        bucketAt = nowMs;
      }
      hi = held;
      lo = held;
      changed = true;
    }
    if (price > hi) { hi = price; changed = true; }
    if (price < lo) { lo = price; changed = true; }
    const top = hi > prevHi ? hi : prevHi;
    const bottom = lo < prevLo ? lo : prevLo;
    const drop = moveBps(top - price, top);
    const rise = moveBps(price - bottom, bottom);
    move = drop > rise ? drop : rise;
    if (move > l.maxMoveBps) {
      if (!moveTripped(g, nowMs, l)) {
        const dir = drop > rise ? `fell ${drop} bps from ${top}` : `rose ${rise} bps from ${bottom}`;
        out.push({ type: 'risk.alert', code: 'MARKET_MOVE', ts: nowMs,
          message: `${symbol} ${dir} to ${price} ticks within ${w}–${2 * w} ms, over the limit ${l.maxMoveBps} bps: entries denied until ${l.moveCooldownMs} ms without such a move` });
      }
      breachAt = nowMs;
      breachBps = move;
      changed = true;
    }
  }
  if (breachAt !== undefined && breachAt !== nowMs && !moveTripped(g, nowMs, l)) {
    out.push({ type: 'risk.alert', code: 'MARKET_CLEARED', ts: nowMs, message: `${symbol} calm for ${nowMs - breachAt} ms since a move of ${breachBps} bps: entries allowed again` });
    breachAt = undefined;
    breachBps = undefined;
    changed = true;
  }
  const silentMs = nowMs - seenAt;
  if (silentMs >= SEEN_STEP_MS) {
    seenAt = nowMs;
    changed = true;
  }
  if (!changed && staleAlerted === undefined) return g;
  const next: MarketGuard = {
    bucketAt, hi, lo, prevHi, prevLo, seenAt,
    ...(breachAt !== undefined ? { breachAt, breachBps } : {}),
  };
  if (staleAlerted !== undefined) out.push(feedBackAlert(next, symbol, silentMs, nowMs, l));
  return next;
}

// The MARKET_CLEARED of a reported stale episode. The feed coming back ends MARKET_STALE only: a move episode (a feed
// outage during a crash, the move measured on the first mark back included) still denies entries, and an alert that
// said "entries allowed again" then would be false.
function feedBackAlert(g: MarketGuard, symbol: string, silentMs: number, nowMs: TsMs, l: RiskLimits): RiskAlert {
  const back = `${symbol} marked again after ${silentMs} ms without a mark`;
  const still = marketDenial(g, nowMs, l);
  const message = still === undefined ? `${back}: entries allowed again`
    : still.code === 'MARKET_MOVE'
      ? `${back}, but entries stay denied by MARKET_MOVE (a move of ${still.moveBps} bps, over the limit ${still.max} bps) until about ${new Date(still.until).toISOString()} (${still.until - nowMs} ms from now; a further move over the limit extends it)`
      : `${back}, but entries stay denied by ${still.code}`;
  return { type: 'risk.alert', code: 'MARKET_CLEARED', ts: nowMs, message };
}

// True while a move episode holds: a breach less than moveCooldownMs ago (and the move guard on).
function moveTripped(g: MarketGuard, nowMs: TsMs, l: RiskLimits): boolean {
  return l.maxMoveBps !== undefined && g.breachAt !== undefined && nowMs - g.breachAt < (l.moveCooldownMs ?? 0);
}

/**
 * Returns why an entry (a buy) of a symbol with guard `g` is denied at `nowMs`, or undefined: MARKET_STALE when its
 * last mark is more than markStaleMs old (counted from `seenAt` less one SEEN_STEP_MS, so never before the real last
 * mark is that old), else MARKET_MOVE while a move episode holds.
 */
export function marketDenial(g: MarketGuard | undefined, nowMs: TsMs, l: RiskLimits): DenyReason | undefined {
  return staleDenial(g, nowMs, l) ?? moveDenial(g, nowMs, l);
}

/** Returns the MARKET_STALE denial of a symbol with guard `g` at `nowMs`, or undefined (see marketDenial). */
export function staleDenial(g: MarketGuard | undefined, nowMs: TsMs, l: RiskLimits): Extract<DenyReason, { code: 'MARKET_STALE' }> | undefined {
  if (g === undefined || l.markStaleMs === undefined || nowMs - g.seenAt <= l.markStaleMs + SEEN_STEP_MS) return undefined;
  return { code: 'MARKET_STALE', lastMarkAgoMs: nowMs - g.seenAt, max: l.markStaleMs };
}

/** Returns the MARKET_MOVE denial of a symbol with guard `g` at `nowMs` (a move episode holds), or undefined. */
export function moveDenial(g: MarketGuard | undefined, nowMs: TsMs, l: RiskLimits): Extract<DenyReason, { code: 'MARKET_MOVE' }> | undefined {
  if (g?.breachAt === undefined || !moveTripped(g, nowMs, l)) return undefined;
  return { code: 'MARKET_MOVE', moveBps: g.breachBps ?? 0, max: l.maxMoveBps ?? 0, until: (g.breachAt + (l.moveCooldownMs ?? 0)) as TsMs };
}

/**
 * Returns the guard with a stale episode reported, pushing its MARKET_STALE alert into `out`, when `reason` is a
 * MARKET_STALE denial not reported yet; else `g` itself.
 */
export function reportStale(g: MarketGuard, symbol: string, reason: DenyReason, nowMs: TsMs, out: AlertSink): MarketGuard {
  if (reason.code !== 'MARKET_STALE' || g.staleAlerted === g.seenAt) return g;
  out.push({ type: 'risk.alert', code: 'MARKET_STALE', ts: nowMs,
    message: `${symbol} has had no mark for ${reason.lastMarkAgoMs} ms (limit ${reason.max} ms): the feed may have stopped; entries denied until the next mark` });
  return { ...g, staleAlerted: g.seenAt };
}
