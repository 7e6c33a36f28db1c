// A real `cobalt run` (node bin/cobalt.mjs, a replay with the alerts webhook on a receiver on 127.0.0.1) crashing on
// an uncaught exception from a timer: it logs ENGINE_CRASHED at fatal level as JSON on stderr, posts ENGINE_CRASHED to
// the webhook, stops nothing gracefully and exits 70. The throw comes from a module the test preloads with
// `node --import` (run-crash-preload.mjs): the product carries no hook for it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayConfigYaml } from '../e2e/helpers.ts';
import { hookServer } from './alerts-webhook-rig.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-run-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const BIN = path.resolve('bin/cobalt.mjs');
const PRELOAD = path.resolve('test/app/run-crash-preload.mjs');
const START_WAIT_MS = 150_000;

interface LogLine { level?: number; code?: string; msg?: string; err?: { message?: string } }

describe('cobalt run crashing', () => {
  it('logs ENGINE_CRASHED at fatal level, posts it to the webhook and exits 70 without a graceful stop', async () => {
    const server = await hookServer();
    const config = path.join(root, 'paper.yaml');
    writeFileSync(config, `${replayConfigYaml(root, { speed: 1, loop: true })}alerts:\n  webhook:\n    enabled: true\n`);
    const trigger = path.join(root, 'crash-now');
    const env = {
      PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', TMPDIR: process.env['TMPDIR'] ?? '/tmp',
      COBALT_LOG_PRETTY: '0', COBALT_LOG_LEVEL: 'info', COBALT_ALERTS_WEBHOOK_URL: server.url, CRASH_TRIGGER: trigger,
    };
    const child = spawn(process.execPath, ['--import', PRELOAD, BIN, 'run', '--config', config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: LogLine[] = [];
    const text: string[] = [];
    let rest = '';
    child.stderr.on('data', (b: Buffer) => {
      const parts = (rest + b.toString('utf8')).split('\n');
      rest = parts.pop()!;
      for (const l of parts) {
        try {
          logs.push(JSON.parse(l) as LogLine);
        } catch {
          text.push(l);
        }
      }
    });
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let code: number | null;
    try {
      // Bounded (wall time; a loaded machine starts it in a minute or more): the daemon says it runs, then the test
      // makes it crash.
      let gone = false;
      void exited.then(() => (gone = true));
      const until = Date.now() + START_WAIT_MS;
      while (Date.now() < until && !gone && !logs.some((l) => l.msg === 'engine running')) await new Promise((r) => setTimeout(r, 25));
      expect(logs.some((l) => l.msg === 'engine running'), `no 'engine running' line: ${text.slice(-10).join('\n')}`).toBe(true);
      writeFileSync(trigger, '');
      code = await exited;
    } finally {
      child.kill('SIGKILL');
      await server.close();
    }
    const fatal = logs.filter((l) => l.code === 'ENGINE_CRASHED');
    const crashPosts = server.received.filter((r) => r.body.event['code'] === 'ENGINE_CRASHED');

    expect(code).toBe(70);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ level: 60, err: { message: 'injected crash: a timer callback threw' } });
    expect(crashPosts).toHaveLength(1);
    expect(crashPosts[0]!.body.event['severity']).toBe('critical');
    expect(crashPosts[0]!.body.text).toContain('engine crashed (uncaughtException): Error: injected crash: a timer callback threw');
    // Nothing stopped gracefully: no shutdown began, no "engine stopping" post.
    expect(logs.some((l) => l.msg === 'shutdown started')).toBe(false);
    expect(server.received.some((r) => r.body.event['code'] === 'ENGINE_STOPPING')).toBe(false);
    // Node's own report of an uncaught exception never came: the handler took it.
    expect(text.join('\n')).not.toContain('injected crash');
  }, 200_000);
});
