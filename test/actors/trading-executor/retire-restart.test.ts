// A supervised restart of the executor: the stopped one (A) may still have venue calls in flight when its successor
// (B) loads the same store. retireWhenIdle lets A's answers commit before B starts, or cuts them off for good: A's
// stale memory must never overwrite what B booked, and a cut-off answer must publish nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { retireWhenIdle } from '../../../actors/trading-executor/retire.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { Money } from '../../../engine/types/money.ts';
import type { Lots } from '../../../engine/types/price.ts';
import { baseAmount } from '../../../engine/venues/ledger.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, storeWritesDone, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';

const T0 = 1_723_161_300_000;
const POLL_MS = 2_000;
const WAIT_MS = 1_000;
const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

function rig() {
  const clock = new SimulatedClock(T0);
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const venue = new PollVenue();
  const rec = recordingBus();
  const cap = capturingLogger();
  const mk = () => new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }], log: cap.logger, pollMs: POLL_MS, rng: () => 0.5, owner: 'executor' });
  const polls = async (ex: TradingExecutor, n: number) => {
    for (let i = 0; i < n; i++) {
      clock.advance(POLL_MS);
      await drive(clock, () => !ex.busy);
    }
  };
  // Flushes the microtasks a retirement runs through without moving the clock.
  const flush = async () => {
    await storeWritesDone();
  };
  return { clock, s, venue, ...rec, ...cap, mk, polls, flush };
}

// Holds the next call through `hook` until the returned function is called.
function gate(): { wait: () => Promise<void>; release: () => void } {
  let release!: () => void;
  const p = new Promise<void>((r) => (release = r));
  return { wait: () => p, release: () => release() };
}

describe('an executor restart with venue calls in flight', () => {
  it('drops the stopped executor\'s answer once retired: the successor\'s fill stays booked', async () => {
    const { w, A, g } = await submissionHeld();
    const cid = clientOrderIdFor('a');
    expect(w.s.store.order(cid)?.status).toBe('submitted');

    A.stop();
    const retired = retireWhenIdle(A, w.clock, w.logger, WAIT_MS);
    await w.flush();
    w.clock.advance(WAIT_MS);
    expect(await retired).toBe('abandoned');

    const B = w.mk();
    await B.start();
    await drive(w.clock, () => !B.busy);
    w.venue.fill(cid, 500);
    await w.polls(B, 2);
    expect([w.s.store.order(cid)?.status, w.s.store.order(cid)?.filledLots]).toEqual(['filled', 500]);

    const published = w.seen.length;
    g.release();
    await A.idle();
    await w.flush();
    // A's 'accepted' would have put the filled order back to accepted with no fills (FILLS_MISSING at the next start).
    expect([w.s.store.order(cid)?.status, w.s.store.order(cid)?.filledLots]).toEqual(['filled', 500]);
    expect(w.s.store.openOrders('paper')).toEqual([]);
    expect(w.seen.slice(published)).toEqual([]);
    expect(w.codes()).toContain('EXECUTOR_RETIRED_DROP');
    expect(w.codes()).not.toContain('EXECUTOR_TASK_FAILED');
    B.stop();

    // The venue holds what the order bought: a mismatch at the next start can only come from the store.
    w.venue.balances = [{ asset: 'BTC', free: baseAmount(BTC, 500) as Money, locked: 0n as Money }];
    const before = w.codes().length;
    const C = w.mk();
    await C.start();
    await drive(w.clock, () => !C.busy);
    expect(w.codes().slice(before)).not.toContain('FILLS_MISSING');
    expect(w.codes().slice(before)).not.toContain('POSITION_MISMATCH');
    expect(C.position('BTC/USDT')?.netLots).toBe(500);
    C.stop();
  });

  it('starts the successor only after the stopped executor\'s trade read has booked its fill', async () => {
    const w = rig();
    const A = w.mk();
    await A.start();
    w.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('a', 6_183_763, { lots: 500 as Lots }), ts: w.clock.now() });
    await drive(w.clock, () => !A.busy);
    const cid = clientOrderIdFor('a');
    w.venue.fill(cid, 200);
    // A's next poll reads the trades, slowly.
    const g = gate();
    const read = w.venue.fetchMyTrades.bind(w.venue);
    let held = false;
    w.venue.fetchMyTrades = async (symbol, since) => {
      if (!held) {
        held = true;
        await g.wait();
      }
      return read(symbol, since);
    };
    w.clock.advance(POLL_MS);
    await w.flush();
    expect(held).toBe(true);

    A.stop();
    let done = false;
    const retired = retireWhenIdle(A, w.clock, w.logger, WAIT_MS).then((r) => {
      done = true;
      return r;
    });
    await w.flush();
    expect(done).toBe(false);
    g.release();
    expect(await retired).toBe('idle');
    expect(w.s.store.position('paper', 'BTC/USDT')?.netLots).toBe(200);

    const B = w.mk();
    await B.start();
    await drive(w.clock, () => !B.busy);
    expect(B.position('BTC/USDT')?.netLots).toBe(200);
    w.venue.fill(cid, 300);
    await w.polls(B, 2);
    // B started from A's committed position: 200 + 300, not the 300 a record loaded before A's commit would give.
    expect(w.s.store.fillsOf('paper', 'BTC/USDT').map((f) => f.lots)).toEqual([200, 300]);
    expect(w.s.store.position('paper', 'BTC/USDT')?.netLots).toBe(500);
    expect(w.of('exec.orderPartiallyFilled').length + w.of('exec.orderFilled').length).toBe(2);
    B.stop();
  });

  it('subscribes the successor at once: an approval and a cancel sent during the hand-over are handled once it ends', async () => {
    const { w, g, B, handOver, started } = await handOverWithApprovals();
    const a = clientOrderIdFor('a');
    const b = clientOrderIdFor('b');
    w.bus.publish({ type: 'exec.cancelOrder', clientOrderId: a, reason: 'risk: exit' });
    await w.flush();
    // B waits for A: nothing loaded, nothing answered, nothing sent yet; both requests queued behind the hand-over.
    expect(B.memory.orders).toBe(0);
    expect(w.of('exec.orderRejected')).toEqual([]);
    expect(w.venue.calls.filter((c) => c === 'cancel')).toEqual([]);

    g.release();
    expect(await handOver).toBe('idle');
    await started;
    await drive(w.clock, () => !B.busy);
    // A's answer was committed first; B then answered the approval as a reconciling executor does, and sent the cancel.
    expect(w.of('exec.orderRejected').map((m) => [m.clientOrderId, m.code])).toEqual([[b, 'EXECUTOR_NOT_READY']]);
    expect(w.s.store.order(b)?.status).toBe('rejected');
    expect(w.s.store.order(a)?.status).toBe('cancelled');
    expect(w.venue.orders.find((o) => o.clientOrderId === a)?.status).toBe('cancelled');
    B.stop();
  });

  it('answers an approval queued behind the hand-over when the successor is stopped meanwhile', async () => {
    const { w, g, B, handOver, started } = await handOverWithApprovals();
    await w.flush();
    B.stop();
    g.release();
    await handOver;
    await expect(started).rejects.toThrow();
    await B.idle();
    expect(w.of('exec.orderRejected').map((m) => [m.clientOrderId, m.code])).toEqual([[clientOrderIdFor('b'), 'EXECUTOR_NOT_READY']]);
    // Stopped, it still loaded the store (a venue event queued behind the load applies to what the store holds): A's
    // order, unfinished there, and nothing it did itself.
    expect(B.unfinishedOrders().map((o) => o.clientOrderId)).toEqual([clientOrderIdFor('a')]);
  });
});

// Executor A started, with its submission of 'a' held at the venue until `g` is released.
async function submissionHeld() {
  const w = rig();
  const A = w.mk();
  await A.start();
  const g = gate();
  w.venue.submitHook = g.wait;
  w.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('a', 6_183_763, { lots: 500 as Lots }), ts: w.clock.now() });
  await w.flush();
  w.venue.submitHook = undefined;
  return { w, A, g };
}

// submissionHeld, then A stopped and retiring; successor B started on
// the hand-over, and the RiskManager's approval of 'b' published to B while it waits.
async function handOverWithApprovals() {
  const { w, A, g } = await submissionHeld();
  A.stop();
  const handOver = retireWhenIdle(A, w.clock, w.logger, WAIT_MS);
  const B = w.mk();
  const started = B.start(handOver);
  w.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('b', 6_183_000, { lots: 500 as Lots }), ts: w.clock.now() });
  return { w, g, B, handOver, started };
}
