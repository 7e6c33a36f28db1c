// Task H3 item 1: the rollback refusal moved from its own branch in server.ts into ControlChecks.rollback; over HTTP
// it must still answer 409 with the same body and count under action="rollback", outcome="invalid".
import { afterEach, describe, expect, it } from 'vitest';
import { startDashboard, type DashboardHandle } from '../../../engine/dashboard/index.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';

const TOKEN = 'test-token-123';
const open: DashboardHandle[] = [];
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` } });

describe('dashboard rollback refusal', () => {
  it('answers 409 with the reason and counts it as an invalid rollback', async () => {
    const targets: Record<string, string[]> = { cnn: [], dqn: ['v000001'] };
    const d = await startDashboard({
      bus: new Bus<EngineMsg>(), clock: new SimulatedClock(1_723_161_000_000), config: { host: '127.0.0.1', port: 0 },
      token: { token: TOKEN, generated: false }, providers: { rollbackTargets: (m) => targets[m] },
    });
    open.push(d);
    const none = await post(`${d.url}api/control/rollback`, { model: 'cnn' });
    const unknown = await post(`${d.url}api/control/rollback`, { model: 'lstm' });
    const ok = await post(`${d.url}api/control/rollback`, { model: 'dqn' });
    const series = (await (await fetch(`${d.url}metrics`)).text()).split('\n').filter((l) => l.startsWith('cobalt_dashboard_controls_total{'));
    expect([none.status, await none.json()]).toEqual([409, { error: "rollback: model 'cnn' has no earlier version to roll back to" }]);
    expect([unknown.status, await unknown.json()]).toEqual([409, { error: "rollback: no model 'lstm' in the blend" }]);
    expect(ok.status).toBe(200);
    expect(series.sort()).toEqual([
      'cobalt_dashboard_controls_total{action="rollback",outcome="invalid"} 2',
      'cobalt_dashboard_controls_total{action="rollback",outcome="ok"} 1',
    ]);
  });
});
