// Dashboard token: from COBALT_DASHBOARD_TOKEN (config secrets) or generated per run; compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { configSchema, preflightProblems, type Secrets } from '../config/index.ts';
import { redactSecretValues } from '../log.ts';

/** The token the dashboard requires, and whether it was generated because none was set. */
export interface DashboardToken { readonly token: string; readonly generated: boolean }

/** Returns the configured token, or a random 192-bit one (base64url) when the secret is not set. */
export function resolveDashboardToken(secrets: Pick<Secrets, 'dashboardToken'>): DashboardToken {
  if (secrets.dashboardToken) return { token: secrets.dashboardToken, generated: false };
  const token = randomBytes(24).toString('base64url');
  redactSecretValues([token]); // a configured token was registered when the secrets were read
  return { token, generated: true };
}

/** Returns why the dashboard may not bind to `host` with `configuredToken` (the config preflight rule), or undefined. */
export function bindProblem(host: string, configuredToken: string | undefined): string | undefined {
  const defaults = configSchema.parse({});
  const problems = preflightProblems({ ...defaults, mode: 'paper', dashboard: { enabled: true, host, port: 0 } }, configuredToken ? { dashboardToken: configuredToken } : {});
  return problems[0];
}

/** Returns true when `host` is a loopback address (the same rule as the config preflight). */
export function isLoopbackHost(host: string): boolean {
  return bindProblem(host, undefined) === undefined;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Returns true when `given` equals `token`; hashing first makes the comparison constant-time whatever the lengths. */
export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(digest(given), digest(token));
}

/** Returns the bearer token of an `Authorization` header, if it has one. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}
