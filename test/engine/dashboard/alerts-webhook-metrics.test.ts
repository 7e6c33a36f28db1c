// The alerts webhook's counts on /metrics (engine/dashboard/metrics.ts), read at scrape time.
import { describe, expect, it } from 'vitest';
import { DashboardMetrics, type WebhookCounters } from '../../../engine/dashboard/metrics.ts';
import { DashboardViewModel } from '../../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';

const lines = async (m: DashboardMetrics) => (await m.text()).split('\n').filter((l) => l.startsWith('cobalt_alerts_webhook'));

describe('dashboard metrics: alerts webhook', () => {
  it('shows each outcome and the queue as counted at the scrape', async () => {
    const bus = new Bus<EngineMsg>();
    let counts: WebhookCounters = { sent: 0, failed: 0, dropped: 0, coalesced: 0, retried: 0, queued: 0 };
    const m = new DashboardMetrics({ bus, view: new DashboardViewModel({ bus }), wsClients: () => 0, alertsWebhook: () => counts });
    counts = { sent: 7, failed: 1, dropped: 2, coalesced: 12, retried: 3, queued: 4 };

    expect((await lines(m)).sort()).toEqual([
      'cobalt_alerts_webhook_queued 4',
      'cobalt_alerts_webhook_total{outcome="coalesced"} 12',
      'cobalt_alerts_webhook_total{outcome="dropped"} 2',
      'cobalt_alerts_webhook_total{outcome="failed"} 1',
      'cobalt_alerts_webhook_total{outcome="retried"} 3',
      'cobalt_alerts_webhook_total{outcome="sent"} 7',
    ]);
    m.close();
  });

  it('has no webhook series where no webhook runs', async () => {
    const bus = new Bus<EngineMsg>();
    const m = new DashboardMetrics({ bus, view: new DashboardViewModel({ bus }), wsClients: () => 0 });
    expect(await lines(m)).toEqual([]);
    m.close();
  });
});
