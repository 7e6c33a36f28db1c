// Backtest progress on the bundled recording: the catalog build, then the replay, as the CLI's TTY line shows them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBacktest, type BacktestProgress } from '../../app/backtest.ts';
import { progressText, ttyProgress } from '../../app/backtest-progress.ts';
import { testConfig } from '../e2e/helpers.ts';

describe('backtest progress', () => {
  it('reports the catalog build, then the replay with its share of the recorded span', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cobalt-progress-'));
    try {
      const seen: BacktestProgress[] = [];
      const r = await runBacktest(testConfig({ data: { catalogDir: dir } }), { seed: 1, models: { momentum: false }, onProgress: (p) => seen.push(p) });
      const built = seen.filter((p) => p.phase === 'catalog');
      const replay = seen.filter((p) => p.phase === 'replay');
      // 179,318 lines: two build reports and two replay reports, every 65,536 lines.
      expect(built.map((p) => p.lines)).toEqual([65_536, 131_072]);
      expect(replay.map((p) => p.lines)).toEqual([65_536, 131_072]);
      expect(seen.indexOf(replay[0]!)).toBeGreaterThan(seen.indexOf(built[1]!));
      for (const p of replay) if (p.phase === 'replay') expect(p.totalMs).toBe(r.summary.simulatedMs);
      const done = replay.map((p) => (p.phase === 'replay' ? p.doneMs : NaN));
      expect(done[0]).toBeGreaterThan(0);
      expect(done[1]).toBeGreaterThan(done[0]!);
      expect(done[1]).toBeLessThan(r.summary.simulatedMs);
      // The next run finds the catalog: no build reports.
      const again: BacktestProgress[] = [];
      await runBacktest(testConfig({ data: { catalogDir: dir } }), { seed: 1, models: { momentum: false }, maxSpanMs: 300_000, onProgress: (p) => again.push(p) });
      expect(again.filter((p) => p.phase === 'catalog')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('words the line, and writes nothing when stderr is not a terminal', () => {
    expect(progressText({ phase: 'catalog', lines: 131_072 }, 100)).toBe('building the replay catalog: 131,072 lines decoded');
    expect(progressText({ phase: 'replay', lines: 65_536, doneMs: 180_000, totalMs: 600_000 }, 100)).toBe('replaying: 30%, 3.0 min of data, 65,536 lines, 1,800x real time');
    expect(progressText({ phase: 'replay', lines: 65_536, doneMs: 180_000, totalMs: undefined }, 0)).toBe('replaying: 3.0 min of data, 65,536 lines');
    const written: string[] = [];
    const pipe = { isTTY: false, write: (s: string) => void written.push(s) } as unknown as NodeJS.WriteStream;
    const tty = { isTTY: true, write: (s: string) => void written.push(s) } as unknown as NodeJS.WriteStream;
    const quiet = ttyProgress(pipe);
    expect(quiet.onProgress).toBeUndefined();
    quiet.done();
    expect(written).toEqual([]);
    const shown = ttyProgress(tty);
    shown.onProgress!({ phase: 'catalog', lines: 65_536 });
    shown.done();
    expect(written).toEqual(['\r\x1b[Kbuilding the replay catalog: 65,536 lines decoded', '\r\x1b[K']);
  });
});
