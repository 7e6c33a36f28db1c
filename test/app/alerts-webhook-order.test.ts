// Review of the alerts webhook, findings F2 and F3, and the drops a stop did not count: a recovery beyond maxPerMinute
// waited for the minute's summary, posted after a later halt that the critical alert's bypass sent at once ("trading
// active" as the last word while halted); a full queue dropped the recovery and kept the halt before it.
import { describe, expect, it } from 'vitest';
import { riskAlertEvent, stateEvent, type AlertEvent } from '../../app/alerts-webhook.ts';
import type { TradingStateChanged } from '../../engine/messages/risk.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { until } from '../wait-until.ts';
import { webhookRigs } from './webhook-on-receiver.ts';

const T0 = 1_723_161_253_937 as TsMs;
const rig = webhookRigs({ t0: T0 });
const state = (s: TradingStateChanged['state'], reason: string, dt: number): AlertEvent =>
  stateEvent({ type: 'risk.stateChanged', state: s, reason, ts: (T0 + dt) as TsMs });
const stale = (dt = 0): AlertEvent => riskAlertEvent({ type: 'risk.alert', code: 'MARKET_STALE', message: 'ETH/USDT: no mark for 60000 ms', ts: (T0 + dt) as TsMs });

describe('alerts webhook: posts keep the order of events', () => {
  it('posts the summary of what was held back before a critical alert that comes after it', async () => {
    const w = await rig({ webhook: { maxPerMinute: 2 } });
    w.hook.push(stale());
    w.hook.push(state('halted', 'kill switch on: operator', 1));
    w.hook.push(state('active', 'kill switch off: operator', 2)); // beyond the minute's 2: held for the summary
    w.hook.push(state('halted', 'kill switch on: drawdown', 3)); // critical: posted at once
    w.clock.advance(60_000);
    const got = await w.posted();

    expect(got.map((p) => p.code)).toEqual(['MARKET_STALE', 'TRADING_HALTED', 'COALESCED', 'TRADING_HALTED']);
    expect(got[2]!.text).toContain('TRADING_ACTIVE×1');
    expect(got.at(-1)!.text).toContain('kill switch on: drawdown');
  });

  it('never posts a venue up after the circuit that opened again', async () => {
    const w = await rig({ webhook: { maxPerMinute: 1 } });
    const venue = (status: 'up' | 'circuitOpen', dt: number) =>
      w.bus.publish({ type: 'exec.venueStatus', venue: 'binance', status, reason: status, ts: (T0 + dt) as TsMs });
    venue('up', 0);
    venue('circuitOpen', 1);
    venue('up', 2);
    venue('circuitOpen', 3);
    w.clock.advance(60_000);
    const got = await w.posted();

    expect(got.map((p) => p.code)).toEqual(['VENUE_CIRCUIT_OPEN', 'COALESCED', 'VENUE_CIRCUIT_OPEN']);
  });
});

describe('alerts webhook: a full queue', () => {
  it('keeps a recovery over lesser alerts, and the next post says how many were dropped', async () => {
    const w = await rig({ answers: ['hold'], webhook: { queueSize: 2 } });
    w.hook.push(riskAlertEvent({ type: 'risk.alert', code: 'VAR_WARN_95', message: 'VaR 95 warn', ts: T0 }));
    await until(() => w.server.received.length === 1, 'the first post in flight');
    w.hook.push(state('halted', 'kill switch on: operator', 1));
    w.hook.push(state('active', 'kill switch off: operator', 2));
    w.hook.push(stale(3));
    const whileHeld = w.hook.counters();
    w.server.release();
    await until(() => w.hook.counters().sent === 3, 'the rest');
    const texts = w.server.received.map((r) => r.body.text);

    expect(whileHeld).toMatchObject({ dropped: 1, queued: 2 });
    expect(w.server.received.map((r) => r.body.event['code'])).toEqual(['VAR_WARN_95', 'TRADING_HALTED', 'TRADING_ACTIVE']);
    expect(texts[1]).toContain('(1 alert dropped: the queue was full)');
    expect(texts[2]).not.toContain('dropped');
  });

  it('counts as dropped what a stop clears after the shutdown flush', async () => {
    const w = await rig();
    await w.hook.flush(1_000);
    w.hook.push(stale());
    w.hook.push(stale(1));
    w.hook.stop();

    expect(w.hook.counters()).toMatchObject({ sent: 0, dropped: 2, queued: 0 });
  });
});
