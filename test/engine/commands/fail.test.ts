// Task H3 item 2: the four commands (candles, input, book-replay, exchange-sim) share one `fail`, which refuses the
// user's input with one line on stderr and exit status 1, and no help text.
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { captureOutput } from '../../capture-output.ts';
import { register as registerBookReplay } from '../../../engine/commands/book-replay.ts';
import { register as registerCandles } from '../../../engine/commands/candles.ts';
import { register as registerExchangeSim } from '../../../engine/commands/exchange-sim.ts';
import { fail } from '../../../engine/commands/fail.ts';

const run = (register: (p: Command) => void, args: string[]) => captureOutput(async () => {
  const program = new Command();
  register(program);
  await program.parseAsync(['node', 'cobalt', ...args]);
});

describe('command input refusals', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('writes the message as one stderr line and sets exit status 1', async () => {
    const { out, err } = await captureOutput(async () => fail('candles: no such file'));
    expect([out, err, process.exitCode]).toEqual(['', 'candles: no such file\n', 1]);
  });

  it.each([
    ['candles', registerCandles, ['candles', '--replay', 'x.jsonl', '--symbol', 'ETH/USDT', '--timeframe', '5m'], "candles: --timeframe must be one of 1s, 1m, 1h, 1d, not '5m'\n"],
    ['book-replay', registerBookReplay, ['book-replay', '/nonexistent/cobalt-h3.jsonl', '--symbol', 'ETH/USDT'], 'book-replay: '],
    ['exchange-sim', registerExchangeSim, ['exchange-sim', '--data', 'x.jsonl', '--port', '70000'], "--port must be 0..65535, not '70000'\n"],
  ] as const)('%s refuses bad input that way', async (_name, register, args, start) => {
    const { out, err } = await run(register, [...args]);
    expect([out, err.startsWith(start), err.split('\n').length, process.exitCode]).toEqual(['', true, 2, 1]);
  });
});
