// Task H3 item 4: at start loadModels reads each promoted checkpoint's online.json once and hashes each ONNX file once
// (the CNN's base is also the CNN the DQN is checked against when no promoted version replaces it).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadModels } from '../../app/models.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { createLogger } from '../../engine/log.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BUNDLED_CNN_DIR, bundledCnnCheckpoint } from '../../models/bundled/index.ts';
import { readOnlineProvenance } from '../../models/online/pipeline.ts';
import { fileSha256 } from '../../models/train/dqn-state.ts';

vi.mock('../../models/train/dqn-state.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../models/train/dqn-state.ts')>();
  return { ...m, fileSha256: vi.fn(m.fileSha256) };
});
vi.mock('../../models/online/pipeline.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../models/online/pipeline.ts')>();
  return { ...m, readOnlineProvenance: vi.fn(m.readOnlineProvenance) };
});

const logger = createLogger({ level: 'silent' });
const BASE_ONNX = bundledCnnCheckpoint()!.onnxPath;

/** Writes a promoted CNN checkpoint (the bundled CNN's files) with its online.json under `<root>/online/cnn/<version>`. */
function promoted(root: string, version: string, provenance: Record<string, unknown>, at: number): string {
  const dir = join(root, 'online', 'cnn', version);
  mkdirSync(dir, { recursive: true });
  cpSync(BUNDLED_CNN_DIR, dir, { recursive: true });
  const meta = JSON.parse(readFileSync(join(BUNDLED_CNN_DIR, 'checkpoint.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ ...meta, model: 'cnn', version, metric: { name: 'promotedAt', value: at, higherIsBetter: true } }));
  writeFileSync(join(dir, 'online.json'), JSON.stringify({ promotedAt: at, ...provenance }));
  return dir;
}

const countOf = (fn: unknown, arg: string): number => (fn as ReturnType<typeof vi.fn>).mock.calls.filter((c) => c[0] === arg).length;

describe('loadModels reads at start', () => {
  let root: string;
  let pool: { close(): Promise<void> } | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-reads-'));
    vi.mocked(fileSha256).mockClear();
    vi.mocked(readOnlineProvenance).mockClear();
  });
  afterEach(async () => {
    await pool?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('hashes the base CNN once when the DQN is checked against that same CNN', async () => {
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect([models.cnn?.onnx, countOf(fileSha256, BASE_ONNX)]).toEqual([BASE_ONNX, 1]);
  });

  it('reads the online.json of the promoted version it loads once', async () => {
    const base = `bundled-${bundledCnnCheckpoint()!.meta.version}`;
    const sha = fileSha256(BASE_ONNX);
    const older = promoted(root, 'v000001', { base, baseSha256: sha, parent: base }, 1);
    const newer = promoted(root, 'v000002', { base, baseSha256: sha, parent: 'online-v000001' }, 2);
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root, dqn: { enabled: false } } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect([models.cnn?.version, models.cnn?.parent?.version]).toEqual(['online-v000002', 'online-v000001']);
    expect([countOf(readOnlineProvenance, newer), countOf(readOnlineProvenance, older)]).toEqual([1, 0]);
  });
});
