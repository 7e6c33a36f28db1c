import type { Command } from 'commander';

/**
 * Registers `cobalt run --config FILE [--live] [--speed X]`: the trading daemon (the work is in app/run.ts). Exit codes:
 * 0 after a clean stop, 1 a failed stop or start, 2 a refused start, 70 a crash, 128 + n a second signal n.
 */
export function register(program: Command): void {
  program
    .command('run')
    .description('Run the engine until SIGINT/SIGTERM: paper trading (live or replayed data) or, with --live, real orders')
    .requiredOption('--config <file>', 'config file (required)')
    .option('--live', 'allow real orders (needs mode: live in the config and keys in the environment)')
    .option('--speed <x>', 'replay speed (multiple of real time) for recorded data, or with an exchange simulator on loopback')
    .addHelpText('after', '\nExit codes: 0 clean stop, 1 failed stop or start, 2 refused start, 70 crash (ENGINE_CRASHED), 130/143 second signal.')
    .action(async (o: { config: string; live?: boolean; speed?: string }) => {
      const early = stopOnEarlySignal();
      const { runCommand } = await import('../../app/run.ts');
      process.exitCode = await runCommand(o, { early });
    });
}

/**
 * Takes SIGINT/SIGTERM while the daemon's code is imported (seconds: tsx compiles its module graph), before runCommand
 * has its own handlers: Node's default then ended the process with 130/143 and no line, the codes of a second signal.
 * Nothing is open yet, so the start just ends: one line (no logger exists yet) and exit 0. runCommand removes these
 * once its own are added (with none in between, Node drops the signal handle and a signal pending in it).
 */
function stopOnEarlySignal(signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): { remove(): void } {
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`cobalt run: ${signal} while starting: stopped before start (START_INTERRUPTED)\n`);
    process.exit(0);
  };
  for (const s of signals) process.on(s, onSignal);
  return { remove: () => void signals.forEach((s) => process.off(s, onSignal)) };
}
