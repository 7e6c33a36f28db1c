// Shared by the live end-to-end tests (live-sim, recovery, faults): the exchange simulator on the bundled recording
// with one funded account, a `mode: live` config file pointing at it, pino output captured as JSON lines, the
// venue's own view of the account (orders, trades, balances) read straight from the simulator, and a driver that
// runs an in-process engine in lockstep with the simulator on a SimulatedClock.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { seededRng } from '../../engine/runtime/rng.ts';
import { liveVenue } from '../../app/live-venue.ts';
import { buildSystem, type System, type SystemOptions } from '../../app/system.ts';
import { runRefusal } from '../../app/run.ts';
import { loadConfig, type Config, type Secrets } from '../../engine/config/index.ts';
import { log, setLogger } from '../../engine/log.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { Money } from '../../engine/types/money.ts';
import { createLogger, type Logger } from '../../engine/log.ts';
import { BinanceFramePublisher } from '../../engine/venues/binance/binance-feed.ts';
import { RecordingMerge } from '../../engine/venues/sim/replay.ts';
import { startExchangeSim, type ExchangeSim, type SimSpeed } from '../../engine/venues/sim/server.ts';
import type { ExecutionVenue } from '../../engine/venues/venue.ts';
import type { MatchFill, SimOrder } from '../../engine/market/matching.ts';
import { RECORDINGS } from './helpers.ts';

/** The simulator account's credentials (handed to the engine through COBALT_API_KEY / COBALT_API_SECRET). */
export const SIM_KEY = 'cobaltE2eLiveKey0001';
export const SIM_SECRET = 'cobalt-e2e-live-secret-0001';
/** Starting balance of the account, in USDT. */
export const SIM_USDT = '10000';

/** Starts the simulator on the bundled recording with one account holding SIM_USDT. */
export function startSim(speed: SimSpeed, extra: { weightLimitPerMinute?: number } = {}): Promise<ExchangeSim> {
  return startExchangeSim({ files: RECORDINGS, port: 0, speed, accounts: [{ apiKey: SIM_KEY, secret: SIM_SECRET, balances: { USDT: SIM_USDT } }], ...extra });
}

/** The environment a live run reads its keys from. */
export const SIM_ENV: Readonly<Record<string, string>> = { COBALT_API_KEY: SIM_KEY, COBALT_API_SECRET: SIM_SECRET };
/** The same account's keys for a run that trades on the simulator's MEXC dialect (execution.venue: mexc). */
export const SIM_MEXC_ENV: Readonly<Record<string, string>> = { COBALT_MEXC_API_KEY: SIM_KEY, COBALT_MEXC_API_SECRET: SIM_SECRET };

/** Returns a fresh scratch directory. */
export function scratchDir(tag: string): string {
  return mkdtempSync(path.join(tmpdir(), `cobalt-${tag}-`));
}

/**
 * Writes a `mode: live` config for the simulator at `restUrl` into `dir` and returns its path: momentum rule only,
 * the paper e2e's low thresholds, 5 bps stop-loss/take-profit (the risk manager's exits make round trips often on
 * this recording), MEXC off (nothing but loopback), no dashboard. `over` is merged into sections.
 */
export function writeLiveConfig(dir: string, urls: { rest: string; ws: string }, over: Record<string, unknown> = {}): string {
  const base: Record<string, unknown> = {
    mode: 'live', seed: 7,
    symbols: { primary: 'ETH/USDT', reference: 'BTC/USDT' },
    venues: { binance: { restUrl: urls.rest, wsUrl: urls.ws, recvWindowMs: 5000 }, mexc: { enabled: false } },
    data: { klinesDirs: [path.resolve('data/klines')] },
    models: { cnn: { enabled: false }, dqn: { enabled: false }, checkpointDir: path.join(dir, 'checkpoints') },
    orchestrator: { buyThreshold: 0.2, sellThreshold: 0.5, minConfidence: 0 },
    risk: { maxOrderNotional: '1000', maxPositionNotional: '5000', maxDrawdownPct: 10, stopLossPct: 0.05, takeProfitPct: 0.05, maxSubmitPerSec: 5 },
    execution: { retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 2000 } },
    store: { path: path.join(dir, 'store'), archiveDir: path.join(dir, 'archive') },
    dashboard: { enabled: false },
    log: { level: 'info' },
  };
  for (const [k, v] of Object.entries(over)) {
    base[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(base[k] as object | undefined), ...v } : v;
  }
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, stringify(base));
  return file;
}

/** A pino logger whose JSON lines are kept in memory. */
export interface CapturedLog {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
  /** Lines carrying `code` (stable error codes, never message text). */
  withCode(code: string): Record<string, unknown>[];
}

/** Returns a logger at `level` capturing every line. */
export function captureLog(level = 'info'): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      partial += chunk.toString('utf8');
      let i: number;
      while ((i = partial.indexOf('\n')) >= 0) {
        const s = partial.slice(0, i);
        partial = partial.slice(i + 1);
        if (s.trim()) lines.push(JSON.parse(s) as Record<string, unknown>);
      }
      cb();
    },
  });
  const logger = createLogger({ level, destination: dest });
  return { logger, lines, withCode: (code) => lines.filter((l) => l['code'] === code) };
}

/** The simulator's own record of the test account on ETHUSDT. */
export interface VenueView {
  readonly orders: readonly SimOrder[];
  readonly open: readonly SimOrder[];
  readonly trades: readonly MatchFill[];
  /** Free + locked per asset, 1e-9 units. */
  readonly balances: Readonly<Record<string, bigint>>;
}

/** Reads the account straight from the simulator (no HTTP, no ccxt). */
export function venueView(sim: ExchangeSim, symbol = 'ETHUSDT'): VenueView {
  const acct = sim.venue.accounts.get(SIM_KEY)!;
  const engine = sim.venue.market(symbol).engine;
  const balances: Record<string, bigint> = {};
  for (const a of acct.assets()) balances[a] = acct.freeOf(a) + acct.lockedOf(a);
  return {
    orders: engine.allOrders(acct.id), open: engine.openOrders(acct.id),
    trades: acct.trades.filter((t) => t.symbol === symbol).map((t) => t.fill), balances,
  };
}

/** Net lots bought minus sold in `trades`. */
export function netLots(trades: readonly { side: string; lots: number }[]): number {
  return trades.reduce((n, t) => n + (t.side === 'buy' ? t.lots : -t.lots), 0);
}

/** Counts venue calls in flight, so the driver can tell "waiting on the venue" from "sleeping on the clock". */
export class CountingVenue implements ExecutionVenue {
  inFlight = 0;
  /** Calls started plus calls ended: unchanged means the executor did nothing with the venue meanwhile. */
  activity = 0;
  /** `activity` when the executor was last seen waiting on the clock. */
  sleepingAt = -1;
  constructor(readonly inner: ExecutionVenue) {}
  get id() { return this.inner.id; }
  get pushesEvents() { return this.inner.pushesEvents; }
  get submitSettleMs() { return this.inner.submitSettleMs; }
  get symbols() { return this.inner.symbols; }
  private async count<T>(p: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.activity++;
    try {
      return await p();
    } finally {
      this.inFlight--;
      this.activity++;
    }
  }
  submit(...a: Parameters<ExecutionVenue['submit']>) { return this.count(() => this.inner.submit(...a)); }
  cancel(...a: Parameters<ExecutionVenue['cancel']>) { return this.count(() => this.inner.cancel(...a)); }
  fetchOrder(...a: Parameters<ExecutionVenue['fetchOrder']>) { return this.count(() => this.inner.fetchOrder(...a)); }
  fetchOpenOrders(...a: Parameters<ExecutionVenue['fetchOpenOrders']>) { return this.count(() => this.inner.fetchOpenOrders(...a)); }
  fetchBalances() { return this.count(() => this.inner.fetchBalances()); }
  fetchMyTrades(...a: Parameters<ExecutionVenue['fetchMyTrades']>) { return this.count(() => this.inner.fetchMyTrades(...a)); }
  onEvent(fn: Parameters<ExecutionVenue['onEvent']>[0]) { return this.inner.onEvent(fn); }
  instrument(symbol: string) { return this.inner.instrument?.(symbol); }
}

/** Options of `driveLockstep`. */
export interface LockstepOptions {
  readonly sys: System;
  readonly sim: ExchangeSim;
  readonly clock: SimulatedClock;
  readonly venue: CountingVenue;
  /** Stop after this much recorded time from the first line (ms). */
  readonly maxSpanMs?: number;
  /** Checked after each line; true stops the drive. */
  readonly stopWhen?: () => boolean;
}

const wallWait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Replays the recording into the engine's bus while the simulator replays the same lines: each line moves the
 * simulator and the engine's SimulatedClock to its venue time (receive time + the recording's offset), then waits
 * until no venue call is in flight and the orchestrator is idle, so orders meet the book they were decided on.
 * An executor sleeping on the clock (Retry-After, settle time) wakes as later lines move the clock. Returns the
 * venue time of the last line driven.
 */
export async function driveLockstep(o: LockstepOptions): Promise<{ lines: number; first: number; last: number }> {
  const { sys, sim, clock, venue } = o;
  const merge = await RecordingMerge.open(RECORDINGS);
  const pub = new BinanceFramePublisher({ bus: sys.bus, venue: 'binance', instruments: sys.dataInstruments, depth: 'raw' });
  const first = Number(merge.peekNs()! / 1_000_000n) + merge.offsetMs;
  const limit = o.maxSpanMs === undefined ? Infinity : first + o.maxSpanMs;
  let lines = 0;
  let last = first;
  try {
    for (;;) {
      const line = await merge.next();
      if (!line) break;
      const t = Number(line.tsLocalNs / 1_000_000n) + merge.offsetMs;
      if (t > limit) break;
      if (t > sim.clock.now()) await sim.replay.advanceTo(t);
      clock.set(t);
      pub.publish(line.text, t, line.symbol);
      lines++;
      last = t;
      await settle(sys, venue);
      if (o.stopWhen?.()) break;
    }
  } finally {
    await merge.close();
  }
  return { lines, first, last };
}

/** Waits (bounded by wall time) until no venue call is in flight and the orchestrator and executor have settled. */
export async function settle(sys: System, venue: CountingVenue, maxWallMs = 15_000): Promise<void> {
  const deadline = Date.now() + maxWallMs;
  while (Date.now() < deadline) {
    await sys.handles.orchestrator.current?.idle();
    if (venue.inFlight > 0) {
      await wallWait(1);
      continue;
    }
    const ex = sys.handles.executor();
    if (!ex?.busy) return;
    // Busy without a venue call: committing to LMDB (short) or sleeping on the clock (only later lines end it).
    // Once seen asleep, later lines pass without waiting until the executor calls the venue again.
    if (venue.sleepingAt === venue.activity) return;
    // 100 ms, not 20: on a loaded machine an executor still committing an order (or about to query one whose answer
    // timed out) was taken for one asleep, and the next lines sent a new order ahead of it (faults.test.ts's E).
    const done = await Promise.race([ex.idle().then(() => true), wallWait(100).then(() => false)]);
    if (done) return;
    if (venue.inFlight === 0) {
      venue.sleepingAt = venue.activity;
      return;
    }
  }
}

/**
 * Advances the clock in `stepMs` steps until the executor is idle and every order it holds has ended (or `maxMs` of
 * clock time passed; a settled run returns at once): the poll books the last fills (ccxt REST pushes nothing).
 * `settle` takes an executor busy without a venue call for one asleep on the clock after 100 ms of wall time; on a
 * loaded machine it may still be committing an order to LMDB or signing it, or waiting on a slow call, so while an
 * order is open each step also gives it wall time (up to `maxWallMs` in all).
 */
export async function drainExecutor(sys: System, clock: SimulatedClock, venue: CountingVenue, maxMs = 120_000, stepMs = 500, maxWallMs = 30_000): Promise<void> {
  // No executor (its actor between a failure and its restart) is not a settled one: its orders are still to reconcile.
  // The executor holds exactly its unfinished orders in memory.
  const unsettled = (): boolean => {
    const ex = sys.handles.executor();
    return ex === undefined || ex.memory.orders > 0;
  };
  const deadline = Date.now() + maxWallMs;
  for (let t = 0; t <= maxMs; t += stepMs) {
    await settle(sys, venue);
    if (!sys.handles.executor()?.busy && venue.inFlight === 0 && !unsettled()) return;
    while ((venue.inFlight > 0 || unsettled()) && Date.now() < deadline) {
      const activity = venue.activity;
      await wallWait(50);
      // No venue call started or ended meanwhile: the order is waiting on the clock, which the next step moves.
      if (venue.activity === activity && venue.inFlight === 0) break;
      await settle(sys, venue);
    }
    // A busy executor seen asleep may instead be waiting on an LMDB commit, whose callback needs a turn of the event
    // loop: without this wait the steps run as microtasks only, and the drain could end before that commit lands.
    const ex = sys.handles.executor();
    if (ex?.busy) await Promise.race([ex.idle(), wallWait(20)]);
    clock.advance(stepMs);
  }
}

/** Venue time of the recording's first line (receive time + the offset the simulator applies). */
export async function recordingVenueStartMs(): Promise<number> {
  const merge = await RecordingMerge.open(RECORDINGS);
  try {
    return Number(merge.peekNs()! / 1_000_000n) + merge.offsetMs;
  } finally {
    await merge.close();
  }
}

/**
 * Starts `sys` while moving its SimulatedClock forward in 200 ms steps up to `untilMs`: the data provider's history
 * load retries failed kline requests with backoff on the clock (the simulator serves 1m klines only; 1h/1d come
 * from the bundled archive after the retries), so a clock that never moves would never finish starting.
 */
export async function startOnClock(sys: System, clock: SimulatedClock, untilMs: number): Promise<void> {
  let ready = false;
  const p = sys.start().then(() => void (ready = true));
  while (!ready) {
    await Promise.race([p, wallWait(5)]);
    if (ready) break;
    if (clock.now() + 200 > untilMs) throw new Error(`engine not ready by clock ${new Date(untilMs).toISOString()}`);
    clock.advance(200);
  }
  await p;
}

/** An in-process live engine on a simulator (see `startLiveEngine`). */
export interface LiveEngine {
  readonly sys: System;
  readonly clock: SimulatedClock;
  readonly venue: CountingVenue;
  readonly log: CapturedLog;
  readonly config: Config;
  /** Venue time of the recording's first line. */
  readonly first: number;
  /** Stops the engine and puts the process logger back. */
  close(): Promise<void>;
}

/** Options of `startLiveEngine`. */
export interface LiveEngineOptions {
  /** REST URL the engine talks to (the simulator, or a fault proxy in front of it). */
  readonly restUrl: string;
  readonly wsUrl: string;
  /** Merged into the config file's sections. */
  readonly over?: Record<string, unknown>;
  /** The environment keys are read from (default SIM_ENV). */
  readonly env?: Readonly<Record<string, string>>;
  /** Replaces the ccxt venue the config implies (a shorter ccxt timeout for the fault tests). */
  readonly venue?: (config: Config, secrets: Secrets, clock: SimulatedClock) => ExecutionVenue | Promise<ExecutionVenue>;
  readonly system?: Pick<SystemOptions, 'policy' | 'extraChildren' | 'restart'>;
  /** Called with the built system before it starts (subscribe to the bus here to see the start). */
  readonly beforeStart?: (sys: System) => void;
}

/**
 * Builds and starts the live engine the way `cobalt run --live` does (config file, keys from the environment, the
 * live opt-in checked, the venue's balance as starting cash, the ccxt venue handed to buildSystem), on a
 * SimulatedClock with the recording published by `driveLockstep` instead of a WebSocket feed.
 */
export async function startLiveEngine(o: LiveEngineOptions): Promise<LiveEngine> {
  const dir = scratchDir('live');
  const file = writeLiveConfig(dir, { rest: o.restUrl, ws: o.wsUrl }, o.over);
  const loaded = loadConfig(file, o.env ?? SIM_ENV);
  const refusal = runRefusal(loaded, { live: true });
  if (refusal) throw new Error(refusal);
  const { config, secrets } = loaded;
  // The clock starts a minute before the recording, so that starting (history retries on the clock) ends before it.
  const first = await recordingVenueStartMs();
  const clock = new SimulatedClock(first - 60_000);
  const cap = captureLog('info');
  const prevLog = log();
  setLogger(cap.logger);
  const venue = new CountingVenue(await (o.venue ? o.venue(config, secrets, clock) : liveVenue(config, secrets, clock)));
  let sys: System | undefined;
  const close = async (): Promise<void> => {
    await sys?.stop('test end').catch(() => undefined);
    setLogger(prevLog);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const quote = (await venue.fetchBalances()).find((b) => b.asset === 'USDT');
    sys = await buildSystem(config, {
      clock, mode: 'live', secrets, venueOverride: () => venue, liveCash: (quote ? quote.free + quote.locked : 0n) as Money, logger: cap.logger,
      rng: seededRng(7), maintenanceMs: 0, noSync: true, dataOverride: () => undefined, ...o.system,
    });
    o.beforeStart?.(sys);
    await startOnClock(sys, clock, first);
  } catch (err) {
    await close();
    throw err;
  }
  return { sys, clock, venue, log: cap, config, first, close };
}
