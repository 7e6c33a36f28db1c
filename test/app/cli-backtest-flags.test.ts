// `cobalt backtest` refuses sloppy flags before it reads anything (config-input review, finding 8): `--seed` was read
// with Number(), so an unset `$SEED` ('') ran with seed 0 instead of the config's and '0x2A' ran as 42; and a
// COBALT_LOG_LEVEL that names no level died in pino with a stack trace.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backtestCommand } from '../../app/cli-backtest.ts';

async function stderrOf(fn: () => Promise<number>): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    return { code: await fn(), stderr };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => void vi.unstubAllEnvs());

describe('cobalt backtest flags', () => {
  it.each(['', '0x2A', '1e3', '-1', '4.5', ' 7'])('refuses --seed %j with exit 2 and one line', async (seed) => {
    const r = await stderrOf(() => backtestCommand({ config: 'configs/backtest.yaml', report: false, seed }));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cobalt backtest: --seed must be a non-negative integer, not '${seed}'\n`);
  });

  it('refuses a COBALT_LOG_LEVEL that names no level with exit 2 and one line naming it', async () => {
    vi.stubEnv('COBALT_LOG_LEVEL', 'verbose');
    const r = await stderrOf(() => backtestCommand({ config: 'configs/backtest.yaml', report: false }));
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^cobalt backtest: .*COBALT_LOG_LEVEL.*verbose/);
  });
});
