// The `cobalt` command: each subcommand lives in engine/commands/<name>.ts and registers itself here.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { logLevelRefusal } from './config/load.ts';
import { register as alertsCommand } from './commands/alerts.ts';
import { register as backtestCommand } from './commands/backtest.ts';
import { register as bookReplayCommand } from './commands/book-replay.ts';
import { register as candlesCommand } from './commands/candles.ts';
import { register as configCommand } from './commands/config.ts';
import { register as exchangeSimCommand } from './commands/exchange-sim.ts';
import { register as historyCommand } from './commands/history.ts';
import { register as inputCommand } from './commands/input.ts';
import { register as klinesCommand } from './commands/klines.ts';
import { register as recordCommand } from './commands/record.ts';
import { register as runCommand } from './commands/run.ts';
import { register as sweepCommand } from './commands/sweep.ts';
import { register as trainCommand } from './commands/train.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('cobalt')
  .description('Actor-based real-time crypto trading engine')
  .version(pkg.version, '-V, --version')
  .showHelpAfterError();

const commands: Array<(p: Command) => void> = [
  // Registered commands, one import each (keep sorted).
  alertsCommand,
  backtestCommand,
  bookReplayCommand,
  candlesCommand,
  configCommand,
  exchangeSimCommand,
  historyCommand,
  inputCommand,
  klinesCommand,
  recordCommand,
  runCommand,
  sweepCommand,
  trainCommand,
];
for (const register of commands) register(program);

// Every command but `config` logs, and pino throws a stack trace on an unknown level the moment the first logger is
// made (inside a command, after work began): an invalid COBALT_LOG_LEVEL is refused here, before any action, in one
// line with exit code 2 like a config refusal. `config check` reports it as one of its problems (or ignores it with
// --no-env); `config schema` reads no environment.
program.hook('preAction', (_program, action) => {
  const names: string[] = [];
  for (let c: Command | null = action; c !== null && c !== program; c = c.parent) names.unshift(c.name());
  if (names[0] === 'config') return;
  const refusal = logLevelRefusal(process.env.COBALT_LOG_LEVEL);
  if (refusal === undefined) return;
  process.stderr.write(`cobalt ${names.join(' ')}: ${refusal}\n`);
  process.exit(2);
});

await program.parseAsync(process.argv);
