// A secret pasted into a config file must not come back in the error that refuses it (review_dash finding 5): not
// in a YAML error's quoted source lines, not in a "received …" value. The errors still say where and what.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../engine/config/index.ts';
import { ConfigError } from '../../../engine/types/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'cobalt-config-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function refusal(yaml: string, env: Record<string, string> = {}): string {
  const f = join(dir, `c${n++}.yaml`);
  writeFileSync(f, yaml);
  try {
    loadConfig(f, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('config errors and secrets written in the file', () => {
  it.each([
    ['a duplicated key next to the secret', 'venues:\n  binance:\n    apiKey: PASTED_KEY_1\n    apiKey: PASTED_KEY_1\n', /line 4, column 5: Map keys must be unique/],
    ['a syntax error a line after the secret', 'dashboard:\n  host: "127.0.0.1"\n  token: PASTED_KEY_1\n  \'bad\n', /line \d+, column \d+: /],
    ['a syntax error on a pasted key with no name', 'mode: paper\nPASTED_KEY_1 PASTED_KEY_1: [\n', /line \d+, column \d+: /],
    ['an unknown escape in a quoted secret', 'venues:\n  binance:\n    secret: "PASTED_KEY_1\\q"\n', /line 3, column \d+: Invalid escape sequence/],
  ])('gives the position of invalid YAML without quoting the file (%s)', (_name, yaml, where) => {
    const m = refusal(yaml);
    expect(m).toMatch(/invalid YAML/);
    expect(m).toMatch(where);
    expect(m).not.toContain('PASTED_KEY_1');
  });

  it.each([
    ['mode:\n  apiKey: PASTED_KEY_1\n', 'mode.apiKey: secrets are not read', 'mode: expected one of'],
    ['log:\n  level: [ {password: PASTED_KEY_1} ]\n', 'log.level[0].password: secrets are not read', 'log.level: expected one of'],
    ['risk:\n  maxDrawdownPct: {token: PASTED_KEY_1}\n', 'risk.maxDrawdownPct.token: secrets are not read', 'risk.maxDrawdownPct: expected'],
  ])('names the key path and the problem but not a value holding a secret (%j)', (yaml, secretLine, problemLine) => {
    const m = refusal(yaml);
    expect(m).toContain(secretLine);
    expect(m).toContain(problemLine);
    expect(m).not.toContain('PASTED_KEY_1');
  });

  it('does not show a secret passed inside an environment override', () => {
    const m = refusal('mode: paper\n', { COBALT_MODE: '{apiKey: PASTED_KEY_1}' });
    expect(m).toContain('mode (from COBALT_MODE): expected one of');
    expect(m).not.toContain('PASTED_KEY_1');
  });

  it('still shows an ordinary wrong value', () => {
    expect(refusal('mode: papr\n')).toContain('mode: expected one of "paper", "live", "backtest", "replay", received "papr"');
  });
});
