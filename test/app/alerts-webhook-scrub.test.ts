// Review of the alerts webhook, finding F1: an actor's error quoting a signed URL and a registered secret went out
// verbatim in the SYSTEM_HALTED post and, folded under ACTOR_FAILED, in its consequences; the log lines and the crash
// post blank the same text. Every string a post carries is now scrubbed where the body is built.
import { setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { haltEvent, riskAlertEvent } from '../../app/alerts-webhook.ts';
import { redactSecretValues } from '../../engine/log.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { Supervisor } from '../../engine/runtime/supervisor.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { until } from '../wait-until.ts';
import { memoryLogger } from './alerts-webhook-rig.ts';
import { webhookRigs } from './webhook-on-receiver.ts';

const T0 = 1_723_161_253_937 as TsMs;
const SECRET = 'sk_live_SUPERSECRETVALUE123';
const SIGNATURE = 'deadbeefcafef00d';
redactSecretValues([SECRET]);
const ERROR = `binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=${SIGNATURE} 401 {"msg":"bad key ${SECRET}"}`;
const WHY = `actor 'executor' failed 1 times within 60000 ms (restart budget 0); last error: Error: ${ERROR}`;
const rig = webhookRigs({ t0: T0 });

const leaks = (bodies: unknown[]): string[] => {
  const all = JSON.stringify(bodies);
  return [SECRET, SIGNATURE].filter((s) => all.includes(s));
};

describe('alerts webhook: secrets in what is posted', () => {
  it('blanks them in an engine halt and in every consequence folded under the actor failure', async () => {
    const w = await rig();
    const failed: EngineMsg[] = [
      { type: 'sys.actorStatus', actor: 'executor', status: 'failed', ts: T0 },
      { type: 'sys.halted', reason: WHY, actor: 'executor', ts: T0 },
      { type: 'risk.alert', code: 'KILL_SWITCH', message: `kill switch on: system halted: ${WHY}`, ts: T0 },
      { type: 'risk.stateChanged', state: 'halted', reason: `kill switch on: system halted: ${WHY}`, ts: T0 },
    ];
    for (const m of failed) w.bus.publish(m);
    w.hook.push(haltEvent({ type: 'sys.halted', reason: WHY, actor: 'executor', ts: T0 }));
    await w.posted();
    const bodies = w.server.received.map((r) => r.body);

    expect(bodies.map((b) => b.event['code'])).toEqual(['ACTOR_FAILED', 'SYSTEM_HALTED']);
    expect(leaks(bodies)).toEqual([]);
    expect(bodies[1]!.text).toContain('signature=[redacted]');
    expect(JSON.stringify(bodies[0]!.event['consequences'])).toContain('[redacted]');
  });

  it('blanks a secret before a summary cuts its first message (a cut secret would no longer match)', async () => {
    const w = await rig({ webhook: { maxPerMinute: 1 } });
    w.hook.push(riskAlertEvent({ type: 'risk.alert', code: 'DRAWDOWN', message: 'drawdown', ts: T0 }));
    // The secret straddles the summary's 120-character cut.
    w.hook.push(riskAlertEvent({ type: 'risk.alert', code: 'MARKET_STALE', message: `${'x'.repeat(100)} ${SECRET}`, ts: T0 }));
    await w.posted();
    const summary = w.server.received[1]!.body;

    expect(summary.event['code']).toBe('COALESCED');
    expect(JSON.stringify(summary)).not.toContain(SECRET.slice(0, 12));
  });

  it('keeps them out of the halt the supervisor publishes, and so out of the post', async () => {
    const w = await rig();
    const bus = new Bus<EngineMsg>();
    w.hook.subscribe(bus);
    const reasons: string[] = [];
    bus.subscribe('sys.halted', (m) => void reasons.push(m.reason));
    const child = setup({}).createMachine({ on: { boom: { actions: () => { throw new Error(ERROR); } } } });
    const sup = new Supervisor({ children: [{ id: 'executor', logic: child }], bus, clock: w.clock, defaults: { maxRestarts: 0 }, logger: memoryLogger().logger });
    sup.start();
    sup.system.get('executor')!.send({ type: 'boom' });
    await until(() => reasons.length === 1, 'the halt');
    await w.posted();
    await sup.stop();

    expect(leaks(reasons)).toEqual([]);
    expect(reasons[0]).toContain("actor 'executor' failed 1 times");
    expect(leaks(w.server.received.map((r) => r.body))).toEqual([]);
  });
});
