// `cobalt run --speed X` against the exchange simulator runs on a ScaledClock (task H1 finding 2). The orchestrator's
// model deadline and pending-intent timeout ran on it too, so they fired X times early in wall time: a 1000 ms model
// deadline was 50 ms at --speed 20, and a model answering within its deadline in wall time was timed out and dropped.
// They now run on the wall clock app/run.ts hands buildSystem (deadlineClockFor).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordingStartMs } from '../../actors/data-provider/replay.ts';
import { momentumRunner } from '../../actors/model-agents/momentum.ts';
import { deadlineClockFor } from '../../app/run.ts';
import { buildSystem } from '../../app/system.ts';
import { LiveClock, ScaledClock, SimulatedClock, type Clock } from '../../engine/runtime/clock.ts';
import { testConfig } from '../e2e/helpers.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-speed-deadline-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SPEED = 20;
const TIMEOUT_MS = 1_000;
// Longer than the deadline on the scaled clock in wall time (1000 / 20 = 50 ms), well within it on the wall clock.
const MODEL_WALL_MS = 200;

const wallSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Polls `cond` on wall-time timers (the engine runs on real timers here); fails naming `what` and what `state` says
// after `limitMs`.
async function waitFor(cond: () => boolean, what: string, state: () => unknown, limitMs = 90_000): Promise<void> {
  for (let waited = 0; !cond(); waited += 50) {
    if (waited >= limitMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(state())}`);
    await wallSleep(50);
  }
}

describe('the deadline clock of `cobalt run`', () => {
  it.each<[string, () => Clock, boolean]>([
    ['a ScaledClock at --speed 20 (the exchange simulator)', () => new ScaledClock(0, 20), true],
    ['a ScaledClock at --speed 0.5', () => new ScaledClock(0, 0.5), true],
    ['a ScaledClock at speed 1', () => new ScaledClock(0, 1), false],
    ['the LiveClock (live data)', () => new LiveClock(), false],
    ['a SimulatedClock (a replay, paced on replayPace)', () => new SimulatedClock(0), false],
  ])('is the wall clock for %s only where that runs at another speed', (_, clock, wall) => {
    const c = deadlineClockFor(clock());
    expect(c instanceof LiveClock).toBe(wall);
    expect(c === undefined).toBe(!wall);
  });

  it(`does not time out a model that answers in ${MODEL_WALL_MS} ms of wall time at --speed ${SPEED} (deadline ${TIMEOUT_MS} ms)`, async () => {
    const base = testConfig({ models: { timeoutMs: TIMEOUT_MS } });
    const config = {
      ...base, mode: 'paper' as const,
      // Looped: a tick refused while the engine warms up on a loaded machine is followed by more, never by the end.
      data: { ...base.data, loop: true },
      store: { ...base.store, path: path.join(root, 'store'), archiveDir: path.join(root, 'archive') },
    };
    // As app/run.ts runs against the simulator: a ScaledClock at the speed, the feed 1:1 against it.
    // The clock stands at the recording's start until the engine starts: it runs on its own, and a slow build (seconds
    // on a loaded CI machine, times SPEED) would put it minutes ahead of the data. CI once saw neither three answers nor
    // a timeout in 90 s here; the failure message now says what the orchestrator saw.
    let wall0: number | undefined;
    const clock = new ScaledClock(await recordingStartMs(config.data.replayFiles), SPEED, () => (wall0 === undefined ? 0 : Date.now() - wall0));
    const deadlineClock = deadlineClockFor(clock);
    // Ticks on 1m closes without the COB: on a clock that runs on by itself (not set by the feed) this recording's
    // candles close ~15 s of data behind it, past a 1s trigger's freshness (two bars), and only the models matter here.
    const sys = await buildSystem(config, {
      clock, mode: 'paper', noSync: true, replaySpeed: SPEED, maintenanceMs: 0, subscriptions: { triggerTimeframe: '1m', requireCob: false },
      ...(deadlineClock ? { deadlineClock } : {}),
    });
    const rule = momentumRunner();
    sys.models.registry.register('slow', {
      version: 'wall-200ms',
      run: async (input, ctx) => {
        const out = await rule(input, ctx);
        await wallSleep(MODEL_WALL_MS);
        return out;
      },
    }, clock.now());
    let answers = 0;
    sys.bus.subscribe('signal.modelOutput', (m) => void (m.output.model === 'slow' && answers++));
    try {
      wall0 = Date.now();
      await sys.start();
      const orch = () => sys.handles.orchestrator.current;
      await waitFor(() => answers >= 3 || (orch()?.coordinator.stats.timeouts ?? 0) > 0, 'three answers of the slow model or a timeout', () => {
        const o = orch();
        return {
          answers, clockNow: clock.now(), orchestrator: o?.stats, coordinator: o?.coordinator.stats,
          subscriptions: o?.subscriptions.status(clock.now()), models: sys.models.registry.list().map((m) => [m.name, m.health]),
        };
      });

      expect(orch()!.coordinator.stats.timeouts).toBe(0);
      expect(answers).toBeGreaterThanOrEqual(3);
      expect(sys.models.registry.list().find((m) => m.name === 'slow')?.health).toBe('active');
    } finally {
      await sys.stop('test');
    }
  }, 120_000);
});
