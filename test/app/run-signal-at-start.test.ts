// A SIGTERM while `cobalt run` starts (runtime review finding 1): the handler is installed before `await sys.start()`
// (a live start reconciles with the venue for seconds), the shutdown began, the start finished anyway, and runCommand
// went on to start the status line, whose hook registration threw "shutdown already started" on a terminal: the
// command failed (exit code 1 in the CLI) in the middle of the shutdown. It now starts nothing more and the handler's
// exit ends the run. The signal is the handler called during the start, as a real one would land there.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../../app/run.ts';
import { replayConfigYaml } from '../e2e/helpers.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-run-signal-'));
const isTTY = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
  if (isTTY) Object.defineProperty(process.stdout, 'isTTY', isTTY);
  else delete (process.stdout as { isTTY?: boolean }).isTTY;
});

// Calls the daemon's SIGTERM handler as soon as it is installed, i.e. during `await sys.start()`. It is the second:
// the first is the start's (watchStartSignals), removed once the system is built.
function signalDuringStart(): EventEmitter {
  const source = new EventEmitter();
  let handlers = 0;
  source.on('newListener', (event: string, listener: (signal: string) => void) => {
    if (event === 'SIGTERM' && ++handlers === 2) queueMicrotask(() => listener('SIGTERM'));
  });
  return source;
}

describe('a signal while cobalt run starts', () => {
  it('shuts down and exits 0 on a terminal, starting neither the status line nor anything else', async () => {
    const config = path.join(root, 'paper.yaml');
    writeFileSync(config, replayConfigYaml(root, { speed: 1 }));
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    vi.stubEnv('COBALT_LOG_PRETTY', '0');
    Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true });
    let failed: unknown;
    const exits: number[] = [];
    const exited = new Promise<void>((resolve) => {
      runCommand({ config }, { source: signalDuringStart(), exit: (code) => (exits.push(code), resolve()) }).catch((err: unknown) => (failed = err));
    });
    await exited;
    // Whatever runCommand had left to do after the start has run by now.
    await new Promise((r) => setImmediate(r));

    expect(failed).toBeUndefined();
    expect(exits).toEqual([0]);
  }, 60_000);
});
