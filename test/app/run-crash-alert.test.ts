// A crash of `cobalt run` pushed nothing: the operator of an unattended daemon learnt of it only from outside. The
// daemon's crash handler (app/run.ts watchCrashes) now posts ENGINE_CRASHED, critical, naming the error, ahead of
// whatever the webhook had queued or folded, whatever its filters say, and exits 70 after a bounded wait for it.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { crashEvent, riskAlertEvent } from '../../app/alerts-webhook.ts';
import { watchCrashes } from '../../app/run.ts';
import { redactSecretValues } from '../../engine/log.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { until } from '../wait-until.ts';
import { webhookRigs } from './webhook-on-receiver.ts';

const T0 = 1_723_161_253_937 as TsMs;
const rig = webhookRigs({ t0: T0 });
const failed: EngineMsg = { type: 'sys.actorStatus', actor: 'risk', status: 'failed', ts: T0 };
const takeProfit: EngineMsg = { type: 'risk.alert', code: 'TAKE_PROFIT', message: 'take profit on ETH/USDT', ts: T0 };

describe('cobalt run crashing with an alerts webhook', () => {
  it('posts ENGINE_CRASHED ahead of what was queued and folded, whatever the codes, then the rest, then exits 70', async () => {
    // The first post (the start line) gets no answer until released: one post is in flight when the crash comes.
    const w = await rig({ answers: ['hold'], webhook: { codes: ['ENGINE_STARTED', 'TAKE_PROFIT', 'ACTOR_FAILED'] } });
    const crashes = new EventEmitter();
    const exits: number[] = [];
    const watch = watchCrashes({ source: crashes, alerts: () => w.hook, now: () => T0, exit: (code) => void exits.push(code) });
    try {
      w.hook.started('ETH/USDT', T0);
      await until(() => w.server.received.length === 1, 'the start line in flight');
      w.bus.publish(takeProfit); // queued behind it
      w.bus.publish(failed); // held for its consequences
      crashes.emit('uncaughtException', new TypeError("Cannot read properties of undefined (reading 'bids')"));
      await until(() => w.server.received.length === 2, 'the crash post');
      w.server.release();
      await until(() => exits.length === 1, 'the exit');
    } finally {
      watch.remove();
    }
    const events = w.server.received.map((r) => r.body.event);

    expect(events.map((e) => e['code'])).toEqual(['ENGINE_STARTED', 'ENGINE_CRASHED', 'TAKE_PROFIT', 'ACTOR_FAILED']);
    expect(events[1]).toMatchObject({ type: 'sys.crashed', severity: 'critical', ts: T0 });
    expect(w.server.received[1]!.body.text).toBe(
      "[cobalt paper paper] CRITICAL ENGINE_CRASHED: engine crashed (uncaughtException): TypeError: Cannot read properties of undefined (reading 'bids'); exiting without a graceful stop",
    );
    expect(exits).toEqual([70]);
  });

  it('holds back what is queued until the crash post is answered', async () => {
    const w = await rig({ answers: ['hold'] });
    const posting = w.hook.crashed(crashEvent(new Error('boom'), 'uncaughtException', T0), 5_000);
    await until(() => w.server.received.length === 1, 'the crash post');
    w.hook.push(riskAlertEvent({ type: 'risk.alert', code: 'TAKE_PROFIT', message: 'take profit on ETH/USDT', ts: T0 }));
    // Turns enough for the queue to post, were it not held.
    await new Promise((r) => setTimeout(r, 50));
    const whileHeld = w.server.received.length;
    w.server.release();
    await posting;

    expect(whileHeld).toBe(1);
    expect(w.server.received.map((r) => r.body.event['code'])).toEqual(['ENGINE_CRASHED', 'TAKE_PROFIT']);
  });

  it('exits 70 when the webhook does not answer the crash post in time', async () => {
    const w = await rig({ answers: ['hold'] });
    const crashes = new EventEmitter();
    const exits: number[] = [];
    const watch = watchCrashes({ source: crashes, alerts: () => w.hook, now: () => T0, exit: (code) => void exits.push(code), deadlineMs: 50 });
    try {
      crashes.emit('unhandledRejection', new Error('socket hang up'));
      // The held post may reach the receiver after the 50 ms deadline on a loaded machine (the exit here is a stub).
      await until(() => exits.length === 1 && w.server.received.length === 1, 'the exit at the deadline and the held post', 10_000_000);
    } finally {
      watch.remove();
    }

    expect(w.server.received.map((r) => r.body.event['code'])).toEqual(['ENGINE_CRASHED']);
    expect(w.server.received[0]!.body.text).toContain('engine crashed (unhandledRejection): Error: socket hang up');
    expect(exits).toEqual([70]);
  });

  it('exits 70 without a post before the system (and its webhook) is built', async () => {
    const crashes = new EventEmitter();
    const exits: number[] = [];
    const watch = watchCrashes({ source: crashes, alerts: () => undefined, now: () => T0, exit: (code) => void exits.push(code) });
    try {
      crashes.emit('uncaughtException', new Error('early'));
      await until(() => exits.length === 1, 'the exit');
    } finally {
      watch.remove();
    }

    expect(exits).toEqual([70]);
    expect(crashes.listenerCount('uncaughtException')).toBe(0);
  });

  it('blanks API keys in the crash post: inspected values, header text, registered secret values, signatures', () => {
    const key = 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A';
    redactSecretValues([key]); // as loadSecrets does
    const messages = [
      crashEvent({ url: 'https://api.binance.com/api/v3/order', headers: { 'X-MBX-APIKEY': key }, apiKey: key }, 'unhandledRejection', T0),
      crashEvent(new Error(`request failed; headers X-MBX-APIKEY: ${key}, Authorization: Bearer ${key.slice(0, 40)}`), 'uncaughtException', T0),
      crashEvent({ note: `kept under a name no rule knows: ${key}` }, 'unhandledRejection', T0),
      crashEvent(new Error('binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=abcdef0123 503'), 'uncaughtException', T0),
    ].map((e) => e.message);

    for (const m of messages) expect(m).not.toContain(key.slice(0, 24));
    expect(messages[0]).toContain("headers: { 'X-MBX-APIKEY': [redacted] }, apiKey: [redacted] }");
    expect(messages[1]).toContain('X-MBX-APIKEY: [redacted], Authorization: [redacted]');
    expect(messages[2]).toContain('kept under a name no rule knows: [redacted]');
    expect(messages[3]).toContain('timestamp=1&signature=[redacted] 503');
  });
});
