// `cobalt run` on recorded data (review of `npm start -- --speed 20` on a loaded host): the models' deadline was a
// timer on the data's SimulatedClock, which a replay that is behind the wall clock sets line after line (back to back,
// a yield every 1,000 lines), firing due timers at once. The deadline passed before the instant momentum rule's
// microtasks could run ("did not answer within 1000 ms"), and the health policy dropped models that were not slow.
// The pending intent's 30 s timeout had the same flaw: the executor's answer to an IOC intent took ~100 ms of wall
// time, 20-60 s of data, so the next tick sent a second BUY beside the first. Both now run on the wall clock the
// replay is paced on (SystemOptions.replayPace).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordingStartMs } from '../../actors/data-provider/replay.ts';
import { buildSystem } from '../../app/system.ts';
import { LiveClock, SimulatedClock } from '../../engine/runtime/clock.ts';
import type { ReplayFeed } from '../../engine/venues/replay/replay-feed.ts';
import { testConfig } from '../e2e/helpers.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-replay-deadline-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a daemon replaying recorded data', () => {
  it('times out neither the momentum rule nor an intent in flight while the replay catches up (lines back to back)', async () => {
    const base = testConfig();
    const config = {
      ...base, mode: 'paper' as const,
      data: { ...base.data, loop: false },
      store: { ...base.store, path: path.join(root, 'store'), archiveDir: path.join(root, 'archive') },
    };
    const clock = new SimulatedClock(await recordingStartMs(config.data.replayFiles));
    // As app/run.ts wires a replay, at speed 0: never waiting for the wall clock, the feed is catching up throughout.
    const sys = await buildSystem(config, { clock, mode: 'paper', noSync: true, replaySpeed: 0, replayPace: new LiveClock() });
    let momentum = 0;
    let intents = 0;
    sys.bus.subscribe('signal.modelOutput', (m) => void (m.output.model === 'momentum' && momentum++));
    sys.bus.subscribe('risk.intent', () => void intents++);
    try {
      await sys.start();
      await (sys.feed as ReplayFeed).done;
      const orch = sys.handles.orchestrator.current!;
      await orch.idle();

      expect(momentum).toBeGreaterThan(100);
      expect(orch.coordinator.stats).toMatchObject({ runs: momentum, failures: 0, timeouts: 0 });
      expect(intents).toBeGreaterThan(0);
      expect(orch.stats.pendingTimeouts).toBe(0);
      expect(sys.models.registry.list().map((m) => [m.name, m.health, m.consecutiveFailures])).toEqual([['momentum', 'active', 0]]);
    } finally {
      await sys.stop('test');
    }
  }, 120_000);
});
