// Review (first hour, finding 2): with `symbols.primary: SOL/USDT` over the ETH/BTC recordings, `cobalt backtest` exited
// 0 with no trade and no decision, and `cobalt run` ran forever showing `0 SOL`, neither saying why. Both now refuse
// (exit 2, one line naming the symbol and the files) when the traded or reference symbol has no line in
// data.replayFiles, before anything is built.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runBacktest } from '../../app/backtest.ts';
import { backtestCommand } from '../../app/cli-backtest.ts';
import { runCommand } from '../../app/run.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import { RECORDINGS } from '../e2e/helpers.ts';

// Reaching the build means the start was not refused: the stand-in fails it at once (no daemon left running, no feed).
vi.mock('../../app/system.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../app/system.ts')>()),
  buildSystem: async () => {
    throw new Error('the system was built: the start was not refused');
  },
}));

const dir = mkdtempSync(join(tmpdir(), 'cobalt-unrecorded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** Writes a config of `mode` trading `primary` with `reference` over the bundled ETH/BTC recordings; returns its path. */
function config(mode: 'backtest' | 'paper', primary: string, reference: string): string {
  const file = join(dir, `${mode}-${primary}-${reference}.yaml`.replace(/\//g, ''));
  writeFileSync(file, [
    `mode: ${mode}`,
    "instruments: { SOL/USDT: { tickSize: '0.01', lotSize: '0.001', minNotional: '5' } }",
    'symbols:',
    `  primary: ${primary}`,
    `  reference: ${reference}`,
    `  cobBucketSize: { ${primary}: '1', ${reference}: '10' }`,
    'data:',
    `  replayFiles: [${RECORDINGS.join(', ')}]`,
    '  klinesDirs: [data/klines]',
    `  catalogDir: ${join(dir, 'catalog')}`,
    `  speed: ${mode === 'backtest' ? 0 : 30}`,
    'store:',
    `  path: ${join(dir, 'store')}`,
    `  archiveDir: ${join(dir, 'archive')}`,
    'dashboard:',
    '  enabled: false',
    '',
  ].join('\n'));
  return file;
}

/** Runs `f` with stderr captured; returns what it resolved to and what it wrote. */
async function withStderr<T>(f: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  let stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const value = await f();
  return { value, stderr };
}

const FILES = RECORDINGS.join(', ');

describe('a traded or reference symbol the recordings do not hold', () => {
  it.each([
    ['backtest', 'the traded symbol', 'SOL/USDT', 'BTC/USDT', 'symbols.primary SOL/USDT (SOLUSDT) has'],
    ['backtest', 'the reference symbol', 'ETH/USDT', 'SOL/USDT', 'symbols.reference SOL/USDT (SOLUSDT) has'],
    ['run', 'the traded symbol', 'SOL/USDT', 'BTC/USDT', 'symbols.primary SOL/USDT (SOLUSDT) has'],
    ['run', 'the reference symbol', 'ETH/USDT', 'SOL/USDT', 'symbols.reference SOL/USDT (SOLUSDT) has'],
  ] as const)('cobalt %s refuses %s with exit 2 and one line naming it and the files', async (cmd, _, primary, reference, named) => {
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    const file = config(cmd === 'backtest' ? 'backtest' : 'paper', primary, reference);
    const r = await withStderr(() => (cmd === 'backtest' ? backtestCommand({ config: file, report: false }) : runCommand({ config: file })));
    expect(r.value).toBe(2);
    expect(r.stderr).toBe(`cobalt ${cmd}: ${file}: ${named} no line in data.replayFiles (${FILES}), which hold BTCUSDT, ETHUSDT\n`);
    // Refused before the replay catalog was built (seconds of decoding), not after: nothing written.
    const catalogs = join(dir, 'catalog');
    expect(existsSync(catalogs) ? readdirSync(catalogs) : []).toEqual([]);
  }, 60_000);

  it.each([['the catalog', true], ['the text', false]] as const)('a backtest reading %s refuses with a ConfigError', async (_, catalog) => {
    const { config: c } = loadConfig(config('backtest', 'SOL/USDT', 'BTC/USDT'), {});
    await expect(runBacktest(c, { catalog })).rejects.toThrow(ConfigError);
    const catalogs = join(dir, 'catalog');
    expect(existsSync(catalogs) ? readdirSync(catalogs) : []).toEqual([]);
  }, 60_000);

  it.each(['backtest', 'run'] as const)('cobalt %s on symbols the recordings hold passes the check (goes on to build)', async (cmd) => {
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    const file = config(cmd === 'backtest' ? 'backtest' : 'paper', 'ETH/USDT', 'BTC/USDT');
    await expect(cmd === 'backtest' ? backtestCommand({ config: file, report: false }) : runCommand({ config: file }))
      .rejects.toThrow('the system was built: the start was not refused');
  }, 60_000);
});
