// The config requires orchestrator.buyThreshold and sellThreshold above 0 (at 0 every tick decides
// BUY or SELL), but the dashboard's run-time thresholds control still took 0 and published it.
import { afterEach, describe, expect, it } from 'vitest';
import { controlMessages, startDashboard, type DashboardHandle } from '../../../engine/dashboard/index.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { TsMs } from '../../../engine/types/time.ts';

const TOKEN = 'dashboard-test-token';
const open: DashboardHandle[] = [];
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});

describe('the thresholds control', () => {
  it.each([
    [{ buy: 0 }, 'buy'], [{ sell: 0 }, 'sell'], [{ buy: 0.7, sell: 0 }, 'sell'], [{ buy: -0.1 }, 'buy'],
  ])('refuses %j with a 400 naming %s', (body, field) => {
    const r = controlMessages('thresholds', body, 0 as TsMs);

    expect(r.ok).toBe(false);
    expect(!r.ok && r.status).toBe(400);
    expect(!r.ok && r.error).toMatch(new RegExp(`^thresholds: .*${field}`));
  });

  it.each([
    [{ buy: 0.01 }, { buy: 0.01 }], [{ sell: 1 }, { sell: 1 }], [{ minConfidence: 0 }, { minConfidence: 0 }],
  ])('takes %j', (body, sent) => {
    expect(controlMessages('thresholds', body, 0 as TsMs)).toEqual({ ok: true, action: 'thresholds', messages: [{ type: 'orchestrator.setThresholds', ...sent }] });
  });

  it('publishes nothing for buy 0 posted to a running dashboard', async () => {
    const bus = new Bus<EngineMsg>();
    const d = await startDashboard({ bus, clock: new SimulatedClock(1_723_161_000_000), wallClock: new SimulatedClock(0), config: { host: '127.0.0.1', port: 0 }, token: { token: TOKEN, generated: false } });
    open.push(d);
    const got: string[] = [];
    bus.subscribe('orchestrator.setThresholds', (m) => got.push(m.type));
    const res = await fetch(`${d.url}api/control/thresholds`, { method: 'POST', body: JSON.stringify({ buy: 0 }), headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' } });
    const body = (await res.json()) as { error: string };

    expect(res.status).toBe(400);
    expect(body.error).toMatch(/^thresholds: .*buy/);
    expect(got).toEqual([]);
  });
});
