// A protective stop's replacement (Binance cancelReplace) that the venue refuses for good before acting: the
// TradingExecutor over CcxtExecVenue over the unmodified ccxt binance client against the exchange simulator, whose
// NOTIONAL filter (minNotional 2000 USDT) is stricter than the engine's instrument (5 USDT), so that a stop-loss moved
// far enough asks for a stop the venue answers with a top-level -1013 "Filter failure: NOTIONAL". The old stop stays
// resting, the panel says refused with the venue's words, the same plan is not sent again over many check periods, and
// a new plan (the position grew) is tried at once. A refusal the venue did not act on (-1015, too many new orders,
// which ccxt's portfolio-margin map calls InvalidOrder) is a rate limit, still retried on the backoff as before.
// Such a refusal holds back only the replace of the stop it left resting: that stop cancelled by hand or for an exit,
// the position's stop is placed again. A refusal that may clear (-1013 MAX_NUM_ALGO_ORDERS, -2015) or through the
// price is tried again on its backoff, not held for good.
import ccxt from 'ccxt';
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import type { OrderRecord } from '../../../actors/trading-executor/logic.ts';
import { isRefusedForGood, STOP_RETRY_MAX_MS } from '../../../actors/trading-executor/protective-stop.ts';
import { DashboardMetrics } from '../../../engine/dashboard/metrics.ts';
import { DashboardViewModel } from '../../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { intentId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { classifyCcxtError } from '../../../engine/venues/ccxt-exec.ts';
import type { ExecutionVenue, VenueOrder } from '../../../engine/venues/venue.ts';
import { protectiveStopsHtml } from '../../../web/src/panels.ts';
import { BINANCE_BTC as BTC, simWithCcxtVenue } from '../../engine/venues/sim/ccxt-exec-rig.ts';
import { capturingLogger, STOP_SETTINGS, tempStore } from './helpers.ts';

const OURS = { apiKey: 'refusedExecKey01', secret: 'refused-exec-secret-01', balances: { USDT: '100000' } };
// 0.1 BTC less the simulator's 0.1 % buy fee taken in BTC.
const SELLABLE = 9_990;
// A stop 75.5 % below cost: for 0.0999 BTC (~6 200 USDT) its notional is ~1 500 USDT, under the simulator's 2 000. Its
// limit price stays above 0.2 times the average price, which PERCENT_PRICE_BY_SIDE would refuse first.
const FAR_STOP_LOSS_BPS = 7_500;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function world() {
  const { sim, venue } = await simWithCcxtVenue(OURS, { instruments: { 'BTC/USDT': { ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, minNotional: '2000' } } });
  cleanups.push(() => sim.close());
  const { store, cleanup } = tempStore(undefined, { syncCommits: true });
  cleanups.push(cleanup);
  const clock = new SimulatedClock(sim.clock.now());
  const bus = new Bus<EngineMsg>();
  const { logger, codes } = capturingLogger();
  const ex = new TradingExecutor({ bus, clock, venue, store, instruments: [BTC], log: logger, rng: () => 0.5, pollMs: 1_000, protectiveStop: STOP_SETTINGS });
  cleanups.push(() => ex.stop());
  await ex.start();

  const account = sim.venue.accounts.get(OURS.apiKey)!;
  const requests: string[] = [];
  sim.events.on('request', (r: { method: string; path: string; status: number }) => void requests.push(`${r.method} ${r.path} ${r.status}`));
  const settle = () => Promise.race([ex.idle(), new Promise((res) => setTimeout(res, 250))]);
  const until = async (done: () => boolean | Promise<boolean>, what: string): Promise<void> => {
    for (let i = 0; i < 60; i++) {
      await settle();
      if (!ex.busy && (await done())) return;
      clock.advance(1_000);
    }
    throw new Error(`not reached: ${what}`);
  };
  // Engine time passing in `stepMs` steps, the executor's timers (its stop checks' backoff) firing on the way.
  const pass = async (steps: number, stepMs: number): Promise<void> => {
    for (let i = 0; i < steps; i++) {
      clock.advance(stepMs);
      await settle();
    }
  };
  const openStops = async (): Promise<VenueOrder[]> => (await venue.fetchOpenOrders('BTC/USDT')).filter((o) => o.orderType === 'stopLossLimit');
  // The first entry (0.1 BTC) and the stop it leaves resting.
  const firstStop = async (): Promise<VenueOrder | undefined> => {
    approve('entry-1', 10_000);
    await until(async () => (await openStops()).length === 1, 'a resting stop');
    return (await openStops())[0];
  };
  const approve = (id: string, lots: number) => bus.publish({
    type: 'risk.orderApproved', ts: clock.now(),
    intent: { id: intentId(id), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: lots as Lots, timeInForce: 'GTC', reduceOnly: false, reason: 'test', ts: 0 },
  });
  const moveStopLoss = (stopLossBps: number) => bus.publish({ type: 'risk.limitsChanged', limits: { stopLossBps } as unknown as RiskLimits, ts: clock.now() });
  const venueOrder = (cid: string) => sim.venue.allOrders(account, 'BTCUSDT', 1_000).find((o) => o['clientOrderId'] === cid);
  const replaces = () => requests.filter((r) => r.includes('cancelReplace'));
  const row = () => ex.protectiveStops.snapshot(['BTC/USDT'])[0];
  // The next `times` replaces refused before the venue acts, as classifyCcxtError classes ccxt's `Cls` with message
  // `msg`; the ones after them reach the simulator. Returns how many replaces were asked for.
  const refuseNextReplace = (msg: string, Cls: new (m: string) => Error, times = 1): (() => number) => {
    const v = venue as { replace?: ExecutionVenue['replace'] };
    const real = v.replace!;
    let n = 0;
    v.replace = (...a) => (n++ >= times ? real(...a) : Promise.reject(classifyCcxtError(new Cls(msg), clock.now())));
    return () => n;
  };
  const panelOf = (r: ReturnType<typeof row>) =>
    protectiveStopsHtml({ enabled: true, figures: { ...ex.protectiveStops.figures(), symbols: [JSON.parse(JSON.stringify(r)) as NonNullable<typeof r>] } }).html;
  return { ex, venue, clock, codes, requests, until, pass, openStops, firstStop, approve, moveStopLoss, venueOrder, replaces, row, sim, account, bus, refuseNextReplace, panelOf };
}

const LOT_SIZE = 'binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}';
const MAX_ALGO = 'binance {"code":-1013,"msg":"Filter failure: MAX_NUM_ALGO_ORDERS"}';
const AUTH = 'binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}';
const NO_CANCEL_REPLACE = 'binance {"code":-2010,"msg":"Order cancel-replace is not supported for this symbol."}';
const PERCENT_BY_SIDE = 'binance {"code":-1013,"msg":"Filter failure: PERCENT_PRICE_BY_SIDE"}';
const EXCHANGE_MAX_ALGO = 'binance {"code":-1013,"msg":"Filter failure: EXCHANGE_MAX_NUM_ALGO_ORDERS"}';

describe('protective stop replacement refused for good (cancelReplace)', () => {
  it('keeps the old stop resting, shows the refusal, never resends the refused plan, and tries a new plan at once', async () => {
    const w = await world();
    const first = await w.firstStop();

    w.moveStopLoss(FAR_STOP_LOSS_BPS);
    await w.until(() => w.replaces().length > 0, 'the refused replace');
    // Many check periods (the old backoff retried at 5 s, 10 s, ... up to 5 min), and new stop-loss announcements of
    // the same value, each of which brings a check of the stop.
    await w.pass(40, 15_000);
    for (let i = 0; i < 3; i++) {
      w.moveStopLoss(FAR_STOP_LOSS_BPS);
      await w.pass(2, 5_000);
    }
    const refusedRow = w.row();
    const onTheWire = JSON.parse(JSON.stringify(refusedRow)) as typeof refusedRow;
    const panel = protectiveStopsHtml({ enabled: true, figures: { ...w.ex.protectiveStops.figures(), symbols: [onTheWire!] } });
    const stopsWhileRefused = await w.openStops();
    const figuresWhileRefused = w.ex.protectiveStops.figures();
    const replacesWhileRefused = w.replaces();

    // A new plan: the position grows (0.3 BTC more), its stop's notional is over the venue's minimum.
    w.approve('entry-2', 30_000);
    await w.until(async () => (await w.openStops()).some((o) => o.lots === SELLABLE + 29_970), 'the grown position\'s stop');

    expect(replacesWhileRefused).toEqual(['POST /api/v3/order/cancelReplace 400']);
    expect(w.requests.filter((r) => r.startsWith('DELETE /api/v3/order '))).toEqual([]);
    expect(stopsWhileRefused.map((o) => o.clientOrderId)).toEqual([first!.clientOrderId]);
    expect(w.codes().filter((c) => c === 'PROTECTIVE_STOP_REPLACE_REFUSED')).toHaveLength(1);
    expect(refusedRow).toMatchObject({
      state: 'refused', stop: { clientOrderId: first!.clientOrderId, status: 'accepted' },
      refusal: { through: false, message: expect.stringContaining('Filter failure: NOTIONAL') },
    });
    expect(panel.html).toContain('<span class="pill bad">refused</span>');
    expect(panel.html).toContain('not sent again until the position or the stop-loss changes');
    expect(panel.html).toContain('Filter failure: NOTIONAL');
    // The old stop rests (the gauge says 1), too small: the refusal count is what tells.
    expect(figuresWhileRefused).toMatchObject({ resting: 1, refused: 1 });
    const metrics = new DashboardMetrics({ bus: new Bus<EngineMsg>(), view: new DashboardViewModel({ bus: new Bus<EngineMsg>() }), wsClients: () => 0, protectiveStops: () => figuresWhileRefused });
    const lines = (await metrics.text()).split('\n');
    metrics.close();
    expect(lines).toContain('cobalt_protective_stops_total{event="refused"} 1');
    expect(lines).toContain('cobalt_protective_stops_resting 1');
    // The new plan went out at once as one replace, which the venue took.
    expect(w.replaces()).toEqual(['POST /api/v3/order/cancelReplace 400', 'POST /api/v3/order/cancelReplace 200']);
    expect(w.venueOrder(first!.clientOrderId)).toMatchObject({ status: 'CANCELED' });
    expect(await w.openStops()).toHaveLength(1);
    expect(w.row()).toMatchObject({ state: 'resting' });
    expect(w.row()?.refusal).toBeUndefined();
  }, 120_000);

  it('still retries on the backoff a replace the venue did not act on (-1015, too many new orders, as ccxt classes it)', async () => {
    const w = await world();
    const first = await w.firstStop();
    const venue = w.venue as { replace?: ExecutionVenue['replace'] };
    const real = venue.replace!;
    let refusals = 0;
    venue.replace = (...a) => {
      if (refusals > 0) return real(...a);
      refusals++;
      const tooMany = new ccxt.InvalidOrder('binance {"code":-1015,"msg":"Too many new orders; current limit is 200000 orders per 1 DAY."}');
      return Promise.reject(classifyCcxtError(tooMany, w.clock.now()));
    };
    // A stop-loss the venue's filters take: only the -1015 stands in the way.
    w.moveStopLoss(300);
    await w.until(() => refusals === 1, 'the refused replace');
    await w.until(async () => (await w.openStops()).every((o) => o.clientOrderId !== first!.clientOrderId), 'the replace tried again');

    expect(w.codes()).toContain('PROTECTIVE_STOP_RETRY');
    expect(w.codes()).not.toContain('PROTECTIVE_STOP_REPLACE_REFUSED');
    expect(w.replaces()).toEqual(['POST /api/v3/order/cancelReplace 200']);
    expect(w.requests.filter((r) => r.startsWith('DELETE /api/v3/order '))).toEqual([]);
    expect(await w.openStops()).toHaveLength(1);
    expect(w.row()).toMatchObject({ state: 'resting' });
  }, 120_000);
});

describe('a replacement refused before acting holds back only the replace of the stop it kept', () => {
  // A stop-loss whose stop the simulator's filters take: only the injected refusal stands in the way.
  const MOVED_STOP_LOSS_BPS = 300;

  it('places the stop again once the kept stop is cancelled at the venue by hand (B1)', async () => {
    const w = await world();
    const first = await w.firstStop();
    const asked = w.refuseNextReplace(LOT_SIZE, ccxt.BadRequest);
    w.moveStopLoss(MOVED_STOP_LOSS_BPS);
    await w.until(() => asked() === 1 && w.row()?.state === 'refused', 'the replace refused for good');
    const refusedRow = w.row();

    w.sim.venue.cancelOrder(w.account, { symbol: 'BTCUSDT', origClientOrderId: first!.clientOrderId });
    await w.pass(60, 15_000);

    expect(refusedRow).toMatchObject({ stop: { clientOrderId: first!.clientOrderId }, refusal: { retryAt: Number.POSITIVE_INFINITY } });
    const stops = await w.openStops();
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({ lots: SELLABLE });
    expect(stops[0]!.clientOrderId).not.toBe(first!.clientOrderId);
    expect(w.row()).toMatchObject({ state: 'resting', stop: { clientOrderId: stops[0]!.clientOrderId } });
    expect(w.row()?.refusal).toBeUndefined();
  }, 120_000);

  it('places the stop again after an exit sell, for which the kept stop was cancelled, is withdrawn unfilled (B2)', async () => {
    const w = await world();
    await w.firstStop();
    const asked = w.refuseNextReplace(LOT_SIZE, ccxt.BadRequest);
    w.moveStopLoss(MOVED_STOP_LOSS_BPS);
    await w.until(() => asked() === 1 && w.row()?.state === 'refused', 'the replace refused for good');
    // A take-profit far above the market: the stop is cancelled to free the BTC it locks.
    w.bus.publish({
      type: 'risk.orderApproved', ts: w.clock.now(),
      intent: { id: intentId('tp-1'), symbol: 'BTC/USDT', side: 'sell', orderType: 'limit', lots: 5_000 as Lots, price: 9_000_000 as Ticks, timeInForce: 'GTC', reduceOnly: false, reason: 'take profit', ts: 0 },
    });
    const openOrders = () => w.venue.fetchOpenOrders('BTC/USDT');
    await w.until(async () => (await w.openStops()).length === 0 && (await openOrders()).length === 1, 'the stop cleared, the take-profit resting');
    const [tp] = await openOrders();
    w.bus.publish({ type: 'exec.cancelOrder', clientOrderId: tp!.clientOrderId, reason: 'take-profit withdrawn' });
    await w.pass(60, 15_000);

    expect((await openOrders()).map((o) => o.clientOrderId)).not.toContain(tp!.clientOrderId);
    const stops = await w.openStops();
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({ lots: SELLABLE });
    expect(w.row()).toMatchObject({ state: 'resting' });
  }, 120_000);

  // Re-review: a refusal of the replace request itself (cancel-replace not allowed for the symbol; an open-order limit
  // the old stop still counts in, Binance checking filters and order count before the cancel), sent again as a
  // replace, was refused for ever and the grown position's stop left at a quarter of it; then, retried by cancel then
  // place only at the same plan's backoff, a position growing every few seconds kept its first stop for minutes: it
  // now bars replaces on the symbol, the stop cancelled then placed at once, for every later plan too. Any other
  // refusal (the account, a price band) is retried as a replace, the old stop resting: a cancel then a placement the
  // same refusal bars left the position with no stop (final re-review).
  // An open-order limit clears (orders close): its bar lasts 15 min, "not supported" an hour (closing reviews: an
  // hour's bar made every resize a gap long after a passing limit; ending it at the next accepted stop cost a refused
  // replace on every resize under a standing limit).
  for (const [what, msg, Cls, barMin] of [
    ['-1013 MAX_NUM_ALGO_ORDERS', MAX_ALGO, ccxt.InvalidOrder, 15],
    ['-1013 EXCHANGE_MAX_NUM_ALGO_ORDERS', EXCHANGE_MAX_ALGO, ccxt.InvalidOrder, 15],
    ['-2010 cancel-replace not supported', NO_CANCEL_REPLACE, ccxt.InvalidOrder, 60],
  ] as const) {
    it(`cancels then places at once, and for ${barMin} min, when the replace request itself is refused (${what}) (B3)`, async () => {
      const w = await world();
      const first = await w.firstStop();
      // Refused once: the next plans within the bar still go by cancel then place, the first after it as a replace.
      const asked = w.refuseNextReplace(msg, Cls, 1);
      w.approve('entry-2', 30_000);
      await w.until(async () => (await w.openStops()).some((o) => o.lots === SELLABLE + 29_970), 'the grown position\'s stop');
      w.approve('entry-3', 10_000);
      await w.until(async () => (await w.openStops()).some((o) => o.lots === SELLABLE + 39_960), 'the position\'s stop after a third buy');
      const withinBar = asked();
      const deletesWithinBar = w.requests.filter((r) => r.startsWith('DELETE /api/v3/order ')).length;
      // A limit's bar ends after 15 min: the next plan is a replace again ("not supported" is not waited out here).
      if (barMin === 15) {
        await w.pass(barMin * 4 + 1, 15_000);
        w.approve('entry-4', 10_000);
        await w.until(async () => (await w.openStops()).some((o) => o.lots === SELLABLE + 49_950), 'the position\'s stop after the bar');
      }

      expect([withinBar, deletesWithinBar]).toEqual([1, 2]);
      expect(w.codes()).toContain('PROTECTIVE_STOP_REPLACE_REFUSED');
      if (barMin === 15) {
        expect(asked()).toBeGreaterThan(1);
        expect(w.replaces().length).toBeGreaterThan(0);
        expect(w.replaces().every((r) => r === 'POST /api/v3/order/cancelReplace 200')).toBe(true);
        expect(w.requests.filter((r) => r.startsWith('DELETE /api/v3/order '))).toHaveLength(2);
      } else expect(w.replaces()).toEqual([]);
      expect(await w.openStops()).toHaveLength(1);
      expect(w.venueOrder(first!.clientOrderId)).toMatchObject({ status: 'CANCELED' });
      expect(w.row()).toMatchObject({ state: 'resting' });
    }, 120_000);
  }

  for (const [what, msg, Cls] of [
    ['-2015 permissions', AUTH, ccxt.AuthenticationError],
    ['-1013 PERCENT_PRICE_BY_SIDE', PERCENT_BY_SIDE, ccxt.InvalidOrder],
  ] as const) {
    it(`tries again on the backoff as a replace a replace refused by a refusal that may clear (${what}) (B3)`, async () => {
      const w = await world();
      const first = await w.firstStop();
      const asked = w.refuseNextReplace(msg, Cls, 1);
      w.approve('entry-2', 30_000);
      await w.until(() => asked() === 1 && w.row()?.state === 'refused', 'the grown position\'s replace refused');
      const refusedRow = w.row();
      const panel = w.panelOf(refusedRow);
      const stopsWhileRefused = await w.openStops();
      await w.until(async () => (await w.openStops()).some((o) => o.lots === SELLABLE + 29_970), 'the grown position\'s stop');

      expect(refusedRow).toMatchObject({ state: 'refused', stop: { clientOrderId: first!.clientOrderId }, refusal: { through: false } });
      expect(Number.isFinite(refusedRow?.refusal?.retryAt)).toBe(true);
      expect(panel).toContain('the venue refused the replacement of this stop');
      expect(panel).toContain('it still rests; tried again at');
      expect(stopsWhileRefused.map((o) => o.clientOrderId)).toEqual([first!.clientOrderId]);
      expect(asked()).toBe(2);
      expect(w.requests.filter((r) => r.startsWith('DELETE /api/v3/order '))).toEqual([]);
      expect(w.replaces()).toEqual(['POST /api/v3/order/cancelReplace 200']);
      expect(await w.openStops()).toHaveLength(1);
      expect(w.venueOrder(first!.clientOrderId)).toMatchObject({ status: 'CANCELED' });
      expect(w.row()).toMatchObject({ state: 'resting' });
      expect(w.row()?.refusal).toBeUndefined();
    }, 120_000);
  }

  it('keeps the old stop resting while a refusal that would bar a placement too lasts (-1013 market closed)', async () => {
    const w = await world();
    const first = await w.firstStop();
    const asked = w.refuseNextReplace('binance {"code":-1013,"msg":"Market is closed."}', ccxt.InvalidOrder, Number.POSITIVE_INFINITY);
    w.approve('entry-2', 30_000);
    await w.until(() => asked() === 1 && w.row()?.state === 'refused', 'the grown position\'s replace refused');
    // 30 min of engine time: the backoff reaches 5 min; every retry is a replace.
    await w.pass(120, 15_000);

    expect(asked()).toBeGreaterThan(3);
    expect(w.requests.filter((r) => r.startsWith('DELETE /api/v3/order '))).toEqual([]);
    expect((await w.openStops()).map((o) => o.clientOrderId)).toEqual([first!.clientOrderId]);
    expect(w.row()).toMatchObject({ state: 'refused', stop: { clientOrderId: first!.clientOrderId } });
  }, 120_000);

  it('tries a replacement through the price again every 5 min, the old stop resting meanwhile', async () => {
    const w = await world();
    const first = await w.firstStop();
    const asked = w.refuseNextReplace('binance Stop price would trigger immediately.', ccxt.OrderImmediatelyFillable);
    w.moveStopLoss(MOVED_STOP_LOSS_BPS);
    await w.until(() => asked() === 1 && w.row()?.state === 'refused', 'the replace refused through the price');
    const refusedAt = w.clock.now();
    const refusedRow = w.row();
    const panel = w.panelOf(refusedRow);
    await w.pass(25, 15_000);

    expect(refusedRow).toMatchObject({ stop: { clientOrderId: first!.clientOrderId }, refusal: { through: true } });
    expect(refusedRow!.refusal!.retryAt).toBe(refusedAt + STOP_RETRY_MAX_MS);
    expect(panel).toContain('the price is through the replacement of this stop');
    expect(w.codes()).toContain('PROTECTIVE_STOP_THROUGH');
    expect(w.replaces()).toEqual(['POST /api/v3/order/cancelReplace 200']);
    expect(w.venueOrder(first!.clientOrderId)).toMatchObject({ status: 'CANCELED' });
    expect(w.row()).toMatchObject({ state: 'resting' });
  }, 120_000);

  it('holds for good only refusals of the order\'s shape', () => {
    const refusedWith = (reason: string) => ({ reason }) as OrderRecord;
    const forGood = [
      'VENUE_REJECTED: binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}',
      'VENUE_REJECTED: binance {"code":-1013,"msg":"Filter failure: MIN_NOTIONAL"}',
      'VENUE_REJECTED: binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}',
      'VENUE_REJECTED: binance {"code":-1013,"msg":"Filter failure: PRICE_FILTER"}',
      'VENUE_REJECTED: binance {"code":-1111,"msg":"Precision is over the maximum defined for this asset."}',
      'INVALID_ORDER: binance amount of BTC/USDT must be greater than minimum amount precision of 0.00001',
    ];
    const mayClear = [
      MAX_ALGO, 'binance {"code":-1013,"msg":"Filter failure: MAX_NUM_ORDERS"}', 'binance {"code":-2010,"msg":"Filter failure: MAX_POSITION"}',
      `AUTH_FAILED: ${AUTH}`, 'INSUFFICIENT_FUNDS: binance Account has insufficient balance for requested action.',
      'VENUE_REJECTED: binance {"code":-1013,"msg":"Market is closed."}', 'INVALID_ORDER: binance Stop price would trigger immediately.',
      'INVALID_ORDER: binance Filter failure: PERCENT_PRICE_BY_SIDE', 'binance {"code":-1013,"msg":"Filter failure: PERCENT_PRICE"}',
    ];
    expect(forGood.filter((m) => !isRefusedForGood(refusedWith(m)))).toEqual([]);
    expect(mayClear.filter((m) => isRefusedForGood(refusedWith(m)))).toEqual([]);
  });
});
