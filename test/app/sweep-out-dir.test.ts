// `cobalt sweep --out DIR` (app/sweep.ts writeSweepDir): the folder holds the last sweep's files only.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSweepDir, type SweepResult } from '../../app/sweep.ts';
import type { BacktestSummary } from '../../app/backtest.ts';

const dir = mkdtempSync(join(tmpdir(), 'cobalt-sweep-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const summary = { pnl: 0 } as unknown as BacktestSummary;
const result = (configurations: number): SweepResult => ({ configurations } as unknown as SweepResult);

describe('a sweep written over an earlier one', () => {
  // Review s21 finding 5: a 2-configuration sweep left the runs 3 and 4 of an earlier 4-configuration one.
  it('leaves no run summary of the earlier sweep, and no other file is touched', async () => {
    await writeSweepDir(dir, result(4), { inSample: [summary, summary, summary, summary], outOfSample: [summary, summary] });
    writeFileSync(join(dir, 'runs', 'notes.txt'), 'mine\n');
    await writeSweepDir(dir, result(2), { inSample: [summary, summary], outOfSample: [summary] });

    expect(readdirSync(join(dir, 'runs')).sort()).toEqual(['in-sample-1.json', 'in-sample-2.json', 'notes.txt', 'out-of-sample-1.json']);
    expect(readdirSync(dir).sort()).toEqual(['runs', 'sweep.json']);
  });
});
