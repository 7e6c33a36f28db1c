import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mlp, Adam } from '../../models/dqn/mlp.ts';
import { Rng } from '../../models/dqn/rng.ts';
import { SumTree } from '../../models/dqn/sum-tree.ts';
import { PrioritisedReplay } from '../../models/dqn/replay.ts';
import { betaAt, epsilonAt } from '../../models/dqn/schedule.ts';
import { DqnAgent, dqnConfig } from '../../models/dqn/agent.ts';
import { evaluateGreedy, runEpisode } from '../../models/dqn/loop.ts';
import type { Env, StepResult } from '../../models/dqn/env.ts';
import { loadDqn, saveDqn } from '../../models/dqn/io.ts';
import { InputValidationError } from '../../engine/types/errors.ts';

describe('MLP', () => {
  it('backward matches a numerical gradient', () => {
    const rng = new Rng(3);
    const net = new Mlp([5, 7, 6, 3], rng);
    const B = 4;
    const x = Float32Array.from({ length: B * 5 }, () => rng.normal());
    const w = Float32Array.from({ length: B * 3 }, () => rng.normal());
    // loss = Σ w·out, so dLoss/dOut = w.
    const loss = (): number => { const o = net.forward(x, B); let s = 0; for (let k = 0; k < o.length; k++) s += w[k] * o[k]; return s; };
    loss();
    net.backward(w);
    const analytic = net.grads.slice();
    let worst = 0;
    for (let k = 0; k < net.params.length; k++) {
      const orig = net.params[k];
      const h = 1e-3; // small enough not to cross a ReLU kink here, large enough for float32
      net.params[k] = orig + h; const up = loss();
      net.params[k] = orig - h; const down = loss();
      net.params[k] = orig;
      worst = Math.max(worst, Math.abs((up - down) / (2 * h) - analytic[k]) / Math.max(1, Math.abs(analytic[k])));
    }
    expect(worst).toBeLessThan(1e-2);
  });

  it('fits a small regression with Adam', () => {
    const rng = new Rng(5);
    const net = new Mlp([2, 16, 1], rng);
    const opt = new Adam(net, 1e-2);
    const B = 32;
    const x = new Float32Array(B * 2), y = new Float32Array(B), d = new Float32Array(B);
    let mse = 0;
    for (let it = 0; it < 1500; it++) {
      for (let b = 0; b < B; b++) { x[2 * b] = rng.uniform(-1, 1); x[2 * b + 1] = rng.uniform(-1, 1); y[b] = x[2 * b] * 2 - x[2 * b + 1]; }
      const o = net.forward(x, B);
      mse = 0;
      for (let b = 0; b < B; b++) { d[b] = (2 * (o[b] - y[b])) / B; mse += (o[b] - y[b]) ** 2 / B; }
      net.backward(d);
      opt.step();
    }
    expect(mse).toBeLessThan(0.01);
  });

  it('clips the global gradient norm', () => {
    const net = new Mlp([2, 3, 2], new Rng(1));
    net.grads.fill(1);
    const before = net.clipGradNorm(2);
    expect(before).toBeCloseTo(Math.sqrt(net.grads.length), 5);
    expect(Math.hypot(...net.grads)).toBeCloseTo(2, 5);
  });
});

describe('sum tree and prioritised replay', () => {
  it('samples slots in proportion to their priority', () => {
    const tree = new SumTree(5); // not a power of two: padding must never be sampled
    const p = [1, 0, 3, 6, 10];
    p.forEach((v, i) => tree.set(i, v));
    expect(tree.total()).toBe(20);
    expect(tree.min()).toBe(0);
    const rng = new Rng(11);
    const hits = new Array(8).fill(0);
    const N = 40_000;
    for (let k = 0; k < N; k++) hits[tree.find(rng.next() * tree.total())]++;
    for (let i = 0; i < 5; i++) expect(hits[i] / N).toBeCloseTo(p[i] / 20, 2);
    expect(hits.slice(5).every((h) => h === 0)).toBe(true);
    expect(tree.find(20)).toBe(4); // u at the very top lands on a real slot
  });

  it('prioritises by TD error and realised pnl, with IS weights ≤ 1 favouring rare samples', () => {
    const rb = new PrioritisedReplay({ capacity: 4, stateSize: 1, alpha: 1, priorityEps: 0.01, pnlBonus: 2 });
    for (let i = 0; i < 4; i++) rb.add({ state: [i], action: 0, reward: 0, nextState: [i], done: false, realisedPnl: i === 3 ? 1.5 : 0 });
    expect(rb.priority(3)).toBeCloseTo(1 + 2 * 1.5, 6); // max TD priority (1 at start) + bonus
    rb.updatePriorities([0, 1, 2, 3], [0, 1, 0.5, 0]);
    expect(rb.priority(0)).toBeCloseTo(0.01, 6);
    expect(rb.priority(1)).toBeCloseTo(1.01, 6);
    expect(rb.priority(3)).toBeCloseTo(0.01 + 3, 6);
    const b = rb.sample(64, 1, new Rng(2));
    const counts = [0, 0, 0, 0];
    b.slots.forEach((s) => counts[s]++);
    expect(counts[3]).toBeGreaterThan(counts[1]);
    expect(counts[1]).toBeGreaterThan(counts[0]);
    const w = (s: number): number => b.weights[b.slots.indexOf(s)];
    expect(Math.max(...b.weights)).toBeLessThanOrEqual(1);
    expect(w(1)).toBeGreaterThan(w(3)); // the less likely sample gets the larger correction
    expect(b.states[b.slots.indexOf(3)]).toBe(3);
  });

  it('overwrites the oldest transition when full', () => {
    const rb = new PrioritisedReplay({ capacity: 2, stateSize: 1, alpha: 0.6, priorityEps: 0.01, pnlBonus: 0 });
    expect(rb.add({ state: [0], action: 0, reward: 0, nextState: [0], done: false })).toBe(0);
    rb.add({ state: [1], action: 0, reward: 0, nextState: [1], done: false });
    expect(rb.add({ state: [2], action: 0, reward: 0, nextState: [2], done: false })).toBe(0);
    expect(rb.size).toBe(2);
    expect(() => rb.add({ state: [1, 2], action: 0, reward: 0, nextState: [1], done: false })).toThrow(InputValidationError);
  });
});

describe('schedules', () => {
  it.each([
    [0, 1], [500, 0.525], [1000, 0.05], [5000, 0.05],
  ])('linear ε at step %i is %f', (step, eps) => {
    expect(epsilonAt({ kind: 'linear', start: 1, end: 0.05, steps: 1000 }, step)).toBeCloseTo(eps, 10);
  });

  it('exponential ε decays geometrically toward its floor', () => {
    const s = { kind: 'exponential' as const, start: 1, end: 0.1, decay: 0.99 };
    expect(epsilonAt(s, 0)).toBe(1);
    expect(epsilonAt(s, 100)).toBeCloseTo(0.1 + 0.9 * 0.99 ** 100, 12);
    expect(epsilonAt(s, 100_000)).toBeCloseTo(0.1, 10);
  });

  it('β anneals linearly to 1', () => {
    expect(betaAt(0.4, 100, 0)).toBe(0.4);
    expect(betaAt(0.4, 100, 50)).toBeCloseTo(0.7, 12);
    expect(betaAt(0.4, 100, 200)).toBe(1);
  });
});

/** A corridor of n cells, start at 0; action 1 moves right, 0 left; reaching n−1 pays 1 and ends. */
class Chain implements Env {
  readonly actionCount = 2;
  private pos = 0;
  private t = 0;
  constructor(readonly stateSize: number) {}
  private obs(): Float32Array { const s = new Float32Array(this.stateSize); s[this.pos] = 1; return s; }
  reset(): Float32Array { this.pos = 0; this.t = 0; return this.obs(); }
  step(a: number): StepResult {
    this.pos = Math.max(0, Math.min(this.stateSize - 1, this.pos + (a === 1 ? 1 : -1)));
    this.t++;
    const done = this.pos === this.stateSize - 1;
    return { state: this.obs(), reward: done ? 1 : 0, terminated: done, truncated: !done && this.t >= 4 * this.stateSize };
  }
}

describe('DQN agent', () => {
  const small = (seed: number) => dqnConfig({
    stateSize: 6, actions: 2, hidden: [32], lr: 5e-3, gamma: 0.9, batchSize: 32, replayCapacity: 5000,
    learningStarts: 100, target: { kind: 'hard', every: 50 }, epsilon: { kind: 'linear', start: 1, end: 0.05, steps: 1500 }, seed,
  });

  it('learns a chain walk: greedy policy reaches the goal in the fewest steps', () => {
    const agent = new DqnAgent(small(1));
    const env = new Chain(6);
    for (let ep = 0; ep < 150; ep++) runEpisode(agent, env, true);
    const e = evaluateGreedy(agent, env, 1);
    expect(e.mean).toBe(1);
    expect(runEpisode(agent, env, false).steps).toBe(5);
    // Q reflects discounting: the value one step from the goal is ≈ 1, at the start ≈ γ⁴.
    const near = new Float32Array(6); near[4] = 1;
    const start = new Float32Array(6); start[0] = 1;
    expect(agent.value(near)).toBeCloseTo(1, 1);
    expect(agent.value(start)).toBeCloseTo(0.9 ** 4, 1);
  });

  it('an untrained agent does not solve the chain (the test above can fail)', () => {
    const agent = new DqnAgent(small(1));
    expect(runEpisode(agent, new Chain(6), false).reward).toBe(0);
  });

  it('target network lags the online network until the hard update', () => {
    const agent = new DqnAgent(small(2));
    const env = new Chain(6);
    expect(agent.target.params).toEqual(agent.online.params);
    while (agent.updates < 1) runEpisode(agent, env, true);
    // Stop between target syncs: keep stepping until the online net has moved past the last sync.
    let state = env.reset();
    while (agent.updates % 50 === 0) {
      const a = agent.act(state); const r = env.step(a);
      agent.observe({ state, action: a, reward: r.reward, nextState: r.state, done: r.terminated });
      state = r.terminated || r.truncated ? env.reset() : r.state;
    }
    expect(agent.target.params).not.toEqual(agent.online.params);
    while (agent.updates % 50 !== 0) agent.trainStep();
    expect(agent.target.params).toEqual(agent.online.params);
  });

  it('soft target updates move the target a fraction τ toward the online net', () => {
    const agent = new DqnAgent({ ...small(3), target: { kind: 'soft', tau: 0.1 }, learningStarts: 10 ** 9 });
    for (let i = 0; i < 64; i++) agent.observe({ state: new Float32Array(6), action: i % 2, reward: 1, nextState: new Float32Array(6), done: true });
    const before = agent.target.params.slice();
    agent.trainStep();
    const k = agent.online.params.findIndex((v, i) => v !== before[i]);
    expect(k).toBeGreaterThanOrEqual(0);
    expect(agent.target.params[k]).toBeCloseTo(before[k] + 0.1 * (agent.online.params[k] - before[k]), 6);
  });

  it('is deterministic for a seed and saves/loads its weights exactly', () => {
    const a = new DqnAgent(small(7)), b = new DqnAgent(small(7));
    const ea = new Chain(6), eb = new Chain(6);
    for (let ep = 0; ep < 20; ep++) { runEpisode(a, ea, true); runEpisode(b, eb, true); }
    expect(a.online.params).toEqual(b.online.params);
    const dir = mkdtempSync(join(tmpdir(), 'dqn-'));
    try {
      saveDqn(a, dir, { note: 'test' });
      const c = loadDqn(dir);
      expect(c.online.params).toEqual(a.online.params);
      expect(c.target.params).toEqual(a.online.params);
      const s = new Float32Array(6); s[2] = 1;
      expect(c.qValues(s)).toEqual(a.qValues(s));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects states of the wrong size and actions out of range', () => {
    const agent = new DqnAgent(small(1));
    expect(() => agent.act([1, 2])).toThrow(InputValidationError);
    expect(() => agent.observe({ state: new Float32Array(6), action: 2, reward: 0, nextState: new Float32Array(6), done: false })).toThrow(InputValidationError);
  });
});
