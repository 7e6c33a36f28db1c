// Review finding (training F1): the loader tried only the best checkpoint by the selection metric, then the bundled
// model; a research checkpoint the engine refuses (`train cnn --input klines`, `train dqn --state env`) or one for
// another symbol, with a better figure, hid every usable checkpoint. It now takes the best one that the engine can run.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModels } from '../../app/models.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { createLogger } from '../../engine/log.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BUNDLED_CNN_DIR, BUNDLED_DQN_DIR } from '../../models/bundled/index.ts';
import { SELECTION_METRICS } from '../../models/checkpoints.ts';

const logger = createLogger({ level: 'silent' });

/** Writes a checkpoint from the bundled one of `model`, ranked by its selection metric at `value`, with `input` changes. */
function checkpoint(root: string, model: 'cnn' | 'dqn', version: string, value: number, input: Record<string, unknown> | null): void {
  const dir = join(root, model, version);
  mkdirSync(dir, { recursive: true });
  const bundled = model === 'cnn' ? BUNDLED_CNN_DIR : BUNDLED_DQN_DIR;
  cpSync(bundled, dir, { recursive: true });
  const base = JSON.parse(readFileSync(join(bundled, 'checkpoint.json'), 'utf8')) as { input: Record<string, unknown> };
  const { input: _, ...rest } = base;
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({
    // A CNN's `value` reads as a log loss (lower is better), stored as the skill it is ranked by (higher is better).
    ...rest, model, version, metric: { ...SELECTION_METRICS[model], value: model === 'cnn' ? 1 - value : value }, ...(input ? { input: { ...base.input, ...input } } : {}),
  }));
}

describe('loadModels takes the best checkpoint the engine can run', () => {
  let root: string | undefined;
  let pool: { close(): Promise<void> } | undefined;
  afterEach(async () => {
    await pool?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('loads the user\'s CNN and DQN past better research and other-symbol checkpoints, saying which it passed over', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-usable-'));
    checkpoint(root, 'cnn', 'v000001', 1.0, {});
    checkpoint(root, 'cnn', 'v000002', 0.5, { kind: 'klines-v1', seqLen: 60, features: 10, tailLen: 0, size: 600 });
    checkpoint(root, 'cnn', 'v000003', 0.4, { symbol: 'SOL/USDT' });
    checkpoint(root, 'dqn', 'v000001', 0.01, {});
    checkpoint(root, 'dqn', 'v000002', 0.05, null); // `--state env`: no input recorded
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toEqual(['momentum@rule-15m-10bps', 'cnn@v000001', 'dqn@v000001']);
    expect(models.skipped).toEqual([
      expect.stringMatching(/^cnn@v000003: trained on SOL\/USDT.*passed over$/),
      expect.stringMatching(/^cnn@v000002: .*klines-v1.*passed over$/),
      expect.stringMatching(/^dqn@v000002: .*not in the blend$/),
    ]);
  });

  it('falls back to the bundled models when no checkpoint of the directory can run', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-usable-'));
    checkpoint(root, 'cnn', 'v000001', 0.5, { kind: 'klines-v1', seqLen: 60, features: 10, tailLen: 0, size: 600 });
    checkpoint(root, 'cnn', 'v000002', 0.6, { symbol: 'SOL/USDT' });
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toEqual(['momentum@rule-15m-10bps', expect.stringMatching(/^cnn@bundled-v\d+$/), expect.stringMatching(/^dqn@bundled-v\d+$/)]);
    expect(models.skipped).toEqual([expect.stringMatching(/^cnn@v000001: /), expect.stringMatching(/^cnn@v000002: trained on SOL/)]);
  });
});
