// A loopback HTTP proxy in front of the exchange simulator that injects venue faults on chosen requests: 429 with
// Retry-After, 418 with Retry-After, -2010 insufficient balance, a malformed JSON body (after the venue acted on
// the request, or instead of it), and stalls (with or without forwarding) that make the client time out. Requests
// are matched by method and path, and picked by their 1-based occurrence among the matching requests. Every
// request is logged with its parameters (so a test can follow one client order id), the fault applied and whether
// the venue saw it.
import { EventEmitter } from 'node:events';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to do to a matched request. */
export type Fault =
  /** 429 + Retry-After (seconds) and Binance's -1003 body; not forwarded (the venue never processed it). */
  | { readonly kind: 'rateLimit'; readonly retryAfterS: number }
  /** 418 + Retry-After (seconds): an IP ban; not forwarded. */
  | { readonly kind: 'ban'; readonly retryAfterS: number }
  /** 400 with Binance's -2010 "insufficient balance"; not forwarded. */
  | { readonly kind: 'insufficientBalance' }
  /** 200 with a truncated JSON body; `forward`: the venue processed the request first (the order exists). */
  | { readonly kind: 'malformed'; readonly forward: boolean }
  /** No answer until the client gives up; `forward`: the venue processed the request (the order exists). */
  | { readonly kind: 'stall'; readonly forward: boolean };

/** A fault on the `nth` (1-based) request matching `method` and `path`. */
export interface FaultRule {
  readonly method: string;
  readonly path: string;
  readonly nth: number;
  readonly fault: Fault;
}

/** One request that went through the proxy. */
export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  /** Query and form-body parameters, signature and timestamp included. */
  readonly params: Readonly<Record<string, string>>;
  readonly fault?: Fault['kind'];
  /** True when the simulator received the request. */
  readonly forwarded: boolean;
  readonly status?: number;
}

/** A running proxy. */
export interface FaultProxy {
  readonly url: string;
  readonly requests: readonly ProxiedRequest[];
  /** 'request' (ProxiedRequest) once the proxy has decided; for a forwarding stall, once the venue has answered. */
  readonly events: EventEmitter;
  close(): Promise<void>;
}

/** Starts the proxy on 127.0.0.1 (free port) in front of `target` (the simulator's http://127.0.0.1:port). */
export async function startFaultProxy(target: string, rules: readonly FaultRule[]): Promise<FaultProxy> {
  const to = new URL(target);
  const seen = new Map<string, number>();
  const requests: ProxiedRequest[] = [];
  const stalled = new Set<ServerResponse>();
  const events = new EventEmitter();

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: to.host };
      const out = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h[k] = v;
          resolve({ status: res.statusCode ?? 502, headers: h, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      });
      out.on('error', reject);
      out.end(body);
    });

  const send = (res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void => {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers, 'content-length': String(buf.length) });
    res.end(buf);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const method = req.method ?? 'GET';
        const params: Record<string, string> = Object.fromEntries(url.searchParams);
        for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
        const key = `${method} ${url.pathname}`;
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        const fault = rules.find((r) => r.method === method && r.path === url.pathname && r.nth === n)?.fault;
        const entry = (forwarded: boolean, status?: number): void => {
          const r: ProxiedRequest = { method, path: url.pathname, params, ...(fault ? { fault: fault.kind } : {}), forwarded, ...(status !== undefined ? { status } : {}) };
          requests.push(r);
          events.emit('request', r);
        };
        try {
          switch (fault?.kind) {
            case undefined: {
              const r = await forward(req, body);
              entry(true, r.status);
              return send(res, r.status, r.body, pick(r.headers));
            }
            case 'rateLimit':
              entry(false, 429);
              return send(res, 429, JSON.stringify({ code: -1003, msg: 'Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute.' }), { 'retry-after': String(fault.retryAfterS) });
            case 'ban':
              entry(false, 418);
              return send(res, 418, JSON.stringify({ code: -1003, msg: 'Way too much request weight used; IP banned. Please use WebSocket Streams for live updates to avoid bans.' }), { 'retry-after': String(fault.retryAfterS) });
            case 'insufficientBalance':
              entry(false, 400);
              return send(res, 400, JSON.stringify({ code: -2010, msg: 'Account has insufficient balance for requested action.' }));
            case 'malformed': {
              let text = '{"symbol":"ETHUSDT","orderId":';
              if (fault.forward) text = (await forward(req, body)).body.toString('utf8').slice(0, 40);
              entry(fault.forward, 200);
              return send(res, 200, text);
            }
            case 'stall':
              if (fault.forward) await forward(req, body);
              entry(fault.forward);
              stalled.add(res);
              res.on('close', () => stalled.delete(res));
              return;
          }
        } catch (err) {
          entry(false, 502);
          send(res, 502, JSON.stringify({ code: -1000, msg: `proxy: ${(err as Error).message}` }));
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    events,
    close: async () => {
      for (const r of stalled) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// The simulator's headers a client reads (weights); hop-by-hop ones are the proxy's own.
function pick(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k.startsWith('x-mbx-') || k === 'retry-after') out[k] = v;
  return out;
}
