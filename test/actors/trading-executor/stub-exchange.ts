// A hand-written stand-in for the part of a ccxt exchange CcxtExecVenue calls, answering in Binance's raw shapes
// (`info` strings), with scripted faults: each fault throws a real ccxt error class, optionally after the call took
// effect (a timeout whose order did reach the venue).
import ccxt from 'ccxt';
import type { CcxtOrderApi } from '../../../engine/venues/ccxt-exec.ts';

/** One scripted fault: `err` is thrown; with `applied` the call takes effect first. `garbage` answers junk instead. */
export interface Fault {
  readonly err?: Error;
  readonly applied?: boolean;
  readonly garbage?: unknown;
  readonly headers?: Record<string, string>;
}

interface StubOrder {
  orderId: string;
  clientOrderId: string;
  symbol: string;
  side: string;
  type: string;
  price: string;
  origQty: string;
  executedQty: string;
  status: string;
}

type Method = 'createOrder' | 'cancelOrder' | 'fetchOrder' | 'fetchOpenOrders' | 'fetchBalance' | 'fetchMyTrades';

/** The stub; `calls` counts every call per method, `faults` is consumed front first. */
export class StubExchange implements CcxtOrderApi {
  readonly orders = new Map<string, StubOrder>();
  readonly calls: Record<Method, number> = { createOrder: 0, cancelOrder: 0, fetchOrder: 0, fetchOpenOrders: 0, fetchBalance: 0, fetchMyTrades: 0 };
  readonly sentClientIds: string[] = [];
  readonly faults: Record<Method, Fault[]> = { createOrder: [], cancelOrder: [], fetchOrder: [], fetchOpenOrders: [], fetchBalance: [], fetchMyTrades: [] };
  /** Every later call of these methods fails with this fault. */
  readonly always: Partial<Record<Method, Fault>> = {};
  /** Our trades, in Binance's raw shape (see `fill`). */
  readonly trades: Array<{ info: Record<string, unknown> }> = [];
  last_response_headers: Record<string, string> | undefined;
  private seq = 1000;

  private async run<T>(m: Method, effect: () => T): Promise<T | unknown> {
    this.calls[m]++;
    const f = this.faults[m].shift() ?? this.always[m];
    this.last_response_headers = f?.headers ?? {};
    if (!f) return effect();
    if (f.applied) effect();
    if (f.garbage !== undefined) return f.garbage;
    throw f.err;
  }

  async createOrder(symbol: string, type: string, side: string, amount: number, price?: number, params: Record<string, unknown> = {}): Promise<unknown> {
    const cid = String(params['newClientOrderId']);
    this.sentClientIds.push(cid);
    return this.run('createOrder', () => {
      const o: StubOrder = {
        orderId: String(this.seq++), clientOrderId: cid, symbol, side: side.toUpperCase(), type: type.toUpperCase(),
        price: price === undefined ? '0.00000000' : price.toFixed(2), origQty: amount.toFixed(5), executedQty: '0.00000', status: 'NEW',
      };
      this.orders.set(cid, o);
      return { id: o.orderId, clientOrderId: cid, info: { ...o, transactTime: 1 } };
    });
  }

  async cancelOrder(_id: string | undefined, _symbol: string, params: Record<string, unknown> = {}): Promise<unknown> {
    return this.run('cancelOrder', () => {
      const o = [...this.orders.values()].find((x) => x.orderId === _id || x.clientOrderId === params['origClientOrderId']);
      if (o) o.status = 'CANCELED';
      return { info: o };
    });
  }

  async fetchOrder(_id: string | undefined, _symbol: string, params: Record<string, unknown> = {}): Promise<unknown> {
    return this.run('fetchOrder', () => {
      const o = this.orders.get(String(params['origClientOrderId']));
      if (!o) throw new OrderNotFoundForStub();
      return { id: o.orderId, info: { ...o } };
    });
  }

  async fetchOpenOrders(symbol: string): Promise<unknown[]> {
    return (await this.run('fetchOpenOrders', () =>
      [...this.orders.values()].filter((o) => o.status === 'NEW' && o.symbol === symbol).map((o) => ({ id: o.orderId, info: { ...o } })))) as unknown[];
  }

  async fetchBalance(): Promise<unknown> {
    return this.run('fetchBalance', () => ({ info: { balances: [{ asset: 'USDT', free: '10000.00000000', locked: '0.00000000' }] } }));
  }

  async fetchMyTrades(symbol: string, _since?: number, _limit?: number, params: Record<string, unknown> = {}): Promise<unknown[]> {
    const from = params['fromId'] === undefined ? 0 : Number(params['fromId']);
    return (await this.run('fetchMyTrades', () => this.trades.filter((t) => t.info['symbol'] === symbol && Number(t.info['id']) >= from))) as unknown[];
  }

  /** Fills the order with client id `cid` completely at its price, as one trade: what the venue did while we were not looking. */
  fill(cid: string): void {
    const o = this.orders.get(cid);
    if (!o) throw new Error(`stub exchange: no order with client id ${cid}`);
    o.status = 'FILLED';
    o.executedQty = o.origQty;
    this.trades.push({
      info: {
        id: String(this.seq++), orderId: o.orderId, symbol: o.symbol, price: o.price, qty: o.origQty, commission: '0', commissionAsset: 'BNB', time: 1,
        isBuyer: o.side === 'BUY', isMaker: true,
      },
    });
  }
}

/** fetchOrder of an unknown client id: what ccxt throws for Binance -2013. */
class OrderNotFoundForStub extends ccxt.OrderNotFound {
  constructor() {
    super('binance {"code":-2013,"msg":"Order does not exist."}');
  }
}
