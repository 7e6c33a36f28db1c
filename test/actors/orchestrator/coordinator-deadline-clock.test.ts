// A model's deadline on `deadlineClock` (the wall clock a daemon's replay is paced on), not on the data clock.
// Review of `npm start -- --speed 20` (a replay catching up on a loaded host): the deadline was a timer on the engine's
// SimulatedClock, which the replay feed sets line after line, firing due timers at once; a feed that is behind
// publishes lines back to back, so the data clock passed the deadline before the models' microtasks or worker replies
// could run: "model momentum rule-15m-10bps did not answer within 1000 ms", then the CNN and the DQN dropped.
import { beforeAll, describe, expect, it } from 'vitest';
import { momentumRunner } from '../../../actors/model-agents/momentum.ts';
import { InferenceCoordinator } from '../../../actors/orchestrator/coordinator.ts';
import { ModelRegistry } from '../../../actors/orchestrator/registry.ts';
import { LiveClock, SimulatedClock, type Clock } from '../../../engine/runtime/clock.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';
import { deferred, featureCnn } from './models.ts';
import { loadRealWorld, realInput, type RealWorld } from './real-input.ts';

let world: RealWorld;
beforeAll(() => {
  world = loadRealWorld();
});

function setup(data: SimulatedClock, deadlineClock: Clock) {
  const registry = new ModelRegistry({ maxConsecutiveFailures: 2, coolDownMs: 60_000 });
  const coord = new InferenceCoordinator({ registry, clock: data, deadlineClock, outputs: new ModelOutputStore(), timeoutMs: 1_000 });
  const input = realInput(world, data.now());
  const tick = () => ({ symbol: 'ETH/USDT', ts: data.now(), timeframe: '1s' as const, input });
  return { registry, coord, tick };
}

describe('a model deadline on its own clock', () => {
  it('counts no timeout when the data clock jumps past the deadline while the models answer within wall milliseconds', async () => {
    const data = new SimulatedClock(world.end);
    const { registry, coord, tick } = setup(data, new LiveClock());
    // The instant momentum rule, and a CNN that answers in a later macrotask, as a worker's reply does.
    registry.register('momentum', { version: 'rule-15m-10bps', run: momentumRunner() }, data.now());
    registry.register('cnn', { version: 'c1', run: featureCnn([], () => new Promise<void>((r) => setImmediate(r))) }, data.now());

    const running = coord.runTick(tick());
    // The feed catching up: a minute of recorded lines published back to back before anything else runs.
    data.advance(60_000);
    const r = await running;

    expect([r.outputs.map((o) => o.model).sort(), r.failed]).toEqual([['cnn', 'momentum'], []]);
    expect(coord.stats).toMatchObject({ runs: 2, failures: 0, timeouts: 0 });
    expect(registry.list().map((m) => [m.name, m.health, m.consecutiveFailures])).toEqual([['momentum', 'active', 0], ['cnn', 'active', 0]]);
  });

  it('still times out a run that is slow on the deadline clock, and a later tick that finds it running fails too', async () => {
    const data = new SimulatedClock(world.end);
    // A second simulated clock stands for the wall clock, so the test decides when the deadline passes.
    const wall = new SimulatedClock(0);
    const { registry, coord, tick } = setup(data, wall);
    const hung = deferred<never>();
    registry.register('cnn', { version: 'c1', run: () => hung.promise }, data.now());

    const t1 = coord.runTick(tick());
    let settled = false;
    void t1.then(() => (settled = true));
    wall.advance(1_000);
    await new Promise<void>((r) => setImmediate(r));
    // Checked first: a deadline armed on another clock would leave the tick waiting for the hung run for good.
    expect(settled).toBe(true);
    const r1 = await t1;
    const r2 = await coord.runTick(tick());

    expect(r1.failed).toEqual([{ model: 'cnn', error: 'ModelTimeoutError: model cnn c1 did not answer within 1000 ms' }]);
    expect(r2.failed).toEqual([{ model: 'cnn', error: 'ModelTimeoutError: model cnn c1: its previous run is still going, past its 1000 ms deadline' }]);
    expect(coord.stats).toMatchObject({ failures: 2, timeouts: 2 });
    expect(registry.blendable('cnn')).toBe(false); // two in a row: dropped, as the health policy says
    expect(data.pendingCount).toBe(0); // no deadline was armed on the data clock
  });
});
