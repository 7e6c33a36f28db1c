// Review H7 (c): the orders topic was the whole 200-row table (17-20 KB) in every push that named it; it is now a
// delta like fills (the rows changed since the client's cursor), and the page's table must stay the server's.
import { describe, expect, it } from 'vitest';
import { SeqMap } from '../../../engine/dashboard/seq-ring.ts';
import { DashboardViewModel, type Cursors, type OrderRow } from '../../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import type { SeqSlice } from '../../../engine/dashboard/seq-ring.ts';
import { Store } from '../../../web/src/store.ts';

const accepted = (id: string, ts: number): EngineMsg => ({ type: 'exec.orderAccepted', clientOrderId: id as never, venueOrderId: `v-${id}` as never, ts });
const cancelled = (id: string, ts: number): EngineMsg => ({ type: 'exec.orderCancelled', clientOrderId: id as never, reason: 'test', ts });

function viewModel(): { bus: Bus<EngineMsg>; view: DashboardViewModel } {
  const bus = new Bus<EngineMsg>();
  const view = new DashboardViewModel({ bus });
  view.start();
  return { bus, view };
}
const ordersOf = (view: DashboardViewModel, cursors: Cursors) => (view.build('orders', cursors) as { orders: SeqSlice<OrderRow> }).orders;

describe('SeqMap', () => {
  it('returns the keys changed after a cursor, least recently changed first, and evicts the least recently changed', () => {
    const m = new SeqMap<string>(3);
    m.set('a', 'a1');
    m.set('b', 'b1');
    const first = m.since(-1);
    m.set('a', 'a2');
    m.set('c', 'c1');
    m.set('d', 'd1');
    const next = m.since(first.seq);
    expect(first).toEqual({ reset: true, items: ['a1', 'b1'], seq: 2 });
    // b was the least recently changed when d came: it is gone, and a (changed since) is kept.
    expect(next).toEqual({ reset: false, items: ['a2', 'c1', 'd1'], seq: 5 });
    expect(m.since(-1).items).toEqual(['a2', 'c1', 'd1']);
    expect(m.since(next.seq).items).toEqual([]);
  });
});

describe('the orders topic', () => {
  it('carries only the rows that changed since the client\'s last push', () => {
    const { bus, view } = viewModel();
    const cursors: Cursors = new Map();
    for (let i = 0; i < 150; i++) bus.publish(accepted(`o${i}`, i));
    const first = ordersOf(view, cursors);
    bus.publish(cancelled('o7', 200));
    const next = ordersOf(view, cursors);
    const idle = ordersOf(view, cursors);
    expect(first.reset).toBe(true);
    expect(first.items).toHaveLength(150);
    expect(next.reset).toBe(false);
    expect(next.items.map((r) => [r.id, r.status])).toEqual([['o7', 'cancelled']]);
    expect(idle.items).toEqual([]);
  });

  it('leaves the page holding the server\'s table, newest change first, through evictions', () => {
    const { bus, view } = viewModel();
    const cursors: Cursors = new Map();
    const store = new Store();
    store.apply({ orders: view.build('orders', cursors) });
    // 450 orders, each older one cancelled now and then, pushed every few messages: rows are evicted past 200.
    for (let i = 0; i < 450; i++) {
      bus.publish(accepted(`o${i}`, i));
      if (i % 7 === 0 && i > 20) bus.publish(cancelled(`o${i - 20}`, i));
      if (i % 5 === 0) store.apply({ orders: view.build('orders', cursors) });
    }
    store.apply({ orders: view.build('orders', cursors) });
    const fresh = new Store();
    fresh.apply({ orders: view.build('orders', new Map()) });
    expect(store.orders).toHaveLength(200);
    expect(store.orders).toEqual(fresh.orders);
    expect(store.orders[0]!.id).toBe('o449');
  });
});
