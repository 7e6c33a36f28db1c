// The executor's protective stops on /metrics (engine/dashboard/metrics.ts), read at scrape time: a position held
// with cobalt_protective_stops_resting 0 is unprotected at the venue.
import { describe, expect, it } from 'vitest';
import { DashboardMetrics, type ProtectiveStopFigures } from '../../../engine/dashboard/metrics.ts';
import { DashboardViewModel } from '../../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';

describe('dashboard metrics: protective stops', () => {
  const stopLines = async (m: DashboardMetrics) => (await m.text()).split('\n').filter((l) => l.startsWith('cobalt_protective_stops'));

  it('shows the stops placed, cancelled and skipped, and those resting, as counted at the scrape', async () => {
    const bus = new Bus<EngineMsg>();
    let figures: ProtectiveStopFigures | undefined;
    const m = new DashboardMetrics({ bus, view: new DashboardViewModel({ bus }), wsClients: () => 0, protectiveStops: () => figures });
    // No executor running yet: zeros, not a missing series.
    expect((await stopLines(m)).sort()).toEqual([
      'cobalt_protective_stops_resting 0', 'cobalt_protective_stops_total{event="cancelled"} 0', 'cobalt_protective_stops_total{event="dust"} 0',
      'cobalt_protective_stops_total{event="placed"} 0', 'cobalt_protective_stops_unverified 0',
    ]);
    figures = { placed: 3, cancelled: 2, skippedDust: 1, resting: 1 };

    expect((await stopLines(m)).sort()).toEqual([
      'cobalt_protective_stops_resting 1', 'cobalt_protective_stops_total{event="cancelled"} 2', 'cobalt_protective_stops_total{event="dust"} 1',
      'cobalt_protective_stops_total{event="placed"} 3', 'cobalt_protective_stops_unverified 0',
    ]);
    m.close();
  });

  it('has no protective-stop series where they are off', async () => {
    const bus = new Bus<EngineMsg>();
    const m = new DashboardMetrics({ bus, view: new DashboardViewModel({ bus }), wsClients: () => 0 });
    expect(await stopLines(m)).toEqual([]);
    m.close();
  });
});
