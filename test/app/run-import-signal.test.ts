// Re-review finding 1: the start's signal handlers (app/run.ts watchStartSignals) came with runCommand, but the `run`
// action imports app/run.ts first, seconds of the start (tsx compiles the daemon's modules): a SIGINT/SIGTERM then
// still ended `cobalt run` at once with 130/143 and no line. The action now takes signals before that import: the
// first says it stopped before the start and exits 0. The signal is sent while app/run.ts is being imported
// (run-import-signal-preload.mjs), before any of it runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runWithPreload } from './run-with-preload.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-run-import-signal-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('cobalt run: a signal before the daemon\'s code is loaded', () => {
  it('says it stopped before the start and exits 0', async () => {
    const { code, signal, stderr } = await runWithPreload(root, 'test/app/run-import-signal-preload.mjs');

    expect({ code, signal }, stderr.slice(-2000)).toEqual({ code: 0, signal: null });
    expect(stderr.match(/START_INTERRUPTED/g)).toHaveLength(1);
    expect(stderr).toMatch(/SIGTERM while starting: stopped before start/);
    expect(stderr).not.toMatch(/engine running/);
  }, 200_000);
});
