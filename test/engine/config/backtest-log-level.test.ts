// `cobalt backtest` logs at the config's log.level (review finding 5: `level: silent` still printed info and warn
// lines, since only `cobalt run` read the key).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'cobalt-bt-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The child's environment: ours without vitest's markers (they silence the default logger) and without COBALT_ variables.
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && !k.startsWith('COBALT_')));
}

describe('cobalt backtest', () => {
  it('logs nothing with log.level silent', async () => {
    const file = join(dir, 'silent.yaml');
    const text = readFileSync('configs/backtest.yaml', 'utf8').replace(/^(\s*level:).*$/m, '$1 silent');
    expect(text).toMatch(/^\s*level: silent$/m);
    writeFileSync(file, text);
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'engine/cli.ts', 'backtest', '--config', file, '--json', '--no-report'],
        { timeout: 120_000, env: childEnv() },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }));
    });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout.trim()) as Record<string, unknown>)['symbol']).toBe('ETH/USDT');
    expect(r.stderr).toBe('');
  }, 120_000);
});
