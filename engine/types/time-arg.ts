// A time given on the command line (--from, --to): epoch milliseconds, or an ISO date (UTC) or date-time with a zone.
// A date-time without a zone is refused: it would mean another instant on a machine in another time zone.
import { ConfigError } from './errors.ts';
import type { TsMs } from './time.ts';

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

// Date.parse rolls an impossible day over (2024-02-30 is 2024-03-01): the fields are checked against the calendar.
function calendarValid(m: RegExpExecArray): boolean {
  const [y, mo, d, h, mi, sec] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  const daysInMonth = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
  return mo! >= 1 && mo! <= 12 && d! >= 1 && d! <= daysInMonth && h! <= 23 && mi! <= 59 && sec! <= 59;
}

const EPOCH_MIN_MS = Date.UTC(2000, 0, 1);
const EPOCH_MAX_MS = Date.UTC(2100, 0, 1);

/** Returns the engine time (ms) of `s`, given as `flag`; throws ConfigError naming the flag when it is not a time. */
export function parseTimeArg(flag: string, s: string): TsMs {
  const v = s.trim();
  if (/^-?\d+$/.test(v)) {
    const ms = Number(v);
    // Epoch seconds (10 digits) read as ms fall in 1970, microseconds far past 2100: both would run the wrong span.
    if (Number.isSafeInteger(ms) && ms >= EPOCH_MIN_MS && ms < EPOCH_MAX_MS) return ms as TsMs;
    if (Number.isSafeInteger(ms)) {
      throw new ConfigError(`${flag} '${s}' as epoch milliseconds is ${Number.isFinite(new Date(ms).getTime()) ? new Date(ms).toISOString() : 'no date'}, outside 2000-2100: epoch seconds need three more digits (×1000), microseconds three fewer`);
    }
  } else {
    const m = ISO.exec(v);
    if (m && !calendarValid(m)) throw new ConfigError(`${flag} '${s}' is not a date and time on the calendar (month 1-12, a day of that month, hour 0-23, minute and second 0-59)`);
    const ms = m ? Date.parse(v) : Number.NaN;
    if (Number.isFinite(ms)) return ms as TsMs;
  }
  throw new ConfigError(`${flag} '${s}' is neither epoch milliseconds nor an ISO time with a zone (2024-08-09, 2024-08-09T00:05:00Z, 2024-08-09T02:05:00+02:00)`);
}

/** Returns the [from, to) span of optional --from/--to texts; throws ConfigError when from is not before to. */
export function parseSpanArgs(from: string | undefined, to: string | undefined): { fromMs?: TsMs; toMs?: TsMs } {
  const fromMs = from === undefined ? undefined : parseTimeArg('--from', from);
  const toMs = to === undefined ? undefined : parseTimeArg('--to', to);
  if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs) throw new ConfigError(`--from ${from} is not before --to ${to}`);
  return { ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { toMs } : {}) };
}

/** Returns the span [fromMs, toMs) as ISO times, an open end (±Infinity or undefined) named "the start" / "the end". */
export function isoSpan(fromMs: number | undefined, toMs: number | undefined): string {
  const at = (ms: number | undefined, open: string): string => (ms === undefined || !Number.isFinite(ms) ? open : new Date(ms).toISOString());
  return `${at(fromMs, 'the start')} → ${at(toMs, 'the end')}`;
}
