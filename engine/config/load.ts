// Reads a YAML config file, applies COBALT_* environment overrides, validates it once, and reports every problem
// with its key path. Secrets come from the environment only (see ./env.ts).
import { readFileSync } from 'node:fs';
import { isAlias, LineCounter, parseDocument, visit, type Document, type YAMLError } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../types/errors.ts';
import {
  ENGINE_ENV, findSecretPaths, isSecretKey, parseEnvOverrides, readSecrets, SECRET_ENV, setPath, webhookPreflightProblems, type EnvOverride, type Secrets,
} from './env.ts';
import { configSchema, logSchema, type Config } from './schema.ts';

type Env = Readonly<Record<string, string | undefined>>;
type Path = readonly PropertyKey[];

/** A validated config with the secrets read from the environment. */
export interface LoadedConfig {
  readonly config: Config;
  readonly secrets: Secrets;
  /** The file it came from. */
  readonly file: string;
  /** The environment variables that overrode file values. */
  readonly overrides: readonly string[];
}

/** Returns `a.b.0.c` for a key path; keys that are not identifiers are bracketed (`cobBucketSize["ETH/USDT"]`). */
export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][\w$]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out || '(root)';
}

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function valueAt(root: unknown, path: Path): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

// Returns how a problem line shows the value received at `path`: as JSON, or only its type when the value sits under
// a credential-like key or holds one (`mode: {apiKey: …}`): a secret put in the config must not be echoed to stderr.
function receivedValue(input: unknown, path: Path): string {
  const v = valueAt(input, path);
  const secret = path.some((p) => typeof p === 'string' && isSecretKey(p)) || findSecretPaths(v).length > 0;
  return secret ? `${typeName(v)} (not shown: it holds a credential-like key)` : JSON.stringify(v);
}

/**
 * Returns one `path: problem` line per zod issue, unknown keys one line each; `input` lets it name received types.
 * Values under or holding a credential-like key are never shown, only their type.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = issue.path;
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) lines.push(`${formatPath([...path, key])}: unknown key`);
        break;
      case 'invalid_type': {
        const v = valueAt(input, path);
        // A number refused as a number (YAML `.inf`, `.nan`, `1.5` for an integer) is named by its value.
        const problem = v === undefined ? `missing, expected ${issue.expected}`
          : typeof v === 'number' && !Number.isFinite(v) ? `expected a finite number, received ${String(v)}`
            : typeof v === 'number' && issue.expected === 'int' ? `expected an integer, received ${String(v)}`
              : `expected ${issue.expected}, received ${typeName(v)}`;
        lines.push(`${formatPath(path)}: ${problem}`);
        break;
      }
      case 'invalid_value':
        lines.push(`${formatPath(path)}: expected one of ${issue.values.map((x) => JSON.stringify(x)).join(', ')}, received ${receivedValue(input, path)}`);
        break;
      case 'too_small':
      case 'too_big': {
        const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : (issue.inclusive ? '<=' : '<');
        const what = issue.origin === 'array' ? 'length ' : issue.origin === 'string' ? 'length ' : '';
        lines.push(`${formatPath(path)}: expected ${what}${op} ${String(issue.code === 'too_small' ? issue.minimum : issue.maximum)}, received ${receivedValue(input, path)}`);
        break;
      }
      case 'invalid_union': {
        // Our unions are "string or number"; name what was received rather than zod's nested dump.
        const what = issue.message.replace(/^Invalid input:?\s*/i, '') || 'invalid value';
        const v = valueAt(input, path);
        lines.push(v === undefined ? `${formatPath(path)}: missing, ${what}` : `${formatPath(path)}: ${what}, received ${typeName(v)}`);
        break;
      }
      case 'invalid_key':
        // A record key (a symbol under instruments or symbols.cobBucketSize) that is not one: say what a key must be.
        lines.push(`${formatPath(path)}: not a valid key: ${issue.issues.map((i) => i.message.replace(/^Invalid input:?\s*/i, '')).join('; ') || 'invalid key'}`);
        break;
      case 'invalid_format':
        lines.push(`${formatPath(path)}: ${issue.message.replace(/^Invalid input:\s*/i, '')}, received ${receivedValue(input, path)}`);
        break;
      default:
        lines.push(`${formatPath(path)}: ${issue.message.replace(/^Invalid input:\s*/i, '')}`);
    }
  }
  return lines;
}

/** Returns the problems with `raw` (a parsed config document) as `path: problem` lines, or the config. */
export function validateConfig(raw: unknown, overrides: readonly EnvOverride[] = []):
  { ok: true; config: Config } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const secretPaths = findSecretPaths(raw).map((p) => formatPath(p));
  for (const p of findSecretPaths(raw)) {
    problems.push(`${formatPath(p)}: secrets are not read from config files; set ${secretHint(p)} in the environment`);
  }
  let doc: unknown = raw ?? {};
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { ok: false, problems: [...problems, `(root): expected a mapping of config sections, received ${typeName(raw)}`] };
  }
  const sections = configSections();
  const applied: EnvOverride[] = [];
  for (const o of overrides) {
    const path = schemaPath(o.path);
    if (sections.has(path[0]!)) applied.push({ ...o, path });
    else problems.push(`${o.variable}: names no config section and is not a variable the engine reads; ${overrideHint(o.variable, sections)}`);
  }
  for (const o of applied) {
    if (o.path.some(isSecretKey)) {
      problems.push(`${formatPath(o.path)} (from ${o.variable}): secrets are read only from ${Object.values(SECRET_ENV).join(', ')}`);
      continue;
    }
    doc = setPath(doc as Record<string, unknown>, o.path, o.value);
  }
  const res = configSchema.safeParse(doc);
  if (!res.success) {
    for (const line of describeIssues(res.error.issues, doc)) {
      if (secretPaths.some((p) => line.startsWith(`${p}:`))) continue; // already reported as a secret
      problems.push(withSource(line, applied));
    }
  }
  if (problems.length > 0 || !res.success) return { ok: false, problems };
  return { ok: true, config: res.data };
}

// Returns what a COBALT_ variable that names no section should have been: the override form, with the likely
// section when the name starts with one followed by a single underscore (COBALT_RISK_MAX_DRAWDOWN_PCT).
function overrideHint(variable: string, sections: ReadonlySet<string>): string {
  const rest = variable.slice('COBALT_'.length);
  const section = [...sections].find((s) => rest.toLowerCase().startsWith(`${s.toLowerCase()}_`));
  const guess = section ? ` (COBALT_${section.toUpperCase()}__${rest.slice(section.length + 1)}?)` : '';
  return `overrides are COBALT_<SECTION>__<KEY>, levels separated by a double underscore${guess}; sections: ${[...sections].join(', ')}; `
    + `other variables: ${[...Object.values(SECRET_ENV), ...ENGINE_ENV].join(', ')}`;
}

interface SchemaNode { readonly properties?: Readonly<Record<string, SchemaNode>> }
let schemaRoot: SchemaNode | undefined;

// Returns `path` with each level spelled as the schema's key of the same letters regardless of case: environment
// names are upper case, so camel-casing ARCHIVE_MAX_MB gives `archiveMaxMb` for the key `archiveMaxMB`.
function schemaPath(path: readonly string[]): string[] {
  schemaRoot ??= configSchemaJson() as SchemaNode;
  let node: SchemaNode | undefined = schemaRoot;
  return path.map((p) => {
    const props: Readonly<Record<string, SchemaNode>> | undefined = node?.properties;
    const key = props === undefined || Object.hasOwn(props, p) ? p : (Object.keys(props).find((k) => k.toLowerCase() === p.toLowerCase()) ?? p);
    node = props?.[key];
    return key;
  });
}

// Points a problem caused by an environment override at its variable.
function withSource(line: string, overrides: readonly EnvOverride[]): string {
  const o = overrides.find((x) => line.startsWith(`${formatPath(x.path)}:`) || line.startsWith(`${formatPath(x.path)}.`));
  return o ? line.replace(/:/, ` (from ${o.variable}):`) : line;
}

function secretHint(path: readonly (string | number)[]): string {
  const s = path.join('.').toLowerCase();
  if (s.includes('mexc')) return s.includes('secret') ? SECRET_ENV.mexcApiSecret : SECRET_ENV.mexcApiKey;
  if (s.includes('dashboard') || s.includes('token')) return SECRET_ENV.dashboardToken;
  return s.includes('secret') ? SECRET_ENV.binanceApiSecret : SECRET_ENV.binanceApiKey;
}

/** Returns the top-level config sections (the first level an env override may name). */
export function configSections(): ReadonlySet<string> {
  return new Set(Object.keys(configSchema.shape));
}

/** Returns the validated config in `file` with `env` overrides and secrets; throws ConfigError listing every problem. */
export function loadConfig(file: string, env: Readonly<Record<string, string | undefined>> = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const overrides = parseEnvOverrides(env as Env);
  const res = validateConfig(parseYamlConfig(file, text), overrides);
  if (!res.ok) throw new ConfigError(`${file}: invalid config\n${res.problems.map((p) => `  ${p}`).join('\n')}`);
  return { config: res.config, secrets: readSecrets(env as Env), file, overrides: overrides.map((o) => o.variable) };
}

/**
 * Returns the values of a config file's YAML `text`; throws ConfigError naming each problem by line and column. No
 * problem line quotes the file: a key pasted into it (the very mistake validateConfig refuses without showing) may sit
 * in the value at fault, so the library's messages that end with a piece of the source are replaced (yamlProblem).
 */
export function parseYamlConfig(file: string, text: string): unknown {
  // No prettyErrors either: they quote the source lines around the error.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `line ${line}, column ${col}`;
  };
  // An unresolved tag is only a warning to the library, which then drops the value: `apiSecret: !Xk9…` read as ''.
  const faults = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED')];
  const problems = [
    ...faults.map((e) => `${at(e.pos[0])}: ${yamlProblem(e)}`),
    ...badAliases(doc).map(([offset, problem]) => `${at(offset)}: ${problem}`),
  ];
  if (problems.length > 0) throw new ConfigError(`${file}: invalid YAML\n${problems.map((p) => `  ${p}`).join('\n')}`);
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // Past the checks above only resource limits throw here (too many aliases); the message may still name one.
    throw new ConfigError(`${file}: invalid YAML: ${(err as Error).message.split(':')[0]}`, { cause: err });
  }
  // An empty or comments-only file (a truncated copy) validated as every default: paper trading on live market data.
  if (value === null || value === undefined) {
    throw new ConfigError(`${file} holds no settings: the file is empty or only comments; write at least its mode (e.g. mode: paper)`);
  }
  return value;
}

const ALIAS_PROBLEM = "a value starting with * is a YAML alias and no &anchor of its name comes before it: quote the value ('*…')";
const CYCLIC_ALIAS_PROBLEM = 'this YAML alias refers to a node that contains it (an endless value): refer to a node outside it, or write the value out';
const TAG_PROBLEM = "a value starting with ! is a YAML tag (unknown, or not one its value fits): quote the value ('!…')";

// The library's messages that carry a piece of the source (a tag, a directive, a key, an escape), each replaced by
// what was wrong and what to do; the others are fixed text.
const YAML_REWRITES: readonly (readonly [RegExp, string])[] = [
  [/^(Unresolved tag|Could not resolve tag|Not a valid tag|Verbatim tags|The .* tag has no suffix)/s, TAG_PROBLEM],
  [/^Source contains multiple documents/, 'a second YAML document starts here (a --- or ... line): a config file is one document; remove the line and merge what follows into the first'],
  [/^Unsupported YAML version/, 'unsupported %YAML version directive: remove the line'],
  [/^Ordered maps must not include duplicate keys/, 'a key appears twice in an !!omap: keep one'],
  [/^Invalid escape sequence/, 'Invalid escape sequence in a double-quoted value: use single quotes, or \\\\ for a backslash'],
  [/^Block scalar header includes extra characters/, 'Block scalar header includes extra characters: after | or > start the text on the next line'],
];

function yamlProblem(e: YAMLError): string {
  const rewrite = YAML_REWRITES.find(([re]) => re.test(e.message));
  return rewrite ? rewrite[1] : e.message;
}

// Returns the offset and problem of each alias with no anchor before it, or inside the node it refers to. The library
// says nothing of the first until toJS throws, and its message then ends with the alias text (`apiSecret: *Xk9p…` put
// the key on stderr); the second becomes a cyclic value, on which every walk of the config overflowed the stack.
function badAliases(doc: Document): [number, string][] {
  const found: [number, string][] = [];
  visit(doc, {
    Alias(_, node, path) {
      if (!isAlias(node)) return;
      const target = node.resolve(doc);
      if (target === undefined) found.push([node.range?.[0] ?? 0, ALIAS_PROBLEM]);
      else if (path.includes(target)) found.push([node.range?.[0] ?? 0, CYCLIC_ALIAS_PROBLEM]);
    },
  });
  return found;
}

/** Returns why COBALT_LOG_LEVEL (`level`) is not a log level, or undefined when it is one or unset. */
export function logLevelRefusal(level: string | undefined): string | undefined {
  if (level === undefined || logSchema.shape.level.safeParse(level).success) return undefined;
  return `COBALT_LOG_LEVEL '${level}' is not a log level (one of ${logSchema.shape.level.unwrap().options.join(', ')})`;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * The shortest COBALT_DASHBOARD_TOKEN a dashboard bound off loopback accepts: 22 base64url characters carry about 128
 * bits. Off loopback the token guards every route and the network can try as many as it likes (a 2-character one fell
 * in 188 ms); the generated token (dashboard/auth.ts, 32 characters) is longer. Loopback binds take any token.
 */
export const MIN_EXPOSED_DASHBOARD_TOKEN_LENGTH = 22;

/** Returns what stops `config` from running with these secrets: live without keys, an exposed dashboard without a strong token. */
export function preflightProblems(config: Config, secrets: Secrets): string[] {
  const problems: string[] = [];
  if (config.mode === 'live') {
    // The keys of the venue orders go to (execution.venue); market data needs none.
    const [key, secret] = config.execution.venue === 'mexc' ? (['mexcApiKey', 'mexcApiSecret'] as const) : (['binanceApiKey', 'binanceApiSecret'] as const);
    const on = config.execution.venue === 'mexc' ? ' (execution.venue mexc)' : '';
    if (!secrets[key]) problems.push(`mode live${on}: ${SECRET_ENV[key]} is not set`);
    if (!secrets[secret]) problems.push(`mode live${on}: ${SECRET_ENV[secret]} is not set`);
  }
  // Backtests push no alerts (buildSystem makes no notifier there).
  if (config.mode !== 'backtest') problems.push(...webhookPreflightProblems(config.alerts.webhook.enabled, secrets));
  const token = secrets.dashboardToken;
  if (config.dashboard.enabled && !LOOPBACK.has(config.dashboard.host)) {
    const at = `dashboard.host ${config.dashboard.host} is not loopback`;
    if (!token) problems.push(`${at}: set ${SECRET_ENV.dashboardToken}`);
    else if (token.length < MIN_EXPOSED_DASHBOARD_TOKEN_LENGTH) {
      // Its length only: the value is a secret.
      problems.push(`${at}: ${SECRET_ENV.dashboardToken} is ${token.length} characters, needs at least ${MIN_EXPOSED_DASHBOARD_TOKEN_LENGTH} `
        + `(a random one: node -e "console.log(require('crypto').randomBytes(24).toString('base64url'))")`);
    }
  }
  return problems;
}

/** Throws ConfigError when `preflightProblems` finds any. */
export function assertRunnable(loaded: LoadedConfig): void {
  const problems = preflightProblems(loaded.config, loaded.secrets);
  if (problems.length > 0) throw new ConfigError(`${loaded.file}: cannot start\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

/** Returns the JSON Schema of a config file (input side: what may be written, defaults included). */
export function configSchemaJson(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
