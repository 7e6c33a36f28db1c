// A supervised restart of the executor in the built system while its submission is in flight at the venue: the new
// executor starts only once the stopped one's answer has been committed (bounded by RETIRE_WAIT_MS), and an answer
// that comes after that bound is dropped: the stopped executor commits and publishes nothing more.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { clientOrderIdFor } from '../../actors/trading-executor/logic.ts';
import { RETIRE_WAIT_MS } from '../../actors/trading-executor/retire.ts';
import { buildSystem, type System } from '../../app/system.ts';
import { createLogger, type Logger } from '../../engine/log.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { Lots } from '../../engine/types/price.ts';
import type { SubmitResult, VenueOrderRequest } from '../../engine/venues/venue.ts';
import { capturingLogger, limitIntent } from '../actors/trading-executor/helpers.ts';
import { testConfig } from '../e2e/helpers.ts';

const T0 = 1_723_161_253_937;
const dirs: string[] = [];
const open: System[] = [];
afterEach(async () => {
  for (const sys of open.splice(0)) await sys.stop('test');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const turns = async (): Promise<void> => {
  for (let i = 0; i < 40; i++) await new Promise((r) => setImmediate(r));
};

async function rig(logger: Logger = createLogger({ level: 'silent' })) {
  const config = testConfig({ mode: 'paper' });
  dirs.push(path.dirname(config.store.path));
  const clock = new SimulatedClock(T0);
  const sys = await buildSystem(config, {
    clock, mode: 'paper', noSync: true, syncCommits: true, maintenanceMs: 0, dataOverride: () => undefined, logger,
  });
  open.push(sys);
  await sys.start();
  const events: EngineMsg[] = [];
  sys.bus.subscribePrefix('exec.order', (m) => void events.push(m));
  // The paper venue places the order, then its answer is held until `release`.
  const paper = sys.paper!;
  const submit = paper.submit.bind(paper);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let first = true;
  paper.submit = async (req: VenueOrderRequest): Promise<SubmitResult> => {
    const res = await submit(req);
    if (first) {
      first = false;
      await held;
    }
    return res;
  };
  const A = sys.handles.executor()!;
  sys.bus.publish({ type: 'risk.orderApproved', intent: { ...limitIntent('r1', 200_000, { lots: 100 as Lots }), symbol: 'ETH/USDT' }, ts: clock.now() });
  await turns();
  clock.advance(100); // the paper venue's latency
  await turns();
  const cid = clientOrderIdFor('r1');
  expect(sys.execStore.order(cid)?.status).toBe('submitted');
  sys.supervisor.reportFailure('executor', new Error('injected handler bug'));
  return { sys, clock, A, cid, events, release };
}

describe('an executor restart with a submission in flight', () => {
  it('starts the new executor once the stopped one has committed the venue\'s answer', async () => {
    const { sys, clock, A, cid, events, release } = await rig();
    clock.advance(1_000); // past the restart delay
    await turns();
    const B = sys.handles.executor()!;
    expect(B).not.toBe(A);
    // Waiting for A: B has not loaded the store yet.
    expect(B.state).toBe('starting');
    release();
    await A.idle();
    await turns();
    const answered = sys.execStore.order(cid)!.status;
    expect(answered).not.toBe('submitted');
    await B.idle();
    expect(B.state).toBe('live');
    expect(B.order(cid)?.status).toBe(answered);
    // One outcome published, A's; B found nothing to change.
    expect(events.map((m) => m.type).filter((t) => t !== 'exec.orderSubmitted')).toHaveLength(1);
  });

  it('drops the stopped executor\'s answer when it comes after RETIRE_WAIT_MS, and the new executor settles the order', async () => {
    const { sys, clock, A, cid, events, release } = await rig();
    for (let t = 0; t < RETIRE_WAIT_MS + 1_000; t += 500) {
      clock.advance(500);
      await turns();
    }
    const B = sys.handles.executor()!;
    await B.idle();
    expect(B.state).toBe('live');
    // B asked the venue by client id: the order is no longer 'submitted'.
    const settled = sys.execStore.order(cid)!;
    expect(settled.status).not.toBe('submitted');
    const seen = events.length;
    release();
    await A.idle();
    await turns();
    expect(events.slice(seen)).toEqual([]);
    expect(sys.execStore.order(cid)).toEqual(settled);
  });

  it('answers an approval and carries out a cancel sent while the stopped executor retires', async () => {
    const { sys, clock, cid, events, release } = await rig();
    clock.advance(1_000); // past the restart delay
    await turns();
    const B = sys.handles.executor()!;
    expect(B.state).toBe('starting');
    sys.bus.publish({ type: 'risk.orderApproved', intent: { ...limitIntent('r2', 190_000, { lots: 10 as Lots }), symbol: 'ETH/USDT' }, ts: clock.now() });
    sys.bus.publish({ type: 'exec.cancelOrder', clientOrderId: cid, reason: 'test: cancel in the hand-over' });
    await turns();
    release();
    for (let i = 0; i < 10 && (B.busy || B.state !== 'live'); i++) {
      clock.advance(100);
      await turns();
    }
    await B.idle();
    expect(B.state).toBe('live');
    // Nothing was lost: the approval was answered as during a start-up reconciliation, the order was cancelled.
    const r2 = clientOrderIdFor('r2');
    expect(events.filter((m) => m.type === 'exec.orderRejected' && m.clientOrderId === r2).map((m) => (m.type === 'exec.orderRejected' ? m.code : ''))).toEqual(['EXECUTOR_NOT_READY']);
    expect(sys.execStore.order(cid)?.status).toBe('cancelled');
  });

  it('retires the stopped executor at shutdown and drains in time: its late answer commits nothing', async () => {
    const cap = capturingLogger();
    const { sys, clock, A, cid, release } = await rig(cap.logger);
    clock.advance(1_000); // past the restart delay
    await turns();
    const before = sys.execStore.order(cid)!;
    open.splice(open.indexOf(sys), 1);
    const report = await sys.stop('test');
    expect(report.steps.filter((s) => s.outcome !== 'ok')).toEqual([]);
    expect(cap.codes()).toContain('EXECUTOR_RETIRED_BUSY');
    release();
    await A.idle();
    await turns();
    expect(cap.codes()).toContain('EXECUTOR_RETIRED_DROP');
    expect(cap.codes()).not.toContain('EXECUTOR_TASK_FAILED');
    expect(before.status).toBe('submitted');
  });
  it('adds a venue fill queued in the hand-over to the stored position even when shutdown stops the successor first', async () => {
    const { sys, clock, A, cid, release } = await rig();
    const venue = 'paper';
    const seeded = { venue, symbol: 'ETH/USDT', netLots: 500, boughtLots: 500, soldLots: 0, buyQuote: 10_000_000_000n, sellQuote: 0n, fees: {}, openLots: 500, openCost: 10_000_000_000n, updatedAt: clock.now() };
    await sys.execStore.commit({ position: seeded } as Parameters<typeof sys.execStore.commit>[0]);
    // The store is closed once stopped: its position commits are watched instead.
    const committed: number[] = [];
    const commit = sys.execStore.commit.bind(sys.execStore);
    sys.execStore.commit = (b) => {
      if (b.position?.symbol === 'ETH/USDT') committed.push(b.position.netLots);
      return commit(b);
    };
    // The paper venue's listeners, the successor's last: a fill pushed to it in the hand-over queues behind its load.
    const listeners: Array<(e: unknown) => void> = [];
    const paper = sys.paper!;
    const onEvent = paper.onEvent.bind(paper);
    paper.onEvent = (fn) => {
      listeners.push(fn as (e: unknown) => void);
      return onEvent(fn);
    };
    clock.advance(1_000); // past the restart delay
    await turns();
    expect(sys.handles.executor()?.state).toBe('starting');
    listeners.at(-1)!({ kind: 'fill', fill: { clientOrderId: cid, venueOrderId: 'v-x', tradeId: 't-hand', venue, symbol: 'ETH/USDT', side: 'buy', price: 200_000, lots: 40, fee: 0n, feeAsset: 'USDT', liquidity: 'maker', ts: clock.now() } });
    await turns();
    open.splice(open.indexOf(sys), 1);
    const report = await sys.stop('test');
    release();
    await A.idle();
    expect(report.steps.filter((x) => x.outcome !== 'ok')).toEqual([]);
    // 500 + 40: the fill applied to the stored position, not to the empty memory of an executor that never loaded.
    expect(committed).toEqual([540]);
  });

  it('starts no executor for a restart the supervisor fires once shutdown began', async () => {
    const { sys, clock, A, events, release } = await rig();
    const statuses: string[] = [];
    sys.bus.subscribe('exec.venueStatus', (m) => void statuses.push(m.status));
    open.splice(open.indexOf(sys), 1);
    // The restart delay runs out during the drain (the engine clock moves while the hooks wait).
    const stopping = sys.stop('test');
    await turns(); // the drain is waiting for the stopped executor
    clock.advance(1_000);
    await turns();
    const report = await stopping;
    release();
    await A.idle();
    expect(report.steps.filter((x) => x.outcome !== 'ok')).toEqual([]);
    // No executor reconciled or went live after the stop began; nothing was published about the order either.
    expect(statuses).toEqual([]);
    expect(sys.handles.executor()).toBeUndefined();
    expect(events.filter((m) => m.type !== 'exec.orderSubmitted')).toEqual([]);
  });
});
