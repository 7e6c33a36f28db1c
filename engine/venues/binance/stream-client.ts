import WebSocket from 'ws';
import type { Clock, TimerHandle } from '../../runtime/clock.ts';
import type { Logger } from '../../log.ts';
import { log as rootLog } from '../../log.ts';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';

/**
 * Binance combined-stream WebSocket client.
 * States: idle -> connecting -> live -> (drop) -> waiting -> connecting … ; stop() -> stopped from any state.
 * - Subscriptions are a set: subscribing twice sends nothing, and after a reconnect the whole set is replayed in
 *   one SUBSCRIBE per connection (Binance caps incoming messages at 5/s, so never one message per stream).
 * - Liveness: Binance pings every 20 s and ws answers pongs by itself; we also ping and treat silence (no frame and
 *   no pong) for `livenessMs` as a dead socket.
 * - Binance closes connections at 24 h: we rotate before that, make-before-break, switching delivery to the new
 *   socket once its subscription is acknowledged; consumers already drop duplicate update ids.
 */
export type StreamStatus = 'idle' | 'connecting' | 'live' | 'waiting' | 'stopped';

export interface StreamClientOptions {
  /** Base URL of the combined stream endpoint, e.g. `wss://stream.binance.com:9443/stream`. */
  readonly url: string;
  readonly clock: Clock;
  readonly onMessage: (data: Buffer, tsLocal: number) => void;
  readonly onStatus?: (status: StreamStatus, detail?: string) => void;
  readonly backoff?: BackoffPolicy;
  readonly rng?: () => number;
  readonly pingIntervalMs?: number;
  readonly livenessMs?: number;
  /** A connection that stayed up this long resets the backoff; shorter-lived ones keep escalating it. */
  readonly stableAfterMs?: number;
  /** Rotate before Binance's 24 h limit; default 23 h 30 min. */
  readonly rotateAfterMs?: number;
  readonly logger?: Logger;
}

/** Counters a dashboard or test reads. */
export interface StreamClientStats {
  connects: number;
  drops: number;
  rotations: number;
  subscribeMessages: number;
  messages: number;
  lastMessageAt: number;
}

interface Conn {
  ws: WebSocket;
  id: number;
  acked: boolean;
  subscribeId?: number;
  /** When the socket opened; undefined for one that never did (refused, timed out). */
  openedAt?: number;
}

/** Returns a client that keeps a combined-stream connection alive with the current subscription set. */
export class BinanceStreamClient {
  private readonly opts: Required<Omit<StreamClientOptions, 'onStatus' | 'logger'>> & Pick<StreamClientOptions, 'onStatus'>;
  private readonly log: Logger;
  private readonly streams = new Set<string>();
  private active?: Conn;
  private rotating?: Conn;
  private status: StreamStatus = 'idle';
  private attempt = 0;
  private nextReqId = 1;
  private connSeq = 0;
  private reconnectTimer?: TimerHandle;
  private pingTimer?: TimerHandle;
  private rotateTimer?: TimerHandle;
  private lastSeenAt = 0;
  readonly stats: StreamClientStats = { connects: 0, drops: 0, rotations: 0, subscribeMessages: 0, messages: 0, lastMessageAt: 0 };

  constructor(opts: StreamClientOptions) {
    this.opts = {
      backoff: DEFAULT_BACKOFF,
      rng: Math.random,
      pingIntervalMs: 15_000,
      livenessMs: 45_000,
      rotateAfterMs: 23.5 * 3_600_000,
      stableAfterMs: 30_000,
      ...opts,
    };
    this.log = opts.logger ?? rootLog().child({ component: 'binance-stream' });
  }

  /** Returns the current connection state. */
  get state(): StreamStatus {
    return this.status;
  }

  /** Returns the subscribed stream names. */
  subscriptions(): string[] {
    return [...this.streams];
  }

  /** Adds streams; only streams not yet subscribed are sent, and only when a connection is live. */
  subscribe(streams: readonly string[]): void {
    const fresh = streams.map((s) => s.toLowerCase()).filter((s) => !this.streams.has(s));
    for (const s of fresh) this.streams.add(s);
    if (fresh.length && this.active && this.active.ws.readyState === WebSocket.OPEN) this.sendSubscribe(this.active, 'SUBSCRIBE', fresh);
  }

  /** Removes streams. */
  unsubscribe(streams: readonly string[]): void {
    const gone = streams.map((s) => s.toLowerCase()).filter((s) => this.streams.delete(s));
    if (gone.length && this.active && this.active.ws.readyState === WebSocket.OPEN) this.sendSubscribe(this.active, 'UNSUBSCRIBE', gone);
  }

  /** Opens the connection. */
  start(): void {
    if (this.status !== 'idle' && this.status !== 'stopped') return;
    this.connect();
  }

  /** Closes everything; no reconnect follows. */
  stop(): void {
    this.setStatus('stopped');
    for (const t of [this.reconnectTimer, this.pingTimer, this.rotateTimer]) if (t) this.opts.clock.clearTimeout(t);
    for (const c of [this.active, this.rotating]) c?.ws.terminate();
    this.active = undefined;
    this.rotating = undefined;
  }

  /** Forces a reconnect now (used by the rotation test and on detected staleness). */
  reconnect(reason: string): void {
    if (this.status === 'stopped') return;
    this.log.info({ reason }, 'binance stream reconnect requested');
    this.active?.ws.terminate();
  }

  private setStatus(s: StreamStatus, detail?: string): void {
    if (this.status === s) return;
    this.status = s;
    this.opts.onStatus?.(s, detail);
  }

  private open(rotation: boolean): Conn {
    const ws = new WebSocket(this.opts.url, { handshakeTimeout: 10_000 });
    const conn: Conn = { ws, id: ++this.connSeq, acked: false };
    ws.on('open', () => {
      conn.openedAt = this.opts.clock.now();
      this.stats.connects++;
      this.lastSeenAt = this.opts.clock.now();
      if (this.streams.size) this.sendSubscribe(conn, 'SUBSCRIBE', [...this.streams]);
      else conn.acked = true;
      if (!rotation) {
        this.setStatus('live');
        this.schedulePing();
        this.scheduleRotation();
      } else if (conn.acked) {
        this.promote(conn);
      }
    });
    ws.on('message', (data: Buffer) => this.onFrame(conn, data));
    ws.on('pong', () => {
      this.lastSeenAt = this.opts.clock.now();
    });
    ws.on('error', (err) => this.log.warn({ err: err.message, conn: conn.id }, 'binance stream socket error'));
    ws.on('close', (code, reason) => this.onClose(conn, code, reason.toString()));
    return conn;
  }

  private connect(): void {
    this.setStatus('connecting');
    this.active = this.open(false);
  }

  private onFrame(conn: Conn, data: Buffer): void {
    const now = this.opts.clock.now();
    this.lastSeenAt = now;
    // Replies to our own requests are small JSON objects with an `id`; everything else is stream data.
    if (data.length < 200 && data.includes('"id"') && !data.includes('"stream"')) {
      this.onReply(conn, data);
      return;
    }
    if (conn !== this.active) return; // a rotating socket only delivers once promoted
    this.stats.messages++;
    this.stats.lastMessageAt = now;
    this.opts.onMessage(data, now);
  }

  private onReply(conn: Conn, data: Buffer): void {
    let reply: { id?: number; result?: unknown; error?: { code: number; msg: string } };
    try {
      reply = JSON.parse(data.toString());
    } catch {
      this.log.warn({ frame: data.toString().slice(0, 200) }, 'unparseable reply on binance stream');
      return;
    }
    if (reply.error) {
      this.log.error({ code: reply.error.code, msg: reply.error.msg, id: reply.id }, 'binance stream request refused');
      return;
    }
    if (reply.id !== undefined && reply.id === conn.subscribeId) {
      conn.acked = true;
      if (conn === this.rotating) this.promote(conn);
    }
  }

  private promote(conn: Conn): void {
    const old = this.active;
    this.active = conn;
    this.rotating = undefined;
    this.stats.rotations++;
    this.log.info({ conn: conn.id }, 'binance stream rotated to a fresh connection');
    old?.ws.close(1000, 'rotation');
    this.scheduleRotation();
  }

  private onClose(conn: Conn, code: number, reason: string): void {
    if (conn === this.rotating) {
      this.rotating = undefined;
      return;
    }
    if (conn !== this.active || this.status === 'stopped') return;
    this.active = undefined;
    this.stats.drops++;
    if (this.pingTimer) this.opts.clock.clearTimeout(this.pingTimer);
    if (this.rotateTimer) this.opts.clock.clearTimeout(this.rotateTimer);
    // Only a connection that opened and proved stable resets the backoff, so neither a socket that opens and dies at
    // once nor one that never opens (refused during an outage or a ban) makes us hammer the venue at the minimum delay.
    if (conn.openedAt !== undefined && this.opts.clock.now() - conn.openedAt >= this.opts.stableAfterMs) this.attempt = 0;
    const delay = backoffDelay(this.opts.backoff, this.attempt++, this.opts.rng);
    this.log.warn({ code, reason, attempt: this.attempt, delayMs: delay }, 'binance stream dropped; reconnecting');
    this.setStatus('waiting', `closed ${code}`);
    this.reconnectTimer = this.opts.clock.setTimeout(() => this.connect(), delay);
  }

  private sendSubscribe(conn: Conn, method: 'SUBSCRIBE' | 'UNSUBSCRIBE', params: string[]): void {
    const id = this.nextReqId++;
    if (method === 'SUBSCRIBE') conn.subscribeId = id;
    this.stats.subscribeMessages += method === 'SUBSCRIBE' ? 1 : 0;
    conn.ws.send(JSON.stringify({ method, params, id }));
  }

  private schedulePing(): void {
    this.pingTimer = this.opts.clock.setTimeout(() => {
      const conn = this.active;
      if (!conn || this.status === 'stopped') return;
      if (this.opts.clock.now() - this.lastSeenAt > this.opts.livenessMs) {
        this.log.warn({ silentMs: this.opts.clock.now() - this.lastSeenAt }, 'binance stream silent; terminating');
        conn.ws.terminate();
        return;
      }
      if (conn.ws.readyState === WebSocket.OPEN) conn.ws.ping();
      this.schedulePing();
    }, this.opts.pingIntervalMs);
  }

  private scheduleRotation(): void {
    if (this.rotateTimer) this.opts.clock.clearTimeout(this.rotateTimer);
    this.rotateTimer = this.opts.clock.setTimeout(() => {
      if (this.status !== 'live' || this.rotating) return;
      this.rotating = this.open(true);
    }, this.opts.rotateAfterMs);
  }
}

/** Returns the combined-stream URL for a Binance websocket base URL (`wss://host:port` → `wss://host:port/stream`). */
export function combinedStreamUrl(wsBase: string): string {
  const u = new URL(wsBase);
  if (!u.pathname.endsWith('/stream')) u.pathname = `${u.pathname.replace(/\/(ws)?\/?$/, '')}/stream`;
  return u.toString();
}
