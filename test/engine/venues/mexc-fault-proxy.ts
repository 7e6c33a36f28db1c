// A loopback HTTP proxy in front of the exchange simulator that answers chosen requests with a venue fault of its own:
// after forwarding them (the venue acted, its answer is lost) or instead of forwarding them (nothing reached it).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy answers in place of the venue, and whether the venue sees the request first. */
export interface Fault {
  readonly status: number;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** True: the request reaches the venue (which acts on it) and its answer is replaced; false: it never reaches it. */
  readonly forward: boolean;
}

/** Picks the fault for a request (`POST /mexc/api/v3/order`), or undefined to pass it through. */
export type FaultRule = (method: string, path: string) => Fault | undefined;

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

/** A started proxy: its base URL, the requests it saw (`METHOD path`, query left out), and close. */
export interface FaultProxy {
  readonly url: string;
  readonly requests: string[];
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 relaying to `target` (the simulator's base URL) under `rule`. */
export async function startFaultProxy(target: string, rule: FaultRule): Promise<FaultProxy> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    relay(target, rule, requests, req, res).catch((err: unknown) => {
      res.writeHead(599, { 'content-type': 'text/plain' }).end(`fault proxy failed: ${(err as Error).message}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function relay(target: string, rule: FaultRule, requests: string[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const path = url.split('?')[0]!;
  requests.push(`${method} ${path}`);
  const fault = rule(method, path);
  if (fault && !fault.forward) return answer(res, fault.status, fault.body, fault.headers);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && typeof v === 'string') headers[k] = v;
  const body = Buffer.concat(chunks);
  const r = await fetch(`${target}${url}`, { method, headers, ...(body.length > 0 ? { body } : {}) });
  const text = await r.text();
  if (fault) return answer(res, fault.status, fault.body, fault.headers);
  answer(res, r.status, text, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
}

function answer(res: ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { 'content-type': body.startsWith('{') ? 'application/json' : 'text/html', ...headers });
  res.end(body);
}
