import type { Logger } from '../log.ts';
import type { EngineMsg } from '../messages/index.ts';
import type { Clock } from './clock.ts';

/** Anything with a string `type` discriminator can travel on a bus. */
export interface BusMsg { readonly type: string }

/** A message handler; it must not keep or mutate the message after returning. */
export type Handler<M> = (msg: M) => void;

/** Removes a subscription; calling it twice is harmless. */
export type Unsubscribe = () => void;

/** Returns the message union narrowed to the types a prefix pattern matches ('*' or '' matches all, 'exec.' or 'exec.*' a domain). */
export type PrefixMsg<M extends BusMsg, P extends string> = P extends '*' | ''
  ? M
  : P extends `${infer Q}*`
    ? Extract<M, { type: `${Q}${string}` }>
    : Extract<M, { type: `${P}${string}` }>;

/** Counters of one message type. */
export interface TopicCounters {
  /** Messages of this type handed to `publish` or delivered out of the queue. */
  published: number;
  /** Handler calls that returned normally. */
  delivered: number;
  /** Messages that found no subscriber. */
  droppedNoSubscriber: number;
  /** Handler calls that threw. */
  handlerErrors: number;
}

/** What `onHandlerError` receives when a handler throws. */
export interface HandlerFailure<M extends BusMsg = BusMsg> {
  readonly error: unknown;
  readonly msg: M;
  /** The `owner` given at subscribe time (the supervised actor's id), if any. */
  readonly owner: string | undefined;
}

/** Options of a bus. */
export interface BusOptions<M extends BusMsg> {
  /** Called after a handler throws; other handlers still run. Errors thrown by this callback are swallowed. */
  onHandlerError?: (failure: HandlerFailure<M>) => void;
}

interface Sub<M> {
  readonly pattern: string;
  readonly isPrefix: boolean;
  readonly handler: Handler<M>;
  readonly owner: string | undefined;
}

// Per-type route: the resolved handler list (exact + matching prefixes, in subscription order) and its counters.
// Handler arrays are replaced, never mutated, so a delivery in progress keeps iterating the list it started with.
interface Route<M> extends TopicCounters {
  handlers: Handler<M>[];
  owners: (string | undefined)[];
}

// A FIFO over a ring of power-of-two capacity, no per-item allocation and O(1) shift. A ring rather than an array
// with a moving head: a queue drained to empty on nearly every publish would otherwise truncate and
// regrow its array each time (setting `length` is a runtime call, and the next push allocates a new backing store).
// A ring grown past SHRINK_ABOVE by a burst goes back to its first size once drained, so a burst is not held for good.
const FIFO_START = 16;
const SHRINK_ABOVE = 4096;
class Fifo<T> {
  private items: (T | undefined)[] = new Array<T | undefined>(FIFO_START).fill(undefined);
  private head = 0;
  private n = 0;
  get length(): number {
    return this.n;
  }
  push(x: T): void {
    if (this.n === this.items.length) this.grow();
    this.items[(this.head + this.n) & (this.items.length - 1)] = x;
    this.n++;
  }
  shift(): T | undefined {
    if (this.n === 0) return undefined;
    const x = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    if (--this.n === 0) {
      this.head = 0;
      if (this.items.length > SHRINK_ABOVE) this.items = new Array<T | undefined>(FIFO_START).fill(undefined);
    }
    return x;
  }
  private grow(): void {
    const old = this.items;
    const mask = old.length - 1;
    const next = new Array<T | undefined>(old.length * 2).fill(undefined);
    for (let i = 0; i < this.n; i++) next[i] = old[(this.head + i) & mask];
    this.items = next;
    this.head = 0;
  }
}

/**
 * Returns an `onHandlerError` that logs a throwing handler at error level with the message type, the owner and the
 * error: the first failure of each (type, owner) at once, then at most one line per `everyMs` of `clock` time (default
 * 60 s) counting the failures since the last line, so a handler that throws on every tick cannot flood the log. A
 * handler with a supervised owner is also reported to the supervisor (which restarts that actor); one without an owner
 * (wiring in app/, the paper books) would otherwise only be counted in `counters()`.
 */
export function logHandlerFailures<M extends BusMsg>(logger: Logger, clock: Clock, everyMs = 60_000): (failure: HandlerFailure<M>) => void {
  const last = new Map<string, { at: number; since: number }>();
  return ({ error, msg, owner }) => {
    const key = `${msg.type}\u0000${owner ?? ''}`;
    const now = clock.now();
    const prev = last.get(key);
    if (prev !== undefined && now - prev.at < everyMs) {
      prev.since++;
      return;
    }
    last.set(key, { at: now, since: 0 });
    const by = owner === undefined ? '' : ` of '${owner}'`;
    logger.error({ code: 'BUS_HANDLER_FAILED', type: msg.type, owner, err: error, failures: prev === undefined ? 1 : prev.since + 1 },
      prev === undefined ? `a ${msg.type} handler${by} threw` : `a ${msg.type} handler${by} threw again (${prev.since + 1} times since the last line)`);
  };
}

/** Returns true for market-data types (`md.*`, `cob.*`), which queue behind everything else in `drain`. */
export function isMarketData(type: string): boolean {
  return type.startsWith('md.') || type.startsWith('cob.');
}

/**
 * Typed synchronous publish/subscribe for the hot path.
 * `publish` delivers now; a publish made while a delivery is running is deferred until that message's handlers
 * have all returned (no recursion, causal order kept). `enqueue` + `drain` deliver queued messages with every
 * non-market message (exec.*, risk.*, sys.*, signal.*) before queued market data (md.*, cob.*), FIFO within each lane.
 */
export class Bus<M extends BusMsg = EngineMsg> {
  /** Called when a handler throws (the supervisor routes it to the owning actor). */
  onHandlerError: ((failure: HandlerFailure<M>) => void) | undefined;
  private readonly subs: Sub<M>[] = [];
  private readonly routes = new Map<string, Route<M>>();
  private readonly control = new Fifo<M>();
  private readonly market = new Fifo<M>();
  private readonly deferred = new Fifo<M>();
  private depth = 0;
  private draining = false;

  constructor(opts: BusOptions<M> = {}) {
    this.onHandlerError = opts.onHandlerError;
  }

  /** Subscribes to one exact message type; returns the unsubscribe function. */
  subscribe<T extends M['type']>(type: T, handler: Handler<Extract<M, { type: T }>>, owner?: string): Unsubscribe {
    return this.add({ pattern: type, isPrefix: false, handler: handler as Handler<M>, owner });
  }

  /** Subscribes to every type starting with `prefix` ('exec.' or 'exec.*'; '*' for all); returns the unsubscribe function. */
  subscribePrefix<P extends string>(prefix: P, handler: Handler<PrefixMsg<M, P>>, owner?: string): Unsubscribe {
    const p = prefix === '*' ? '' : prefix.endsWith('*') ? prefix.slice(0, -1) : prefix;
    return this.add({ pattern: p, isPrefix: true, handler: handler as Handler<M>, owner });
  }

  /** Delivers `msg` to its subscribers now (deferred behind the current message if called from a handler). */
  publish(msg: M): void {
    if (this.depth > 0) {
      this.deferred.push(msg);
      return;
    }
    this.deliver(msg);
    if (this.deferred.length > 0) this.flushDeferred();
  }

  /** Queues `msg` for the next `drain`. */
  enqueue(msg: M): void {
    if (isMarketData(msg.type)) this.market.push(msg);
    else this.control.push(msg);
  }

  /** Returns how many messages wait in the queue. */
  get queued(): number {
    return this.control.length + this.market.length;
  }

  /**
   * Delivers queued messages until the queue is empty, control lane first, and returns how many it delivered.
   * Messages enqueued by handlers join the queue (an exec event queued mid-drain overtakes queued market data).
   * A nested call from a handler returns 0; the outer drain keeps going.
   */
  drain(): number {
    if (this.draining || this.depth > 0) return 0;
    this.draining = true;
    let n = 0;
    try {
      for (;;) {
        const msg = this.control.length > 0 ? this.control.shift() : this.market.shift();
        if (msg === undefined) break;
        this.deliver(msg);
        if (this.deferred.length > 0) this.flushDeferred();
        n++;
      }
    } finally {
      this.draining = false;
    }
    return n;
  }

  /** Returns a copy of the per-type counters, keyed by message type. */
  counters(): Record<string, TopicCounters> {
    const out: Record<string, TopicCounters> = {};
    for (const [type, r] of this.routes) {
      out[type] = { published: r.published, delivered: r.delivered, droppedNoSubscriber: r.droppedNoSubscriber, handlerErrors: r.handlerErrors };
    }
    return out;
  }

  /** Returns how many subscriptions exist. */
  get subscriptionCount(): number {
    return this.subs.length;
  }

  private deliver(msg: M): void {
    const route = this.routes.get(msg.type) ?? this.createRoute(msg.type);
    route.published++;
    const handlers = route.handlers;
    const owners = route.owners;
    const n = handlers.length;
    if (n === 0) {
      route.droppedNoSubscriber++;
      return;
    }
    this.depth++;
    try {
      for (let i = 0; i < n; i++) {
        try {
          handlers[i](msg);
          route.delivered++;
        } catch (error) {
          route.handlerErrors++;
          this.reportFailure(error, msg, owners[i]);
        }
      }
    } finally {
      this.depth--;
    }
  }

  private flushDeferred(): void {
    for (let msg = this.deferred.shift(); msg !== undefined; msg = this.deferred.shift()) this.deliver(msg);
  }

  private reportFailure(error: unknown, msg: M, owner: string | undefined): void {
    const cb = this.onHandlerError;
    if (!cb) return;
    try {
      cb({ error, msg, owner });
    } catch {
      // The error reporter failing must not take the bus down with it; the counter already recorded the failure.
    }
  }

  private add(sub: Sub<M>): Unsubscribe {
    this.subs.push(sub);
    this.rebuildRoutes();
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const i = this.subs.indexOf(sub);
      if (i >= 0) this.subs.splice(i, 1);
      this.rebuildRoutes();
    };
  }

  private createRoute(type: string): Route<M> {
    const route: Route<M> = { handlers: [], owners: [], published: 0, delivered: 0, droppedNoSubscriber: 0, handlerErrors: 0 };
    this.resolve(type, route);
    this.routes.set(type, route);
    return route;
  }

  // Subscribing is rare and the number of message types small, so resolve every route eagerly here
  // and keep `deliver` down to one Map lookup and an array walk.
  private rebuildRoutes(): void {
    for (const [type, route] of this.routes) this.resolve(type, route);
  }

  private resolve(type: string, route: Route<M>): void {
    const handlers: Handler<M>[] = [];
    const owners: (string | undefined)[] = [];
    for (const s of this.subs) {
      if (s.isPrefix ? type.startsWith(s.pattern) : type === s.pattern) {
        handlers.push(s.handler);
        owners.push(s.owner);
      }
    }
    route.handlers = handlers;
    route.owners = owners;
  }
}
