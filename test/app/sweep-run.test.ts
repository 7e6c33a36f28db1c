// A real sweep on the bundled recording (app/sweep.ts), kept small: two configurations over its first 7 minutes, the
// best one run out-of-sample, the whole sweep twice. buyThreshold 1 stops every entry; 0.2 (testConfig's) buys at
// 00:00:00.3, inside the in-sample part (split 0.85: 23:54:14 -> 00:00:11), and again out-of-sample.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSweep, sweepGrid, sweepParams, sweepTable, writeSweepDir, type SweepFigures, type SweepRunEvent } from '../../app/sweep.ts';
import { createLogger } from '../../engine/log.ts';
import { RECORDINGS } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'cobalt-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const raw = {
  mode: 'backtest', seed: 42,
  data: { replayFiles: RECORDINGS, klinesDirs: ['data/klines'], speed: 0 },
  models: { cnn: { enabled: false }, dqn: { enabled: false }, checkpointDir: join(dir, 'checkpoints') },
  orchestrator: { buyThreshold: 0.2, sellThreshold: 0.5, minConfidence: 0 },
  store: { path: join(dir, 'store'), archiveDir: join(dir, 'archive') },
  dashboard: { enabled: false },
  log: { level: 'silent' },
};

async function sweep(events: SweepRunEvent[] = []) {
  const grid = sweepGrid(raw, sweepParams(raw, ['orchestrator.buyThreshold=1,0.2']));
  return runSweep(grid, { split: 0.85, top: 1, rank: 'trades', maxSpanMs: 420_000, logger: createLogger({ level: 'silent' }), onRun: (e) => void events.push(e) });
}

const within = (f: SweepFigures, w: { from: string; to: string }): boolean => f.from >= w.from && f.to <= w.to;

describe('a sweep on the bundled recording', () => {
  it('ranks on the in-sample part only, checks the best out-of-sample, and prints the same table twice', async () => {
    const events: SweepRunEvent[] = [];
    const { result, summaries } = await sweep(events);
    const again = await sweep();

    // Two windows that meet at the split (the in-sample one leaves it out), and every run measured inside its own.
    expect(result.inSampleWindow.to).toBe(result.outOfSampleWindow.from);
    for (const r of result.runs) expect(within(r.inSample, result.inSampleWindow)).toBe(true);
    const best = result.runs[0]!;
    expect(within(best.outOfSample!, result.outOfSampleWindow)).toBe(true);
    expect(best.inSample.to < best.outOfSample!.from).toBe(true);

    // The param changed what the engine did: a threshold no blend reaches never buys.
    const byThreshold = new Map(result.runs.map((r) => [r.params['orchestrator.buyThreshold'], r]));
    expect(byThreshold.get(1)!.inSample.trades).toBe(0);
    expect(byThreshold.get(0.2)!.inSample.trades).toBeGreaterThan(0);

    // Ranked by in-sample trades; only the best ran out-of-sample, after every in-sample run.
    expect(result.runs.map((r) => [r.rank, r.grid, r.params['orchestrator.buyThreshold']])).toEqual([[1, 2, 0.2], [2, 1, 1]]);
    expect(result.runs.map((r) => r.outOfSample === null)).toEqual([false, true]);
    expect(events.filter((e) => e.figures).map((e) => `${e.phase} ${e.index}/${e.of}`)).toEqual(['in-sample 1/2', 'in-sample 2/2', 'out-of-sample 1/1']);
    expect(best.outOfSample!.trades).toBeGreaterThan(0);
    expect(result.caveat).toContain('2 configuration(s) were tried on the in-sample part and ranked there by trades: the best in-sample figure is biased upward by that search');

    // Deterministic: the same sweep gives the same document and table.
    expect(again.result).toEqual(result);
    expect(sweepTable(again.result)).toBe(sweepTable(result));
    expect(sweepTable(result)).toMatch(/\n {3}1 {2}orchestrator\.buyThreshold=0\.2 +\d+ +-?\d+\.\d\d/);

    await writeSweepDir(join(dir, 'out'), result, summaries);
    expect(JSON.parse(readFileSync(join(dir, 'out', 'sweep.json'), 'utf8'))).toEqual(result);
    expect(['in-sample-1.json', 'in-sample-2.json', 'out-of-sample-1.json'].map((f) => existsSync(join(dir, 'out', 'runs', f)))).toEqual([true, true, true]);
  }, 180_000);
});
