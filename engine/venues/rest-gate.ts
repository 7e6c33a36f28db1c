// One 429/418 gate per REST origin (scheme, host and port), shared by every REST user in the process: the feed's
// depth snapshots, the DataProvider's klines and prices, the executor's ccxt client and `cobalt record`. Binance
// limits and bans by IP: a request one client sends while another has been answered 429 escalates to a 418 ban
// (2 minutes, doubling), which also refuses order placement and cancels. So each user asks the gate before sending,
// fails at once with its own block error while a block is in force, and records every classified 429 / 418 here.
//
// Time base: the registry's gates run on the system clock (Date.now) unless a test gives the registry another one.
// A ban's end comes from the venue as wall time ("IP banned until <ms>") and a Retry-After as a duration, so users
// convert both to a duration against `gate.now()` before calling `block`; a caller on a simulated or scaled engine
// clock (replays, the exchange simulator at its server time) then neither misreads a wall-time ban end nor needs the
// gate to share its clock. A gate built directly (`new RestGate`) may run on any clock: an executor without a shared
// gate keeps a private one on its own Clock.
import type { TsMs } from '../types/time.ts';

/** What a venue answer imposed: 429 (rate limited, back off) or 418 (this IP is banned). */
export type RestBlockKind = 'rateLimited' | 'banned';

/** A block in force: its kind, when it ends on the gate's clock, and how long that is from now. */
export interface RestBlock {
  readonly kind: RestBlockKind;
  readonly untilMs: TsMs;
  readonly remainingMs: number;
}

/** The time source of a gate (the `now` of a Clock). */
export interface GateClock {
  now(): TsMs;
}

/** The system clock, which the process-wide registry uses by default. */
const SYSTEM_GATE_CLOCK: GateClock = { now: () => Date.now() };

/** The 429/418 state of one REST origin; see the header. */
export class RestGate {
  /** Calls let through, calls refused while a block was in force, and 429/418 answers recorded. */
  readonly counters = { sent: 0, refused: 0, blocks: 0 };
  private bannedUntil = 0;
  private limitedUntil = 0;

  constructor(readonly origin: string, private readonly clock: GateClock) {}

  /** Returns the gate's time, against which a venue's ban end is turned into a duration. */
  now(): TsMs {
    return this.clock.now();
  }

  /** Says why a call was not sent while `b` is in force: the origin, the kind of block and the time left. */
  refusal(b: RestBlock): string {
    return `${this.origin} ${b.kind === 'banned' ? 'this IP is banned' : 'rate limited'} for ${b.remainingMs} ms more`;
  }

  /** Returns the block in force, or undefined. A ban outranks a rate limit; nothing is sent until both have ended. */
  get blocked(): RestBlock | undefined {
    const now = this.now();
    const untilMs = Math.max(this.bannedUntil, this.limitedUntil);
    if (now >= untilMs) return undefined;
    return { kind: now < this.bannedUntil ? 'banned' : 'rateLimited', untilMs, remainingMs: untilMs - now };
  }

  /** Returns the block in force, counting the call as refused, or undefined, counting it as sent. */
  admit(): RestBlock | undefined {
    const b = this.blocked;
    if (b) this.counters.refused++;
    else this.counters.sent++;
    return b;
  }

  /** Records a 429 or 418 answer: nothing may be sent for `retryAfterMs` from now. Returns the block now in force. */
  block(kind: RestBlockKind, retryAfterMs: number): RestBlock {
    if (kind !== 'rateLimited' && kind !== 'banned') throw new TypeError(`REST block kind '${String(kind)}' is neither 'rateLimited' nor 'banned'`);
    if (!Number.isFinite(retryAfterMs) || retryAfterMs < 0) throw new TypeError(`REST block of ${this.origin} for ${retryAfterMs} ms: the duration must be a finite number >= 0`);
    const until = this.now() + retryAfterMs;
    if (kind === 'banned') this.bannedUntil = Math.max(this.bannedUntil, until);
    else this.limitedUntil = Math.max(this.limitedUntil, until);
    this.counters.blocks++;
    // A zero-length block has already passed: report the kind that was recorded all the same.
    return this.blocked ?? { kind, untilMs: until, remainingMs: 0 };
  }
}

/** Returns the origin (`https://api.binance.com`, `http://127.0.0.1:9443`) of an http(s) REST base URL. */
export function restOrigin(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new TypeError(`REST base URL '${url}' is not a URL`, { cause: err });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`REST base URL '${url}' is not http or https`);
  return u.origin;
}

/** One gate per origin, all on one clock. */
export class RestGateRegistry {
  private readonly gates = new Map<string, RestGate>();

  constructor(readonly clock: GateClock = SYSTEM_GATE_CLOCK) {}

  /** Returns the gate of `url`'s origin, creating it on first use. */
  gateFor(url: string): RestGate {
    const origin = restOrigin(url);
    let g = this.gates.get(origin);
    if (!g) this.gates.set(origin, (g = new RestGate(origin, this.clock)));
    return g;
  }
}

let registry = new RestGateRegistry();

/** Returns the process-wide gate of `url`'s origin (clients resolve theirs when built). */
export function restGateFor(url: string): RestGate {
  return registry.gateFor(url);
}

/** Returns a fresh process-wide registry on `clock` (default the system clock); for tests. Clients built before keep their gates. */
export function resetRestGates(clock: GateClock = SYSTEM_GATE_CLOCK): RestGateRegistry {
  registry = new RestGateRegistry(clock);
  return registry;
}
