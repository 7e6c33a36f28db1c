// `cobalt sweep` refuses a key the config schema does not have, or a bad flag, before any run: one line naming it,
// exit code 2, no stack trace (the value refusals are app/sweep.ts's, test/app/sweep-grid.test.ts).
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function cobalt(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'engine/cli.ts', ...args], { timeout: 60_000, env: { ...process.env, COBALT_LOG_LEVEL: 'silent' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

describe('cobalt sweep', () => {
  it.each([
    [['--param', 'orchestrator.buyThresold=0.2,0.3'], "cobalt sweep: --param orchestrator.buyThresold: the config has no key 'buyThresold' under orchestrator"],
    [['--param', 'seed=1', '--split', '60%'], "cobalt sweep: --split must be a fraction between 0 and 1 (0.6 = the first 60 % in-sample), not '60%'"],
  ])('refuses %j before any run', async (args, message) => {
    const r = await cobalt(['sweep', '--config', 'configs/backtest.yaml', ...args]);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
