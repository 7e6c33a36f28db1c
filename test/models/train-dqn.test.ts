import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCandlesCsv } from '../../models/data.ts';
import { DQN_TRAIN_DEFAULTS, trainDqn, type DqnTrainSummary } from '../../models/train/dqn.ts';
import { cnnSpanConflict } from '../../models/train/dqn-loop.ts';

const ETH = 'data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz';
const out = mkdtempSync(path.join(tmpdir(), 'cobalt-train-dqn-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('cobalt train dqn (real ETH 1m klines, tiny run)', () => {
  it('prints held-out PnL after fees beside buy-and-hold on the same span, and checkpoints by validation PnL', async () => {
    const { stdout } = await promisify(execFile)('node', [
      'bin/cobalt.mjs', 'train', 'dqn', '--state', 'env', '--data', ETH, '--last-bars', '5000', '--episode-length', '300', '--episodes', '4',
      '--eval-every', '2', '--max-steps', '1200', '--fee', '0.001', '--out', out, '--json',
    ], { env: { ...process.env, COBALT_LOG_LEVEL: 'silent' }, maxBuffer: 1 << 20 });
    const s = JSON.parse(stdout) as DqnTrainSummary;

    // Buy-and-hold recomputed from the CSV over the reported held-out span: buy at its first close, sell at its last.
    const c = loadCandlesCsv(ETH);
    const from = c.openTimeMs.indexOf(s.outOfSample.span.fromMs);
    const to = c.openTimeMs.indexOf(s.outOfSample.span.toMs);
    expect(from).toBeGreaterThan(0);
    expect(to).toBe(c.openTimeMs.length - 1);
    expect(to - from + 1).toBe(1000); // 20 % of 5000 bars
    expect(s.baselines.buyAndHold).toBeCloseTo(0.999 * (c.close[to]! / c.close[from]!) * 0.999 - 1, 12);
    expect(s.baselines.flat).toBe(0);
    expect(s.beatsBuyAndHold).toBe(s.outOfSample.pnl > s.baselines.buyAndHold);

    // Time order: training span < validation span < held-out span, no shared bar.
    expect(s.training.span.toMs).toBeLessThan(s.validation.span.fromMs);
    expect(s.validation.span.toMs).toBeLessThan(s.outOfSample.span.fromMs);
    expect(s.training.envSteps).toBe(1200);

    // PnL is after fees: fees are non-negative, and with no trades there is neither fee nor PnL.
    expect(Number.isFinite(s.outOfSample.pnl)).toBe(true);
    expect(s.outOfSample.fees).toBeGreaterThanOrEqual(0);
    expect(Number.isInteger(s.outOfSample.trades)).toBe(true);
    if (s.outOfSample.trades === 0) expect([s.outOfSample.pnl, s.outOfSample.fees]).toEqual([0, 0]);
    else expect(s.outOfSample.fees).toBeGreaterThan(0);

    const meta = JSON.parse(readFileSync(path.join(s.checkpoint!.dir, 'checkpoint.json'), 'utf8'));
    // Review finding 1: ranked by the validation PnL that picked the weights; the test PnL is reported, never ranked.
    expect(meta.metric).toEqual({ name: 'valPnl', value: s.validation.pnl, higherIsBetter: true });
    expect(meta.testMetric).toEqual({ name: 'heldOutPnl', value: s.outOfSample.pnl, higherIsBetter: true });
    expect(meta.dataSpan.toMs).toBe(s.training.span.toMs);
    // The span that picked the weights rides in checkpoint.json, so a backtest knows it without the report.
    expect(meta.validationSpan).toEqual({ fromMs: s.validation.span.fromMs, toMs: s.validation.span.toMs });
  }, 120_000);
});

describe('a CNN in the DQN state must be trained on data before the DQN\'s validation span', () => {
  const T = (s: string) => Date.parse(s);
  const validation = { fromMs: T('2024-08-05T00:00:00Z'), toMs: T('2024-08-06T00:00:00Z') };
  const test = { fromMs: T('2024-08-06T00:01:00Z'), toMs: T('2024-08-07T00:00:00Z') };
  it.each([
    ['ends before the validation span', T('2024-08-04T23:59:00Z'), undefined],
    ['ends on the first validation bar', validation.fromMs, /inside the validation span, which picks the DQN's weights \(DQN validation span 2024-08-05T00:00:00.000Z → 2024-08-06T00:00:00.000Z, test span 2024-08-06T00:01:00.000Z → 2024-08-07T00:00:00.000Z\)/],
    ['ends inside the validation span', T('2024-08-05T12:00:00Z'), /reaches 2024-08-05T12:00:00.000Z, inside the validation span/],
    ['ends inside the test span', T('2024-08-06T12:00:00Z'), /reaches 2024-08-06T12:00:00.000Z, inside the test span/],
  ])('a CNN that %s', (_name, toMs, why) => {
    const got = cnnSpanConflict(toMs, validation, test);
    if (why === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(why);
  });

  it('cobalt train dqn --cnn refuses a CNN whose training labels reach the validation span, though not the test span', async () => {
    // A kline CNN checkpoint whose labels end inside the DQN's validation span; refused before its weights are read.
    const c = loadCandlesCsv(ETH);
    const n = c.openTimeMs.length;
    const first = n - 5000; // --last-bars 5000: train 3500 | validation 500 | test 1000
    const dir = path.join(out, 'cnn-into-validation');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'checkpoint.json'), JSON.stringify({ dataSpan: { fromMs: c.openTimeMs[first]!, toMs: c.openTimeMs[first + 3700]! } }));
    writeFileSync(path.join(dir, 'train-report.json'), JSON.stringify({ features: { kind: 'klines', series: ['ETH/USDT'], window: 16 } }));
    const iso = (k: number) => new Date(c.openTimeMs[first + k]!).toISOString();
    await expect(trainDqn({ ...DQN_TRAIN_DEFAULTS, data: [ETH], lastBars: 5000, episodeLength: 300, cnn: dir }))
      .rejects.toThrow(`CNN's training data reaches ${iso(3700)}, inside the validation span, which picks the DQN's weights (DQN validation span ${iso(3500)} → ${iso(3999)}, test span ${iso(4000)} → ${iso(4999)})`);
  }, 60_000);
});
