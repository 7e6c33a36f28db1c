// A venue port that pushes no events, as CcxtExecVenue over REST: the executor learns fills only from fetchMyTrades,
// which answers one page of `pageSize` trades after the given trade id (Binance's fromId paging).
import type { Money } from '../../../engine/types/money.ts';
import { venueOrderId, type ClientOrderId } from '../../../engine/types/ids.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type {
  CancelResult, ExecutionVenue, SubmitResult, VenueBalance, VenueEvent, VenueOrder, VenueOrderRequest, VenueTrade,
} from '../../../engine/venues/venue.ts';

/** The stub; `calls` lists every call by method name, `fill` executes lots of an order at the venue. */
export class PollVenue implements ExecutionVenue {
  readonly id = 'paper' as const;
  readonly pushesEvents = false;
  readonly submitSettleMs = 0;
  readonly symbols = ['BTC/USDT'];
  orders: VenueOrder[] = [];
  trades: VenueTrade[] = [];
  balances: VenueBalance[] = [];
  /** Trades per fetchMyTrades answer (Binance's limit is 1000). */
  pageSize = 1000;
  /** When set, only the first this many trades are in the history: it lags the order endpoint. */
  historyLength: number | undefined;
  readonly calls: string[] = [];
  /** Runs after a submitted order is placed at the venue and before the answer returns (a slow answer). */
  submitHook: ((req: VenueOrderRequest) => Promise<void>) | undefined;
  private seq = 100;
  private tradeSeq = 1;

  async submit(req: VenueOrderRequest): Promise<SubmitResult> {
    this.calls.push('submit');
    const o: VenueOrder = {
      clientOrderId: req.clientOrderId, venueOrderId: venueOrderId(String(this.seq++)), symbol: req.symbol, side: req.side, orderType: req.orderType,
      timeInForce: req.timeInForce, ...(req.price !== undefined ? { price: req.price } : {}), lots: req.lots, filledLots: 0 as Lots, status: 'accepted', ts: 0,
    };
    this.orders.push(o);
    await this.submitHook?.(req);
    return { status: 'accepted', venueOrderId: o.venueOrderId, ts: 0 };
  }

  /** Executes `lots` of the order with client id `cid` in one trade. */
  fill(cid: string, lots: number, price = 6_183_763): void {
    const i = this.orders.findIndex((o) => o.clientOrderId === cid);
    const o = this.orders[i]!;
    const filled = o.filledLots + lots;
    this.orders[i] = { ...o, filledLots: filled as Lots, status: filled === o.lots ? 'filled' : 'partiallyFilled' };
    this.trades.push({
      venueOrderId: o.venueOrderId, tradeId: String(this.tradeSeq++), venue: 'paper', symbol: o.symbol, side: o.side, price: price as Ticks,
      lots: lots as Lots, fee: 0n as Money, feeAsset: 'USDT', liquidity: 'taker', ts: 0,
    });
  }

  async cancel(_symbol: string, cid: ClientOrderId): Promise<CancelResult> {
    this.calls.push('cancel');
    const i = this.orders.findIndex((o) => o.clientOrderId === cid);
    const o = this.orders[i];
    if (!o || (o.status !== 'accepted' && o.status !== 'partiallyFilled')) return { status: 'notOpen' };
    this.orders[i] = { ...o, status: 'cancelled' };
    return { status: 'cancelled', ts: 0 };
  }

  async fetchOrder(_symbol: string, cid: ClientOrderId): Promise<VenueOrder | undefined> {
    this.calls.push('fetchOrder');
    return this.orders.find((o) => o.clientOrderId === cid);
  }

  async fetchOpenOrders(): Promise<VenueOrder[]> {
    this.calls.push('fetchOpenOrders');
    return this.orders.filter((o) => o.status === 'accepted' || o.status === 'partiallyFilled');
  }

  async fetchBalances(): Promise<VenueBalance[]> {
    return this.balances;
  }

  async fetchMyTrades(_symbol: string, since?: string): Promise<VenueTrade[]> {
    this.calls.push('fetchMyTrades');
    return this.trades.slice(0, this.historyLength).filter((t) => since === undefined || Number(t.tradeId) > Number(since)).slice(0, this.pageSize);
  }

  onEvent(_fn: (e: VenueEvent) => void): () => void {
    return () => {};
  }
}
