// Protective stops when things go wrong, on the PollVenue stub (a venue that pushes nothing, as Binance over REST):
// a stop the venue refuses is not placed again in a loop (retried on a backoff, or never while the price is through
// it), none is sent while the circuit breaker is open, an exit after a stop that traded before its cancel is sized on
// the stop's fills, a replace whose cancel failed is tried again, and a stop-loss changed at run time (or restored by
// the RiskManager after the start) moves the venue stop. A refusal through the stop's price is retried every 5 min and
// forgotten with the position; a failed read of a cancelled stop's trades is retried, caps the exit when it stays
// failed, and holds back the next stop until read; a stop the venue never got is placed again once it says so.
import { afterEach, describe, expect, it } from 'vitest';
import type { RiskStateView, TradingExecutorOptions } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { planStop } from '../../../actors/trading-executor/protective-stop.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import { VenueCallError, type SubmitResult, type VenueOrderRequest } from '../../../engine/venues/venue.ts';
import { BTC, drive, STOP_SETTINGS, stopRig, storeWritesDone, type Cleanups } from './helpers.ts';

// Binance's answer to a stop the price is already through (-2010).
const THROUGH: SubmitResult = { status: 'rejected', code: 'INVALID_ORDER', message: 'binance Stop price would trigger immediately.' };
const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function rig(extra: Partial<TradingExecutorOptions> = {}) {
  const r = stopRig(cleanups, extra);
  const { venue, cap } = r;
  // Stop submissions the venue received, and a switch for how it answers them.
  const stopAnswer: { refuse: SubmitResult | undefined; submits: number } = { refuse: undefined, submits: 0 };
  const submit = venue.submit.bind(venue);
  venue.submit = async (req: VenueOrderRequest) => {
    if (req.orderType !== 'stopLossLimit') return submit(req);
    stopAnswer.submits++;
    return stopAnswer.refuse ?? submit(req);
  };
  // Makes the venue's `method` fail with an unknown outcome while `down()` says so.
  const failWhile = (method: 'cancel' | 'fetchMyTrades' | 'fetchOrder', down: () => boolean, code: string, message: string) => {
    const call = (venue[method] as (...a: unknown[]) => Promise<unknown>).bind(venue);
    Object.assign(venue, { [method]: (...a: unknown[]) => (down() ? Promise.reject(new VenueCallError('unknown', code, message)) : call(...a)) });
  };
  const count = (code: string) => cap.codes().filter((c) => c === code).length;
  return { ...r, stopAnswer, failWhile, count };
}

// The rig started, 10 000 lots bought as entry-1 and filled at the venue, its stops answered `refuse` when given.
async function holding(o: { refuse?: SubmitResult; extra?: Partial<TradingExecutorOptions> } = {}) {
  const r = rig(o.extra);
  r.stopAnswer.refuse = o.refuse;
  await r.ex.start();
  await r.buy('entry-1', 10_000);
  return r;
}

describe('protective stops the venue refuses', () => {
  it('are placed again on a backoff (5 s doubling), not at once, and rest once the venue accepts them', async () => {
    const r = await holding({ refuse: { status: 'rejected', code: 'VENUE_REJECTED', message: 'Account has insufficient balance for requested action.' } });
    await r.run(600);
    const inTenMinutes = r.stopAnswer.submits;
    r.stopAnswer.refuse = undefined;
    await r.run(300);

    // 0, 5, 15, 35, 75, 155, 315 s: 7 tries in 10 min (the loop made thousands).
    expect(inTenMinutes).toBe(7);
    expect(r.stops().map((o) => o.lots)).toEqual([10_000]);
  });

  it('while the price is through them are tried again every 5 min (an error once, a warn per retry), not at once', async () => {
    const r = await holding({ refuse: THROUGH });
    // Up to 50 s before the next retry (at 900 s): the second entry below is then what places the stop, not that retry.
    await r.run(850);
    const whileThrough = r.stopAnswer.submits;
    const throughLogs = r.count('PROTECTIVE_STOP_THROUGH');
    const retryWarns = r.cap.records.filter((l) => l.code === 'PROTECTIVE_STOP_RETRY' && l.venueCode === 'INVALID_ORDER' && l.level === 40).length;
    r.stopAnswer.refuse = undefined;
    await r.buy('entry-2', 10_000);
    await drive(r.clock, () => r.stops().length === 1);

    // At 0, 300 and 600 s.
    expect(whileThrough).toBe(3);
    expect(throughLogs).toBe(1);
    expect(retryWarns).toBe(2);
    expect(r.stops().map((o) => o.lots)).toEqual([20_000]);
  });

  it('through their price get one once the price has recovered, within the 5 min retry', async () => {
    const r = await holding({ refuse: THROUGH });
    await r.run(60);
    const refusedFirst = r.stops().length;
    r.stopAnswer.refuse = undefined;
    await r.run(300);

    expect(refusedFirst).toBe(0);
    expect(r.stops().map((o) => o.lots)).toEqual([10_000]);
  });

  it('through their price are forgotten once the position is flat: the same size bought again at the same price gets its stop', async () => {
    const r = await holding({ refuse: THROUGH });
    await r.run(5);
    r.stopAnswer.refuse = undefined;
    r.exit('risk-exit-1', 10_000, { price: 6_183_763 as Ticks, timeInForce: 'GTC' });
    await r.settle();
    r.venue.fill(clientOrderIdFor('risk-exit-1'), 10_000);
    await r.run(5);
    const flat = r.ex.position('BTC/USDT')?.netLots;
    await r.buy('entry-2', 10_000);
    await r.run(10);

    expect(flat).toBe(0);
    expect(r.stops().map((o) => o.lots)).toEqual([10_000]);
  });

  it('are not sent while the circuit breaker is open (no local rejections in a loop)', async () => {
    const r = rig({ breaker: { failureThreshold: 1, openMs: 30_000 } });
    await r.ex.start();
    // The stop's first submission fails with an unknown outcome: the breaker opens and the resend is refused locally.
    r.failFirstStopSubmit();
    await r.buy('entry-1', 10_000);
    await r.run(20);
    const refused = r.ex.allOrders().filter((o) => o.clientOrderId.startsWith('pstop-') && o.status === 'rejected');
    await r.run(120);

    expect(refused.map((o) => o.rejectCode)).toEqual(['VENUE_CIRCUIT_OPEN']);
    expect(r.stops().map((o) => o.lots)).toEqual([10_000]);
  });
});

describe('protective stops and the position', () => {
  it('an exit after a stop that traded before its cancel answered "cancelled" is sized on the stop\'s fills', async () => {
    const r = await holding();
    await drive(r.clock, () => r.stops().length === 1 && r.ex.order(r.stops()[0]!.clientOrderId)?.status === 'accepted');
    const stop = r.stops()[0]!;
    // The price gaps down: the stop triggers and sells 4 000 lots; the executor has not polled yet.
    r.venue.fill(stop.clientOrderId, 4_000, 5_900_000);
    r.exit('risk-exit-1', 10_000);
    await r.settle();
    const sent = r.sent('risk-exit-1');

    expect(sent?.lots).toBe(6_000);
    expect(r.ex.position('BTC/USDT')?.netLots).toBe(6_000);
    expect(r.cap.codes()).toContain('SELL_CUT_TO_HELD');
  });

  it('a replace whose cancel failed every attempt is tried again on the clock (PROTECTIVE_STOP_STALE meanwhile)', async () => {
    const r = await holding();
    await drive(r.clock, () => r.stops().length === 1);
    let down = true;
    r.failWhile('cancel', () => down, 'EXCHANGE_UNAVAILABLE', 'cancel answered 503');
    await r.buy('entry-2', 10_000);
    await drive(r.clock, () => r.ex.position('BTC/USDT')?.netLots === 20_000);
    await r.settle();
    const staleLogs = r.count('PROTECTIVE_STOP_STALE');
    down = false;
    await r.run(60);

    expect(staleLogs).toBeGreaterThan(0);
    expect(r.stops().map((o) => o.lots)).toEqual([20_000]);
  });
});

describe('protective stops and the RiskManager\'s stop-loss', () => {
  const limitsWith = (stopLossBps: number) => ({ stopLossBps }) as unknown as RiskLimits;
  const expectedStopPrice = (r: ReturnType<typeof rig>, bps: number) => {
    const plan = planStop(BTC, r.ex.position('BTC/USDT'), bps, STOP_SETTINGS);
    return plan.kind === 'stop' ? plan.stopPrice : undefined;
  };

  it('moves the venue stop when the stop-loss changes at run time (risk.limitsChanged)', async () => {
    let stopLossBps = 200;
    const r = await holding({ extra: { riskState: () => ({ tradingState: 'active', killSwitch: false, stateReason: '', limits: { stopLossBps } }) } });
    await drive(r.clock, () => r.stops().length === 1);
    const before = r.ex.order(r.stops()[0]!.clientOrderId)!.intent.stopPrice;
    stopLossBps = 800;
    r.rec.bus.publish({ type: 'risk.limitsChanged', limits: limitsWith(800), ts: r.clock.now() });
    await r.run(5);

    expect(before).toBe(expectedStopPrice(r, 200));
    expect(r.stops()).toHaveLength(1);
    expect(r.ex.order(r.stops()[0]!.clientOrderId)!.intent.stopPrice).toBe(expectedStopPrice(r, 800));
  });

  it('prices the stop on the RiskManager\'s restored stop-loss once its state can be read, not on the config\'s', async () => {
    let risk: RiskStateView | undefined;
    const r = await holding({ extra: { riskState: () => risk } });
    await drive(r.clock, () => r.stops().length === 1);
    const fromConfig = r.ex.order(r.stops()[0]!.clientOrderId)!.intent.stopPrice;
    // The RiskManager starts after the executor, its limits restored from its store: 8 %.
    risk = { tradingState: 'active', killSwitch: false, stateReason: '', limits: { stopLossBps: 800 } };
    await r.run(5);

    expect(fromConfig).toBe(expectedStopPrice(r, 200));
    expect(r.stops()).toHaveLength(1);
    expect(r.ex.order(r.stops()[0]!.clientOrderId)!.intent.stopPrice).toBe(expectedStopPrice(r, 800));
  });
});

describe('protective stops whose trades cannot be read after their cancel', () => {
  // A resting stop of 10 000 lots, the symbol's trades readable or not on demand, and the RiskManager's exit.
  async function withStop() {
    const r = rig();
    let tradesDown = false;
    r.failWhile('fetchMyTrades', () => tradesDown, 'EXCHANGE_UNAVAILABLE', 'myTrades answered 503');
    await r.ex.start();
    await r.buy('entry-1', 10_000);
    await drive(r.clock, () => r.stops().length === 1 && r.ex.order(r.stops()[0]!.clientOrderId)?.status === 'accepted');
    return { ...r, stop: r.stops()[0]!, tradesDown: (down: boolean) => { tradesDown = down; } };
  }

  it('an exit after one failed read is sent whole: the read is tried again', async () => {
    const r = await withStop();
    let failures = 1;
    r.failWhile('fetchMyTrades', () => failures-- > 0, 'EXCHANGE_UNAVAILABLE', 'myTrades answered 503');
    r.exit('risk-exit-1', 10_000);
    await drive(r.clock, () => r.sent('risk-exit-1') !== undefined || r.ex.order(clientOrderIdFor('risk-exit-1'))?.status === 'rejected');

    expect(r.ex.order(clientOrderIdFor('risk-exit-1'))?.rejectCode).toBeUndefined();
    expect(r.sent('risk-exit-1')?.lots).toBe(10_000);
  });

  it('an exit whose trades stay unreadable leaves out what the cancelled stop may have sold (PROTECTIVE_STOP_UNRESOLVED)', async () => {
    const r = await withStop();
    // A second entry whose replace cannot cancel the first stop: 20 000 lots held, a stop of 10 000 resting.
    let cancelDown = true;
    r.failWhile('cancel', () => cancelDown, 'EXCHANGE_UNAVAILABLE', 'cancel answered 503');
    await r.buy('entry-2', 10_000);
    await drive(r.clock, () => r.ex.position('BTC/USDT')?.netLots === 20_000);
    await r.settle();
    cancelDown = false;
    r.tradesDown(true);
    r.exit('risk-exit-1', 20_000);
    await drive(r.clock, () => r.sent('risk-exit-1') !== undefined || r.ex.order(clientOrderIdFor('risk-exit-1'))?.status === 'rejected');

    expect(r.sent('risk-exit-1')?.lots).toBe(10_000);
    expect(r.cap.records.some((l) => l.code === 'PROTECTIVE_STOP_UNRESOLVED' && l.level === 50 && l.unaccounted === 10_000)).toBe(true);
  });

  it('no stop is placed while the cancelled stop\'s trades are unread; once read, it is sized on what the stop left', async () => {
    const r = await withStop();
    // The price gaps down: the stop sells 4 000 lots, not read yet; then the trades cannot be read.
    r.venue.fill(r.stop.clientOrderId, 4_000, 5_900_000);
    r.tradesDown(true);
    r.exit('risk-exit-1', 10_000);
    await drive(r.clock, () => r.ex.order(clientOrderIdFor('risk-exit-1'))?.status === 'rejected');
    await r.run(60);
    const placedWhileUnread = r.stopAnswer.submits;
    r.tradesDown(false);
    await r.run(300);

    // The exit could not be sized (the whole position may be sold): rejected, never sent.
    expect(r.ex.order(clientOrderIdFor('risk-exit-1'))?.rejectCode).toBe('PROTECTIVE_STOP_UNRESOLVED');
    expect(r.sent('risk-exit-1')).toBeUndefined();
    expect(placedWhileUnread).toBe(1);
    expect(r.ex.position('BTC/USDT')?.netLots).toBe(6_000);
    expect(r.stops().map((o) => o.lots)).toEqual([6_000]);
  });
});

describe('protective stops whose submission had no answer', () => {
  it('are placed again as soon as the venue says it never got them, and waiting on an answer is no failure', async () => {
    const r = rig({ breaker: { failureThreshold: 1_000, openMs: 1_000 } });
    let down = false;
    const submit = r.venue.submit.bind(r.venue);
    r.venue.submit = async (req: VenueOrderRequest) => {
      if (req.orderType === 'stopLossLimit' && down) throw new VenueCallError('unknown', 'REQUEST_TIMEOUT', 'timed out (the request never reached the venue)');
      return submit(req);
    };
    r.failWhile('fetchOrder', () => down, 'EXCHANGE_UNAVAILABLE', '503');
    await r.ex.start();
    await r.approve('entry-1', 10_000);
    // The order endpoint and the order queries time out for 6 minutes from the fill on.
    down = true;
    r.venue.fill(clientOrderIdFor('entry-1'), 10_000);
    await r.run(360);
    const retriesWhileDown = r.count('PROTECTIVE_STOP_RETRY');
    down = false;
    // The next poll finds the venue never got the stop (VENUE_UNKNOWN_ORDER): that rejection brings the check. The
    // clock moves a second at a time, the executor let finish in real time between: the step of the rejection must
    // place the new stop, not a check on a timer of a later step.
    const stopOrders = () => r.ex.allOrders().filter((o) => o.clientOrderId.startsWith('pstop-'));
    let unknown: ReturnType<typeof stopOrders>[number] | undefined;
    let placedWithIt = 0;
    for (let i = 0; i < 10 && !unknown; i++) {
      r.clock.advance(1_000);
      await storeWritesDone();
      unknown = stopOrders().find((o) => o.rejectCode === 'VENUE_UNKNOWN_ORDER');
      placedWithIt = stopOrders().filter((o) => o.clientOrderId !== unknown?.clientOrderId).length;
    }
    await r.run(10);

    expect(retriesWhileDown).toBe(0);
    expect(unknown).toBeDefined();
    expect(placedWithIt).toBe(1);
    expect(r.stops().map((o) => o.lots)).toEqual([10_000]);
  });
});
