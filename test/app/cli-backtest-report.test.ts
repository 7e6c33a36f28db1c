// A report that cannot be written does not take the backtest's summary with it: the JSON line still prints, the
// failure follows on stderr, and the exit code is 1.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('cobalt backtest with an unwritable report', () => {
  it('prints the summary, then the report error, and exits 1', async () => {
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      // /dev/null is a file, so no directory can be made under it.
      execFile(process.execPath, ['--import', 'tsx', 'engine/cli.ts', 'backtest', '--config', 'configs/backtest.yaml', '--json', '--report', '/dev/null/reports/r.html'],
        { timeout: 120_000, env: { ...process.env, COBALT_LOG_LEVEL: 'silent' } },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }));
    });
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    expect(summary['symbol']).toBe('ETH/USDT');
    expect(summary['lines']).toBe(179_318);
    expect(summary).not.toHaveProperty('report');
    expect(r.stderr).toContain('cobalt backtest: the report was not written: /dev/null/reports/r.html: ');
  }, 120_000);
});
