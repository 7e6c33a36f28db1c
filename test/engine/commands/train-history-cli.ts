// `cobalt train` and `cobalt history` run in-process on a commander program of their own (exitOverride: a usage error
// comes back as the thrown error's message and exit code), for the train-from-history tests.
import { Command } from 'commander';
import { register as registerHistory } from '../../../engine/commands/history.ts';
import { register as registerTrain } from '../../../engine/commands/train.ts';
import { captureOutput } from '../../capture-output.ts';

/** Runs `cobalt <args>`; returns what it printed and the exit code it set (process.exitCode, reset by the caller). */
export async function cobalt(...args: string[]): Promise<{ out: string; err: string; code: number | string | undefined }> {
  const program = new Command('cobalt').exitOverride();
  registerTrain(program);
  registerHistory(program);
  try {
    const r = await captureOutput(() => program.parseAsync(args, { from: 'user' }));
    return { out: r.out, err: r.err, code: process.exitCode };
  } catch (e) {
    // program.error under exitOverride: the message went to stderr (captured and lost), so it is the error's own.
    return { out: '', err: (e as Error).message, code: (e as { exitCode?: number }).exitCode };
  }
}

/** A training that takes seconds: two folds of two steps of a small network, on the fixture's span. */
export const TINY = ['--folds', '2', '--max-steps', '2', '--batch', '8', '--channels', '4', '--until', '2024-08-08T13:00:00Z'];
