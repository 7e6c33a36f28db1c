import { describe, expect, it } from 'vitest';
import {
  clientOrderIdFor, isRiskExit, isValidClientOrderId, newOrder, positionAfterFill, emptyPosition, transition, type OrderEvent, type OrderRecord,
} from '../../../actors/trading-executor/logic.ts';
import { exitIntent } from '../../../actors/risk-manager/logic.ts';
import { DEFAULT_LIMITS } from '../../../actors/risk-manager/limits.ts';
import type { Fill, OrderIntent, OrderStatus } from '../../../engine/messages/orders.ts';
import { clientOrderId, intentId, venueOrderId } from '../../../engine/types/ids.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const intent: OrderIntent = {
  id: intentId('intent-1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', lots: 100 as Lots, price: 6_183_763 as Ticks,
  timeInForce: 'GTC', reduceOnly: false, reason: 'test', ts: 1,
};
const base = newOrder(intent, 'paper', 1);
const at = (status: OrderStatus, over: Partial<OrderRecord> = {}): OrderRecord => ({ ...base, status, ...over });
const fill = (lots: number, tradeId = 't1', over: Partial<Fill> = {}): Fill => ({
  clientOrderId: base.clientOrderId, venueOrderId: venueOrderId('v1'), tradeId, venue: 'paper', symbol: 'BTC/USDT', side: 'buy',
  price: 6_183_763 as Ticks, lots: lots as Lots, fee: 0n as Money, feeAsset: 'BTC', liquidity: 'maker', ts: 2, ...over,
});
const quote = (f: Fill): Money => BigInt(f.lots * 1000) as Money;

const E = {
  submit: { type: 'submit' } as OrderEvent,
  ack: { type: 'accepted', venueOrderId: venueOrderId('v1') } as OrderEvent,
  part: { type: 'fill', fill: fill(40) } as OrderEvent,
  full: { type: 'fill', fill: fill(100) } as OrderEvent,
  cancel: { type: 'cancelled', reason: 'x' } as OrderEvent,
  expire: { type: 'expired' } as OrderEvent,
  reject: { type: 'rejected', code: 'INSUFFICIENT_FUNDS', message: 'm' } as OrderEvent,
  closeFilled: { type: 'closed', status: 'filled', reason: 'venue' } as OrderEvent,
};

type Row = [from: OrderStatus, event: keyof typeof E, expected: OrderStatus | 'illegal' | 'noop'];
const table: Row[] = [
  ['new', 'submit', 'submitted'],
  ['new', 'reject', 'rejected'],
  ['new', 'ack', 'illegal'],
  ['new', 'part', 'illegal'],
  ['new', 'cancel', 'illegal'],
  ['submitted', 'ack', 'accepted'],
  ['submitted', 'reject', 'rejected'],
  ['submitted', 'part', 'partiallyFilled'],
  ['submitted', 'full', 'filled'],
  ['submitted', 'cancel', 'cancelled'],
  ['submitted', 'expire', 'expired'],
  ['submitted', 'submit', 'illegal'],
  ['accepted', 'part', 'partiallyFilled'],
  ['accepted', 'full', 'filled'],
  ['accepted', 'cancel', 'cancelled'],
  ['accepted', 'expire', 'expired'],
  ['accepted', 'reject', 'illegal'],
  ['accepted', 'closeFilled', 'filled'],
  ['partiallyFilled', 'cancel', 'cancelled'],
  ['partiallyFilled', 'expire', 'expired'],
  ['filled', 'cancel', 'illegal'],
  ['filled', 'part', 'illegal'],
  ['filled', 'reject', 'illegal'],
  ['rejected', 'ack', 'illegal'],
  ['rejected', 'part', 'illegal'],
  ['rejected', 'cancel', 'illegal'],
  ['cancelled', 'cancel', 'noop'],
  ['cancelled', 'expire', 'illegal'],
  ['cancelled', 'part', 'cancelled'], // a late fill is booked, the status stays
  ['expired', 'part', 'expired'],
  ['expired', 'submit', 'illegal'],
];

describe('order lifecycle transitions', () => {
  it.each(table)('%s + %s -> %s', (from, ev, expected) => {
    // A filled order holds its whole size (one closed as filled with fills missing is the case below).
    const r = transition(at(from, from === 'filled' ? { filledLots: intent.lots } : {}), E[ev], 5, quote);
    if (expected === 'illegal' || expected === 'noop') expect(r.kind).toBe(expected);
    else {
      expect(r.kind).toBe('ok');
      if (r.kind === 'ok') expect(r.order.status).toBe(expected);
    }
  });

  it('books a fill once: the same trade id again is a no-op', () => {
    const once = transition(at('accepted'), E.part, 5, quote);
    const twice = once.kind === 'ok' ? transition(once.order, E.part, 6, quote) : once;
    expect(once.kind === 'ok' && [once.order.filledLots, once.order.filledQuote, once.order.tradeIds]).toEqual([40, 40_000n, ['t1']]);
    expect(twice.kind).toBe('noop');
  });

  it('refuses an overfill and a fill of the wrong side or symbol', () => {
    const after = transition(at('partiallyFilled', { filledLots: 80 as Lots, tradeIds: ['a'] }), { type: 'fill', fill: fill(30, 'b') }, 5, quote);
    const wrongSide = transition(at('accepted'), { type: 'fill', fill: fill(10, 'c', { side: 'sell' }) }, 5, quote);
    const wrongSymbol = transition(at('accepted'), { type: 'fill', fill: fill(10, 'd', { symbol: 'ETH/USDT' }) }, 5, quote);
    expect([after.kind, wrongSide.kind, wrongSymbol.kind]).toEqual(['illegal', 'illegal', 'illegal']);
  });

  // An order closed as filled while its trades were not all readable refused its real fills later.
  it('books the late fills of an order closed as filled with fills missing, up to its size, and stays filled', () => {
    const closed = at('filled', { filledLots: 40 as Lots, tradeIds: ['a'] });
    const late = transition(closed, { type: 'fill', fill: fill(60, 'b') }, 5, quote);
    const over = transition(closed, { type: 'fill', fill: fill(70, 'c') }, 5, quote);
    expect(late.kind === 'ok' && [late.order.status, late.order.filledLots, late.order.tradeIds]).toEqual(['filled', 100, ['a', 'b']]);
    expect(over.kind).toBe('illegal');
  });

  it('takes a late ack after the fills as the venue id only', () => {
    const filled = transition(at('submitted'), { type: 'fill', fill: fill(100, 't9', { venueOrderId: venueOrderId('v7') }) }, 5, quote);
    const ack = filled.kind === 'ok' ? transition(filled.order, { type: 'accepted', venueOrderId: venueOrderId('v7') }, 6, quote) : filled;
    expect(filled.kind === 'ok' && filled.order.venueOrderId).toBe('v7');
    expect(ack.kind).toBe('noop');
  });
});

describe('client order ids', () => {
  it('are deterministic per intent, distinct across intents and inside the Binance charset', () => {
    const ids = ['intent-1', 'x'.repeat(500), 'ünï/cödé:1', '', 'risk-exit:BTC/USDT:1723161300000'].map(clientOrderIdFor);
    expect(clientOrderIdFor('intent-1')).toBe(ids[0]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(isValidClientOrderId(id)).toBe(true);
      expect(id).toMatch(/^[A-Za-z0-9_-]{1,36}$/);
    }
    expect(base.clientOrderId).toBe(clientOrderId(ids[0]!));
  });
});

describe('risk exits', () => {
  // The prefix of the RiskManager's exit ids is one constant (RISK_EXIT_PREFIX) read by both actors: an exit that the
  // executor did not know as one would be cancelled by a halt, the very moment it is needed.
  it.each(['stop-loss', 'take-profit', 'flatten'])('knows a %s exit built by the RiskManager as its own, and a strategy order as not', (why) => {
    const exit = exitIntent(DEFAULT_LIMITS, 'BTC/USDT', 100 as Lots, 6_183_763 as Ticks, why, 1, 1_723_161_300_000);
    expect([isRiskExit(newOrder(exit, 'paper', 1)), isRiskExit(base)]).toEqual([true, false]);
  });
});

describe('positions', () => {
  it('move by fills: net lots, notionals and fees per asset', () => {
    let p = emptyPosition('paper', 'BTC/USDT', 0);
    p = positionAfterFill(p, fill(100, 'a', { fee: 100n as Money, feeAsset: 'BTC' }), 5000n as Money);
    p = positionAfterFill(p, fill(30, 'b', { side: 'sell', fee: 7n as Money, feeAsset: 'USDT' }), 1600n as Money);
    expect(p).toMatchObject({ netLots: 70, boughtLots: 100, soldLots: 30, buyQuote: 5000n, sellQuote: 1600n, fees: { BTC: 100n, USDT: 7n }, lastTradeId: 'b' });
  });
});
