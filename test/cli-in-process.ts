// Runs `cobalt <args>` through the real program (engine/cli.ts: every command registered, its preAction hook, its
// commander settings) inside the test's own process, for tests of what the CLI decides and prints: a spawned
// `node --import tsx engine/cli.ts` spends ~5 s of CPU loading its modules before it does anything, and this loads
// them once per test file. process.exit is caught (it ends the run with its code, nothing exits) and the exit code
// is what the process would have exited with. Keep at least one spawned run per command for the real process exit.
import { vi } from 'vitest';
import { captureOutput } from './capture-output.ts';

const CLI = new URL('../engine/cli.ts', import.meta.url).href;
let runs = 0;

/** What a run of the CLI ended with and printed. */
export interface CliRun {
  /** The code passed to process.exit, else process.exitCode when the command returned (0 when unset). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

class ProcessExit extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

/**
 * Runs the CLI with `args` and the environment variables in `env` set (undefined: unset) for the run. Each run
 * evaluates engine/cli.ts afresh (a new commander program); the modules it imports are shared between runs.
 */
export async function cobaltInProcess(args: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): Promise<CliRun> {
  const argv = process.argv;
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const exit = vi.spyOn(process, 'exit').mockImplementation(((code?: number | string | null) => {
    throw new ProcessExit(Number(code ?? 0));
  }) as typeof process.exit);
  process.argv = [process.execPath, 'cobalt', ...args];
  setEnv(env);
  process.exitCode = undefined;
  try {
    const { result, out, err } = await captureOutput(async () => {
      try {
        // A query makes a new module instance: the program is built and parses process.argv again.
        await import(`${CLI}?run=${++runs}`);
        return Number(process.exitCode ?? 0);
      } catch (e) {
        if (e instanceof ProcessExit) return e.code;
        throw e;
      }
    });
    return { code: result, stdout: out, stderr: err };
  } finally {
    exit.mockRestore();
    process.argv = argv;
    setEnv(saved);
    process.exitCode = undefined;
  }
}

function setEnv(env: Readonly<Record<string, string | undefined>>): void {
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}
