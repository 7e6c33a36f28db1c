// CLI review findings 1, 2, 4 and 5: config values and files that validated but could not run as written.
// 1: models.timeoutMs had no upper bound; the inference pool's stuck guard (10 × it) passed Node's 2^31−1 ms timer
//    limit, fired after 1 ms and declared every model run hung (the pool's clamp: test/engine/infer/pool-long-stuck).
// 2: a YAML alias inside the node it names made a cyclic value: `config check` died on a RangeError stack trace.
// 4: an empty or comments-only file (a truncated one) validated as every default.
// 5: data.speed -1 was refused twice for one reason.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parseEnvOverrides, parseYamlConfig, validateConfig } from '../../../engine/config/index.ts';
import { checkConfigFile } from '../../../engine/commands/config.ts';
import { ConfigError } from '../../../engine/types/errors.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-config-refusals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const problemsOf = (doc: unknown, env: Record<string, string> = {}): string[] => {
  const r = validateConfig(doc, parseEnvOverrides(env));
  return r.ok ? [] : r.problems;
};

function yamlError(text: string): string {
  try {
    parseYamlConfig('c.yaml', text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  return 'parsed';
}

describe('models.timeoutMs', () => {
  it('is refused above 60 s, naming the key', () => {
    expect(problemsOf({ models: { timeoutMs: 300_000_000 } })).toEqual(['models.timeoutMs: expected <= 60000, received 300000000']);
  });

  it('is accepted at 60 s', () => {
    expect(problemsOf({ models: { timeoutMs: 60_000 } })).toEqual([]);
  });
});

describe('a YAML alias inside the node it names', () => {
  it.each([
    ['a mapping', 'mode: paper\nrisk: &r\n  maxOrderNotional: "100"\n  self: *r\n', 'line 4, column 9'],
    ['a mapping, deeper down', 'risk: &r\n  breaker:\n    back: [1, *r]\n', 'line 3, column 15'],
    ['a sequence', 'data:\n  replayFiles: &f [a, *f]\n', 'line 2, column 23'],
  ])('is invalid YAML naming its line (%s)', (_what, text, at) => {
    const message = yamlError(text);
    expect(message).toMatch(/^c\.yaml: invalid YAML\n/);
    expect(message).toContain(`  ${at}: `);
    expect(message).toContain('refers to a node that contains it');
  });

  it('is refused by config check with exit code 2 and no stack trace', () => {
    const file = path.join(dir, 'cyclic.yaml');
    writeFileSync(file, 'mode: paper\nrisk: &r\n  maxOrderNotional: "100"\n  self: *r\n');
    const err: string[] = [];
    expect(checkConfigFile(file, {}, () => undefined, (l) => err.push(l))).toBe(2);
    expect(err.join('\n')).toMatch(/invalid YAML\n {2}line 4, column 9: /);
  });

  it('is kept as text in an environment override, which the schema then refuses', () => {
    expect(problemsOf({}, { COBALT_MODE: '&r [*r]' })).toEqual([
      expect.stringMatching(/^mode \(from COBALT_MODE\): expected one of "paper", .*, received "&r \[\*r\]"$/),
    ]);
  });

  it('leaves an alias of a node beside it alone', () => {
    expect(parseYamlConfig('c.yaml', 'a: &x { b: 1 }\nc: *x\nd: [*x, *x]\n')).toEqual({ a: { b: 1 }, c: { b: 1 }, d: [{ b: 1 }, { b: 1 }] });
  });
});

describe('a config file with no settings', () => {
  it.each([
    ['empty', ''],
    ['comments only', '# mode: paper\n'],
    ['a null document', '~\n'],
  ])('is refused (%s)', (name, text) => {
    const file = path.join(dir, `${name.replace(/\W/g, '-')}.yaml`);
    writeFileSync(file, text);
    expect(() => loadConfig(file, {})).toThrow(new ConfigError(`${file} holds no settings: the file is empty or only comments; write at least its mode (e.g. mode: paper)`));
    const err: string[] = [];
    expect(checkConfigFile(file, {}, () => undefined, (l) => err.push(l))).toBe(2);
    expect(err).toEqual([`${file} holds no settings: the file is empty or only comments; write at least its mode (e.g. mode: paper)`]);
  });
});

describe('data.speed out of its range', () => {
  it.each([
    [-1, 'expected >= 0, received -1'],
    [2000, 'expected <= 1000, received 2000'],
    [0.001, 'expected 0 or 0.01..1000, received 0.001'],
  ])('is refused once (%s)', (speed, problem) => {
    expect(problemsOf({ data: { speed } })).toEqual([`data.speed: ${problem}`]);
  });
});
