// The recorder's depth snapshot: retried until one lands (waiting out a 429's Retry-After), never sent while the REST
// origin's gate holds a block another client met, and never written once stop() has begun. Review findings 1 and 2
// of the recorder, and the shared 429/418 gate (rest-gate.ts). The simulator's wall clock, the recorder's clock and
// the gate registry's clock are one simulated clock.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { Recorder } from '../../../../engine/venues/binance/recorder.ts';
import { BinanceRest } from '../../../../engine/venues/binance/rest.ts';
import { combinedStreamUrl } from '../../../../engine/venues/binance/stream-client.ts';
import { replayBook } from '../../../../engine/venues/replay/book-replay.ts';
import { readRecordingLinesSync } from '../../../../engine/venues/replay/recording.ts';
import { resetRestGates, restGateFor } from '../../../../engine/venues/rest-gate.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';
import { until } from '../../../wait-until.ts';

const ETH = ['data/recordings/spot_ethusdt_20240808.jsonl.gz'];
// Half past a minute: the simulator's weight limiter turns its minute 30 s later.
const T0 = Date.UTC(2024, 7, 8, 23, 55, 30);

type DepthApi = { publicGetDepth(p: object): Promise<unknown> };

describe('Recorder depth snapshots', () => {
  let sim: ExchangeSim | undefined;
  let rec: Recorder | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await rec?.stop();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    rec = sim = dir = undefined;
    resetRestGates();
  });

  /** Starts a simulator and a recorder of ETH/USDT on `clock`; `depth` wraps the REST depth call. */
  async function setup(clock: SimulatedClock, depth: (orig: DepthApi['publicGetDepth'], p: object) => Promise<unknown>, weightLimitPerMinute?: number) {
    resetRestGates(clock);
    sim = await startExchangeSim({ files: ETH, port: 0, speed: 'manual', wallClock: clock, ...(weightLimitPerMinute ? { weightLimitPerMinute } : {}) });
    dir = mkdtempSync(join(tmpdir(), 'cobalt-rec-snap-'));
    const rest = new BinanceRest({ baseUrl: sim.url, rateLimit: false });
    const [eth] = await rest.instruments(['ETH/USDT']);
    const ex = rest.exchange as unknown as DepthApi;
    const orig = ex.publicGetDepth.bind(ex);
    ex.publicGetDepth = (p: object) => depth(orig, p);
    rec = new Recorder({ instruments: [eth!], streams: ['depth@100ms', 'trade', 'bookTicker'], outDir: dir, wsUrl: combinedStreamUrl(sim.wsUrl), rest, clock });
    let subscribed = 0;
    sim.events.on('subscribe', () => subscribed++);
    rec.start();
    await until(() => subscribed >= 3, 'subscriptions');
    return { sim, rec };
  }

  it('retries a failed snapshot request until one lands, so the recorded depth replays', async () => {
    const clock = new SimulatedClock(T0);
    let calls = 0;
    const { sim, rec } = await setup(clock, (orig, p) => (calls++ === 0 ? Promise.reject(new Error('binance 503 Service Unavailable')) : orig(p)));
    await sim.replay.advanceBy(1000);
    await until(() => rec.counts.snapshotFailures === 1, 'the failed snapshot');
    expect(rec.symbolsWithoutSnapshot()).toEqual(['ETHUSDT']);
    clock.advance(1000); // the first retry is due within 0.5 s
    await until(() => rec.counts.snapshots === 1, 'the retried snapshot');
    for (let i = 0; i < 5; i++) await sim.replay.advanceBy(1000);
    const before = rec.counts.messages;
    await sim.replay.advanceBy(1000);
    await until(() => rec.counts.messages > before, 'frames after the snapshot');
    await rec.stop();

    const r = await replayBook(rec.files, { symbol: 'ETH/USDT' });
    expect([calls, rec.counts.snapshotFailures, rec.symbolsWithoutSnapshot()]).toEqual([2, 1, []]);
    expect([r.snapshots, r.state, r.crossed, r.malformed]).toEqual([1, 'live', 0, 0]);
    expect(r.applied).toBeGreaterThan(0);
  });

  it("waits out a 429's Retry-After before asking for the snapshot again", async () => {
    const clock = new SimulatedClock(T0);
    let calls = 0;
    // exchangeInfo (weight 20) and a 1000-level depth (50) exceed 60 per minute: the depth request is answered 429,
    // Retry-After 30 s (until the minute turns on the simulator's wall clock, the same clock here).
    const { sim, rec } = await setup(clock, (orig, p) => {
      calls++;
      return orig(p);
    }, 60);
    await sim.replay.advanceBy(1000);
    await until(() => rec.counts.snapshotFailures === 1, 'the refused snapshot');
    clock.advance(10_000); // well past the backoff alone (0.5 s), still inside Retry-After
    const duringRetryAfter = calls;
    clock.advance(20_000);
    await until(() => rec.counts.snapshots === 1, 'the snapshot after Retry-After');
    expect([duringRetryAfter, calls, rec.counts.snapshotFailures]).toEqual([1, 2, 1]);
  });

  it('sends no snapshot request while a ban another client of the origin met lasts, then records one', async () => {
    const clock = new SimulatedClock(T0);
    let calls = 0;
    const { sim, rec } = await setup(clock, (orig, p) => {
      calls++;
      return orig(p);
    });
    // The executor (another REST user of this origin in the process) was answered 418 for 60 s.
    restGateFor(sim.url).block('banned', 60_000);
    await sim.replay.advanceBy(1000);
    await until(() => rec.counts.snapshotFailures + rec.counts.snapshots > 0, 'the first snapshot attempt');
    clock.advance(59_999); // well past the backoff alone (0.5 s), still inside the ban
    await new Promise((r) => setImmediate(r));
    const duringBan = calls;
    clock.advance(1);
    await until(() => rec.counts.snapshots === 1, 'the snapshot after the ban');
    expect([duringBan, calls, rec.counts.snapshotFailures]).toEqual([0, 1, 1]);
  });

  it('drops a snapshot reply that lands after stop() and leaves a file that reads back whole', async () => {
    const clock = new SimulatedClock(T0);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reply: Promise<unknown> | undefined;
    const { sim, rec } = await setup(clock, (orig, p) => (reply = orig(p).then(async (raw) => {
      await gate;
      return raw;
    })));
    await sim.replay.advanceBy(1000);
    await until(() => reply !== undefined && rec.counts.messages > 0, 'a snapshot request in flight');
    // The reply is let through once stop() has closed the files, or (when stop() waits for it) after a while.
    let stopped = false;
    const stopping = rec.stop().then(() => (stopped = true));
    for (let i = 0; i < 20_000 && !stopped; i++) await new Promise((r) => setImmediate(r));
    release();
    await stopping;
    await reply;
    await new Promise((r) => setImmediate(r)); // whatever the recorder does with the reply has run by now

    expect([rec.files.length, rec.counts.snapshots]).toEqual([1, 0]);
    expect(readRecordingLinesSync(rec.files)).toHaveLength(rec.counts.messages);
    expect(rec.counts.droppedAfterStop).toBe(1);
  });
});
