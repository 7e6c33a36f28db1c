// Malformed requests must be answered, never crash the simulator: its accounts, orders and balances live only in the
// process. A request target `new URL` cannot parse (`//[`) used to throw outside any try, as an unhandled rejection
// (REST) or an uncaught exception in the 'upgrade' listener (WebSocket), and Node 20 exits on either. A bad
// percent-escape in `signature` was a 500 / -1000, which ccxt-exec reads as "the venue may have acted".
import net from 'node:net';
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { routes, type Route } from '../../../../engine/venues/sim/rest.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';
import { signPayload } from '../../../../engine/venues/sim/signing.ts';

const KEY = 'malformedKey0001';
const SECRET = 'malformed-secret-0001';
const wall = new SimulatedClock(1_900_000_000_000);

let sim: ExchangeSim;
const escaped: unknown[] = [];
const onEscape = (err: unknown): void => {
  escaped.push(err);
};
beforeAll(async () => {
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
  sim = await startExchangeSim({
    files: ['data/recordings/spot_btcusdt_20240808.jsonl.gz'], speed: 'manual', wallClock: wall,
    accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '1000' } }],
  });
});
afterAll(async () => {
  await sim?.close();
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
});
afterEach(() => {
  expect(escaped.splice(0)).toEqual([]);
});

/** Sends raw bytes and returns everything the server wrote until it closed (or '(no answer)' if it never did). */
function rawRequest(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(sim.port, '127.0.0.1', () => s.write(bytes));
    let got = '';
    // A guard so a hung request fails on the assertion below instead of the test timeout; not a timing check.
    const guard = setTimeout(() => s.destroy(), 3000);
    s.on('data', (b) => (got += b.toString()));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(guard);
      resolve(got || '(no answer)');
    });
  });
}

const statusLine = (raw: string): string => raw.split('\r\n')[0]!;
const bodyOf = (raw: string): unknown => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

async function pingStatus(): Promise<number> {
  return (await fetch(`${sim.url}/api/v3/ping`)).status;
}

describe('simulator with malformed requests', () => {
  it('answers an unparseable REST target with 400 / -1100 and keeps serving', async () => {
    const raw = await rawRequest('GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statusLine(raw)).toBe('HTTP/1.1 400 Bad Request');
    expect(bodyOf(raw)).toMatchObject({ code: -1100 });
    expect(await pingStatus()).toBe(200);
  });

  it('refuses an unparseable WebSocket upgrade target with 400, closes the socket and keeps serving', async () => {
    const raw = await rawRequest(
      'GET //[ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    expect(statusLine(raw)).toBe('HTTP/1.1 400 Bad Request');
    expect(await pingStatus()).toBe(200);
  });

  it('survives a socket error (a client reset) on an upgrade it refused', () => {
    // Node's http server drops its own 'error' listener from a socket it hands to 'upgrade': an error with none is thrown.
    const socket = new PassThrough();
    const req = { url: '/nope', headers: {} } as unknown as IncomingMessage;
    sim.hub.handleUpgrade(req, socket, Buffer.alloc(0));
    expect(() => socket.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).not.toThrow();
  });

  it('answers 500 / -1000 when writing the answer itself fails, and keeps serving', async () => {
    const route = routes['GET /api/v3/time'] as { handle: Route['handle'] };
    const handle = route.handle;
    // A body JSON.stringify cannot write (a bigint) fails after the handler's own try.
    route.handle = () => ({ serverTime: 1n });
    try {
      const r = await fetch(`${sim.url}/api/v3/time`, { signal: AbortSignal.timeout(3000) });
      expect([r.status, await r.json()]).toEqual([500, { code: -1000, msg: expect.stringContaining('Internal error') }]);
    } finally {
      route.handle = handle;
    }
    expect(await pingStatus()).toBe(200);
  });

  it('keeps serving when a request listener throws after the answer was sent', async () => {
    let thrown = 0;
    const boom = (): void => {
      thrown++;
      throw new Error('listener failed');
    };
    sim.events.once('request', boom);
    expect(await pingStatus()).toBe(200);
    expect(thrown).toBe(1);
    expect(await pingStatus()).toBe(200);
  });

  it('answers a malformed percent-escape in signature with -1022, not an internal error', async () => {
    const q = `timestamp=${wall.now()}`;
    const r = await fetch(`${sim.url}/api/v3/openOrders?${q}&signature=%zz`, { headers: { 'X-MBX-APIKEY': KEY } });
    expect([r.status, await r.json()]).toEqual([400, { code: -1022, msg: 'Signature for this request is not valid.' }]);
    // The same request correctly signed still passes: only the escape is refused.
    const ok = await fetch(`${sim.url}/api/v3/openOrders?${q}&signature=${signPayload(q, SECRET)}`, { headers: { 'X-MBX-APIKEY': KEY } });
    expect(ok.status).toBe(200);
  });
});
