import { beforeAll, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { momentumRunner } from '../../../actors/model-agents/momentum.ts';
import { bdiRlState, rlRunner } from '../../../actors/model-agents/rl-agent.ts';
import { orchestratorActor, OrchestratorHandle } from '../../../actors/orchestrator/actor.ts';
import { horizonVolatility, Orchestrator, type TradingOptions } from '../../../actors/orchestrator/orchestrator.ts';
import { InMemoryOrchestratorMemory, type OrchestratorMemory } from '../../../actors/orchestrator/memory.ts';
import { ModelRegistry, type ModelRunner } from '../../../actors/orchestrator/registry.ts';
import type { ReadyTick } from '../../../actors/orchestrator/subscriptions.ts';
import { DEFAULT_LIMITS } from '../../../actors/risk-manager/limits.ts';
import { riskManager } from '../../../actors/risk-manager/machine.ts';
import { applyFill, emptyPortfolio, type Portfolio } from '../../../actors/risk-manager/positions.ts';
import { capsFor, fixedFractionLots } from '../../../actors/risk-manager/sizing.ts';
import { blend, type MoeThresholds } from '../../../strategies/moe.ts';
import { bdiSeriesFeature, BDI_FRAMES, FEATURES_PER_SERIES, SERIES_FEATURE_NAMES, SERIES_FEATURES, SERIES_NAMES } from '../../../engine/market/base-data-input.ts';
import { settingsKey } from '../../../engine/config/settings-key.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import type { ModelStatusMsg } from '../../../engine/messages/orchestrator.ts';
import type { Fill, OrderIntent } from '../../../engine/messages/orders.ts';
import type { OrderApproved, OrderDenied } from '../../../engine/messages/risk.ts';
import type { Decision, ModelOutput } from '../../../engine/messages/signals.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { InferenceRecord } from '../../../engine/store/inference-history.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';
import { ConfigError } from '../../../engine/types/errors.ts';
import { clientOrderId, clientOrderIdFor, venueOrderId } from '../../../engine/types/ids.ts';
import { notional } from '../../../engine/types/instrument.ts';
import { money, type Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { deferred, featureCnn, linearQ } from './models.ts';
import { ETH, loadRealWorld, realInput, type RealWorld } from './real-input.ts';

let world: RealWorld;
let bars: Candle[];
beforeAll(() => {
  world = loadRealWorld();
  bars = world.primary['1s'].filter((c) => c.openTime + 1_000 <= world.end).slice(-40);
});

/** What a restart test changes between two rigs: the same registry and memory, maybe edited config thresholds. */
interface Again { readonly registry?: ModelRegistry; readonly memory?: OrchestratorMemory; readonly thresholds?: MoeThresholds }

function rig(horizonMs = 60_000, trading: Partial<TradingOptions> = {}, again: Again = {}) {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(bars[0]!.openTime);
  const registry = again.registry ?? new ModelRegistry({ maxConsecutiveFailures: 2, coolDownMs: 60_000 });
  const stateOf = bdiRlState(30);
  const q = linearQ(stateOf(new Float32Array(9_190)).length);
  if (!again.registry) {
    registry.register('cnn', { version: 'c1', run: featureCnn() }, clock.now());
    registry.register('dqn', { version: 'r1', dependsOn: ['cnn'], run: rlRunner({ q, state: stateOf, stateSize: q.stateSize }) }, clock.now());
  }
  const orch = new Orchestrator({
    bus, clock, registry, outputs: new ModelOutputStore(), ...(again.memory ? { memory: again.memory } : {}),
    input: (tick) => realInput(world, tick.ts),
    thresholds: again.thresholds ?? { buy: 0.6, sell: 0.6, minConfidence: 0 },
    subscriptions: { symbol: 'ETH/USDT', triggerTimeframe: '1s', requireCob: false },
    trading: { inst: ETH, limits: DEFAULT_LIMITS, cash: money('10000'), policy: { orderType: 'limit', slippageBps: 10, sizing: { kind: 'fixed-fraction', fractionBps: 500 } }, ...trading },
    outcomes: { horizonMs, deadBandBps: 1 },
    owner: 'orchestrator',
  });
  const seen = { decisions: [] as Decision[], outputs: [] as ModelOutput[], statuses: [] as ModelStatusMsg[], intents: [] as OrderIntent[] };
  bus.subscribe('signal.decision', (m) => void seen.decisions.push(m));
  bus.subscribe('signal.modelOutput', (m) => void seen.outputs.push(m.output));
  bus.subscribe('signal.modelStatus', (m) => void seen.statuses.push(m));
  bus.subscribe('risk.intent', (m) => void seen.intents.push(m.intent));
  orch.start();
  let i = 0;
  // One real 1s bar: its trade price as the mark, then its close as md.candle, which triggers a tick (not awaited).
  const close = (): void => {
    const c = bars[i++]!;
    clock.set(c.openTime + 1_000);
    const price = Math.round(c.close * 100) as Ticks;
    bus.publish({ type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tradeId: i, price, lots: 1 as Lots, buyerMaker: false, tsExchange: clock.now(), tsLocal: clock.now() });
    bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1s', candle: c, tsExchange: clock.now(), tsLocal: clock.now() });
  };
  const step = async (): Promise<void> => {
    close();
    await orch.idle();
  };
  return { bus, clock, registry, orch, seen, step, close, price: () => Math.round(bars[i - 1]!.close * 100) as Ticks };
}

/** A rule model that always says `action` with probability 0.9. */
const says = (action: 'BUY' | 'SELL' | 'HOLD'): ModelRunner => async (_x, ctx) => ({
  model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action, confidence: 0.9,
  probabilities: action === 'BUY' ? [0.9, 0.05, 0.05] : action === 'SELL' ? [0.05, 0.9, 0.05] : [0.05, 0.05, 0.9],
});

describe('orchestrator', () => {
  it('runs no tick while no model is registered (no input assembled, no decision), and ticks once one is', async () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(bars[0]!.openTime);
    const registry = new ModelRegistry({ maxConsecutiveFailures: 2, coolDownMs: 60_000 });
    let assembled = 0;
    const given: Float32Array[] = [];
    const orch = new Orchestrator({
      bus, clock, registry, outputs: new ModelOutputStore(),
      input: (tick, out) => {
        assembled++;
        given.push(out);
        return realInput(world, tick.ts);
      },
      thresholds: { buy: 0.6, sell: 0.6, minConfidence: 0 },
      subscriptions: { symbol: 'ETH/USDT', triggerTimeframe: '1s', requireCob: false },
    });
    const decisions: Decision[] = [];
    bus.subscribe('signal.decision', (m) => void decisions.push(m));
    orch.start();
    const close = async (c: Candle): Promise<void> => {
      clock.set(c.openTime + 1_000);
      bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1s', candle: c, tsExchange: clock.now(), tsLocal: clock.now() });
      await orch.idle();
    };
    await close(bars[0]!);
    await close(bars[1]!);
    expect({ assembled, decisions: decisions.length, noModels: orch.stats.noModels, ticks: orch.stats.ticks }).toEqual({ assembled: 0, decisions: 0, noModels: 2, ticks: 0 });
    registry.register('momentum', { version: 'm1', run: momentumRunner({ lookback: 5, scaleBps: 5 }) }, clock.now());
    await close(bars[2]!);
    expect({ assembled, decisions: decisions.length, noModels: orch.stats.noModels, ticks: orch.stats.ticks }).toEqual({ assembled: 1, decisions: 1, noModels: 2, ticks: 1 });
    // Each tick is handed a fresh zeroed array to assemble into (an input may be kept), allocated after the last tick.
    given[0]!.fill(1);
    await close(bars[3]!);
    expect(given.length).toBe(2);
    expect(given[1]).not.toBe(given[0]);
    expect(given[1]!.length).toBe(9_190);
    expect(given[1]!.every((x) => x === 0)).toBe(true);
  });

  it('records every inference under a key of its own when two 1s bars close at the same instant', async () => {
    // Review (duplicate inference records): a trade of a later bar closes two 1s bars at once; both ticks were ready at
    // that instant, so both had its time, and the second tick's history records replaced the first's.
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(bars[0]!.openTime);
    const registry = new ModelRegistry();
    registry.register('momentum', { version: 'm1', run: momentumRunner({ lookback: 5, scaleBps: 5 }) }, clock.now());
    const records: InferenceRecord[] = [];
    const orch = new Orchestrator({
      bus, clock, registry, outputs: new ModelOutputStore(), history: { record: async (r) => { records.push(r); return true; } },
      input: (tick) => realInput(world, tick.ts),
      thresholds: { buy: 0.6, sell: 0.6, minConfidence: 0 },
      subscriptions: { symbol: 'ETH/USDT', triggerTimeframe: '1s', requireCob: false },
    });
    orch.start();
    const candle = (c: Candle): void =>
      bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1s', candle: c, tsExchange: clock.now(), tsLocal: clock.now() });
    clock.set(bars[2]!.openTime + 1_000);
    candle(bars[1]!); // one trade closes bars 1 and 2 at once
    candle(bars[2]!);
    await orch.idle();
    clock.advance(50);
    bus.publish({ type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tradeId: 1, price: 260_000 as Ticks, lots: 1 as Lots, buyerMaker: false, tsExchange: clock.now(), tsLocal: clock.now() });
    await orch.idle();

    const keys = records.map((r) => `${r.model} ${r.symbol} ${r.ts}`);
    expect(orch.stats.ticks).toBe(2);
    expect(new Set(keys).size).toBe(keys.length);
    // Both ticks at the instant of the trade, without waiting for the next event; the second record's key 1 µs later.
    const t = bars[2]!.openTime + 1_000;
    expect(records.map((r) => [r.ts, r.output.ts])).toEqual([[t, t], [t + 0.001, t]]);
  });

  it('blends every registered model, a third one joining without any change, and publishes a decision per tick', async () => {
    const { registry, seen, step, clock } = rig();
    await step();
    expect(Object.keys(seen.decisions[0]!.weights).sort()).toEqual(['cnn', 'dqn']);
    registry.register('momentum', { version: 'm1', run: momentumRunner({ lookback: 5, scaleBps: 5 }) }, clock.now());
    await step();
    const d = seen.decisions[1]!;
    expect(Object.keys(d.weights).sort()).toEqual(['cnn', 'dqn', 'momentum']);
    // No outcomes yet: the prior gives each the same weight, and the decision is the blend of this tick's outputs.
    for (const w of Object.values(d.weights)) expect(w).toBeCloseTo(1 / 3, 9);
    const tickOutputs = seen.outputs.filter((o) => o.ts === d.ts);
    expect(tickOutputs.map((o) => o.model)).toEqual(['cnn', 'momentum', 'dqn']);
    const b = blend(tickOutputs, d.weights, { buy: 0.6, sell: 0.6, minConfidence: 0 });
    expect(d).toEqual({ type: 'signal.decision', symbol: 'ETH/USDT', action: b.action, confidence: b.confidence, weights: b.weights, ts: clock.now() });
  });

  it('says which outputs the blend left out and why: on the decision and counted per model and reason', async () => {
    const { bus, registry, seen, step, clock, orch } = rig();
    registry.register('sure', { version: 's1', run: says('BUY') }, clock.now());
    bus.publish({ type: 'orchestrator.setThresholds', minConfidence: 0.95 }); // above every output's confidence
    await step();
    await step();
    const d = seen.decisions.at(-1)!;
    const below = seen.outputs.filter((o) => o.ts === d.ts && o.confidence < 0.95).map((o) => o.model).sort();
    expect(below).toEqual(['cnn', 'dqn', 'sure']);
    expect(d.ignored).toEqual({ cnn: 'lowConfidence', dqn: 'lowConfidence', sure: 'lowConfidence' });
    expect(orch.stats.ignored).toEqual({ cnn: { lowConfidence: 2 }, dqn: { lowConfidence: 2 }, sure: { lowConfidence: 2 } });
    bus.publish({ type: 'orchestrator.setThresholds', minConfidence: 0.85 }); // 'sure' (0.9) passes now
    await step();
    expect(seen.decisions.at(-1)!.ignored).toEqual({ cnn: 'lowConfidence', dqn: 'lowConfidence' });
    expect(orch.stats.ignored['sure']).toEqual({ lowConfidence: 2 });
  });

  it('takes thresholds at run time and turns decisions and the position into intents', async () => {
    const { bus, seen, step, clock, orch, price } = rig();
    bus.publish({ type: 'orchestrator.setThresholds', buy: 0, sell: 1 }); // every blend is a BUY
    await step();
    expect(seen.decisions[0]!.action).toBe('BUY');
    const buy = seen.intents[0]!;
    const limit = Math.ceil((price() * 10_010) / 10_000) as Ticks; // no book ticker: 10 bps through the mark
    const lots = fixedFractionLots(ETH, money('10000'), 500, limit, capsFor(DEFAULT_LIMITS, 'ETH/USDT', 0 as Lots)); // sized at the price risk checks
    expect(buy).toMatchObject({ symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots, price: limit, timeInForce: 'IOC', reduceOnly: false, ts: clock.now() });
    await step(); // still pending: no second intent
    expect(seen.intents).toHaveLength(1);
    const cid = clientOrderId('c-1');
    bus.publish({ type: 'exec.orderSubmitted', clientOrderId: cid, intentId: buy.id, ts: clock.now() });
    bus.publish({ type: 'exec.orderFilled', ts: clock.now(), fill: {
      clientOrderId: cid, venueOrderId: venueOrderId('v-1'), tradeId: 't-1', venue: 'binance', symbol: 'ETH/USDT', side: 'buy', price: price(), lots: buy.lots, fee: 0n as Money, feeAsset: 'USDT', liquidity: 'taker', ts: clock.now(),
    } });
    expect(orch.positionLots).toBe(lots);
    await step(); // long already
    expect(seen.intents).toHaveLength(1);
    expect(orch.stats.noIntent).toEqual({ pending: 1, alreadyLong: 1 });
    bus.publish({ type: 'orchestrator.setThresholds', buy: 1, sell: 0 }); // every blend is a SELL
    await step();
    expect(seen.intents[1]).toMatchObject({ side: 'sell', lots, reduceOnly: true, price: Math.floor((price() * 9_990) / 10_000) });
    bus.publish({ type: 'risk.orderDenied', intentId: seen.intents[1]!.id, reason: { code: 'TRADING_HALTED' }, ts: clock.now() });
    await step(); // the denial cleared the pending intent: the next SELL goes out again
    expect(seen.intents).toHaveLength(3);
    bus.publish({ type: 'orchestrator.setThresholds', buy: 2 });
    expect(orch.stats.controlRejected).toBe(1);
    expect(orch.thresholds).toEqual({ buy: 1, sell: 0, minConfidence: 0 });
  });

  it('drops a failing model, reports it, and keeps blending the others', async () => {
    const { registry, seen, step, clock } = rig();
    registry.register('flaky', { version: 'f1', run: async () => {
      throw new Error('feature store unreachable');
    } }, clock.now());
    await step();
    expect(Object.keys(seen.decisions[0]!.weights).sort()).toEqual(['cnn', 'dqn']);
    expect(seen.statuses).toEqual([]);
    await step();
    expect(seen.statuses).toEqual([expect.objectContaining({ model: 'flaky', state: 'failed', consecutiveFailures: 2 })]);
    expect(seen.statuses[0]!.reason).toContain('feature store unreachable');
    await step();
    expect(seen.decisions).toHaveLength(3);
    expect(Object.keys(seen.decisions[2]!.weights).sort()).toEqual(['cnn', 'dqn']);
    expect(registry.list().find((m) => m.name === 'flaky')).toMatchObject({ health: 'failed', runs: 2 });
  });

  it('rolls a model back on the control message and the old version answers from the next tick', async () => {
    const { bus, registry, seen, step, clock, orch } = rig();
    registry.register('momentum', { version: 'm1', run: momentumRunner({ lookback: 5, scaleBps: 5 }) }, clock.now());
    orch.activate('momentum', 'm1'); // already active: a no-op status
    registry.register('momentum', { version: 'm2', run: momentumRunner({ lookback: 30, scaleBps: 20 }) }, clock.now(), { activate: true });
    await step();
    expect(seen.outputs.filter((o) => o.model === 'momentum').map((o) => o.version)).toEqual(['m2']);
    bus.publish({ type: 'orchestrator.rollback', model: 'momentum' });
    expect(seen.statuses.at(-1)).toMatchObject({ type: 'signal.modelStatus', model: 'momentum', version: 'm1', state: 'active', reason: 'rolled back from m2 to m1' });
    await step();
    expect(seen.outputs.filter((o) => o.model === 'momentum').map((o) => o.version)).toEqual(['m2', 'm1']);
    bus.publish({ type: 'orchestrator.rollback', model: 'momentum' }); // nothing older: refused, not thrown
    bus.publish({ type: 'orchestrator.rollback', model: 'nope' });
    expect(orch.stats.controlRejected).toBe(2);
  });

  it('drops the outputs of versions replaced during the tick: not published, blended, judged or saved under the new version', async () => {
    // Review finding 3: m@v2 was rolled back while it ran, k@k1 replaced (activation) after it had answered; both
    // outputs still went into the decision and into the accuracy record of the versions that replaced them.
    const registry = new ModelRegistry({ maxConsecutiveFailures: 2, coolDownMs: 60_000 });
    const t = bars[0]!.openTime;
    const gate = deferred();
    registry.register('m', { version: 'v1', run: says('SELL') }, t);
    registry.register('m', { version: 'v2', run: async (x, ctx) => {
      await gate.promise;
      return says('BUY')(x, ctx);
    } }, t, { activate: true });
    registry.register('k', { version: 'k1', run: says('BUY') }, t);
    registry.register('k', { version: 'k2', run: says('SELL') }, t);
    const memory = new InMemoryOrchestratorMemory();
    const { orch, seen, close, step } = rig(5_000, {}, { registry, memory });
    close(); // tick 1: k1 answers at once, m@v2 waits for the gate
    await new Promise((r) => setImmediate(r));
    const k1Answered = seen.outputs.map((o) => `${o.model}@${o.version}`);
    orch.activate('k', 'k2');
    orch.rollback('m');
    gate.resolve();
    await orch.idle();
    for (let k = 0; k < 7; k++) await step();
    orch.stop();

    expect(k1Answered).toEqual(['k@k1']);
    expect(seen.decisions[0]).toMatchObject({ action: 'HOLD', confidence: 0, weights: {} });
    expect(seen.decisions[1]).toMatchObject({ action: 'SELL', weights: { m: 0.5, k: 0.5 } });
    expect(seen.outputs.filter((o) => o.model === 'm').map((o) => o.version)).toEqual(Array(7).fill('v1'));
    // Ticks 2 to 8 tracked both models; the predictions of ticks 2 and 3 reached their 5 s horizon.
    expect(orch.evaluator.stats).toMatchObject({ tracked: 14, evaluated: 4 });
    expect(orch.accuracy.accuracy('m').evaluated).toBe(2);
    expect(memory.load()?.accuracy).toEqual({ m: { version: 'v1', outcomes: orch.accuracy.outcomes('m') }, k: { version: 'k2', outcomes: orch.accuracy.outcomes('k') } });
    expect(orch.accuracy.outcomes('m')).toHaveLength(2);
  });

  it('clears the pending intent at once when the executor rejects it before any exec.orderSubmitted', async () => {
    // Review finding 7: the executor rejects locally (not ready, circuit open, ...) under clientOrderIdFor(intent id)
    // with no exec.orderSubmitted; the intent stayed pending and blocked trading for the 30 s timeout.
    const { bus, seen, step, orch, clock } = rig();
    let executorReady = false;
    bus.subscribe('risk.intent', (m) => {
      if (!executorReady) bus.publish({ type: 'exec.orderRejected', clientOrderId: clientOrderIdFor(m.intent.id), code: 'EXECUTOR_NOT_READY', message: 'executor is reconciling', ts: clock.now() });
    });
    bus.publish({ type: 'orchestrator.setThresholds', buy: 0, sell: 1 }); // every blend is a BUY
    for (let k = 0; k < 3; k++) await step();
    const rejectedAtOnce = { intents: seen.intents.length, noIntent: { ...orch.stats.noIntent } };
    executorReady = true;
    await step(); // the fourth stays pending: a rejection of another intent's order does not settle it
    bus.publish({ type: 'exec.orderRejected', clientOrderId: clientOrderIdFor('moe-some-other-intent'), code: 'VENUE_CIRCUIT_OPEN', message: 'circuit open', ts: clock.now() });
    await step();

    expect(rejectedAtOnce).toEqual({ intents: 3, noIntent: {} });
    expect(seen.intents.map((x) => x.side)).toEqual(['buy', 'buy', 'buy', 'buy']);
    expect(orch.stats.noIntent).toEqual({ pending: 1 });
    expect(orch.stats.pendingTimeouts).toBe(0);
  });

  it('weighs models by their judged outcomes as ticks go by', async () => {
    const slow = rig();
    for (let k = 0; k < 10; k++) await slow.step();
    // Horizon 60 s: nothing judged within 10 s of ticks; the weights are still the prior's.
    expect(slow.orch.evaluator.stats).toMatchObject({ evaluated: 0, tracked: 20 });
    expect(slow.orch.weights()).toEqual({ cnn: 0.5, dqn: 0.5 });

    const { seen, step, orch } = rig(5_000);
    for (let k = 0; k < 30; k++) await step();
    // Horizon 5 s: the predictions of the first 25 ticks are judged against the real closes 5 s later.
    expect(orch.evaluator.stats).toMatchObject({ evaluated: 50, tracked: 60 });
    const cnn = orch.accuracy.accuracy('cnn');
    const dqn = orch.accuracy.accuracy('dqn');
    expect([cnn.evaluated, dqn.evaluated]).toEqual([25, 25]);
    const w = orch.weights();
    if (cnn.correct === dqn.correct) expect(w.cnn).toBeCloseTo(0.5, 9);
    else expect(w.cnn! > 0.5).toBe(cnn.correct > dqn.correct);
    const last = seen.decisions.at(-1)!.weights;
    expect(last.cnn).toBeCloseTo(w.cnn!, 12);
    expect(last.dqn).toBeCloseTo(w.dqn!, 12);
  });

  // A restarted replay decides at the same timestamps again: an intent id of the previous run would reach the executor
  // as an order it already has, and nothing would be sent.
  it('gives the intents of each start ids of their own, although a replay repeats the decision times', async () => {
    const memory = new InMemoryOrchestratorMemory();
    const ids: string[] = [];
    const ts: number[] = [];
    let registry: ModelRegistry | undefined;
    for (let start = 0; start < 3; start++) {
      const r = rig(60_000, {}, { memory, ...(registry ? { registry } : {}) });
      registry = r.registry;
      r.bus.publish({ type: 'orchestrator.setThresholds', buy: 0, sell: 1 }); // every blend is a BUY
      await r.step();
      ids.push(r.seen.intents[0]!.id);
      ts.push(r.seen.intents[0]!.ts);
      r.orch.stop();
    }
    expect(new Set(ts).size).toBe(1);
    expect(new Set(ids).size).toBe(3);
    expect(memory.load()?.starts).toBe(3);
  });

  it('comes back from a restart with the thresholds set at run time and the judged outcomes of the same versions', async () => {
    const memory = new InMemoryOrchestratorMemory();
    const first = rig(5_000, {}, { memory });
    for (let k = 0; k < 30; k++) await first.step();
    first.bus.publish({ type: 'orchestrator.setThresholds', buy: 0.7, minConfidence: 0.2 });
    const judged = { cnn: first.orch.accuracy.accuracy('cnn'), dqn: first.orch.accuracy.accuracy('dqn') };
    const weights = first.orch.weights();
    first.orch.stop();
    expect(judged.cnn.evaluated).toBe(25);

    const again = rig(5_000, {}, { memory, registry: first.registry });
    expect(again.orch.thresholds).toEqual({ buy: 0.7, sell: 0.6, minConfidence: 0.2 });
    expect(again.orch.accuracy.accuracy('cnn')).toEqual(judged.cnn);
    expect(again.orch.accuracy.accuracy('dqn')).toEqual(judged.dqn);
    expect(again.orch.weights()).toEqual(weights);
    // Judging goes on from there: the next outcome lands on the restored record.
    for (let k = 0; k < 7; k++) await again.step();
    expect(again.orch.accuracy.accuracy('cnn').evaluated).toBe(27);
    again.orch.stop();

    // A new CNN version starts from the prior (its outcomes were another model's); an edited config wins over the
    // thresholds set at run time, and a start after that does not bring them back.
    first.registry.register('cnn', { version: 'c2', run: featureCnn() }, first.clock.now(), { activate: true });
    const edited = { buy: 0.65, sell: 0.6, minConfidence: 0 };
    const third = rig(5_000, {}, { memory, registry: first.registry, thresholds: edited });
    expect(third.orch.thresholds).toEqual(edited);
    expect(third.orch.accuracy.accuracy('cnn').evaluated).toBe(0);
    expect(third.orch.accuracy.accuracy('dqn').evaluated).toBe(27);
    third.orch.stop();
    expect(memory.load()?.thresholds).toBeUndefined();
    const fourth = rig(5_000, {}, { memory, registry: first.registry, thresholds: edited });
    expect(fourth.orch.thresholds).toEqual(edited);
  });

  it('starts over, not down, from a stored state it cannot use (malformed outcomes, invalid thresholds)', () => {
    const memory = new InMemoryOrchestratorMemory();
    const base = settingsKey({ buy: 0.6, sell: 0.6, minConfidence: 0 });
    memory.save({ thresholds: { base, set: { buy: 7, sell: 0.6, minConfidence: 0 } }, accuracy: { cnn: { version: 'c1', outcomes: '01x1' }, dqn: { version: 'r1', outcomes: '0111' } } });
    const { orch } = rig(5_000, {}, { memory });
    expect(orch.thresholds).toEqual({ buy: 0.6, sell: 0.6, minConfidence: 0 });
    expect(orch.accuracy.accuracy('cnn').evaluated).toBe(0);
    expect(orch.accuracy.accuracy('dqn')).toMatchObject({ evaluated: 4, correct: 3 });
    // The unusable thresholds are dropped from the store at once, not met again at every start.
    expect(memory.load()?.thresholds).toBeUndefined();
  });

  // Review s19: an older dashboard stored buy 0 (every tick a BUY); the config and the dashboard refuse 0 now.
  it('drops a stored buy or sell threshold of 0 at start, as the config and the dashboard refuse it', () => {
    const base = settingsKey({ buy: 0.6, sell: 0.6, minConfidence: 0 });
    for (const set of [{ buy: 0, sell: 0.6, minConfidence: 0 }, { buy: 0.6, sell: 0, minConfidence: 0.1 }]) {
      const memory = new InMemoryOrchestratorMemory();
      memory.save({ thresholds: { base, set }, accuracy: {} });
      const { orch } = rig(5_000, {}, { memory });
      expect(orch.thresholds).toEqual({ buy: 0.6, sell: 0.6, minConfidence: 0 });
      expect(memory.load()?.thresholds).toBeUndefined();
      orch.stop();
    }
  });

  it('runs as a supervised xstate child and takes control events', async () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(world.end);
    const registry = new ModelRegistry();
    registry.register('cnn', { version: 'c1', run: featureCnn() }, clock.now());
    const handle = new OrchestratorHandle();
    const input = {
      bus, clock, registry, outputs: new ModelOutputStore(), input: (t: ReadyTick) => realInput(world, t.ts), thresholds: { buy: 0.6, sell: 0.6, minConfidence: 0.5 }, handle,
      memory: new InMemoryOrchestratorMemory(),
    };
    const actor = createActor(orchestratorActor, { input });
    actor.start();
    expect(handle.current).toBeDefined();
    actor.send({ type: 'orchestrator.setThresholds', buy: 0.7, minConfidence: 0.2 });
    expect(handle.current!.thresholds).toEqual({ buy: 0.7, sell: 0.6, minConfidence: 0.2 });
    actor.stop();
    expect(handle.current).toBeUndefined();
    // What the supervisor does after a throw: the same input, a new child. It runs with the thresholds set above.
    const restarted = createActor(orchestratorActor, { input });
    restarted.start();
    expect(handle.current!.thresholds).toEqual({ buy: 0.7, sell: 0.6, minConfidence: 0.2 });
    restarted.stop();
  });

  // Issue 6, over the bus with the real RiskManager machine: every intent the orchestrator sends is put to it, and its
  // verdicts and the fills reach both. Fills pay the paper venue's fee: 0.1% of what the order receives.
  function withRisk(trading: Partial<TradingOptions>) {
    const r = rig(60_000, trading);
    const risk = createActor(riskManager, { input: { limits: DEFAULT_LIMITS, instruments: [ETH], cash: money('10000') }, clock: r.clock });
    const verdicts: (OrderApproved | OrderDenied)[] = [];
    risk.on('risk.orderApproved', (e) => {
      verdicts.push(e);
      r.bus.publish(e);
    });
    risk.on('risk.orderDenied', (e) => {
      verdicts.push(e);
      r.bus.publish(e);
    });
    risk.start();
    r.bus.subscribe('md.trade', (m) => risk.send({ type: 'risk.mark', symbol: m.symbol, price: m.price, ts: m.tsLocal }));
    r.bus.subscribe('risk.intent', (m) => risk.send(m));
    r.bus.subscribe('exec.orderFilled', (m) => risk.send(m));
    let n = 0;
    const fillOf = (intent: OrderIntent): Fill => {
      const cid = clientOrderId(`c-${++n}`);
      r.bus.publish({ type: 'exec.orderSubmitted', clientOrderId: cid, intentId: intent.id, ts: r.clock.now() });
      const px = r.price();
      const fee = intent.side === 'buy' ? (BigInt(intent.lots) * 100_000n) / 1_000n : notional(ETH, px, intent.lots) / 1_000n;
      return {
        clientOrderId: cid, venueOrderId: venueOrderId(`v-${n}`), tradeId: `t-${n}`, venue: 'binance', symbol: 'ETH/USDT', side: intent.side, price: px,
        lots: intent.lots, fee: fee as Money, feeAsset: intent.side === 'buy' ? 'ETH' : 'USDT', liquidity: 'taker', ts: r.clock.now(),
      };
    };
    const fill = (intent: OrderIntent): void => r.bus.publish({ type: 'exec.orderFilled', fill: fillOf(intent), ts: r.clock.now() });
    return { ...r, risk, verdicts, fill };
  }

  it('sends a BUY cut to the order cap that the RiskManager approves', async () => {
    // 50% of 10 000 USDT wanted against the 1000 USDT order cap: the size is the cap's at the limit price.
    const { bus, seen, step, verdicts, risk } = withRisk({ policy: { orderType: 'limit', slippageBps: 10, sizing: { kind: 'fixed-fraction', fractionBps: 5_000 } } });
    bus.publish({ type: 'orchestrator.setThresholds', buy: 0, sell: 1 });
    await step();
    const buy = seen.intents[0]!;
    const over = notional(ETH, buy.price!, (buy.lots + 1) as Lots);

    expect(verdicts).toEqual([{ type: 'risk.orderApproved', intent: buy, ts: expect.any(Number) }]);
    expect(notional(ETH, buy.price!, buy.lots) <= DEFAULT_LIMITS.maxOrderNotional).toBe(true);
    expect(over > DEFAULT_LIMITS.maxOrderNotional).toBe(true); // cut to the cap, not below it
    risk.stop();
  });

  it('sizes by limits the RiskManager took at run time (risk.limitsChanged), so its BUY is approved, not denied', async () => {
    const { bus, seen, step, verdicts, risk } = withRisk({ policy: { orderType: 'limit', slippageBps: 10, sizing: { kind: 'fixed-fraction', fractionBps: 5_000 } } });
    risk.on('risk.limitsChanged', (e) => bus.publish(e));
    bus.subscribe('risk.setLimits', (m) => risk.send(m));
    bus.publish({ type: 'risk.setLimits', limits: { maxOrderNotional: money('300') }, ts: bars[0]!.openTime });
    bus.publish({ type: 'orchestrator.setThresholds', buy: 0, sell: 1 });
    await step();
    const buy = seen.intents[0]!;
    expect(verdicts).toEqual([{ type: 'risk.orderApproved', intent: buy, ts: expect.any(Number) }]);
    expect(notional(ETH, buy.price!, buy.lots) <= money('300')).toBe(true);
    expect(notional(ETH, buy.price!, (buy.lots + 1) as Lots) > money('300')).toBe(true);
    risk.stop();
  });

  it('buys again after a round trip whose buy fee left dust, selling only what it holds', async () => {
    const { bus, seen, step, verdicts, fill, orch, risk } = withRisk({});
    const act = async (buy: number, sell: number): Promise<void> => {
      bus.publish({ type: 'orchestrator.setThresholds', buy, sell });
      await step();
    };
    await act(0, 1);
    const buy1 = seen.intents[0]!;
    fill(buy1); // pays 0.1% of the lots in ETH: base held < lots bought
    await act(1, 0);
    const sell = seen.intents[1]!;
    fill(sell);
    const dust = orch.positionLots;
    await act(0, 1);
    const buy2 = seen.intents[2];

    expect(sell).toMatchObject({ side: 'sell', reduceOnly: true, lots: buy1.lots - Math.ceil(buy1.lots / 1_000) });
    expect(dust).toBe(0); // the fee took the rest of the traded lots: under one lot held is flat
    expect(buy2).toMatchObject({ side: 'buy', reduceOnly: false });
    expect(verdicts.map((v) => v.type)).toEqual(['risk.orderApproved', 'risk.orderApproved', 'risk.orderApproved']);
    expect(orch.stats.noIntent['alreadyLong']).toBeUndefined();
    risk.stop();
  });

  it('starts from a seeded position: no second buy on BUY, sells the held lots on SELL', async () => {
    // 0.2 ETH bought with a 0.0002 ETH fee before the restart: 2000 lots traded, 1998 held.
    const seed: Portfolio = applyFill(emptyPortfolio('USDT', money('10000')), ETH, {
      clientOrderId: clientOrderId('c-0'), venueOrderId: venueOrderId('v-0'), tradeId: 't-0', venue: 'binance', symbol: 'ETH/USDT', side: 'buy',
      price: 260_000 as Ticks, lots: 2_000 as Lots, fee: 200_000n as Money, feeAsset: 'ETH', liquidity: 'taker', ts: 0,
    });
    const { bus, seen, step, orch } = rig(60_000, { initialPortfolio: () => seed });
    bus.publish({ type: 'orchestrator.setThresholds', buy: 0, sell: 1 });
    await step();
    const afterBuy = seen.intents.length;
    bus.publish({ type: 'orchestrator.setThresholds', buy: 1, sell: 0 });
    await step();

    expect(afterBuy).toBe(0);
    expect(orch.stats.noIntent['alreadyLong']).toBe(1);
    expect(seen.intents).toEqual([expect.objectContaining({ side: 'sell', lots: 1_998, reduceOnly: true })]);
    expect(() => rig(60_000, { initialPortfolio: emptyPortfolio('BTC', money('1')) })).toThrow(ConfigError);
  });
});

describe('horizonVolatility', () => {
  // The definition it must keep: copies of the 1m close and present columns, the returns in an array, reduce sums.
  function reference(bdi: Float32Array, horizonMs: number): number | undefined {
    const close = bdiSeriesFeature(bdi, 'primary1m', 'close');
    const present = bdiSeriesFeature(bdi, 'primary1m', 'present');
    const r: number[] = [];
    for (let t = BDI_FRAMES - 60; t < BDI_FRAMES; t++) {
      if (present[t] === 1 && present[t - 1] === 1) r.push(Math.log((1 + close[t]!) / (1 + close[t - 1]!)));
    }
    if (r.length < 20) return undefined;
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1));
    return sd * Math.sqrt(Math.max(horizonMs, 60_000) / 60_000);
  }

  it('gives the very same double as the column-copy definition on real inputs, with gaps and with too few bars', () => {
    const present = SERIES_NAMES.indexOf('primary1m') * FEATURES_PER_SERIES + SERIES_FEATURE_NAMES.indexOf('present');
    let defined = 0;
    for (const c of bars.slice(0, 10)) {
      const data = realInput(world, c.openTime + 1_000).data.slice();
      for (const h of [30_000, 60_000, 300_000]) {
        const v = horizonVolatility(data, h);
        expect(v).toBe(reference(data, h));
        if (v !== undefined) defined++;
      }
      // Holes in the newest hour: fewer returns, still the same value; then too few for any.
      for (let t = BDI_FRAMES - 50; t < BDI_FRAMES; t += 7) data[t * SERIES_FEATURES + present] = 0;
      expect(horizonVolatility(data, 60_000)).toBe(reference(data, 60_000));
      for (let t = BDI_FRAMES - 45; t < BDI_FRAMES; t++) data[t * SERIES_FEATURES + present] = 0;
      expect(horizonVolatility(data, 60_000)).toBeUndefined();
    }
    expect(defined).toBe(30);
  });
});
