// The dashboard server: node:http + ws on one port.
//   GET  /                      the web UI (static files built into dist/web by `node web/build.mjs`)
//   GET  /api/state             every topic's full state (JSON)
//   POST /api/control/<action>  an operator action (controls.ts); needs `Authorization: Bearer <token>`, else 401;
//                               503 while `controlsRefusal` says why not (the daemon's engine still starting, or the
//                               action's actor restarting),
//                               except a `kill` with `killTaken`: published at once (200) while that answers true,
//                               else held (202, refused or not) until the daemon applies it; after a drop, a kill
//                               killTaken refuses is refused saying why
//   GET  /metrics               Prometheus text (this instance's registry)
//   GET  /ws                    WebSocket: one `snapshot` frame, then throttled `delta` frames; read-only (frames
//                               from the page are ignored: control goes through the token-checked POST only)
//                               A client keeps its own backlog of the topics it missed while its socket was over
//                               highWater; one over it for WS_STALL_LIMIT_MS, or silent to a ping, is terminated,
//                               logged and counted by reason (cobalt_dashboard_ws_dropped_total, system.status.dashboard)
// Bound to loopback, reads are open and only control needs the token. Bound elsewhere (which needs a configured
// token of MIN_EXPOSED_DASHBOARD_TOKEN_LENGTH characters or more, or the server refuses to start), every route but
// the static page needs it (`?token=` for /ws).
// Every request, the WebSocket upgrade included, must name this server in its Host header (allowedHosts): on
// loopback only 127.0.0.1, localhost or [::1] with the bound port. Otherwise a page whose DNS name is re-pointed to
// 127.0.0.1 (DNS rebinding) would be "same origin" with the dashboard and could read /api/state and /ws. It gets 421.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counter } from 'prom-client';
import { WebSocketServer, WebSocket } from 'ws';
import { log as rootLog, scrubSecretValues, type Logger } from '../log.ts';
import type { EngineMsg } from '../messages/index.ts';
import type { Bus } from '../runtime/bus.ts';
import { LiveClock, type Clock, type TimerHandle } from '../runtime/clock.ts';
import type { ChildStatus } from '../runtime/supervisor.ts';
import { ConfigError } from '../types/errors.ts';
import type { Instrument } from '../types/instrument.ts';
import { bearerToken, bindProblem, isLoopbackHost, tokenMatches, type DashboardToken } from './auth.ts';
import { controlMessages, isControlAction, type ControlAction, type ControlChecks } from './controls.ts';
import { DashboardMetrics } from './metrics.ts';
import { TopicThrottle } from './throttle.ts';
import { DashboardViewModel, TOPICS, type Cursors, type DashboardProviders, type Topic } from './view-model.ts';

/** Where the built page lives by default: <repo>/dist/web. */
export const DEFAULT_STATIC_DIR = resolve(fileURLToPath(new URL('../../dist/web', import.meta.url)));

/** Options of `startDashboard`. */
export interface DashboardOptions {
  readonly bus: Bus<EngineMsg>;
  /** The config's `dashboard` section (host, port; port 0 picks a free one). */
  readonly config: { readonly host: string; readonly port: number };
  /** The token control requests must carry (`resolveDashboardToken`); a generated one allows a loopback bind only. */
  readonly token: DashboardToken;
  /** Drives the push throttle; a SimulatedClock in tests. */
  readonly clock: Clock;
  /**
   * Times the socket checks (pings, a stalled client, a backlog's retries) in real time; default the wall clock. The
   * push clock may be a replay's data clock, which at --speed 100 would call a client 0.3 s behind stalled, and which
   * stands still while the data does. Tests pass a SimulatedClock.
   */
  readonly wallClock?: Clock;
  readonly supervisor?: { status(): ChildStatus[] };
  readonly providers?: Omit<DashboardProviders, 'supervisor'>;
  readonly instruments?: readonly Instrument[];
  /** The order venue's instruments, for fills (ViewModelOptions.venueInstruments). */
  readonly venueInstruments?: readonly Instrument[];
  /** Most pushes per second per client (default 4). */
  readonly maxHz?: number;
  /** A client with more than this many bytes still unsent (default 1 MiB) is skipped until it drains; over it for WS_STALL_LIMIT_MS, dropped. */
  readonly wsHighWaterBytes?: number;
  readonly staticDir?: string;
  readonly logger?: Logger;
  /**
   * Why control actions are refused now (asked with `action`: why that one is), or undefined while they are accepted
   * (default: always). A refused one is answered 503 with that text and publishes nothing: the daemon serves its
   * dashboard while the engine starts, and a running engine's actor restarts, when a control would reach an actor not
   * running and be reported a success for nothing.
   */
  readonly controlsRefusal?: (action?: ControlAction) => string | undefined;
  /**
   * With it, a `kill` is never refused for `controlsRefusal`: published at once while `killTaken()` answers true (the
   * daemon: its RiskManager runs, and saves it), else held (202), refused or not (a RiskManager restarting in a running
   * engine would miss it), until the caller applies it (DashboardHandle.heldKill); after drop(), a kill while
   * `killTaken()` answers false is refused, saying why. The daemon's kill switch must work while its engine starts,
   * which can take as long as the venue fails. Every other action is still refused.
   */
  readonly killTaken?: () => boolean;
}

/** The kill held while control actions are refused and DashboardOptions.killTaken answers false. */
export interface HeldKill {
  /** Returns when (wall ms) the held kill was first asked for and how many times, or undefined while none is held. */
  pending(): { readonly sinceMs: number; readonly asks: number } | undefined;
  /** Publishes the held kill (stamped now), logged as `control action` with queued: true; returns whether one was held. */
  apply(): boolean;
  /**
   * Ends the holding for good (the first call only): a kill held is forgotten, logged with `why`, and a kill asked for
   * later while killTaken answers false is refused with `why` (one it answers true for is still published). Returns
   * whether one was held.
   */
  drop(why: string): boolean;
}

/** A running dashboard. */
export interface DashboardHandle {
  /** `http://host:port/` */
  readonly url: string;
  readonly port: number;
  readonly view: DashboardViewModel;
  readonly metrics: DashboardMetrics;
  readonly throttle: TopicThrottle<Topic>;
  /** Open WebSocket clients. */
  clients(): number;
  /** WebSocket clients dropped since start, by reason. */
  dropped(): Readonly<Record<DropReason, number>>;
  /** The kill held while control actions are refused; never holds one without DashboardOptions.killTaken. */
  readonly heldKill: HeldKill;
  /** Stops listening, closes every client and unsubscribes from the bus. */
  close(): Promise<void>;
}

/** Why a client was dropped: over highWater for WS_STALL_LIMIT_MS, or no pong to a ping by the next one. */
export type DropReason = 'stalled' | 'noPong';
const DROP_REASONS: readonly DropReason[] = ['stalled', 'noPong'];

interface Client {
  readonly ws: WebSocket;
  /** The peer's address, for the log line of a drop. */
  readonly remote: string;
  readonly cursors: Cursors;
  /** Topics changed since this client's last push: its own, so a slow client's backlog is never pushed to the others. */
  readonly pending: Set<Topic>;
  /** Wall time at which a push first found its socket over highWater; undefined while it keeps up. */
  overSince: number | undefined;
  /** False from a ping until its pong. */
  alive: boolean;
}

/**
 * How long a client may stay over highWater before it is dropped. A background tab or a slow link falls behind for
 * seconds and catches up; one that has not taken a megabyte in 30 s is gone or stuck, and the page reconnects and
 * starts again from a snapshot, which is cheaper than its backlog.
 */
export const WS_STALL_LIMIT_MS = 30_000;
/**
 * How often each client is pinged; one that has not answered the previous ping is terminated, so a peer whose TCP
 * stays up while it reads nothing (a suspended laptop, a dead NAT path) goes within two intervals. Longer than a ping
 * takes behind a full megabyte on a slow link.
 */
export const WS_PING_INTERVAL_MS = 20_000;

const MIME: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.map': 'application/json', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
};
const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
};
const MAX_BODY_BYTES = 16 * 1024;

/** Starts the dashboard; rejects with ConfigError on a non-loopback host without a configured token long enough. */
export async function startDashboard(opts: DashboardOptions): Promise<DashboardHandle> {
  const { bus, clock } = opts;
  const token = opts.token.token;
  const { host, port } = opts.config;
  if (!token) throw new ConfigError('dashboard: a token is required (resolveDashboardToken gives one)');
  const problem = bindProblem(host, opts.token.generated ? undefined : token);
  if (problem) throw new ConfigError(`dashboard refuses to start: ${problem}`);
  const exposed = !isLoopbackHost(host);
  const logger = (opts.logger ?? rootLog()).child({ component: 'dashboard' });
  const staticDir = resolve(opts.staticDir ?? DEFAULT_STATIC_DIR);
  const highWater = opts.wsHighWaterBytes ?? 1 << 20;
  const wall = opts.wallClock ?? new LiveClock();

  const clients = new Set<Client>();
  let closed = false;
  // Two recorders of the event-loop delay: the metric's is emptied by every scrape (p99 since the last scrape), the
  // system table's never is (p99 since start, as its name says); a read of one must not reset what the other shows.
  const scrapeLag: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  const startLag: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  scrapeLag.enable();
  startLag.enable();
  const p99Ms = (h: IntervalHistogram): number => (h.count > 0 ? h.percentile(99) / 1e6 : NaN);
  const view = new DashboardViewModel({
    bus,
    ...(opts.instruments ? { instruments: opts.instruments } : {}),
    ...(opts.venueInstruments ? { venueInstruments: opts.venueInstruments } : {}),
    providers: { ...opts.providers, ...(opts.supervisor ? { supervisor: opts.supervisor } : {}) },
  });
  // A client dropped over and over (a tab on a link too slow for the pushes, a proxy that eats pings) was seen only in
  // warn lines; counted, it shows next to the open clients and can be alerted on.
  const dropped: Record<DropReason, number> = { stalled: 0, noPong: 0 };
  view.addServerStatus('dashboard', () => {
    const ms = p99Ms(startLag);
    return { wsClients: clients.size, wsDropped: { ...dropped }, loopLagP99MsSinceStart: Number.isFinite(ms) ? Math.round(ms * 100) / 100 : null };
  });
  const metrics = new DashboardMetrics({
    bus, view, wsClients: () => clients.size,
    loopLag: { p99Ms: () => p99Ms(scrapeLag), reset: () => scrapeLag.reset() },
    ...(opts.providers?.bookCounters ? { bookCounters: opts.providers.bookCounters } : {}),
    ...(opts.providers?.alertsWebhook ? { alertsWebhook: opts.providers.alertsWebhook } : {}),
    ...(opts.providers?.protectiveStops ? { protectiveStops: opts.providers.protectiveStops } : {}),
  });
  const wsDropped = new Counter({
    name: 'cobalt_dashboard_ws_dropped_total', help: 'Dashboard WebSocket clients dropped, by reason (stalled: over highWater too long; noPong: no answer to a ping)',
    labelNames: ['reason'], registers: [metrics.registry],
  });
  // Both series from the start: a rate over a series that appears only at the first drop misses that drop.
  for (const reason of DROP_REASONS) wsDropped.inc({ reason }, 0);

  const send = (c: Client, topics: Iterable<Topic>): void => {
    const out: Record<string, unknown> = {};
    for (const t of topics) {
      out[t] = view.build(t, c.cursors);
      metrics.wsPushes.inc({ topic: t });
    }
    c.ws.send(frame({ type: 'delta', topics: out }));
  };
  const drop = (c: Client, reason: DropReason, why: string, fields: Record<string, unknown>): void => {
    dropped[reason]++;
    wsDropped.inc({ reason });
    logger.warn({ remote: c.remote, reason, dropped: dropped[reason], ...fields }, `dashboard client ${c.remote} dropped: ${why}`);
    clients.delete(c);
    c.ws.terminate();
  };
  // Pushes the client's backlog if its socket has room; returns false when it was over highWater (and is kept, or
  // dropped once over for longer than WS_STALL_LIMIT_MS). A slow browser keeps its cursors and catches up in one push.
  const deliver = (c: Client): boolean => {
    if (c.ws.readyState !== WebSocket.OPEN) {
      c.pending.clear();
      return true;
    }
    if (c.ws.bufferedAmount > highWater) {
      const now = wall.now();
      c.overSince ??= now;
      const overMs = now - c.overSince;
      if (overMs > WS_STALL_LIMIT_MS) drop(c, 'stalled', `over highWater for ${Math.round(overMs / 1000)} s`, { overMs, bufferedBytes: c.ws.bufferedAmount, highWater });
      return false;
    }
    c.overSince = undefined;
    if (c.pending.size > 0) send(c, c.pending);
    c.pending.clear();
    return true;
  };
  // A skipped client is retried at the push rate on the wall clock until it drains, rather than when the market
  // next moves; only its own backlog is retried, so the others get only what changed.
  let backlogTimer: TimerHandle | undefined;
  const retryBacklogs = (): void => {
    backlogTimer = undefined;
    for (const c of clients) if (c.pending.size > 0) deliver(c);
    armBacklog();
  };
  const armBacklog = (): void => {
    if (backlogTimer !== undefined || closed) return;
    for (const c of clients) {
      if (c.pending.size === 0) continue;
      backlogTimer = wall.setTimeout(retryBacklogs, throttle.intervalMs);
      return;
    }
  };
  // Each sweep terminates a client that did not answer the previous one's ping; it runs only while clients are open.
  let pingTimer: TimerHandle | undefined;
  const sweep = (): void => {
    pingTimer = undefined;
    for (const c of clients) {
      if (!c.alive) {
        drop(c, 'noPong', `no pong within ${WS_PING_INTERVAL_MS / 1000} s`, { pingIntervalMs: WS_PING_INTERVAL_MS });
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
    armPing();
  };
  const armPing = (): void => {
    if (pingTimer === undefined && clients.size > 0 && !closed) pingTimer = wall.setTimeout(sweep, WS_PING_INTERVAL_MS);
  };
  let lastPolled = -Infinity;
  const throttle = new TopicThrottle<Topic>({
    clock,
    maxHz: opts.maxHz ?? 4,
    flush: (dirty) => {
      // Supervisor status and providers change without bus messages: refresh them at most once a second, riding on
      // a flush (no timer of its own, so a simulated clock jumping years ahead does not fire it years' worth of times).
      const now = clock.now();
      let topics: ReadonlySet<Topic> = dirty;
      if (now - lastPolled >= 1000) {
        lastPolled = now;
        topics = new Set([
          ...dirty, 'system', ...(opts.providers?.training ? ['training' as const] : []), ...(opts.providers?.risk ? ['risk' as const] : []),
          ...(opts.providers?.portfolio ? ['portfolio' as const] : []),
        ]);
      }
      for (const c of clients) {
        for (const t of topics) c.pending.add(t);
        if (!deliver(c)) metrics.wsSkipped.inc();
      }
      armBacklog();
    },
  });
  view.onChange = (t) => {
    if (clients.size > 0) throttle.mark(t);
  };
  const hold = new KillHold({ bus, clock, wall, logger, controls: metrics.controls, changed: () => view.onChange?.('system') });
  // Whether control actions are refused now, and the kill held meanwhile: the page can say why its buttons answer 503.
  if (opts.controlsRefusal || opts.killTaken) {
    view.addServerStatus('controls', () => {
      const held = hold.pending();
      return { refused: opts.controlsRefusal?.() ?? null, killHeld: held ? { since: new Date(held.sinceMs).toISOString(), asks: held.asks } : null };
    });
  }
  view.start();

  // Set once listening (the port may be 0 until then); requests arrive only after that.
  let allowed: AllowedHosts = { any: false, hosts: new Set() };
  const hostAllowed = (hostHeader: string | undefined): boolean => {
    const h = normalizeHost(hostHeader);
    return h !== undefined && (allowed.any || allowed.hosts.has(h));
  };
  const originAllowed = (origin: string, hostHeader: string | undefined): boolean => {
    let o: URL;
    try {
      o = new URL(origin);
    } catch {
      return false; // `null` (sandboxed frames, file: pages) and garbage
    }
    if (o.protocol !== 'http:' && o.protocol !== 'https:') return false;
    const h = normalizeHost(o.port === '' && o.protocol === 'https:' ? `${o.host}:443` : o.host);
    if (h === undefined) return false;
    // A wildcard bind knows no name of its own: the page must come from the host it asked (and it needs the token).
    return allowed.any ? h === normalizeHost(hostHeader) : allowed.hosts.has(h);
  };
  const misdirected = (hostHeader: string | undefined): string =>
    `this dashboard does not answer to host ${JSON.stringify(hostHeader ?? '')}; open it at ${[...allowed.hosts].map((h) => `http://${h}/`).join(' or ')}`;

  const authorized = (req: IncomingMessage, url: URL): boolean =>
    tokenMatches(bearerToken(req.headers.authorization), token) || (url.pathname === '/ws' && tokenMatches(url.searchParams.get('token') ?? undefined, token));

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err, url: req.url }, 'dashboard request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  const refuse = (req: IncomingMessage, res: ServerResponse, action: string, why: string): void => {
    metrics.controls.inc({ action: actionLabel(action), outcome: 'unavailable' });
    req.resume();
    json(res, 503, { error: why }, { 'Retry-After': '5' });
  };

  // POST /api/control/<action>.
  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'POST') return json(res, 405, { error: 'use POST' }, { Allow: 'POST' });
    const action = decodePath(url.pathname.slice('/api/control/'.length));
    if (action === undefined) {
      req.resume();
      return json(res, 400, { error: 'malformed percent-encoding in the path' });
    }
    if (!authorized(req, url)) {
      metrics.controls.inc({ action: actionLabel(action), outcome: 'unauthorized' });
      logger.warn({ action, remote: req.socket.remoteAddress }, 'control refused: missing or wrong token');
      req.resume();
      return json(res, 401, { error: 'missing or wrong token: send Authorization: Bearer <token>' }, { 'WWW-Authenticate': 'Bearer realm="cobalt"' });
    }
    // With killTaken a kill is never refused for the rest's refusal: published while it answers true, held while it
    // answers false (the RiskManager down: starting, restarting), refused only once the holding was dropped.
    const killRoute = action === 'kill' && opts.killTaken !== undefined;
    const refusal = (): string | undefined => opts.controlsRefusal?.(isControlAction(action) ? action : undefined);
    const unavailable = refusal();
    if (unavailable !== undefined && !killRoute) return refuse(req, res, action, unavailable);
    let body: unknown;
    try {
      body = await readJsonBody(req);
    } catch (e) {
      metrics.controls.inc({ action: actionLabel(action), outcome: 'invalid' });
      return json(res, 400, { error: (e as Error).message });
    }
    const { resumeRefusal: resume, rollbackTargets: rollback } = opts.providers ?? {};
    const checks: ControlChecks = { ...(resume ? { resume } : {}), ...(rollback ? { rollback } : {}) };
    const r = controlMessages(action, body, clock.now(), checks);
    if (!r.ok) {
      metrics.controls.inc({ action: actionLabel(action), outcome: 'invalid' });
      return json(res, r.status, { error: r.error });
    }
    // Reading the body took I/O turns, in which the refusal may have begun or ended: asked again.
    const stillRefused = refusal();
    if (stillRefused !== undefined && !killRoute) return refuse(req, res, action, stillRefused);
    if (killRoute && opts.killTaken?.() !== true) {
      if (hold.droppedWhy !== undefined) return refuse(req, res, action, `kill switch not taken: ${hold.droppedWhy}`);
      const held = hold.ask(body, req.socket.remoteAddress);
      return json(res, 202, { ok: true, action, queued: true, asks: held.asks, heldSince: new Date(held.sinceMs).toISOString(), message: KILL_HELD });
    }
    // One held meanwhile goes first (a kill taken now is taken by what would have taken it).
    if (killRoute) hold.apply();
    logger.info({ action, body, remote: req.socket.remoteAddress, messages: r.messages.map((m) => m.type) }, 'control action');
    for (const m of r.messages) bus.publish(m);
    metrics.controls.inc({ action, outcome: 'ok' });
    return json(res, 200, { ok: true, action, published: r.messages });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req.headers.host)) {
      req.resume();
      return json(res, 421, { error: misdirected(req.headers.host) });
    }
    const url = parseTarget(req.url);
    if (url === undefined) {
      req.resume();
      return json(res, 400, { error: 'malformed request target' });
    }
    const path = url.pathname;
    if (path.startsWith('/api/control/')) return control(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'use GET' }, { Allow: 'GET, HEAD' });
    if (path === '/api/state' || path === '/metrics') {
      if (exposed && !authorized(req, url)) return json(res, 401, { error: 'missing or wrong token' }, { 'WWW-Authenticate': 'Bearer realm="cobalt"' });
      if (path === '/api/state') return json(res, 200, view.snapshot());
      const text = await metrics.text();
      res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
      res.end(text);
      return;
    }
    if (path === '/healthz') return json(res, 200, { ok: true });
    return serveStatic(res, staticDir, path);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  server.on('upgrade', (req, socket, head) => {
    // Node removes its own 'error' listener from the socket before it emits 'upgrade': without one, a peer that resets
    // while a refusal is written raises an unhandled 'error' and the process exits. (ws adds its own on handleUpgrade.)
    socket.on('error', () => socket.destroy());
    // Destroyed once written, not left half-open (the server allows half-open sockets) until the peer ends its side.
    const refuse = (code: number, why: string): void => {
      socket.end(`HTTP/1.1 ${code} ${why}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
    };
    const url = parseTarget(req.url);
    if (url === undefined) return refuse(400, 'Bad Request');
    if (!hostAllowed(req.headers.host)) return refuse(421, 'Misdirected Request');
    if (url.pathname !== '/ws') return refuse(404, 'Not Found');
    // Another site open in the same browser must not read the engine's state through this socket. The Origin is
    // held to the same list as Host, not to the Host the client sent (a rebound name makes the two agree).
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, req.headers.host)) return refuse(403, 'Forbidden');
    if (exposed && !authorized(req, url)) return refuse(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c: Client = { ws, remote: remoteOf(req), cursors: new Map(), pending: new Set(), overSince: undefined, alive: true };
      clients.add(c);
      armPing();
      ws.on('close', () => clients.delete(c));
      ws.on('error', () => clients.delete(c));
      ws.on('pong', () => {
        c.alive = true;
      });
      // Frames from the page are ignored on purpose: this socket is read-only.
      ws.on('message', () => {});
      const data: Record<string, unknown> = {};
      for (const t of TOPICS) data[t] = view.build(t, c.cursors);
      ws.send(frame({ type: 'snapshot', topics: data }));
    });
  });

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => {
      server.off('error', rej);
      res();
    });
  });
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}/`;
  allowed = allowedHosts(host, boundPort);
  logger.info({ url, exposed }, 'dashboard listening');

  return {
    url,
    port: boundPort,
    view,
    metrics,
    throttle,
    clients: () => clients.size,
    dropped: () => ({ ...dropped }),
    heldKill: hold,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      throttle.close();
      if (backlogTimer !== undefined) wall.clearTimeout(backlogTimer);
      if (pingTimer !== undefined) wall.clearTimeout(pingTimer);
      view.stop();
      metrics.close();
      scrapeLag.disable();
      startLag.disable();
      for (const c of clients) c.ws.terminate();
      clients.clear();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

/** What a `kill` held while the RiskManager is not running is answered (202, DashboardOptions.killTaken). */
export const KILL_HELD = 'the RiskManager is not running (starting or restarting): the kill is held and goes to it the moment it runs, before anything else does';

interface KillHoldDeps {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  readonly wall: Clock;
  readonly logger: Logger;
  readonly controls: Counter<'action' | 'outcome'>;
  /** Called when what pending() answers changes. */
  readonly changed: () => void;
}

// The kill asked for while held: the first ask's body and peer, when (wall ms), and how many asks joined it.
interface Held {
  readonly body: unknown;
  readonly remote: string | undefined;
  readonly sinceMs: number;
  asks: number;
}

// HeldKill. Every ask is a request counted 'queued'; the held kill is counted once more when it goes, 'ok' when
// published (as a control published at once is) or 'dropped'.
class KillHold implements HeldKill {
  private held: Held | undefined;
  /** Why the holding was dropped; undefined while kills are held (only asked for with DashboardOptions.killTaken). */
  private dropped: string | undefined;

  constructor(private readonly deps: KillHoldDeps) {}

  /** Why the holding was dropped (for the refusal of a kill after it), once it was. */
  get droppedWhy(): string | undefined {
    return this.dropped;
  }

  /** Holds the kill of `body` (checked by controlMessages) asked for by `remote`; an ask while one is held joins it. */
  ask(body: unknown, remote: string | undefined): Held {
    if (this.dropped !== undefined) throw new Error('a kill was asked to be held after the holding was dropped');
    if (this.held) this.held.asks++;
    else this.held = { body, remote, sinceMs: this.deps.wall.now(), asks: 1 };
    this.deps.controls.inc({ action: 'kill', outcome: 'queued' });
    this.deps.logger.info({ action: 'kill', body, remote, queued: true, asks: this.held.asks }, 'control action held until the RiskManager runs');
    this.deps.changed();
    return this.held;
  }

  pending(): { readonly sinceMs: number; readonly asks: number } | undefined {
    return this.held && { sinceMs: this.held.sinceMs, asks: this.held.asks };
  }

  apply(): boolean {
    const h = this.take();
    if (!h) return false;
    const { bus, clock, logger, controls } = this.deps;
    const r = controlMessages('kill', h.body, clock.now());
    if (!r.ok) throw new Error(`the held kill's body, accepted when it was asked, is refused now: ${r.error}`);
    logger.info({
      action: 'kill', body: h.body, remote: h.remote, messages: r.messages.map((m) => m.type), queued: true, heldMs: this.heldMs(h), asks: h.asks,
    }, 'control action');
    for (const m of r.messages) bus.publish(m);
    controls.inc({ action: 'kill', outcome: 'ok' });
    return true;
  }

  drop(why: string): boolean {
    if (this.dropped !== undefined) return false;
    this.dropped = why;
    const h = this.take();
    if (!h) return false;
    this.deps.logger.warn({ action: 'kill', remote: h.remote, queued: true, heldMs: this.heldMs(h), asks: h.asks, reason: why }, `held kill dropped: ${why}`);
    this.deps.controls.inc({ action: 'kill', outcome: 'dropped' });
    return true;
  }

  private heldMs(h: Held): number {
    return this.deps.wall.now() - h.sinceMs;
  }

  // Takes the kill held, if any, out of the hold.
  private take(): Held | undefined {
    const h = this.held;
    this.held = undefined;
    if (h) this.deps.changed();
    return h;
  }
}

// Returns `address:port` of the peer (IPv6 in brackets), as a drop's log line names it.
function remoteOf(req: IncomingMessage): string {
  const { remoteAddress: a, remotePort: p } = req.socket;
  if (a === undefined) return 'unknown peer';
  return `${a.includes(':') ? `[${a}]` : a}:${p ?? '?'}`;
}

// Any other name, whatever its shape, is 'other': a label value per name sent would let anyone (the 401 path is
// counted too) grow the registry by one series per request.
function actionLabel(action: string): string {
  return isControlAction(action) ? action : 'other';
}

/** The Host header values a dashboard answers to (`host:port`, lower case, IPv6 in brackets). */
interface AllowedHosts {
  /** Bound to every interface (0.0.0.0, ::): any name may reach it, and every route but the page needs the token. */
  readonly any: boolean;
  readonly hosts: ReadonlySet<string>;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
const WILDCARD_BINDS = new Set(['0.0.0.0', '::', '[::]']);

// Returns the names a server bound to `bindHost`:`port` answers to: the configured host and the loopback names
// (which reach it whenever it listens on loopback, and are harmless otherwise: a rebound name is never among them).
function allowedHosts(bindHost: string, port: number): AllowedHosts {
  const hosts = new Set<string>();
  for (const name of [...LOOPBACK_NAMES, bindHost.includes(':') && !bindHost.startsWith('[') ? `[${bindHost}]` : bindHost]) {
    const h = normalizeHost(`${name}:${port}`);
    if (h !== undefined) hosts.add(h);
  }
  return { any: WILDCARD_BINDS.has(bindHost), hosts };
}

// Returns `host:port` as a URL parses it (lower case, IPv4 shorthand expanded, port 80 filled in), or undefined
// for a missing or malformed Host.
function normalizeHost(host: string | undefined): string | undefined {
  if (host === undefined || host === '' || /[/?#@\s\\]/.test(host)) return undefined;
  try {
    const u = new URL(`http://${host}`);
    return `${u.hostname.replace(/\.$/, '')}:${u.port || '80'}`;
  } catch {
    return undefined;
  }
}

// Returns the request target as a URL, or undefined when it is not one (`//[`): a client's garbage is a 400, never a
// throw, which in the 'upgrade' listener would exit the process.
function parseTarget(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://dashboard.invalid');
  } catch {
    return undefined;
  }
}

// Returns the percent-decoded `s`, or undefined when its encoding is malformed (`%E0%A4%A`).
function decodePath(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

// Secrets shorter than this are not scrubbed from pages and frames: the serialized text is scrubbed whole, and a short
// value (a loopback dashboard token may be '17231612' or 'snapshot') would cut into a timestamp or a message's type and
// break the page; the venue credentials the scrub is for are 32-64 characters, and the token, the one short secret,
// is the page reader's own (an exposed dashboard's is 22 or more: config/load.ts).
const PAGE_SECRET_MIN_LENGTH = 16;

// Returns a WebSocket frame's text, scrubbed as json() scrubs.
function frame(body: unknown): string {
  return scrubSecretValues(JSON.stringify(body), PAGE_SECRET_MIN_LENGTH);
}

// The state carries error texts (an actor's lastError, a venue's status reason) that may quote a credential; the log
// scrubs the registered secret values from its lines (engine/log.ts), and what leaves by HTTP or WebSocket must too.
// One pass over the serialized text: a replacer per value would cost more on every push.
function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = scrubSecretValues(JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), PAGE_SECRET_MIN_LENGTH);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...SECURITY_HEADERS, ...headers });
  res.end(text);
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('request body is not valid JSON');
  }
}

async function serveStatic(res: ServerResponse, root: string, path: string): Promise<void> {
  const decoded = decodePath(path === '/' ? '/index.html' : path);
  if (decoded === undefined) return json(res, 400, { error: 'malformed percent-encoding in the path' });
  const rel = normalize(decoded).replace(/^([/\\])+/, '');
  const file = join(root, rel);
  if (file !== root && !file.startsWith(root + sep)) return json(res, 403, { error: 'forbidden path' });
  try {
    const st = await stat(file);
    if (!st.isFile()) return json(res, 404, { error: 'not found' });
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache', ...SECURITY_HEADERS });
    res.end(body);
  } catch {
    if (rel === 'index.html') {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      res.end(`The dashboard page is not built (${root} has no index.html). Build it with: node web/build.mjs\n`);
      return;
    }
    json(res, 404, { error: 'not found' });
  }
}
