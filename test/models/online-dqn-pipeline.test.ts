// The DQN's online pipeline (models/online/dqn-pipeline.ts, dqn-finetune.ts) on a synthetic decision sequence where a
// better policy exists: one state feature says whether the next decision's price is higher. A fine-tune that learns to
// follow it trades the held-out decisions better than the live network and is promoted; one that takes no gradient
// step is not; the held-out decisions never reach training; a gap in the decisions splits the sequence.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rlRunner } from '../../actors/model-agents/rl-agent.ts';
import { ModelRegistry } from '../../actors/orchestrator/registry.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { CheckpointStore } from '../../models/checkpoints.ts';
import { DqnAgent, dqnConfig } from '../../models/dqn/agent.ts';
import { loadDqn } from '../../models/dqn/io.ts';
import { QNetwork } from '../../models/dqn/qnet.ts';
import { Rng } from '../../models/dqn/rng.ts';
import { dqnBudgetProblem, fineTuneDqn, type DqnFineTuneSpec } from '../../models/online/dqn-finetune.ts';
import { DqnPipeline, dqnSegments, splitDecisions, type DqnDecision, type DqnLearnSettings, type DqnTrainer } from '../../models/online/dqn-pipeline.ts';

const MIN = 60_000;
const EVERY = 5; // minutes between decisions
const T0 = Date.parse('2024-08-06T00:00:00Z');
const root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-dqn-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// n decisions 5 minutes apart; state [signal, id, 1]: signal +1 when the next price is higher, else −1 (±0.6 % steps,
// three times the round-trip fee). `id` marks the decision, to trace where each one went.
function decisions(n: number, seed = 7): DqnDecision[] {
  const rng = new Rng(seed);
  const price: number[] = [100];
  for (let i = 1; i <= n; i++) price.push(price[i - 1]! * (rng.next() < 0.5 ? 1.006 : 1 / 1.006));
  return Array.from({ length: n }, (_, i) => ({
    ts: (T0 + (i + 1) * EVERY * MIN + 10_000) as TsMs, barOpenMs: (T0 + (i + 1) * EVERY * MIN - MIN) as TsMs,
    state: Float32Array.of(price[i + 1]! > price[i]! ? 1 : -1, i / 1000, 1), price: price[i]!,
  }));
}

const liveConfig = dqnConfig({ stateSize: 3, actions: 3, hidden: [16], seed: 11, learningStarts: 64, trainEvery: 1, batchSize: 32, lr: 1e-2, target: { kind: 'hard', every: 200 } });
const liveParams = new DqnAgent(liveConfig).online.params.slice();
const SETTINGS: DqnLearnSettings = { heldOutFraction: 0.3, minTrain: 100, minHeldOut: 50, minReturnGain: 0.001, episodes: 300, maxSteps: 6_000, episodeLength: 48, learningRate: 1e-2, epsilonStart: 0.3 };
// The worker thread's task, run in this process (the daemon test runs it in the thread).
const inProcess = (seen?: DqnFineTuneSpec[]): DqnTrainer => ({ train: async (spec) => { seen?.push(spec); return fineTuneDqn(spec); }, close: async () => {} });

function pipeline(name: string, trainer: DqnTrainer, settings: Partial<DqnLearnSettings> = {}) {
  const clock = new SimulatedClock(T0 + 2 * 86_400_000);
  const registry = new ModelRegistry();
  const networks: unknown[] = [];
  const runnerFor = (q: QNetwork) => { networks.push(q); return rlRunner({ q, state: (x) => x, stateSize: 3 }); };
  registry.register('dqn', { version: 'v000001', run: runnerFor(new QNetwork([3, 16, 3], liveParams)) }, clock.now(), { activate: true });
  const p = new DqnPipeline({
    registry, checkpoints: new CheckpointStore({ root: path.join(root, name), clock }), trainer, clock,
    live: { version: 'v000001', config: liveConfig, params: liveParams }, runnerFor, everyMinutes: EVERY, feeRate: 0.001, rewardScale: 100,
    settings: { ...SETTINGS, ...settings }, base: 'v000001', baseSha256: 'f'.repeat(64), versionPrefix: 'online-',
    input: { kind: 'synthetic', size: 3 },
  });
  return { p, registry, root: path.join(root, name), networks };
}

const ids = (states: Float32Array): number[] => Array.from({ length: states.length / 3 }, (_, i) => Math.round(states[i * 3 + 1]! * 1000));

describe('online DQN pipeline', () => {
  it('promotes a candidate that learns the better policy, keeping the held-out decisions out of its training', async () => {
    const seen: DqnFineTuneSpec[] = [];
    const { p, registry, root: dir, networks } = pipeline('learns', inProcess(seen));
    const run = await p.runOnce(decisions(400));
    // 400 decisions: the newest 120 held out, the 280 before them train.
    expect(run).toMatchObject({ trainDecisions: 280, heldOutDecisions: 120, trainSegments: 1, heldOutSegments: 1 });
    const [spec] = seen;
    const trainIds = spec!.train.flatMap((s) => ids(s.states));
    const heldIds = spec!.heldOut.flatMap((s) => ids(s.states));
    expect(trainIds).toEqual(Array.from({ length: 280 }, (_, i) => i));
    expect(heldIds).toEqual(Array.from({ length: 120 }, (_, i) => 280 + i));
    // The last training transition ends at the last training decision's price, not a held-out one.
    expect(spec!.train[0]!.price.length).toBe(280);
    expect(run.candidate!.return).toBeGreaterThan(run.live!.return + 0.05);
    expect(run.candidate!.return).toBeGreaterThan(0);
    expect(run.promoted).toBe(true);
    expect(run.reason).toMatch(/^held-out return .* vs live .* \(flat 0%\): gain .* > 0\.100% \(lower bound .* at 0\.95\), not worse than flat \(lower bound .*\)$/);
    expect(run.gainLowerBound).toBeGreaterThan(0.001);
    expect(run.gainLowerBound).toBeLessThan(run.candidate!.return - run.live!.return);
    expect(registry.active('dqn')!.version).toBe('online-v000001');
    expect(registry.list()[0]!.rollbackTo).toEqual(['v000001']);
    // Saved with saveDqn beside its provenance; the saved network is the live architecture with the candidate's weights.
    const saved = loadDqn(run.checkpointDir!);
    expect(saved.config).toEqual(liveConfig);
    const provenance = JSON.parse(readFileSync(path.join(run.checkpointDir!, 'online.json'), 'utf8')) as Record<string, unknown>;
    expect(provenance).toMatchObject({
      base: 'v000001', parent: 'v000001', trainDecisions: 280, heldOutDecisions: 120, live: run.live, candidate: run.candidate, flat: 0, feeRate: 0.001, rewardScale: 100, everyMinutes: EVERY,
      span: { train: { fromMs: T0 + 4 * MIN, toMs: T0 + 280 * EVERY * MIN - MIN }, heldOut: { fromMs: T0 + 281 * EVERY * MIN - MIN, toMs: T0 + 400 * EVERY * MIN - MIN } },
    });
    expect(path.dirname(path.dirname(run.checkpointDir!))).toBe(dir);
    // The promoted version answers as the candidate does: long on a rising signal.
    const out = await registry.active('dqn')!.run(Float32Array.of(1, 0, 1), { model: 'dqn', version: 'online-v000001', symbol: 'X', ts: 0, deps: new Map() });
    expect(out.action).toBe('BUY');
    // Its runner holds only the network's weights (no agent, no replay), which answer as the saved agent does.
    const net = networks.at(-1)!;
    expect(net).toBeInstanceOf(QNetwork);
    expect(Object.values(net as object).some((v) => v instanceof DqnAgent)).toBe(false);
    expect((net as QNetwork).qValues(Float32Array.of(1, 0.5, 1))).toEqual(saved.qValues(Float32Array.of(1, 0.5, 1)));
    // An operator rolls it back: no rollback reaches it any more, so the next run (or prune) removes it from the registry.
    registry.rollback('dqn', 0);
    expect(registry.list()[0]!.versions).toEqual(['v000001', 'online-v000001']);
    p.prune();
    expect(registry.list()[0]).toMatchObject({ active: 'v000001', versions: ['v000001'] });
  }, 60_000);

  it('fails a run whose fine-tune took no gradient step, and says which settings never can', async () => {
    // A budget below learningStarts: no gradient step, the candidate would be the live network.
    const { p, registry, root: dir } = pipeline('nothing', inProcess(), { episodes: 1, maxSteps: 10, episodeLength: 10 });
    await expect(p.runOnce(decisions(400))).rejects.toThrow(/^DQN fine-tune took no gradient step in 10 environment steps \(1 episodes\): raise models\.online\.dqn episodes × episodeLength \(1 × 10\) or maxSteps \(10\)/);
    expect(registry.active('dqn')!.version).toBe('v000001');
    expect(existsSync(path.join(dir, 'dqn'))).toBe(false);
    const ft = { learningRate: 1e-3, epsilonStart: 0.1, seed: 1 };
    // The bundled DQN's learningStarts 288 and batch 64: 5 episodes of 48 steps never train, 8 of 48 do.
    const bundledLike = { ...liveConfig, learningStarts: 288, batchSize: 64 };
    expect(dqnBudgetProblem(bundledLike, { ...ft, episodes: 5, maxSteps: 10_000, episodeLength: 48 })).toBe(
      'the fine-tune can take at most min(maxSteps 10000, episodes 5 × episodeLength 48) = 240 environment steps, not more than learningStarts 288 + batch 64 = 352: it would take fewer than a batch of gradient steps');
    expect(dqnBudgetProblem(bundledLike, { ...ft, episodes: 8, maxSteps: 10_000, episodeLength: 48 })).toBeUndefined();
  });

  it('splits the sequence where a decision is missing, and runs only with enough decisions', async () => {
    const all = decisions(400);
    const gappy = all.filter((_, i) => i !== 100 && i !== 101);
    const split = splitDecisions(gappy, 0.3, EVERY);
    expect(split.train.map((s) => s.length)).toEqual([100, 179]);
    expect(split.heldOut.map((s) => s.length)).toEqual([119]);
    // A lone decision between two gaps holds no transition and is left out.
    expect(dqnSegments(all.filter((_, i) => i !== 10 && i !== 12), EVERY).map((s) => s.length)).toEqual([10, 1, 387]);
    expect(splitDecisions(all.filter((_, i) => i !== 10 && i !== 12), 0.3, EVERY).train.map((s) => s.length)).toEqual([10, 268]);
    const { p } = pipeline('few', { train: () => Promise.reject(new Error('not asked')), close: async () => {} });
    expect(await p.runOnce(all.slice(0, 120))).toMatchObject({ promoted: false, reason: 'not enough decisions: 84 to train (need 100), 36 held out (need 50)' });
  });

});
