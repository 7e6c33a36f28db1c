// Honest backtests (review H4, finding 1): a model trained on data reaching into the recording is refused unless the
// caller allows it (then the summary says so), a DQN that reads the CNN counts its CNN's span, and every model's
// training span is in the summary. The bundled models end before the bundled recording, so its backtests still run.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BacktestInSampleError, runBacktest } from '../../app/backtest.ts';
import { BUNDLED_CNN_DIR } from '../../models/bundled/index.ts';
import { RECORDINGS, testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-in-sample-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIRST_LINE = '2024-08-08T23:54:13.937Z';
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Returns a checkpoint directory holding the bundled CNN as `cnn/v000001` with its recorded span ending at `toMs`:
 * the same ONNX file, so the bundled DQN (trained beside it) joins the blend reading it.
 */
function checkpointsEndingAt(name: string, toMs: number): string {
  const root = join(dir, name);
  const v = join(root, 'cnn', 'v000001');
  cpSync(BUNDLED_CNN_DIR, v, { recursive: true });
  const meta = JSON.parse(readFileSync(join(v, 'checkpoint.json'), 'utf8')) as { dataSpan: { fromMs: number; toMs: number }; version: string };
  writeFileSync(join(v, 'checkpoint.json'), JSON.stringify({ ...meta, version: 'v000001', dataSpan: { ...meta.dataSpan, toMs } }));
  return root;
}

const withModels = (checkpointDir: string, dqn = false) => testConfig({
  models: { cnn: { enabled: true }, dqn: { enabled: dqn }, checkpointDir },
  data: { catalogDir: join(dir, 'catalog') },
});

describe('a backtest whose model was trained on the recording', () => {
  // Like `cobalt train cnn` with no --until: its data runs to the end of data/klines (2024-08-25 14:23).
  const late = checkpointsEndingAt('late', Date.UTC(2024, 7, 25, 14, 23));

  it('is refused, naming the model, its training span and the backtest\'s span', async () => {
    const err = await runBacktest(withModels(late), { seed: 1, maxSpanMs: 20_000 }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(BacktestInSampleError);
    const msg = (err as Error).message;
    expect(msg).toContain('cnn@v000001 was trained on bars 2024-07-26T14:20:00.000Z → 2024-08-25T14:23:00.000Z');
    expect(msg).toContain(`(${FIRST_LINE} → 2024-08-08T23:54:33.937Z)`);
    expect(msg).toContain('--allow-in-sample');
  }, 60_000);

  it('runs when allowed, and its summary names the model, its span and, for the DQN reading it, that CNN\'s span', async () => {
    const r = await runBacktest(withModels(late, true), { seed: 1, maxSpanMs: 20_000, allowInSample: true });

    expect(r.summary.inSample).toEqual(['cnn@v000001', 'dqn@bundled-v000001']);
    const [cnn, dqn] = r.summary.modelSpans;
    expect(cnn).toEqual({
      model: 'cnn@v000001', from: '2024-07-26T14:20:00.000Z', to: '2024-08-25T14:23:00.000Z',
      parts: [{ of: 'cnn@v000001', from: '2024-07-26T14:20:00.000Z', to: '2024-08-25T14:23:00.000Z' }], missing: [], inSample: true,
    });
    expect(dqn!.model).toBe('dqn@bundled-v000001');
    expect(dqn!.parts.map((p) => p.of)).toEqual(['dqn@bundled-v000001', 'dqn@bundled-v000001 validation', 'cnn@v000001']);
    expect([dqn!.to, dqn!.inSample]).toEqual(['2024-08-25T14:23:00.000Z', true]);
  }, 60_000);

  it('counts the last bar\'s minute: a span whose last bar opens less than a minute before the first line is in-sample', async () => {
    const edge = checkpointsEndingAt('edge', Date.UTC(2024, 7, 8, 23, 53, 30));
    const before = checkpointsEndingAt('before', Date.UTC(2024, 7, 8, 23, 53));

    const refused = await runBacktest(withModels(edge), { seed: 1, maxSpanMs: 5_000 }).catch((e: unknown) => e);
    const ran = await runBacktest(withModels(before), { seed: 1, maxSpanMs: 5_000 });

    expect(refused).toBeInstanceOf(BacktestInSampleError);
    expect(ran.summary.modelSpans.map((m) => [m.model, m.to, m.inSample])).toEqual([['cnn@v000001', iso(Date.UTC(2024, 7, 8, 23, 53)), false]]);
  }, 60_000);

  // Review s22: the check compared the training span with the recording's first line, so a --from after the training
  // end (the honest use of a window) was still refused.
  it('judges a window by its own start: trained up to before it runs, reaching into it is refused naming the window', async () => {
    const ends = checkpointsEndingAt('ends-2355', Date.UTC(2024, 7, 8, 23, 55));
    const from = Date.UTC(2024, 7, 8, 23, 56, 30);
    const window = { fromMs: from, toMs: from + 5_000 };

    const ran = await runBacktest(withModels(ends), { seed: 1, window });
    const refused = await runBacktest(withModels(ends), { seed: 1, window: { fromMs: Date.UTC(2024, 7, 8, 23, 55, 30), toMs: from } }).catch((e: unknown) => e);

    expect(ran.summary.modelSpans.map((m) => [m.model, m.inSample])).toEqual([['cnn@v000001', false]]);
    expect(refused).toBeInstanceOf(BacktestInSampleError);
    expect((refused as Error).message).toContain(`(${iso(Date.UTC(2024, 7, 8, 23, 55, 30))} → ${iso(from)})`);
  }, 90_000);

  it('leaves the bundled models on the bundled recording alone: they were trained before it', async () => {
    const r = await runBacktest(withModels(join(dir, 'empty'), true), { seed: 1, maxSpanMs: 5_000 });

    expect(r.summary.inSample).toEqual([]);
    expect(r.summary.modelSpans.map((m) => [m.model, m.from, m.to, m.inSample])).toEqual([
      ['cnn@bundled-v000001', '2024-07-26T14:20:00.000Z', '2024-08-07T14:51:00.000Z', false],
      // Its validation span (2024-08-05 16:14 -> 08-07 15:29) picked its weights; its CNN's labels reach 08-07 14:51.
      ['dqn@bundled-v000001', '2024-07-26T14:20:00.000Z', '2024-08-07T15:29:00.000Z', false],
    ]);
  }, 60_000);
});

describe('cobalt backtest on an in-sample model', () => {
  it('exits 2 with one line on stderr', async () => {
    const late = checkpointsEndingAt('cli', Date.UTC(2024, 7, 25, 14, 23));
    const config = join(dir, 'cli.yaml');
    writeFileSync(config, JSON.stringify({
      mode: 'backtest', data: { replayFiles: RECORDINGS, klinesDirs: ['data/klines'], catalogDir: join(dir, 'catalog') },
      models: { dqn: { enabled: false }, checkpointDir: late }, store: { path: join(dir, 'store'), archiveDir: join(dir, 'archive') },
      dashboard: { enabled: false },
    }));
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'engine/cli.ts', 'backtest', '--config', config, '--json', '--no-report'],
        { timeout: 120_000, env: { ...process.env, COBALT_LOG_LEVEL: 'silent' } },
        (e, stdout, stderr) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr }));
    });

    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^cobalt backtest: cnn@v000001 was trained on bars 2024-07-26T14:20:00.000Z → 2024-08-25T14:23:00.000Z, reaching into this backtest's data \(2024-08-08T23:54:13.937Z → 2024-08-09T00:05:04.543Z\)/);
  }, 120_000);
});
