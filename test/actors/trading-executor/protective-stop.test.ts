// Protective stops end to end: the TradingExecutor over CcxtExecVenue over the unmodified ccxt binance client against
// the exchange simulator (real recording, STOP_LOSS_LIMIT matched there). Placed after an entry fill for the whole
// position at the right prices, replaced on a second entry, cancelled before an exit (which then fills: the stop no
// longer locks the base asset), triggered by the recording and booked through the normal fill path, kept as is
// across restarts (with the store, and with the store lost), and never sold around when it already sold.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TradingExecutor, type TradingExecutorOptions } from '../../../actors/trading-executor/executor.ts';
import { planStop, type ProtectiveStopSettings } from '../../../actors/trading-executor/protective-stop.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { isProtectiveStopId } from '../../../engine/messages/orders.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { notional } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { CcxtExecVenue } from '../../../engine/venues/ccxt-exec.ts';
import type { ExchangeSim } from '../../../engine/venues/sim/server.ts';
import { VenueCallError, type VenueOrder } from '../../../engine/venues/venue.ts';
import { BINANCE_BTC as BTC, simWithCcxtVenue } from '../../engine/venues/sim/ccxt-exec-rig.ts';
import { capturingLogger, intent, recordingBus, tempStore } from './helpers.ts';

const KEY = 'pstopTestKey0001';
const SECRET = 'pstop-test-secret-0001';
const LOTS = 10_000 as Lots; // 0.1 BTC
const SELLABLE = 9_990; // less the 0.1 % fee the simulator takes in BTC on a buy
const SETTINGS: ProtectiveStopSettings = { enabled: true, extraBps: 50, limitBps: 100, stopLossBps: 200 };

let sim: ExchangeSim;
let venue: CcxtExecVenue;
const stores: Array<ReturnType<typeof tempStore>> = [];
const executors: TradingExecutor[] = [];

beforeEach(async () => {
  ({ sim, venue } = await simWithCcxtVenue({ apiKey: KEY, secret: SECRET, balances: { USDT: '100000' } }));
}, 60_000);
afterEach(async () => {
  for (const e of executors.splice(0)) e.stop();
  for (const s of stores.splice(0)) await s.cleanup();
  await sim?.close();
});

async function executor(settings: ProtectiveStopSettings = SETTINGS, store = tempStore(undefined, { syncCommits: true }), extra: Partial<TradingExecutorOptions> = {}) {
  if (!stores.includes(store)) stores.push(store);
  const clock = new SimulatedClock(sim.clock.now());
  const rec = recordingBus();
  const cap = capturingLogger();
  const ex = new TradingExecutor({
    bus: rec.bus, clock, venue, store: store.store, instruments: [BTC], log: cap.logger, rng: () => 0.5, pollMs: 1_000, protectiveStop: settings, ...extra,
  });
  executors.push(ex);
  await ex.start();
  // Polls on its own clock until `done` (each venue call is real HTTP to the simulator).
  const until = async (done: () => boolean | Promise<boolean>, what: string): Promise<void> => {
    for (let i = 0; i < 60; i++) {
      // An executor waiting on its own clock (a retry's backoff) is idle until the clock moves.
      await Promise.race([ex.idle(), new Promise((res) => setTimeout(res, 250))]);
      if (await done()) return;
      clock.advance(1_000);
    }
    throw new Error(`not reached: ${what}`);
  };
  const approve = (id: string, over: Parameters<typeof intent>[1] = {}) =>
    rec.bus.publish({ type: 'risk.orderApproved', intent: intent(id, { lots: LOTS, ...over }), ts: clock.now() });
  // The entry every test starts with, waited for until filled, or until its protective stop rests at the venue.
  const enter = async () => {
    approve('entry-1');
    await until(() => ex.order(clientOrderIdFor('entry-1'))?.status === 'filled', 'the entry');
  };
  const enterToStop = async () => {
    approve('entry-1');
    await until(async () => (await openStops()).length === 1, 'a resting stop');
  };
  return { ex, clock, store, until, approve, enter, enterToStop, ...rec, ...cap };
}

const openStops = async (): Promise<VenueOrder[]> => (await venue.fetchOpenOrders('BTC/USDT')).filter((o) => o.orderType === 'stopLossLimit');
const account = () => sim.venue.accounts.get(KEY)!;
const venueOrders = () => sim.venue.allOrders(account(), 'BTCUSDT', 1_000);

// The stop the rules ask for, computed here on its own: cost × (1 − bps) in ticks, floored, for the open lots.
function expectedStop(openCost: bigint, openLots: number, bps: number, limitBps: number): { stopPrice: number; price: number } {
  const stopPrice = Number((openCost * BigInt(10_000 - bps)) / (10_000n * notional(BTC, 1 as Ticks, openLots as Lots)));
  return { stopPrice, price: Math.floor((stopPrice * (10_000 - limitBps)) / 10_000) };
}

describe('protective stops (executor over the simulator)', () => {
  it('places a stop for the whole position after an entry fill, at cost less the risk stop and extraBps, rounded down', async () => {
    const w = await executor();
    await w.enterToStop();
    const p = w.ex.position('BTC/USDT')!;
    const [stop] = await openStops();
    const want = expectedStop(p.openCost!, p.openLots!, 250, 100);

    expect(p.openLots).toBe(LOTS);
    expect(stop).toMatchObject({ side: 'sell', lots: SELLABLE, stopPrice: want.stopPrice, price: want.price, status: 'accepted' });
    expect(isProtectiveStopId(stop!.clientOrderId)).toBe(true);
    expect(w.ex.order(stop!.clientOrderId)).toMatchObject({ status: 'accepted', intent: { stopPrice: want.stopPrice, reduceOnly: true } });
    expect(w.codes()).toContain('PROTECTIVE_STOP_PLACED');
  });

  it('replaces the stop after a second entry: the old one cancelled, one stop for the new size', async () => {
    const w = await executor();
    await w.enterToStop();
    const [first] = await openStops();
    w.approve('entry-2');
    await w.until(async () => (await openStops()).some((o) => o.lots === 2 * SELLABLE), 'the replacement');
    const stops = await openStops();
    const old = await venue.fetchOrder('BTC/USDT', first!.clientOrderId);
    const p = w.ex.position('BTC/USDT')!;

    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({ lots: 2 * SELLABLE, ...expectedStop(p.openCost!, p.openLots!, 250, 100) });
    expect(old?.status).toBe('cancelled');
    expect(w.ex.order(first!.clientOrderId)?.status).toBe('cancelled');
    // What /metrics shows: two placed, one cancelled, one resting.
    expect(w.ex.protectiveStops.figures()).toEqual({ placed: 2, cancelled: 1, skippedDust: 0, resting: 1 });
  });

  it('cancels the stop before an exit and the exit fills (no insufficient balance); no stop once flat', async () => {
    const w = await executor();
    await w.enterToStop();
    w.approve('risk-exit-1', { side: 'sell', lots: SELLABLE as Lots, reduceOnly: true });
    await w.until(() => w.ex.order(clientOrderIdFor('risk-exit-1'))?.status === 'filled' || w.of('exec.orderRejected').length > 0, 'the exit');

    expect(w.of('exec.orderRejected')).toEqual([]);
    expect(w.ex.order(clientOrderIdFor('risk-exit-1'))?.filledLots).toBe(SELLABLE);
    expect(await venue.fetchOpenOrders('BTC/USDT')).toEqual([]);
    expect(w.ex.position('BTC/USDT')?.soldLots).toBe(SELLABLE);
  });

  it('books a stop the recording triggers through the normal fill path, and never sells what the stop sold', async () => {
    // 5 bps below cost: the recording falls that far within two minutes.
    const w = await executor({ enabled: true, extraBps: 5, limitBps: 100, stopLossBps: 0 });
    await w.enterToStop();
    const [stop] = await openStops();
    for (let i = 0; i < 180 && sim.venue.pendingStops().length > 0; i++) await sim.replay.advanceBy(1_000);
    const atVenue = await venue.fetchOrder('BTC/USDT', stop!.clientOrderId);
    // An exit that comes before the executor saw the stop fill: the stop's cancel answers "not open".
    w.approve('risk-exit-late', { side: 'sell', lots: SELLABLE as Lots, reduceOnly: true });
    await w.until(() => w.ex.order(clientOrderIdFor('risk-exit-late'))?.status === 'rejected', 'the late exit refused');
    const trades = await venue.fetchMyTrades('BTC/USDT');
    const sold = trades.filter((t) => t.side === 'sell');
    const p = w.ex.position('BTC/USDT')!;

    expect(atVenue).toMatchObject({ status: 'filled', filledLots: SELLABLE });
    expect(w.ex.order(stop!.clientOrderId)).toMatchObject({ status: 'filled', filledLots: SELLABLE });
    expect(w.of('exec.orderFilled').map((m) => m.fill.clientOrderId)).toContain(stop!.clientOrderId);
    expect(w.of('exec.orderRejected').map((m) => m.code)).toEqual(['POSITION_GONE']);
    expect(sold.every((t) => t.venueOrderId === stop!.venueOrderId)).toBe(true);
    expect(p.soldLots).toBe(SELLABLE);
    expect(p.sellQuote).toBe(sold.reduce((s, t) => s + notional(BTC, t.price, t.lots), 0n));
    expect(await venue.fetchOpenOrders('BTC/USDT')).toEqual([]);
  }, 60_000);

  it('does not sell when it cannot tell whether the stop sold: the exit is rejected PROTECTIVE_STOP_UNRESOLVED', async () => {
    let tradesDown = false;
    // The venue, with its trade history unreadable on demand.
    const flaky: CcxtExecVenue = Object.create(venue);
    flaky.fetchMyTrades = (...a) => tradesDown ? Promise.reject(new VenueCallError('unknown', 'EXCHANGE_UNAVAILABLE', 'myTrades answered 503')) : venue.fetchMyTrades(...a);
    const w = await executor({ enabled: true, extraBps: 5, limitBps: 100, stopLossBps: 0 }, undefined, { venue: flaky });
    await w.enterToStop();
    for (let i = 0; i < 180 && sim.venue.pendingStops().length > 0; i++) await sim.replay.advanceBy(1_000);
    tradesDown = true;
    w.approve('risk-exit-blind', { side: 'sell', lots: SELLABLE as Lots, reduceOnly: true });
    await w.until(() => w.ex.order(clientOrderIdFor('risk-exit-blind'))?.status === 'rejected', 'the blind exit refused');
    const sells = (await venue.fetchMyTrades('BTC/USDT')).filter((t) => t.side === 'sell');

    expect(w.of('exec.orderRejected').map((m) => m.code)).toEqual(['PROTECTIVE_STOP_UNRESOLVED']);
    expect(new Set(sells.map((t) => t.venueOrderId)).size).toBe(1);
    expect(w.ex.unfinishedOrders().filter((o) => o.status === 'new')).toEqual([]);
  }, 60_000);

  it('keeps the resting stop across a restart, with its store and with the store lost: nothing placed twice, reconciling twice changes nothing', async () => {
    const w = await executor();
    await w.enterToStop();
    const before = venueOrders().length;
    w.ex.stop();
    const again = await executor(SETTINGS, w.store);
    await again.until(() => true, 'settled');
    await again.ex.reconcile({ balances: false });
    await again.ex.reconcile({ balances: false });
    await again.until(() => true, 'settled');
    const afterRestart = venueOrders().length;
    again.ex.stop();
    const lost = await executor();
    await lost.until(() => true, 'settled');
    await lost.ex.reconcile({ balances: true });
    await lost.until(() => true, 'settled');
    const [stop] = await openStops();

    expect(afterRestart).toBe(before);
    expect(venueOrders()).toHaveLength(before);
    expect(await openStops()).toHaveLength(1);
    expect(again.codes()).not.toContain('PROTECTIVE_STOP_PLACED');
    expect(lost.codes()).toContain('PROTECTIVE_STOP_FOUND');
    expect(lost.codes()).not.toContain('ADOPTED_ORDER');
    expect(lost.ex.order(stop!.clientOrderId)).toMatchObject({ status: 'accepted', intent: { stopPrice: stop!.stopPrice } });
    expect(lost.ex.order(stop!.clientOrderId)?.adopted).toBeUndefined();
  });

  it('places the stop at start for a position held without one (stops just switched on)', async () => {
    const off = await executor({ ...SETTINGS, enabled: false });
    await off.enter();
    const none = await openStops();
    off.ex.stop();
    const on = await executor(SETTINGS, off.store);
    await on.until(async () => (await openStops()).length === 1, 'the stop placed at start');
    const p = on.ex.position('BTC/USDT')!;

    expect(none).toEqual([]);
    expect((await openStops())[0]).toMatchObject({ lots: SELLABLE, ...expectedStop(p.openCost!, p.openLots!, 250, 100) });
  });

  it('leaves the stop resting while trading is halted: it protects what a halted engine holds', async () => {
    const w = await executor();
    await w.enterToStop();
    w.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'test halt', ts: w.clock.now() });
    await w.until(() => true, 'settled');
    w.clock.advance(5_000);
    await w.until(() => true, 'settled');
    expect(await openStops()).toHaveLength(1);
    expect(w.of('exec.orderCancelled')).toEqual([]);
  });

  it('does not place again a stop the price is already through (Binance -2010): logged once, and the exit still fills', async () => {
    const off = await executor({ enabled: false, extraBps: 0, limitBps: 100, stopLossBps: 0 });
    await off.enter();
    const p = off.ex.position('BTC/USDT')!;
    const costTick = Number(p.openCost! / notional(BTC, 1 as Ticks, p.openLots! as Lots));
    const market = [...sim.venue.markets.values()][0]!;
    for (let i = 0; i < 600 && (market.lastPrice() ?? Infinity) >= costTick; i++) await sim.replay.advanceBy(1_000);
    off.ex.stop();
    // Stops on at 0 bps after the price fell below cost: the stop (at cost) would trigger at once, and Binance says so.
    let stopSubmits = 0;
    const counting: CcxtExecVenue = Object.create(venue);
    counting.submit = (req) => {
      if (req.orderType === 'stopLossLimit') stopSubmits++;
      return venue.submit(req);
    };
    const on = await executor({ enabled: true, extraBps: 0, limitBps: 100, stopLossBps: 0 }, off.store, { venue: counting });
    let seconds = 0;
    await on.until(() => ++seconds >= 30, '30 s on the engine clock');
    const refused = on.ex.allOrders().filter((o) => isProtectiveStopId(o.clientOrderId));
    on.approve('risk-exit-1', { side: 'sell', lots: SELLABLE as Lots, reduceOnly: true, timeInForce: 'IOC' });
    await on.until(() => ['filled', 'rejected', 'expired', 'cancelled'].includes(on.ex.order(clientOrderIdFor('risk-exit-1'))?.status ?? ''), 'the exit');

    expect(stopSubmits).toBe(1);
    expect(refused).toMatchObject([{ status: 'rejected', rejectCode: 'INVALID_ORDER' }]);
    expect(on.codes().filter((c) => c === 'PROTECTIVE_STOP_THROUGH')).toHaveLength(1);
    expect(on.ex.order(clientOrderIdFor('risk-exit-1'))).toMatchObject({ status: 'filled', filledLots: SELLABLE });
  });

  it('places nothing when switched off', async () => {
    const w = await executor({ ...SETTINGS, enabled: false });
    await w.enter();
    expect(await venue.fetchOpenOrders('BTC/USDT')).toEqual([]);
  });
});

describe('planStop', () => {
  const pos = (lots: number, cost: bigint, baseFee = 0n) => ({
    venue: 'binance' as const, symbol: 'BTC/USDT', netLots: lots, boughtLots: lots, soldLots: 0, buyQuote: cost as never, sellQuote: 0n as never,
    fees: { BTC: baseFee as never }, openLots: lots, openCost: cost as never, updatedAt: 0,
  });
  it.each([
    // 0.1 BTC at 60 000.00 (6 000 USDT): 2.5 % below is 58 500.00, the limit 1 % below that 57 915.00.
    ['a long at one price', pos(10_000, 6_000_000_000_000n), { kind: 'stop', lots: 10_000, stopPrice: 5_850_000, price: 5_791_500 }],
    // 6 000.00001 USDT: 58 500.0000975 rounds down to the tick.
    ['a cost between ticks, rounded down', pos(10_000, 6_000_000_010_000n), { kind: 'stop', lots: 10_000, stopPrice: 5_850_000, price: 5_791_500 }],
    ['base fees, leaving 9 990 lots to sell', pos(10_000, 6_000_000_000_000n, 100_000n), { kind: 'stop', lots: 9_990, stopPrice: 5_850_000, price: 5_791_500 }],
    ['flat', pos(0, 0n), { kind: 'none', reason: 'flat' }],
    ['below the minimum notional (1 lot)', pos(1, 600_000_000n), { kind: 'none', reason: 'dust', lots: 1 }],
  ])('%s', (_what, p, want) => {
    expect(planStop(BTC, p, 200, SETTINGS)).toEqual(want);
  });
});
