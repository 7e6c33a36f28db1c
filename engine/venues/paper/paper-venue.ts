// The paper venue: orders fill against the live or replayed book with the simulator's matching engine
// (engine/market/matching.ts: price-time priority, queue position, latency, maker/taker fees), on the injected clock.
// Cancels take the same latency as orders (see cancel): a resting order can fill while its cancel is on the way.
// It reads each symbol's book (an OrderBook kept by whoever syncs it) and must be told, after the book changed, what
// changed: `onDepth` with the levels of an applied diff, `onSnapshot` after a (re)load, `onTrade` for each print,
// with the exchange times of diffs and trades, and of the diff that made a reloaded book live (a diff can show a
// trade before its print arrives; see matching.ts). A book view that gives its last update id and the newest bookTicker
// (`BookView.lastUpdateId`, `touch`; app/paper-books.ts does) has takers reach nothing that ticker, or a print after
// the book's last diff, shows gone (engine/market/touch-overlay.ts).
// Deterministic: no wall clock, no randomness; order and trade ids come from counters.
import { MatchingEngine, type BookView, type MatchEvent, type SimOrder } from '../../market/matching.ts';
import type { Fill, OrderStatus } from '../../messages/orders.ts';
import type { Clock } from '../../runtime/clock.ts';
import { ConfigError } from '../../types/errors.ts';
import { clientOrderId, venueOrderId, type ClientOrderId, type VenueOrderId } from '../../types/ids.ts';
import { notional, type Instrument, type VenueId } from '../../types/instrument.ts';
import type { Money } from '../../types/money.ts';
import type { Lots, Ticks } from '../../types/price.ts';
import type { TsMs } from '../../types/time.ts';
import type {
  CancelResult, ExecutionVenue, SubmitResult, VenueBalance, VenueEvent, VenueOrder, VenueOrderRequest, VenueTrade,
} from '../venue.ts';
import { Ledger, baseAmount } from '../ledger.ts';
import { Listeners } from '../../runtime/listeners.ts';

/** Options of a paper venue. */
export interface PaperVenueOptions {
  readonly clock: Clock;
  /** One market per instrument, matched against `books[symbol]`. */
  readonly instruments: readonly Instrument[];
  readonly books: Readonly<Record<string, BookView>>;
  /** Fee rates in 1e-9 units (0.1% = 1_000_000n). */
  readonly makerFeeRate9: bigint;
  readonly takerFeeRate9: bigint;
  /** Order activation latency on the clock (config.execution.latencyMs). */
  readonly latencyMs: number;
  /** Starting balances per asset (config.execution.paper.initialQuote for the quote asset). */
  readonly balances: Readonly<Record<string, Money>>;
  readonly id?: VenueId;
  /** Completed orders (per symbol) and trades (all symbols) the venue keeps answering queries for (default PAPER_KEEP). */
  readonly keep?: number;
}

/**
 * Completed orders (fetchOrder, their client ids) and trades (fetchMyTrades) a paper venue keeps, the oldest dropped
 * first: a daemon's venue must not hold every order it ever filled (the soak benchmark's heap grew by each). A
 * restarted engine asks only for trades after the last one it booked, and only for orders it has not seen end.
 */
export const PAPER_KEEP = 2_000;
/** The paper account's owner id on its matching engines: its orders never trade with each other (self-trade prevention). */
const PAPER_OWNER = 'paper';

interface Market {
  readonly inst: Instrument;
  readonly engine: MatchingEngine;
}

const STATUS: Record<SimOrder['status'], OrderStatus> = {
  pending: 'accepted', open: 'accepted', partiallyFilled: 'partiallyFilled', filled: 'filled', cancelled: 'cancelled', expired: 'expired',
};

/** A paper venue over one or more books; see the header comment for how to feed it. */
export class PaperVenue implements ExecutionVenue {
  readonly id: VenueId;
  readonly pushesEvents = true;
  readonly submitSettleMs = 0;
  /** Stop-loss-limit orders are not modelled here (see place). */
  readonly supportsStopOrders = false;
  readonly symbols: readonly string[];
  readonly account: Ledger;
  private readonly markets = new Map<string, Market>();
  private readonly byClientId = new Map<string, { symbol: string; orderId: number }>();
  private trades: VenueTrade[] = [];
  private readonly keep: number;
  private readonly listeners = new Listeners<VenueEvent>();
  private orderSeq = 1;
  private tradeSeq = 1;
  private inFlight = 0;

  constructor(private readonly opts: PaperVenueOptions) {
    this.id = opts.id ?? 'paper';
    this.keep = opts.keep ?? PAPER_KEEP;
    if (!(Number.isSafeInteger(this.keep) && this.keep > 0)) throw new ConfigError(`paper venue: keep must be a positive integer, got ${this.keep}`);
    this.account = new Ledger(opts.balances);
    for (const inst of opts.instruments) {
      const book = opts.books[inst.symbol];
      if (!book) throw new ConfigError(`paper venue: no book given for ${inst.symbol}`);
      const engine = new MatchingEngine({
        instrument: inst, book, clock: opts.clock, makerFeeRate9: opts.makerFeeRate9, takerFeeRate9: opts.takerFeeRate9,
        latencyMs: opts.latencyMs, feeIn: 'received', nextOrderId: () => this.orderSeq++, nextTradeId: () => this.tradeSeq++,
        // An order the engine forgets takes its client id with it.
        keepCompleted: this.keep, onForget: (o) => this.byClientId.delete(o.clientOrderId),
        marketBuyFunds: (o) => this.account.freeOf(inst.quote) + this.account.orderLock(o.id),
      });
      const m = { inst, engine };
      engine.on((e) => this.onMatch(m, e));
      this.markets.set(inst.symbol, m);
    }
    this.symbols = [...this.markets.keys()];
  }

  /**
   * Tells the matching engine that these levels of `symbol`'s book now hold these sizes (after a diff was applied);
   * `tsExchange` is the diff's event time.
   */
  onDepth(symbol: string, bids: ReadonlyArray<readonly [Ticks, Lots]>, asks: ReadonlyArray<readonly [Ticks, Lots]>, tsExchange?: TsMs): void {
    this.markets.get(symbol)?.engine.onDepth(bids, asks, tsExchange);
  }

  /** False while `symbol`'s matching engine is idle (nothing rests): the levels of a diff would change nothing. */
  wantsDepth(symbol: string): boolean {
    const m = this.markets.get(symbol);
    return m !== undefined && !m.engine.idle;
  }

  /**
   * Tells the matching engine that `symbol`'s book was replaced (snapshot or resync); `tsExchange` is the event time
   * of the diff that made it live (prints at or before it are already in the book), when it became live.
   */
  onSnapshot(symbol: string, tsExchange?: TsMs): void {
    this.markets.get(symbol)?.engine.onSnapshot(tsExchange);
  }

  /** Tells the matching engine a market trade printed; `buyerMaker` true means the aggressor sold; `tsExchange` is the trade time. */
  onTrade(symbol: string, price: Ticks, lots: Lots, buyerMaker: boolean, tsExchange?: TsMs): void {
    this.markets.get(symbol)?.engine.onTrade(price, lots, buyerMaker, tsExchange);
  }

  /**
   * Returns the market lots ahead of a resting order in its queue, or undefined when it is not resting (unknown,
   * completed, or not yet active).
   */
  queueAhead(symbol: string, cid: ClientOrderId): Lots | undefined {
    const ref = this.byClientId.get(cid);
    if (!ref || ref.symbol !== symbol) return undefined;
    const o = this.markets.get(symbol)?.engine.order(ref.orderId);
    return o && (o.status === 'open' || o.status === 'partiallyFilled') ? o.queueAhead : undefined;
  }

  onEvent(fn: (e: VenueEvent) => void): () => void {
    return this.listeners.add(fn);
  }

  async submit(req: VenueOrderRequest): Promise<SubmitResult> {
    return this.submitNow(req);
  }

  /** Synchronous submit (the paper venue needs no I/O); fills of a marketable order are pushed before it returns. */
  submitNow(req: VenueOrderRequest): SubmitResult {
    return this.place(req, true);
  }

  /**
   * Places again an order that was open at the venue before a restart (its unfilled part): the checks a venue makes
   * only when an order is entered (minimum notional, liquidity for a market order) are skipped, since Binance keeps a
   * partly filled order resting whatever its remainder is worth. It still needs its funds and a valid size; returns
   * the rejection otherwise. It joins its price's queue with at most `queueAhead` market lots ahead (what it had;
   * capped at the level's size when it activates on a live book), or at the back without it.
   */
  restoreNow(req: VenueOrderRequest, queueAhead?: Lots): SubmitResult {
    if (queueAhead !== undefined && !(Number.isSafeInteger(queueAhead) && queueAhead >= 0)) {
      return { status: 'rejected', code: 'INVALID_ORDER', message: `queue ahead ${queueAhead} must be a non-negative integer lot count` };
    }
    return this.place(req, false, queueAhead);
  }

  private place(req: VenueOrderRequest, entry: boolean, queueAhead?: Lots): SubmitResult {
    const m = this.markets.get(req.symbol);
    if (!m) return { status: 'rejected', code: 'UNKNOWN_SYMBOL', message: `paper venue does not trade ${req.symbol}` };
    // Untriggered stops would have to survive a restart in the paper state too: not modelled, so refused outright
    // (the config refuses execution.protectiveStop outside live mode).
    if (req.orderType === 'stopLossLimit') return { status: 'rejected', code: 'UNSUPPORTED_ORDER_TYPE', message: 'the paper venue has no stop-loss-limit orders' };
    if (this.byClientId.has(req.clientOrderId)) return { status: 'rejected', code: 'DUPLICATE_CLIENT_ORDER_ID', message: `client order id ${req.clientOrderId} was already used` };
    if (!Number.isSafeInteger(req.lots) || req.lots <= 0) return { status: 'rejected', code: 'INVALID_ORDER', message: `lots ${req.lots} must be a positive integer` };
    if (req.orderType === 'limit' && (req.price === undefined || !Number.isSafeInteger(req.price) || req.price <= 0)) {
      return { status: 'rejected', code: 'INVALID_ORDER', message: `limit price ${req.price} must be a positive integer tick count` };
    }
    const { inst, engine } = m;
    const preview = engine.previewTake(req.side, req.lots, req.orderType === 'limit' ? req.price : undefined, PAPER_OWNER);
    if (entry && req.orderType === 'market' && preview.lots === 0) return { status: 'rejected', code: 'NO_LIQUIDITY', message: `the ${req.symbol} book has no liquidity for a market ${req.side}` };
    const value = req.orderType === 'market' ? preview.quote : notional(inst, req.price!, req.lots);
    if (entry && value < inst.minNotional) return { status: 'rejected', code: 'MIN_NOTIONAL', message: `order value ${value} is below the minimum notional ${inst.minNotional} (1e-9 units)` };
    const id = this.orderSeq;
    const [asset, amount] = req.side === 'buy' ? [inst.quote, value as bigint] : [inst.base, baseAmount(inst, req.lots)];
    if (!this.account.lock(id, asset, amount)) {
      return { status: 'rejected', code: 'INSUFFICIENT_FUNDS', message: `needs ${amount} ${asset} (1e-9 units), free ${this.account.freeOf(asset)}` };
    }
    this.byClientId.set(req.clientOrderId, { symbol: req.symbol, orderId: id });
    const type = req.orderType;
    const o = engine.submit({
      side: req.side, type, timeInForce: req.timeInForce, lots: req.lots, price: req.orderType === 'limit' ? req.price : undefined,
      clientOrderId: req.clientOrderId, owner: PAPER_OWNER, ...(queueAhead !== undefined ? { queueAhead } : {}),
    });
    return { status: 'accepted', venueOrderId: venueOrderId(String(o.id)), ts: o.submittedAt };
  }

  /**
   * Cancels an order `latencyMs` after the call on the clock, as the request reaches a real venue, and answers then
   * (a REST cancel's answer comes once the venue acted on it): fills the market makes meanwhile stand, and an order
   * they complete answers notOpen (Binance -2011), its fills already pushed. With latency 0 it acts at once.
   */
  async cancel(symbol: string, cid: ClientOrderId): Promise<CancelResult> {
    const ref = this.byClientId.get(cid);
    const m = this.markets.get(symbol);
    if (!ref || !m || ref.symbol !== symbol) return { status: 'notOpen' };
    const { latencyMs, clock } = this.opts;
    if (latencyMs === 0) return this.cancelNow(m, ref.orderId);
    this.inFlight++;
    return new Promise((resolve) => clock.setTimeout(() => {
      this.inFlight--;
      resolve(this.cancelNow(m, ref.orderId));
    }, latencyMs));
  }

  /**
   * Cancels sent and not landed yet. Their callers wait on the clock: a driver that waits for its executor to be idle
   * before it moves a simulated clock (a backtest) must not wait for these, which land only once it moves the clock.
   */
  get cancelsInFlight(): number {
    return this.inFlight;
  }

  private cancelNow(m: Market, orderId: number): CancelResult {
    const done = m.engine.cancel(orderId);
    return done ? { status: 'cancelled', ts: this.opts.clock.now() } : { status: 'notOpen' };
  }

  async fetchOrder(symbol: string, cid: ClientOrderId): Promise<VenueOrder | undefined> {
    const ref = this.byClientId.get(cid);
    if (!ref || ref.symbol !== symbol) return undefined;
    const o = this.markets.get(symbol)?.engine.order(ref.orderId);
    return o && this.toVenueOrder(symbol, o);
  }

  async fetchOpenOrders(symbol?: string): Promise<VenueOrder[]> {
    const out: VenueOrder[] = [];
    for (const [s, m] of this.markets) if (symbol === undefined || s === symbol) for (const o of m.engine.openOrders()) out.push(this.toVenueOrder(s, o));
    return out;
  }

  async fetchBalances(): Promise<VenueBalance[]> {
    return this.account.assets().map((asset) => ({ asset, free: this.account.freeOf(asset) as Money, locked: this.account.lockedOf(asset) as Money }));
  }

  async fetchMyTrades(symbol: string, sinceTradeId?: string): Promise<VenueTrade[]> {
    const since = sinceTradeId === undefined ? -1 : Number(sinceTradeId);
    return this.trades.filter((t) => t.symbol === symbol && Number(t.tradeId) > since);
  }

  private toVenueOrder(symbol: string, o: SimOrder): VenueOrder {
    return {
      clientOrderId: clientOrderId(o.clientOrderId), venueOrderId: venueOrderId(String(o.id)), symbol, side: o.side, orderType: o.type,
      timeInForce: o.timeInForce, ...(o.price !== undefined ? { price: o.price } : {}), lots: o.lots, filledLots: o.filledLots,
      status: STATUS[o.status], ts: o.updatedAt,
    };
  }

  private onMatch(m: Market, e: MatchEvent): void {
    const { inst } = m;
    if (e.kind === 'fill') {
      const f = e.fill;
      const base = baseAmount(inst, f.lots);
      if (f.side === 'buy') this.account.settle(f.orderId, inst.quote, f.quote, inst.base, base, f.feeAsset, f.fee);
      else this.account.settle(f.orderId, inst.base, base, inst.quote, f.quote, f.feeAsset, f.fee);
      const fill: Fill = {
        clientOrderId: clientOrderId(e.order.clientOrderId), venueOrderId: venueOrderId(String(f.orderId)), tradeId: String(f.tradeId),
        venue: this.id, symbol: inst.symbol, side: f.side, price: f.price, lots: f.lots, fee: f.fee, feeAsset: f.feeAsset,
        liquidity: f.liquidity, ts: f.ts,
      };
      this.trades.push(fill);
      if (this.trades.length > this.keep) this.trades = this.trades.slice(-this.keep);
      this.emit({ kind: 'fill', fill });
      return;
    }
    if (e.kind === 'done') {
      this.account.release(e.order.id);
      const s = e.order.status;
      if (s === 'cancelled' || s === 'expired') {
        this.emit({
          kind: 'closed', clientOrderId: clientOrderId(e.order.clientOrderId), venueOrderId: venueOrderId(String(e.order.id)) as VenueOrderId,
          status: s, ts: e.order.updatedAt,
        });
      }
    }
  }

  private emit(e: VenueEvent): void {
    this.listeners.emit(e);
  }
}
