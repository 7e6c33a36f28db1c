// A limit buy resting at the venue across a restart still counts toward the RiskManager's limits (open orders are not
// stored; app/system.ts hands the executor's unfinished orders to the risk child, which takes them over as open). A
// live system as `cobalt run --live` builds it, on a stand-in venue that outlives the engine (as in
// live-restart-books.test.ts): restarted whole (the executor still loading its orders when the risk child starts),
// and the risk child alone (the supervisor's restart, with the executor live).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { instrumentOf } from '../../app/live-venue.ts';
import { RISK_ID } from '../../app/risk-child.ts';
import type { System } from '../../app/system.ts';
import type { Config } from '../../engine/config/schema.ts';
import { OrderBook } from '../../engine/market/order-book.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { clientOrderIdFor, intentId } from '../../engine/types/ids.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import { PaperVenue } from '../../engine/venues/paper/paper-venue.ts';
import { testConfig } from '../e2e/helpers.ts';
import { until } from '../wait-until.ts';
import { startLiveSystem } from './live-system-start.ts';
import { openOrderOf } from '../../actors/risk-manager/open-orders.ts';

const T0 = 1_723_161_253_937;
const SYMBOL = 'ETH/USDT';
const config = (): Config => testConfig({
  mode: 'live', data: { replayFiles: [] }, venues: { binance: { restUrl: 'http://127.0.0.1:9', wsUrl: 'ws://127.0.0.1:9' } },
});
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// An account with 1,000 USDT and a one-tick book at 2,600.00 (real ETH/USDT prices of the recording's day).
function account(clock: SimulatedClock): PaperVenue {
  const inst = instrumentOf(SYMBOL, 'binance');
  const book = new OrderBook(inst.venueSymbol);
  const venue = new PaperVenue({
    clock, instruments: [inst], books: { [SYMBOL]: book }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n,
    latencyMs: 0, balances: { USDT: money('1000') }, id: 'binance',
  });
  book.replace([[260_000 as Ticks, 100_000 as Lots]], [[260_001 as Ticks, 100_000 as Lots]]);
  venue.onSnapshot(SYMBOL, clock.now());
  return venue;
}


// A GTC limit buy of 0.25 ETH at 2,500.00, under the book: 625 USDT of the 1,000 held back while it rests.
const RESTING = intentId('test-resting-buy');
const restingBuy = (sys: System) => sys.bus.publish({ type: 'risk.intent', intent: {
  id: RESTING, symbol: SYMBOL, side: 'buy', orderType: 'limit', lots: 2_500 as Lots, price: 250_000 as Ticks, timeInForce: 'GTC', reduceOnly: false, reason: 'test', ts: sys.clock.now(),
} });

// The verdict on a second buy of the same size: the cash left after the resting one's reserve is short of it.
async function secondBuy(sys: System): Promise<string> {
  const seen: string[] = [];
  const offs = [
    sys.bus.subscribe('risk.orderApproved', (m) => void (m.intent.id === intentId('test-second') && seen.push('approved'))),
    sys.bus.subscribe('risk.orderDenied', (m) => void (m.intentId === intentId('test-second') && seen.push(m.reason.code))),
  ];
  sys.bus.publish({ type: 'risk.intent', intent: {
    id: intentId('test-second'), symbol: SYMBOL, side: 'buy', orderType: 'limit', lots: 2_500 as Lots, price: 250_000 as Ticks, timeInForce: 'GTC', reduceOnly: false, reason: 'test', ts: sys.clock.now(),
  } });
  await until(() => seen.length > 0, 'the verdict on the second buy');
  for (const off of offs) off();
  return seen[0]!;
}

describe('an order resting at the venue across a restart', () => {
  it('counts as open after a restart of the process and of the risk child alone', async () => {
    const c = config();
    dirs.push(path.dirname(c.store.path));
    const clock = new SimulatedClock(T0);
    const venue = account(clock);
    const first = await startLiveSystem(c, clock, venue);
    restingBuy(first);
    const cid = clientOrderIdFor(RESTING);
    await until(() => first.handles.executor()?.order(cid)?.status === 'accepted', 'the buy to rest at the venue');
    await first.execStore.flush();
    await first.stop('test');

    const second = await startLiveSystem(c, clock, venue);
    const before = second.handles.risk();
    const afterProcess = before === undefined ? undefined : openOrderOf(before.openOrders, cid);
    second.supervisor.reportFailure(RISK_ID, new Error('injected: the risk child failed'));
    clock.advance(60_000);
    await until(() => second.handles.risk() !== undefined && second.handles.risk() !== before, 'the risk child to come back');
    const child = second.handles.risk();
    const afterChild = child === undefined ? undefined : openOrderOf(child.openOrders, cid);
    const verdict = await secondBuy(second);
    await second.stop('test');

    const open = { symbol: SYMBOL, side: 'buy', lots: 2_500, price: 250_000, seen: true };
    expect([afterProcess, afterChild]).toMatchObject([open, open]);
    expect(verdict).toBe('INSUFFICIENT_BALANCE');
  }, 60_000);
});
