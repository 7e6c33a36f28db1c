// Which time the alerts webhook runs on. Its waits (retries, maxPerMinute's minute, the folds) run on wall time, a
// replay included (app/system.ts gives it no clock): they pace posts for the receiver and the reader, who both live in
// wall time. What it posts carries engine time: the summary of a minute's extra alerts was dated by the webhook clock
// (the wall time it was posted at, under a replay years after the alerts it stands for), now by the latest of them.
import { describe, expect, it } from 'vitest';
import { riskAlertEvent } from '../../app/alerts-webhook.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { until } from '../wait-until.ts';
import { webhookRigs } from './webhook-on-receiver.ts';

const WALL = Date.parse('2026-03-02T10:00:00Z');
const REPLAY = Date.parse('2024-08-08T23:58:00Z');
const rig = webhookRigs({ t0: WALL });
const stale = (i: number, ts: number) => riskAlertEvent({ type: 'risk.alert', code: 'MARKET_STALE', message: `ETH/USDT: no mark (${i})`, ts: ts as TsMs });

describe('alerts webhook: wall time for pacing, engine time for what is posted', () => {
  it('dates the summary of the alerts beyond maxPerMinute by the latest of them, not by the webhook clock', async () => {
    const w = await rig({ webhook: { maxPerMinute: 1 } });
    for (let i = 0; i < 3; i++) w.hook.push(stale(i, REPLAY + i * 1_000));
    await until(() => w.server.received.length === 1, 'the first alert');
    w.clock.advance(60_000);
    await until(() => w.server.received.length === 2, 'the summary');

    expect(w.server.received[1]!.body.event).toMatchObject({ code: 'COALESCED', ts: REPLAY + 2_000, time: new Date(REPLAY + 2_000).toISOString() });
  });

  it('counts maxPerMinute in webhook minutes, however much engine time the alerts span (a replay at 100×)', async () => {
    const w = await rig({ webhook: { maxPerMinute: 2 } });
    // Ten engine minutes of alerts within one wall minute.
    for (let i = 0; i < 10; i++) w.hook.push(stale(i, REPLAY + i * 60_000));
    const got = await w.posted();

    expect(got.map((p) => p.code)).toEqual(['MARKET_STALE', 'MARKET_STALE', 'COALESCED']);
    expect(w.hook.counters()).toMatchObject({ sent: 3, coalesced: 8 });
  });
});
