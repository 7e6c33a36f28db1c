import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bdiRlState, rlRunner } from '../../../actors/model-agents/rl-agent.ts';
import { InferenceCoordinator, ModelTimeoutError } from '../../../actors/orchestrator/coordinator.ts';
import { ModelRegistry, type ModelRunner } from '../../../actors/orchestrator/registry.ts';
import { bdiSection } from '../../../engine/market/base-data-input.ts';
import type { ModelStatusMsg } from '../../../engine/messages/orchestrator.ts';
import { createLogger } from '../../../engine/log.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { InferenceHistoryStore } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';
import { deferred, featureCnn, hiddenSlot, linearQ, type Trace } from './models.ts';
import { loadRealWorld, realInput, type RealWorld } from './real-input.ts';

let world: RealWorld;
let dir: string;
let store: LmdbStore;
beforeAll(() => {
  world = loadRealWorld();
  dir = mkdtempSync(join(tmpdir(), 'cobalt-coord-'));
  store = LmdbStore.open({ path: dir, noSync: true });
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function setup(clock: SimulatedClock, timeoutMs = 1_000) {
  const registry = new ModelRegistry({ maxConsecutiveFailures: 2, coolDownMs: 30_000 });
  const outputs = new ModelOutputStore();
  const history = new InferenceHistoryStore(store, { retention: { maxRecords: 1_000, maxAgeMs: 86_400_000 }, archiveDir: join(dir, 'archive'), compression: false });
  const statuses: ModelStatusMsg[] = [];
  const coord = new InferenceCoordinator({ registry, clock, outputs, history, timeoutMs, onStatus: (m) => statuses.push(m) });
  return { registry, outputs, history, statuses, coord };
}

describe('inference coordinator', () => {
  it('runs the RL agent after the CNN with the CNN hidden state of the same tick in its input, and stores both', async () => {
    const clock = new SimulatedClock(world.end);
    const { registry, outputs, history, coord } = setup(clock);
    const trace: Trace = [];
    const gate = deferred();
    const states: Float32Array[] = [];
    const stateOf = bdiRlState(30);
    const q = linearQ(stateOf(new Float32Array(9_190)).length, states);
    // Registered RL first: the order comes from the dependency, not from registration.
    registry.register('dqn', { version: 'r1', dependsOn: ['cnn'], run: async (x, ctx) => {
      trace.push('dqn:start');
      return rlRunner({ q, state: stateOf, stateSize: q.stateSize })(x, ctx);
    } }, clock.now());
    registry.register('cnn', { version: 'c1', run: featureCnn(trace, () => gate.promise) }, clock.now());
    const input = realInput(world, clock.now());
    expect(input.validation.canInfer).toBe(true);
    expect(hiddenSlot(input.data)[0]).toBe(0); // the assembled input has no CNN output yet

    const running = coord.runTick({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s', input });
    await Promise.resolve();
    expect(trace).toEqual(['cnn:start']); // the RL agent waits
    gate.resolve();
    const r = await running;

    expect(trace).toEqual(['cnn:start', 'cnn:end', 'dqn:start']);
    const cnn = r.outputs.find((o) => o.model === 'cnn')!;
    const dqn = r.outputs.find((o) => o.model === 'dqn')!;
    // The RL state carries the CNN's hidden slot (present = 1, then the 32 values) and its model row.
    const s = states[0]!;
    expect(Array.from(s.subarray(s.length - 33))).toEqual([1, ...Array.from(cnn.hidden!)]);
    const modelsRow = Array.from(s.subarray(s.length - 33 - 12, s.length - 33 - 6));
    expect(modelsRow).toEqual([1, ...cnn.probabilities, cnn.confidence, 0].map(Math.fround));
    expect(hiddenSlot(input.data)[0]).toBe(0); // the shared input was not written to
    expect(dqn).toMatchObject({ model: 'dqn', version: 'r1', symbol: 'ETH/USDT', ts: clock.now() });
    expect(dqn.extra?.value).toBe(Math.max(...(dqn.extra!.qValues as number[])));

    expect(outputs.latest('cnn', 'ETH/USDT')).toBe(cnn);
    expect(outputs.latest('dqn', 'ETH/USDT')).toBe(dqn);
    await store.flush();
    const rec = history.latest('dqn', 'ETH/USDT')[0]!;
    expect(rec.input.meta).toEqual({ version: 'r1', deps: { cnn: 'c1' }, probe: false });
    expect(Array.from(bdiSection(rec.input.features, 'cnnHidden'))).toEqual([1, ...Array.from(cnn.hidden!)]);
    expect(rec.input).toMatchObject({ timeframe: '1s', completeness: input.validation.completeness, shape: [9_190] });
    expect(history.latest('cnn', 'ETH/USDT')[0]!.output.probabilities).toEqual(cnn.probabilities);
  });

  it('with deferHistory, writes the inputs only at flushHistory (after the caller has decided), in completion order', async () => {
    const clock = new SimulatedClock(world.end + 7);
    const registry = new ModelRegistry({ maxConsecutiveFailures: 2, coolDownMs: 30_000 });
    const history = new InferenceHistoryStore(store, { retention: { maxRecords: 1_000, maxAgeMs: 86_400_000 }, archiveDir: join(dir, 'archive'), compression: false });
    const coord = new InferenceCoordinator({ registry, clock, outputs: new ModelOutputStore(), history, deferHistory: true });
    registry.register('deferred-a', { version: 'a1', run: featureCnn() }, clock.now());
    registry.register('deferred-b', { version: 'b1', run: featureCnn() }, clock.now());
    const input = realInput(world, clock.now());
    const r = await coord.runTick({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s', input });
    expect(r.outputs.map((o) => o.model)).toEqual(['deferred-a', 'deferred-b']);
    await store.flush();
    expect(history.latest('deferred-a', 'ETH/USDT')).toEqual([]);
    expect(coord.flushHistory()).toBe(2);
    expect(coord.flushHistory()).toBe(0);
    await store.flush();
    const rec = history.latest('deferred-b', 'ETH/USDT')[0]!;
    expect(rec.ts).toBe(clock.now());
    expect(Array.from(rec.input.features)).toEqual(Array.from(input.data));
    expect(history.latest('deferred-a', 'ETH/USDT')).toHaveLength(1);
  });

  it('never overlaps runs of one model: a tick that finds it busy skips it', async () => {
    const clock = new SimulatedClock(world.end);
    const { registry, coord } = setup(clock, 60_000);
    const gates = [deferred(), deferred()];
    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    const cnn = featureCnn();
    registry.register('cnn', { version: 'c1', run: async (x, ctx) => {
      const g = gates[calls++]!;
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await g.promise;
      inFlight--;
      return cnn(x, ctx);
    } }, clock.now());
    const input = realInput(world, clock.now());
    const tick = (ts: number) => ({ symbol: 'ETH/USDT', ts, timeframe: '1s' as const, input });
    const first = coord.runTick(tick(clock.now()));
    const second = await coord.runTick(tick(clock.now() + 1_000));
    expect(second).toMatchObject({ outputs: [], skippedBusy: ['cnn'] });
    gates[0]!.resolve();
    expect((await first).outputs).toHaveLength(1);
    const third = coord.runTick(tick(clock.now() + 2_000));
    gates[1]!.resolve();
    expect((await third).outputs).toHaveLength(1);
    expect([calls, maxInFlight, coord.stats.skippedBusy]).toEqual([2, 1, 1]);
  });

  it('refuses a tick whose input cannot be inferred on and runs nothing', async () => {
    const clock = new SimulatedClock(world.end);
    const { registry, coord, outputs } = setup(clock);
    const trace: Trace = [];
    registry.register('cnn', { version: 'c1', run: featureCnn(trace) }, clock.now());
    const input = realInput(world, clock.now(), { '1h': 50 });
    const r = await coord.runTick({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s', input });
    expect(r.refused).toMatch(/^cannot infer: completeness 0\.69 < 0\.8; ETH\/USDT 1h series has 50 frames, needs 100/);
    expect(trace).toEqual([]);
    expect(outputs.count('cnn')).toBe(0);
    expect(coord.stats).toMatchObject({ ticks: 1, refused: 1, runs: 0, lastRefusal: r.refused });
  });

  it('refuses a complete input holding a NaN, naming the feature, and runs no model', async () => {
    const clock = new SimulatedClock(world.end);
    const { registry, coord } = setup(clock);
    const trace: Trace = [];
    registry.register('cnn', { version: 'c1', run: featureCnn(trace) }, clock.now());
    const input = realInput(world, clock.now());
    const data = input.data.slice();
    data[299 * 30 + 6 + 3] = Number.NaN; // the newest 1m close
    const r = await coord.runTick({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s', input: { ...input, data } });
    expect(r.refused).toMatch(/^BaseDataInput input: expected finite values, found 1 non-finite; first at 8979 \(series frame 299 of 300 primary1m\.close\)/);
    expect(trace).toEqual([]);
    expect(coord.stats).toMatchObject({ refused: 1, runs: 0 });
  });

  it('counts every refused tick of a warm-up but logs it at most every 30 s, and says once when inference resumes', async () => {
    const clock = new SimulatedClock(world.end);
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
    const registry = new ModelRegistry({});
    registry.register('cnn', { version: 'c1', run: featureCnn([]) }, clock.now());
    const coord = new InferenceCoordinator({ registry, clock, outputs: new ModelOutputStore(), timeoutMs: 1_000, logger });
    const short = realInput(world, clock.now(), { '1h': 50 });
    for (let i = 0; i < 120; i++) {
      await coord.runTick({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s', input: short });
      clock.advance(1_000);
    }
    await coord.runTick({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s', input: realInput(world, world.end) });
    const refusals = lines.filter((l) => l.level === 40 && 'refusedInARow' in l).map((l) => l.refusedInARow);
    const resumed = lines.filter((l) => l.level === 30 && 'refusedInARow' in l).map((l) => l.refusedInARow);
    expect(coord.stats.refused).toBe(120);
    expect(refusals).toEqual([1, 31, 61, 91]);
    expect(resumed).toEqual([120]);
  });

  it('times out a hung model on the clock, drops it after repeated failures, and the RL agent still runs without it', async () => {
    const clock = new SimulatedClock(world.end);
    const { registry, coord, statuses } = setup(clock, 500);
    const hung = [deferred<never>(), deferred<never>()];
    let n = 0;
    registry.register('cnn', { version: 'c1', run: () => hung[n++]!.promise }, clock.now());
    const stateOf = bdiRlState(30);
    const states: Float32Array[] = [];
    const q = linearQ(stateOf(new Float32Array(9_190)).length, states);
    registry.register('dqn', { version: 'r1', dependsOn: ['cnn'], run: rlRunner({ q, state: stateOf }) }, clock.now());
    const input = realInput(world, clock.now());
    const tick = () => ({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s' as const, input });

    const t1 = coord.runTick(tick());
    clock.advance(500);
    const r1 = await t1;
    expect(r1.failed).toEqual([{ model: 'cnn', error: `ModelTimeoutError: model cnn c1 did not answer within 500 ms` }]);
    expect(r1.outputs.map((o) => o.model)).toEqual(['dqn']);
    expect(states[0]![states[0]!.length - 33]).toBe(0); // ran on the input as packed: CNN hidden slot absent
    expect(coord.isBusy('cnn')).toBe(true); // still running past its deadline

    // Review finding 1: a tick that finds the run still going past its deadline skips it and counts a failure too,
    // so a hung model reaches the drop (before, it stayed at one failure and in the blend for good).
    const r2 = await coord.runTick(tick());
    expect(r2.skippedBusy).toEqual(['cnn']);
    expect(r2.failed).toEqual([{ model: 'cnn', error: 'ModelTimeoutError: model cnn c1: its previous run is still going, past its 500 ms deadline' }]);
    expect(r2.outputs.map((o) => o.model)).toEqual(['dqn']);
    expect(statuses).toEqual([expect.objectContaining({ type: 'signal.modelStatus', model: 'cnn', version: 'c1', state: 'failed', consecutiveFailures: 2 })]);
    hung[0]!.reject(new Error('late failure'));
    await Promise.resolve();
    await Promise.resolve();
    expect(coord.isBusy('cnn')).toBe(false);

    // Dropped: not run again before its cool-down; the RL agent goes on without it.
    const r3 = await coord.runTick(tick());
    expect(r3.outputs.map((o) => o.model)).toEqual(['dqn']);
    expect(n).toBe(1);
    expect(registry.blendable('cnn')).toBe(false);
    expect(coord.stats).toMatchObject({ failures: 2, timeouts: 2 });
    expect(registry.list()[0]!.lastError).toContain(ModelTimeoutError.name);
  });

  // Realism review, finding 2: a backtest's coordinator (timeoutMs Infinity, app/backtest.ts) waits for its models: its
  // driver moves the clock to the next recorded line while they run, which says nothing about how long they took.
  it('with timeoutMs Infinity arms no deadline and waits for a run however far the clock moves', async () => {
    const clock = new SimulatedClock(world.end);
    const { registry, coord } = setup(clock, Number.POSITIVE_INFINITY);
    const gate = deferred();
    registry.register('cnn', { version: 'c1', run: featureCnn([], () => gate.promise) }, clock.now());
    const running = coord.runTick({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s', input: realInput(world, clock.now()) });
    const timers = clock.pendingCount;
    clock.advance(86_400_000);
    gate.resolve();
    const r = await running;
    expect(timers).toBe(0);
    expect([r.outputs.map((o) => o.model), r.failed]).toEqual([['cnn'], []]);
    expect(coord.stats).toMatchObject({ failures: 0, timeouts: 0 });
  });

  it('runs the version rolled back to while the replaced version still hangs (busy is per version)', async () => {
    // Review finding 2: "busy" was keyed by model name, so the good version was skipped for as long as the hung one ran.
    const clock = new SimulatedClock(world.end);
    const { registry, coord } = setup(clock, 500);
    const hung = deferred<never>();
    registry.register('cnn', { version: 'c1', run: featureCnn() }, clock.now());
    registry.register('cnn', { version: 'c2', run: () => hung.promise }, clock.now(), { activate: true });
    const input = realInput(world, clock.now());
    const tick = () => ({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s' as const, input });
    const t1 = coord.runTick(tick());
    clock.advance(500);
    await t1;
    registry.rollback('cnn', clock.now());

    const r2 = await coord.runTick(tick());

    expect(r2).toMatchObject({ skippedBusy: [], failed: [] });
    expect(r2.outputs.map((o) => `${o.model}@${o.version}`)).toEqual(['cnn@c1']);
    expect(coord.isBusy('cnn')).toBe(false); // c1, the active version, is not running
    expect(registry.list()[0]).toMatchObject({ active: 'c1', health: 'active', consecutiveFailures: 0, runs: 2 }); // c2's timeout, then c1's answer
  });

  it('does not run a dependent whose version is rolled back while it waits; the next tick runs the new one under its own label', async () => {
    // Review finding 4: the version was taken at tick start but the runner looked up when the dependency settled, so
    // r-old ran under the label r-new and its health went uncounted.
    const clock = new SimulatedClock(world.end);
    const { registry, coord, outputs } = setup(clock, 5_000);
    const gate = deferred();
    const trace: Trace = [];
    registry.register('cnn', { version: 'c1', run: featureCnn(trace, () => gate.promise) }, clock.now());
    const stateOf = bdiRlState(30);
    const q = linearQ(stateOf(new Float32Array(9_190)).length);
    const rl = rlRunner({ q, state: stateOf, stateSize: q.stateSize });
    const traced = (label: string): ModelRunner => (x, ctx) => {
      trace.push(`${label} as ${ctx.version}`);
      return rl(x, ctx);
    };
    registry.register('dqn', { version: 'r-old', dependsOn: ['cnn'], run: traced('r-old') }, clock.now());
    registry.register('dqn', { version: 'r-new', dependsOn: ['cnn'], run: traced('r-new') }, clock.now(), { activate: true });
    const input = realInput(world, clock.now());
    const tick = () => ({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s' as const, input });

    const t1 = coord.runTick(tick());
    await Promise.resolve();
    registry.rollback('dqn', clock.now()); // while dqn waits for the CNN's same-tick output
    gate.resolve();
    const r1 = await t1;
    const r2 = await coord.runTick(tick());

    expect(r1.outputs.map((o) => `${o.model}@${o.version}`)).toEqual(['cnn@c1']);
    expect(r2.outputs.map((o) => `${o.model}@${o.version}`)).toEqual(['cnn@c1', 'dqn@r-old']);
    expect(trace.filter((t) => t.startsWith('r-'))).toEqual(['r-old as r-old']);
    expect(outputs.latest('dqn', 'ETH/USDT')?.version).toBe('r-old');
    expect(coord.stats.superseded).toBe(1);
    expect(registry.list().find((m) => m.name === 'dqn')).toMatchObject({ active: 'r-old', runs: 1 });
  });

  it('counts a malformed output as a failure', async () => {
    const clock = new SimulatedClock(world.end);
    const { registry, coord } = setup(clock);
    const good = featureCnn();
    registry.register('cnn', { version: 'c1', run: async (x, ctx) => ({ ...(await good(x, ctx)), probabilities: [0.5, 0.5, 0.5] }) }, clock.now());
    const r = await coord.runTick({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1s', input: realInput(world, clock.now()) });
    expect(r.failed[0]!.error).toMatch(/^ModelOutputError: model cnn returned probabilities \[0.5,0.5,0.5\]/);
  });
});
