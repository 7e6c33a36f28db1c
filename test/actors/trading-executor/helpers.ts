import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import type { OrderRecord, PositionRecord } from '../../../actors/trading-executor/logic.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { OrderIntent } from '../../../engine/messages/orders.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import type { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ExecStore } from '../../../engine/store/exec-store.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import { intentId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

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
