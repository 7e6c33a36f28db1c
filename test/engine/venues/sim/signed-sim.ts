// One exchange simulator per test file on the bundled BTCUSDT recording, replayed by hand ('manual') 5 s in, with one
// account and signed-request helpers: the rig of the simulator's order-rule tests.
import { afterAll, beforeAll } from 'vitest';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';
import { signPayload } from '../../../../engine/venues/sim/signing.ts';

/** A signed request's answer (the body as parsed JSON). */
export interface SimAnswer { readonly status: number; readonly body: any }

export interface SignedSim {
  /** The simulator (started in beforeAll). */
  readonly sim: ExchangeSim;
  /** The wall clock its request timestamps and rate limits read. */
  readonly wall: SimulatedClock;
  /** A signed request with `params` (timestamp added). */
  signed(method: string, path: string, params: Record<string, string>): Promise<SimAnswer>;
  /** A signed request from a raw query, so that parameters can repeat (timestamp and signature appended). */
  raw(method: string, path: string, query: string): Promise<SimAnswer>;
}

/** Starts the simulator before the file's tests and closes it after; `balances` of its one account. */
export function useSignedSim(o: { key: string; secret: string; balances: Readonly<Record<string, string>> }): SignedSim {
  const wall = new SimulatedClock(1_900_000_000_000);
  let sim: ExchangeSim | undefined;
  beforeAll(async () => {
    sim = await startExchangeSim({
      files: ['data/recordings/spot_btcusdt_20240808.jsonl.gz'], speed: 'manual', wallClock: wall, weightLimitPerMinute: 1_000_000,
      accounts: [{ apiKey: o.key, secret: o.secret, balances: { ...o.balances } }],
    });
    await sim.replay.advanceBy(5_000);
  }, 60_000);
  afterAll(async () => {
    await sim?.close();
  });
  const started = (): ExchangeSim => {
    if (sim === undefined) throw new Error('the simulator is not started (use it inside a test)');
    return sim;
  };
  const send = async (method: string, path: string, q: string): Promise<SimAnswer> => {
    const r = await fetch(`${started().url}${path}?${q}&signature=${signPayload(q, o.secret)}`, { method, headers: { 'X-MBX-APIKEY': o.key } });
    return { status: r.status, body: await r.json() };
  };
  return {
    get sim() {
      return started();
    },
    wall,
    signed: (method, path, params) => send(method, path, new URLSearchParams({ ...params, timestamp: String(wall.now()) }).toString()),
    raw: (method, path, query) => send(method, path, `${query}&timestamp=${wall.now()}`),
  };
}
