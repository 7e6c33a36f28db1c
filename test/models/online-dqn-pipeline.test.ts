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
import { Rng } from '../../models/dqn/rng.ts';
import { fineTuneDqn, type DqnFineTuneSpec, type DqnScore } from '../../models/online/dqn-finetune.ts';
import { decideDqnPromotion, DqnPipeline, dqnSegments, splitDecisions, type DqnDecision, type DqnLearnSettings, type DqnTrainer } from '../../models/online/dqn-pipeline.ts';

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
  const runnerFor = (agent: DqnAgent) => rlRunner({ q: agent, state: (x) => x, stateSize: 3 });
  registry.register('dqn', { version: 'v000001', run: runnerFor(new DqnAgent(liveConfig)) }, clock.now(), { activate: true });
  const p = new DqnPipeline({
    registry, checkpoints: new CheckpointStore({ root: path.join(root, name), clock }), trainer, clock,
    live: { version: 'v000001', config: liveConfig, params: liveParams }, runnerFor, everyMinutes: EVERY, feeRate: 0.001, rewardScale: 100,
    settings: { ...SETTINGS, ...settings }, base: 'v000001', baseSha256: 'f'.repeat(64), versionPrefix: 'online-',
    input: { kind: 'synthetic', size: 3 },
  });
  return { p, registry, root: path.join(root, name) };
}

const ids = (states: Float32Array): number[] => Array.from({ length: states.length / 3 }, (_, i) => Math.round(states[i * 3 + 1]! * 1000));

describe('online DQN pipeline', () => {
  it('promotes a candidate that learns the better policy, keeping the held-out decisions out of its training', async () => {
    const seen: DqnFineTuneSpec[] = [];
    const { p, registry, root: dir } = pipeline('learns', inProcess(seen));
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
    expect(run.reason).toMatch(/^held-out return .* vs live .* \(flat 0%\): gain .* > 0\.100%, not worse than flat$/);
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
  }, 60_000);

  it('keeps the live version when the candidate learned nothing', async () => {
    // A budget below learningStarts: no gradient step, the candidate is the live network.
    const { p, registry, root: dir } = pipeline('nothing', inProcess(), { episodes: 1, maxSteps: 10, episodeLength: 10 });
    const run = await p.runOnce(decisions(400));
    expect(run.candidate).toEqual(run.live);
    expect(run.promoted).toBe(false);
    expect(run.reason).toMatch(/: gain 0\.000% ≤ 0\.100%$/);
    expect(registry.active('dqn')!.version).toBe('v000001');
    expect(existsSync(path.join(dir, 'dqn'))).toBe(false);
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

  const score = (ret: number): DqnScore => ({ return: ret, fees: 0, trades: 1, exposure: 0.5, steps: 60 });
  it.each([
    ['beats the live version and flat', -0.01, 0.004, true],
    ['beats the live version by too little', 0.01, 0.0105, false],
    ['beats the live version but loses against flat', -0.03, -0.01, false],
  ])('%s', (_name, live, candidate, promote) => {
    expect(decideDqnPromotion(score(live), score(candidate), { minReturnGain: 0.001, minHeldOut: 50 }).promote).toBe(promote);
  });
});
