// When a prediction is judged and against which base: review findings 5 and 6, on real 1s closes of the recording.
import { beforeAll, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../../actors/orchestrator/orchestrator.ts';
import { HorizonOutcomeEvaluator, realisedAction } from '../../../actors/orchestrator/outcomes.ts';
import { ConfigError } from '../../../engine/types/errors.ts';
import { ModelRegistry, type ModelRunner } from '../../../actors/orchestrator/registry.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import type { Action } from '../../../engine/messages/signals.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';
import { deferred } from './models.ts';
import { loadRealWorld, realInput, type RealWorld } from './real-input.ts';

const HORIZON_MS = 3_000;
const DEAD_BAND_BPS = 1;

let world: RealWorld;
let bars: Candle[];
beforeAll(() => {
  world = loadRealWorld();
  bars = world.primary['1s'].filter((c) => c.openTime + 1_000 <= world.end);
});

const act = (p0: number, p1: number): Action => realisedAction(p0, p1, DEAD_BAND_BPS);

/**
 * The first bar of the last 120 s (inputs there have the full history, so the models run) from which `n` 1s bars
 * follow one another without a gap and `pick` holds.
 */
function firstRun(n: number, pick: (c: readonly Candle[]) => boolean): number {
  for (let j = bars.length - 120; j + n <= bars.length; j++) {
    const run = bars.slice(j, j + n);
    if (run.every((c, k) => c.openTime === run[0]!.openTime + k * 1_000) && pick(run)) return j;
  }
  throw new Error('no such run of bars in the recording');
}

const says = (action: () => Action): ModelRunner => async (_x, ctx) => {
  const a = action();
  return {
    model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action: a, confidence: 0.9,
    probabilities: a === 'BUY' ? [0.9, 0.05, 0.05] : a === 'SELL' ? [0.05, 0.9, 0.05] : [0.05, 0.05, 0.9],
  };
};

function rig(registry: ModelRegistry, from: number, deliveryDelayMs: number) {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(bars[from]!.openTime);
  const orch = new Orchestrator({
    bus, clock, registry, outputs: new ModelOutputStore(),
    input: (tick) => realInput(world, tick.ts),
    thresholds: { buy: 0.6, sell: 0.6, minConfidence: 0 },
    subscriptions: { symbol: 'ETH/USDT', triggerTimeframe: '1s', requireCob: false },
    outcomes: { horizonMs: HORIZON_MS, deadBandBps: DEAD_BAND_BPS },
    timeoutMs: 5_000,
    owner: 'orchestrator',
  });
  orch.start();
  let i = from;
  // The close of the next bar, delivered `deliveryDelayMs` after its close time (a 1s bar closes on a later trade or
  // timer); the tick it triggers is not awaited.
  const close = (): void => {
    const c = bars[i++]!;
    clock.set(c.openTime + 1_000 + deliveryDelayMs);
    bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1s', candle: c, tsExchange: clock.now(), tsLocal: clock.now() });
  };
  // A 1s bar `shiftMs` later than recorded (a later replay lap), closed on time; the tick it triggers is not awaited.
  const closeBar = (c: Candle, shiftMs = 0): void => {
    const bar = { ...c, openTime: c.openTime + shiftMs };
    clock.set(bar.openTime + 1_000 + deliveryDelayMs);
    bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1s', candle: bar, tsExchange: clock.now(), tsLocal: clock.now() });
  };
  const reset = (scope?: 'trades'): void =>
    bus.publish({ type: 'md.feedReset', venue: 'binance', symbol: 'ETH/USDT', reason: 'test', ts: clock.now(), ...(scope ? { scope } : {}) });
  return { orch, clock, close, closeBar, reset };
}

describe('horizon outcomes of the orchestrator', () => {
  it('counts the horizon from the base close, so the close exactly one horizon later judges it', async () => {
    // Review finding 6: due was the tick's ready time + horizon; a tick ready 5 ms after its close was judged one bar late.
    const j = firstRun(5, (r) => act(r[0]!.close, r[3]!.close) !== act(r[0]!.close, r[4]!.close));
    const right = act(bars[j]!.close, bars[j + 3]!.close);
    const registry = new ModelRegistry();
    let first = true;
    registry.register('m', { version: 'v1', run: says(() => (first ? ((first = false), right) : 'HOLD')) }, bars[j]!.openTime);
    const { orch, close } = rig(registry, j, 5);
    const evaluated: number[] = [];
    for (let k = 0; k < 5; k++) {
      close();
      await orch.idle();
      evaluated.push(orch.evaluator.stats.evaluated);
    }

    // Tick 1 (close of bar j) is judged on the close of bar j+3, 3 000 ms later, and judged right.
    expect(evaluated).toEqual([0, 0, 0, 1, 2]);
    expect(orch.accuracy.outcomes('m')[0]).toBe('1');
  });

  it('judges against the last close when the tick became ready, not one that arrived while the models ran', async () => {
    // Review finding 5: the base was read after inference; the next close, arriving meanwhile, became the base.
    const j = firstRun(5, (r) => act(r[0]!.close, r[3]!.close) !== act(r[1]!.close, r[3]!.close));
    const right = act(bars[j]!.close, bars[j + 3]!.close);
    const registry = new ModelRegistry();
    const gate = deferred();
    let calls = 0;
    registry.register('m', { version: 'v1', run: async (x, ctx) => {
      if (calls++ > 0) return says(() => 'HOLD')(x, ctx);
      await gate.promise; // the first run outlasts the next bar
      return says(() => right)(x, ctx);
    } }, bars[j]!.openTime);
    const { orch, close } = rig(registry, j, 0);
    close(); // bar j: the tick starts, its model waits
    close(); // bar j+1 closes during inference (its tick queues)
    gate.resolve();
    await orch.idle();
    const evaluated: number[] = [];
    for (let k = 0; k < 3; k++) {
      close();
      await orch.idle();
      evaluated.push(orch.evaluator.stats.evaluated);
    }

    expect(act(bars[j]!.close, bars[j + 3]!.close)).not.toBe(act(bars[j + 1]!.close, bars[j + 3]!.close));
    expect(evaluated).toEqual([0, 1, 2]); // bar j+3 judges tick 1, bar j+4 tick 2
    expect(orch.accuracy.outcomes('m')[0]).toBe('1');
  });

  // Review (outcomes across a data hole): predictions due inside a looped replay's lap seam were judged against the
  // next lap's opening price, and those of a live feed after an outage against the first price after it.
  it('judges nothing across a replay lap seam: the predictions pending at md.feedReset are dropped, not judged on the next lap\'s opening', async () => {
    const j = firstRun(3, () => true);
    const registry = new ModelRegistry();
    registry.register('m', { version: 'v1', run: says(() => 'BUY') }, bars[j]!.openTime);
    const { orch, closeBar, reset } = rig(registry, j, 0);
    for (let k = 0; k < 3; k++) {
      closeBar(bars[j + k]!);
      await orch.idle();
    }
    const tracked = orch.evaluator.stats.tracked;
    // The seam: a reset, ~70 s without data, then the recording's first bars again, one lap later.
    reset();
    const lapMs = bars[j + 3]!.openTime - bars[0]!.openTime + 70_000;
    for (let k = 0; k < 3; k++) {
      closeBar(bars[k]!, lapMs);
      await orch.idle();
    }

    expect(tracked).toBe(3);
    expect(orch.evaluator.stats).toMatchObject({ evaluated: 0, acrossReset: 3 });
    expect(orch.accuracy.outcomes('m')).toBe('');
  });

  it('drops a prediction pending at a trades-scoped reset although the closes go on without a hole', async () => {
    const j = firstRun(5, () => true);
    const registry = new ModelRegistry();
    registry.register('m', { version: 'v1', run: says(() => 'BUY') }, bars[j]!.openTime);
    const { orch, close, reset } = rig(registry, j, 0);
    close(); // tick 1, due at the close of bar j+3
    await orch.idle();
    reset('trades');
    for (let k = 0; k < 4; k++) {
      close(); // bars j+1..j+4: tick 2 (base j+1) is judged at j+4
      await orch.idle();
    }

    expect(orch.evaluator.stats).toMatchObject({ tracked: 5, evaluated: 1, acrossReset: 1 });
  });

  it('does not track a prediction whose base close came before a reset that happened while the models ran', async () => {
    const j = firstRun(5, () => true);
    const registry = new ModelRegistry();
    const gate = deferred();
    let calls = 0;
    registry.register('m', { version: 'v1', run: async (x, ctx) => {
      if (calls++ === 0) await gate.promise; // the first tick's model outlasts the reset
      return says(() => 'BUY')(x, ctx);
    } }, bars[j]!.openTime);
    const { orch, close, reset } = rig(registry, j, 0);
    close(); // bar j: tick 1 ready, its base is bar j's close
    reset();
    gate.resolve();
    await orch.idle();
    for (let k = 0; k < 4; k++) {
      close();
      await orch.idle();
    }

    expect(orch.evaluator.stats).toMatchObject({ tracked: 4, evaluated: 1, acrossReset: 1 });
  });

  it('judges a prediction on a close at most one trigger bar after its due time and drops one from further past a hole', async () => {
    const j = firstRun(6, () => true);
    const registry = new ModelRegistry();
    registry.register('m', { version: 'v1', run: says(() => 'BUY') }, bars[j]!.openTime);
    const { orch, closeBar } = rig(registry, j, 0);
    for (let k = 0; k < 3; k++) {
      closeBar(bars[j + k]!); // ticks 1-3, due at the closes of bars j+3, j+4, j+5
      await orch.idle();
    }
    closeBar(bars[j + 5]!); // bars j+3 and j+4 never close (a hole in the trades)
    await orch.idle();

    // Tick 1 is 2 s late (dropped), tick 2 one bar late (judged), tick 3 on time (judged).
    expect(orch.evaluator.stats).toMatchObject({ tracked: 4, evaluated: 2, late: 1 });
  });

  it('refuses a negative maxLateMs, naming it', () => {
    expect(() => new HorizonOutcomeEvaluator({ recordOutcome: () => undefined }, { maxLateMs: -1 })).toThrow(ConfigError);
    expect(() => new HorizonOutcomeEvaluator({ recordOutcome: () => undefined }, { maxLateMs: -1 })).toThrow('outcome maxLateMs must be >= 0, got -1');
  });
});
