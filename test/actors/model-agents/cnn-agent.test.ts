import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnnRunner } from '../../../actors/model-agents/cnn-agent.ts';
import { bdiRlState, rlRunner } from '../../../actors/model-agents/rl-agent.ts';
import { InferenceCoordinator } from '../../../actors/orchestrator/coordinator.ts';
import { ModelRegistry } from '../../../actors/orchestrator/registry.ts';
import { createInferencePool, type InferencePool } from '../../../engine/infer/pool.ts';
import { BDI_LENGTH, CNN_HIDDEN_SIZE } from '../../../engine/market/base-data-input.ts';
import { ACTIONS } from '../../../engine/messages/signals.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';
import { CNN_INPUT_SIZE, CNN_INPUT_SPEC, cnnConfigForCnnInput, selectCnnInput } from '../../../models/cnn/bdi-adapter.ts';
import { CnnModel } from '../../../models/cnn/model.ts';
import { CNN_ONNX_IO, cnnToOnnx } from '../../../models/cnn/onnx-export.ts';
import { DqnAgent, dqnConfig } from '../../../models/dqn/agent.ts';
import { bundledCnnCheckpoint } from '../../../models/bundled/index.ts';
import { initTfBackend } from '../../../models/tf-backend.ts';
import { loadRealWorld, realInput, type RealWorld } from '../orchestrator/real-input.ts';

// An untrained CNN of the adapter's input shape (small channels), exported to ONNX and served by the real pool:
// a plumbing test of BaseDataInput → selectCnnInput → pool → ModelOutput, checked against an in-process ONNX session.
let dir: string;
let file: string;
let pool: InferencePool;
let direct: ort.InferenceSession;
let world: RealWorld;

beforeAll(async () => {
  await initTfBackend();
  const m = new CnnModel(cnnConfigForCnnInput({ channels: 4, seed: 7 }));
  const bytes = cnnToOnnx(m.config, m.weights(), 'test-v1');
  m.dispose();
  dir = await mkdtemp(path.join(tmpdir(), 'cobalt-cnn-agent-'));
  file = path.join(dir, 'cnn.onnx');
  await writeFile(file, bytes);
  direct = await ort.InferenceSession.create(bytes);
  pool = await createInferencePool({ models: { cnn: file }, threads: 1, timeoutMs: 60_000 });
  world = loadRealWorld();
}, 120_000);
afterAll(async () => {
  await pool?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('CNN agent', () => {
  it('turns a real BaseDataInput into valid probabilities and a hidden vector through the pool', async () => {
    const input = realInput(world, world.end);
    const run = cnnRunner({ pool, checkpoint: { version: 'test-v1', input: CNN_INPUT_SPEC } });
    const o = await run(input.data, { model: 'cnn', version: 'test-v1', symbol: 'ETH/USDT', ts: world.end, deps: new Map() });
    const want = await direct.run({ [CNN_ONNX_IO.input]: new ort.Tensor('float32', selectCnnInput(input.data), [1, CNN_INPUT_SIZE]) });
    const probs = want[CNN_ONNX_IO.probs]!.data as Float32Array;
    expect(o.probabilities).toEqual([probs[0], probs[1], probs[2]]);
    expect(o.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(o.probabilities.every((p) => p > 0 && p < 1)).toBe(true);
    const best = o.probabilities.indexOf(Math.max(...o.probabilities));
    expect(o).toMatchObject({ model: 'cnn', version: 'test-v1', symbol: 'ETH/USDT', ts: world.end, action: ACTIONS[best], confidence: o.probabilities[best] });
    expect(Array.from(o.hidden!)).toEqual(Array.from(want[CNN_ONNX_IO.hidden]!.data as Float32Array));
    expect(o.hidden).toHaveLength(CNN_HIDDEN_SIZE);
    await expect(run(new Float32Array(10), { model: 'cnn', version: 'v', symbol: 'ETH/USDT', ts: 0, deps: new Map() })).rejects.toThrow(/input has 10 floats, expected a BaseDataInput of 9190/);
  });

  it.each([
    ['a kline-window checkpoint', { version: 'v000003', input: { kind: 'klines-v1', seqLen: 60, features: 10, tailLen: 0, size: 600 } }, /refuses checkpoint v000003: the checkpoint's model takes 'klines-v1' \[60, 10\] \+ 0 \(600 floats\), the agent feeds 'bdi-klines-v1' \[300, 18\] \+ 50 \(5450 floats\)/],
    ['a checkpoint that records no input', { version: 'v000001' }, /refuses checkpoint v000001: the checkpoint records no input kind/],
  ])('refuses %s, naming expected and actual input', (_name, checkpoint, why) => {
    expect(() => cnnRunner({ pool, checkpoint })).toThrow(why);
  });

  it('serves the bundled checkpoint: its recorded input is accepted and a real input gives valid probabilities', async () => {
    const bundled = bundledCnnCheckpoint();
    expect(bundled, 'models/bundled/cnn is missing').toBeDefined();
    const own = await createInferencePool({ models: { cnn: bundled!.onnxPath }, threads: 1, timeoutMs: 60_000 });
    try {
      const run = cnnRunner({ pool: own, checkpoint: bundled!.meta });
      const o = await run(realInput(world, world.end).data, { model: 'cnn', version: bundled!.meta.version, symbol: 'ETH/USDT', ts: world.end, deps: new Map() });
      expect(o.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(o.probabilities.every((p) => p > 0 && p < 1)).toBe(true);
      expect(o.hidden).toHaveLength(CNN_HIDDEN_SIZE);
    } finally {
      await own.close();
    }
  });

  it('feeds the pooled CNN hidden state to a real DQN agent through the coordinator', async () => {
    const clock = new SimulatedClock(world.end);
    const registry = new ModelRegistry();
    const stateOf = bdiRlState(30);
    const stateSize = stateOf(new Float32Array(BDI_LENGTH)).length;
    const agent = new DqnAgent(dqnConfig({ stateSize, actions: 3, hidden: [16], seed: 3 }));
    const seen: Float32Array[] = [];
    registry.register('cnn', { version: 'test-v1', run: cnnRunner({ pool }) }, clock.now());
    registry.register('dqn', { version: 'd1', dependsOn: ['cnn'], run: rlRunner({ q: { qValues: (s) => (seen.push(s), agent.qValues(s)) }, state: stateOf, stateSize }) }, clock.now());
    const coord = new InferenceCoordinator({ registry, clock, outputs: new ModelOutputStore(), timeoutMs: 60_000 });
    const r = await coord.runTick({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s', input: realInput(world, clock.now()) });
    expect(r.failed).toEqual([]);
    const cnn = r.outputs.find((o) => o.model === 'cnn')!;
    const dqn = r.outputs.find((o) => o.model === 'dqn')!;
    expect(Array.from(seen[0]!.subarray(stateSize - 33))).toEqual([1, ...Array.from(cnn.hidden!)]);
    const q = Array.from(agent.qValues(seen[0]!));
    expect(dqn.extra).toMatchObject({ qValues: q, value: Math.max(...q), pseudoProbabilities: true });
    expect(dqn.action).toBe(ACTIONS[q.indexOf(Math.max(...q))]);
  });
});
