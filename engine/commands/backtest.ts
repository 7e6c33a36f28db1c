import type { Command } from 'commander';

/**
 * Registers `cobalt backtest --config FILE [--json] [--report FILE.html] [--seed N] [--from T] [--to T]
 * [--allow-in-sample]` (the work is in app/backtest.ts).
 */
export function register(program: Command): void {
  program
    .command('backtest')
    .description('Replay recorded data through every actor on a simulated clock with the paper venue, as fast as possible')
    .requiredOption('--config <file>', 'config file (required; mode backtest, data.replayFiles)')
    .option('--json', 'print the summary as one JSON line on stdout')
    .option('--report <file>', 'HTML report path (default var/reports/backtest-<seed>-<time>.html)')
    .option('--no-report', 'write no HTML report')
    .option('--seed <n>', 'seed (overrides the config)')
    .option('--from <time>', 'trade and measure from this recorded time on (ISO with a zone, or epoch ms); the data before it still warms the engine up')
    .option('--to <time>', 'stop before this recorded time (ISO with a zone, or epoch ms)')
    .option('--allow-in-sample', 'run although a model was trained on data reaching into the recording (the summary says so)')
    .action(async (o: { config: string; json?: boolean; report?: string | false; seed?: string; from?: string; to?: string; allowInSample?: boolean }) => {
      const { backtestCommand } = await import('../../app/cli-backtest.ts');
      process.exitCode = await backtestCommand(o);
    });
}
