// The dashboard itself refuses an exposed bind with a short configured token (review_dash finding 3), through the
// config preflight rule (bindProblem); the token it generates when none is configured satisfies that rule.
import { describe, expect, it } from 'vitest';
import { bindProblem, resolveDashboardToken, startDashboard } from '../../../engine/dashboard/index.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ConfigError } from '../../../engine/types/errors.ts';

describe('dashboard: token strength off loopback', () => {
  it('refuses to start on 0.0.0.0 with a 2-character token', async () => {
    const attempt = startDashboard({
      bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), config: { host: '0.0.0.0', port: 0 },
      token: { token: 'q7', generated: false }, staticDir: '/nonexistent-cobalt-www',
    });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(/COBALT_DASHBOARD_TOKEN is 2 characters, needs at least 22/);
  });

  it('gives a generated token that the exposed-bind rule would accept', () => {
    const gen = resolveDashboardToken({});
    expect(gen.generated).toBe(true);
    expect(bindProblem('0.0.0.0', gen.token)).toBeUndefined();
    expect(bindProblem('0.0.0.0', 'tok')).toMatch(/needs at least 22/);
    expect(bindProblem('127.0.0.1', 'tok')).toBeUndefined();
  });
});
