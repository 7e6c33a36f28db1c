// Review finding 1 (RL side): when the CNN gave nothing for a tick, the CNN-bound DQN still answered on the CNN output
// the DataProvider packed from the ModelOutputStore, however old, and turned from HOLD/SELL ~0.34 to BUY above 0.5.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModels, type LoadedModels } from '../../app/models.ts';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import { DataProvider } from '../../actors/data-provider/provider.ts';
import { InferenceCoordinator } from '../../actors/orchestrator/coordinator.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { createLogger } from '../../engine/log.ts';
import { BDI_LENGTH, BDI_SECTIONS, MODEL_FEATURE_NAMES } from '../../engine/market/base-data-input.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { ModelOutputStore } from '../../engine/store/model-output-store.ts';

const logger = createLogger({ level: 'silent' });

describe('the bundled, CNN-bound DQN as app/models.ts registers it', () => {
  let root: string | undefined;
  let models: LoadedModels | undefined;
  afterEach(async () => {
    await models?.pool?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('gives no output, a counted failure naming the CNN, on ticks where the CNN gave none, instead of reading its stale stored output', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-dep-'));
    const { config } = loadConfig('configs/default.yaml', {});
    const clock = new SimulatedClock(0);
    models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root, poolThreads: 1, timeoutMs: 30_000 } }, clock, logger);
    expect(models.cnnBound).toEqual([expect.stringMatching(/^dqn@bundled-v\d+$/)]);
    const store = new ModelOutputStore();
    const coordinator = new InferenceCoordinator({ registry: models.registry, clock, outputs: store, timeoutMs: 60_000, logger });
    // The engine path: a DataProvider from the kline archive packs the BaseDataInput, with the stored model outputs.
    const tick = async (t: number) => {
      const provider = new DataProvider({ bus: new Bus(), clock: new SimulatedClock(t), history: new KlinesArchive(['data/klines']), maintenanceMs: 0, modelOutputs: store });
      await provider.start();
      provider.stop();
      const bdi = provider.assembleInput(new Float32Array(BDI_LENGTH));
      // Recorded klines have no 1s series or COB, so validation would refuse the tick; the models are what is tested.
      const r = await coordinator.runTick({ symbol: 'ETH/USDT', ts: t, timeframe: '1m', input: { ...bdi, validation: { ...bdi.validation, canInfer: true } } });
      return { r, cnnSlot: bdi.data.subarray(BDI_SECTIONS.models.offset, BDI_SECTIONS.models.offset + MODEL_FEATURE_NAMES.length) };
    };
    const t0 = Date.parse('2024-08-08T12:00:10Z');
    const first = await tick(t0);
    await models.pool!.close(); // the CNN's pool is gone: every later CNN run fails
    const later = [];
    for (const minutes of [60, 65, 70]) later.push(await tick(t0 + minutes * 60_000));

    expect(first.r.failed).toEqual([]);
    expect(first.r.outputs.map((o) => o.model).sort()).toEqual(['cnn', 'dqn', 'momentum']);
    // The premise: the packed input still holds the first tick's CNN output (present, age capped at 10 min).
    expect([later[0]!.cnnSlot[0], later[0]!.cnnSlot[5]]).toEqual([1, 10]);
    for (const { r } of later) {
      expect(r.outputs.map((o) => o.model)).toEqual(['momentum']);
      expect(r.failed).toEqual([
        { model: 'cnn', error: expect.stringMatching(/inference pool is closed/) },
        { model: 'dqn', error: expect.stringMatching(/^ModelDependencyError: RL agent dqn bundled-v\d+: no same-tick output of cnn/) },
      ]);
    }
    // Counted like any failure: three in a row drop the DQN from the blend until a probe succeeds.
    expect(coordinator.stats.failures).toBe(6);
    expect(models.registry.list().find((m) => m.name === 'dqn')).toMatchObject({ health: 'failed', failures: 3 });
  }, 60_000);
});
