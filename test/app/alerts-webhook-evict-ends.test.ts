// Re-review of e0bf905: a full queue ranked an entry by its own code only. A summary holding back a "trading active"
// is 'info' and went first, leaving the halt it ended as the operator's last word; FLATTENED (and FLATTEN_ENDED: an
// operator resume ends the standing flatten) did not rank as the FLATTEN_INCOMPLETE it ends.
import { describe, expect, it } from 'vitest';
import { riskAlertEvent, stateEvent, type AlertEvent } from '../../app/alerts-webhook.ts';
import type { RiskAlert, TradingStateChanged } from '../../engine/messages/risk.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { until } from '../wait-until.ts';
import { webhookRigs } from './webhook-on-receiver.ts';

const T0 = 1_723_161_253_937 as TsMs;
const rig = webhookRigs({ t0: T0 });
const state = (s: TradingStateChanged['state'], reason: string, dt: number): AlertEvent =>
  stateEvent({ type: 'risk.stateChanged', state: s, reason, ts: (T0 + dt) as TsMs });
const risk = (code: RiskAlert['code'], message: string, dt: number): AlertEvent =>
  riskAlertEvent({ type: 'risk.alert', code, message, ts: (T0 + dt) as TsMs });

describe('alerts webhook: a full queue keeps the all-clear', () => {
  it('ranks a summary as the most severe alert its codes end: the held "trading active" outlives lesser alerts', async () => {
    const w = await rig({ answers: ['hold'], webhook: { maxPerMinute: 2, queueSize: 3 } });
    w.hook.push(risk('VAR_WARN_95', 'VaR 95 warn', 0));
    await until(() => w.server.received.length === 1, 'the first post in flight');
    w.hook.push(state('halted', 'kill switch on: operator', 1));
    w.hook.push(state('active', 'kill switch off: operator', 2)); // beyond the minute's 2: held for the summary
    w.clock.advance(60_000); // the minute ends: the summary is queued
    for (let i = 0; i < 3; i++) w.hook.push(risk('MARKET_STALE', `ETH/USDT: no mark ${i}`, 60_001 + i));
    w.server.release();
    const got = await w.posted();

    const halt = got.findIndex((p) => p.code === 'TRADING_HALTED');
    const recovery = got.findIndex((p) => p.code === 'COALESCED' && p.text.includes('TRADING_ACTIVE×1'));
    expect(halt).toBeGreaterThanOrEqual(0);
    expect(recovery).toBeGreaterThan(halt);
  });

  it.each(['FLATTENED', 'FLATTEN_ENDED'] as const)('keeps %s over lesser alerts after the FLATTEN_INCOMPLETE it ends', async (code) => {
    const w = await rig({ answers: ['hold'], webhook: { queueSize: 2 } });
    w.hook.push(risk('VAR_WARN_95', 'VaR 95 warn', 0));
    await until(() => w.server.received.length === 1, 'the first post in flight');
    w.hook.push(risk('FLATTEN_INCOMPLETE', 'ETH/USDT flatten exit late', 1));
    w.hook.push(risk(code, 'ETH/USDT flatten over', 2));
    w.hook.push(risk('MARKET_STALE', 'ETH/USDT: no mark', 3));
    w.server.release();
    const got = await w.posted();

    expect(got.map((p) => p.code)).toEqual(['VAR_WARN_95', 'FLATTEN_INCOMPLETE', code]);
  });
});
