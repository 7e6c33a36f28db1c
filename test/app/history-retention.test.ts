// The daemon's inference-history retention (app/history-retention.ts): its schedule on the engine clock, and a paper
// daemon on the bundled recording whose history stays within store.retention while it trades.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { recordingStartMs } from '../../actors/data-provider/replay.ts';
import { dashboardProviders } from '../../app/dashboard-providers.ts';
import { HistoryRetention, type Retainable } from '../../app/history-retention.ts';
import { buildSystem } from '../../app/system.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { readArchive, type RetentionResult } from '../../engine/store/inference-history.ts';
import type { ReplayFeed } from '../../engine/venues/replay/replay-feed.ts';
import { testConfig } from '../e2e/helpers.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-retention-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const MIN = 60_000;

describe('HistoryRetention schedule', () => {
  const logged: string[] = [];
  const logger = pino({ level: 'error' }, { write: (s: string) => void logged.push(s) });

  it('runs a pass after start, follows a capped pass a second later, then every period, and survives a failing one', async () => {
    const clock = new SimulatedClock(1_000_000);
    const calls: { at: number; max: number }[] = [];
    const answers: (RetentionResult | Error)[] = [
      { removed: 5, more: true, archivesDeleted: 1, archiveBytes: 900 }, { removed: 5, more: true, archivesDeleted: 2, archiveBytes: 800 }, { removed: 2 },
      new Error('disk full'), { removed: 0 },
    ];
    const history: Retainable = {
      retain: async (now, max) => {
        calls.push({ at: now - 1_000_000, max });
        const a = answers.shift() ?? { removed: 0 };
        if (a instanceof Error) throw a;
        return a;
      },
    };
    const r = new HistoryRetention({ history, clock, everyMs: 10 * MIN, maxPerPass: 5, logger });
    r.start();
    // Each pass settles over a few microtasks; the next timer is armed once it has.
    const step = async (ms: number): Promise<void> => {
      clock.advance(ms);
      for (let i = 0; i < 20; i++) await Promise.resolve();
    };
    await step(999);
    expect(calls).toEqual([]);
    await step(1);
    await step(1_000);
    await step(1_000);
    expect(calls).toEqual([{ at: 1_000, max: 5 }, { at: 2_000, max: 5 }, { at: 3_000, max: 5 }]);
    // Backlog gone: the next pass a whole period later; that one fails, and the one after still runs.
    await step(10 * MIN - 1);
    expect(calls).toHaveLength(3);
    await step(1);
    await step(10 * MIN);
    expect(calls.map((c) => c.at)).toEqual([1_000, 2_000, 3_000, 3_000 + 10 * MIN, 3_000 + 20 * MIN]);
    expect(r.stats).toEqual({ passes: 4, removed: 12, failures: 1, archivesDeleted: 3, archiveBytes: 800, lastPassAt: 1_000_000 + 3_000 + 20 * MIN, lastError: 'disk full' });
    expect(logged.join('')).toContain('inference history retention failed; the next pass runs as planned');
    await r.stop();
    await step(30 * MIN);
    expect(calls).toHaveLength(5);
  });

  it('keeps one planned pass when one is run by hand', async () => {
    const clock = new SimulatedClock(0);
    const at: number[] = [];
    const history: Retainable = { retain: async (now) => (at.push(now), { removed: 0 }) };
    const r = new HistoryRetention({ history, clock, everyMs: MIN, logger });
    r.start();
    await r.runOnce();
    // The hand-run pass planned the next a period later, in place of the first one due at 1 s.
    for (const ms of [1_000, MIN - 1_000, MIN]) {
      clock.advance(ms);
      for (let i = 0; i < 20; i++) await Promise.resolve();
    }
    expect(at).toEqual([0, MIN, 2 * MIN]);
    await r.stop();
  });

  it('waits at stop for a pass in progress and runs no other', async () => {
    const clock = new SimulatedClock(0);
    let release!: () => void;
    let calls = 0;
    const history: Retainable = {
      retain: () => {
        calls++;
        return new Promise((resolve) => (release = () => resolve({ removed: 1 })));
      },
    };
    const r = new HistoryRetention({ history, clock, everyMs: MIN, logger });
    r.start();
    clock.advance(1_000);
    expect(calls).toBe(1);
    let stopped = false;
    const stopping = r.stop().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(r.stats.removed).toBe(1);
    clock.advance(10 * MIN);
    expect(calls).toBe(1);
    expect(() => new HistoryRetention({ history, clock, everyMs: 0, logger })).toThrow(/everyMs must be > 0, got 0/);
  });
});

describe('a paper daemon with retention', () => {
  it('keeps each series of its inference history within maxRecords while it trades the bundled recording', async () => {
    const base = testConfig();
    const dir = path.join(root, 'daemon');
    const config = {
      ...base, mode: 'paper' as const,
      data: { ...base.data, loop: false },
      store: { ...base.store, path: path.join(dir, 'store'), archiveDir: path.join(dir, 'archive'), retention: { ...base.store.retention, maxRecords: 40, maxAgeDays: 30, everyMinutes: 1, archive: true, archiveMaxMB: 100 } },
    };
    const clock = new SimulatedClock(await recordingStartMs(config.data.replayFiles));
    const sys = await buildSystem(config, { clock, mode: 'paper', noSync: true, replaySpeed: 0 });
    try {
      await sys.start();
      await (sys.feed as ReplayFeed).done;
      await sys.handles.orchestrator.current?.idle();
      // Passes ran along the way (fewer than one per engine minute: flat out, a pass's writes take minutes of replay).
      expect(sys.retention!.stats.passes).toBeGreaterThanOrEqual(2);
      expect(sys.retention!.stats.failures).toBe(0);
      // A pass may still be running from the replay (runOnce joins it); the second one sees every record.
      await sys.retention!.runOnce();
      await sys.retention!.runOnce();
      const recorded = sys.history.recorded;
      expect(recorded).toBeGreaterThan(100);
      expect(sys.history.query('momentum', 'ETH/USDT')).toHaveLength(40);
      expect(sys.history.count()).toBe(40);
      const archiveBytes = readdirSync(config.store.archiveDir).reduce((a, f) => a + statSync(path.join(config.store.archiveDir, f)).size, 0);
      expect(archiveBytes).toBeGreaterThan(0);
      // The dashboard's status row carries the same counters.
      expect(dashboardProviders(sys).status!['inference history']!()).toEqual({
        recorded, failedWrites: 0, keep: '40 per model and symbol, 30 days, archived (at most 100 MB)',
        retention: {
          passes: sys.retention!.stats.passes, removed: sys.retention!.stats.removed, failures: 0, archivesDeleted: 0,
          archiveMB: Math.round(archiveBytes / 1e5) / 10,
        },
      });
      // Every removed record is in an archive, and all of them are older than the 40 kept.
      const archived: number[] = [];
      for (const f of readdirSync(config.store.archiveDir)) archived.push(...(await readArchive(path.join(config.store.archiveDir, f))).map((r) => r.ts));
      expect(archived.length).toBe(sys.retention!.stats.removed);
      expect(archived.length).toBeGreaterThan(recorded - 60);
      const kept = sys.history.query('momentum', 'ETH/USDT').map((r) => r.ts);
      expect(Math.max(...archived)).toBeLessThan(Math.min(...kept));
    } finally {
      await sys.stop('test');
    }
  }, 120_000);
});
