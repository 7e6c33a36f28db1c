// Order matching against a replayed L2 book plus resting simulated orders, in integer ticks and lots.
//
// Model (the rules a paper or simulated venue fills by; see also docs in engine/venues/sim/README.md):
// - A marketable order is a taker: it walks the opposite side best price first, merging the market's displayed
//   levels with resting simulated orders at the same prices. At one price the resting sim orders keep their queue
//   place among the market lots (`ahead` market lots first, then the sim order, then the rest).
// - Market lots a taker consumed are remembered per level as (displayed size, lots consumed) and stay unavailable
//   while the level lasts: a change of its displayed size to N keeps them, capped at N (lots = min(lots, N)), and
//   they are forgotten once the level is gone. Our phantom taker took the front of the level, which the real market
//   still shows: growth is lots joining behind, a drop is the market trading or pulling lots, and neither gives back
//   what we took (a real print would have met the lots behind ours). Releasing lots on any change, or by each drop,
//   filled the same lots twice: on every size change of a newer bookTicker, or one lot flickering at the back.
// - A resting limit order joins the back of its level: `ahead` = displayed lots at its price when it became active.
//   Trades printing at its price (by the aggressor side that hits it) first use up `ahead`, then fill it; earlier
//   sim orders at the same price are ahead of it as well (price-time priority).
// - When a level's displayed size falls, the part not explained by trades printed there since the previous update
//   is cancellations. Cancellations are taken from ahead and behind in proportion to their sizes, rounded down
//   (so the order advances slightly less than the fair share), then `ahead` is capped at the new displayed size.
//   A growing level leaves `ahead` unchanged: new lots join behind.
// - Depth diffs and trades come on separate streams, so a diff that already shows a trade can arrive before its
//   print. With exchange times (diff event time, trade time) the engine tells the two orders apart: a print timed at
//   or before the level's last applied diff is already in that diff. It does not move the queue a second time: the
//   diff's drop is read again with the print as a trade (undo the diff's cancellations, advance by the print, take
//   the rest of the drop as cancellations), as if the print had come first. Orders that joined after that diff read a
//   book that already showed the print and do not move. A print through an order's price fills it whenever it comes.
//   Without times every print is taken as not yet in the book. A snapshot carries no exchange time: the book becomes
//   live with the diff that completes the sync, and `onSnapshot` takes that diff's time, so that a print from before
//   it arriving after the resync (already in the book the queues were capped at) does not move them.
// - A restored order (a paper venue's restart) may join with the queue ahead it had (`NewOrder.queueAhead`), capped
//   at the displayed size when it activates (a live book: activations wait for one).
// - A trade through its price (a sell print below a resting buy, a buy print above a resting sell) fills the whole
//   remainder as maker at the order's own price. Market liquidity that crosses it (an ask at or below a resting buy)
//   fills it at its own price as maker for the available crossing lots, which are then remembered as consumed.
// - An order becomes active `latencyMs` after submission on the injected clock; cancels act immediately. While the
//   book is being re-synced (`BookView.isLive()` false) it stays pending and activates at the next live snapshot.
// - A market buy may spend only what its owner can pay when it activates (`marketBuyFunds`): it fills what that buys
//   and the rest expires. A post-only order that would take when it activates expires instead.
// - Self-trade prevention as Binance spot's default (EXPIRE_MAKER): an order that reaches a resting order of the same
//   owner expires that resting order instead of trading with it, and walks on. Orders without an owner never match
//   this way.
// - Fees: maker/taker rates in 1e-9 fixed point (0.1% = 1_000_000n). `feeIn: 'received'` charges like Binance
//   without BNB (buyer pays in base, seller in quote); `'quote'` charges every fill in the quote currency.
// - The book a taker walks (and the liquidity that crosses a resting order) is clipped by what the market showed after
//   the book's last diff: a newer bookTicker (`BookView.touch`, newer than `BookView.lastUpdateId`) and prints timed
//   after the last diff (told through `onTrade`); see touch-overlay.ts. Consumed lots are remembered against the size
//   a level showed before prints (the ticker's at its price), and prints take their lots off on top of them. A print
//   that arrived before the newer ticker is in it and clips nothing while that ticker applies.
// - An order resting at the newer ticker's price on its side joins behind the larger of the book's and the ticker's
//   size there: the ticker shows lots the lagging book may not have yet.
// Everything is deterministic: no wall clock, no randomness; ids come from counters.
import { ascending, descending } from './book-side.ts';
import type { BookSide } from './order-book.ts';
import type { Side, OrderType, TimeInForce } from '../messages/orders.ts';
import type { Clock, TimerHandle } from '../runtime/clock.ts';
import { FIXED_SCALE, divRound } from '../types/decimal.ts';
import { notional, type Instrument } from '../types/instrument.ts';
import { mulMoneyRate, type Money } from '../types/money.ts';
import type { Lots, Ticks } from '../types/price.ts';
import type { TsMs } from '../types/time.ts';
import { Listeners } from '../runtime/listeners.ts';
import { PrintOverlay, clipBase, forEachClipped, newerTicker, sideClip, tickerLevel, type ClippedLevelFn, type SideClip, type TouchTicker } from './touch-overlay.ts';

export type { TouchTicker } from './touch-overlay.ts';

/** The read side of an L2 book the engine matches against (engine/market/order-book.ts implements it). */
export interface BookView {
  bestBid(): Ticks | undefined;
  bestAsk(): Ticks | undefined;
  lotsAt(side: BookSide, price: Ticks): Lots;
  forEachLevel(side: BookSide, fn: (price: Ticks, lots: Lots) => boolean | void): void;
  /**
   * False while the book is being re-synced (emptied or stale until its next snapshot); absent means always live.
   * The engine keeps queue positions through that period and holds activations until the book is live again.
   */
  isLive?(): boolean;
  /** The final update id of the last diff (or snapshot) the book applied; absent: a ticker is never taken as newer. */
  lastUpdateId?(): number;
  /**
   * The newest real-time best bid/ask received (Binance bookTicker), or undefined. While its update id is above
   * `lastUpdateId()` it clips what a taker can reach (see touch-overlay.ts).
   */
  touch?(): TouchTicker | undefined;
}

/** What a synced book knows beyond its levels: its update id and the newest ticker (see BookView). */
export interface BookViewExtras {
  readonly lastUpdateId?: () => number;
  readonly touch?: () => TouchTicker | undefined;
}

/**
 * Returns a view of `book` that reports `isLive()` (e.g. a BookSync's state), for a book emptied while re-syncing, and
 * the book's update id and newest ticker when `extras` gives them.
 */
export function liveBookView(book: BookView, isLive: () => boolean, extras: BookViewExtras = {}): BookView {
  return {
    bestBid: () => book.bestBid(),
    bestAsk: () => book.bestAsk(),
    lotsAt: (side, price) => book.lotsAt(side, price),
    forEachLevel: (side, fn) => book.forEachLevel(side, fn),
    isLive,
    ...(extras.lastUpdateId ? { lastUpdateId: extras.lastUpdateId } : {}),
    ...(extras.touch ? { touch: extras.touch } : {}),
  };
}

/** Lifecycle of a simulated order; `expired` is an IOC/FOK/market remainder that could not fill (Binance EXPIRED). */
export type SimOrderStatus = 'pending' | 'open' | 'partiallyFilled' | 'filled' | 'cancelled' | 'expired';

/** An order request in integer units; `price` is required for limit orders and ignored for market orders. */
export interface NewOrder {
  readonly side: Side;
  readonly type: OrderType;
  readonly timeInForce: TimeInForce;
  readonly lots: Lots;
  readonly price?: Ticks;
  /** Who owns it (an account id); carried on fills. */
  readonly owner?: string;
  readonly clientOrderId?: string;
  /** Post-only (Binance LIMIT_MAKER): a limit order that expires at activation instead of taking liquidity. */
  readonly postOnly?: boolean;
  /**
   * A restored order's place in its queue: at most this many market lots ahead when it rests (capped at what the
   * level displays then). Absent: it joins the back of its level.
   */
  readonly queueAhead?: Lots;
}

/** The engine's view of one order; read it, never mutate it. */
export interface SimOrder {
  readonly id: number;
  readonly owner: string;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly type: OrderType;
  readonly timeInForce: TimeInForce;
  readonly price: Ticks | undefined;
  readonly lots: Lots;
  readonly filledLots: Lots;
  /** Sum of fill notionals in quote Money. */
  readonly cumQuote: Money;
  readonly status: SimOrderStatus;
  readonly submittedAt: TsMs;
  readonly activeAt: TsMs;
  readonly updatedAt: TsMs;
  /** Market lots displayed ahead of it at its price while it rests. */
  readonly queueAhead: Lots;
}

/** One execution of a simulated order. */
export interface MatchFill {
  readonly tradeId: number;
  readonly orderId: number;
  readonly owner: string;
  readonly side: Side;
  readonly price: Ticks;
  readonly lots: Lots;
  /** price × quantity in quote Money. */
  readonly quote: Money;
  readonly fee: Money;
  readonly feeAsset: string;
  readonly liquidity: 'maker' | 'taker';
  /** The other simulated order when two sim orders matched, else undefined (matched the market book). */
  readonly counterOrderId: number | undefined;
  readonly ts: TsMs;
}

/** What the engine reports, in order, to its listeners. */
export type MatchEvent =
  | { readonly kind: 'active'; readonly order: SimOrder }
  | { readonly kind: 'fill'; readonly order: SimOrder; readonly fill: MatchFill }
  /** `expiredInMatch`: self-trade prevention expired this resting order (Binance EXPIRED_IN_MATCH). */
  | { readonly kind: 'done'; readonly order: SimOrder; readonly expiredInMatch?: true };

/** Settings of one engine (one instrument). */
export interface MatchingConfig {
  readonly instrument: Instrument;
  readonly book: BookView;
  readonly clock: Clock;
  /** Fee rates in 1e-9 units: 0.1% = 1_000_000n. */
  readonly makerFeeRate9: bigint;
  readonly takerFeeRate9: bigint;
  readonly latencyMs?: number;
  readonly feeIn?: 'received' | 'quote';
  /** Id sources; share them between engines of one venue so ids are unique venue-wide. */
  readonly nextOrderId?: () => number;
  readonly nextTradeId?: () => number;
  /**
   * Completed orders kept readable by `order` and `allOrders`, the oldest forgotten first (default: all). A venue
   * that runs for months must not keep every order it ever matched.
   */
  readonly keepCompleted?: number;
  /** Called with each completed order `keepCompleted` forgets, so that a venue's indexes of it can go too. */
  readonly onForget?: (order: SimOrder) => void;
  /**
   * Returns the quote Money a market buy may spend when it activates (its owner's free funds plus the order's own
   * lock). Its lock is only the cost the book showed at submission; after `latencyMs` the book may offer more or
   * dearer lots. Without it market buys are not capped.
   */
  readonly marketBuyFunds?: (order: SimOrder) => bigint;
}

interface Working {
  id: number;
  owner: string;
  clientOrderId: string;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  price: Ticks | undefined;
  lots: number;
  filledLots: number;
  cumQuote: bigint;
  status: SimOrderStatus;
  submittedAt: TsMs;
  activeAt: TsMs;
  updatedAt: TsMs;
  queueAhead: number;
  /** The queue ahead it joins with when it rests (a restored order), else undefined: the back of the level. */
  joinAhead: number | undefined;
  /** What its level's last depth update took from `queueAhead`; undefined when it joined after that update. */
  stepCut: number | undefined;
  timer: TimerHandle | undefined;
  postOnly: boolean;
}

/** Resting sim orders at one price, FIFO, with what the engine last saw displayed there. */
interface LevelTrack {
  readonly orders: Working[];
  lastDisplayed: number;
  /** Lots printed by trades that hit this level since the last depth update of it. */
  tradedSince: number;
  /** Exchange time of the last depth update of this level (of the book when the track began); -Infinity unknown. */
  depthTs: number;
  /** That update's size before it and the traded lots it was known to include (late prints are added). */
  stepFrom: number;
  stepTraded: number;
}

interface Consumed { displayed: number; lots: number }

/** A walk's running totals; `budget` is the quote Money a capped market buy has left, `broke` set once it buys nothing more. */
interface WalkAcc { remaining: number; quote: bigint; budget: bigint | undefined; broke: boolean; owner: string }

const counter = (start: number): (() => number) => {
  let n = start;
  return () => n++;
};

/** Returns the book side a resting order of `side` joins. */
const ownSide = (side: Side): BookSide => (side === 'buy' ? 'bid' : 'ask');
/** Returns the book side an order of `side` takes from. */
const oppSide = (side: Side): BookSide => (side === 'buy' ? 'ask' : 'bid');

/** Price-time-priority matching of simulated orders against a replayed book; pure and deterministic. */
export class MatchingEngine {
  private readonly inst: Instrument;
  private readonly book: BookView;
  private readonly clock: Clock;
  private readonly latencyMs: number;
  private readonly feeIn: 'received' | 'quote';
  private readonly nextOrderId: () => number;
  private readonly nextTradeId: () => number;
  private readonly orders = new Map<number, Working>();
  private readonly tracks: Record<BookSide, Map<number, LevelTrack>> = { bid: new Map(), ask: new Map() };
  private readonly consumed: Record<BookSide, Map<number, Consumed>> = { bid: new Map(), ask: new Map() };
  private readonly listeners = new Listeners<MatchEvent>();
  /** Ids of completed orders, oldest first (only with `keepCompleted`). */
  private readonly completed: number[] = [];
  /** Orders whose activation fell while the book was not live, in activation order. */
  private held: Working[] = [];
  /** Exchange time of the last depth update told (any level); -Infinity while unknown. */
  private depthTs = -Infinity;
  /** Prints after the book's last diff, which clip what takers reach until a diff shows them. */
  private readonly prints = new PrintOverlay();

  constructor(private readonly cfg: MatchingConfig) {
    this.inst = cfg.instrument;
    this.book = cfg.book;
    this.clock = cfg.clock;
    this.latencyMs = cfg.latencyMs ?? 0;
    this.feeIn = cfg.feeIn ?? 'received';
    this.nextOrderId = cfg.nextOrderId ?? counter(1);
    this.nextTradeId = cfg.nextTradeId ?? counter(1);
    if (!Number.isFinite(this.latencyMs) || this.latencyMs < 0) throw new RangeError(`latencyMs ${this.latencyMs} must be a non-negative number`);
    if (cfg.keepCompleted !== undefined && !(Number.isSafeInteger(cfg.keepCompleted) && cfg.keepCompleted >= 0)) {
      throw new RangeError(`keepCompleted ${cfg.keepCompleted} must be a non-negative integer`);
    }
  }

  /** Registers a listener for order activations, fills and completions; returns a function that removes it. */
  on(fn: (e: MatchEvent) => void): () => void {
    return this.listeners.add(fn);
  }

  /** Returns the order with `id`, or undefined. Completed orders stay readable (the newest `keepCompleted` of them). */
  order(id: number): SimOrder | undefined {
    const o = this.orders.get(id);
    return o && view(o);
  }

  /** Returns every order not yet completed (pending, open or partially filled), oldest first. */
  openOrders(owner?: string): SimOrder[] {
    const out: SimOrder[] = [];
    for (const o of this.orders.values()) if (isLive(o) && (owner === undefined || o.owner === owner)) out.push(view(o));
    return out;
  }

  /** Returns every order this engine has seen, oldest first. */
  allOrders(owner?: string): SimOrder[] {
    return [...this.orders.values()].filter((o) => owner === undefined || o.owner === owner).map(view);
  }

  /**
   * Accepts an order; it becomes active after `latencyMs` (at once when 0, so fills are already reported when this
   * returns). Throws RangeError for a request that is malformed in integer terms (non-positive lots, missing price).
   */
  submit(req: NewOrder): SimOrder {
    if (!Number.isSafeInteger(req.lots) || req.lots <= 0) throw new RangeError(`order lots ${req.lots} must be a positive integer`);
    if (req.queueAhead !== undefined && !(Number.isSafeInteger(req.queueAhead) && req.queueAhead >= 0)) {
      throw new RangeError(`order queueAhead ${req.queueAhead} must be a non-negative integer lot count`);
    }
    if (req.type === 'limit' && (req.price === undefined || !Number.isSafeInteger(req.price) || req.price <= 0)) {
      throw new RangeError(`limit order price ${req.price} must be a positive integer tick count`);
    }
    const now = this.clock.now();
    const id = this.nextOrderId();
    const o: Working = {
      id,
      owner: req.owner ?? '',
      clientOrderId: req.clientOrderId ?? `sim-${id}`,
      side: req.side,
      type: req.type,
      timeInForce: req.timeInForce,
      price: req.type === 'limit' ? req.price : undefined,
      lots: req.lots,
      filledLots: 0,
      cumQuote: 0n,
      status: 'pending',
      submittedAt: now,
      activeAt: now + this.latencyMs,
      updatedAt: now,
      queueAhead: 0,
      joinAhead: req.queueAhead,
      stepCut: undefined,
      timer: undefined,
      postOnly: req.postOnly === true,
    };
    this.orders.set(id, o);
    if (this.latencyMs === 0) this.activate(o);
    else o.timer = this.clock.setTimeout(() => this.activate(o), this.latencyMs);
    return view(o);
  }

  /** Cancels a live order; returns it, or undefined when it is unknown or already completed. */
  cancel(id: number): SimOrder | undefined {
    const o = this.orders.get(id);
    if (!o || !isLive(o)) return undefined;
    if (o.timer) this.clock.clearTimeout(o.timer);
    this.unrest(o);
    this.finish(o, 'cancelled');
    return view(o);
  }

  /** Returns how many lots an order of `owner` would take right now as a taker (no state changes). */
  previewTake(side: Side, lots: Lots, limit?: Ticks, owner = ''): { lots: Lots; quote: Money } {
    const r = this.walk(undefined, side, limit, lots, true, undefined, owner);
    return { lots: r.lots as Lots, quote: r.quote as Money };
  }

  /**
   * True when no order rests and no consumed liquidity is remembered: book changes and prints cannot affect anything,
   * so a caller may skip telling (a backtest applies ~700k levels a run while usually flat).
   */
  get idle(): boolean {
    return this.tracks.bid.size === 0 && this.tracks.ask.size === 0 && this.consumed.bid.size === 0 && this.consumed.ask.size === 0;
  }

  /**
   * Tells the engine that the book's levels listed here now hold these sizes (call after applying a depth diff
   * to the book). Adjusts queue positions, forgets stale consumption and fills orders the market crossed.
   * `tsExchange` is the diff's exchange event time (Binance `E`); tell it even with no levels while idle, so that an
   * order joining next knows which prints its book already shows.
   */
  onDepth(bids: ReadonlyArray<readonly [Ticks, Lots]>, asks: ReadonlyArray<readonly [Ticks, Lots]>, tsExchange?: TsMs): void {
    if (tsExchange !== undefined) this.depthTs = tsExchange;
    if (!this.prints.empty) this.prints.onDiff(tsExchange);
    if (this.idle) return;
    for (const [p, q] of bids) this.onLevel('bid', p, q, tsExchange);
    for (const [p, q] of asks) this.onLevel('ask', p, q, tsExchange);
    this.resolveCrossed();
  }

  /**
   * Tells the engine the whole book was replaced (a snapshot or resync): consumption is forgotten, queues capped at
   * what the live book shows, and orders held while it was not live activate. While the book is not live (emptied
   * for a resync) queues are left alone: the real queue did not vanish, we only stopped seeing it. `tsExchange` is
   * the exchange time of the diff that made the book live (a snapshot has none): a print at or before it is already
   * in the book and moves no queue. Without it only prints at or before a level's last diff told before the resync are.
   */
  onSnapshot(tsExchange?: TsMs): void {
    const live = this.bookLive();
    if (live && tsExchange !== undefined) this.depthTs = tsExchange;
    // A replaced book shows the prints up to the diff that made it live; one not live yet shows nothing to clip.
    if (live) this.prints.onDiff(tsExchange);
    else this.prints.clear();
    for (const side of ['bid', 'ask'] as const) {
      this.consumed[side].clear();
      if (!live) continue;
      for (const [p, t] of this.tracks[side]) {
        const shown = this.book.lotsAt(side, p as Ticks);
        // The snapshot is the reference now: a late print is not read into an update before it.
        for (const o of t.orders) {
          o.queueAhead = Math.min(o.queueAhead, shown);
          o.stepCut = undefined;
        }
        t.lastDisplayed = shown;
        t.tradedSince = 0;
        // No order rested through this book's step (stepCut undefined): a print at or before it moves none.
        if (tsExchange !== undefined) t.depthTs = tsExchange;
      }
    }
    if (!live) return;
    this.resolveCrossed();
    const held = this.held;
    this.held = [];
    for (const o of held) this.activate(o);
  }

  /**
   * Tells the engine a market trade printed. `buyerMaker` true means the aggressor sold (it hit bids).
   * Queues at the trade price advance; orders the trade went through fill completely. `tsExchange` is the trade
   * time (Binance `T`): a print at or before the last depth update of its level is already in that update and
   * does not move the queue twice (see the header); without it the print is taken as not yet in the book. A print
   * timed after the last depth update also clips what takers reach on its side until a diff shows it
   * (touch-overlay.ts); one without a time does not.
   */
  onTrade(price: Ticks, lots: Lots, buyerMaker: boolean, tsExchange?: TsMs): void {
    // Tagged with the ticker current now: a newer ticker later already shows this print (touch-overlay.ts).
    this.prints.onPrint(price, lots, buyerMaker, tsExchange, this.depthTs, this.book.touch?.()?.updateId);
    if (this.tracks.bid.size === 0 && this.tracks.ask.size === 0) return;
    // Resting buys: a print below them went through them; a seller-aggressor print at their price eats the queue.
    for (const [p, t] of [...this.tracks.bid]) {
      if (p > price) this.fillAll(t, p as Ticks);
      else if (p === price && buyerMaker) this.onPrint(t, p as Ticks, lots, tsExchange);
    }
    for (const [p, t] of [...this.tracks.ask]) {
      if (p < price) this.fillAll(t, p as Ticks);
      else if (p === price && !buyerMaker) this.onPrint(t, p as Ticks, lots, tsExchange);
    }
  }

  private emit(e: MatchEvent): void {
    this.listeners.emit(e);
  }

  private bookLive(): boolean {
    return this.book.isLive?.() ?? true;
  }

  private activate(o: Working): void {
    if (o.status !== 'pending') return;
    o.timer = undefined;
    // An order reaching the exchange matches the real book, which we cannot see during a resync: it waits for the
    // book, then matches (takes or joins the back of its queue) as it would have, rather than resting at the front
    // of an empty level or being rejected for our feed's gap.
    if (!this.bookLive()) {
      this.held.push(o);
      return;
    }
    o.status = 'open';
    o.activeAt = this.clock.now();
    o.updatedAt = this.clock.now();
    this.emit({ kind: 'active', order: view(o) });
    const need = o.lots;
    if (o.timeInForce === 'FOK') {
      const can = this.walk(undefined, o.side, o.price, need, true, undefined, o.owner).lots;
      if (can < need) return this.finish(o, 'expired');
    }
    // Binance rejects a LIMIT_MAKER that would take; one that already was acknowledged can only expire.
    if (o.postOnly && this.walk(undefined, o.side, o.price, 1, true).lots > 0) return this.finish(o, 'expired');
    const funds = o.type === 'market' && o.side === 'buy' ? this.cfg.marketBuyFunds?.(view(o)) : undefined;
    this.walk(o, o.side, o.price, need, false, funds);
    if (!isLive(o)) return;
    if (o.type === 'market' || o.timeInForce !== 'GTC') return this.finish(o, 'expired');
    this.rest(o);
  }

  private rest(o: Working): void {
    const side = ownSide(o.side);
    const p = o.price as Ticks;
    let t = this.tracks[side].get(p);
    const shown = this.book.lotsAt(side, p);
    if (!t) {
      t = { orders: [], lastDisplayed: shown, tradedSince: 0, depthTs: this.depthTs, stepFrom: shown, stepTraded: 0 };
      this.tracks[side].set(p, t);
    }
    const ahead = this.joinQueue(side, p, shown);
    o.queueAhead = o.joinAhead === undefined ? ahead : Math.min(o.joinAhead, ahead);
    o.stepCut = undefined;
    t.orders.push(o);
  }

  /**
   * Returns the market lots an order joining `side` at `p` queues behind: the book's `shown`, or the newer ticker's
   * size when it shows more at that price (the lagging book may not show the level yet).
   */
  private joinQueue(side: BookSide, p: number, shown: number): number {
    const live = this.newerTicker();
    if (live === undefined) return shown;
    const touch = tickerLevel(live, side);
    return touch.price === p ? Math.max(shown, touch.lots) : shown;
  }

  private unrest(o: Working): void {
    if (o.price === undefined) return;
    const side = ownSide(o.side);
    const t = this.tracks[side].get(o.price);
    if (!t) return;
    const i = t.orders.indexOf(o);
    if (i >= 0) t.orders.splice(i, 1);
    if (t.orders.length === 0) this.tracks[side].delete(o.price);
  }

  private finish(o: Working, status: SimOrderStatus, inMatch = false): void {
    o.status = status;
    o.updatedAt = this.clock.now();
    this.emit(inMatch ? { kind: 'done', order: view(o), expiredInMatch: true } : { kind: 'done', order: view(o) });
    this.retire(o);
  }

  // A completed order (cancelled, expired or filled) joins the kept ones; beyond keepCompleted the oldest go.
  private retire(o: Working): void {
    const keep = this.cfg.keepCompleted;
    if (keep === undefined) return;
    this.completed.push(o.id);
    if (this.completed.length <= keep) return;
    for (const id of this.completed.splice(0, this.completed.length - keep)) {
      const gone = this.orders.get(id)!;
      this.orders.delete(id);
      this.cfg.onForget?.(view(gone));
    }
  }

  /**
   * Market lots still available at a level that displays `displayed` lots (the ticker's size at its price) of which
   * prints after the book's last diff took `printed`.
   */
  private available(side: BookSide, p: number, displayed: number, printed = 0): number {
    const taken = this.resize(side, p, displayed);
    return Math.max(0, displayed - printed - taken);
  }

  /**
   * Re-keys the consumption at a level to the size it shows now (see the header: kept, capped at what it shows);
   * returns the lots still consumed there.
   */
  private resize(side: BookSide, p: number, shown: number): number {
    const c = this.consumed[side].get(p);
    if (!c) return 0;
    if (c.displayed === shown) return c.lots;
    c.lots = Math.min(c.lots, shown);
    c.displayed = shown;
    if (c.lots === 0) this.consumed[side].delete(p);
    return c.lots;
  }

  /** Returns how the book a taker walks on `side` is clipped now (touch-overlay.ts), or undefined when it is not. */
  private clipOf(side: BookSide): SideClip | undefined {
    const live = this.newerTicker();
    // Prints that arrived before a live ticker are already in it: only later ones clip beside it.
    return sideClip(side, live, this.prints.furthest(side, live?.updateId));
  }

  /** Returns the book's ticker when it is newer than the book's last applied diff, else undefined. */
  private newerTicker(): TouchTicker | undefined {
    return newerTicker(this.book.touch?.(), this.book.lastUpdateId?.());
  }

  /** Calls `fn` for each market level of `side` a taker may reach, best first, until it returns false. */
  private forEachMarketLevel(side: BookSide, clip: SideClip | undefined, fn: ClippedLevelFn): void {
    if (clip === undefined) this.book.forEachLevel(side, (p, lots) => fn(p, lots, 0));
    else forEachClipped((s, f) => this.book.forEachLevel(s, f), side, clip, fn);
  }

  /** Returns the best market price of `side` a taker may reach now (the clipped book's), or undefined. */
  private bestReachable(side: BookSide): number | undefined {
    const clip = this.clipOf(side);
    if (clip === undefined) return side === 'bid' ? this.book.bestBid() : this.book.bestAsk();
    let best: number | undefined;
    this.forEachMarketLevel(side, clip, (p) => {
      best = p;
      return false;
    });
    return best;
  }

  private consume(side: BookSide, p: number, displayed: number, lots: number): void {
    this.resize(side, p, displayed);
    const c = this.consumed[side].get(p);
    if (c) c.lots += lots;
    else this.consumed[side].set(p, { displayed, lots });
  }

  /**
   * Walks the opposite side for `taker` (or a preview when `dry`), best price first, market levels and sim levels
   * merged; returns the lots and quote Money taken.
   */
  private walk(taker: Working | undefined, side: Side, limit: Ticks | undefined, need: number, dry: boolean, budget?: bigint, owner = taker?.owner ?? ''): { lots: number; quote: bigint } {
    // No closures named per call here (tsx keepNames makes each a defineProperty): module helpers and a method.
    const bookSide = oppSide(side);
    const buy = side === 'buy';
    const simPrices = [...this.tracks[bookSide].keys()].filter((p) => withinLimit(buy, limit, p)).sort(buy ? ascending : descending);
    let si = 0;
    const acc: WalkAcc = { remaining: need, quote: 0n, budget, broke: false, owner };
    this.forEachMarketLevel(bookSide, this.clipOf(bookSide), (p, lots, printed) => {
      if (acc.remaining <= 0 || acc.broke || !withinLimit(buy, limit, p)) return false;
      while (si < simPrices.length && (buy ? simPrices[si]! < p : simPrices[si]! > p)) {
        this.visitLevel(taker, bookSide, simPrices[si++]!, 0, 0, acc, dry);
        if (acc.remaining <= 0 || acc.broke) return false;
      }
      if (si < simPrices.length && simPrices[si] === p) si++;
      this.visitLevel(taker, bookSide, p, lots, printed, acc, dry);
      return acc.remaining > 0 && !acc.broke;
    });
    while (acc.remaining > 0 && !acc.broke && si < simPrices.length) this.visitLevel(taker, bookSide, simPrices[si++]!, 0, 0, acc, dry);
    return { lots: need - acc.remaining, quote: acc.quote };
  }

  // One price level of a walk: takes what it can and counts it into `acc`.
  private visitLevel(taker: Working | undefined, bookSide: BookSide, p: number, displayed: number, printed: number, acc: WalkAcc, dry: boolean): void {
    let want = acc.remaining;
    if (acc.budget !== undefined) {
      want = this.affordable(p as Ticks, want, acc.budget);
      // Prices only get worse further on: what cannot be paid here cannot be paid there.
      if (want === 0) {
        acc.broke = true;
        return;
      }
    }
    const got = this.takeLevel(taker, bookSide, p, displayed, printed, want, dry, acc.owner);
    const quote = notional(this.inst, p as Ticks, got as Lots);
    acc.remaining -= got;
    acc.quote += quote;
    if (acc.budget !== undefined) acc.budget -= this.buyCost(quote);
  }

  /** Returns the most lots, up to `want`, a buy can pay for at price `p` with `budget` quote Money. */
  private affordable(p: Ticks, want: number, budget: bigint): number {
    const unit = this.buyCost(notional(this.inst, p, 1 as Lots));
    if (unit <= 0n) return want;
    let n = budget <= 0n ? 0 : Number(bigMin(BigInt(want), budget / unit));
    // Notional rounding can make n lots dearer than n unit prices.
    while (n > 0 && this.buyCost(notional(this.inst, p, n as Lots)) > budget) n--;
    return n;
  }

  /** Returns what a buy fill of `quote` notional costs in quote Money: the notional, plus the fee when that is in quote. */
  private buyCost(quote: bigint): bigint {
    if (this.feeIn !== 'quote') return quote;
    // Rounded up at the higher rate: a fill may be maker or taker and the cap must not be exceeded.
    const rate = this.cfg.makerFeeRate9 > this.cfg.takerFeeRate9 ? this.cfg.makerFeeRate9 : this.cfg.takerFeeRate9;
    const scale = 10n ** BigInt(FIXED_SCALE);
    return quote + (quote * rate + scale - 1n) / scale;
  }

  /**
   * Takes up to `want` lots at one price: market lots ahead of each resting sim order, the sim order, the rest.
   * `displayed` is what the level shows before prints after the book's last diff took `printed` of it.
   */
  private takeLevel(taker: Working | undefined, bookSide: BookSide, p: number, displayed: number, printed: number, want: number, dry: boolean, owner: string): number {
    const avail = displayed > 0 ? this.available(bookSide, p, displayed, printed) : 0;
    const track = this.tracks[bookSide].get(p);
    let market = 0;
    let taken = 0;
    let marketFilled = 0;
    if (track) {
      for (const r of [...track.orders]) {
        const ahead = Math.min(r.queueAhead, avail) - market;
        if (ahead > 0) {
          const n = Math.min(want - taken, ahead);
          market += n;
          taken += n;
          marketFilled += n;
        }
        if (taken >= want) break;
        if (owner !== '' && r.owner === owner) {
          // Self-trade prevention (EXPIRE_MAKER): the resting order goes, nothing trades with it.
          if (!dry && taker) {
            this.unrest(r);
            this.finish(r, 'expired', true);
          }
          continue;
        }
        const n = Math.min(want - taken, r.lots - r.filledLots);
        if (n > 0 && !dry && taker) {
          // Flush market lots taken so far at this price first so fills keep the queue order.
          if (marketFilled > 0) {
            this.fill(taker, p as Ticks, marketFilled, 'taker', this.nextTradeId(), undefined);
            marketFilled = 0;
          }
          const tid = this.nextTradeId();
          this.fill(r, p as Ticks, n, 'maker', tid, taker.id);
          this.fill(taker, p as Ticks, n, 'taker', tid, r.id);
        }
        taken += n;
        if (taken >= want) break;
      }
    }
    if (taken < want && avail - market > 0) {
      const n = Math.min(want - taken, avail - market);
      market += n;
      taken += n;
      marketFilled += n;
    }
    if (!dry && taker) {
      if (marketFilled > 0) this.fill(taker, p as Ticks, marketFilled, 'taker', this.nextTradeId(), undefined);
      if (market > 0) {
        this.consume(bookSide, p, displayed, market);
        const still = this.tracks[bookSide].get(p);
        if (still) for (const r of still.orders) r.queueAhead = Math.max(0, r.queueAhead - market);
      }
    }
    return taken;
  }

  private fill(o: Working, price: Ticks, lots: number, liquidity: 'maker' | 'taker', tradeId: number, counterOrderId: number | undefined): void {
    const now = this.clock.now();
    const quote = notional(this.inst, price, lots as Lots);
    const rate = liquidity === 'maker' ? this.cfg.makerFeeRate9 : this.cfg.takerFeeRate9;
    const feeInBase = this.feeIn === 'received' && o.side === 'buy';
    const feeBasis = feeInBase ? this.baseMoney(lots) : quote;
    const fee = mulMoneyRate(feeBasis as Money, rate);
    o.filledLots += lots;
    o.cumQuote += quote;
    o.updatedAt = now;
    const done = o.filledLots >= o.lots;
    o.status = done ? 'filled' : 'partiallyFilled';
    const f: MatchFill = {
      tradeId,
      orderId: o.id,
      owner: o.owner,
      side: o.side,
      price,
      lots: lots as Lots,
      quote: quote as Money,
      fee,
      feeAsset: feeInBase ? this.inst.base : this.inst.quote,
      liquidity,
      counterOrderId,
      ts: now,
    };
    this.emit({ kind: 'fill', order: view(o), fill: f });
    if (done) {
      this.unrest(o);
      this.emit({ kind: 'done', order: view(o) });
      this.retire(o);
    }
  }

  /** Returns `lots` of the base asset as a 1e-9 fixed-point amount. */
  private baseMoney(lots: number): bigint {
    const ls = this.inst.lotSize;
    const raw = BigInt(lots) * ls.mantissa;
    return ls.scale <= FIXED_SCALE ? raw * 10n ** BigInt(FIXED_SCALE - ls.scale) : divRound(raw, 10n ** BigInt(ls.scale - FIXED_SCALE));
  }

  private onLevel(side: BookSide, p: Ticks, shown: Lots, ts: TsMs | undefined): void {
    // Consumption was counted against what a taker saw there: the ticker's size while a newer ticker sits at p.
    if (this.consumed[side].has(p)) this.resize(side, p, clipBase(this.clipOf(side), p, shown));
    const t = this.tracks[side].get(p);
    if (!t) return;
    t.stepFrom = t.lastDisplayed;
    t.stepTraded = t.tradedSince;
    this.cancelStep(t, t.orders, shown);
    t.lastDisplayed = shown;
    t.tradedSince = 0;
    if (ts !== undefined) t.depthTs = ts;
  }

  /**
   * Applies the level's last depth update to `orders`: its drop not explained by `stepTraded` is cancellations,
   * shared between ahead and behind; each order remembers what this took so that a late print can undo it.
   */
  private cancelStep(t: LevelTrack, orders: readonly Working[], shown: number): void {
    const unexplained = t.stepFrom - shown - t.stepTraded;
    const pool = t.stepFrom - t.stepTraded;
    for (const o of orders) {
      const before = o.queueAhead;
      if (unexplained > 0 && pool > 0) o.queueAhead -= Math.floor((unexplained * Math.min(o.queueAhead, pool)) / pool);
      o.queueAhead = Math.max(0, Math.min(o.queueAhead, shown));
      o.stepCut = before - o.queueAhead;
    }
  }

  /** A print at a resting level: after the level's last depth update it is new; at or before it, already shown there. */
  private onPrint(t: LevelTrack, p: Ticks, v: number, ts: TsMs | undefined): void {
    if (ts === undefined || ts > t.depthTs) {
      t.tradedSince += v;
      this.advanceQueue(p, v, t.orders);
      return;
    }
    // The update counted these lots as cancellations. Read it again as if the print had come first, for the orders
    // that rested through it (the oldest ones; later ones joined a book that already showed the print).
    const rested = restedThrough(t);
    for (const o of rested) o.queueAhead += o.stepCut!;
    this.advanceQueue(p, v, rested);
    t.stepTraded += v;
    this.cancelStep(t, restedThrough(t), t.lastDisplayed);
  }

  /** Trade volume `v` printed at a resting level: it eats market lots ahead, then earlier sim orders, then fills. */
  private advanceQueue(p: Ticks, v: number, orders: readonly Working[]): void {
    let simAhead = 0;
    let simFilled = 0;
    for (const o of [...orders]) {
      const rem = o.lots - o.filledLots;
      const over = v - o.queueAhead - simAhead;
      // The part of the print that filled earlier sim orders did not reach the market lots queued behind them.
      o.queueAhead = Math.max(0, o.queueAhead - (v - simFilled));
      const n = over > 0 ? Math.min(rem, over) : 0;
      if (n > 0) this.fill(o, p, n, 'maker', this.nextTradeId(), undefined);
      simAhead += rem;
      simFilled += n;
    }
  }

  private fillAll(t: LevelTrack, p: Ticks): void {
    for (const o of [...t.orders]) this.fill(o, p, o.lots - o.filledLots, 'maker', this.nextTradeId(), undefined);
  }

  /** Resting orders that available opposite market liquidity now crosses fill as makers at their own price. */
  private resolveCrossed(): void {
    // Only liquidity a taker could reach crosses: a stale level the touch or the tape shows gone fills nothing.
    const bestAsk = this.tracks.bid.size > 0 ? this.bestReachable('ask') : undefined;
    if (bestAsk !== undefined) {
      const bids = [...this.tracks.bid.keys()].filter((p) => p >= bestAsk).sort(descending);
      for (const p of bids) this.fillFromCrossing(this.tracks.bid.get(p), p as Ticks, 'ask', (q) => q <= p);
    }
    const bestBid = this.tracks.ask.size > 0 ? this.bestReachable('bid') : undefined;
    if (bestBid !== undefined) {
      const asks = [...this.tracks.ask.keys()].filter((p) => p <= bestBid).sort(ascending);
      for (const p of asks) this.fillFromCrossing(this.tracks.ask.get(p), p as Ticks, 'bid', (q) => q >= p);
    }
  }

  private fillFromCrossing(t: LevelTrack | undefined, p: Ticks, from: BookSide, crosses: (q: number) => boolean): void {
    if (!t) return;
    const clip = this.clipOf(from);
    for (const o of [...t.orders]) {
      let want = o.lots - o.filledLots;
      let got = 0;
      this.forEachMarketLevel(from, clip, (q, shown, printed) => {
        if (!crosses(q) || want <= 0) return false;
        const n = Math.min(want, this.available(from, q, shown, printed));
        if (n > 0) {
          this.consume(from, q, shown, n);
          want -= n;
          got += n;
        }
        return want > 0;
      });
      if (got > 0) this.fill(o, p, got, 'maker', this.nextTradeId(), undefined);
      if (want > 0) return;
    }
  }
}

/** Working orders hold plain numbers; the public view brands them (same object, no copy). */
const view = (o: Working): SimOrder => o as unknown as SimOrder;
const bigMin = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const withinLimit = (buy: boolean, limit: Ticks | undefined, p: number): boolean => limit === undefined || (buy ? p <= limit : p >= limit);

/** Returns the orders of a level that rested through its last depth update: the oldest ones, up to the first that joined later. */
function restedThrough(t: LevelTrack): Working[] {
  const n = t.orders.findIndex((o) => o.stepCut === undefined);
  return n < 0 ? [...t.orders] : t.orders.slice(0, n);
}

function isLive(o: { status: SimOrderStatus }): boolean {
  return o.status === 'pending' || o.status === 'open' || o.status === 'partiallyFilled';
}
