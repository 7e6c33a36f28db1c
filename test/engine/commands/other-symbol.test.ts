// The commands that read recordings take a symbol that is not bundled from a config's `instruments` (--config): the
// book replay, the candles, the model input and the exchange simulator knew only the bundled BTC/USDT and ETH/USDT
// increments, so a SOL/USDT recording needed --tick/--lot or could not be read at all. The recording is the bundled
// ETH one rewritten to SOL (test/e2e/other-symbol.ts).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { captureOutput } from '../../capture-output.ts';
import { register as registerBookReplay } from '../../../engine/commands/book-replay.ts';
import { register as registerCandles } from '../../../engine/commands/candles.ts';
import { inputFromRecordings } from '../../../engine/commands/input.ts';
import { loadConfig } from '../../../engine/config/index.ts';
import { SOL_INCREMENTS, writeSolRecording, type SolRecording } from '../../e2e/other-symbol.ts';

const UNTIL_MS = Date.parse('2024-08-08T23:56:30Z');
let dir: string;
let rec: SolRecording;
let config: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cobalt-sol-commands-'));
  rec = writeSolRecording(dir, UNTIL_MS);
  config = join(dir, 'sol.yaml');
  writeFileSync(config, [
    'symbols:', '  primary: SOL/USDT', '  reference: BTC/USDT', '  cobBucketSize: { SOL/USDT: "1", BTC/USDT: "10" }',
    'instruments:', `  SOL/USDT: { tickSize: "${SOL_INCREMENTS.tickSize}", lotSize: "${SOL_INCREMENTS.lotSize}", minNotional: "${SOL_INCREMENTS.minNotional}" }`,
    `data: { klinesDirs: [${rec.klinesDir}] }`, '',
  ].join('\n'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

const run = (register: (p: Command) => void, args: string[]) => captureOutput(async () => {
  const program = new Command();
  register(program);
  await program.parseAsync(['node', 'cobalt', ...args]);
});

describe('commands on a symbol given by a config\'s instruments', () => {
  it('book-replay syncs the SOL/USDT book on the config\'s increments, and without them asks for its sizes', async () => {
    const withConfig = await run(registerBookReplay, ['book-replay', rec.sol, '--config', config, '--json']);
    const code = process.exitCode;
    process.exitCode = undefined;
    const without = await run(registerBookReplay, ['book-replay', rec.sol, '--json']);
    const r = JSON.parse(withConfig.out) as { symbol: string; state: string; applied: number; crossed: number; qtyRounded: number };

    expect(code).toBeUndefined();
    expect([r.symbol, r.state, r.crossed, r.qtyRounded]).toEqual(['SOL/USDT', 'live', 0, 0]);
    expect(r.applied).toBeGreaterThan(0);
    expect(process.exitCode).toBe(1);
    expect(without.err).toMatch(/^book-replay: symbol SOLUSDT is not a bundled instrument nor under a config's instruments \(known: BTC\/USDT, ETH\/USDT\): give its tick and lot sizes\n$/);
  });

  it('candles builds SOL/USDT bars from its trades with --config', async () => {
    const { out, err } = await run(registerCandles, ['candles', '--replay', rec.sol, '--symbol', 'SOL/USDT', '--timeframe', '1s', '--config', config]);
    const r = JSON.parse(out) as { symbol: string; count: number; replay: { malformed: number } };

    expect(err).toBe('');
    expect([r.symbol, r.replay.malformed]).toEqual(['SOL/USDT', 0]);
    expect(r.count).toBeGreaterThan(60);
  });

  it('input assembles the model input of SOL/USDT from the config\'s instruments', async () => {
    const r = await inputFromRecordings([rec.sol, rec.btc], loadConfig(config, {}).config);

    expect(Object.keys(r.series)).toEqual(['SOL/USDT', 'BTC/USDT']);
    expect(r.replay.malformed).toBe(0);
    expect(r.series['SOL/USDT']!['1m']).toBeGreaterThan(100);
  }, 60_000);

  it('exchange-sim serves a SOL/USDT recording with --config, and refuses it without', async () => {
    const start = (extra: string[]): Promise<{ line: string; code: number | null; err: string }> => new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'engine/cli.ts', 'exchange-sim', '--data', rec.sol, rec.btc, '--port', '0', '--speed', 'manual', ...extra],
        { env: { ...process.env, COBALT_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let line = '';
      let err = '';
      child.stderr.on('data', (b: Buffer) => void (err += b.toString()));
      createInterface({ input: child.stdout }).once('line', (l) => {
        line = l;
        child.kill('SIGINT');
      });
      child.on('exit', (code) => resolve({ line, code, err }));
    });

    const served = await start(['--config', config]);
    const refused = await start([]);

    expect((JSON.parse(served.line) as { symbols: string[] }).symbols).toEqual(['SOLUSDT', 'BTCUSDT']);
    expect(refused.line).toBe('');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^exchange-sim: no instrument increments for recorded symbol SOLUSDT: pass them in options\.instruments \(cobalt exchange-sim: --config with the symbol under instruments\)\n$/);
  }, 60_000);
});
