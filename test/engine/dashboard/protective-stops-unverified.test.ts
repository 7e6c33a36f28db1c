// The protective stops' figures while the executor has not verified them: after a restart, until its reconciliation
// with the venue succeeds, the stops the last run stored are only known as they were then (the venue may have cancelled
// or filled them since). The rows say `unverified`; the figures, the panel's head and /metrics must agree: none counted
// resting (cobalt_protective_stops_resting 0), `unverified` n (cobalt_protective_stops_unverified n). Once reconciled,
// the figures are the usual ones again. A real TradingExecutor on the PollVenue stub (a venue that pushes nothing).
import { afterEach, describe, expect, it } from 'vitest';
import { protectiveStopFigures } from '../../../app/dashboard-providers.ts';
import type { TradingExecutorOptions } from '../../../actors/trading-executor/executor.ts';
import { DashboardMetrics } from '../../../engine/dashboard/metrics.ts';
import { DashboardViewModel, type ProtectiveStopsView } from '../../../engine/dashboard/view-model.ts';
import { VenueCallError, type SubmitResult, type VenueOrderRequest } from '../../../engine/venues/venue.ts';
import { protectiveStopsHtml } from '../../../web/src/panels.ts';
import { drive, stopRig, storeWritesDone, type Cleanups } from '../../actors/trading-executor/helpers.ts';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

// The executor rig of the stop tests, with the dashboard's view model and /metrics reading its figures.
function rig(extra: Partial<TradingExecutorOptions> = {}) {
  const r = stopRig(cleanups, extra);
  const view = new DashboardViewModel({ bus: r.rec.bus, providers: { protectiveStops: () => protectiveStopFigures(r.ex) } });
  const metrics = new DashboardMetrics({ bus: r.rec.bus, view, wsClients: () => 0, protectiveStops: () => protectiveStopFigures(r.ex) });
  cleanups.push(async () => metrics.close());
  const panel = () => (view.build('risk', new Map()) as { protectiveStops: ProtectiveStopsView }).protectiveStops;
  const gauges = async () => (await metrics.text()).split('\n').filter((l) => /^cobalt_protective_stops_(resting|unverified) /.test(l)).sort();
  return { ...r, panel, gauges };
}

type Rig = ReturnType<typeof rig>;

// A first run that buys and so places a stop; a stop's submission waits on `lastAnswer.hold` (when set) for its answer.
async function firstRun(lastAnswer: { hold?: Promise<void> } = {}) {
  const first = rig();
  const submit = first.venue.submit.bind(first.venue);
  first.venue.submit = async (req: VenueOrderRequest): Promise<SubmitResult> => {
    if (req.orderType === 'stopLossLimit') await lastAnswer.hold;
    return submit(req);
  };
  await first.ex.start();
  await first.buy('entry-1', 10_000);
  return first;
}

// Stops `first` and starts another executor on its store and venue, whose start-up reconciliation fails (the venue's
// open orders cannot be read) until `venueBack()`.
async function restart(first: Rig) {
  first.ex.stop();
  const fetchOpenOrders = first.venue.fetchOpenOrders.bind(first.venue);
  let down = true;
  first.venue.fetchOpenOrders = (...a) => (down ? Promise.reject(new VenueCallError('unknown', 'EXCHANGE_UNAVAILABLE', 'openOrders answered 503')) : fetchOpenOrders(...a));
  const next = rig({ store: first.store, venue: first.venue, clock: first.clock });
  void next.ex.start().catch(() => undefined);
  await drive(first.clock, () => next.ex.state === 'reconciling');
  // Several failed tries on the executor's backoff: still unverified after them.
  for (let i = 0; i < 30; i++) {
    first.clock.advance(1_000);
    await storeWritesDone();
  }
  return { next, venueBack: () => { down = false; } };
}

describe('protective stops: figures while the executor has not verified them', () => {
  it('counts the last run\'s resting stop unverified, not resting, in the figures, the head and the gauges until reconciliation succeeds', async () => {
    const first = await firstRun();
    await drive(first.clock, () => first.stops().length === 1 && first.ex.order(first.stops()[0]!.clientOrderId)?.status === 'accepted');
    await first.settle();
    expect(first.panel()).toMatchObject({ figures: { resting: 1 } });

    const { next, venueBack } = await restart(first);
    expect(next.ex.state).toBe('reconciling');

    const unverified = next.panel();
    expect(unverified).toMatchObject({ enabled: true, figures: { resting: 0, unverified: 1, symbols: [{ symbol: 'BTC/USDT', state: 'unverified' }] } });
    expect(unverified.enabled && unverified.figures).not.toHaveProperty('open');
    expect(protectiveStopsHtml(unverified).meta).toBe('unverified 1: not yet checked at the venue · placed 0 · cancelled 0');
    expect(await next.gauges()).toEqual(['cobalt_protective_stops_resting 0', 'cobalt_protective_stops_unverified 1']);

    venueBack();
    await drive(first.clock, () => next.ex.state === 'live');
    await next.settle();
    const verified = next.panel();
    expect(verified).toMatchObject({ enabled: true, figures: { resting: 1, symbols: [{ symbol: 'BTC/USDT', state: 'resting' }] } });
    expect(verified.enabled && verified.figures).not.toHaveProperty('unverified');
    expect(protectiveStopsHtml(verified).meta).toBe('resting 1 · placed 0 · cancelled 0');
    expect(await next.gauges()).toEqual(['cobalt_protective_stops_resting 1', 'cobalt_protective_stops_unverified 0']);
  });

  it('counts the last run\'s stop sent without an answer unverified too, not open', async () => {
    const hold = new Promise<void>(() => undefined);
    const first = await firstRun({ hold });
    await drive(first.clock, () => first.ex.allOrders().some((o) => o.clientOrderId.startsWith('pstop-') && o.status === 'submitted'));
    expect(first.panel()).toMatchObject({ figures: { resting: 0, open: 1 } });

    const { next } = await restart(first);

    const unverified = next.panel();
    expect(unverified).toMatchObject({ figures: { resting: 0, unverified: 1, symbols: [{ state: 'unverified' }] } });
    expect(unverified.enabled && unverified.figures).not.toHaveProperty('open');
    expect(await next.gauges()).toEqual(['cobalt_protective_stops_resting 0', 'cobalt_protective_stops_unverified 1']);
  });

  it('says unverified in the head with no stop stored, while the rows say so', () => {
    const out = protectiveStopsHtml({
      enabled: true, figures: { placed: 0, cancelled: 0, skippedDust: 0, resting: 0, unverified: 0, symbols: [{ symbol: 'BTC/USDT', positionQty: '0.10000', state: 'unverified' }] },
    });
    expect(out.meta).toBe('unverified 0: not yet checked at the venue · placed 0 · cancelled 0');
  });
});
