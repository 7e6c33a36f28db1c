// Self-trade prevention in the matching engine, as Binance spot's default mode (EXPIRE_MAKER): an order that reaches a
// resting order of its own owner expires that one and walks on, so an account never trades with itself (both sides of
// such a trade would carry one trade id, which the executor keys fills by). BTC/USDT's real increments.
import { describe, expect, it } from 'vitest';
import { MatchingEngine, type MatchEvent, type MatchFill, type NewOrder } from '../../../engine/market/matching.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const T = (n: number) => n as Ticks;
const L = (n: number) => n as Lots;

function setup() {
  const book = new OrderBook('BTCUSDT');
  const eng = new MatchingEngine({
    instrument: BTC, book, clock: new SimulatedClock(1_000), makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 0, feeIn: 'received',
  });
  const events: MatchEvent[] = [];
  eng.on((e) => events.push(e));
  const fills = (orderId: number): MatchFill[] => events.flatMap((e) => (e.kind === 'fill' && e.fill.orderId === orderId ? [e.fill] : []));
  const submit = (o: Partial<NewOrder> & Pick<NewOrder, 'side' | 'lots'>) => eng.submit({ type: o.price === undefined ? 'market' : 'limit', timeInForce: 'GTC', ...o });
  // The market: 100 lots offered at 61,000.00, bids far below.
  book.set('ask', T(6_100_000), L(100));
  book.set('bid', T(6_000_000), L(100));
  return { book, eng, events, fills, submit };
}

describe('MatchingEngine self-trade prevention (EXPIRE_MAKER)', () => {
  it("expires the owner's resting sell that its buy reaches and fills the buy from the market behind it", () => {
    const s = setup();
    const rest = s.submit({ side: 'sell', lots: L(50), price: T(6_099_000), owner: 'a' });
    const buy = s.submit({ side: 'buy', lots: L(80), price: T(6_100_000), owner: 'a', timeInForce: 'IOC' });
    expect(s.eng.order(rest.id)!.status).toBe('expired');
    expect(s.fills(rest.id)).toEqual([]);
    expect(s.fills(buy.id).map((f) => [f.lots, f.price, f.liquidity])).toEqual([[80, 6_100_000, 'taker']]);
    expect(s.eng.order(buy.id)!.status).toBe('filled');
    expect(s.eng.openOrders('a')).toEqual([]);
  });

  it("trades with another owner's resting sell at its price first", () => {
    const s = setup();
    const rest = s.submit({ side: 'sell', lots: L(50), price: T(6_099_000), owner: 'b' });
    const buy = s.submit({ side: 'buy', lots: L(80), price: T(6_100_000), owner: 'a', timeInForce: 'IOC' });
    expect(s.fills(rest.id).map((f) => [f.lots, f.price, f.liquidity])).toEqual([[50, 6_099_000, 'maker']]);
    expect(s.fills(buy.id).map((f) => [f.lots, f.price])).toEqual([[50, 6_099_000], [30, 6_100_000]]);
    expect(s.eng.order(rest.id)!.status).toBe('filled');
  });

  it("leaves the owner's resting order alone when the buy is filled before reaching it", () => {
    const s = setup();
    const rest = s.submit({ side: 'sell', lots: L(50), price: T(6_101_000), owner: 'a' });
    s.submit({ side: 'buy', lots: L(80), price: T(6_101_000), owner: 'a', timeInForce: 'IOC' });
    expect(s.eng.order(rest.id)!.status).toBe('open');
  });

  it("previews and checks fill-or-kill without the owner's own orders, and the check expires nothing", () => {
    const s = setup();
    s.book.set('ask', T(6_100_000), L(0));
    const rest = s.submit({ side: 'sell', lots: L(50), price: T(6_099_000), owner: 'a' });
    expect(s.eng.previewTake('buy', L(50), T(6_100_000), 'a').lots).toBe(0);
    expect(s.eng.previewTake('buy', L(50), T(6_100_000), 'b').lots).toBe(50);
    const fok = s.submit({ side: 'buy', lots: L(50), price: T(6_100_000), owner: 'a', timeInForce: 'FOK' });
    expect(s.eng.order(fok.id)!.status).toBe('expired');
    expect(s.fills(fok.id)).toEqual([]);
    expect(s.eng.order(rest.id)!.status).toBe('open');
  });

  it('never prevents orders without an owner from matching each other', () => {
    const s = setup();
    const rest = s.submit({ side: 'sell', lots: L(50), price: T(6_099_000) });
    s.submit({ side: 'buy', lots: L(50), price: T(6_100_000), timeInForce: 'IOC' });
    expect(s.eng.order(rest.id)!.status).toBe('filled');
  });
});
