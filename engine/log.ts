import pino, { type Logger } from 'pino';

// Anything key-, secret-, token- or signature-like is redacted wherever it sits (four levels deep), so a config or
// request object logged whole cannot leak credentials. Redaction matches key names exactly, so each spelling we use
// or a venue sends is listed: the Secrets fields (engine/config/env.ts), ccxt's option names, and the venues' key
// headers (Binance X-MBX-APIKEY, MEXC X-MEXC-APIKEY; Node gives request headers in lower case). The list is kept
// short on purpose: each path costs about a microsecond on every line logged.
const SENSITIVE_KEYS = [
  'apiKey', 'apiSecret', 'secret', 'token', 'password', 'signature', 'key', 'privateKey', 'authorization', 'Authorization',
  'binanceApiKey', 'binanceApiSecret', 'mexcApiKey', 'mexcApiSecret', 'dashboardToken',
  'APIKEY', 'api_key', 'apiSecretKey', 'secretKey', 'passphrase', 'accessToken',
  'X-MBX-APIKEY', 'X-MEXC-APIKEY',
];
const SENSITIVE_HEADERS = ['authorization', 'x-mbx-apikey', 'x-mexc-apikey'];
// Four levels cover what we log (e.g. err.request.headers[…]); the header paths reach one level further.
const DEPTHS = ['', '*.', '*.*.', '*.*.*.'];
const REDACT_PATHS = [
  ...SENSITIVE_KEYS.flatMap((k) => DEPTHS.map((d) => `${d}${k}`)),
  ...SENSITIVE_HEADERS.flatMap((h) => DEPTHS.map((d) => `${d}headers["${h}"]`)),
];

/** The redaction paths the logger applies; exported for tests. */
export const redactPaths: readonly string[] = REDACT_PATHS;

// Key names miss a secret logged under another name, deeper than the paths reach, or inside a message string. So
// every line is also searched for the secret values themselves just before it is written. Values shorter than this
// are not searched for: replacing a short string would mangle unrelated fields (venue keys are 32-64 characters).
const MIN_SECRET_VALUE_LENGTH = 8;
const secretValues = new Set<string>();

/**
 * Registers credential values (the Secrets read from the environment, a dashboard token) that every logger created
 * here replaces with '[redacted]' wherever they appear in a line. Values under 8 characters are ignored.
 */
export function redactSecretValues(values: Iterable<string | undefined>): void {
  for (const v of values) {
    if (v === undefined || v.length < MIN_SECRET_VALUE_LENGTH) continue;
    secretValues.add(v);
    const escaped = JSON.stringify(v).slice(1, -1); // how the value appears inside a JSON string
    if (escaped !== v) secretValues.add(escaped);
  }
}

/**
 * Returns `line` with every registered secret value (redactSecretValues) of at least `minLength` characters replaced by
 * '[redacted]': what each logger applies to its lines, for text that leaves the process another way (the crash's
 * webhook post, the dashboard's pages and frames, which pass a longer minimum: see there).
 */
export function scrubSecretValues(line: string, minLength = MIN_SECRET_VALUE_LENGTH): string {
  let out = line;
  for (const v of secretValues) if (v.length >= minLength && out.includes(v)) out = out.split(v).join('[redacted]');
  return out;
}

/**
 * Rewrites the message and stack of `err` and of its causes (8 deep, as pino prints them) with `scrub`, in place: an
 * error that leaves the process (a log line, a webhook post) must not carry what the scrubber removes.
 */
export function scrubErrorChain(err: unknown, scrub: (text: string) => string): void {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++, e = e.cause) {
    e.message = scrub(e.message);
    if (e.stack !== undefined) e.stack = scrub(e.stack);
  }
}

/** Returns a pino logger: JSON to stderr (or `destination`), pretty when stdout is a TTY (or COBALT_LOG_PRETTY=1). */
export function createLogger(opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  const level = opts.level ?? process.env.COBALT_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');
  const base = {
    level, name: opts.name ?? 'cobalt', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    hooks: { streamWrite: scrubSecretValues },
  };
  if (opts.destination) return pino(base, opts.destination);
  const pretty = process.env.COBALT_LOG_PRETTY === '1' || (process.stdout.isTTY && process.env.COBALT_LOG_PRETTY !== '0');
  if (pretty) return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, destination: 2 } } });
  // Logs go to stderr so that commands printing JSON results on stdout stay machine-readable.
  return pino(base, logDestination(2));
}

/**
 * Returns pino's asynchronous destination on file descriptor `fd`, each line written as it comes. Its minimum length is
 * 1 byte, not sonic-boom's 0: every line is longer, so nothing waits for more, but `flush(cb)` then calls back once the
 * write in flight and those queued behind it are done; at 0 it calls back at once, and a process.exit right after could
 * lose the last lines or write them out of order.
 */
export function logDestination(fd: number): ReturnType<typeof pino.destination> {
  return pino.destination({ dest: fd, minLength: 1 });
}

/**
 * Resolves once every line `logger` (default: the process-wide one) was given is written out, or after `timeoutMs`
 * (a destination that does not drain, e.g. a pipe nobody reads, must not keep an exiting process).
 */
export function flushLog(logger: Logger = log(), timeoutMs = 1_000): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    // An error given to the callback changes nothing here: it is the fsync after the write, which a pipe or terminal
    // (stderr) refuses by nature, or a destination already closed; what could be written was.
    logger.flush(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

let root: Logger | undefined;
/** Returns the process-wide logger, created on first use. */
export function log(): Logger {
  root ??= createLogger();
  return root;
}
/** Replaces the process-wide logger (tests, CLI flags). */
export function setLogger(l: Logger): void {
  root = l;
}
export type { Logger };
