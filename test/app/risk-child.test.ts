// The RiskManager child over a real LMDB store: marks held back from the machine (held-steps.ts) still move the
// persisted equity peak, written at most once a second of mark time, and a read of the state sees every mark.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskChild, startLimits, type FillLog, type RiskChildInput, type RiskControl } from '../../app/risk-child.ts';
import { storedFills } from '../../app/system.ts';
import type { RiskInput, RiskState } from '../../actors/risk-manager/index.ts';
import { clientOrderIdFor } from '../../actors/trading-executor/logic.ts';
import type { OrderIntent } from '../../engine/messages/orders.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { createLogger, setLogger } from '../../engine/log.ts';
import { captureLog } from '../e2e/live-driver.ts';
import { formatMoney, money } from '../../engine/types/money.ts';
import type { Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { ETH, fill, limits, lots } from '../actors/risk-manager/helpers.ts';
import { tempStore } from '../actors/trading-executor/helpers.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('risk child', () => {
  it('persists the equity peak that held marks raised, at most once a second of mark time, and reads see every mark', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-child-'));
    const store = LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
    const bus = new Bus();
    const clock = new SimulatedClock(1_000_000);
    let read: (() => RiskState) | undefined;
    // 0.1 ETH held at 2,683.80: every mark 1 tick (0.01) higher raises equity by 0.001 USDT and the peak with it.
    const initial = { limits: limits({ stopLossBps: 500, takeProfitBps: 500, maxDrawdownBps: 500 }), instruments: [ETH], cash: money('10000'), positions: { 'ETH/USDT': { lots: lots(1000), cost: money('268.38') } } };
    const actor = createActor(riskChild, { input: { bus, clock, initial, fills: () => [], store, onState: (g) => void (read = g) } });
    actor.start();
    const control = store.db<string, RiskControl>('risk.control');
    const peaks: string[] = [];
    // 35 marks 100 ms apart, 3.4 s of mark time.
    for (let i = 0; i < 35; i++) {
      const ts = (1_000_000 + i * 100) as TsMs;
      clock.set(ts);
      bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price: (268_380 + i) as Ticks, ts });
      await store.flush();
      const c = control.get('control');
      if (c && peaks[peaks.length - 1] !== String(c.peakEquity)) peaks.push(String(c.peakEquity));
    }
    // Written on the first mark and then once a second: 4 distinct peaks for 3.4 s of rising marks.
    expect(peaks.length).toBe(4);
    expect(BigInt(peaks[3]!)).toBeGreaterThan(BigInt(peaks[0]!));
    // The state read now has the last mark and the peak it made, past the last write.
    const s = read!();
    expect(s.marks['ETH/USDT']).toBe(268_380 + 34);
    expect(BigInt(s.peakEquity)).toBeGreaterThan(BigInt(peaks[3]!));
    actor.stop();
    // Stopping writes what the held marks reached.
    await store.flush();
    expect(String(control.get('control')!.peakEquity)).toBe(String(s.peakEquity));
    await store.close();
  });

  it('keeps limits set at run time across restarts, announces them, and lets an edited config win', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-child-'));
    const store = LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
    const bus = new Bus();
    const clock = new SimulatedClock(1_000_000);
    const announced: string[] = [];
    bus.subscribe('risk.limitsChanged', (m) => announced.push(formatMoney(m.limits.maxOrderNotional)));
    const initial = { limits: limits({ maxOrderNotional: money('500') }), instruments: [ETH], cash: money('10000') };
    const run = async (init: typeof initial, then: (read: () => RiskState) => void): Promise<void> => {
      let read: (() => RiskState) | undefined;
      const actor = createActor(riskChild, { input: { bus, clock, initial: init, fills: () => [], store, onState: (g) => void (read = g) } });
      actor.start();
      then(read!);
      actor.stop();
      await store.flush();
    };
    await run(initial, (read) => {
      bus.publish({ type: 'risk.setLimits', limits: { maxOrderNotional: money('120') }, ts: clock.now() });
      bus.publish({ type: 'risk.setLimits', limits: { maxDrawdownBps: 20_000 }, ts: clock.now() }); // refused
      expect(formatMoney(read().limits.maxOrderNotional)).toBe('120');
    });
    expect(announced).toEqual(['120']);
    // A restart (same config) starts from the limits set at run time.
    await run(initial, (read) => expect(formatMoney(read().limits.maxOrderNotional)).toBe('120'));
    // An edited config: its limits apply and the stored ones are dropped.
    const edited = { ...initial, limits: limits({ maxOrderNotional: money('300') }) };
    // Dropped from the store at once, before anything else is saved (a kill -9 now keeps it dropped), so the config
    // going back does not bring 120 back.
    await run(edited, (read) => {
      expect(formatMoney(read().limits.maxOrderNotional)).toBe('300');
      expect(store.db<string, { limits?: unknown }>('risk.control').get('control')!.limits).toBeUndefined();
    });
    await run(edited, (read) => expect(formatMoney(read().limits.maxOrderNotional)).toBe('300'));
    await run(initial, (read) => expect(formatMoney(read().limits.maxOrderNotional)).toBe('500'));
    await store.close();
  });

  // Live review finding 1: limits restored from the store at a start were applied without a word (the live caps line
  // printed the config's). The start now says so, naming each limit that differs from the config; startLimits gives
  // what a start will use before it happens.
  it('logs RISK_LIMITS_RESTORED with what differs from the config when a start takes the limits set at run time', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-child-'));
    const store = LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
    const bus = new Bus();
    const clock = new SimulatedClock(1_000_000);
    const initial = { limits: limits({ maxOrderNotional: money('500') }), instruments: [ETH], cash: money('10000') };
    const run = async (then?: () => void): Promise<void> => {
      const actor = createActor(riskChild, { input: { bus, clock, initial, fills: () => [], store } });
      actor.start();
      then?.();
      actor.stop();
      await store.flush();
    };
    const captured = captureLog();
    setLogger(captured.logger);
    let before: ReturnType<typeof startLimits>;
    let after: ReturnType<typeof startLimits>;
    try {
      before = startLimits(store, initial.limits);
      await run(() => bus.publish({ type: 'risk.setLimits', limits: { maxOrderNotional: money('120'), symbols: { 'ETH/USDT': { maxOrderLots: lots(25) } } }, ts: clock.now() }));
      after = startLimits(store, initial.limits);
      await run();
    } finally {
      setLogger(createLogger());
    }

    expect(before.restored).toBe(false);
    expect(before.limits).toBe(initial.limits);
    expect(after.restored).toBe(true);
    expect(formatMoney(after.limits.maxOrderNotional)).toBe('120');
    // Only the second start took stored limits.
    expect(captured.withCode('RISK_LIMITS_RESTORED').map((l) => l['changed'])).toEqual([{
      maxOrderNotional: { config: '500', restored: '120' },
      'symbols.ETH/USDT.maxOrderLots': { config: 3000, restored: 25 },
      'symbols.ETH/USDT.maxOrderQty': { config: '0.3', restored: '0.0025' },
    }]);
    await store.close();
  });

  // Review finding 1: the key is the config values behind the limits (limitsKey), not the limits, whose live VaR caps
  // follow the balance at start. Limits stored under the limits themselves (before limitsKey) still apply while
  // those limits are unchanged, and are stored under limitsKey from then on.
  it('keeps limits set at run time while limitsKey stays the same, also over limits that moved, and takes over an older key', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-child-'));
    const store = LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
    const bus = new Bus();
    const clock = new SimulatedClock(1_000_000);
    const control = store.db<string, RiskControl>('risk.control');
    const at = (cap: string, order = '500') => ({ limits: limits({ maxOrderNotional: money(order), maxVar99: money(cap) }), instruments: [ETH], cash: money(cap) });
    const run = async (initial: RiskInput, limitsKey: string | undefined, then?: () => void): Promise<string> => {
      let read: (() => RiskState) | undefined;
      const actor = createActor(riskChild, { input: { bus, clock, initial, fills: () => [], store, onState: (g) => void (read = g), ...(limitsKey ? { limitsKey } : {}) } });
      actor.start();
      then?.();
      const out = formatMoney(read!().limits.maxOrderNotional);
      actor.stop();
      await store.flush();
      return out;
    };
    // Set before limitsKey was kept: stored under the limits themselves.
    const older = await run(at('20'), undefined, () => bus.publish({ type: 'risk.setLimits', limits: { maxOrderNotional: money('120') }, ts: clock.now() }));
    const olderBase = control.get('control')!.limits!.base;
    const takenOver = await run(at('20'), 'config-a');
    const storedBase = control.get('control')!.limits!.base;
    const movedCaps = await run(at('19.2'), 'config-a');
    // Another config key with maxOrderNotional unchanged keeps it (restoreLimits: per field); edited, it gives way.
    const otherKey = await run(at('19.2'), 'config-b');
    const edited = await run(at('19.2', '300'), 'config-c');

    expect(older).toBe('120');
    expect(olderBase).not.toBe('config-a');
    expect(takenOver).toBe('120');
    expect(storedBase).toBe('config-a');
    expect(movedCaps).toBe('120');
    expect(otherKey).toBe('120');
    expect(edited).toBe('300');
    await store.close();
  });

  it('keeps the VaR marks across a prompt restart, so VaR and its limits are not blind for the first half hour', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-child-'));
    const store = LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
    const bus = new Bus();
    const T0 = 1_723_161_300_000;
    const clock = new SimulatedClock(T0);
    // 1 ETH held; one mark a minute from real ETH/USDT prices of the recording.
    const initial = {
      limits: limits({ varIntervalMs: 60_000, varWindow: 20, varMinSamples: 5 }), instruments: [ETH], cash: money('7000'),
      positions: { 'ETH/USDT': { lots: lots(10_000), cost: money('2683.8') } },
    };
    const prices = [268_380, 268_017, 268_496, 267_360, 268_537, 268_122, 268_300] as Ticks[];
    // A SimulatedClock only moves forward: a replay started over gets a clock of its own.
    const run = (marks: readonly Ticks[], from: number, c = clock): RiskState => {
      c.set(from);
      let read: (() => RiskState) | undefined;
      const actor = createActor(riskChild, { input: { bus, clock: c, initial, fills: () => [], store, onState: (g) => void (read = g) } });
      actor.start();
      marks.forEach((price, i) => {
        const ts = (from + i * 60_000) as TsMs;
        c.set(ts);
        bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price, ts });
      });
      const s = read!();
      actor.stop();
      return s;
    };
    const before = run(prices.slice(0, 4), T0); // 4 samples: 3 returns, VaR not yet
    await store.flush();
    const saved = store.db<string, RiskControl>('risk.control').get('control')!.varMarks!;
    // Back the next minute: two more marks make 6 samples, 5 returns: VaR at once.
    const resumed = run(prices.slice(4, 6), T0 + 4 * 60_000);
    await store.flush();
    // Back two hours later: the samples are too old to continue, VaR starts over.
    const late = run(prices.slice(6), T0 + 125 * 60_000);
    await store.flush();
    // A replay started over on the same store is earlier than the last sample: it starts over too.
    const replayed = run(prices.slice(0, 2), T0, new SimulatedClock(T0));

    expect(before.var.var99).toBeUndefined();
    expect(saved.samples).toEqual(before.var.samples);
    expect(saved.samples).toHaveLength(4);
    expect(resumed.var.samples).toHaveLength(6);
    expect(resumed.var.var99).toBeGreaterThan(0n);
    expect(late.var.samples).toHaveLength(1);
    expect(replayed.var.samples).toHaveLength(2);
    await store.close();
  });

  // One start of the child over `store`: `body` runs with its state getter and the bus, then the child stops.
  async function once(
    store: LmdbStore, input: Omit<RiskChildInput, 'bus' | 'store' | 'onState'>, body: (read: () => RiskState, bus: Bus) => void,
  ): Promise<void> {
    const bus = new Bus();
    let read: (() => RiskState) | undefined;
    const actor = createActor(riskChild, { input: { ...input, bus, store, onState: (g) => void (read = g) } });
    actor.start();
    body(read!, bus);
    actor.stop();
    await store.flush();
  }
  const markAt = (bus: Bus, clock: SimulatedClock, price: number) => bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price: price as Ticks, ts: clock.now() });
  // 0.5 ETH bought at 2,683.80, stop-loss 30 bps: 2,675.00 is past it.
  const stopInitial = (): RiskInput => ({
    limits: limits({ stopLossBps: 30 }), instruments: [ETH], cash: money('8658.1'), positions: { 'ETH/USDT': { lots: lots(5000), cost: money('1341.9') } },
  });

  // Review finding 1: the exit counter started at 0 on every start; where the clock repeats too (a replay started over
  // on the same store) the exit id, and so the executor's client order id, repeated and the executor sent nothing.
  it('gives exits after a restart new ids even when the clock starts over, from the stored exit counter', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-child-'));
    const store = LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
    const T0 = 1_723_161_300_000;
    const ids: string[] = [];
    for (let run = 0; run < 2; run++) {
      const clock = new SimulatedClock(T0);
      await once(store, { clock, initial: stopInitial(), fills: () => [] }, (_read, bus) => {
        bus.subscribe('risk.orderApproved', (m) => void ids.push(m.intent.id));
        markAt(bus, clock, 267500);
      });
    }
    expect(ids).toEqual([`risk-stop-loss-ETH/USDT-${T0}-1`, `risk-stop-loss-ETH/USDT-${T0}-2`]);
    expect(store.db<string, RiskControl>('risk.control').get('control')!.exitSeq).toBe(2);
    await store.close();
  });

  // Review finding 4: the child did not pass the executor's end of an order to the machine.
  it('sends the stop again on the first mark after the backoff once the executor rejects its exit', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-child-'));
    const store = LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
    const clock = new SimulatedClock(1_723_161_300_000);
    const exits: OrderIntent[] = [];
    await once(store, { clock, initial: stopInitial(), fills: () => [] }, (_read, bus) => {
      bus.subscribe('risk.orderApproved', (m) => void exits.push(m.intent));
      markAt(bus, clock, 267500);
      clock.advance(100);
      markAt(bus, clock, 267400);
      bus.publish({ type: 'exec.orderRejected', clientOrderId: clientOrderIdFor(exits[0]!.id), code: 'VENUE_CIRCUIT_OPEN', message: 'circuit open', ts: clock.now() });
      clock.advance(100);
      markAt(bus, clock, 267400); // a rejected stop exit waits 1 s before the next: nothing
      clock.advance(900);
      markAt(bus, clock, 267400);
    });
    expect(exits.map((e) => [e.reason, e.lots, e.ts - 1_723_161_300_000])).toEqual([['stop-loss', 5000, 0], ['stop-loss', 5000, 1100]]);
    await store.close();
  });

  // Review finding 3: a start took max(stored peak, starting equity), which undid an operator's resume with resetPeak:
  // the first mark after the restart, at the same price, halted trading again.
  describe('an operator\'s peak reset survives a restart', () => {
    // 3 ETH at 2,680.00 and 1,960 USDT: 10,000 at entry; at 2,280.00 equity is 8,800, 12% down (the maximum is 10%).
    const T0 = 1_723_161_300_000;
    const resetThenRestart = async (store: LmdbStore, input: () => Omit<RiskChildInput, 'bus' | 'store' | 'onState' | 'clock'>) => {
      const clock = new SimulatedClock(T0);
      const seen: string[] = [];
      await once(store, { ...input(), clock }, (read, bus) => {
        markAt(bus, clock, 268_000);
        clock.advance(1_000);
        markAt(bus, clock, 228_000);
        seen.push(read().tradingState);
        bus.publish({ type: 'risk.resume', resetPeak: true, ts: clock.now() });
        seen.push(`${read().tradingState} ${formatMoney(read().peakEquity)}`);
      });
      clock.advance(60_000);
      await once(store, { ...input(), clock }, (read, bus) => {
        seen.push(formatMoney(read().peakEquity));
        markAt(bus, clock, 228_000);
        seen.push(read().tradingState);
      });
      return seen;
    };
    const after = ['halted', 'active 8800', '8800', 'active'];

    it('live: positions and cash from the venue', async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-child-'));
      const store = LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
      const initial: RiskInput = { limits: limits(), instruments: [ETH], cash: money('1960'), positions: { 'ETH/USDT': { lots: lots(30_000), cost: money('8040') } } };
      expect(await resetThenRestart(store, () => ({ initial, fills: () => [] }))).toEqual(after);
      await store.close();
    });

    it('paper: the starting balance plus every fill; another starting balance measures the peak afresh', async () => {
      const t = tempStore(undefined, { syncCommits: true });
      try {
        await t.store.commit({ fill: { ...fill('buy', 268_000 as Ticks, 30_000, 0n as never), tradeId: '1', ts: T0 } });
        const log: FillLog = { id: 'paper:ETH/USDT', lastSeq: () => t.store.lastFillSeq('paper'), after: (seq) => t.store.fillsBookedAfter('paper', 'ETH/USDT', seq) };
        const paper = (cash: string) => () => ({ initial: { limits: limits(), instruments: [ETH], cash: money(cash) }, fills: () => storedFills(t.store, 'paper', 'ETH/USDT'), fillLog: log });
        expect(await resetThenRestart(t.lmdb, paper('10000'))).toEqual(after);
        // 13,000 to start from: the stored 8,800 was measured on another account; this one starts at its own 13,000.
        const clock = new SimulatedClock(T0 + 3_600_000);
        const seen: string[] = [];
        await once(t.lmdb, { ...paper('13000')(), clock }, (read) => void seen.push(formatMoney(read().peakEquity)));
        expect(seen).toEqual(['13000']);
      } finally {
        await t.cleanup();
      }
    });
  });
});
