// One actor failure made four critical posts within milliseconds (ACTOR_FAILED, SYSTEM_HALTED, KILL_SWITCH,
// TRADING_HALTED): the webhook now holds a cause for CAUSE_FOLD_MS and posts it once with what followed from it, the
// cause first, critical, every consequence's code and message kept in the event.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CAUSE_FOLD_MS } from '../../app/alerts-webhook.ts';
import { buildSystem } from '../../app/system.ts';
import { createLogger } from '../../engine/log.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { testConfig } from '../e2e/helpers.ts';
import { until } from '../wait-until.ts';
import { hookServer } from './alerts-webhook-rig.ts';
import { webhookRigs } from './webhook-on-receiver.ts';

const T0 = 1_723_161_253_937 as TsMs;
const rig = webhookRigs({ t0: T0 });
const WHY = "actor 'risk' failed 1 times within 60000 ms (restart budget 0); last error: boom";

// What the bus carries when the supervisor gives up on an actor, in the order it comes (engine/runtime/supervisor.ts,
// app/system.ts, the RiskManager).
const failed: EngineMsg = { type: 'sys.actorStatus', actor: 'risk', status: 'failed', ts: T0 };
const halted: EngineMsg = { type: 'sys.halted', reason: WHY, actor: 'risk', ts: T0 };
const killSwitch: EngineMsg = { type: 'risk.alert', code: 'KILL_SWITCH', message: `kill switch on: system halted: ${WHY}`, ts: T0 };
const tradingHalted: EngineMsg = { type: 'risk.stateChanged', state: 'halted', reason: `kill switch: system halted: ${WHY}`, ts: T0 };

describe('alerts webhook: the consequences of one cause', () => {
  it('posts an actor failure, the engine halt, the kill switch and trading halted as one critical post naming the cause first', async () => {
    const w = await rig();
    for (const m of [failed, halted, killSwitch, tradingHalted]) w.bus.publish(m);
    // The last consequence awaited ends the wait: no clock moved.
    await until(() => w.server.received.length === 1, 'the folded post');
    const got = await w.posted();
    const event = w.server.received[0]!.body.event;

    expect(got.map((p) => [p.code, p.severity])).toEqual([['ACTOR_FAILED', 'critical']]);
    expect(got[0]!.text).toBe('[cobalt paper paper] CRITICAL ACTOR_FAILED: actor risk failed and is not restarted → engine halted, kill switch on, trading halted');
    expect(event).toMatchObject({ actor: 'risk', ts: T0 });
    expect(event['consequences']).toEqual([
      { code: 'SYSTEM_HALTED', message: `engine halted: ${WHY}` },
      { code: 'KILL_SWITCH', message: `kill switch on: system halted: ${WHY}` },
      { code: 'TRADING_HALTED', message: `trading halted: kill switch: system halted: ${WHY}` },
    ]);
    expect(w.hook.counters()).toMatchObject({ sent: 1, coalesced: 0, dropped: 0 });
  });

  it('posts the cause with what came when the window ends, and what comes later on its own', async () => {
    const w = await rig();
    w.bus.publish(failed);
    w.bus.publish(halted);
    // Nothing posted until the window ends.
    await new Promise((r) => setTimeout(r, 50));
    expect(w.server.received).toHaveLength(0);
    w.clock.advance(CAUSE_FOLD_MS);
    await until(() => w.server.received.length === 1, 'the cause at the end of the window');
    w.bus.publish(killSwitch);
    w.bus.publish(tradingHalted);
    const got = await w.posted();

    expect(got.map((p) => p.code)).toEqual(['ACTOR_FAILED', 'KILL_SWITCH']);
    expect(got[0]!.text).toMatch(/actor risk failed and is not restarted → engine halted$/);
    expect(got[1]!.text).toMatch(/CRITICAL KILL_SWITCH: kill switch on: system halted: .* → trading halted$/);
  });

  // Review s22: an alert that is no consequence was posted at once while the cause waited, so a "kill switch on" held
  // for a TRADING_HALTED that never came (trading halted already) arrived after the "kill switch off" that followed it.
  it('ends the wait at any other alert, so posts keep the order of events', async () => {
    const w = await rig();
    w.bus.publish(failed);
    w.bus.publish(halted);
    w.bus.publish({ type: 'risk.alert', code: 'TAKE_PROFIT', message: 'take profit on ETH/USDT', ts: T0 });
    w.bus.publish({ type: 'risk.alert', code: 'KILL_SWITCH', message: 'kill switch on: operator', ts: T0 });
    w.bus.publish({ type: 'risk.alert', code: 'KILL_SWITCH', message: 'kill switch off: operator', ts: T0 });
    const got = await w.posted();

    expect(got.map((p) => p.text.replace('[cobalt paper paper] ', ''))).toEqual([
      'CRITICAL ACTOR_FAILED: actor risk failed and is not restarted → engine halted',
      'INFO TAKE_PROFIT: take profit on ETH/USDT',
      'CRITICAL KILL_SWITCH: kill switch on: operator',
      'CRITICAL KILL_SWITCH: kill switch off: operator',
    ]);
  });

  it('posts a consequence with no cause before it at once, and a cause held at shutdown', async () => {
    const w = await rig();
    w.bus.publish(tradingHalted);
    await until(() => w.server.received.length === 1, 'trading halted on its own');
    w.bus.publish(halted);
    const got = await w.posted();

    expect(got.map((p) => p.code)).toEqual(['TRADING_HALTED', 'SYSTEM_HALTED']);
    expect(got[1]!.text).not.toContain('→');
  });

  it('posts the kill switch turned off at once: nothing follows from it to wait for', async () => {
    const w = await rig();
    w.bus.publish({ type: 'risk.alert', code: 'KILL_SWITCH', message: 'kill switch off: operator', ts: T0 });
    // No clock moved: a held alert would never go out here.
    await until(() => w.server.received.length === 1, 'the kill switch off');
    expect((await w.posted()).map((p) => p.text)).toEqual(['[cobalt paper paper] CRITICAL KILL_SWITCH: kill switch off: operator']);
  });

  it('does not wait for a consequence the webhook would not post', async () => {
    const w = await rig({ webhook: { codes: ['ACTOR_FAILED', 'SYSTEM_HALTED'] } });
    w.bus.publish(failed);
    w.bus.publish(halted);
    await until(() => w.server.received.length === 1, 'the cause with the only consequence posted');
    w.bus.publish(killSwitch);
    w.bus.publish(tradingHalted);
    const got = await w.posted();

    expect(got.map((p) => p.text)).toEqual(['[cobalt paper paper] CRITICAL ACTOR_FAILED: actor risk failed and is not restarted → engine halted']);
  });
});

describe('alerts webhook: an actor failing in the built system', () => {
  it('makes one post of the failure and the halt that follows, then the stopping line', async () => {
    const server = await hookServer();
    const config = testConfig({ mode: 'paper', alerts: { webhook: { enabled: true } } });
    const sys = await buildSystem(config, {
      clock: new SimulatedClock(T0), mode: 'paper', noSync: true, maintenanceMs: 0, dataOverride: () => undefined,
      secrets: { alertsWebhookUrl: server.url }, restart: { maxRestarts: 0 }, logger: createLogger({ level: 'silent' }),
    });
    try {
      // The children only: readiness would wait on candle history retried on a clock that does not move here.
      sys.supervisor.start();
      sys.supervisor.reportFailure('dataProvider', new Error('injected: the provider lost its store'));
      await until(() => server.received.length === 1, 'the failure');
      await sys.stop('SIGTERM');
    } finally {
      await server.close();
      rmSync(path.dirname(config.store.path), { recursive: true, force: true });
    }
    const events = server.received.map((r) => r.body.event);

    expect(events.map((e) => [e['code'], e['severity']])).toEqual([['ACTOR_FAILED', 'critical'], ['ENGINE_STOPPING', 'info']]);
    expect((events[0]!['consequences'] as { code: string }[]).map((c) => c.code)).toEqual(['SYSTEM_HALTED', 'KILL_SWITCH', 'TRADING_HALTED']);
    expect(server.received[0]!.body.text).toMatch(/CRITICAL ACTOR_FAILED: actor dataProvider failed and is not restarted → engine halted, kill switch on, trading halted$/);
  }, 60_000);
});
