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
 *   no pong) for `livenessMs` as a dead socket. Pongs only prove the TCP path: with streams subscribed, no data frame
 *   for `dataSilenceMs` (checked at each ping) also counts as a drop, since a stalled stream can keep answering pings.
 * - Binance closes connections at 24 h: we rotate before that, make-before-break, switching delivery to the new
 *   socket once its subscription is acknowledged; consumers already drop duplicate update ids. A rotation whose
 *   socket closes, is refused its SUBSCRIBE or gets no answer within `rotateAckTimeoutMs` is retried on `rotateRetry`
 *   backoff until one succeeds or the venue's cut arrives (then it is an ordinary drop).
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
  /** With streams subscribed, no data frame for this long is a drop even if pongs arrive; 0 turns it off. Default 30 s. */
  readonly dataSilenceMs?: number;
  /** A connection that stayed up this long resets the backoff; shorter-lived ones keep escalating it. */
  readonly stableAfterMs?: number;
  /** Rotate before Binance's 24 h limit; default 23 h 30 min. */
  readonly rotateAfterMs?: number;
  /** Delay before retrying a rotation that failed; default 1 min doubling to 5 min (the cut is 30 min away). */
  readonly rotateRetry?: BackoffPolicy;
  /** A rotating socket not subscribed within this long has failed; default 30 s. */
  readonly rotateAckTimeoutMs?: number;
  readonly logger?: Logger;
}

/** Counters a dashboard or test reads. */
export interface StreamClientStats {
  connects: number;
  drops: number;
  rotations: number;
  /** Rotation attempts that failed and were scheduled again. */
  rotationFailures: number;
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
  /** Last data frame on the active connection (or when data was first due: its open, a subscription from none). */
  private lastDataAt = 0;
  private rotateAttempt = 0;
  readonly stats: StreamClientStats = { connects: 0, drops: 0, rotations: 0, rotationFailures: 0, subscribeMessages: 0, messages: 0, lastMessageAt: 0 };

  constructor(opts: StreamClientOptions) {
    this.opts = {
      backoff: DEFAULT_BACKOFF,
      rng: Math.random,
      pingIntervalMs: 15_000,
      livenessMs: 45_000,
      dataSilenceMs: 30_000,
      rotateAfterMs: 23.5 * 3_600_000,
      rotateRetry: { initialMs: 60_000, maxMs: 300_000, factor: 2, jitter: 0.2 },
      rotateAckTimeoutMs: 30_000,
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
    if (fresh.length && this.streams.size === 0) this.lastDataAt = this.opts.clock.now();
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
      if (this.streams.size) this.sendSubscribe(conn, 'SUBSCRIBE', [...this.streams]);
      else conn.acked = true;
      if (!rotation) {
        this.lastSeenAt = this.opts.clock.now();
        this.lastDataAt = this.opts.clock.now();
        this.rotateAttempt = 0;
        this.setStatus('live');
        this.schedulePing();
        this.scheduleRotation();
      } else if (conn.acked) {
        this.promote(conn);
      }
    });
    ws.on('message', (data: Buffer) => this.onFrame(conn, data));
    ws.on('pong', () => {
      if (conn === this.active) this.lastSeenAt = this.opts.clock.now();
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
    if (conn === this.active) this.lastSeenAt = now;
    // Replies to our own requests are small JSON objects with an `id`; everything else is stream data.
    if (data.length < 200 && data.includes('"id"') && !data.includes('"stream"')) {
      this.onReply(conn, data);
      return;
    }
    if (conn !== this.active) return; // a rotating socket only delivers once promoted
    this.stats.messages++;
    this.stats.lastMessageAt = now;
    this.lastDataAt = now;
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
      this.log.error({ code: reply.error.code, msg: reply.error.msg, id: reply.id, conn: conn.id }, 'binance stream request refused');
      if (conn === this.rotating && reply.id === conn.subscribeId) this.rotationFailed(conn, `subscription refused: ${reply.error.msg}`);
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
    this.rotateAttempt = 0;
    this.lastSeenAt = this.opts.clock.now();
    this.lastDataAt = this.opts.clock.now();
    this.stats.rotations++;
    this.log.info({ conn: conn.id }, 'binance stream rotated to a fresh connection');
    old?.ws.close(1000, 'rotation');
    this.scheduleRotation();
  }

  private onClose(conn: Conn, code: number, reason: string): void {
    if (conn === this.rotating) {
      this.rotationFailed(conn, `closed ${code} before its subscription was acknowledged`);
      return;
    }
    if (conn !== this.active || this.status === 'stopped') return;
    this.active = undefined;
    // A rotation under way would otherwise be promoted beside the reconnect's connection.
    const rotating = this.rotating;
    this.rotating = undefined;
    rotating?.ws.terminate();
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
      const now = this.opts.clock.now();
      if (now - this.lastSeenAt > this.opts.livenessMs) {
        this.log.warn({ silentMs: now - this.lastSeenAt }, 'binance stream silent; terminating');
        conn.ws.terminate();
        return;
      }
      if (this.opts.dataSilenceMs > 0 && this.streams.size > 0 && now - this.lastDataAt > this.opts.dataSilenceMs) {
        this.log.warn({ dataSilentMs: now - this.lastDataAt, streams: this.streams.size }, 'binance stream sends no data although it answers pings; terminating');
        conn.ws.terminate();
        return;
      }
      if (conn.ws.readyState === WebSocket.OPEN) conn.ws.ping();
      this.schedulePing();
    }, this.opts.pingIntervalMs);
  }

  private scheduleRotation(delayMs = this.opts.rotateAfterMs): void {
    if (this.rotateTimer) this.opts.clock.clearTimeout(this.rotateTimer);
    this.rotateTimer = this.opts.clock.setTimeout(() => {
      if (this.status !== 'live' || this.rotating) return;
      const conn = this.open(true);
      this.rotating = conn;
      // A socket that opens but never answers its SUBSCRIBE would otherwise hold `rotating` forever.
      this.rotateTimer = this.opts.clock.setTimeout(() => {
        if (conn === this.rotating && !conn.acked) this.rotationFailed(conn, 'subscription not acknowledged in time');
      }, this.opts.rotateAckTimeoutMs);
    }, delayMs);
  }

  /** Drops a failed rotating socket and tries the rotation again after a growing delay. */
  private rotationFailed(conn: Conn, why: string): void {
    this.rotating = undefined;
    conn.ws.terminate();
    if (this.status === 'stopped' || !this.active) return;
    this.stats.rotationFailures++;
    const delay = backoffDelay(this.opts.rotateRetry, this.rotateAttempt++, this.opts.rng);
    this.log.warn({ conn: conn.id, why, attempt: this.rotateAttempt, retryInMs: delay }, 'binance stream rotation failed; retrying');
    this.scheduleRotation(delay);
  }
}

/** Returns the combined-stream URL for a Binance websocket base URL (`wss://host:port` → `wss://host:port/stream`). */
export function combinedStreamUrl(wsBase: string): string {
  const u = new URL(wsBase);
  if (!u.pathname.endsWith('/stream')) u.pathname = `${u.pathname.replace(/\/(ws)?\/?$/, '')}/stream`;
  return u.toString();
}
