// Re-review finding 1: the start's signal handlers (app/run.ts watchStartSignals) came with runCommand, but the `run`
// action imports app/run.ts first, seconds of the start (tsx compiles the daemon's modules): a SIGINT/SIGTERM then
// still ended `cobalt run` at once with 130/143 and no line. The action now takes signals before that import: the
// first says it stopped before the start and exits 0. The signal is sent while app/run.ts is being imported
// (run-import-signal-preload.mjs), before any of it runs.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayConfigYaml } from '../e2e/helpers.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-run-import-signal-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const BIN = path.resolve('bin/cobalt.mjs');
const PRELOAD = path.resolve('test/app/run-import-signal-preload.mjs');
const EXIT_WAIT_MS = 150_000;

describe('cobalt run: a signal before the daemon\'s code is loaded', () => {
  it('says it stopped before the start and exits 0', async () => {
    const config = path.join(root, 'paper.yaml');
    writeFileSync(config, replayConfigYaml(root, { speed: 1 }));
    const env = {
      PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', TMPDIR: process.env['TMPDIR'] ?? '/tmp',
      COBALT_LOG_PRETTY: '0', COBALT_LOG_LEVEL: 'info',
    };
    const child = spawn(process.execPath, ['--import', PRELOAD, BIN, 'run', '--config', config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => void (stderr += b.toString('utf8')));
    child.stdout.resume();
    // Bounded (wall time; a loaded machine takes a minute or more to load the modules).
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WAIT_MS);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
    clearTimeout(timer);

    expect({ code, signal }, stderr.slice(-2000)).toEqual({ code: 0, signal: null });
    expect(stderr.match(/START_INTERRUPTED/g)).toHaveLength(1);
    expect(stderr).toMatch(/SIGTERM while starting: stopped before start/);
    expect(stderr).not.toMatch(/engine running/);
  }, 200_000);
});
