// The orchestrator's waits on wall-time work run on `deadlineClock` (the wall clock a daemon's replay is paced on).
// Review of `npm start -- --speed 20` on a loaded host: while the replay caught up, the data clock moved tens of
// seconds in the ~100 ms the executor took to answer an IOC intent, so the next tick found the intent "timed out"
// (30 s of data) and sent a second one beside it, and the models' 1000 ms deadline passed before they could answer.
import { beforeAll, describe, expect, it } from 'vitest';
import { momentumRunner } from '../../../actors/model-agents/momentum.ts';
import { Orchestrator } from '../../../actors/orchestrator/orchestrator.ts';
import { ModelRegistry } from '../../../actors/orchestrator/registry.ts';
import { DEFAULT_LIMITS } from '../../../actors/risk-manager/limits.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import type { OrderIntent } from '../../../engine/messages/orders.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';
import { money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { ETH, loadRealWorld, realInput, type RealWorld } from './real-input.ts';

let world: RealWorld;
let bars: Candle[];
beforeAll(() => {
  world = loadRealWorld();
  bars = world.primary['1s'].filter((c) => c.openTime + 1_000 <= world.end).slice(-40);
});

/** An orchestrator on the data clock `data` whose wall-time waits run on `wall`; every blend is a BUY. */
function rig() {
  const bus = new Bus<EngineMsg>();
  const data = new SimulatedClock(bars[0]!.openTime);
  // A second simulated clock stands for the wall clock, so the test decides when wall time passes.
  const wall = new SimulatedClock(0);
  const registry = new ModelRegistry({ maxConsecutiveFailures: 2, coolDownMs: 60_000 });
  registry.register('momentum', { version: 'rule-15m-10bps', run: momentumRunner() }, data.now());
  const orch = new Orchestrator({
    bus, clock: data, deadlineClock: wall, registry, outputs: new ModelOutputStore(),
    input: (tick) => realInput(world, tick.ts),
    thresholds: { buy: 0, sell: 1, minConfidence: 0 },
    subscriptions: { symbol: 'ETH/USDT', triggerTimeframe: '1s', requireCob: false },
    trading: { inst: ETH, limits: DEFAULT_LIMITS, cash: money('10000'), pendingTimeoutMs: 5_000, policy: { orderType: 'limit', slippageBps: 10, sizing: { kind: 'fixed-fraction', fractionBps: 500 } } },
    owner: 'orchestrator',
  });
  const intents: OrderIntent[] = [];
  bus.subscribe('risk.intent', (m) => void intents.push(m.intent));
  orch.start();
  // Bar `k`'s trade price as the mark, then its close as md.candle, which triggers a tick; waits for the tick.
  const close = async (k: number): Promise<void> => {
    const c = bars[k]!;
    data.set(c.openTime + 1_000);
    bus.publish({ type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tradeId: k + 1, price: Math.round(c.close * 100) as Ticks, lots: 1 as Lots, buyerMaker: false, tsExchange: data.now(), tsLocal: data.now() });
    bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1s', candle: c, tsExchange: data.now(), tsLocal: data.now() });
    await orch.idle();
  };
  return { bus, data, wall, orch, intents, close };
}

describe('an orchestrator with a deadline clock', () => {
  it('keeps an intent pending while the data clock jumps past its timeout, and times it out on the deadline clock', async () => {
    const { wall, orch, intents, close } = rig();
    await close(0); // BUY: the intent goes out, with no answer yet from the executor
    await close(10); // a replay catching up: 10 s of data later (the timeout is 5 s), no wall time
    const whilePending = { intents: intents.length, noIntent: { ...orch.stats.noIntent }, pendingTimeouts: orch.stats.pendingTimeouts };
    wall.advance(5_001);
    await close(11);

    expect(whilePending).toEqual({ intents: 1, noIntent: { pending: 1 }, pendingTimeouts: 0 });
    expect(intents.map((i) => i.side)).toEqual(['buy', 'buy']);
    expect(orch.stats.pendingTimeouts).toBe(1);
  });

  it('runs the model deadline on the deadline clock: no timeout when the data clock jumps during a run', async () => {
    const { bus, data, orch } = rig();
    // The tick starts with the candle; the data clock moves a minute (the feed's catch-up) before its model settles.
    const c = bars[0]!;
    data.set(c.openTime + 1_000);
    bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1s', candle: c, tsExchange: data.now(), tsLocal: data.now() });
    data.advance(60_000);
    await orch.idle();

    expect(orch.coordinator.stats).toMatchObject({ runs: 1, failures: 0, timeouts: 0 });
    expect(orch.decision?.weights).toEqual({ momentum: 1 }); // its output was blended
  });
});
