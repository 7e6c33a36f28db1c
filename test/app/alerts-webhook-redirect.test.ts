// Review of the alerts webhook, finding F4: a webhook answering with a redirect (an http → https move, a renamed hook)
// was retried as if unreachable, four attempts an alert, and logged ALERT_WEBHOOK_UNREACHABLE. A redirect is not
// followed (the body would go to a URL nobody configured) and is a refusal: not retried, logged once, naming the
// status and the setting to update.
import { describe, expect, it } from 'vitest';
import { postJson, riskAlertEvent } from '../../app/alerts-webhook.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { until } from '../wait-until.ts';
import type { Answer } from './alerts-webhook-rig.ts';
import { webhookRigs } from './webhook-on-receiver.ts';

const T0 = 1_723_161_253_937;
const rig = webhookRigs({ t0: T0, backoffMs: 1_000 });
const moved = (status: number): Answer => ({ status, headers: { location: 'https://127.0.0.1:1/services/NEWSECRETPATH' } });
// Enough for every attempt a retried alert would make (3 alerts, 1 + retries each).
const movedEvery = (status: number): Answer[] => Array.from({ length: 12 }, () => moved(status));

describe('alerts webhook: a redirect', () => {
  it('is an answer with its status, not a network error', async () => {
    const w = await rig({ answers: [moved(308)] });

    expect(await postJson(new URL(w.server.url), { text: 'x' }, 5_000)).toMatchObject({ kind: 'status', status: 308 });
  });

  it('is a refusal: not retried, logged once naming the status and COBALT_ALERTS_WEBHOOK_URL', async () => {
    const w = await rig({ answers: movedEvery(301) });
    for (let i = 0; i < 3; i++) w.hook.push(riskAlertEvent({ type: 'risk.alert', code: 'VAR_WARN_95', message: `warn ${i}`, ts: T0 as TsMs }));
    // A retry would wait on the simulated clock: moved a second each turn, so that a regression shows as extra posts.
    await until(() => {
      w.clock.advance(1_000);
      return w.hook.counters().failed === 3;
    }, 'three alerts given up');
    const refusals = w.log.text().split('\n').filter((l) => l.includes('ALERT_WEBHOOK_REFUSED'));

    expect(w.server.received).toHaveLength(3);
    expect(w.hook.counters()).toMatchObject({ sent: 0, failed: 3, retried: 0 });
    expect(w.log.codes()).not.toContain('ALERT_WEBHOOK_UNREACHABLE');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain('HTTP 301');
    expect(refusals[0]).toContain('COBALT_ALERTS_WEBHOOK_URL');
    expect(w.log.text()).not.toContain('NEWSECRETPATH');
    for (const part of w.server.secretParts) expect(w.log.text()).not.toContain(part);
  });
});
