import pino, { type Logger } from 'pino';

// Anything key-, secret-, token- or signature-like is redacted wherever it sits (two levels deep),
// so a config or request object logged whole cannot leak credentials.
const SENSITIVE = ['apiKey', 'apiSecret', 'secret', 'token', 'password', 'signature', 'key', 'privateKey', 'authorization', 'Authorization', 'X-MBX-APIKEY'];
// Four levels cover what we log (e.g. err.request.headers[…]); fast-redact compiles the paths once at start-up.
const DEPTHS = ['', '*.', '*.*.', '*.*.*.'];
const REDACT_PATHS = SENSITIVE.flatMap((k) => DEPTHS.flatMap((d) => [`${d}${k}`, `${d}headers["${k.toLowerCase()}"]`]));

/** The redaction paths the logger applies; exported for tests. */
export const redactPaths: readonly string[] = REDACT_PATHS;

/** Returns a pino logger: JSON to stderr (or `destination`), pretty when stdout is a TTY (or COBALT_LOG_PRETTY=1). */
export function createLogger(opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  const level = opts.level ?? process.env.COBALT_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');
  const base = { level, name: opts.name ?? 'cobalt', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } };
  if (opts.destination) return pino(base, opts.destination);
  const pretty = process.env.COBALT_LOG_PRETTY === '1' || (process.stdout.isTTY && process.env.COBALT_LOG_PRETTY !== '0');
  if (pretty) return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, destination: 2 } } });
  // Logs go to stderr so that commands printing JSON results on stdout stay machine-readable.
  return pino(base, pino.destination(2));
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
