// The dashboard answers only to its own names (review_dash finding 1, DNS rebinding): a page whose DNS name was
// re-pointed to 127.0.0.1 sends its own name in Host (and Origin), and must not read /api/state, /metrics or /ws.
// Also: a malformed percent-encoded path is a 400, not a 500 with an error log (review_dash, minor).
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startDashboard, type DashboardHandle } from '../../../engine/dashboard/index.ts';
import { createLogger } from '../../../engine/log.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';

const TOKEN = 'test-token-host-123-long-enough';
const open: DashboardHandle[] = [];
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});

async function start(host = '127.0.0.1') {
  const levels: number[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (s: string) => void levels.push((JSON.parse(s) as { level: number }).level) } });
  const d = await startDashboard({
    bus: new Bus<EngineMsg>(), clock: new SimulatedClock(1_723_161_000_000), config: { host, port: 0 },
    token: { token: TOKEN, generated: false }, staticDir: '/nonexistent-cobalt-www', logger,
  });
  open.push(d);
  return { d, levels };
}

/** Sends a request to the server's real address with the given Host header (fetch does not let a caller set Host). */
function get(d: DashboardHandle, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(d.url);
  return new Promise((resolve, reject) => {
    request({ host: hostname, port, path, method, headers }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

/** Opens /ws with the given headers; resolves with the first frame's type, or the HTTP status it was refused with. */
function ws(d: DashboardHandle, headers: Record<string, string>, query = ''): Promise<{ frame?: string; status?: number }> {
  return new Promise((resolve, reject) => {
    const sock = new WebSocket(`${d.url.replace(/^http/, 'ws')}ws${query}`, { headers });
    sock.once('message', (data) => {
      resolve({ frame: (JSON.parse(String(data)) as { type: string }).type });
      sock.close();
    });
    sock.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      sock.terminate();
    });
    sock.once('error', reject);
  });
}

describe('dashboard: Host header (DNS rebinding)', () => {
  it.each(['/api/state', '/metrics', '/healthz', '/'])('refuses %s for a foreign Host with 421', async (path) => {
    const { d } = await start();
    const port = new URL(d.url).port;
    const r = await get(d, path, { Host: `attacker.example:${port}` });
    expect(r.status).toBe(421);
    expect(r.body).toMatch(/does not answer to host/);
    expect(r.body).not.toMatch(/portfolio|cobalt_/);
  });

  it('refuses a foreign Host on a control route before anything else', async () => {
    const { d } = await start();
    const r = await get(d, '/api/control/stop', { Host: `attacker.example:${new URL(d.url).port}`, Authorization: `Bearer ${TOKEN}` }, 'POST');
    expect(r.status).toBe(421);
  });

  it.each(['127.0.0.1', 'localhost', 'LOCALHOST', '[::1]'])('answers /api/state to the loopback name %s with the bound port', async (name) => {
    const { d } = await start();
    const r = await get(d, '/api/state', { Host: `${name}:${new URL(d.url).port}` });
    expect(r.status).toBe(200);
  });

  it.each(['127.0.0.1', 'localhost:1', '127.0.0.1:1', 'attacker.example'])('refuses the Host %j (another port, no port, another name)', async (host) => {
    const { d } = await start();
    const r = await get(d, '/api/state', { Host: host });
    expect(r.status).toBe(421);
  });

  it('refuses a WebSocket whose Host and Origin are both the rebound name', async () => {
    const { d } = await start();
    const port = new URL(d.url).port;
    const r = await ws(d, { Host: `attacker.example:${port}`, Origin: `http://attacker.example:${port}` });
    expect(r).toEqual({ status: 421 });
  });

  it('refuses a WebSocket from a foreign Origin even with the right Host', async () => {
    const { d } = await start();
    const port = new URL(d.url).port;
    const r = await ws(d, { Host: `127.0.0.1:${port}`, Origin: `http://attacker.example:${port}` });
    expect(r).toEqual({ status: 403 });
  });

  it('opens a WebSocket for the page served from localhost and from 127.0.0.1', async () => {
    const { d } = await start();
    const port = new URL(d.url).port;
    const fromLocalhost = await ws(d, { Host: `localhost:${port}`, Origin: `http://localhost:${port}` });
    const fromIp = await ws(d, { Origin: `http://127.0.0.1:${port}` });
    expect(fromLocalhost).toEqual({ frame: 'snapshot' });
    expect(fromIp).toEqual({ frame: 'snapshot' });
  });

  it('answers to the configured non-loopback host and still refuses others', async () => {
    // 127.0.0.2 is not on the config's loopback list: the server treats it as an exposed bind host.
    const { d } = await start('127.0.0.2');
    const port = new URL(d.url).port;
    const own = await get(d, '/api/state', { Host: `127.0.0.2:${port}`, Authorization: `Bearer ${TOKEN}` });
    const foreign = await get(d, '/api/state', { Host: `attacker.example:${port}`, Authorization: `Bearer ${TOKEN}` });
    const socket = await ws(d, { Host: `127.0.0.2:${port}`, Origin: `http://127.0.0.2:${port}` }, `?token=${TOKEN}`);
    expect(own.status).toBe(200);
    expect(foreign.status).toBe(421);
    expect(socket).toEqual({ frame: 'snapshot' });
  });
});

describe('dashboard: malformed paths', () => {
  it.each([['/api/control/%E0%A4%A', 'POST'], ['/%E0%A4%A', 'GET']])('answers %s with 400 and logs no error', async (path, method) => {
    const { d, levels } = await start();
    const r = await get(d, path, { Host: new URL(d.url).host }, method);
    expect(r.status).toBe(400);
    expect(r.body).toMatch(/malformed percent-encoding/);
    expect(levels.filter((l) => l >= 50)).toEqual([]);
  });
});
