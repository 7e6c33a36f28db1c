// Protective stops through the whole live engine (`mode: live` config file, the live opt-in, ccxt binance signed
// requests) against the exchange simulator: with execution.protectiveStop enabled, the first entry the engine's own
// policy makes leaves a STOP_LOSS_LIMIT of ours resting at the simulator for the whole sellable position, priced below
// the position's cost, with the base asset it covers locked there.
import { afterEach, describe, expect, it } from 'vitest';
import { sellableLots } from '../../actors/trading-executor/protective-stop.ts';
import { isProtectiveStopId } from '../../engine/messages/orders.ts';
import { notional } from '../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { ExchangeSim } from '../../engine/venues/sim/server.ts';
import { driveLockstep, SIM_KEY, startLiveEngine, startSim, type LiveEngine } from './live-driver.ts';

const engines: LiveEngine[] = [];
const sims: ExchangeSim[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  for (const s of sims.splice(0)) await s.close();
});

describe('protective stops in live mode against the exchange simulator', () => {
  it('rests a stop of ours at the venue for the position the first entry opened', { timeout: 120_000 }, async () => {
    const sim = await startSim('manual');
    sims.push(sim);
    const e = await startLiveEngine({ restUrl: sim.url, wsUrl: sim.wsUrl, over: { execution: { protectiveStop: { enabled: true } } } });
    engines.push(e);
    let stopCid: string | undefined;
    e.sys.bus.subscribe('exec.orderAccepted', (m) => {
      if (isProtectiveStopId(m.clientOrderId)) stopCid = m.clientOrderId;
    });
    await driveLockstep({ sys: e.sys, sim, clock: e.clock, venue: e.venue, maxSpanMs: 20 * 60_000, stopWhen: () => stopCid !== undefined });
    const ex = e.sys.handles.executor()!;
    // The entry may have filled in parts: a stop accepted for the first part is replaced once the rest is booked, and
    // the lockstep stops at the first acceptance. The steady state is read once that check is done.
    await ex.idle();
    const p = ex.position('ETH/USDT')!;
    const open = await e.venue.inner.fetchOpenOrders('ETH/USDT');
    const acct = sim.venue.accounts.get(SIM_KEY)!;
    const perTick = notional(e.sys.traded, 1 as Ticks, p.openLots! as Lots);

    expect(stopCid).toBeDefined();
    expect(open).toEqual([expect.objectContaining({ clientOrderId: stopCid, orderType: 'stopLossLimit', side: 'sell', lots: sellableLots(e.sys.traded, p), status: 'accepted' })]);
    // Below the cost: the trigger value of the whole position is under what it cost, the limit under the trigger.
    expect(BigInt(open[0]!.stopPrice!) * perTick).toBeLessThan(p.openCost!);
    expect(open[0]!.price!).toBeLessThan(open[0]!.stopPrice!);
    expect(acct.lockedOf('ETH')).toBe(BigInt(open[0]!.lots) * 100_000n); // a lot is 0.0001 ETH: 100 000 in 1e-9
    expect(e.log.withCode('EXECUTOR_TASK_FAILED')).toEqual([]);
  });
});
