// Shared by the test/models/online DQN tests: a registered live DQN, a DqnPipeline around a given trainer, a decision
// sequence, and a fine-tune result that passes the promotion gate (its figures are made up: the gate is not under test).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rlRunner } from '../../../actors/model-agents/rl-agent.ts';
import { ModelRegistry } from '../../../actors/orchestrator/registry.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { CheckpointStore } from '../../../models/checkpoints.ts';
import { DqnAgent, dqnConfig } from '../../../models/dqn/agent.ts';
import { QNetwork } from '../../../models/dqn/qnet.ts';
import type { DqnFineTuneResult } from '../../../models/online/dqn-finetune.ts';
import { DqnPipeline, type DqnDecision, type DqnPipelineOptions, type DqnTrainer } from '../../../models/online/dqn-pipeline.ts';

export const T0 = Date.parse('2024-08-06T00:00:00Z');
const EVERY = 5;
export const liveConfig = dqnConfig({ stateSize: 3, actions: 3, hidden: [8], seed: 11, learningStarts: 64, trainEvery: 1, batchSize: 32, lr: 1e-2, target: { kind: 'hard', every: 200 } });
export const liveParams = new DqnAgent(liveConfig).online.params.slice();

/** n consecutive decisions 5 min apart. */
export function decisions(n: number): DqnDecision[] {
  return Array.from({ length: n }, (_, i) => ({
    ts: (T0 + (i + 1) * EVERY * 60_000 + 10_000) as TsMs, barOpenMs: (T0 + (i + 1) * EVERY * 60_000 - 60_000) as TsMs,
    state: Float32Array.of(i % 2, i / 1000, 1), price: 100 + i * 0.01,
  }));
}

/** A result the gate promotes: the candidate gains 0.2 % a step where the live version loses 0.01 %. */
export function winning(params: Float32Array, n = 119): DqnFineTuneResult {
  return {
    params, episodes: 10, envSteps: 1000, gradSteps: 900,
    live: { return: Math.pow(0.9999, n) - 1, fees: 0, trades: 10, exposure: 0.5, steps: n },
    candidate: { return: Math.pow(1.002, n) - 1, fees: 0, trades: 10, exposure: 0.5, steps: n },
    liveSteps: new Float64Array(n).fill(-0.0001), candidateSteps: new Float64Array(n).fill(0.002),
  };
}

/** A pipeline on a checkpoint root (default: a fresh one) with `v000001` live; `clock` is the engine clock, from `start`. */
export function dqnPipeline(trainer: DqnTrainer, extra: Partial<DqnPipelineOptions> = {}, root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-dqn-')), start = T0 + 2 * 86_400_000) {
  const clock = new SimulatedClock(start);
  const registry = new ModelRegistry();
  const runnerFor = (q: QNetwork) => rlRunner({ q, state: (x) => x, stateSize: 3 });
  registry.register('dqn', { version: 'v000001', run: runnerFor(new QNetwork([3, 8, 3], liveParams)) }, clock.now(), { activate: true });
  const checkpoints = new CheckpointStore({ root, clock });
  const p = new DqnPipeline({
    registry, checkpoints, trainer, clock, live: { version: 'v000001', config: liveConfig, params: liveParams }, runnerFor, everyMinutes: EVERY, feeRate: 0.001, rewardScale: 100,
    settings: { heldOutFraction: 0.3, minTrain: 100, minHeldOut: 50, minReturnGain: 0.001, episodes: 10, maxSteps: 1000, episodeLength: 48, epsilonStart: 0.1 },
    base: 'v000001', baseSha256: 'f'.repeat(64), versionPrefix: 'online-', ...extra,
  });
  return { p, registry, clock, checkpoints, root };
}
