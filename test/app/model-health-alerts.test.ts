// Model health reaches the operator: signal.modelHealth maps to MODEL_DEGRADED (warning), MODEL_RECOVERED and
// MODEL_OVERCONFIDENT, MODEL_CALIBRATED and MODEL_RESET (info) in the alerts webhook and is posted from the bus.
// Degraded also asks the model's online learner for an early poll (app/online-job.ts), which its gates still decide.
import { describe, expect, it } from 'vitest';
import { modelHealthEvent } from '../../app/alerts-webhook.ts';
import { OnlineJob, pollWhenDegraded } from '../../app/online-job.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { ModelHealthChange, ModelHealthMsg } from '../../engine/messages/orchestrator.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { until } from '../wait-until.ts';
import { webhookRigs } from './webhook-on-receiver.ts';

const T0 = 1_723_161_253_937;
const health = (change: ModelHealthChange, model = 'dqn'): ModelHealthMsg => ({
  type: 'signal.modelHealth', model, version: 'bundled-v000001', change, state: change === 'degraded' ? 'degraded' : 'ok',
  overconfident: change === 'overconfident', accuracy: 0.247, baseline: 0.52, baselineAction: 'HOLD', meanConfidence: 0.61, judged: 200, pValue: 0.0001, ts: T0 as TsMs,
});

const rig = webhookRigs({ t0: T0, backoffMs: 1_000 });

describe('model health in the alerts webhook', () => {
  it.each([
    ['degraded', { code: 'MODEL_DEGRADED', severity: 'warning', message: 'model dqn@bundled-v000001 degraded: accuracy 24.7% against 52.0% for always HOLD (p 0.000) over its last 200 judged predictions' }],
    ['recovered', { code: 'MODEL_RECOVERED', severity: 'info' }],
    ['overconfident', { code: 'MODEL_OVERCONFIDENT', severity: 'info', message: 'model dqn@bundled-v000001 overconfident: mean confidence 61.0% against accuracy 24.7% over its last 200 judged predictions' }],
  ] as const)('maps %s', (change, want) => {
    expect(modelHealthEvent(health(change))).toMatchObject({ type: 'signal.modelHealth', ts: T0, ...want });
  });

  it('sends the all-clear: calibrated, and the reset of a flagged model by a new version', () => {
    const reset = { ...health('reset'), version: 'bundled-v000002', accuracy: 0, baseline: 0, judged: 0 };

    expect(modelHealthEvent(health('calibrated'))).toMatchObject({ code: 'MODEL_CALIBRATED', severity: 'info',
      message: 'model dqn@bundled-v000001 calibrated: mean confidence 61.0% against accuracy 24.7% over its last 200 judged predictions' });
    expect(modelHealthEvent(reset)).toMatchObject({ code: 'MODEL_RESET', severity: 'info',
      message: 'model dqn: window restarted for version bundled-v000002; the previous version was degraded or overconfident' });
    // The flags the old version had, when the message carries them.
    expect(modelHealthEvent({ ...reset, was: { degraded: true, overconfident: false } }).message)
      .toBe('model dqn: window restarted for version bundled-v000002; the previous version was degraded');
    expect(modelHealthEvent({ ...reset, was: { degraded: true, overconfident: true } }).message)
      .toBe('model dqn: window restarted for version bundled-v000002; the previous version was degraded and overconfident');
  });

  it('posts a degraded model published on the bus, and its codes are ones the config can name', async () => {
    const { server: s, bus } = await rig({ webhook: { codes: ['MODEL_DEGRADED', 'MODEL_RECOVERED', 'MODEL_OVERCONFIDENT', 'MODEL_RESET'] } });
    bus.publish(health('degraded'));
    bus.publish(health('calibrated'));
    bus.publish(health('recovered'));
    bus.publish(health('reset'));
    await until(() => s.received.length === 3, 'three alerts');

    // calibrated is not among the codes asked for.
    expect(s.received.map((r) => [r.body.event['code'], r.body.event['severity']])).toEqual([['MODEL_DEGRADED', 'warning'], ['MODEL_RECOVERED', 'info'], ['MODEL_RESET', 'info']]);
    expect(s.received[0]!.body.text).toBe('[cobalt paper paper] WARNING MODEL_DEGRADED: model dqn@bundled-v000001 degraded: accuracy 24.7% against 52.0% for always HOLD (p 0.000) over its last 200 judged predictions');
  });
});

describe('model health and online learning', () => {
  it('moves the learner\'s next poll to the next turn of the engine clock, then keeps its pace; not once stopped', () => {
    const clock = new SimulatedClock(T0);
    const job = new OnlineJob<string>({ clock, symbol: 'ETH/USDT' }, 60_000, 30 * 60_000);
    const polls: number[] = [];
    expect(job.pollSoon()).toBe(false);
    job.start(() => polls.push(clock.now() - T0), { reset: () => undefined, trade: () => undefined });
    clock.advance(10_000);

    const asked = job.pollSoon();
    const beforeTurn = polls.length;
    clock.advance(0);
    clock.advance(60_000);
    job.stop();

    expect([asked, beforeTurn]).toEqual([true, 0]);
    expect(polls).toEqual([10_000, 70_000]);
    expect(job.pollSoon()).toBe(false);
    // The gate stays the learner's: an early poll does not make a run due.
    expect(job.due(clock.now())).toBe(false);
  });

  it('asks the degraded model\'s learner only, and only when it degraded', () => {
    const bus = new Bus<EngineMsg>();
    const asked: string[] = [];
    const learner = (name: string) => ({ pollSoon: (reason: string) => asked.push(`${name}: ${reason}`) > 0 });
    pollWhenDegraded(bus, { cnn: learner('cnn'), dqn: learner('dqn') });

    for (const m of [health('recovered'), health('overconfident'), health('degraded', 'momentum'), health('degraded')]) bus.publish(m);

    expect(asked).toEqual(['dqn: dqn@bundled-v000001 degraded: accuracy 0.247 against 0.520 for always HOLD over 200 judged']);
  });
});
