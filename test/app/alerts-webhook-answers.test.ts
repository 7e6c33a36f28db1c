// How the alerts webhook reads a receiver's answer (review of 5b8d4e4, findings 5 and 6): a 2xx whose body is slow to
// come is delivered (it was timed out, posted again and logged as not sent); a Retry-After in no RFC 7231 form is
// absent (it was read as "retry at once").
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertsWebhook, postJson, retryAfterMs, riskAlertEvent } from '../../app/alerts-webhook.ts';
import { configSchema } from '../../engine/config/schema.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { until } from '../wait-until.ts';
import { memoryLogger } from './alerts-webhook-rig.ts';

const NOW = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

// A receiver that accepts each POST with a 200 and one byte of body, and never finishes the body. The timeouts are
// generous: the outcome is decided once the headers come, and a loaded machine may take a while to connect.
async function trickling(): Promise<{ url: URL; posts: () => number }> {
  let posts = 0;
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      res.writeHead(200, { 'content-type': 'text/plain' }).write('o');
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T/B/tokTOKENtok`), posts: () => posts };
}

describe('alerts webhook: a 2xx whose body is slow', () => {
  it('is a delivery, whatever the rest of the body does', async () => {
    const r = await trickling();

    expect(await postJson(r.url, { text: 'x' }, 5_000)).toEqual({ kind: 'ok', status: 200 });
  });

  it('is posted once and counted sent', async () => {
    const r = await trickling();
    const settings = configSchema.parse({ alerts: { webhook: { enabled: true, timeoutMs: 5_000, retries: 0 } } }).alerts.webhook;
    const hook = new AlertsWebhook({ url: r.url, settings, from: { mode: 'paper', account: 'paper' }, logger: memoryLogger().logger });
    hook.push(riskAlertEvent({ type: 'risk.alert', code: 'DRAWDOWN', message: 'drawdown halt', ts: 0 as TsMs }));
    await until(() => hook.counters().sent + hook.counters().failed === 1, 'the outcome');
    hook.stop();

    expect(hook.counters()).toMatchObject({ sent: 1, failed: 0, retried: 0 });
    expect(r.posts()).toBe(1);
  });
});

describe('retryAfterMs', () => {
  it.each([
    ['delay-seconds', '7', 7_000],
    ['delay-seconds beyond the cap', '2026', 300_000],
    ['an IMF-fixdate 30 s ahead', 'Wed, 21 Oct 2026 07:28:30 GMT', 30_000],
    ['an IMF-fixdate past', 'Wed, 21 Oct 2026 07:27:00 GMT', 0],
  ])('reads %s', (_name, header, ms) => {
    expect(retryAfterMs(header, NOW)).toBe(ms);
  });

  it.each([
    ['absent', null], ['empty', ' '], ['a fraction', '1.5'], ['negative', '-1'], ['a list', '5, 10'],
    ['an ISO date', '2026-10-21T07:28:30Z'], ['a date in another form', 'Wednesday, 21-Oct-26 07:28:30 GMT'],
  ])('counts %s as absent', (_name, header) => {
    expect(retryAfterMs(header, NOW)).toBeUndefined();
  });
});
