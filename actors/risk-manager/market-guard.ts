// Market circuit breaker: per traded symbol, from the marks the RiskManager receives (risk.mark, the traded symbol's
// trade price and its last best bid/ask, published by app/system.ts when either changes). Three guards, each off while
// its limit is absent:
//   MARKET_MOVE   the price moved more than maxMoveBps within moveWindowMs: new entries (buys) are denied until
//                 moveCooldownMs passed without a mark over the limit. One MARKET_MOVE alert per episode; the first
//                 mark after the cooldown raises MARKET_CLEARED (the denial itself ends at the cooldown, mark or not).
//                 Every mark measures the move again while the price before it is in the window (up to two windows):
//                 an episode lasts until moveCooldownMs after the window let go of the move, or after the last mark.
//   MARKET_STALE  no mark for markStaleMs (a feed that silently stopped; app/system.ts marks at least once a second
//                 while trades or bookTickers arrive): entries are denied until the next mark. The
//                 RiskManager has no timer of its own, so the MARKET_STALE alert (once per episode) comes with the first
//                 intent it denies; the next mark raises MARKET_CLEARED, which says whether entries are allowed again
//                 or a move episode still denies them (a feed outage during a crash). A symbol never marked is not
//                 stale: market orders are denied NO_PRICE then, and a limit order carries the strategy's own price.
//   MARKET_SPREAD the marks' ask − bid was over maxSpreadBps of the bid for spreadMs or longer (a thin book, exchange
//                 trouble: a market entry would fill far from the last trade): entries are denied until a mark
//                 carries a spread within the limit. A stretch wide for less than spreadMs (the bundled recording's
//                 ETH/USDT never stays over 0.5 bps for more than 40 ms) denies nothing and says nothing; one that
//                 denies raises MARKET_SPREAD once (at the first mark or denied entry that sees it) and MARKET_CLEARED
//                 when the spread is back. A mark without bid/ask, with a crossed one (bid over ask: no valid
//                 quote) or a malformed one (not both positive safe integers; counted as `badQuotes`) leaves the
//                 stretch as it was; a locked one (bid = ask) is 0 bps.
// Every MARKET_CLEARED says whether entries are allowed again or which other guard still denies them.
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
  /** Since when the spread has been over maxSpreadBps (absent: within it, or never quoted), and the widest spread since, in bps. */
  readonly wideAt?: TsMs;
  readonly wideBps?: number;
  /** The current wide stretch was reported (MARKET_SPREAD), so it is reported once. */
  readonly spreadAlerted?: boolean;
  /**
   * Marks whose bid/ask was ignored as malformed (see validQuote), since the guard was made; absent: none. A count on
   * the state rather than an alert or a log line: a feed fault may repeat at trade rate.
   */
  readonly badQuotes?: number;
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

// The MARKET_CLEARED prefixes of one markGuard call: reused, so that a mark that changes nothing allocates nothing
// (markGuard runs to completion before any other call, and empties it first).
const ENDED: string[] = [];

/** The best bid and ask a mark carries (RiskMark): both or neither. */
export interface Quote { readonly bid?: Ticks; readonly ask?: Ticks }

// A bid or ask is ticks: a positive safe integer. Anything else (NaN, Infinity, a fraction, one side only) is a
// publisher fault: NaN or Infinity would throw in moveBps's BigInt path, and a fraction would be measured as if real.
function validQuote(q: Quote | undefined): q is Required<Quote> {
  return q !== undefined && Number.isSafeInteger(q.bid) && Number.isSafeInteger(q.ask) && (q.bid as number) > 0 && (q.ask as number) > 0;
}

// True for a quote that carries a bid or an ask, but not a valid pair of them (counted as `badQuotes`).
function malformed(q: Quote | undefined): boolean {
  return q !== undefined && (q.bid !== undefined || q.ask !== undefined) && !validQuote(q);
}

/**
 * Returns the spread of `q` in whole bps of its bid (floored): 0 for a locked quote (bid = ask), undefined without one,
 * for a malformed one (bid and ask not both positive safe integers) or for a crossed one (bid over ask).
 */
export function spreadBps(q: Quote | undefined): number | undefined {
  // A crossed quote is a broken book (a stale side, a feed glitch), not a tight one: read as 0 bps it would end a
  // denial and say "entries allowed again" on a book nobody can trade at the touch.
  if (!validQuote(q) || q.bid > q.ask) return undefined;
  return moveBps(q.ask - q.bid, q.bid);
}

/**
 * Returns the guard after a mark of `price` at `nowMs` (`last`: the symbol's mark before it; `quote`: the best bid/ask
 * it carries), pushing MARKET_MOVE at the start of a move episode, MARKET_SPREAD when a spread stayed wide for
 * spreadMs, and MARKET_CLEARED at the first mark after an episode (once reported) ended into `out`; returns `g` itself
 * when nothing changed (no allocation), and undefined while every guard is off.
 */
export function markGuard(
  g: MarketGuard | undefined, last: Ticks | undefined, symbol: string, price: Ticks, nowMs: TsMs, l: RiskLimits, out: AlertSink, quote?: Quote,
): MarketGuard | undefined {
  if (l.maxMoveBps === undefined && l.markStaleMs === undefined && l.maxSpreadBps === undefined) return g;
  const ended = ENDED;
  ended.length = 0;
  const moved = g === undefined
    ? { bucketAt: nowMs, hi: price, lo: price, prevHi: price, prevLo: price, seenAt: nowMs }
    : moveStep(g, last, symbol, price, nowMs, l, out, ended);
  let next = spreadStep(moved, symbol, nowMs, l, out, ended, quote);
  // Rare (a feed fault), so a new record for it costs nothing on the hot path.
  if (malformed(quote)) next = { ...next, badQuotes: (next.badQuotes ?? 0) + 1 };
  // Said once the mark is fully applied, so "allowed again" is true of every guard (a feed outage during a crash, a
  // wide book during a move).
  for (const what of ended) out.push({ type: 'risk.alert', code: 'MARKET_CLEARED', ts: nowMs, message: what + stillDenied(next, nowMs, l) });
  return next;
}

// The move window, the mark time and the end of a stale episode (see the header); pushes the start of a move episode
// into `out` and the prefix of a MARKET_CLEARED for each episode that ended into `ended`.
function moveStep(
  g: MarketGuard, last: Ticks | undefined, symbol: string, price: Ticks, nowMs: TsMs, l: RiskLimits, out: AlertSink, ended: string[],
): MarketGuard {
  let { bucketAt, hi, lo, prevHi, prevLo, seenAt, breachAt, breachBps } = g;
  const { staleAlerted } = g;
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
    ended.push(`${symbol} calm for ${nowMs - breachAt} ms since a move of ${breachBps} bps`);
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
  // A reported stale episode ends at any mark: MARKET_CLEARED says the feed is back.
  if (staleAlerted !== undefined) ended.push(`${symbol} marked again after ${silentMs} ms without a mark`);
  return {
    bucketAt, hi, lo, prevHi, prevLo, seenAt,
    ...(breachAt !== undefined ? { breachAt, breachBps } : {}),
    ...(g.wideAt !== undefined ? { wideAt: g.wideAt, wideBps: g.wideBps, ...(g.spreadAlerted ? { spreadAlerted: true } : {}) } : {}),
    ...(g.badQuotes !== undefined ? { badQuotes: g.badQuotes } : {}),
  };
}

// The spread guard: a quote over maxSpreadBps starts a wide stretch (`wideAt`), one within it ends the stretch (and its
// episode, MARKET_CLEARED once reported); a mark without a valid quote (none, malformed, or crossed) leaves the stretch as it was.
// The stretch denies entries once spreadMs old; the first mark then (or the first entry denied, reportMarketDenial)
// raises MARKET_SPREAD.
function spreadStep(g: MarketGuard, symbol: string, nowMs: TsMs, l: RiskLimits, out: AlertSink, ended: string[], quote: Quote | undefined): MarketGuard {
  if (l.maxSpreadBps === undefined) return g.wideAt === undefined ? g : withoutWide(g);
  const bps = spreadBps(quote);
  if (bps !== undefined && bps <= l.maxSpreadBps) {
    if (g.wideAt === undefined) return g;
    if (g.spreadAlerted) ended.push(`${symbol} spread back to ${bps} bps (limit ${l.maxSpreadBps} bps) after ${nowMs - g.wideAt} ms over it (widest ${g.wideBps} bps)`);
    return withoutWide(g);
  }
  let next = g;
  if (bps !== undefined && (g.wideAt === undefined || bps > (g.wideBps ?? 0))) next = { ...g, wideAt: g.wideAt ?? nowMs, wideBps: bps };
  const denial = spreadDenial(next, nowMs, l);
  if (denial === undefined || next.spreadAlerted) return next;
  out.push(spreadAlert(symbol, denial, nowMs));
  return { ...next, spreadAlerted: true };
}

function withoutWide(g: MarketGuard): MarketGuard {
  const { wideAt: _a, wideBps: _b, spreadAlerted: _c, ...rest } = g;
  return rest;
}

function spreadAlert(symbol: string, d: Extract<DenyReason, { code: 'MARKET_SPREAD' }>, nowMs: TsMs): RiskAlert {
  return { type: 'risk.alert', code: 'MARKET_SPREAD', ts: nowMs,
    message: `${symbol} bid/ask spread has been over the limit ${d.max} bps for ${d.wideForMs} ms (widest ${d.spreadBps} bps): entries denied until the spread is back within it` };
}

// The end of a MARKET_CLEARED: whether entries are allowed again, or which guard still denies them (an alert that said
// "entries allowed again" while another guard denied them would be false).
function stillDenied(g: MarketGuard, nowMs: TsMs, l: RiskLimits): string {
  const still = marketDenial(g, nowMs, l);
  if (still === undefined) return ': entries allowed again';
  if (still.code === 'MARKET_MOVE') {
    return `, but entries stay denied by MARKET_MOVE (a move of ${still.moveBps} bps, over the limit ${still.max} bps) until about ${new Date(still.until).toISOString()} (${still.until - nowMs} ms from now; a further move over the limit extends it)`;
  }
  return `, but entries stay denied by ${still.code}`;
}

// True while a move episode holds: a breach less than moveCooldownMs ago (and the move guard on).
function moveTripped(g: MarketGuard, nowMs: TsMs, l: RiskLimits): boolean {
  return l.maxMoveBps !== undefined && g.breachAt !== undefined && nowMs - g.breachAt < (l.moveCooldownMs ?? 0);
}

/**
 * Returns why an entry (a buy) of a symbol with guard `g` is denied at `nowMs`, or undefined: MARKET_STALE when its
 * last mark is more than markStaleMs old (counted from `seenAt` less one SEEN_STEP_MS, so never before the real last
 * mark is that old), else MARKET_MOVE while a move episode holds, else MARKET_SPREAD while the spread has been wide
 * for spreadMs or more.
 */
export function marketDenial(g: MarketGuard | undefined, nowMs: TsMs, l: RiskLimits): DenyReason | undefined {
  return staleDenial(g, nowMs, l) ?? moveDenial(g, nowMs, l) ?? spreadDenial(g, nowMs, l);
}

/** Returns the MARKET_SPREAD denial of a symbol with guard `g` at `nowMs` (its spread wide for spreadMs or more), or undefined. */
export function spreadDenial(g: MarketGuard | undefined, nowMs: TsMs, l: RiskLimits): Extract<DenyReason, { code: 'MARKET_SPREAD' }> | undefined {
  // A limit raised over the widest spread of the stretch (risk.setLimits) lets entries through before the next mark.
  if (g?.wideAt === undefined || l.maxSpreadBps === undefined || (g.wideBps ?? 0) <= l.maxSpreadBps || nowMs - g.wideAt < (l.spreadMs ?? 0)) return undefined;
  return { code: 'MARKET_SPREAD', spreadBps: g.wideBps ?? 0, max: l.maxSpreadBps, wideForMs: nowMs - g.wideAt };
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
 * Returns the guard with an episode reported, pushing its alert into `out`, when `reason` is a MARKET_STALE or
 * MARKET_SPREAD denial not reported yet (the RiskManager has no timer: the first entry it denies may be the first to
 * see it); else `g` itself.
 */
export function reportMarketDenial(g: MarketGuard, symbol: string, reason: DenyReason, nowMs: TsMs, out: AlertSink): MarketGuard {
  if (reason.code === 'MARKET_SPREAD') {
    if (g.spreadAlerted) return g;
    out.push(spreadAlert(symbol, reason, nowMs));
    return { ...g, spreadAlerted: true };
  }
  if (reason.code !== 'MARKET_STALE' || g.staleAlerted === g.seenAt) return g;
  out.push({ type: 'risk.alert', code: 'MARKET_STALE', ts: nowMs,
    message: `${symbol} has had no mark for ${reason.lastMarkAgoMs} ms (limit ${reason.max} ms): the feed may have stopped; entries denied until the next mark` });
  return { ...g, staleAlerted: g.seenAt };
}
