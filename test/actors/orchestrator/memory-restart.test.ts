// What the orchestrator memory gives back when an Orchestrator is rebuilt: at once after a run-time change (LMDB has
// not committed yet), and after a start without one of its models.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryOrchestratorMemory, lmdbOrchestratorMemory, type OrchestratorMemory } from '../../../actors/orchestrator/memory.ts';
import { Orchestrator } from '../../../actors/orchestrator/orchestrator.ts';
import { ModelRegistry, type ModelRunner } from '../../../actors/orchestrator/registry.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';

const holds: ModelRunner = async (_x, ctx) => ({
  model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action: 'HOLD', confidence: 0.9, probabilities: [0.05, 0.05, 0.9],
});

function registry(models: Record<string, string>): ModelRegistry {
  const r = new ModelRegistry();
  for (const [name, version] of Object.entries(models)) r.register(name, { version, run: holds }, 0);
  return r;
}

function build(memory: OrchestratorMemory, reg: ModelRegistry): Orchestrator {
  const orch = new Orchestrator({
    bus: new Bus<EngineMsg>(), clock: new SimulatedClock(1_723_161_600_000), registry: reg, outputs: new ModelOutputStore(), memory,
    input: () => undefined, thresholds: { buy: 0.6, sell: 0.6, minConfidence: 0 },
  });
  orch.start();
  return orch;
}

describe('orchestrator memory across a rebuild', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('in LMDB gives back thresholds set just before a rebuild in the same turn, and keeps them and the start count', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cobalt-orch-restart-'));
    const path = join(dir, 'store');
    const store = LmdbStore.open({ path });
    const memory = lmdbOrchestratorMemory(store);
    const reg = registry({ momentum: 'm1' });
    const first = build(memory, reg);
    first.handle({ type: 'orchestrator.setThresholds', buy: 0.8, sell: 0.75 });
    first.stop();
    // A supervised restart: the new instance is built before LMDB committed the set.
    const second = build(memory, reg);
    expect(second.thresholds).toEqual({ buy: 0.8, sell: 0.75, minConfidence: 0 });
    second.stop();
    await store.close();

    const again = LmdbStore.open({ path });
    const kept = lmdbOrchestratorMemory(again).load();
    expect(kept?.thresholds?.set).toEqual({ buy: 0.8, sell: 0.75, minConfidence: 0 });
    expect(kept?.starts).toBe(2);
    await again.close();
  });

  it('carries the judged outcomes of a model missing at one start to the next start that has it', () => {
    const memory = new InMemoryOrchestratorMemory();
    const cnn = { version: 'c1', outcomes: '1'.repeat(80) + '0'.repeat(20) };
    memory.save({ accuracy: { cnn, momentum: { version: 'm1', outcomes: '0101' } }, starts: 3 });

    build(memory, registry({ momentum: 'm1' })).stop(); // the CNN's checkpoint failed to load
    expect(memory.load()?.accuracy['cnn']).toEqual(cnn);

    const back = build(memory, registry({ momentum: 'm1', cnn: 'c1' }));
    expect(back.accuracy.accuracy('cnn')).toMatchObject({ evaluated: 100, correct: 80 });
    back.stop();

    // A new checkpoint starts from the prior, as before: the old version's outcomes are not carried past it.
    const newer = build(memory, registry({ momentum: 'm1', cnn: 'c2' }));
    expect(newer.accuracy.accuracy('cnn').evaluated).toBe(0);
    expect(memory.load()?.accuracy['cnn']).toBeUndefined();
  });
});
