// A backtest keeps no COB heatmap: it is the dashboard's (a ring of per-second columns and a cob.heatmap message each
// second), no model and no backtest figure reads it, and a backtest has no dashboard. The COB's snapshots, which the
// models and the risk checks do read, still go out. (A daemon's heatmap: test/e2e/dashboard-daemon.browser.test.ts.)
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../app/backtest.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-no-heatmap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a backtest and the COB heatmap', () => {
  it('publishes COB snapshots but no heatmap column, and keeps no heatmap', async () => {
    let snapshots = 0;
    let columns = 0;
    let kept: unknown = 'never asked';
    await runBacktest(testConfig({ data: { catalogDir: join(dir, 'catalog') } }), {
      seed: 1, maxSpanMs: 30_000, models: { momentum: false },
      onSystem: (s) => {
        s.bus.subscribe('cob.snapshot', (m) => {
          snapshots++;
          kept = s.handles.cob.heatmap(m.symbol);
        });
        s.bus.subscribe('cob.heatmap', () => void columns++);
      },
    });
    expect(snapshots).toBeGreaterThan(100);
    expect(columns).toBe(0);
    expect(kept).toBeUndefined();
  });
});
