import { describe, expect, it } from 'vitest';
import { momentumRunner } from '../../../actors/model-agents/momentum.ts';
import { bdiRlState, ModelDependencyError, rlRunner, softmax } from '../../../actors/model-agents/rl-agent.ts';
import { BDI_LENGTH, bdiSeriesFeature } from '../../../engine/market/base-data-input.ts';
import { DqnAgent, dqnConfig } from '../../../models/dqn/agent.ts';
import { loadRealWorld, realInput } from '../orchestrator/real-input.ts';

const ctx = { model: 'dqn', version: 'd1', symbol: 'ETH/USDT', ts: 0, deps: new Map() };

describe('RL agent runner', () => {
  const world = loadRealWorld();
  const input = realInput(world, world.end).data;
  const stateOf = bdiRlState(30);
  const stateSize = stateOf(new Float32Array(BDI_LENGTH)).length;

  it('takes argmax Q as the action, softmax(Q) as pseudo-probabilities and max Q as the value, with a real DQN', async () => {
    const agent = new DqnAgent(dqnConfig({ stateSize, actions: 3, hidden: [8], seed: 11 }));
    const o = await rlRunner({ q: agent, state: stateOf, stateSize, temperature: 0.5 })(input, ctx);
    const q = Array.from(agent.qValues(stateOf(input)));
    const p = softmax(q, 0.5);
    const best = q.indexOf(Math.max(...q));
    expect(o.probabilities).toEqual(p);
    expect(o).toMatchObject({ action: ['BUY', 'SELL', 'HOLD'][best], confidence: p[best], extra: { qValues: q, value: q[best], temperature: 0.5 } });
    // The state is the newest 30 packed 1m closes, then the COB, model and CNN-hidden slots.
    expect(Array.from(stateOf(input).subarray(0, 30))).toEqual(Array.from(bdiSeriesFeature(input, 'primary1m', 'close').subarray(270)));
  });

  it('maps a network with another action order back to BUY, SELL, HOLD', async () => {
    const q = { qValues: () => [3, 1, 2] }; // HOLD, BUY, SELL
    const o = await rlRunner({ q, state: stateOf, actionOrder: ['HOLD', 'BUY', 'SELL'] })(input, ctx);
    const p = softmax([3, 1, 2]);
    expect(o.probabilities).toEqual([p[1], p[2], p[0]]);
    expect(o).toMatchObject({ action: 'HOLD', extra: { qValues: [1, 2, 3], value: 3 } });
  });

  // Review finding 1 (RL side): a CNN-bound DQN answered on the stale CNN output the DataProvider packed.
  it('refuses to answer without a same-tick output of a model it requires, and answers with one', async () => {
    const asked: Float32Array[] = [];
    const run = rlRunner({ q: { qValues: (s) => (asked.push(s), [1, 2, 3]) }, state: stateOf, requires: ['cnn'] });
    const cnn = { model: 'cnn', version: 'c1', symbol: 'ETH/USDT', ts: 0, action: 'HOLD' as const, probabilities: [0.2, 0.2, 0.6] as [number, number, number], confidence: 0.6 };
    const without = run(input, { ...ctx, deps: new Map([['momentum', { ...cnn, model: 'momentum' }]]) });
    await expect(without).rejects.toThrow(ModelDependencyError);
    await expect(without).rejects.toThrow(/RL agent dqn d1: no same-tick output of cnn/);
    expect(asked).toHaveLength(0); // the Q-network never saw the stale state
    await expect(run(input, { ...ctx, deps: new Map([['cnn', cnn]]) })).resolves.toMatchObject({ action: 'HOLD' });
  });

  it('rejects a wrong state size, bad Q-values and a bad action order', async () => {
    await expect(rlRunner({ q: { qValues: () => [1, 2, 3] }, state: stateOf, stateSize: 5 })(input, ctx)).rejects.toThrow(`state has ${stateSize} values, the Q-network takes 5`);
    await expect(rlRunner({ q: { qValues: () => [1, Number.NaN, 3] }, state: stateOf })(input, ctx)).rejects.toThrow(/expected 3 finite values/);
    expect(() => rlRunner({ q: { qValues: () => [] }, state: stateOf, actionOrder: ['BUY', 'BUY', 'SELL'] })).toThrow(/actionOrder/);
  });
});

describe('momentum rule', () => {
  it('reads the real 1m move over its lookback and leans that way', async () => {
    const world = loadRealWorld();
    const input = realInput(world, world.end).data;
    const closes = world.primary['1m'].filter((c) => c.openTime + 60_000 <= world.end);
    const want = (closes.at(-1)!.close / closes.at(-6)!.close - 1) * 10_000;
    const o = await momentumRunner({ lookback: 5, scaleBps: 5 })(input, { ...ctx, model: 'momentum' });
    expect(o.extra!.momentumBps as number).toBeCloseTo(want, 2);
    expect(o.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(o.action).toBe(want > 0 ? 'BUY' : 'SELL');
  });
});
