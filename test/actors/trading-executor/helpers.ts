import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import { TradingExecutor, type TradingExecutorOptions } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor, type OrderRecord, type PositionRecord } from '../../../actors/trading-executor/logic.ts';
import type { ProtectiveStopSettings } from '../../../actors/trading-executor/protective-stop.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { OrderIntent } from '../../../engine/messages/orders.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ExecStore } from '../../../engine/store/exec-store.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import { intentId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { VenueCallError, type VenueOrderRequest } from '../../../engine/venues/venue.ts';
import { PollVenue } from './poll-venue.ts';

export const BTC = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'paper' });

/**
 * A temporary LMDB environment with the exec databases; `cleanup` closes and deletes it. `syncCommits` completes
 * commits on the calling thread, as a backtest does (see tests that count simulated time).
 */
export function tempStore(path?: string, opts: { syncCommits?: boolean } = {}) {
  const dir = path ?? mkdtempSync(join(tmpdir(), 'cobalt-exec-'));
  const lmdb = LmdbStore.open({ path: dir, noSync: true, syncCommits: opts.syncCommits ?? false });
  const store = new ExecStore<OrderRecord, PositionRecord>(lmdb);
  countWrites(store);
  return {
    dir, lmdb, store,
    close: () => lmdb.close(),
    cleanup: async () => {
      await lmdb.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Store writes are the only real I/O of the executor under test (the venue stubs answer at once). `drive` never moves
// the simulated clock while one is in flight: on a loaded machine a commit outlasts many steps, and a backoff armed
// after it would land that much later than the test counts on (CI saw 5 stop retries for 7, and one at 900 s within
// a 50 s margin).
let writes = 0;
const writeWaiters: Array<() => void> = [];
function countWrites(store: ExecStore<OrderRecord, PositionRecord>): void {
  for (const m of ['commit', 'setState', 'flush'] as const) {
    const f = (store[m] as (...a: unknown[]) => Promise<void>).bind(store);
    (store as unknown as Record<string, unknown>)[m] = async (...a: unknown[]) => {
      writes++;
      try {
        return await f(...a);
      } finally {
        if (--writes === 0) for (const w of writeWaiters.splice(0)) w();
      }
    };
  }
}

/** Lets promises run, then waits (in real time) until no write to a `tempStore` is in flight. */
export async function storeWritesDone(): Promise<void> {
  for (;;) {
    for (let k = 0; k < 20; k++) await new Promise<void>((r) => setImmediate(r));
    if (writes === 0) return;
    await new Promise<void>((r) => writeWaiters.push(r));
  }
}

/** A bus that records every message. */
export function recordingBus() {
  const bus = new Bus<EngineMsg>();
  const seen: EngineMsg[] = [];
  bus.subscribePrefix('*', (m) => seen.push(m));
  const of = <T extends EngineMsg['type']>(type: T) => seen.filter((m): m is Extract<EngineMsg, { type: T }> => m.type === type);
  const execTypes = () => seen.filter((m) => m.type.startsWith('exec.order')).map((m) => m.type);
  return { bus, seen, of, execTypes };
}

/** Returns an intent with sensible defaults. */
export function intent(id: string, over: Partial<OrderIntent> = {}): OrderIntent {
  return {
    id: intentId(id), symbol: 'BTC/USDT', side: 'buy', orderType: 'market', lots: 100 as Lots, timeInForce: 'GTC', reduceOnly: false,
    reason: 'test', ts: 0, ...over,
  };
}

/** Returns a limit intent at `price`. */
export const limitIntent = (id: string, price: number, over: Partial<OrderIntent> = {}): OrderIntent =>
  intent(id, { orderType: 'limit', price: price as Ticks, ...over });

/** Lets promises and store writes finish and moves the simulated clock in `stepMs` steps until `done()` or `maxSteps`. */
export async function drive(clock: SimulatedClock, done: () => boolean, stepMs = 100, maxSteps = 2_000): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    await storeWritesDone();
    if (done()) return;
    clock.advance(stepMs);
  }
  throw new Error(`drive: condition not reached after ${maxSteps} steps of ${stepMs} ms`);
}

/** A pino logger that keeps parsed records, so tests can check the `code` field of what was logged. */
export function capturingLogger() {
  const records: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  const codes = () => records.map((r) => r['code']).filter((c): c is string => typeof c === 'string');
  return { logger, records, codes };
}

/** The protective stops of the stop tests: 2 % stop-loss, the stop 0.5 % further, its limit 1 % below the stop. */
export const STOP_SETTINGS: ProtectiveStopSettings = { enabled: true, extraBps: 50, limitBps: 100, stopLossBps: 200 };

/** What a test file closes after each test, in order. */
export type Cleanups = Array<() => Promise<void>>;

/**
 * A TradingExecutor with protective stops (STOP_SETTINGS) on a PollVenue (a venue that pushes nothing, as Binance over
 * REST), a temp store and a simulated clock at 0; `extra` overrides its options. What it opens goes on `cleanups`.
 */
export function stopRig(cleanups: Cleanups, extra: Partial<TradingExecutorOptions> = {}) {
  const s = tempStore();
  cleanups.push(s.cleanup);
  const venue = new PollVenue();
  const clock = new SimulatedClock(0);
  const rec = recordingBus();
  const cap = capturingLogger();
  const ex = new TradingExecutor({
    bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: 1_000, rng: () => 0.5,
    protectiveStop: STOP_SETTINGS, ...extra,
  });
  cleanups.push(async () => ex.stop());
  const settle = () => drive(clock, () => !ex.busy);
  // The RiskManager's approval of a buy at 61 837.63, sent to the venue; `buy` then fills it there.
  const approve = async (id: string, lots: number) => {
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent(id, 6_183_763, { lots: lots as Lots }), ts: clock.now() });
    await settle();
  };
  const buy = async (id: string, lots: number) => {
    await approve(id, lots);
    venue.fill(clientOrderIdFor(id), lots);
  };
  // Runs the engine clock on, a second at a time, the executor's store writes finished between steps.
  const run = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      clock.advance(1_000);
      await storeWritesDone();
    }
    await settle();
  };
  const stops = () => venue.orders.filter((o) => o.clientOrderId.startsWith('pstop-') && (o.status === 'accepted' || o.status === 'partiallyFilled'));
  // The RiskManager's exit: a reduce-only IOC sell below the market unless `over` says otherwise.
  const exit = (id: string, lots: number, over: Partial<OrderIntent> = {}) => rec.bus.publish({
    type: 'risk.orderApproved', intent: limitIntent(id, 5_800_000, { side: 'sell', lots: lots as Lots, reduceOnly: true, timeInForce: 'IOC', ...over }), ts: clock.now(),
  });
  const sent = (id: string) => venue.orders.find((o) => o.clientOrderId === clientOrderIdFor(id));
  // From now on the first stop submitted fails with an unknown outcome (a socket hang-up); later ones reach the venue.
  const failFirstStopSubmit = () => {
    let fail = true;
    const submit = venue.submit.bind(venue);
    venue.submit = (req: VenueOrderRequest) => {
      if (fail && req.orderType === 'stopLossLimit') {
        fail = false;
        return Promise.reject(new VenueCallError('unknown', 'NETWORK', 'socket hang up'));
      }
      return submit(req);
    };
  };
  return { ex, venue, clock, rec, cap, store: s.store, settle, approve, buy, run, stops, exit, sent, failFirstStopSubmit };
}
