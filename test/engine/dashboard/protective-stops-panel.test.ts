// The protective-stops panel's data: the risk topic carries, per symbol with a position, what protects it at the venue
// (the executor's ProtectiveStops.snapshot through app/dashboard-providers.ts), with exact decimals from its ticks and
// lots. A real TradingExecutor on the PollVenue stub (a venue that pushes nothing, as Binance over REST): a stop
// resting, refused by the venue (code, next try), refused through its price (retried every 5 min), stale (a replace
// whose cancel failed) and unresolved (a cancelled stop's trades unread); off in one line without the provider;
// unverified while a restarted executor cannot reconcile; a stop sent without an answer counted open, not resting.
import { afterEach, describe, expect, it } from 'vitest';
import { protectiveStopFigures } from '../../../app/dashboard-providers.ts';
import type { TradingExecutorOptions } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { DashboardViewModel, type ProtectiveStopsView, type Topic } from '../../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { VenueCallError, type SubmitResult, type VenueOrderRequest } from '../../../engine/venues/venue.ts';
import { drive, stopRig, type Cleanups } from '../../actors/trading-executor/helpers.ts';

// stopRig buys 0.1 BTC at 61 837.63: the stop at cost less 2.5 %, floored to the tick (6 183.763 × 0.975 =
// 6 029.168925 for 0.1 BTC: 60 291.68), its limit 1 % below, floored (59 688.76).
const STOP = { stopPrice: '60291.68', price: '59688.76', qty: '0.10000', filledQty: '0.00000' };
const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function rig(extra: Partial<TradingExecutorOptions> = {}) {
  const r = stopRig(cleanups, extra);
  const { ex, venue, rec } = r;
  const view = new DashboardViewModel({ bus: rec.bus, providers: { protectiveStops: () => protectiveStopFigures(ex) } });
  const changed: Topic[] = [];
  view.onChange = (t) => changed.push(t);
  view.start();
  cleanups.push(async () => view.stop());
  // `hold`: a stop's submission gets no answer until it settles.
  const stopAnswer: { refuse: SubmitResult | undefined; hold?: Promise<void> } = { refuse: undefined };
  const submit = venue.submit.bind(venue);
  venue.submit = async (req: VenueOrderRequest) => {
    if (req.orderType !== 'stopLossLimit') return submit(req);
    await stopAnswer.hold;
    return stopAnswer.refuse ?? submit(req);
  };
  const panel = () => (view.build('risk', new Map()) as { protectiveStops: ProtectiveStopsView }).protectiveStops;
  const rejectedStop = () => ex.allOrders().find((o) => o.clientOrderId.startsWith('pstop-') && o.status === 'rejected');
  return { ...r, view, changed, stopAnswer, panel, rejectedStop };
}

describe('dashboard view model: protective stops', () => {
  it('says they are off without a provider, and that no executor runs while the provider has none', () => {
    const bus = new Bus<EngineMsg>();
    const off = new DashboardViewModel({ bus });
    const noExecutor = new DashboardViewModel({ bus, providers: { protectiveStops: () => undefined } });
    const failing = new DashboardViewModel({ bus, providers: { protectiveStops: () => { throw new Error('executor restarting'); } } });

    expect((off.build('risk', new Map()) as { protectiveStops: unknown }).protectiveStops).toEqual({ enabled: false });
    expect((noExecutor.build('risk', new Map()) as { protectiveStops: unknown }).protectiveStops).toEqual({ enabled: true, figures: null });
    expect((failing.build('risk', new Map()) as { protectiveStops: unknown }).protectiveStops)
      .toEqual({ enabled: true, figures: null, error: 'executor restarting' });
  });

  it('shows the stop resting at the venue with its stop and limit prices and size as decimals, and pushes the risk topic on its events', async () => {
    const r = rig();
    await r.ex.start();
    await r.buy('entry-1', 10_000);
    await drive(r.clock, () => r.stops().length === 1 && r.ex.order(r.stops()[0]!.clientOrderId)?.status === 'accepted');
    const cid = r.stops()[0]!.clientOrderId;

    expect(r.panel()).toEqual({
      enabled: true,
      figures: {
        placed: 1, cancelled: 0, skippedDust: 0, resting: 1,
        symbols: [{ symbol: 'BTC/USDT', positionQty: '0.10000', state: 'resting', stop: { clientOrderId: cid, status: 'accepted', ...STOP } }],
      },
    });
    expect(r.changed).toContain('risk');
  });

  it('shows a stop the venue refused: no stop, the venue\'s code and the time of the next try', async () => {
    const r = rig();
    r.stopAnswer.refuse = { status: 'rejected', code: 'VENUE_REJECTED', message: 'Account has insufficient balance for requested action.' };
    await r.ex.start();
    await r.buy('entry-1', 10_000);
    await drive(r.clock, () => r.rejectedStop() !== undefined);
    await r.settle();
    const refusedAt = r.rejectedStop()!.updatedAt;

    expect(r.panel()).toMatchObject({
      enabled: true,
      figures: {
        resting: 0,
        symbols: [{
          symbol: 'BTC/USDT', positionQty: '0.10000', state: 'refused',
          refusal: { code: 'VENUE_REJECTED', through: false, retryAt: refusedAt + 5_000, message: 'Account has insufficient balance for requested action.' },
        }],
      },
    });
    const panel = r.panel();
    expect(panel.enabled && panel.figures?.symbols?.[0]).not.toHaveProperty('stop');
  });

  it('shows a stop refused because the price is through it, tried again in 5 min', async () => {
    const r = rig();
    r.stopAnswer.refuse = { status: 'rejected', code: 'INVALID_ORDER', message: 'binance Stop price would trigger immediately.' };
    await r.ex.start();
    await r.buy('entry-1', 10_000);
    await drive(r.clock, () => r.rejectedStop() !== undefined);
    await r.settle();
    const refusedAt = r.rejectedStop()!.updatedAt;

    expect(r.panel()).toMatchObject({
      figures: { symbols: [{ state: 'through', refusal: { code: 'INVALID_ORDER', through: true, retryAt: refusedAt + 300_000 } }] },
    });
  });

  it('shows a stop that no longer fits and could not be cancelled as stale, beside the larger position', async () => {
    const r = rig();
    await r.ex.start();
    await r.buy('entry-1', 10_000);
    await drive(r.clock, () => r.stops().length === 1 && r.ex.order(r.stops()[0]!.clientOrderId)?.status === 'accepted');
    const old = r.stops()[0]!.clientOrderId;
    r.venue.cancel = () => Promise.reject(new VenueCallError('unknown', 'EXCHANGE_UNAVAILABLE', 'cancel answered 503'));
    await r.buy('entry-2', 10_000);
    await drive(r.clock, () => r.ex.position('BTC/USDT')?.netLots === 20_000);
    await r.settle();

    expect(r.panel()).toMatchObject({
      figures: {
        resting: 1,
        symbols: [{ symbol: 'BTC/USDT', positionQty: '0.20000', state: 'stale', stale: [{ clientOrderId: old, status: 'accepted', ...STOP }] }],
      },
    });
  });

  it('shows a cancelled stop whose trades cannot be read as unresolved, with what it may have sold', async () => {
    const r = rig();
    const fetchMyTrades = r.venue.fetchMyTrades.bind(r.venue);
    let tradesDown = false;
    r.venue.fetchMyTrades = (...a) => (tradesDown ? Promise.reject(new VenueCallError('unknown', 'EXCHANGE_UNAVAILABLE', 'myTrades answered 503')) : fetchMyTrades(...a));
    await r.ex.start();
    await r.buy('entry-1', 10_000);
    await drive(r.clock, () => r.stops().length === 1 && r.ex.order(r.stops()[0]!.clientOrderId)?.status === 'accepted');
    const stop = r.stops()[0]!.clientOrderId;
    tradesDown = true;
    r.exit('risk-exit-1', 10_000);
    await drive(r.clock, () => r.ex.order(clientOrderIdFor('risk-exit-1'))?.status === 'rejected');
    await r.settle();

    expect(r.panel()).toMatchObject({
      figures: {
        resting: 0,
        symbols: [{ symbol: 'BTC/USDT', positionQty: '0.10000', state: 'unresolved', unresolved: { clientOrderIds: [stop], qty: '0.10000' } }],
      },
    });
  });

  it('shows the last run\'s stop as unverified, not resting, while a restarted executor cannot reconcile with the venue', async () => {
    const r = rig();
    await r.ex.start();
    await r.buy('entry-1', 10_000);
    await drive(r.clock, () => r.stops().length === 1 && r.ex.order(r.stops()[0]!.clientOrderId)?.status === 'accepted');
    await r.settle();
    const cid = r.stops()[0]!.clientOrderId;
    r.ex.stop();
    // While the engine is down the venue cancels the stop, and its open orders cannot be read at the restart.
    r.venue.orders = r.venue.orders.map((o) => (o.clientOrderId === cid ? { ...o, status: 'cancelled' } : o));
    r.venue.fetchOpenOrders = () => Promise.reject(new VenueCallError('unknown', 'EXCHANGE_UNAVAILABLE', 'openOrders answered 503'));
    const next = rig({ store: r.store, venue: r.venue, clock: r.clock });
    void next.ex.start().catch(() => undefined);
    await r.run(30);

    expect(next.panel()).toMatchObject({
      figures: { symbols: [{ symbol: 'BTC/USDT', positionQty: '0.10000', state: 'unverified', stop: { clientOrderId: cid, status: 'accepted' } }] },
    });
  });

  it('counts a stop sent without an answer yet as open, not resting, until the venue accepts it', async () => {
    const r = rig();
    let answer = (): void => undefined;
    r.stopAnswer.hold = new Promise<void>((resolve) => { answer = resolve; });
    await r.ex.start();
    await r.buy('entry-1', 10_000);
    const sent = () => r.ex.allOrders().find((o) => o.clientOrderId.startsWith('pstop-') && o.status === 'submitted');
    await drive(r.clock, () => sent() !== undefined);

    expect(r.panel()).toMatchObject({ figures: { resting: 0, open: 1, symbols: [{ state: 'pending' }] } });
    answer();
    await drive(r.clock, () => r.stops().length === 1 && r.ex.order(r.stops()[0]!.clientOrderId)?.status === 'accepted');
    await r.settle();
    const panel = r.panel();
    expect(panel).toMatchObject({ figures: { resting: 1, symbols: [{ state: 'resting' }] } });
    expect(panel.enabled && panel.figures).not.toHaveProperty('open');
  });
});
