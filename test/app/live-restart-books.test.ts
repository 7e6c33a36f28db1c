// Live: a restart keeps the RiskManager's books (task H1 finding 1). A live start handed the RiskManager the stored
// position with realised PnL and fees 0, so after a restart the status line, /api/state and the dashboard reported
// them as if no trade had happened. They now come from the stored fills booked before the start; a trade the store
// lacks (booked by the start-up reconciliation) reaches the RiskManager as a fill and counts once.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { valueOfBase9 } from '../../actors/risk-manager/positions.ts';
import { instrumentOf } from '../../app/live-venue.ts';
import { storedBooks, type System } from '../../app/system.ts';
import type { Config } from '../../engine/config/schema.ts';
import { OrderBook } from '../../engine/market/order-book.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { clientOrderId, intentId } from '../../engine/types/ids.ts';
import { money, type Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import { PaperVenue } from '../../engine/venues/paper/paper-venue.ts';
import { ETH, ETH_PX, fill } from '../actors/risk-manager/helpers.ts';
import { tempStore } from '../actors/trading-executor/helpers.ts';
import { testConfig } from '../e2e/helpers.ts';
import { until } from '../wait-until.ts';
import { startLiveSystem } from './live-system-start.ts';

const T0 = 1_723_161_253_937;
const SYMBOL = 'ETH/USDT';
// Live market data from nowhere (a closed loopback port): the test places the orders and moves the venue's book.
const config = (): Config => testConfig({
  mode: 'live', data: { replayFiles: [] }, venues: { binance: { restUrl: 'http://127.0.0.1:9', wsUrl: 'ws://127.0.0.1:9' } },
});
const dirs: string[] = [];
const stores: Array<ReturnType<typeof tempStore>> = [];
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const s of stores) await s.cleanup();
});

// A stand-in live venue (a paper venue named binance, 0.1% fees: a buy's in ETH, a sell's in USDT) that outlives the
// engine's restarts, as an exchange account does, with a book the test sets.
function account(clock: SimulatedClock) {
  const inst = instrumentOf(SYMBOL, 'binance');
  const book = new OrderBook(inst.venueSymbol);
  const venue = new PaperVenue({
    clock, instruments: [inst], books: { [SYMBOL]: book }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n,
    latencyMs: 0, balances: { USDT: money('1000') }, id: 'binance',
  });
  // Real ETH/USDT prices of the bundled recording's day, one tick wide.
  const quote = (bid: number): void => {
    book.replace([[bid as Ticks, 100_000 as Lots]], [[(bid + 1) as Ticks, 100_000 as Lots]]);
    venue.onSnapshot(SYMBOL, clock.now());
  };
  return { inst, venue, quote };
}


let seq = 0;
// An IOC limit order through the RiskManager, filled at once by the venue; resolves when the RiskManager booked it.
async function trade(sys: System, side: 'buy' | 'sell', lots: number, price: number): Promise<void> {
  const fills = sys.execStore.lastFillSeq('binance');
  sys.bus.publish({ type: 'risk.intent', intent: {
    id: intentId(`test-${++seq}`), symbol: SYMBOL, side, orderType: 'limit', lots: lots as Lots, price: price as Ticks, timeInForce: 'IOC', reduceOnly: false, reason: 'test', ts: sys.clock.now(),
  } });
  await until(() => sys.execStore.lastFillSeq('binance') > fills && sys.handles.executor()!.unfinishedOrders().length === 0, `the ${side} to fill`);
  await sys.execStore.flush();
}

const books = (sys: System) => {
  const p = sys.handles.risk()!.portfolio.positions[SYMBOL];
  return { realised: p?.realised, fees: p?.fees };
};

describe('a live restart', () => {
  it.each([
    ['flat after a round trip', false],
    ['holding a position', true],
  ])('keeps the RiskManager\'s realised PnL and fees (%s)', async (_, hold) => {
    const c = config();
    dirs.push(path.dirname(c.store.path));
    const clock = new SimulatedClock(T0);
    const { venue, quote } = account(clock);
    const first = await startLiveSystem(c, clock, venue);
    quote(260_000);
    await trade(first, 'buy', 1_000, 260_001);
    quote(262_000);
    // 999 lots: the buy's fee took one of the 1,000 in ETH.
    await trade(first, 'sell', 999, 262_000);
    if (hold) await trade(first, 'buy', 500, 262_001);
    const before = books(first);
    await first.stop('test');

    const second = await startLiveSystem(c, clock, venue);
    const after = books(second);
    await second.stop('test');

    expect(before.realised).toBeGreaterThan(0n);
    expect(before.fees).toBeGreaterThan(0n);
    expect(after).toEqual(before);
  }, 60_000);

  it('counts a trade the store lacks once: reconciliation books it after the carried books', async () => {
    const c = config();
    dirs.push(path.dirname(c.store.path));
    const clock = new SimulatedClock(T0);
    const { inst, venue, quote } = account(clock);
    const first = await startLiveSystem(c, clock, venue);
    quote(260_000);
    await trade(first, 'buy', 1_000, 260_001);
    quote(262_000);
    await trade(first, 'sell', 999, 262_000);
    const before = books(first);
    await first.stop('test');
    // A buy the engine never booked (the process died before the commit, or an order placed by hand).
    venue.submitNow({ clientOrderId: clientOrderId('by-hand-1'), symbol: SYMBOL, side: 'buy', orderType: 'limit', lots: 200 as Lots, price: 262_001 as Ticks, timeInForce: 'IOC' });
    const unbooked = (await venue.fetchMyTrades(SYMBOL)).at(-1)!;

    const second = await startLiveSystem(c, clock, venue);
    await until(() => (second.handles.risk()!.portfolio.positions[SYMBOL]?.lots ?? 0) > 0, 'the RiskManager to apply the reconciled trade');
    const after = books(second);
    await second.stop('test');

    expect(unbooked.feeAsset).toBe('ETH');
    expect(after.realised).toBe(before.realised);
    expect(after.fees).toBe(before.fees! + valueOfBase9(inst, unbooked.fee, unbooked.price));
  }, 60_000);
});

describe('the books a live start carries', () => {
  it('are those of the fills booked up to the start\'s baseline, not of those booked after it', async () => {
    const s = tempStore();
    stores.push(s);
    const quoteFee = (n: number) => ({ fee: money(`0.0${n}`), feeAsset: 'USDT' });
    const fills = [
      fill('buy', ETH_PX.t1520538925, 1_000, 0n as Money, { tradeId: '1', ...quoteFee(1) }),
      fill('sell', ETH_PX.t1520543725, 1_000, 0n as Money, { tradeId: '2', ...quoteFee(2) }),
      fill('buy', ETH_PX.t1520547382, 500, 0n as Money, { tradeId: '3', ...quoteFee(3) }),
      fill('sell', ETH_PX.t1520552725, 500, 0n as Money, { tradeId: '4', ...quoteFee(4) }),
    ];
    for (const f of fills.slice(0, 2)) await s.store.commit({ fill: f });
    const baseline = s.store.lastFillSeq('paper');
    // Booked after the start (the reconciliation's): the RiskManager gets them as fills.
    for (const f of fills.slice(2)) await s.store.commit({ fill: f });

    const atBaseline = storedBooks(s.store, 'paper', ETH, baseline);
    const all = storedBooks(s.store, 'paper', ETH, s.store.lastFillSeq('paper'));

    expect(atBaseline.fees).toBe(money('0.03'));
    expect(all.fees).toBe(money('0.10'));
    expect(atBaseline.realised).not.toBe(all.realised);
  });
});
