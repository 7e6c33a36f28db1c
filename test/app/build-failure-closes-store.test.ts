// buildSystem opens the store first: a step after it that throws (here loadModels refusing a caller's CNN pool
// without its ONNX file) must close it again, or its writer lock stays held for the life of the process and every
// later build on that store is refused as "already open for writing".
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSystem } from '../../app/system.ts';
import { createLogger } from '../../engine/log.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import type { ModelOverrides } from '../../app/models.ts';
import { testConfig } from '../e2e/helpers.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('a build that fails after the store opened', () => {
  it('rethrows the failure and leaves the store closed for the next open', async () => {
    const config = testConfig({ mode: 'paper' });
    dirs.push(path.dirname(config.store.path));
    const build = buildSystem(config, {
      clock: new SimulatedClock(1_723_161_253_937), mode: 'paper', noSync: true, dataOverride: () => undefined,
      models: { cnnPool: {} } as unknown as ModelOverrides, logger: createLogger({ level: 'silent' }),
    });
    await expect(build).rejects.toThrow(ConfigError);
    await expect(build).rejects.toThrow(/cnnOnnx/);
    const again = LmdbStore.open({ path: config.store.path, noSync: true });
    await again.close();
  });
});
