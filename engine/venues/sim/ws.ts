// WebSocket side of the simulator, Binance-style: `/ws` and `/ws/<stream>` send raw event payloads, `/stream?streams=a/b`
// sends combined-stream envelopes `{"stream":"…","data":…}`. Clients (un)subscribe live with
// `{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms"],"id":1}` -> `{"result":null,"id":1}`.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { StreamKind } from './feed.ts';

interface Client {
  readonly ws: WebSocket;
  readonly combined: boolean;
  /**
   * Subscriptions by lower-cased stream name (the lookup is case-insensitive), each with the name echoed in envelopes
   * and LIST_SUBSCRIPTIONS (Binance's canonical spelling, `btcusdt@bookTicker`) and its (symbol, kind) key.
   */
  readonly streams: Map<string, { readonly name: string; readonly key: string }>;
}

const STREAM_RE = /^([a-z0-9]+)@(depth(?:@100ms|@1000ms)?|trade|aggTrade|bookTicker|kline_1m)$/i;
const CANONICAL_KIND: Readonly<Record<string, string>> = { aggtrade: 'aggTrade', bookticker: 'bookTicker' };

/** Returns the `<symbol>|<kind>` key a stream name feeds from, or undefined when the simulator has no such stream. */
export function streamKey(name: string): string | undefined {
  const m = STREAM_RE.exec(name);
  if (!m) return undefined;
  const kind = m[2]!.toLowerCase().startsWith('depth') ? 'depth' : CANONICAL_KIND[m[2]!.toLowerCase()] ?? m[2]!.toLowerCase();
  return `${m[1]!.toLowerCase()}|${kind}`;
}

/**
 * Returns the stream name as Binance spells it in combined-stream envelopes and LIST_SUBSCRIPTIONS: lower-case symbol,
 * camelCase kind (`btcusdt@bookTicker`, `ethusdt@aggTrade`, `btcusdt@depth@100ms`). Binance's frame consumers (the
 * engine's classifier among them) match the kind case-sensitively. Names the simulator does not serve are kept as sent.
 */
export function canonicalStreamName(name: string): string {
  const m = STREAM_RE.exec(name);
  if (!m) return name;
  const kind = m[2]!.toLowerCase();
  return `${m[1]!.toLowerCase()}@${CANONICAL_KIND[kind] ?? kind}`;
}

// Answers an upgrade the hub does not take, then closes the socket once the answer is out.
function refuse(socket: Duplex, status: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
}

/** Events the hub reports (tests wait on them instead of sleeping). */
export interface WsHubEvents {
  onSubscribe?: (stream: string) => void;
  onConnection?: (path: string) => void;
}

/** The WebSocket hub: connections, subscriptions and fan-out of stream payloads. */
export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly clients = new Set<Client>();
  private readonly byKey = new Map<string, Set<Client>>();
  /** Messages sent to clients since start. */
  sent = 0;

  constructor(private readonly events: WsHubEvents = {}) {}

  /** Number of open connections. */
  get connections(): number {
    return this.clients.size;
  }

  /** Takes an HTTP upgrade; answers 404 for paths other than /ws, /ws/… and /stream, 400 for a target that is no URL. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node's http server takes its own 'error' listener off a socket it hands to 'upgrade': a client reset on a socket
    // with none is an uncaught exception, which would end the simulator (ws adds its own once it takes the socket).
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
    } catch {
      return refuse(socket, '400 Bad Request');
    }
    const path = url.pathname;
    const combined = path === '/stream';
    if (!combined && path !== '/ws' && !path.startsWith('/ws/')) return refuse(socket, '404 Not Found');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const c: Client = { ws, combined, streams: new Map() };
      this.clients.add(c);
      const initial = combined ? (url.searchParams.get('streams') ?? '').split('/') : path.startsWith('/ws/') ? path.slice(4).split('/') : [];
      for (const s of initial) if (s) this.subscribe(c, s);
      ws.on('message', (data) => this.onMessage(c, data.toString()));
      ws.on('close', () => this.drop(c));
      ws.on('error', () => this.drop(c));
      this.events.onConnection?.(path);
    });
  }

  /** Sends `payload` (raw event JSON) to every client subscribed to (symbol, kind). */
  publish(symbolLower: string, kind: StreamKind, payload: string): void {
    const set = this.byKey.get(`${symbolLower}|${kind}`);
    if (!set || set.size === 0) return;
    const key = `${symbolLower}|${kind}`;
    for (const c of set) {
      if (c.ws.readyState !== c.ws.OPEN) continue;
      if (!c.combined) {
        c.ws.send(payload);
        this.sent++;
        continue;
      }
      for (const { name, key: k } of c.streams.values()) {
        if (k !== key) continue;
        c.ws.send(`{"stream":"${name}","data":${payload}}`);
        this.sent++;
      }
    }
  }

  /** Abruptly closes every connection (no close frame), as a network failure would. */
  dropAll(): number {
    const n = this.clients.size;
    for (const c of [...this.clients]) {
      c.ws.terminate();
      this.drop(c);
    }
    return n;
  }

  /** Closes every connection and the hub. */
  close(): void {
    for (const c of [...this.clients]) {
      c.ws.close(1001, 'server shutting down');
      this.drop(c);
    }
    this.wss.close();
  }

  private drop(c: Client): void {
    if (!this.clients.delete(c)) return;
    for (const { key } of c.streams.values()) this.byKey.get(key)?.delete(c);
    c.streams.clear();
  }

  private subscribe(c: Client, name: string): void {
    const lower = name.toLowerCase();
    // Binance accepts any well-formed name; streams the simulator does not produce simply stay silent.
    const key = streamKey(lower) ?? `unknown|${lower}`;
    if (c.streams.has(lower)) return;
    const canonical = canonicalStreamName(name);
    c.streams.set(lower, { name: canonical, key });
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(c);
    this.events.onSubscribe?.(canonical);
  }

  private unsubscribe(c: Client, name: string): void {
    const lower = name.toLowerCase();
    const sub = c.streams.get(lower);
    if (sub === undefined) return;
    c.streams.delete(lower);
    if (![...c.streams.values()].some((s) => s.key === sub.key)) this.byKey.get(sub.key)?.delete(c);
  }

  private onMessage(c: Client, text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.reply(c, { error: { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' }, id: null });
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return this.reply(c, { error: { code: 3, msg: 'Invalid JSON: expected an object' }, id: null });
    }
    const m = msg as { method?: unknown; params?: unknown; id?: unknown };
    const id = m.id ?? null;
    if (id !== null && typeof id !== 'number' && typeof id !== 'string') {
      return this.reply(c, { error: { code: 2, msg: 'Invalid request: request ID must be an unsigned integer' }, id: null });
    }
    const params = Array.isArray(m.params) ? m.params : [];
    switch (m.method) {
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        if (!params.every((p): p is string => typeof p === 'string' && /^[a-z0-9]+@[A-Za-z0-9_@]+$/i.test(p))) {
          return this.reply(c, { error: { code: 2, msg: 'Invalid request: invalid stream name' }, id });
        }
        for (const p of params) (m.method === 'SUBSCRIBE' ? this.subscribe(c, p) : this.unsubscribe(c, p));
        return this.reply(c, { result: null, id });
      }
      case 'LIST_SUBSCRIPTIONS':
        return this.reply(c, { result: [...c.streams.values()].map((s) => s.name), id });
      case 'SET_PROPERTY':
      case 'GET_PROPERTY':
        return this.reply(c, { error: { code: 0, msg: 'Unknown property' }, id });
      default:
        return this.reply(c, {
          error: { code: 2, msg: `Invalid request: unknown variant ${JSON.stringify(m.method)}, expected one of SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY` },
          id,
        });
    }
  }

  private reply(c: Client, body: unknown): void {
    if (c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify(body));
  }
}
