// A DQN's checkpoint.json carries the spans a backtest's in-sample check needs: its validation span and the
// span of the CNN it was trained beside, so they stay known after that CNN's checkpoint is pruned or the DQN's
// train-report.json is gone. Checkpoints written before still get them from those files.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BacktestInSampleError, runBacktest } from '../../app/backtest.ts';
import { modelTrainingSpans } from '../../app/backtest-model-spans.ts';
import type { LoadedDqn } from '../../app/models.ts';
import type { System } from '../../app/system.ts';
import type { Config } from '../../engine/config/schema.ts';
import type { CheckpointMeta } from '../../models/checkpoints.ts';
import { BUNDLED_CNN_DIR, BUNDLED_DQN_DIR, bundledCnnCheckpoint } from '../../models/bundled/index.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-dqn-spans-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIRST_LINE_MS = Date.parse('2024-08-08T23:54:13.937Z');
const LATE_MS = Date.UTC(2024, 7, 25, 14, 23); // a CNN trained to the end of data/klines: into the recording
const bundledDqn = JSON.parse(readFileSync(join(BUNDLED_DQN_DIR, 'checkpoint.json'), 'utf8')) as CheckpointMeta;
const bundledCnnSpan = bundledCnnCheckpoint()!.meta.dataSpan;
const bundledCnnInput = (bundledDqn.input as unknown as { cnn: { version: string; onnxSha256: string } }).cnn;
// The bundled DQN's validation span (its train-report.json).
const VALIDATION = { fromMs: Date.UTC(2024, 7, 5, 16, 14), toMs: Date.UTC(2024, 7, 7, 15, 29) };

/** Returns a checkpoint root holding the bundled DQN as `dqn/v000001`, reading CNN `v000003`, with `meta` over its metadata. */
function dqnCheckpoint(name: string, o: { recorded: boolean; report: boolean; cnnFolder: boolean }): { root: string; dqn: LoadedDqn } {
  const root = join(dir, name);
  const v = join(root, 'dqn', 'v000001');
  cpSync(BUNDLED_DQN_DIR, v, { recursive: true });
  if (!o.report) rmSync(join(v, 'train-report.json'));
  if (o.cnnFolder) {
    const c = join(root, 'cnn', 'v000003');
    cpSync(BUNDLED_CNN_DIR, c, { recursive: true });
    const cnnMeta = JSON.parse(readFileSync(join(c, 'checkpoint.json'), 'utf8')) as CheckpointMeta;
    writeFileSync(join(c, 'checkpoint.json'), JSON.stringify({ ...cnnMeta, version: 'v000003', dataSpan: { ...cnnMeta.dataSpan, toMs: LATE_MS } }));
  }
  const meta = {
    ...bundledDqn, version: 'v000001', metric: { name: 'valPnl', value: 0.01, higherIsBetter: true },
    ...(o.recorded ? { validationSpan: VALIDATION } : {}),
    input: { ...bundledDqn.input, cnn: { ...bundledCnnInput, version: 'v000003', ...(o.recorded ? { dataSpan: { fromMs: bundledCnnSpan.fromMs, toMs: LATE_MS } } : {}) } },
  } as CheckpointMeta;
  writeFileSync(join(v, 'checkpoint.json'), JSON.stringify(meta));
  return { root, dqn: { version: 'v000001', dir: v, meta } };
}

// The loader served the CNN from an ONNX file without a checkpoint (an override): models.cnn is absent.
const spansOf = ({ root, dqn }: { root: string; dqn: LoadedDqn }) =>
  modelTrainingSpans({ models: { checkpointDir: root } } as Config, { loaded: ['dqn@v000001'], dqn }, FIRST_LINE_MS)[0]!;

const iso = (ms: number) => new Date(ms).toISOString();
const expectedParts = [
  { of: 'dqn@v000001', from: iso(bundledDqn.dataSpan.fromMs), to: iso(bundledDqn.dataSpan.toMs) },
  { of: 'dqn@v000001 validation', from: iso(VALIDATION.fromMs), to: iso(VALIDATION.toMs) },
  { of: 'cnn@v000003', from: iso(bundledCnnSpan.fromMs), to: iso(LATE_MS) },
];

describe('the training span of a DQN whose checkpoint records its validation span and its CNN\'s span', () => {
  it('counts both after the CNN\'s checkpoint folder and the DQN\'s train-report.json are gone', () => {
    const s = spansOf(dqnCheckpoint('recorded', { recorded: true, report: false, cnnFolder: false }));

    expect([s.parts, s.missing, s.to, s.inSample]).toEqual([expectedParts, [], iso(LATE_MS), true]);
  });

  it('refuses the backtest as in-sample, naming the CNN span it recorded', async () => {
    const { root } = dqnCheckpoint('refused', { recorded: true, report: false, cnnFolder: false });
    let sys: System | undefined;
    const config = testConfig({ models: { cnn: { enabled: true }, dqn: { enabled: true }, checkpointDir: root }, data: { catalogDir: join(dir, 'catalog') } });

    const err = await runBacktest(config, {
      seed: 1, maxSpanMs: 5_000, models: { cnnOnnx: bundledCnnCheckpoint()!.onnxPath }, onSystem: (s) => void (sys = s),
    }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(BacktestInSampleError);
    expect((err as Error).message).toContain(`dqn@v000001 was trained on bars ${iso(Math.min(bundledDqn.dataSpan.fromMs, bundledCnnSpan.fromMs))} → ${iso(LATE_MS)}`);
    expect((err as Error).message).toContain(`cnn@v000003 ${iso(bundledCnnSpan.fromMs)} → ${iso(LATE_MS)}`);
    // The loader hands over the DQN it chose, so the spans are not read again by version.
    expect([sys?.models.dqn?.version, sys?.models.dqn?.dir]).toEqual(['v000001', join(root, 'dqn', 'v000001')]);
  }, 60_000);
});

describe('the training span of a DQN whose checkpoint was written before it recorded those spans', () => {
  it('reads its validation span from train-report.json and its CNN\'s from that CNN\'s checkpoint folder', () => {
    const s = spansOf(dqnCheckpoint('before', { recorded: false, report: true, cnnFolder: true }));

    expect([s.parts, s.missing, s.inSample]).toEqual([expectedParts, [], true]);
  });

  it('says the CNN\'s span is unknown when that CNN\'s checkpoint folder is gone', () => {
    const s = spansOf(dqnCheckpoint('before-pruned', { recorded: false, report: true, cnnFolder: false }));

    expect(s.parts.map((p) => p.of)).toEqual(['dqn@v000001', 'dqn@v000001 validation']);
    expect(s.missing).toEqual([expect.stringMatching(/^dqn@v000001 reads CNN "v000003" .*whose checkpoint is not at .*records no training span of that CNN$/)]);
  });
});
