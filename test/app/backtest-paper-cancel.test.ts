// A paper cancel in a backtest (engine/venues/paper/paper-venue.ts cancel): it lands `execution.latencyMs` after it is
// sent, on the simulated clock, so the executor stays busy until the replay moves the clock. The driver used to wait
// for the executor to be idle before it moved the clock: a deadlock that only the 10 s wall-clock guard broke
// (BACKTEST_EXECUTOR_STUCK). A resting limit buy far under the market is placed, then cancelled over the bus (as the
// RiskManager asks its cancels), and another with its order. At the end the replay's clock stops: a cancel sent then
// (a third order's, as shutdown begins) must not hold the shutdown's executor drain until its hook times out.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBacktest } from '../../app/backtest.ts';
import type { System } from '../../app/system.ts';
import type { ShutdownReport } from '../../engine/runtime/lifecycle.ts';
import type { ClientOrderId } from '../../engine/types/ids.ts';
import { clientOrderIdFor, intentId } from '../../engine/types/ids.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import { capturingLogger } from '../actors/trading-executor/helpers.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-paper-cancel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LATENCY = 50;
const SPAN_MS = 150_000;

interface Seen {
  readonly placedAt: number[];
  readonly sentAt: number[];
  /** The paper venue's cancels: the order's end (its event time) and the clock when it happened. */
  readonly landed: { cid: string; ts: number; at: number }[];
  readonly cancelled: { cid: string; ts: number }[];
  report?: ShutdownReport;
}

/**
 * Places limit buys 10 % under the market 60 s, 90 s and 100 s in; cancels the first 2 s after it, the second at once and
 * the third when the shutdown stops intake.
 */
function rig(sys: System, seen: Seen): void {
  const { bus, clock, traded } = sys;
  const t0 = clock.now();
  let step = 0;
  const place = (id: string, price: number): ClientOrderId => {
    const px = Math.round(price * 0.9) as Ticks;
    bus.publish({
      type: 'risk.orderApproved', ts: clock.now(),
      intent: { id: intentId(id), symbol: traded.symbol, side: 'buy', orderType: 'limit', price: px, lots: 100 as Lots, timeInForce: 'GTC', reduceOnly: false, reason: 'test', ts: clock.now() },
    });
    seen.placedAt.push(clock.now());
    return clientOrderIdFor(id);
  };
  const cancel = (cid: ClientOrderId): void => {
    seen.sentAt.push(clock.now());
    bus.publish({ type: 'exec.cancelOrder', clientOrderId: cid, reason: 'test cancel' });
  };
  let first: ClientOrderId | undefined;
  bus.subscribe('md.trade', (m) => {
    if (m.symbol !== traded.symbol) return;
    const t = clock.now() - t0;
    if (step === 0 && t >= 60_000) {
      first = place('c1', m.price);
      step = 1;
    } else if (step === 1 && t >= 62_000) {
      cancel(first!);
      step = 2;
    } else if (step === 2 && t >= 90_000) {
      place('c2', m.price);
      step = 3;
    } else if (step === 3 && t >= 100_000) {
      place('c3', m.price);
      step = 4;
    }
  });
  sys.lifecycle.onStopIntake('test-cancel', () => cancel(clientOrderIdFor('c3')));
  const stop = sys.stop.bind(sys);
  Object.assign(sys, { stop: async (signal?: string) => (seen.report = await stop(signal)) });
  sys.paper!.inner.onEvent((e) => {
    if (e.kind === 'closed') seen.landed.push({ cid: e.clientOrderId, ts: e.ts, at: clock.now() });
  });
  // Sent as soon as the venue took it: the cancel lands with the order's activation (both latencyMs on), after it.
  bus.subscribe('exec.orderAccepted', (m) => {
    if (m.clientOrderId === clientOrderIdFor('c2')) cancel(m.clientOrderId);
  });
  bus.subscribe('exec.orderCancelled', (m) => seen.cancelled.push({ cid: m.clientOrderId, ts: m.ts }));
}

async function run() {
  const cap = capturingLogger();
  const seen: Seen = { placedAt: [], sentAt: [], landed: [], cancelled: [] };
  const config = testConfig({
    data: { replayFiles: ['data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_btcusdt_20240808.jsonl.gz'], catalogDir: join(dir, 'catalog') },
    execution: { latencyMs: LATENCY },
  });
  const r = await runBacktest(config, { seed: 7, maxSpanMs: SPAN_MS, logger: cap.logger, onSystem: (s) => rig(s, seen) });
  return { r, seen, records: cap.records };
}

describe('a paper cancel in a backtest', () => {
  it('lands latencyMs after it is sent, without stalling the replay, the same on every run', async () => {
    const a = await run();
    const codes = a.records.map((x) => x['code']);
    expect(codes).not.toContain('BACKTEST_EXECUTOR_STUCK');
    expect(a.seen.sentAt).toHaveLength(3);
    const c1 = clientOrderIdFor('c1');
    const c2 = clientOrderIdFor('c2');
    // Each order ends at the venue latencyMs after its cancel was sent, on the simulated clock.
    expect(a.seen.landed.map((l) => l.cid)).toEqual([c1, c2]);
    a.seen.landed.forEach((l, i) => {
      expect(l.ts).toBe(a.seen.sentAt[i]! + LATENCY);
      expect(l.at).toBe(a.seen.sentAt[i]! + LATENCY);
    });
    // The executor heard both; the first no earlier than it landed.
    expect(a.seen.cancelled.map((c) => c.cid)).toEqual([c1, c2]);
    expect(a.seen.cancelled[0]!.ts).toBeGreaterThanOrEqual(a.seen.landed[0]!.ts);
    expect(a.r.summary.openOrders.map((o) => o.clientOrderId)).toEqual([clientOrderIdFor('c3')]);
    // The third cancel, sent once the clock had stopped for good, is abandoned (said so), not waited for.
    expect(a.seen.report?.steps.find((x) => x.phase === 'drain' && x.name === 'executor')?.outcome).toBe('ok');
    expect(codes).toContain('PAPER_CANCELS_ABANDONED');

    const b = await run();
    expect(b.records.map((x) => x['code'])).not.toContain('BACKTEST_EXECUTOR_STUCK');
    expect({ ...b.seen, report: undefined }).toEqual({ ...a.seen, report: undefined });
    expect({ ...b.r.summary, durationMs: 0, speedX: 0, replayMs: 0, replaySpeedX: 0 }).toEqual({ ...a.r.summary, durationMs: 0, speedX: 0, replayMs: 0, replaySpeedX: 0 });
  }, 180_000);
});
