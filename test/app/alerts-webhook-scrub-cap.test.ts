// Re-review of e0bf905: scrubbing is quadratic on a long single word (40k characters of 'token' cost 0.4 s a post,
// the event loop blocked), and a message had no length cap. Each string is cut before it is scrubbed; a secret
// straddling the cut must not show in part.
import { describe, expect, it } from 'vitest';
import { ALERT_TEXT_CHARS, scrubAlertText, type AlertEvent } from '../../app/alerts/events.ts';
import { alertBody } from '../../app/alerts/post.ts';
import { redactSecretValues } from '../../engine/log.ts';

const SECRET = 'sk_live_CUTSECRETVALUE9876';
redactSecretValues([SECRET]);
const from = { mode: 'live', account: 'binance' };
const rejected = (message: string): AlertEvent => ({ type: 'exec.orderRejected', code: 'ORDER_REJECTED', severity: 'warning', message, ts: 0 });

describe('alerts webhook: long strings are cut before they are scrubbed', () => {
  it('posts at most ALERT_TEXT_CHARS of a message, and the line still says what was dropped', () => {
    const body = alertBody(rejected(`venue answered: ${'token'.repeat(8_000)}`), from, 2);
    const message = body.event['message'] as string;

    expect(message.length).toBeLessThanOrEqual(ALERT_TEXT_CHARS);
    expect(message.endsWith('…')).toBe(true);
    expect(body.text.length).toBeLessThan(ALERT_TEXT_CHARS + 200);
    expect(body.text.endsWith('(2 alerts dropped: the queue was full)')).toBe(true);
  });

  it('leaves a string within the cap whole', () => {
    const text = `order rejected: ${'x'.repeat(ALERT_TEXT_CHARS - 100)} signature=abcdef0123`;
    expect(scrubAlertText(text)).toBe(text.replace('abcdef0123', '[redacted]'));
  });

  // The secret is moved across the cut, and across the end of the window scrubbed after a pair whose long value
  // blanking shortens (more of the text than the cut reaches the line): no position shows any of it.
  it.each([
    ['a registered secret value', `key ${SECRET} `, SECRET],
    ['a credential pair', `apiKey=${SECRET} `, SECRET],
    ['a quoted credential with spaces', `password: '${SECRET} and more of it' `, SECRET],
    ['a signed query parameter', `GET /api/v3/order?timestamp=1&signature=${SECRET} `, SECRET],
  ])('never shows part of %s straddling the cut', (_what, secretText, secret) => {
    const maxChars = 100;
    for (const before of ['', `token=${'v'.repeat(1_100)} `]) {
      for (let at = 0; at < 300; at++) {
        const text = `${before}${'w '.repeat(at).slice(0, at)}${secretText}${'tail '.repeat(50)}`;
        const out = scrubAlertText(text, maxChars);
        expect(out.length).toBeLessThanOrEqual(maxChars);
        expect(out.includes(secret.slice(0, 6)), `secret at ${before.length + at}: ${out}`).toBe(false);
      }
    }
  });
});
