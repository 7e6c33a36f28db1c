import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCandlesCsv } from '../../models/data.ts';
import type { DqnTrainSummary } from '../../models/train/dqn.ts';

const ETH = 'data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz';
const out = mkdtempSync(path.join(tmpdir(), 'cobalt-train-dqn-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('cobalt train dqn (real ETH 1m klines, tiny run)', () => {
  it('prints held-out PnL after fees beside buy-and-hold on the same span, and checkpoints by it', async () => {
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
    expect(meta.metric).toEqual({ name: 'heldOutPnl', value: s.outOfSample.pnl, higherIsBetter: true });
    expect(meta.dataSpan.toMs).toBe(s.training.span.toMs);
  }, 120_000);
});
