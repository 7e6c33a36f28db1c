// A venue port that pushes its fills (as the paper venue and a user data stream do), so the executor runs no poll:
// a cancel that fails is retried by the executor itself or not at all. Cancels can be made to fail or to hang.
import type { Money } from '../../../engine/types/money.ts';
import { venueOrderId, type ClientOrderId } from '../../../engine/types/ids.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import {
  VenueCallError, type CancelResult, type ExecutionVenue, type SubmitResult, type VenueBalance, type VenueEvent, type VenueOrder,
  type VenueOrderRequest, type VenueTrade,
} from '../../../engine/venues/venue.ts';

/** The stub; `calls` lists every call as `method clientOrderId`. */
export class PushVenue implements ExecutionVenue {
  readonly id = 'paper' as const;
  readonly pushesEvents = true;
  readonly submitSettleMs = 0;
  readonly symbols: readonly string[];
  readonly orders = new Map<string, VenueOrder>();
  readonly trades: VenueTrade[] = [];
  readonly calls: string[] = [];
  /** The next this many cancels time out without reaching the venue. */
  cancelFails = 0;
  /** Every cancel times out while set. */
  cancelDown = false;
  /** Cancels that get past the faults wait on this before they take effect (a request that never completes). */
  cancelGate: Promise<void> | undefined;
  private seq = 1;
  private tradeSeq = 1;
  private fns: Array<(e: VenueEvent) => void> = [];

  constructor(symbols: readonly string[] = ['BTC/USDT']) {
    this.symbols = symbols;
  }

  async submit(req: VenueOrderRequest): Promise<SubmitResult> {
    this.calls.push(`submit ${req.clientOrderId}`);
    const vid = venueOrderId(`v${this.seq++}`);
    this.orders.set(req.clientOrderId, {
      clientOrderId: req.clientOrderId, venueOrderId: vid, symbol: req.symbol, side: req.side, orderType: req.orderType, timeInForce: req.timeInForce,
      ...(req.price !== undefined ? { price: req.price } : {}), lots: req.lots, filledLots: 0 as Lots, status: 'accepted', ts: 0,
    });
    return { status: 'accepted', venueOrderId: vid, ts: 0 };
  }

  async cancel(_symbol: string, cid: ClientOrderId): Promise<CancelResult> {
    this.calls.push(`cancel ${cid}`);
    if (this.cancelDown || this.cancelFails > 0) {
      if (this.cancelFails > 0) this.cancelFails--;
      throw new VenueCallError('unknown', 'REQUEST_TIMEOUT', 'cancel request timed out');
    }
    if (this.cancelGate) await this.cancelGate;
    const o = this.orders.get(cid);
    if (!o || !this.isOpen(cid)) return { status: 'notOpen' };
    this.orders.set(cid, { ...o, status: 'cancelled' });
    return { status: 'cancelled', ts: 0 };
  }

  /** True while the order can still trade at the venue. */
  isOpen(cid: string): boolean {
    const s = this.orders.get(cid)?.status;
    return s === 'accepted' || s === 'partiallyFilled';
  }

  /** The market reaches the order: fills `lots` of it and pushes the fill; an order no longer open cannot fill. */
  fill(cid: string, lots: number, price: Ticks): boolean {
    const o = this.orders.get(cid);
    if (!o || !this.isOpen(cid)) return false;
    const filled = o.filledLots + lots;
    this.orders.set(cid, { ...o, filledLots: filled as Lots, status: filled >= o.lots ? 'filled' : 'partiallyFilled' });
    const t: VenueTrade = {
      clientOrderId: o.clientOrderId, venueOrderId: o.venueOrderId, tradeId: `t${this.tradeSeq++}`, venue: 'paper', symbol: o.symbol, side: o.side,
      price, lots: lots as Lots, fee: 0n as Money, feeAsset: 'USDT', liquidity: 'maker', ts: 0,
    };
    this.trades.push(t);
    for (const fn of this.fns) fn({ kind: 'fill', fill: { ...t, clientOrderId: o.clientOrderId } });
    return true;
  }

  async fetchOrder(_symbol: string, cid: ClientOrderId): Promise<VenueOrder | undefined> {
    this.calls.push(`fetchOrder ${cid}`);
    return this.orders.get(cid);
  }

  async fetchOpenOrders(): Promise<VenueOrder[]> {
    return [...this.orders.values()].filter((o) => this.isOpen(o.clientOrderId));
  }

  async fetchBalances(): Promise<VenueBalance[]> {
    return [];
  }

  async fetchMyTrades(_symbol: string, since?: string): Promise<VenueTrade[]> {
    const i = since === undefined ? 0 : this.trades.findIndex((t) => t.tradeId === since) + 1;
    return this.trades.slice(i);
  }

  onEvent(fn: (e: VenueEvent) => void): () => void {
    this.fns.push(fn);
    return () => {
      this.fns = this.fns.filter((f) => f !== fn);
    };
  }

  /** The cancel calls so far. */
  get cancels(): number {
    return this.calls.filter((c) => c.startsWith('cancel ')).length;
  }
}
