// A DQN that online learning promoted (`online-…`, app/online-dqn.ts) was fine-tuned from its base's weights: the
// base's training data and the validation span that picked those weights count in its training span, as a promoted
// CNN's base does. A backtest whose promoted DQN descends from a base trained into the recording is refused.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BacktestInSampleError, runBacktest } from '../../app/backtest.ts';
import { modelTrainingSpans } from '../../app/backtest-model-spans.ts';
import type { System } from '../../app/system.ts';
import type { Config } from '../../engine/config/schema.ts';
import type { CheckpointMeta } from '../../models/checkpoints.ts';
import { BUNDLED_DQN_DIR, bundledCnnCheckpoint } from '../../models/bundled/index.ts';
import { fileSha256 } from '../../models/train/dqn-state.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-promoted-dqn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIRST_LINE_MS = Date.parse('2024-08-08T23:54:13.937Z');
const MIN = 60_000;
const bundled = JSON.parse(readFileSync(join(BUNDLED_DQN_DIR, 'checkpoint.json'), 'utf8')) as CheckpointMeta;
// The base: trained to the recording's third minute, validated on the days before.
const BASE_DATA = { fromMs: Date.UTC(2024, 7, 1), toMs: FIRST_LINE_MS + 2 * MIN };
const BASE_VALIDATION = { fromMs: Date.UTC(2024, 6, 28), toMs: Date.UTC(2024, 6, 31) };
// The promoted version's own fine-tuning: all before the recording.
const ONLINE_DATA = { fromMs: Date.UTC(2024, 7, 8, 20), toMs: Date.UTC(2024, 7, 8, 22) };
const ONLINE_HELD_OUT = { fromMs: Date.UTC(2024, 7, 8, 22, 1), toMs: Date.UTC(2024, 7, 8, 23) };

/** Returns a checkpoint root holding the base `dqn/v000001` and its promoted `online/dqn/v000002`. */
function promotedDqn(name: string): { root: string; base: string; online: string } {
  const root = join(dir, name);
  const base = join(root, 'dqn', 'v000001');
  cpSync(BUNDLED_DQN_DIR, base, { recursive: true });
  rmSync(join(base, 'train-report.json'), { force: true });
  writeFileSync(join(base, 'checkpoint.json'), JSON.stringify({
    ...bundled, version: 'v000001', metric: { name: 'valPnl', value: 0.01, higherIsBetter: true }, dataSpan: BASE_DATA, validationSpan: BASE_VALIDATION,
  }));
  const online = join(root, 'online', 'dqn', 'v000002');
  cpSync(BUNDLED_DQN_DIR, online, { recursive: true });
  rmSync(join(online, 'train-report.json'), { force: true });
  writeFileSync(join(online, 'checkpoint.json'), JSON.stringify({
    ...bundled, version: 'v000002', metric: { name: 'promotedAt', value: 1, higherIsBetter: true }, dataSpan: ONLINE_DATA, validationSpan: ONLINE_HELD_OUT,
  }));
  writeFileSync(join(online, 'online.json'), JSON.stringify({ promotedAt: 1, base: 'v000001', baseSha256: fileSha256(join(base, 'weights.bin')), parent: 'v000001' }));
  return { root, base, online };
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('the training span of an online-promoted DQN', () => {
  it('counts its base\'s data and validation spans beside its own', () => {
    const { root, base, online } = promotedDqn('spans');
    const meta = JSON.parse(readFileSync(join(online, 'checkpoint.json'), 'utf8')) as CheckpointMeta;
    const dqn = { version: 'online-v000002', dir: online, meta, base: 'v000001', parent: { version: 'v000001', dir: base } };

    const [s] = modelTrainingSpans({ models: { checkpointDir: root } } as Config, { loaded: ['dqn@online-v000002'], dqn }, FIRST_LINE_MS);

    expect(s!.parts.filter((p) => !p.of.startsWith('cnn@'))).toEqual([
      { of: 'dqn@online-v000002', from: iso(ONLINE_DATA.fromMs), to: iso(ONLINE_DATA.toMs) },
      { of: 'dqn@online-v000002 validation', from: iso(ONLINE_HELD_OUT.fromMs), to: iso(ONLINE_HELD_OUT.toMs) },
      { of: 'dqn@v000001', from: iso(BASE_DATA.fromMs), to: iso(BASE_DATA.toMs) },
      { of: 'dqn@v000001 validation', from: iso(BASE_VALIDATION.fromMs), to: iso(BASE_VALIDATION.toMs) },
    ]);
    expect([s!.missing, s!.to, s!.inSample]).toEqual([[], iso(BASE_DATA.toMs), true]);
  });

  it('finds the base in the checkpoint folder when the rollback target is another promoted version', () => {
    const { root, online } = promotedDqn('parent-online');
    const meta = JSON.parse(readFileSync(join(online, 'checkpoint.json'), 'utf8')) as CheckpointMeta;
    const dqn = { version: 'online-v000002', dir: online, meta, base: 'v000001', parent: { version: 'online-v000001', dir: join(dir, 'elsewhere') } };

    const [s] = modelTrainingSpans({ models: { checkpointDir: root } } as Config, { loaded: ['dqn@online-v000002'], dqn }, FIRST_LINE_MS);

    expect(s!.parts.map((p) => p.of)).toContain('dqn@v000001 validation');
    expect([s!.missing, s!.inSample]).toEqual([[], true]);
  });

  it('refuses a backtest whose promoted DQN descends from a base trained into the recording', async () => {
    const { root } = promotedDqn('refused');
    let sys: System | undefined;
    const config = testConfig({ models: { cnn: { enabled: true }, dqn: { enabled: true }, checkpointDir: root }, data: { catalogDir: join(dir, 'catalog') } });

    const err = await runBacktest(config, {
      seed: 1, maxSpanMs: 5_000, models: { cnnOnnx: bundledCnnCheckpoint()!.onnxPath }, onSystem: (s) => void (sys = s),
    }).catch((e: unknown) => e);

    expect(sys?.models.dqn?.version).toBe('online-v000002');
    expect(err).toBeInstanceOf(BacktestInSampleError);
    expect((err as Error).message).toContain(`dqn@v000001 ${iso(BASE_DATA.fromMs)} → ${iso(BASE_DATA.toMs)}`);
  }, 60_000);
});
