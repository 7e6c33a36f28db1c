// Review finding (online learning 2): promoted checkpoints were pruned by CheckpointStore's keep 5 with the versions an
// operator rolled back counted in, so after the operator kept online-v000001 and rolled back five later promotions, the
// sixth save deleted the folder of the version running: a restart loaded the base.
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelRegistry, type ModelRunner } from '../../actors/orchestrator/registry.ts';
import { loadModels, ONLINE_VERSION_PREFIX, onlineCheckpointRoot } from '../../app/models.ts';
import { onlineCheckpointStore } from '../../app/online-learning.ts';
import { recordRollbacks } from '../../app/online-rollbacks.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { createLogger } from '../../engine/log.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { bundledCnnCheckpoint } from '../../models/bundled/index.ts';
import { fileSha256 } from '../../models/train/dqn-state.ts';

const bundled = bundledCnnCheckpoint()!;
const BASE = `bundled-${bundled.meta.version}`;
const logger = createLogger({ level: 'silent' });
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe('promoted CNN checkpoints', () => {
  it('keeps the version the operator kept through five rolled-back promotions, and a restart loads it', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-prune-'));
    roots.push(root);
    const base = loadConfig('configs/default.yaml', {}).config;
    const config = { ...base, models: { ...base.models, checkpointDir: root, dqn: { enabled: false } } };
    const clock = new SimulatedClock(1_700_000_000_000);
    const registry = new ModelRegistry();
    const run: ModelRunner = async (_x, ctx) => ({ model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action: 'HOLD', probabilities: [0, 0, 1], confidence: 1 });
    registry.register('cnn', { version: BASE, run }, clock.now());
    const store = onlineCheckpointStore(onlineCheckpointRoot(config), clock, registry); // the learner's store (keep 5)
    const bus = new Bus<EngineMsg>();
    const rollbacks = recordRollbacks({ bus, clock, logger, root: onlineCheckpointRoot(config), versionPrefix: ONLINE_VERSION_PREFIX });
    // What TrainingPipeline.runOnce does on a promotion: save ranked by promotedAt, register, activate.
    const promote = async (): Promise<string> => {
      clock.advance(3_600_000);
      const parent = registry.active('cnn')!.version;
      const cp = await store.save({
        model: 'cnn', metric: { name: 'promotedAt', value: clock.now(), higherIsBetter: true }, dataSpan: { fromMs: 0, toMs: 1 }, configHash: 'x', backend: 'wasm', input: bundled.meta.input!,
        write: async (dir) => {
          copyFileSync(bundled.onnxPath, path.join(dir, 'cnn.onnx'));
          writeFileSync(path.join(dir, 'online.json'), JSON.stringify({ base: BASE, baseSha256: fileSha256(bundled.onnxPath), parent, promotedAt: clock.now() }));
        },
      });
      const v = ONLINE_VERSION_PREFIX + cp.meta.version;
      registry.register('cnn', { version: v, run }, clock.now());
      registry.activate('cnn', v, clock.now());
      return v;
    };
    const kept = await promote();
    for (let k = 0; k < 5; k++) {
      await promote();
      bus.publish(registry.rollback('cnn', clock.now()));
      await rollbacks.idle();
    }
    // One more promotion, rolled back too: seven folders ever, the retired ones go first.
    await promote();
    bus.publish(registry.rollback('cnn', clock.now()));
    await rollbacks.idle();
    rollbacks.stop();
    expect(registry.active('cnn')!.version).toBe(kept);
    expect(existsSync(path.join(onlineCheckpointRoot(config), 'cnn', 'v000001', 'cnn.onnx'))).toBe(true);
    const restart = await loadModels(config, clock, logger);
    try {
      expect(restart.cnn!.version).toBe(kept);
    } finally {
      await restart.pool?.close();
    }
  }, 60_000);
});
