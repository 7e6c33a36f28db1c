// `cobalt exchange-sim` reports a bad file or option in one line, without the whole help text after it, like the
// other commands (review: exchange-sim file errors were followed by the top-level help).
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function cobalt(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'engine/cli.ts', ...args], { timeout: 60_000, env: { ...process.env, COBALT_LOG_LEVEL: 'silent' } }, (err, _out, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr });
    });
  });
}

describe('cobalt exchange-sim', () => {
  it.each([
    ['a missing recording', ['--data', 'data/recordings/absent.jsonl.gz', '--port', '0'], /^exchange-sim: .*absent\.jsonl\.gz/],
    ['a bad --port', ['--data', 'data/recordings/spot_ethusdt_20240808.jsonl.gz', '--port', 'abc'], /^--port must be 0\.\.65535, not 'abc'/],
  ])('names %s in one line, with no help text', async (_what, args, line) => {
    const r = await cobalt(['exchange-sim', ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(line);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});
