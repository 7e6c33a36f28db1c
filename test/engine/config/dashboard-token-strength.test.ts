// A dashboard bound off loopback is reachable by anyone on the network, and its token is all that stands between
// them and the engine's controls (review_dash finding 3): any non-empty COBALT_DASHBOARD_TOKEN was accepted, and a
// 2-character one fell to brute force in 188 ms. Off loopback it must now be 22 characters or more (about 128 bits
// as base64url); on loopback, where reads are open anyway and only this machine reaches it, nothing changes.
import { describe, expect, it } from 'vitest';
import { MIN_EXPOSED_DASHBOARD_TOKEN_LENGTH, preflightProblems, validateConfig, type Config } from '../../../engine/config/index.ts';

function config(host: string): Config {
  const r = validateConfig({ dashboard: { host } });
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.config;
}

describe('preflight: the dashboard token off loopback', () => {
  it.each(['q7', 'x'.repeat(21)])('refuses a token of %j, naming the variable and the minimum', (token) => {
    const problems = preflightProblems(config('0.0.0.0'), { dashboardToken: token });
    expect(problems).toEqual([expect.stringMatching(/^dashboard\.host 0\.0\.0\.0 is not loopback: COBALT_DASHBOARD_TOKEN is \d+ characters, needs at least 22/)]);
    expect(problems[0]).not.toContain(token); // the token is a secret: its length is told, never its value
  });

  it('accepts a token of 22 characters or more', () => {
    expect(MIN_EXPOSED_DASHBOARD_TOKEN_LENGTH).toBe(22);
    expect(preflightProblems(config('0.0.0.0'), { dashboardToken: 'x'.repeat(22) })).toEqual([]);
    expect(preflightProblems(config('192.168.1.10'), { dashboardToken: 'Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4' })).toEqual([]);
  });

  it('still asks for a token when none is set, and lets loopback run with a short one', () => {
    expect(preflightProblems(config('0.0.0.0'), {})).toEqual(['dashboard.host 0.0.0.0 is not loopback: set COBALT_DASHBOARD_TOKEN']);
    for (const host of ['127.0.0.1', 'localhost', '::1']) expect(preflightProblems(config(host), { dashboardToken: 'q7' })).toEqual([]);
  });
});
