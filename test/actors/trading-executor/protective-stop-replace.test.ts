// Protective stops replaced in one request (Binance cancelReplace): the TradingExecutor over CcxtExecVenue over the
// unmodified ccxt binance client against the exchange simulator. When the position grows, the stop is replaced with no
// moment, by the simulator's own order record, at which the account holds no stop (the cancel-then-place path has
// one); the new stop is recorded before the request goes out. The fallbacks end as the cancel-then-place path ends
// (each scenario run twice, once through a ccxt client without editOrder): the old stop filled (cancel fails, -2022),
// and the old stop part filled after a trigger (cancel done, the new stop refused for insufficient balance, -2021).
import ccxt from 'ccxt';
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import type { ProtectiveStopSettings } from '../../../actors/trading-executor/protective-stop.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { isProtectiveStopId } from '../../../engine/messages/orders.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { intentId } from '../../../engine/types/ids.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { CcxtExecVenue, classifyCcxtError, type CcxtOrderApi } from '../../../engine/venues/ccxt-exec.ts';
import type { SymbolMarket } from '../../../engine/venues/sim/feed.ts';
import { fmtPx } from '../../../engine/venues/sim/format.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import { signPayload } from '../../../engine/venues/sim/signing.ts';
import { VenueCallError, type ExecutionVenue, type VenueOrder } from '../../../engine/venues/venue.ts';
import { BINANCE_BTC as BTC, BTC_RECORDING } from '../../engine/venues/sim/ccxt-exec-rig.ts';
import { capturingLogger, STOP_SETTINGS, tempStore } from './helpers.ts';

const OURS = { apiKey: 'replaceExecKey01', secret: 'replace-exec-secret-01', balances: { USDT: '100000' } };
// Another account trading on the same simulated market (scenario of the part-filled stop).
const MARKET = { apiKey: 'replaceMktKey001', secret: 'replace-mkt-secret-01', balances: { USDT: '10000000', BTC: '20000' } };
const LOTS = 10_000 as Lots; // 0.1 BTC
const SELLABLE = 9_990; // less the 0.1 % fee the simulator takes in BTC on a buy

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** How a replace request ends without an answer: a timeout after the simulator acted on it, or before it was sent. */
type Timeout = 'afterSend' | 'beforeSend' | undefined;

// The ccxt client with its editOrder hidden (the venue then has no replace: the cancel-then-place path), and the
// store's record of each replacement stop at the moment its request goes out.
function client(ex: CcxtOrderApi, replace: boolean, recordedAtSend: (cid: string) => void, timeout: Timeout): CcxtOrderApi {
  const out: CcxtOrderApi = {
    createOrder: (...a) => ex.createOrder(...a),
    cancelOrder: (...a) => ex.cancelOrder(...a),
    fetchOrder: (...a) => ex.fetchOrder(...a),
    fetchOpenOrders: (...a) => ex.fetchOpenOrders(...a),
    fetchBalance: (...a) => ex.fetchBalance(...a),
    fetchMyTrades: (...a) => ex.fetchMyTrades(...a),
    get last_response_headers() {
      return ex.last_response_headers;
    },
  };
  if (replace) {
    out.editOrder = async (id, symbol, type, side, amount, price, params) => {
      recordedAtSend(String(params?.['newClientOrderId']));
      if (timeout === 'beforeSend') throw new ccxt.RequestTimeout('binance POST /api/v3/order/cancelReplace request timed out (10000 ms)');
      const answer = await ex.editOrder!(id, symbol, type, side, amount, price, params);
      if (timeout === 'afterSend') throw new ccxt.RequestTimeout('binance POST /api/v3/order/cancelReplace request timed out (10000 ms)');
      return answer;
    };
  }
  return out;
}

/** The simulator, a venue through ccxt (with or without replace) and an executor with protective stops on it. */
async function world(replace: boolean, settings: ProtectiveStopSettings = STOP_SETTINGS, timeout?: Timeout, ours: { apiKey: string; secret: string; balances: Record<string, string> } = OURS) {
  const sim: ExchangeSim = await startExchangeSim({ files: BTC_RECORDING, speed: 'manual', accounts: [ours, MARKET] });
  cleanups.push(() => sim.close());
  await sim.replay.advanceBy(5_000);
  const api = `${sim.url}/api/v3`;
  const exchange = new ccxt.binance({
    apiKey: OURS.apiKey, secret: OURS.secret, enableRateLimit: false,
    urls: { api: { public: api, private: api, v1: `${sim.url}/api/v1` } },
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
  });
  const { store, cleanup } = tempStore(undefined, { syncCommits: true });
  cleanups.push(cleanup);
  const recordedAtSend: Array<{ cid: string; status: string | undefined }> = [];
  const ccxtClient = client(exchange as unknown as CcxtOrderApi, replace, (cid) => recordedAtSend.push({ cid, status: store.order(cid)?.status }), timeout);
  const venue = new CcxtExecVenue({ exchange: ccxtClient, venue: 'binance', instruments: [BTC], clock: new SimulatedClock(sim.clock.now()) });
  const clock = new SimulatedClock(sim.clock.now());
  const bus = new Bus<EngineMsg>();
  const { logger, codes } = capturingLogger();
  const ex = new TradingExecutor({ bus, clock, venue, store, instruments: [BTC], log: logger, rng: () => 0.5, pollMs: 1_000, protectiveStop: settings });
  cleanups.push(() => ex.stop());
  await ex.start();

  const account = sim.venue.accounts.get(OURS.apiKey)!;
  // Every request the simulator answered, and those after which our account held no stop at all (by its own record).
  const requests: string[] = [];
  const gaps: string[] = [];
  let watching = false;
  const m = sim.venue.market('BTCUSDT');
  const stopsHeld = () => sim.venue.pendingStops(account.id).length + m.engine.openOrders(account.id).filter((o) => isProtectiveStopId(o.clientOrderId)).length;
  sim.events.on('request', (r: { method: string; path: string; status: number }) => {
    requests.push(`${r.method} ${r.path} ${r.status}`);
    if (watching && stopsHeld() === 0) gaps.push(`${r.method} ${r.path}`);
  });

  const until = async (done: () => boolean | Promise<boolean>, what: string): Promise<void> => {
    for (let i = 0; i < 60; i++) {
      await Promise.race([ex.idle(), new Promise((res) => setTimeout(res, 250))]);
      if (!ex.busy && (await done())) return;
      clock.advance(1_000);
    }
    throw new Error(`not reached: ${what}`);
  };
  const openStops = async (): Promise<VenueOrder[]> => (await venue.fetchOpenOrders('BTC/USDT')).filter((o) => o.orderType === 'stopLossLimit');
  const approve = (id: string, side: 'buy' | 'sell' = 'buy', lots: Lots = LOTS) => bus.publish({
    type: 'risk.orderApproved', ts: clock.now(),
    intent: { id: intentId(id), symbol: 'BTC/USDT', side, orderType: 'market', lots, timeInForce: 'GTC', reduceOnly: side === 'sell', reason: 'test', ts: 0 },
  });
  const enterToStop = async (): Promise<VenueOrder> => {
    approve('entry-1');
    await until(async () => (await openStops()).length === 1, 'a resting stop');
    return (await openStops())[0]!;
  };
  const moveStopLoss = (stopLossBps: number) => bus.publish({ type: 'risk.limitsChanged', limits: { stopLossBps } as unknown as RiskLimits, ts: clock.now() });
  const venueOrder = (cid: string) => sim.venue.allOrders(account, 'BTCUSDT', 1_000).find((o) => o['clientOrderId'] === cid);
  // What the account and the executor end with, for comparing the two paths.
  const outcome = async () => {
    const p = ex.position('BTC/USDT');
    const stops = await openStops();
    return {
      netLots: p?.netLots, soldLots: p?.soldLots, stops: stops.map((o) => ({ lots: o.lots, stopPrice: o.stopPrice, price: o.price, filledLots: o.filledLots })),
      btc: { free: account.freeOf('BTC'), locked: account.lockedOf('BTC') },
      sold: account.trades.filter((t) => t.fill.side === 'sell').reduce((n, t) => n + t.fill.lots, 0),
      live: ex.unfinishedOrders().filter((o) => isProtectiveStopId(o.clientOrderId)).map((o) => o.status),
    };
  };
  return {
    sim, venue, ex, clock, codes, requests, gaps, recordedAtSend, account, m, until, openStops, approve, enterToStop, moveStopLoss, venueOrder, outcome,
    watch: (on: boolean) => void (watching = on),
  };
}

type World = Awaited<ReturnType<typeof world>>;

// A signed request of the other account.
async function marketCall(w: World, method: string, path: string, params: Record<string, string>) {
  const q = new URLSearchParams({ ...params, timestamp: String(Date.now()) }).toString();
  const r = await fetch(`${w.sim.url}${path}?${q}&signature=${signPayload(q, MARKET.secret)}`, { method, headers: { 'X-MBX-APIKEY': MARKET.apiKey } });
  return { status: r.status, body: await r.json() as Record<string, unknown> };
}

describe('protective stop replaced in one request (cancelReplace)', () => {
  it('replaces the stop when the position grows, the account holding a stop at every moment', async () => {
    const w = await world(true);
    const first = await w.enterToStop();
    w.watch(true);
    w.approve('entry-2');
    await w.until(async () => (await w.openStops()).some((o) => o.lots === 2 * SELLABLE), 'the replacement');
    w.watch(false);
    const stops = await w.openStops();

    expect(w.gaps).toEqual([]);
    expect(w.requests.filter((r) => r.includes('cancelReplace'))).toEqual(['POST /api/v3/order/cancelReplace 200']);
    expect(w.requests.filter((r) => r.startsWith('DELETE /api/v3/order '))).toEqual([]);
    // Recorded (and marked submitted) before its request went out.
    expect(w.recordedAtSend).toEqual([{ cid: stops[0]!.clientOrderId, status: 'submitted' }]);
    expect(stops).toHaveLength(1);
    expect(w.venueOrder(first.clientOrderId)).toMatchObject({ status: 'CANCELED' });
    expect(w.venueOrder(stops[0]!.clientOrderId)).toMatchObject({ status: 'NEW', type: 'STOP_LOSS_LIMIT', origQty: '0.19980000' });
    expect(w.ex.order(first.clientOrderId)?.status).toBe('cancelled');
    expect(w.ex.order(stops[0]!.clientOrderId)?.status).toBe('accepted');
    expect(w.ex.protectiveStops.figures()).toEqual({ placed: 2, cancelled: 1, skippedDust: 0, resting: 1 });
    expect(w.codes()).toContain('PROTECTIVE_STOP_REPLACED');
  }, 60_000);

  it('(the cancel-then-place path, on a venue without replace, leaves the account without a stop between its requests)', async () => {
    const w = await world(false);
    await w.enterToStop();
    w.watch(true);
    w.approve('entry-2');
    await w.until(async () => (await w.openStops()).some((o) => o.lots === 2 * SELLABLE), 'the replacement');
    expect(w.gaps).toContain('DELETE /api/v3/order');
  }, 60_000);

  it.each([
    ['the venue acted on it: the new stop is found by its client id, and nothing is sent again', 'afterSend', 1],
    ['it never reached the venue: the new stop is not found, and the cancel-then-place path replaces the stop', 'beforeSend', 0],
  ] as const)('settles a replace request with no answer by querying: %s', async (_what, timeout, sent) => {
    const w = await world(true, STOP_SETTINGS, timeout);
    const first = await w.enterToStop();
    w.approve('entry-2');
    await w.until(async () => (await w.openStops()).some((o) => o.lots === 2 * SELLABLE), 'the replacement');
    const stops = await w.openStops();
    const replacement = w.recordedAtSend[0]!.cid;

    expect(w.requests.filter((r) => r.includes('cancelReplace'))).toHaveLength(sent);
    expect(stops).toHaveLength(1);
    expect(w.venueOrder(first.clientOrderId)).toMatchObject({ status: 'CANCELED' });
    expect(w.ex.order(first.clientOrderId)?.status).toBe('cancelled');
    // Found: that order is the stop; not found: rejected, and another client id placed.
    expect(w.ex.order(replacement)?.status).toBe(sent ? 'accepted' : 'rejected');
    expect(stops[0]!.clientOrderId === replacement).toBe(sent === 1);
    expect(w.ex.unfinishedOrders().map((o) => o.status)).toEqual(['accepted']);
  }, 60_000);

  it('falls back when the old stop filled (cancel failed): no oversell, the same end as the cancel-then-place path', async () => {
    // 5 bps below cost: the recording falls that far within two minutes.
    const run = async (replace: boolean) => {
      const w = await world(replace, { enabled: true, extraBps: 5, limitBps: 100, stopLossBps: 0 });
      const stop = await w.enterToStop();
      for (let i = 0; i < 180 && w.sim.venue.pendingStops().length > 0; i++) await w.sim.replay.advanceBy(1_000);
      const filled = w.venueOrder(stop.clientOrderId)?.['status'];
      // The executor has not seen the fill yet: a new stop-loss asks it to move the stop it still thinks rests.
      w.moveStopLoss(10);
      await w.until(() => w.ex.order(stop.clientOrderId)?.status === 'filled' && w.ex.unfinishedOrders().length === 0, 'the stop\'s fill booked');
      return { w, filled, end: await w.outcome() };
    };
    const viaReplace = await run(true);
    const viaCancel = await run(false);

    expect(viaReplace.filled).toBe('FILLED');
    expect(viaReplace.w.requests.filter((r) => r.includes('cancelReplace'))).toEqual(['POST /api/v3/order/cancelReplace 400']);
    expect(viaReplace.end).toEqual(viaCancel.end);
    expect(viaReplace.end).toMatchObject({ soldLots: SELLABLE, sold: SELLABLE, stops: [], live: [] });
  }, 120_000);

  it('falls back when the old stop began filling (the replace cancels only a NEW stop): no oversell, the same end', async () => {
    const PART = 3_000;
    const run = async (replace: boolean) => {
      const w = await world(replace);
      const stop = await w.enterToStop();
      // The other account sells into every bid the book shows, so that our stop, once triggered, rests at its limit
      // price; then it buys PART lots from it: the stop is part filled, and the executor does not know yet.
      for (let i = 0; i < 5 && w.m.engine.previewTake('sell', 900_000_000 as Lots, stop.price, 'nobody').lots > 0; i++) {
        await marketCall(w, 'POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: '9000' });
      }
      (w.sim.venue as unknown as { triggerStops(m: SymbolMarket, price: Ticks): void }).triggerStops(w.m, stop.stopPrice!);
      const take = await marketCall(w, 'POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'IOC', quantity: '0.03', price: fmtPx(BTC, stop.price!) });
      const part = w.venueOrder(stop.clientOrderId);
      w.moveStopLoss(300);
      await w.until(async () => (await w.openStops()).some((o) => o.lots === SELLABLE - PART), 'a stop for what is left');
      return { w, take: take.body['executedQty'], part, end: await w.outcome() };
    };
    const viaReplace = await run(true);
    const viaCancel = await run(false);

    expect(viaReplace.take).toBe('0.03000000');
    expect(viaReplace.part).toMatchObject({ status: 'PARTIALLY_FILLED', executedQty: '0.03000000' });
    // cancelRestrictions ONLY_NEW: the part-filled stop's cancel is refused (-2022), and the cancel-then-place path
    // reads its trades before it sizes the next stop.
    expect(viaReplace.w.requests.filter((r) => r.includes('cancelReplace'))).toEqual(['POST /api/v3/order/cancelReplace 400']);
    expect(viaReplace.end).toEqual(viaCancel.end);
    // Sold: the part the old stop sold; the new stop locks exactly what is left, nothing more.
    expect(viaReplace.end).toMatchObject({ soldLots: PART, sold: PART, live: ['accepted'] });
    expect(viaReplace.end.stops).toEqual([expect.objectContaining({ lots: SELLABLE - PART, filledLots: 0 })]);
    expect(viaReplace.end.btc).toEqual({ free: 0n, locked: BigInt(SELLABLE - PART) * 10_000n });
    expect(viaReplace.w.ex.order(clientOrderIdFor('entry-1'))?.status).toBe('filled');
  }, 120_000);
  it('never rests a stop larger than the position when the old stop began filling and the account holds more of the asset', async () => {
    // The account's own BTC beside the position: an insufficient balance cannot catch a replacement sized on the position
    // before the old stop's fills, so only the ONLY_NEW restriction keeps it from resting (and selling what is not ours).
    const PART = 3_000;
    const w = await world(true, STOP_SETTINGS, undefined, { ...OURS, balances: { ...OURS.balances, BTC: '1' } });
    const stop = await w.enterToStop();
    const pending: number[] = [];
    w.sim.events.on('request', () => void pending.push(...w.sim.venue.pendingStops(w.account.id).map((s) => s.lots)));
    for (let i = 0; i < 5 && w.m.engine.previewTake('sell', 900_000_000 as Lots, stop.price, 'nobody').lots > 0; i++) {
      await marketCall(w, 'POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: '9000' });
    }
    (w.sim.venue as unknown as { triggerStops(m: SymbolMarket, price: Ticks): void }).triggerStops(w.m, stop.stopPrice!);
    await marketCall(w, 'POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'IOC', quantity: '0.03', price: fmtPx(BTC, stop.price!) });
    pending.length = 0;
    w.moveStopLoss(300);
    await w.until(async () => (await w.openStops()).some((o) => o.lots === SELLABLE - PART), 'a stop for what is left');

    expect(w.requests.filter((r) => r.includes('cancelReplace'))).toEqual(['POST /api/v3/order/cancelReplace 400']);
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((lots) => lots <= SELLABLE - PART)).toBe(true);
    expect((await w.openStops()).map((o) => o.lots)).toEqual([SELLABLE - PART]);
  }, 120_000);
  it.each([
    ['rate limited (429)', () => new VenueCallError('rateLimited', 'RATE_LIMITED', '429 Too Many Requests', 2_000), 0],
    // Binance's -1015 (HTTP 429), as classifyCcxtError classes it: a rate limit, not a refusal for good (a -1013 filter
    // failure is one: protective-stop-replace-refused.test.ts).
    ['not processed (-1015, too many new orders)', () => classifyCcxtError(new ccxt.DDoSProtection('binance 429 Too Many Requests {"code":-1015,"msg":"Too many new orders; current limit is 200000 orders per 1 DAY."}'), 0 as TsMs), 0],
    // As CcxtExecVenue's gate answers every call locally while a 429's Retry-After lasts: tried again only after it.
    ['rate limited for 20 s (the venue blocks every call meanwhile)', () => new VenueCallError('rateLimited', 'RATE_LIMITED', '429 Too Many Requests', 20_000), 20_000],
  ] as const)('keeps the old stop resting when the venue did not act on the replace (%s), and replaces it on a later check', async (_what, error, blockMs) => {
    const w = await world(true);
    const first = await w.enterToStop();
    const venue = w.venue as { replace?: ExecutionVenue['replace'] };
    const real = venue.replace!;
    let refusals = 0;
    const blockedUntil = w.clock.now() + blockMs;
    venue.replace = (...a) => {
      if (refusals === 0 || w.clock.now() < blockedUntil) {
        refusals++;
        return Promise.reject(error());
      }
      return real(...a);
    };
    w.watch(true);
    w.moveStopLoss(300);
    await w.until(() => refusals >= 1, 'the refused replace');
    // The cancel-then-place path is not taken: it would cancel the old stop while the same refusal stands.
    expect(w.codes()).toContain('PROTECTIVE_STOP_RETRY');
    await w.until(async () => (await w.openStops()).every((o) => o.clientOrderId !== first.clientOrderId), 'the replace tried again');
    w.watch(false);

    // One refused try, not one per check: a try the executor itself rejects (VENUE_RATE_LIMITED) brings a check at
    // once, which must wait for the backoff and the block rather than try again at once.
    expect(refusals).toBe(1);

    // The old stop rested until the replace went through: no DELETE, no moment without a stop.
    expect(w.requests.filter((r) => r.startsWith('DELETE /api/v3/order '))).toEqual([]);
    expect(w.requests.filter((r) => r.includes('cancelReplace'))).toEqual(['POST /api/v3/order/cancelReplace 200']);
    expect(w.gaps).toEqual([]);
    expect(w.venueOrder(first.clientOrderId)).toMatchObject({ status: 'CANCELED' });
    expect((await w.openStops())).toHaveLength(1);
    expect(w.codes()).toContain('PROTECTIVE_STOP_REPLACED');
  }, 60_000);
  it('when the venue cancels the old stop and refuses the new one (the price is through it), says so and ends as the cancel-then-place path', async () => {
    const run = async (replace: boolean) => {
      const w = await world(replace, { enabled: true, extraBps: 5, limitBps: 100, stopLossBps: 100 });
      const first = await w.enterToStop();
      // The stop rests 105 bps below cost; the market falls more than 5 bps below cost (within two minutes of the
      // recording), then the stop-loss goes to 0: the new stop, 5 bps below cost, is above the market.
      const cost = Number(first.stopPrice) / (1 - 105 / 10_000);
      for (let i = 0; i < 180 && Number(w.m.lastPrice()) >= cost * (1 - 6 / 10_000); i++) await w.sim.replay.advanceBy(1_000);
      w.moveStopLoss(0);
      await w.until(() => w.codes().includes('PROTECTIVE_STOP_THROUGH'), 'the refusal of the new stop');
      return { w, end: await w.outcome() };
    };
    const viaReplace = await run(true);
    const viaCancel = await run(false);

    expect(viaReplace.w.requests.filter((r) => r.includes('cancelReplace'))).toEqual(['POST /api/v3/order/cancelReplace 409']);
    expect(viaReplace.w.codes()).toContain('PROTECTIVE_STOP_REPLACE_REFUSED');
    expect(viaReplace.w.codes()).not.toContain('PROTECTIVE_STOP_REPLACED');
    expect(viaReplace.end).toEqual(viaCancel.end);
    expect(viaReplace.end).toMatchObject({ stops: [], live: [] });
    expect(viaReplace.w.ex.protectiveStops.figures()).toEqual(viaCancel.w.ex.protectiveStops.figures());
  }, 120_000);
  it('holds back only the stop a refused replace kept: the next position\'s stop is replaced at once', async () => {
    const w = await world(true);
    await w.enterToStop();
    const venue = w.venue as { replace?: ExecutionVenue['replace'] };
    const real = venue.replace!;
    let refusing = true;
    let refusals = 0;
    venue.replace = (...a) => (refusing ? (refusals++, Promise.reject(new VenueCallError('rateLimited', 'RATE_LIMITED', '429 Too Many Requests', 1_000))) : real(...a));
    // Refused on four backoffs in a row: the kept stop's gate is 40 s long by then.
    w.moveStopLoss(300);
    await w.until(() => refusals >= 4, 'four refused replaces');
    refusing = false;
    // The whole position sold (its stop cancelled first), then a new one bought: its stop is placed, then it grows.
    w.approve('exit-1', 'sell', SELLABLE as Lots);
    await w.until(async () => (await w.openStops()).length === 0 && w.ex.order(clientOrderIdFor('exit-1'))?.status === 'filled', 'the exit');
    w.approve('entry-2');
    await w.until(async () => (await w.openStops()).length === 1, 'the new position\'s stop');
    const [placed] = await w.openStops();
    const grownAt = w.clock.now();
    w.approve('entry-3');
    await w.until(async () => (await w.openStops()).some((o) => o.lots > placed!.lots), 'the grown position\'s stop');

    expect(w.clock.now() - grownAt).toBeLessThan(5_000);
    expect(w.requests.filter((r) => r.includes('cancelReplace'))).toEqual(['POST /api/v3/order/cancelReplace 200']);
  }, 120_000);
});
