// The `cobalt` command: each subcommand lives in engine/commands/<name>.ts and registers itself here.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { register as backtestCommand } from './commands/backtest.ts';
import { register as bookReplayCommand } from './commands/book-replay.ts';
import { register as candlesCommand } from './commands/candles.ts';
import { register as configCommand } from './commands/config.ts';
import { register as exchangeSimCommand } from './commands/exchange-sim.ts';
import { register as inputCommand } from './commands/input.ts';
import { register as recordCommand } from './commands/record.ts';
import { register as runCommand } from './commands/run.ts';
import { register as trainCommand } from './commands/train.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('cobalt')
  .description('Actor-based real-time crypto trading engine')
  .version(pkg.version, '-V, --version')
  .showHelpAfterError();

const commands: Array<(p: Command) => void> = [
  // Registered commands, one import each (keep sorted).
  backtestCommand,
  bookReplayCommand,
  candlesCommand,
  configCommand,
  exchangeSimCommand,
  inputCommand,
  recordCommand,
  runCommand,
  trainCommand,
];
for (const register of commands) register(program);

await program.parseAsync(process.argv);
