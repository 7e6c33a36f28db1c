// CLI review finding 3: `cobalt run` installed its signal handlers only once the system was built (config load, the
// recording scan and buildSystem: seconds). A Ctrl-C or SIGTERM then ended it at once with 130/143 and no line,
// the codes `run --help` gives for a second signal. A first signal during the start now logs one line and the
// start stops there, exit 0; the signal is sent from inside the process (run-start-signal-preload.mjs) as soon as
// runCommand has begun. One that lands while the system is built stops it gracefully before it starts (exit 0), and
// one the OS delivers as the daemon's own handlers take over is not lost.
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../../app/run.ts';
import { Supervisor } from '../../engine/runtime/supervisor.ts';
import { LmdbStore, WRITER_LOCK_FILE } from '../../engine/store/lmdb.ts';
import { ReplayFeed } from '../../engine/venues/replay/replay-feed.ts';
import { replayConfigYaml } from '../e2e/helpers.ts';
import { runWithPreload } from './run-with-preload.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-run-start-signal-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

interface LogLine { msg?: string; signal?: string; code?: string }

describe('cobalt run: a signal while it starts', () => {
  it('logs that it stops before the start and exits 0, leaving no engine running', async () => {
    const { code, signal, stderr } = await runWithPreload(root, 'test/app/run-start-signal-preload.mjs');
    const logs = stderr.split('\n').flatMap((l): LogLine[] => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return [];
      }
    });

    expect({ code, signal }, stderr.slice(-2000)).toEqual({ code: 0, signal: null });
    expect(logs.filter((l) => /stopping before start/.test(l.msg ?? ''))).toEqual([
      expect.objectContaining({ signal: 'SIGTERM', code: 'START_INTERRUPTED' }),
    ]);
    expect(logs.some((l) => l.msg === 'engine running')).toBe(false);
    // No writer lock left behind: the next start takes the store.
    expect(existsSync(path.join(root, 'store', WRITER_LOCK_FILE))).toBe(false);
  }, 200_000);

  it('stops the system built meanwhile gracefully, never starting it: exit 0, the store released', async () => {
    const dir = path.join(root, 'during-build');
    const config = path.join(root, 'during-build.yaml');
    writeFileSync(config, replayConfigYaml(dir, { speed: 1 }));
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    const source = new EventEmitter();
    // The signal lands while buildSystem opens the store (the replay's start opens it first, without noSync).
    const open = LmdbStore.open.bind(LmdbStore);
    vi.spyOn(LmdbStore, 'open').mockImplementation((opts) => {
      const store = open(opts);
      if (opts.noSync !== undefined) source.emit('SIGTERM', 'SIGTERM');
      return store;
    });
    const started = vi.spyOn(Supervisor.prototype, 'start');
    let failed: unknown;
    const exits: number[] = [];
    let exited = false;
    void runCommand({ config }, { source, exit: (code) => void (exits.push(code), exited = true) }).then((c) => (failed = `runCommand returned ${c}`), (err: unknown) => (failed = err));
    // Bounded (wall time): the exit, a failed start, or the engine starting (the signal was not taken).
    for (let i = 0; i < 4800 && !exited && failed === undefined && started.mock.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    const starts = started.mock.calls.length;
    if (!exited) source.emit('SIGTERM', 'SIGTERM');

    expect(failed).toBeUndefined();
    expect(exits).toEqual([0]);
    expect(starts).toBe(0);
    expect(existsSync(path.join(dir, 'store', WRITER_LOCK_FILE))).toBe(false);
  }, 150_000);

  // The process's own signal, delivered while the code that hands over to the daemon's handlers runs: removing the
  // start's handlers first left SIGTERM with no listener for a moment, Node dropped its signal handle with the signal
  // pending in it, and the daemon ran on. The process is this test's (forks pool), whose SIGTERM has no other listener.
  it('takes a signal the OS delivered as the handlers hand over (the process\'s own, not an emitter)', async () => {
    const dir = path.join(root, 'handover');
    const config = path.join(root, 'handover.yaml');
    writeFileSync(config, replayConfigYaml(dir, { speed: 1 }));
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    // keepReplayTime calls it just before the handover, in the same synchronous run.
    const reserveWith = ReplayFeed.prototype.reserveWith;
    vi.spyOn(ReplayFeed.prototype, 'reserveWith').mockImplementation(function (this: ReplayFeed, fn) {
      process.kill(process.pid, 'SIGTERM');
      // Until the OS has surely delivered it (to the handle the start's handlers hold).
      const t = performance.now();
      while (performance.now() - t < 50);
      return reserveWith.call(this, fn);
    });
    const started = vi.spyOn(Supervisor.prototype, 'start');
    let failed: unknown;
    const exits: number[] = [];
    let exited = false;
    void runCommand({ config }, { exit: (code) => void (exits.push(code), exited = true) }).then((c) => (failed = `runCommand returned ${c}`), (err: unknown) => (failed = err));
    const running = (): boolean => started.mock.calls.length > 0;
    for (let i = 0; i < 4800 && !exited && failed === undefined && !running(); i++) await new Promise((r) => setTimeout(r, 25));
    // Let a start under way finish or stop (bounded).
    for (let i = 0; i < 400 && !exited && failed === undefined; i++) await new Promise((r) => setTimeout(r, 25));
    if (!exited) process.emit('SIGTERM', 'SIGTERM');

    expect(failed).toBeUndefined();
    expect(exits).toEqual([0]);
  }, 150_000);
});
