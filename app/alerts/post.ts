// One POST of an alert to the webhook: the body (a Slack-compatible `text` line and the event's fields), the request
// with its timeout, what the answer came to (a 2xx, a status with its Retry-After, no answer), and the URL's token kept
// out of every outcome: the URL carries the service's token (Slack, Discord, Telegram), and no outcome, so no log line,
// names more of it than its host.
import { scrubAlertText, type AlertEvent } from './events.ts';

/** Who sent an alert: the config's mode and the account (venue) traded. */
export interface AlertSource { readonly mode: string; readonly account: string }

/**
 * Returns the JSON body posted for `ev`: one Slack-compatible `text` line and the event's fields, every string of both
 * scrubbed and cut to ALERT_TEXT_CHARS (scrubAlertText), whichever field quotes an error. `dropped`: the alerts a full
 * queue dropped since the last post, said at the end of the line and in `event.dropped`.
 */
export function alertBody(ev: AlertEvent, from: AlertSource, dropped = 0): { text: string; event: Record<string, unknown> } {
  const head = ev.code === 'COALESCED' ? `${ev.severity.toUpperCase()} ` : `${ev.severity.toUpperCase()} ${ev.code}${ev.symbol && !ev.message.includes(ev.symbol) ? ` ${ev.symbol}` : ''}: `;
  const note = dropped > 0 ? ` (${dropped} alert${dropped === 1 ? '' : 's'} dropped: the queue was full)` : '';
  // The message is cut (ALERT_TEXT_CHARS) before the line is made, so the line keeps its note; the line is then no
  // longer than its parts, each bounded, and is scrubbed whole (uncut).
  const message = scrubAlertText(ev.message);
  return {
    text: scrubAlertText(`[cobalt ${from.mode} ${from.account}] ${head}${message}${note}`, Number.POSITIVE_INFINITY),
    event: scrubbed({ ...ev, message, time: new Date(ev.ts).toISOString(), mode: from.mode, account: from.account, ...(dropped > 0 ? { dropped } : {}) }),
  };
}

// `v` with every string in it scrubbed: the event's own fields, the consequences' messages, the summary's firsts.
function scrubbed<T>(v: T): T {
  if (typeof v === 'string') return scrubAlertText(v) as T;
  if (Array.isArray(v)) return v.map(scrubbed) as T;
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubbed(x)])) as T;
  return v;
}

/** What one POST came to: a 2xx, another status (with its Retry-After in ms and the start of its body), or no answer. */
export type PostOutcome =
  | { readonly kind: 'ok'; readonly status: number }
  | { readonly kind: 'status'; readonly status: number; readonly retryAfterMs: number | undefined; readonly body: string }
  | { readonly kind: 'error'; readonly error: string };

// The longest Retry-After honoured: a longer one would hold every later alert back for it (the queue then drops them).
const MAX_RETRY_AFTER_MS = 300_000;
const BODY_SHOWN_CHARS = 200;

// RFC 7231 §7.1.3: delay-seconds, or an HTTP-date in its preferred form (IMF-fixdate). Date.parse alone would take
// "2026" for a year and "1.5" or "-1" for dates long past, each then read as "retry at once".
const DELAY_SECONDS = /^\d+$/;
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * Returns a Retry-After header (delay-seconds, or an IMF-fixdate against `nowMs`) in ms, at most 5 minutes; undefined
 * if absent or in any other form (the normal backoff then applies).
 */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  const v = header?.trim() ?? '';
  const ms = DELAY_SECONDS.test(v) ? Number(v) * 1_000 : IMF_FIXDATE.test(v) ? Date.parse(v) - nowMs : Number.NaN;
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS) : undefined;
}

/**
 * POSTs `body` as JSON to `url` within `timeoutMs`; never throws. No outcome names the URL beyond its host: a fetch
 * error that would carry it has it replaced.
 */
export async function postJson(url: URL, body: unknown, timeoutMs: number, opts: { signal?: AbortSignal; nowMs?: () => number } = {}): Promise<PostOutcome> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  try {
    // A redirect is not followed (the alert would go where nobody configured) but answered: a refusal, not an outage.
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal, redirect: 'manual' });
    // An accepted alert is delivered: waiting for the rest of a slow answer would time it out and post it again.
    if (res.ok) {
      void res.body?.cancel().catch(() => undefined);
      return { kind: 'ok', status: res.status };
    }
    let text: string;
    if (isRedirect(res.status)) {
      void res.body?.cancel().catch(() => undefined);
      text = `redirect to ${locationHost(res.headers.get('location'), url)}`;
    } else text = await res.text();
    const nowMs = opts.nowMs?.() ?? Date.now();
    return { kind: 'status', status: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after'), nowMs), body: hostOnly(text.slice(0, BODY_SHOWN_CHARS), url) };
  } catch (err) {
    if (timeout.aborted) return { kind: 'error', error: `no answer within ${timeoutMs} ms` };
    const e = err as Error & { cause?: { code?: unknown; message?: unknown } };
    const cause = e.cause ? ` (${String(e.cause.code ?? e.cause.message)})` : '';
    return { kind: 'error', error: hostOnly(`${e.message}${cause}`, url) };
  }
}

/** Returns true for a redirect's status: the webhook moved, and COBALT_ALERTS_WEBHOOK_URL must follow it. */
export const isRedirect = (status: number): boolean => status >= 300 && status < 400;

// Where a redirect points, by host only: a new webhook URL carries a new token.
function locationHost(location: string | null, url: URL): string {
  try {
    return location ? new URL(location, url).host : 'nowhere named';
  } catch {
    return 'an unreadable Location';
  }
}

// A path segment or query value this long may be (part of) the token: a receiver that echoes the request shows its
// path in its own words (Express: "Cannot POST /bot123:AAH…/sendMessage"), with or without the query.
const TOKEN_LIKE_CHARS = 8;

// `text` with the URL, its path and its query replaced by the host, and any token-like piece of them blanked.
function hostOnly(text: string, url: URL): string {
  let out = text;
  for (const part of [url.href, `${url.host}${url.pathname}${url.search}`, `${url.pathname}${url.search}`, url.pathname, url.search]) {
    if (part.length > 1 && part !== '/') out = out.split(part).join(url.host);
  }
  for (const piece of tokenLikePieces(url)) out = out.split(piece).join('[redacted]');
  return out;
}

// The path's segments and the query's values of TOKEN_LIKE_CHARS or more, as sent and decoded, longest first.
function tokenLikePieces(url: URL): string[] {
  const raw = [...url.pathname.split('/'), ...url.search.slice(1).split('&').flatMap((kv) => kv.split('='))];
  const decoded = raw.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return [...new Set([...raw, ...decoded])].filter((p) => p.length >= TOKEN_LIKE_CHARS).sort((a, b) => b.length - a.length);
}
