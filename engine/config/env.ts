// Environment overrides and secrets.
//
// Override mapping: `COBALT_<PATH>=<value>`. A double underscore separates levels, a single underscore inside a
// level becomes camelCase (matched to the key without regard to case, so `ARCHIVE_MAX_MB` is `archiveMaxMB`), and
// the value is parsed as YAML (so `5` is a number, `true` a boolean, `'0.001'` a string, `[a, b]` a list):
//   COBALT_MODE=backtest                    -> mode
//   COBALT_RISK__MAX_DRAWDOWN_PCT=5         -> risk.maxDrawdownPct = 5
//   COBALT_VENUES__BINANCE__REST_URL=http://127.0.0.1:9443 -> venues.binance.restUrl
// Every COBALT_ variable is an override except the secrets below and the few read elsewhere (ENGINE_ENV). One that
// names no config section (`COBALT_RISK_MAX_DRAWDOWN_PCT`, `COBALT_RISKS__…`) is refused, as is a typo below a
// section (`COBALT_RISK__MAX_DRAWDON_PCT`, an unknown key): a misspelt variable must not be silently ignored.
//
// Secrets never come from files, only from these variables.
import { inspect } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { redactSecretValues } from '../log.ts';

/** Credentials read from the environment only. */
export interface Secrets {
  readonly binanceApiKey?: string;
  readonly binanceApiSecret?: string;
  readonly mexcApiKey?: string;
  readonly mexcApiSecret?: string;
  readonly dashboardToken?: string;
  /** The alerts webhook (config alerts.webhook): its path or query carries the service's token. */
  readonly alertsWebhookUrl?: string;
}

/** Environment variable of each secret. */
export const SECRET_ENV: Readonly<Record<keyof Secrets, string>> = {
  binanceApiKey: 'COBALT_API_KEY',
  binanceApiSecret: 'COBALT_API_SECRET',
  mexcApiKey: 'COBALT_MEXC_API_KEY',
  mexcApiSecret: 'COBALT_MEXC_API_SECRET',
  dashboardToken: 'COBALT_DASHBOARD_TOKEN',
  alertsWebhookUrl: 'COBALT_ALERTS_WEBHOOK_URL',
};

/** COBALT_ variables that are not config overrides: read by the logger, ONNX Runtime and the exchange simulator. */
export const ENGINE_ENV: readonly string[] = [
  'COBALT_LOG_LEVEL', 'COBALT_LOG_PRETTY', 'COBALT_ORT_PROVIDER', 'COBALT_SIM_API_KEY', 'COBALT_SIM_API_SECRET',
];

type Env = Readonly<Record<string, string | undefined>>;

// Serialises a Secrets object with every value replaced by '[redacted]'. It sits on the prototype, not on the object:
// pino's redaction copies logged objects (own properties onto a new object with the same prototype), and a copy
// keeps what the prototype carries but would drop a property hidden on the original.
const REDACTED_SECRETS_PROTO: object = Object.freeze(Object.create(Object.prototype, {
  toJSON: { value(this: object) { return Object.fromEntries(Object.keys(this).map((k) => [k, '[redacted]'])); } },
  [inspect.custom]: { value(this: object) { return Object.fromEntries(Object.keys(this).map((k) => [k, '[redacted]'])); } },
}) as object);

/**
 * Returns the secrets present (non-empty) in `env`. The object serialises (JSON, pino, util.inspect) with every
 * value replaced by '[redacted]', so logging it, or anything holding it at any depth, cannot leak a key; the values
 * are also registered with the logger, which blanks them in any line they would reach under another name.
 */
export function readSecrets(env: Env): Secrets {
  const out: Record<string, string> = Object.create(REDACTED_SECRETS_PROTO) as Record<string, string>;
  for (const [field, name] of Object.entries(SECRET_ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') out[field] = v;
  }
  redactSecretValues(Object.values(out));
  // A webhook's token is its path or query: blanked on its own too, should a line carry the path without the host, or
  // the path without the query (a receiver that echoes "Cannot POST /bot…/sendMessage").
  const hook = webhookUrlOf(out.alertsWebhookUrl);
  if (hook instanceof URL) redactSecretValues([hook.pathname + hook.search, hook.pathname, hook.search.slice(1)]);
  return out as Secrets;
}

/**
 * Returns the alerts webhook URL (COBALT_ALERTS_WEBHOOK_URL's value) parsed, or why it cannot be used. No problem
 * quotes the value: it holds a token.
 */
export function webhookUrlOf(raw: string | undefined): URL | string {
  const name = SECRET_ENV.alertsWebhookUrl;
  if (raw === undefined || raw === '') return `${name} is not set`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${name} is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${name} must be an http:// or https:// URL, received a ${url.protocol} URL`;
  // fetch refuses a URL with credentials in it; a service that wants them takes a token in the path or query.
  if (url.username !== '' || url.password !== '') return `${name} must not hold user:password@ (put the token in the path or query)`;
  return url;
}

/** Returns why an enabled alerts webhook cannot start with these secrets (the URL missing or unusable), or []. */
export function webhookPreflightProblems(enabled: boolean, secrets: Secrets): string[] {
  if (!enabled) return [];
  const url = webhookUrlOf(secrets.alertsWebhookUrl);
  return url instanceof URL ? [] : [`alerts.webhook.enabled is true but ${url}`];
}

/** Returns true for a key that looks like a credential (apiKey, secret, token, password, passphrase, signature). */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[_-]/g, '');
  return /secret|token|password|passphrase|signature|privatekey/.test(k) || k === 'key' || k.endsWith('apikey');
}

/** Returns the key paths of credential-like fields anywhere in `value`. */
export function findSecretPaths(value: unknown, path: readonly (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => findSecretPaths(v, [...path, i]));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) =>
    isSecretKey(k) ? [[...path, k]] : findSecretPaths(v, [...path, k]));
}

/** One parsed override: the config path it sets, its value and the variable it came from. */
export interface EnvOverride {
  readonly path: readonly string[];
  readonly value: unknown;
  readonly variable: string;
}

const camel = (part: string): string =>
  part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Returns the overrides in `env` (every COBALT_ variable but the secrets and ENGINE_ENV), sorted by variable name.
 * The paths are camel-cased as written; validateConfig matches them to the schema's keys and refuses the unknown.
 */
export function parseEnvOverrides(env: Env): EnvOverride[] {
  const reserved = new Set([...Object.values(SECRET_ENV), ...ENGINE_ENV]);
  const out: EnvOverride[] = [];
  for (const [variable, raw] of Object.entries(env)) {
    if (!variable.startsWith('COBALT_') || raw === undefined || reserved.has(variable)) continue;
    const path = variable.slice('COBALT_'.length).split('__').map(camel);
    let value: unknown;
    try {
      value = parseYaml(raw);
    } catch {
      value = raw; // not valid YAML: keep the text, and let the schema say what it expected
    }
    // An alias inside the node it names (`&r [*r]`) made a cyclic value, on which every walk of the config overflowed.
    if (isCyclic(value)) value = raw;
    out.push({ path, value, variable });
  }
  return out.sort((a, b) => a.variable.localeCompare(b.variable));
}

// Returns true when `value` holds itself somewhere below (a YAML alias inside the node it refers to).
function isCyclic(value: unknown, above: readonly unknown[] = []): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (above.includes(value)) return true;
  return Object.values(value).some((v) => isCyclic(v, [...above, value]));
}

/** Returns a copy of `doc` with `value` set at `path`, creating objects on the way. */
export function setPath(doc: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return doc;
  if (rest.length === 0) return { ...doc, [head]: value };
  const child = doc[head];
  const obj = child !== null && typeof child === 'object' && !Array.isArray(child) ? (child as Record<string, unknown>) : {};
  return { ...doc, [head]: setPath(obj, rest, value) };
}
