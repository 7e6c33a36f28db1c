import type { Command } from 'commander';

const collect = (v: string, all: string[]): string[] => [...all, v];

/**
 * Registers `cobalt sweep --config FILE --param KEY=V1,V2 [--param …] [--split 0.6] [--rank sharpe] [--top 3] [--from T]
 * [--to T] [--json] [--out DIR]` (the work is in app/sweep.ts).
 */
export function register(program: Command): void {
  program
    .command('sweep')
    .description('Backtest a grid of config values on the first part of the recording, then the best few on the rest (out-of-sample)')
    .requiredOption('--config <file>', 'config file (required; data.replayFiles), the base of every configuration')
    .option('--param <key=v1,v2>', 'a dotted config key and its values (repeat for a grid)', collect, [])
    .option('--split <fraction>', 'share of the recorded span run in-sample (default 0.6)')
    .option('--rank <metric>', 'in-sample figure to rank by: sharpe, pnl, hitRate, maxDrawdown (lowest first), trades (default sharpe)')
    .option('--top <k>', 'configurations run out-of-sample, best in-sample first (default 3)')
    .option('--from <time>', 'sweep over recorded time from here on (ISO with a zone, or epoch ms); the split applies to the span')
    .option('--to <time>', 'sweep over recorded time before this (ISO with a zone, or epoch ms)')
    .option('--json', 'print the result as one JSON document on stdout')
    .option('--out <dir>', 'also write sweep.json and each run\'s backtest summary (runs/) under this folder')
    .action(async (o: { config: string; param: string[]; split?: string; rank?: string; top?: string; from?: string; to?: string; json?: boolean; out?: string }) => {
      const { sweepCommand } = await import('../../app/sweep.ts');
      process.exitCode = await sweepCommand(o);
    });
}
