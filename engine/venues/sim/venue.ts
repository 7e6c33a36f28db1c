// The simulator's exchange state: markets per symbol, accounts, and the order entry rules (filters, balances,
// Binance order shapes). REST routes call into it; the replay loop feeds the markets.
import type { MatchEvent, SimOrder } from '../../market/matching.ts';
import type { Side, TimeInForce } from '../../messages/orders.ts';
import type { Clock } from '../../runtime/clock.ts';
import { parseDecimal, parseFixed } from '../../types/decimal.ts';
import { ParseError } from '../../types/errors.ts';
import { notional, qtyToLots, priceToTicks, type Instrument } from '../../types/instrument.ts';
import type { Lots, Ticks } from '../../types/price.ts';
import type { TsMs } from '../../types/time.ts';
import { SimAccount } from './accounts.ts';
import { baseAmount } from '../ledger.ts';
import { apiErrors, CancelReplaceError, SimApiError } from './errors.ts';
import { fmtMoney, fmtPx, fmtQty } from './format.ts';
import type { SymbolMarket } from './feed.ts';
import { pendingStopView, stopTriggered, type PendingStop } from './stops.ts';
import { PrintWindow, type AvgPrice } from './avg-price.ts';

/** Binance's order response types. */
export type RespType = 'ACK' | 'RESULT' | 'FULL';

/** Binance order status of a sim order. */
export function binanceStatus(o: SimOrder): string {
  switch (o.status) {
    case 'pending':
    case 'open': return 'NEW';
    case 'partiallyFilled': return 'PARTIALLY_FILLED';
    case 'filled': return 'FILLED';
    case 'cancelled': return 'CANCELED';
    case 'expired': return 'EXPIRED';
  }
}

interface OrderMeta {
  readonly symbol: string;
  readonly account: SimAccount;
  /** LIMIT_MAKER is a GTC limit that refuses to take; it prints as its own type (STOP_LOSS_LIMIT too). */
  readonly typeName: string;
  /** A STOP_LOSS_LIMIT order's trigger price. */
  readonly stopPrice?: Ticks;
}

/**
 * The filter bounds exchangeInfo advertises (rest.ts symbolInfo) and placeOrder enforces, as Binance does with -1013
 * `Filter failure: <filter>`: PRICE_FILTER.maxPrice, LOT_SIZE/MARKET_LOT_SIZE.maxQty, NOTIONAL.maxNotional (limit
 * orders only, applyMaxToMarket false) and MAX_NUM_ORDERS (open orders per account and symbol).
 */
export const SIM_LIMITS = { maxPrice: '1000000.00000000', maxQty: '9000.00000000', maxNotional: '9000000.00000000', maxNumOrders: 200 } as const;

/**
 * PERCENT_PRICE_BY_SIDE as Binance spot sets it on BTCUSDT and ETHUSDT: a buy's limit price within [bidMultiplierDown,
 * bidMultiplierUp] times the average price (`PrintWindow`), a sell's within the ask multipliers. It binds the `price`
 * of LIMIT, LIMIT_MAKER and STOP_LOSS_LIMIT orders; a MARKET order has none (its stopPrice is not checked either).
 */
export const PERCENT_PRICE_BY_SIDE = { bidMultiplierUp: '5', bidMultiplierDown: '0.2', askMultiplierUp: '5', askMultiplierDown: '0.2', avgPriceMins: 5 } as const;

/** The self-trade prevention the matching engine applies (matching.ts): the only mode advertised and accepted. */
export const SIM_STP_MODE = 'EXPIRE_MAKER';

/** What GET /api/v3/myTrades selects (SimVenue.myTrades). */
export interface MyTradesQuery {
  readonly limit: number;
  readonly fromId?: number | undefined;
  readonly orderId?: number | undefined;
  readonly startTime?: number | undefined;
  readonly endTime?: number | undefined;
}

/** A new order whose parameters and filters passed (SimVenue.checkOrder), not entered yet. */
interface CheckedOrder {
  readonly m: SymbolMarket;
  readonly side: Side;
  readonly typeName: string;
  readonly type: 'market' | 'limit';
  readonly tif: TimeInForce;
  readonly lots: Lots;
  readonly price: Ticks | undefined;
  readonly stopPrice: Ticks | undefined;
  readonly clientOrderId: string;
  readonly respType: RespType;
}

/** Parameters of a new order as strings from the request. */
export type OrderParams = Readonly<Record<string, string | undefined>>;

/** Markets, accounts and order entry of the simulator. */
export class SimVenue {
  readonly markets = new Map<string, SymbolMarket>();
  readonly accounts = new Map<string, SimAccount>();
  private readonly meta = new Map<number, OrderMeta>();
  private orderSeq = 1;
  private tradeSeq = 1;
  /** Stop-loss-limit orders not triggered (or cancelled before they were), by order id (see stops.ts). */
  private readonly stops = new Map<number, PendingStop>();
  /** The id the next engine order takes: a triggered stop keeps the id it was given when placed. */
  private triggeredId: number | undefined;
  /** Each symbol's prints of the last avgPriceMins minutes. */
  private readonly printWindows = new Map<string, PrintWindow>();
  /** Resting orders self-trade prevention expired (Binance EXPIRED_IN_MATCH), by order id. */
  private readonly expiredInMatch = new Set<number>();

  constructor(readonly clock: Clock, readonly makerRate: string, readonly takerRate: string) {}

  /** Returns the next order id (handed to the matching engines, so ids are unique venue-wide). */
  readonly nextOrderId = (): number => {
    const id = this.triggeredId;
    this.triggeredId = undefined;
    return id ?? this.orderSeq++;
  };
  /** Returns the next sim trade id. */
  readonly nextTradeId = (): number => this.tradeSeq++;
  /** Returns the quote a market buy may spend when it activates: its account's free funds plus the order's lock. */
  readonly marketBuyFunds = (o: SimOrder): bigint => {
    const meta = this.meta.get(o.id);
    const m = meta && this.markets.get(meta.symbol);
    return meta && m ? meta.account.freeOf(m.inst.quote) + meta.account.orderLock(o.id) : 0n;
  };

  /** Adds an account. */
  addAccount(a: SimAccount): void {
    this.accounts.set(a.apiKey, a);
  }

  /** Adds a market and books its engine's fills into accounts. */
  addMarket(m: SymbolMarket): void {
    this.markets.set(m.inst.venueSymbol, m);
    m.engine.on((e) => this.onEngineEvent(m, e));
    const w = new PrintWindow(PERCENT_PRICE_BY_SIDE.avgPriceMins * 60_000);
    this.printWindows.set(m.inst.venueSymbol, w);
    m.onPrint((price) => {
      // The market lists the print before it tells its listeners.
      const t = m.trades[m.trades.length - 1];
      if (t) w.add(t.tsExchange, t.price, t.lots);
      this.triggerStops(m, price);
    });
  }

  /** Returns the average price of `m` now (Binance avgPrice over avgPriceMins), undefined before its first print. */
  avgPrice(m: SymbolMarket): AvgPrice | undefined {
    return this.printWindows.get(m.inst.venueSymbol)?.at(this.clock.now());
  }

  // -1013 PERCENT_PRICE_BY_SIDE when the limit price is outside the side's multiples of the average price.
  private checkPercentPrice(m: SymbolMarket, side: Side, price: Ticks): void {
    const avg = this.avgPrice(m);
    if (!avg) return;
    const f = PERCENT_PRICE_BY_SIDE;
    const [down, up] = side === 'buy' ? [f.bidMultiplierDown, f.bidMultiplierUp] : [f.askMultiplierDown, f.askMultiplierUp];
    // price / (num / den) against multipliers in 1e-9 units, all in integers.
    const scaled = BigInt(price) * avg.den * parseFixed('1');
    if (scaled < avg.num * parseFixed(down) || scaled > avg.num * parseFixed(up)) throw apiErrors.filterFailure('PERCENT_PRICE_BY_SIDE');
  }

  /** Returns the untriggered stop-loss-limit orders (of `accountId` when given), oldest first. */
  pendingStops(accountId?: string): SimOrder[] {
    return [...this.stops.values()].filter((s) => s.status === 'pending' && (accountId === undefined || s.account.id === accountId)).map(pendingStopView);
  }

  // A print at or through a stop's price moves it into the matching engine as a limit order with the same id and lock.
  private triggerStops(m: SymbolMarket, price: Ticks): void {
    for (const s of [...this.stops.values()]) {
      if (s.symbol !== m.inst.venueSymbol || s.status !== 'pending' || !stopTriggered(s, price)) continue;
      this.stops.delete(s.id);
      this.triggeredId = s.id;
      const o = m.engine.submit({ side: s.side, type: 'limit', timeInForce: s.timeInForce, lots: s.lots, price: s.price, owner: s.account.id, clientOrderId: s.clientOrderId });
      if (o.id !== s.id) throw new Error(`triggered stop ${s.id} entered the matching engine as order ${o.id}`);
    }
  }

  // The account's untriggered stops on market `m`, as orders.
  private stopsOf(account: SimAccount, m: SymbolMarket, pendingOnly: boolean): SimOrder[] {
    return [...this.stops.values()]
      .filter((s) => s.account === account && s.symbol === m.inst.venueSymbol && (!pendingOnly || s.status === 'pending'))
      .map(pendingStopView);
  }

  // Open orders of the account on `m`: those in the matching engine and the untriggered stops, by id.
  private openOf(account: SimAccount, m: SymbolMarket): SimOrder[] {
    return [...m.engine.openOrders(account.id), ...this.stopsOf(account, m, true)].sort((a, b) => a.id - b.id);
  }

  /** Returns the market of `symbol` or throws -1121. */
  market(symbol: string | undefined): SymbolMarket {
    if (!symbol) throw apiErrors.mandatory('symbol');
    const m = this.markets.get(symbol.toUpperCase());
    if (!m) throw apiErrors.invalidSymbol();
    return m;
  }

  private onEngineEvent(m: SymbolMarket, e: MatchEvent): void {
    const meta = this.meta.get(e.order.id);
    if (!meta) return;
    if (e.kind === 'fill') meta.account.applyFill(m.inst.venueSymbol, m.inst, e.fill, this.clock.now());
    else if (e.kind === 'done') {
      if (e.expiredInMatch) this.expiredInMatch.add(e.order.id);
      meta.account.release(e.order.id);
    }
  }

  /** Places an order for `account` (POST /api/v3/order); returns the Binance response in `respType` shape. */
  placeOrder(account: SimAccount, p: OrderParams): Record<string, unknown> {
    return this.enterOrder(account, this.checkOrder(p));
  }

  // The checks Binance makes before an order reaches the matching engine (parameters, PRICE_FILTER,
  // PERCENT_PRICE_BY_SIDE, LOT_SIZE, a limit order's NOTIONAL): a cancelReplace fails on them before its cancel is
  // attempted.
  private checkOrder(p: OrderParams): CheckedOrder {
    const m = this.market(p['symbol']);
    const inst = m.inst;
    const side = parseSide(p['side']);
    const typeName = p['type']?.toUpperCase();
    if (!typeName) throw apiErrors.mandatory('type');
    if (typeName !== 'LIMIT' && typeName !== 'MARKET' && typeName !== 'LIMIT_MAKER' && typeName !== 'STOP_LOSS_LIMIT') throw apiErrors.invalidOrderType();
    const type = typeName === 'MARKET' ? 'market' : 'limit';
    const stop = typeName === 'STOP_LOSS_LIMIT';
    let tif: TimeInForce = 'GTC';
    if (typeName === 'LIMIT' || stop) {
      const t = p['timeInForce'];
      if (!t) throw apiErrors.mandatory('timeInForce');
      if (t !== 'GTC' && t !== 'IOC' && t !== 'FOK') throw apiErrors.invalidTif();
      tif = t;
    } else if (p['timeInForce'] !== undefined) {
      // Binance answers -1106 for timeInForce on MARKET and on LIMIT_MAKER alike.
      throw apiErrors.notRequired('timeInForce');
    }
    if (p['quoteOrderQty'] !== undefined) throw apiErrors.badParam('quoteOrderQty is not supported by the simulator; send quantity.');
    const qtyStr = p['quantity'];
    if (!qtyStr) throw apiErrors.mandatory('quantity');
    const lots = steps(inst, qtyStr, 'quantity') as Lots;
    if (lots <= 0) throw apiErrors.filterFailure('LOT_SIZE');
    if (lots > qtyToLots(inst, SIM_LIMITS.maxQty)) throw apiErrors.filterFailure(type === 'market' ? 'MARKET_LOT_SIZE' : 'LOT_SIZE');
    let price: Ticks | undefined;
    if (type === 'limit') {
      const ps = p['price'];
      if (!ps) throw apiErrors.mandatory('price');
      price = steps(inst, ps, 'price') as Ticks;
      if (price <= 0 || price > priceToTicks(inst, SIM_LIMITS.maxPrice)) throw apiErrors.filterFailure('PRICE_FILTER');
      this.checkPercentPrice(m, side, price);
    } else if (p['price'] !== undefined) {
      throw apiErrors.notRequired('price');
    }
    let stopPrice: Ticks | undefined;
    if (stop) {
      const sp = p['stopPrice'];
      if (!sp) throw apiErrors.mandatory('stopPrice');
      stopPrice = steps(inst, sp, 'price') as Ticks;
      if (stopPrice <= 0 || stopPrice > priceToTicks(inst, SIM_LIMITS.maxPrice)) throw apiErrors.filterFailure('PRICE_FILTER');
    } else if (p['stopPrice'] !== undefined) {
      throw apiErrors.notRequired('stopPrice');
    }
    const clientOrderId = p['newClientOrderId'] ?? `sim${this.orderSeq}x${Math.floor(this.clock.now()) % 1e9}`;
    if (!/^[.A-Z:/a-z0-9_-]{1,36}$/.test(clientOrderId)) throw apiErrors.illegalChars('newClientOrderId', clientOrderId);
    const respType = (p['newOrderRespType']?.toUpperCase() ?? (typeName === 'LIMIT_MAKER' ? 'ACK' : 'FULL')) as RespType;
    if (respType !== 'ACK' && respType !== 'RESULT' && respType !== 'FULL') throw apiErrors.badParam(`Invalid newOrderRespType ${respType}.`);
    if (price !== undefined) {
      const value = notional(inst, price, lots);
      // applyMaxToMarket is false: maxNotional binds limit orders only.
      if (value < inst.minNotional || value > parseFixed(SIM_LIMITS.maxNotional)) throw apiErrors.filterFailure('NOTIONAL');
    }
    return { m, side, typeName, type, tif, lots, price, stopPrice, clientOrderId, respType };
  }

  // The matching engine's part of an order entry: what depends on the book, the open orders and the balances.
  private enterOrder(account: SimAccount, c: CheckedOrder): Record<string, unknown> {
    const { m, side, typeName, type, tif, lots, price, stopPrice, clientOrderId, respType } = c;
    const inst = m.inst;
    if (this.openOf(account, m).some((o) => o.clientOrderId === clientOrderId)) throw apiErrors.duplicateClientId();
    // Filters and funds: a market order is priced at what it would take from the book now.
    // An untriggered stop takes nothing; one whose price already printed would trigger at once, which Binance refuses.
    const last = m.lastPrice();
    if (stopPrice !== undefined && last !== undefined && stopTriggered({ side, stopPrice }, last)) throw apiErrors.stopWouldTrigger();
    const preview = stopPrice !== undefined ? { lots: 0, quote: 0n } : m.engine.previewTake(side, lots, price, account.id);
    if (typeName === 'LIMIT_MAKER' && preview.lots > 0) throw apiErrors.wouldTake();
    if (type === 'market' && preview.lots === 0) throw apiErrors.badParam('The market has no liquidity for this order.');
    const value = type === 'market' ? preview.quote : notional(inst, price!, lots);
    if (value < inst.minNotional) throw apiErrors.filterFailure('NOTIONAL');
    if (this.openOf(account, m).length >= SIM_LIMITS.maxNumOrders) throw apiErrors.filterFailure('MAX_NUM_ORDERS');
    const id = this.orderSeq;
    const [asset, amount] = side === 'buy' ? [inst.quote, value as bigint] : [inst.base, baseAmount(inst, lots)];
    if (!account.lock(id, asset, amount)) throw apiErrors.insufficientBalance();
    this.meta.set(id, { symbol: inst.venueSymbol, account, typeName, ...(stopPrice !== undefined ? { stopPrice } : {}) });
    if (stopPrice !== undefined) {
      this.orderSeq++;
      const now = this.clock.now() as TsMs;
      const s: PendingStop = {
        id, account, symbol: inst.venueSymbol, clientOrderId, side, lots, price: price!, stopPrice, timeInForce: tif,
        submittedAt: now, status: 'pending', updatedAt: now,
      };
      this.stops.set(id, s);
      return this.orderResponse(pendingStopView(s), respType);
    }
    const order = m.engine.submit({
      side, type, timeInForce: tif, lots, price, owner: account.id, clientOrderId, postOnly: typeName === 'LIMIT_MAKER',
    });
    if (order.id !== id) throw apiErrors.unknown(`order id ${order.id} differs from the reserved ${id}`);
    return this.orderResponse(order, respType);
  }

  /**
   * Cancels an order and places another in one step of the matching engine (POST /api/v3/order/cancelReplace): nothing
   * trades between the two. Only cancelReplaceMode STOP_ON_FAILURE: a failed cancel (-2011 inside) is -2022 with the new
   * order NOT_ATTEMPTED; a done cancel whose new order is refused is -2021 (the cancel stands). Parameter and filter
   * failures of the new order are answered as plain errors before the cancel is attempted, as Binance does.
   */
  cancelReplace(account: SimAccount, p: OrderParams): Record<string, unknown> {
    const mode = p['cancelReplaceMode'];
    if (!mode) throw apiErrors.mandatory('cancelReplaceMode');
    if (mode === 'ALLOW_FAILURE') throw apiErrors.badParam('cancelReplaceMode ALLOW_FAILURE is not supported by the simulator; send STOP_ON_FAILURE.');
    if (mode !== 'STOP_ON_FAILURE') throw apiErrors.badParam(`Invalid cancelReplaceMode ${mode}.`);
    if (p['cancelOrderId'] === undefined && p['cancelOrigClientOrderId'] === undefined) throw apiErrors.mandatory('cancelOrderId');
    const checked = this.checkOrder(p);
    const cancelParams: OrderParams = {
      symbol: p['symbol'], orderId: p['cancelOrderId'], origClientOrderId: p['cancelOrigClientOrderId'], newClientOrderId: p['cancelNewClientOrderId'],
      cancelRestrictions: p['cancelRestrictions'],
    };
    let cancelResponse: Record<string, unknown>;
    try {
      cancelResponse = this.cancelOrder(account, cancelParams);
    } catch (err) {
      if (!(err instanceof SimApiError)) throw err;
      throw new CancelReplaceError(false, { cancelResult: 'FAILURE', newOrderResult: 'NOT_ATTEMPTED', cancelResponse: err.body(), newOrderResponse: null });
    }
    try {
      const newOrderResponse = this.enterOrder(account, checked);
      return { cancelResult: 'SUCCESS', newOrderResult: 'SUCCESS', cancelResponse, newOrderResponse };
    } catch (err) {
      if (!(err instanceof SimApiError)) throw err;
      throw new CancelReplaceError(true, { cancelResult: 'SUCCESS', newOrderResult: 'FAILURE', cancelResponse, newOrderResponse: err.body() });
    }
  }

  /**
   * Cancels an order (DELETE /api/v3/order); -2011 when unknown or already completed, or when `cancelRestrictions`
   * (ONLY_NEW, ONLY_PARTIALLY_FILLED) does not allow the order's status.
   */
  cancelOrder(account: SimAccount, p: OrderParams): Record<string, unknown> {
    const m = this.market(p['symbol']);
    const o = this.findOrder(account, m, p, true);
    if (!o) throw apiErrors.unknownOrder();
    const only = p['cancelRestrictions'];
    if (only !== undefined) {
      if (only !== 'ONLY_NEW' && only !== 'ONLY_PARTIALLY_FILLED') throw apiErrors.badParam(`Invalid cancelRestrictions ${only}.`);
      const partly = o.status === 'partiallyFilled';
      if (only === 'ONLY_NEW' ? partly : !partly) throw apiErrors.cancelRestricted();
    }
    const done = this.stops.has(o.id) ? this.cancelStop(o.id) : m.engine.cancel(o.id);
    if (!done) throw apiErrors.unknownOrder();
    const r = this.orderFields(done);
    return {
      symbol: r['symbol'], origClientOrderId: done.clientOrderId, orderId: done.id, orderListId: -1,
      clientOrderId: p['newClientOrderId'] ?? done.clientOrderId, transactTime: Math.floor(this.clock.now()),
      price: r['price'], origQty: r['origQty'], executedQty: r['executedQty'], origQuoteOrderQty: r['origQuoteOrderQty'],
      cummulativeQuoteQty: r['cummulativeQuoteQty'], status: r['status'], timeInForce: r['timeInForce'], type: r['type'],
      side: r['side'], selfTradePreventionMode: SIM_STP_MODE,
    };
  }

  // Cancels an untriggered stop: its lock is released, it stays queryable as CANCELED.
  private cancelStop(id: number): SimOrder | undefined {
    const s = this.stops.get(id);
    if (!s || s.status !== 'pending') return undefined;
    s.status = 'cancelled';
    s.updatedAt = this.clock.now() as TsMs;
    s.account.release(id);
    return pendingStopView(s);
  }

  /** Returns an order by orderId or origClientOrderId (GET /api/v3/order); -2013 when unknown. */
  queryOrder(account: SimAccount, p: OrderParams): Record<string, unknown> {
    const m = this.market(p['symbol']);
    const o = this.findOrder(account, m, p, false);
    if (!o) throw apiErrors.noSuchOrder();
    return this.orderQueryShape(o);
  }

  /** Returns the open orders of `account`, for one symbol or all. */
  openOrders(account: SimAccount, symbol: string | undefined): Record<string, unknown>[] {
    const ms = symbol ? [this.market(symbol)] : [...this.markets.values()];
    return ms.flatMap((m) => this.openOf(account, m)).sort((a, b) => a.id - b.id).map((o) => this.orderQueryShape(o));
  }

  /** Returns every order of `account` on `symbol` (GET /api/v3/allOrders), oldest first. */
  allOrders(account: SimAccount, symbol: string | undefined, limit: number): Record<string, unknown>[] {
    const m = this.market(symbol);
    const all = [...m.engine.allOrders(account.id), ...this.stopsOf(account, m, false)].sort((a, b) => a.id - b.id);
    return all.slice(Math.max(0, all.length - limit)).map((o) => this.orderQueryShape(o));
  }

  /** Cancels every open order of `account` on `symbol` (DELETE /api/v3/openOrders). */
  cancelAll(account: SimAccount, symbol: string | undefined): Record<string, unknown>[] {
    const m = this.market(symbol);
    const open = this.openOf(account, m);
    if (open.length === 0) throw apiErrors.unknownOrder();
    return open.map((o) => this.cancelOrder(account, { symbol: m.inst.venueSymbol, orderId: String(o.id) }));
  }

  /**
   * Returns the account's trades on `symbol` (GET /api/v3/myTrades), oldest first: only those of `q.orderId` and with a
   * time in [`q.startTime`, `q.endTime`] (both inclusive) when given; from `q.fromId` on the oldest `q.limit`, else the
   * newest `q.limit`.
   */
  myTrades(account: SimAccount, symbol: string | undefined, q: MyTradesQuery): Record<string, unknown>[] {
    const m = this.market(symbol);
    const { limit, fromId, orderId, startTime, endTime } = q;
    const rows = account.trades.filter((t) => t.symbol === m.inst.venueSymbol && (fromId === undefined || t.fill.tradeId >= fromId)
      && (orderId === undefined || t.fill.orderId === orderId)
      && (startTime === undefined || Math.floor(t.fill.ts) >= startTime) && (endTime === undefined || Math.floor(t.fill.ts) <= endTime));
    const picked = fromId === undefined ? rows.slice(Math.max(0, rows.length - limit)) : rows.slice(0, limit);
    return picked.map(({ inst, fill }) => ({
      symbol: inst.venueSymbol, id: fill.tradeId, orderId: fill.orderId, orderListId: -1, price: fmtPx(inst, fill.price),
      qty: fmtQty(inst, fill.lots), quoteQty: fmtMoney(fill.quote), commission: fmtMoney(fill.fee), commissionAsset: fill.feeAsset,
      time: Math.floor(fill.ts), isBuyer: fill.side === 'buy', isMaker: fill.liquidity === 'maker', isBestMatch: true,
    }));
  }

  private findOrder(account: SimAccount, m: SymbolMarket, p: OrderParams, openOnly: boolean): SimOrder | undefined {
    const idStr = p['orderId'];
    const cid = p['origClientOrderId'];
    if (idStr === undefined && cid === undefined) throw apiErrors.mandatory('orderId');
    const pool = openOnly ? this.openOf(account, m) : [...m.engine.allOrders(account.id), ...this.stopsOf(account, m, false)].sort((a, b) => a.id - b.id);
    if (idStr !== undefined) {
      if (!/^\d{1,18}$/.test(idStr)) throw apiErrors.illegalChars('orderId', idStr);
      return pool.find((o) => o.id === Number(idStr));
    }
    return [...pool].reverse().find((o) => o.clientOrderId === cid);
  }

  private orderFields(o: SimOrder): Record<string, unknown> {
    const meta = this.meta.get(o.id)!;
    const inst = this.markets.get(meta.symbol)!.inst;
    return {
      symbol: meta.symbol,
      price: o.price === undefined ? '0.00000000' : fmtPx(inst, o.price),
      origQty: fmtQty(inst, o.lots),
      executedQty: fmtQty(inst, o.filledLots),
      origQuoteOrderQty: '0.00000000',
      cummulativeQuoteQty: fmtMoney(o.cumQuote),
      status: this.expiredInMatch.has(o.id) ? 'EXPIRED_IN_MATCH' : binanceStatus(o),
      timeInForce: o.timeInForce,
      type: meta.typeName,
      side: o.side === 'buy' ? 'BUY' : 'SELL',
      stopPrice: meta.stopPrice === undefined ? '0.00000000' : fmtPx(inst, meta.stopPrice),
    };
  }

  private orderQueryShape(o: SimOrder): Record<string, unknown> {
    const f = this.orderFields(o);
    return {
      symbol: f['symbol'], orderId: o.id, orderListId: -1, clientOrderId: o.clientOrderId, price: f['price'],
      origQty: f['origQty'], executedQty: f['executedQty'], cummulativeQuoteQty: f['cummulativeQuoteQty'], status: f['status'],
      timeInForce: f['timeInForce'], type: f['type'], side: f['side'], stopPrice: f['stopPrice'], icebergQty: '0.00000000',
      time: Math.floor(o.submittedAt), updateTime: Math.floor(o.updatedAt), isWorking: o.status !== 'pending',
      workingTime: o.status === 'pending' ? -1 : Math.floor(o.activeAt), origQuoteOrderQty: f['origQuoteOrderQty'],
      selfTradePreventionMode: SIM_STP_MODE,
    };
  }

  /** Returns the POST /api/v3/order answer in Binance's ACK, RESULT or FULL shape. */
  orderResponse(o: SimOrder, respType: RespType): Record<string, unknown> {
    const meta = this.meta.get(o.id)!;
    const ack = { symbol: meta.symbol, orderId: o.id, orderListId: -1, clientOrderId: o.clientOrderId, transactTime: Math.floor(o.submittedAt) };
    if (respType === 'ACK') return ack;
    const f = this.orderFields(o);
    const result = {
      ...ack, price: f['price'], origQty: f['origQty'], executedQty: f['executedQty'], origQuoteOrderQty: f['origQuoteOrderQty'],
      cummulativeQuoteQty: f['cummulativeQuoteQty'], status: f['status'], timeInForce: f['timeInForce'], type: f['type'],
      side: f['side'], workingTime: o.status === 'pending' ? -1 : Math.floor(o.activeAt), selfTradePreventionMode: SIM_STP_MODE,
      ...(meta.stopPrice !== undefined ? { stopPrice: f['stopPrice'] } : {}),
    };
    if (respType === 'RESULT') return result;
    const inst = this.markets.get(meta.symbol)!.inst;
    const fills = meta.account.trades
      .filter((t) => t.fill.orderId === o.id)
      .map(({ fill }) => ({ price: fmtPx(inst, fill.price), qty: fmtQty(inst, fill.lots), commission: fmtMoney(fill.fee), commissionAsset: fill.feeAsset, tradeId: fill.tradeId }));
    return { ...result, fills };
  }
}

function parseSide(s: string | undefined): Side {
  if (!s) throw apiErrors.mandatory('side');
  if (s === 'BUY') return 'buy';
  if (s === 'SELL') return 'sell';
  throw apiErrors.invalidSide();
}

/** Returns a price or quantity string in integer steps; a malformed number is -1100, off the grid is -1013. */
function steps(inst: Instrument, s: string, what: 'price' | 'quantity'): number {
  if (!/^([0-9]{1,20})(\.[0-9]{1,20})?$/.test(s)) throw apiErrors.illegalChars(what, s);
  try {
    parseDecimal(s);
    return what === 'price' ? priceToTicks(inst, s) : qtyToLots(inst, s);
  } catch (err) {
    if (err instanceof ParseError) throw apiErrors.filterFailure(what === 'price' ? 'PRICE_FILTER' : 'LOT_SIZE');
    throw err;
  }
}
