// Task H8 finding 2: an invalid COBALT_LOG_LEVEL threw pino's stack trace from every command that logs (the first
// logger is made inside the command, after work began), or came out as that command's own refusal with pino's text;
// only `cobalt run` refused it. The CLI now refuses it before any command runs: one line, exit code 2.
// Finding 8: `exchange-sim --port ''` was port 0 (any free port), since Number('') is 0.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { register as registerExchangeSim } from '../../../engine/commands/exchange-sim.ts';
import { captureOutput } from '../../capture-output.ts';
import { cobaltInProcess } from '../../cli-in-process.ts';

const ETH = 'data/recordings/spot_ethusdt_20240808.jsonl.gz';
const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-refusals-h8-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Venues on a closed loopback port: a command that got past the check must not reach the internet.
const LOOPBACK = path.join(dir, 'loopback.yaml');
writeFileSync(LOOPBACK, 'venues:\n  binance: { restUrl: "http://127.0.0.1:1", wsUrl: "ws://127.0.0.1:1" }\n  mexc: { enabled: false }\n');

// The child's environment: ours without vitest's markers (they silence the default logger) and COBALT_ variables.
function childEnv(level: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && !k.startsWith('COBALT_')));
  return { ...env, COBALT_LOG_LEVEL: level };
}

function cobalt(args: readonly string[], level: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'engine/cli.ts', ...args], { timeout: 60_000, env: childEnv(level) }, (err, _out, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr });
    });
  });
}

const REFUSED = (name: string): string => `cobalt ${name}: COBALT_LOG_LEVEL 'verbose' is not a log level (one of fatal, error, warn, info, debug, trace, silent)\n`;

describe('an invalid COBALT_LOG_LEVEL', () => {
  // Through the real program in this process (one module load for all, not a 5 s child each); the spawned case below
  // checks the process's own exit.
  it.each([
    ['input', ['input', '--replay', ETH]],
    ['candles', ['candles', '--replay', ETH, '--symbol', 'ETH/USDT']],
    ['book-replay', ['book-replay', ETH]],
    ['exchange-sim', ['exchange-sim', '--data', ETH, '--port', '0']],
    ['backtest', ['backtest', '--config', 'configs/backtest.yaml', '--no-report']],
    ['record', ['record', '--config', LOOPBACK, '--out', dir, '--duration', '1']],
    ['train cnn', ['train', 'cnn', '--no-save', '--klines-dir', path.join(dir, 'absent')]],
  ])('stops cobalt %s before it starts: one line, exit code 2', async (name, args) => {
    const r = await cobaltInProcess(args, { COBALT_LOG_LEVEL: 'verbose' });

    expect([r.code, r.stderr, r.stdout]).toEqual([2, REFUSED(name), '']);
  }, 60_000);

  it('stops a spawned cobalt train cnn: the process exits 2 after the one line', async () => {
    const r = await cobalt(['train', 'cnn', '--no-save', '--klines-dir', path.join(dir, 'absent')], 'verbose');

    expect(r.code).toBe(2);
    expect(r.stderr).toBe(REFUSED('train cnn'));
  }, 60_000);
});

describe('cobalt exchange-sim --port', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it.each(['', ' ', '0x10', '1e3', '-0'])("refuses '%s' in one line", async (port) => {
    const { err } = await captureOutput(async () => {
      const program = new Command();
      registerExchangeSim(program);
      await program.parseAsync(['node', 'cobalt', 'exchange-sim', '--data', 'absent.jsonl', '--port', port]);
    });

    expect([err, process.exitCode]).toEqual([`--port must be 0..65535, not '${port}'\n`, 1]);
  });
});
