// Open orders across a restart: they are not stored, so a start takes over the orders the executor still works
// (RiskInput.openOrders, built by app/risk-child.ts openOrdersAtStart from the executor's unfinished orders, as
// app/system.ts wires it). Before, a restart started with none: an order resting at the venue counted only as it
// filled, and the limits let a second one of the same size through.
import { describe, expect, it } from 'vitest';
import { createRiskState, onExecFill, onIntent, onMark, onOrderEnd, type RiskOut, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { OPEN_ORDER_UNSEEN_MS, openOrderOf, openTotals, type StartOpenOrder } from '../../../actors/risk-manager/open-orders.ts';
import { newOrder, type OrderRecord } from '../../../actors/trading-executor/logic.ts';
import { openOrdersAtStart } from '../../../app/risk-child.ts';
import type { OrderIntent } from '../../../engine/messages/orders.ts';
import { clientOrderId, clientOrderIdFor, type ClientOrderId } from '../../../engine/types/ids.ts';
import type { VenueId } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { ETH, ETH_PX, fill, intent, limits, lots } from './helpers.ts';

const SYM = 'ETH/USDT';
const P = ETH_PX.t1520543125; // 2680.17
// Long after the start: orders the executor never took up would have stopped counting by then; these were taken up.
const LATER = (1_723_161_300_000 + 10 * OPEN_ORDER_UNSEEN_MS) as TsMs;
const BUY = clientOrderId('cb-resting-buy');
const SELL = clientOrderId('cb-resting-sell');

function restarted(open: Readonly<Record<string, StartOpenOrder>>, held = 0): RiskState {
  return createRiskState({
    limits: limits({ maxSubmitsPerSecond: 10, stopLossBps: 200 }), instruments: [ETH], cash: money('10000'), openOrders: open,
    ...(held > 0 ? { positions: { [SYM]: { lots: lots(held), cost: money('804.051') } } } : {}),
  });
}

const verdict = (s: RiskState, it: OrderIntent): unknown => {
  const o = onIntent(s, it, LATER).out.at(-1);
  return o?.type === 'risk.orderDenied' ? o.reason : o?.type;
};

describe('a restart with orders still open at the venue', () => {
  it('counts a resting buy toward the position limit long after the start, until it fills and ends', () => {
    const s = restarted({ [BUY]: { symbol: SYM, side: 'buy', lots: lots(4000), price: P } });
    expect(openOrderOf(s.openOrders, BUY)).toMatchObject({ lots: 4000, price: P, seen: true });
    // 4000 open + 3000 is over maxPositionLots 6000.
    expect(verdict(s, intent({ lots: lots(3000) }))).toMatchObject({ code: 'POSITION_LIMIT', position: 7000, including: '4000 lots of open buys' });
    // 1000 of it fill: 1000 held, 3000 open; then the venue cancels the rest.
    const part = onExecFill(s, fill('buy', P, 1000, money('0'), { clientOrderId: BUY }), false, LATER).state;
    expect(verdict(part, intent({ lots: lots(2001) }))).toMatchObject({ code: 'POSITION_LIMIT', position: 6001 });
    const ended = onOrderEnd(part, BUY, 'cancelled (venue)', LATER).state;
    expect(verdict(ended, intent({ lots: lots(3000) }))).toBe('risk.orderApproved');
  });

  it('takes a resting sell\'s lots from what a strategy sell and a stop exit may sell', () => {
    const s = restarted({ [SELL]: { symbol: SYM, side: 'sell', lots: lots(2000), price: P } }, 3000);
    expect(verdict(s, intent({ side: 'sell', lots: lots(1500) }))).toMatchObject({ code: 'INSUFFICIENT_POSITION', available: 1000 });
    // A 2 % fall fires the stop: its exit sells the 1000 lots the resting sell does not hold.
    const marked = onMark(onMark(s, SYM, P, LATER).state, SYM, Math.floor(P * 0.97) as Ticks, (LATER + 1) as TsMs);
    const exits = marked.out.filter((o): o is Extract<RiskOut, { type: 'risk.orderApproved' }> => o.type === 'risk.orderApproved');
    expect(exits.map((e) => e.intent.lots)).toEqual([1000]);
  });

  // The executor drops an approval it has seen before without a word: the order it works is the one taken over, so a
  // second approval of its intent must not count its lots twice, nor keep counting after the order ends.
  it('counts an order taken over once when its intent is approved again', () => {
    const again = intent({ lots: lots(1000), price: P });
    const cid = clientOrderIdFor(again.id);
    const s = restarted({ [cid]: { symbol: SYM, side: 'buy', lots: lots(1000), price: P } });
    const approved = onIntent(s, again, LATER);
    expect(approved.out.at(-1)?.type).toBe('risk.orderApproved');
    expect(openTotals(approved.state.openOrders, approved.state.instruments, SYM, LATER, approved.state.marks).buyLots).toBe(1000);
    const ended = onOrderEnd(approved.state, cid, 'cancelled (venue)', LATER).state;
    expect(ended.openOrders).toEqual([]);
  });

  it('leaves out orders of other symbols and orders with nothing left', () => {
    const s = restarted({
      a: { symbol: 'BTC/USDT', side: 'buy', lots: lots(5), price: P },
      b: { symbol: SYM, side: 'buy', lots: lots(0), price: P },
    });
    expect(s.openOrders).toEqual([]);
  });
});

describe('openOrdersAtStart', () => {
  const record = (cid: string, over: Partial<OrderIntent>, filled = 0): OrderRecord => ({
    ...newOrder(intent({ symbol: SYM, ...over }), 'binance' as VenueId, 0 as TsMs), clientOrderId: cid as ClientOrderId, status: 'accepted', filledLots: lots(filled),
  });

  it('takes what is left of each unfinished order, leaving out the executor\'s protective stops', () => {
    const out = openOrdersAtStart([
      record('cb-buy', { side: 'buy', lots: lots(3000), price: P }, 1000),
      record('rx-exit', { side: 'sell', orderType: 'market', lots: lots(500), price: undefined }),
      record('pstop-ETHUSDT-1', { side: 'sell', lots: lots(3000), price: P, stopPrice: P }),
      record('cb-done', { side: 'buy', lots: lots(100), price: P }, 100),
    ]);
    expect(out).toEqual({
      'cb-buy': { symbol: SYM, side: 'buy', lots: 2000, price: P },
      'rx-exit': { symbol: SYM, side: 'sell', lots: 500 },
    });
  });
});
