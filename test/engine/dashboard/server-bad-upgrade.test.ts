// A request the server refuses must not take the daemon down (review_dash findings 1, 2 and 5): an upgrade whose
// target is no URL threw in the 'upgrade' listener, and a refused upgrade whose client reset the connection raised an
// 'error' on a socket with no listener (Node removes its own when it emits 'upgrade'); both exited the process. The
// same target on a plain request was a 500 with an error log line instead of a 400.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startDashboard, type DashboardHandle } from '../../../engine/dashboard/index.ts';
import { createLogger } from '../../../engine/log.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';

const TOKEN = 'test-token-bad-upgrade-123';
const open: DashboardHandle[] = [];
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});

async function start() {
  const levels: number[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (s: string) => void levels.push((JSON.parse(s) as { level: number }).level) } });
  const d = await startDashboard({
    bus: new Bus<EngineMsg>(), clock: new SimulatedClock(1_723_161_000_000), config: { host: '127.0.0.1', port: 0 },
    token: { token: TOKEN, generated: false }, staticDir: '/nonexistent-cobalt-www', logger,
  });
  open.push(d);
  return { d, levels };
}

const upgrade = (target: string, host: string, extra = ''): string =>
  `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;

/** Writes `data` on a fresh connection; resolves with what came back once the server closes it (or goes silent). */
function exchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    // A server whose listener threw never answers nor closes: give up rather than hang the test.
    s.setTimeout(2_000, () => s.destroy());
    let out = '';
    s.on('data', (b: Buffer) => (out += b.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(out));
    s.write(data);
  });
}

/** Writes `data` and resets the connection at once, before the server's answer can be written. */
function writeAndReset(port: number, data: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(data);
      s.resetAndDestroy();
    });
    s.on('error', () => {});
    s.on('close', () => resolve());
  });
}

describe('dashboard: malformed or abandoned requests', () => {
  it.each(['//[', 'http://[/ws'])('answers an upgrade to target %s with 400 and closes, and keeps serving', async (target) => {
    const { d } = await start();
    const out = await exchange(d.port, upgrade(target, `127.0.0.1:${d.port}`));
    expect(out.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect((await fetch(`${d.url}healthz`)).status).toBe(200);
  });

  it('answers a plain request to target //[ with 400 and logs no error', async () => {
    const { d, levels } = await start();
    const out = await exchange(d.port, `GET //[ HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nConnection: close\r\n\r\n`);
    expect(out.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(levels.filter((l) => l >= 50)).toEqual([]);
  });

  it.each([
    ['a foreign Host', (port: number) => upgrade('/ws', `evil.example:${port}`)],
    ['another path', (port: number) => upgrade('/nope', `127.0.0.1:${port}`)],
    ['a foreign Origin', (port: number) => upgrade('/ws', `127.0.0.1:${port}`, 'Origin: http://evil.example\r\n')],
    ['a malformed target', (port: number) => upgrade('//[', `127.0.0.1:${port}`)],
  ])('survives clients that reset right after an upgrade refused for %s', async (_name, request) => {
    const { d } = await start();
    // What would have exited the daemon; the test runner reports it as well, but here it fails this test by name.
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      // One reset does not always land before the refusal is written; twenty in a row always did before the fix.
      for (let i = 0; i < 20; i++) await writeAndReset(d.port, request(d.port));
      expect((await fetch(`${d.url}healthz`)).status).toBe(200);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    const refused = await exchange(d.port, request(d.port));
    expect(refused).toMatch(/^HTTP\/1\.1 4\d\d /);
  });
});
