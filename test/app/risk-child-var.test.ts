// The risk child keeps the position-based VaR monitor's per-symbol marks over a restart, and starts it over from a
// record of the equity-based VaR before it (equity samples only) instead of failing on it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskChild, type RiskControl } from '../../app/risk-child.ts';
import type { RiskInput, RiskState } from '../../actors/risk-manager/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { money } from '../../engine/types/money.ts';
import type { Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { ETH, limits, lots } from '../actors/risk-manager/helpers.ts';

const T0 = 1_723_161_300_000;
const MIN = 60_000;
// 1 ETH held; one mark a minute from real ETH/USDT prices of the recording.
const INITIAL: RiskInput = {
  limits: limits({ varIntervalMs: MIN, varWindow: 20, varMinSamples: 5 }), instruments: [ETH], cash: money('7000'),
  positions: { 'ETH/USDT': { lots: lots(10_000), cost: money('2683.8') } },
};
const PRICES = [268_380, 268_017, 268_496, 267_360, 268_537, 268_122, 268_300] as Ticks[];

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function openStore(): Promise<LmdbStore> {
  dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-child-var-'));
  return LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
}

// One start of the child on `store`: a mark a minute from `from` (minute index), then the state it ends in.
async function run(store: LmdbStore | undefined, marks: readonly Ticks[], from: number): Promise<RiskState> {
  const bus = new Bus();
  const clock = new SimulatedClock(T0 + from * MIN);
  let read: (() => RiskState) | undefined;
  const actor = createActor(riskChild, { input: { bus, clock, initial: INITIAL, fills: () => [], ...(store ? { store } : {}), onState: (g) => void (read = g) } });
  actor.start();
  marks.forEach((price, i) => {
    const ts = (T0 + (from + i) * MIN) as TsMs;
    clock.set(ts);
    bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price, ts });
  });
  const s = read!();
  actor.stop();
  await store?.flush();
  return s;
}

describe('risk child VaR marks', () => {
  it('continues the per-symbol marks after a restart the next interval, to the figures of a run that never stopped', async () => {
    const store = await openStore();
    const before = await run(store, PRICES.slice(0, 4), 0);
    const saved = store.db<string, RiskControl>('risk.control').get('control')!.varMarks!;
    const resumed = await run(store, PRICES.slice(4), 4);
    const straight = await run(undefined, PRICES, 0);

    expect(saved).toEqual({ intervalMs: MIN, bucket: before.var.bucket, samples: before.var.samples });
    expect(saved.samples[0]).toEqual({ bucket: Math.floor(T0 / MIN), marks: { 'ETH/USDT': PRICES[0] } });
    expect(before.var.var99).toBeUndefined();
    expect(resumed.var.var99).toBeGreaterThan(0n);
    expect(resumed.var).toEqual(straight.var);
    await store.close();
  });

  it('starts over from a record of equity samples (the equity-based VaR before), keeping the rest of the record', async () => {
    const store = await openStore();
    const control = store.db<string, RiskControl>('risk.control');
    const old = {
      tradingState: 'reducing', stateReason: 'VaR 99% 200 exceeds the limit 150', killSwitch: false, peakEquity: money('9700'), exitSeq: 7,
      var: { bucket: Math.floor(T0 / MIN) + 3, samples: [money('9680'), money('9677'), money('9681'), money('9670')] },
    };
    await control.put('control', old as unknown as RiskControl);
    const started = await run(store, PRICES.slice(4, 5), 4);
    const rewritten = control.get('control') as RiskControl & { var?: unknown };

    expect([started.tradingState, started.peakEquity, started.exitSeq]).toEqual(['reducing', money('9700'), 7]);
    expect(started.var.samples).toEqual([{ bucket: Math.floor(T0 / MIN) + 4, marks: { 'ETH/USDT': PRICES[4] } }]);
    expect([rewritten.var, rewritten.varMarks?.samples.length]).toEqual([undefined, 1]);
    await store.close();
  });

  it('starts over from stored marks of another interval length or of a damaged layout', async () => {
    const store = await openStore();
    const control = store.db<string, RiskControl>('risk.control');
    const bucket = Math.floor(T0 / MIN) + 3;
    const base = { tradingState: 'active', stateReason: 'start', killSwitch: false, peakEquity: money('9700') } as const;
    const starts: number[] = [];
    for (const varMarks of [
      { intervalMs: 30_000, bucket: bucket * 2, samples: [{ bucket: bucket * 2, marks: { 'ETH/USDT': 268_000 } }] },
      { intervalMs: MIN, bucket, samples: [{ bucket, marks: { 'ETH/USDT': 'x' } }] },
      { intervalMs: MIN, bucket, samples: [money('9680')] },
    ]) {
      await control.put('control', { ...base, varMarks } as unknown as RiskControl);
      starts.push((await run(store, PRICES.slice(4, 5), 4)).var.samples.length);
    }
    expect(starts).toEqual([1, 1, 1]);
    await store.close();
  });
});
