// A config value only the built system can judge (a quantity cap under one lot of the order venue's lot size) refuses
// to start like a config that fails validation: one line naming the key, exit code 2, no stack trace.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'cobalt-refusal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The bundled config with a cap of 0.00001 ETH (ETH/USDT's lot is 0.0001) and its store in the temporary directory.
function config(base: string): string {
  const text = readFileSync(base, 'utf8').replace(/^risk:\n/m, "risk:\n  maxOrderQty: '0.00001'\n").replace(/^(\s*path:).*$/m, `$1 ${join(dir, 'store')}`);
  const file = join(dir, base.replace(/\W/g, '_'));
  writeFileSync(file, text);
  return file;
}

function cobalt(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'engine/cli.ts', ...args], { timeout: 60_000, env: { ...process.env, COBALT_LOG_LEVEL: 'silent' } }, (err, _out, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr });
    });
  });
}

describe('a cap under one lot', () => {
  it.each([
    ['backtest', 'configs/backtest.yaml'],
    ['run', 'configs/default.yaml'],
  ])('cobalt %s refuses to start with one line naming it', async (cmd, base) => {
    const r = await cobalt([cmd, '--config', config(base), ...(cmd === 'backtest' ? ['--no-report'] : [])]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cobalt ${cmd}: `);
    expect(r.stderr).toContain('risk.maxOrderQty: 0.00001 is less than one lot of ETH/USDT (lot size 0.0001');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
