// The rig of the tests of `cobalt run --live` while its start is held open: a proxy to the exchange simulator that
// fails the start-up reconciliation on demand, the daemon run in-process with its signals and exit in hand, and a
// bounded wait. Used by run-dashboard-at-start and run-kill-during-start.
import { EventEmitter } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vi } from 'vitest';
import { runCommand } from '../../app/run.ts';
import { SIM_ENV } from '../e2e/live-driver.ts';

/**
 * A proxy to the simulator at `target` that answers 503 to the open orders (the start-up reconciliation's first read)
 * while `down.on`, which holds the start open; `down.calls` counts those requests. The proxy joins `proxies` (closed
 * by the caller).
 */
export async function venueProxy(target: string, down: { on: boolean; calls: number }, proxies: Server[]): Promise<string> {
  const proxy = createServer((req, res) => {
    const url = new URL(req.url ?? '/', target);
    if (url.pathname === '/api/v3/openOrders') {
      down.calls++;
      if (down.on) {
        req.resume();
        res.writeHead(503, { 'Content-Type': 'application/json' });
        res.end('{"code":-1001,"msg":"Service Unavailable"}');
        return;
      }
    }
    const up = request(url, { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  proxies.push(proxy);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

export interface Daemon {
  readonly signals: EventEmitter;
  readonly exited: Promise<number>;
  /** The printed dashboard URL with its #token=, once printed. */
  dashboard(): string | undefined;
  failed(): unknown;
  /** What runCommand returned (a failed start), once it did. */
  returned(): number | undefined;
}

/** Runs `cobalt run --live` on `file` with its signals and exit in hand, capturing the dashboard line it prints. */
export function startDaemon(file: string): Daemon {
  for (const [k, v] of Object.entries(SIM_ENV)) vi.stubEnv(k, v);
  vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
  const signals = new EventEmitter();
  let url: string | undefined;
  let failed: unknown;
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    const m = /^dashboard: (\S+)/.exec(String(s));
    if (m) url = m[1];
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  let returned: number | undefined;
  let exit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => { exit = resolve; });
  void runCommand({ config: file, live: true, speed: '1' }, { source: signals, exit })
    .then((code) => (returned = code, failed = `runCommand returned ${code}`), (err: unknown) => (failed = err));
  return { signals, exited, dashboard: () => url, failed: () => failed, returned: () => returned };
}

/** Waits (bounded: `tries` × 25 ms of wall time) until `done()`, or the daemon failed. */
export async function until(d: Daemon, done: () => boolean | Promise<boolean>, what: string, tries = 1200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (d.failed() !== undefined) throw new Error(`the daemon failed while waiting for ${what}: ${String(d.failed())}`);
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/**
 * A GET that is sent again once when the socket it reused was reset: a test process stalled past the server's
 * keep-alive timeout (5 s, seen on a loaded CI machine) reuses a socket the server is closing. Control POSTs go
 * through plain fetch, once: sent again, one could act twice.
 */
export async function fetchLocal(url: URL): Promise<Response> {
  try {
    return await fetch(url);
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code !== 'ECONNRESET') throw err;
    return fetch(url);
  }
}
