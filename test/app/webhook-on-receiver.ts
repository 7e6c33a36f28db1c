// An AlertsWebhook posting to a receiver on 127.0.0.1 (alerts-webhook-rig.ts), subscribed to a bus: the setup the
// alerts webhook and model health tests share. Each rig started is stopped and closed after its test.
import { afterEach } from 'vitest';
import { AlertsWebhook } from '../../app/alerts-webhook.ts';
import { configSchema } from '../../engine/config/schema.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { hookServer, memoryLogger, RecordingClock, type Answer, type HookServer } from './alerts-webhook-rig.ts';

/** What a rig is started with; every field has a default. */
export interface RigOptions {
  /** The receiver's answers in order, then 200. */
  readonly answers?: Answer[];
  /** Config alerts.webhook (parsed with the schema's defaults). */
  readonly webhook?: Record<string, unknown>;
  readonly from?: { readonly mode: string; readonly account: string };
  /** The webhook's clock: a RecordingClock at `t0` unless given. */
  readonly clock?: RecordingClock;
  readonly t0?: number;
  readonly backoffMs?: number;
  /** The bus the webhook subscribes to: a new one unless given. */
  readonly bus?: Bus<EngineMsg>;
}

/** What one post carried, as the tests read it. */
export interface Posted { readonly code: unknown; readonly severity: unknown; readonly text: string; readonly symbol: unknown }

/** A started rig. */
export interface WebhookRig {
  readonly server: HookServer;
  readonly clock: RecordingClock;
  readonly log: ReturnType<typeof memoryLogger>;
  readonly hook: AlertsWebhook;
  readonly bus: Bus<EngineMsg>;
  /** Flushes the webhook (posting what it folds) and returns every post so far. */
  posted(deadlineMs?: number): Promise<Posted[]>;
}

/** Returns a function that starts rigs for the tests of the calling file (with its defaults), closing each after its test. */
export function webhookRigs(defaults: RigOptions = {}): (opts?: RigOptions) => Promise<WebhookRig> {
  const open: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of open.splice(0).reverse()) await close();
  });
  return async (opts = {}) => {
    const o = { ...defaults, ...opts };
    const server = await hookServer(o.answers ?? []);
    const clock = o.clock ?? new RecordingClock((o.t0 ?? 1_723_161_253_937) as TsMs);
    const log = memoryLogger();
    const settings = configSchema.parse({ alerts: { webhook: o.webhook ?? {} } }).alerts.webhook;
    const hook = new AlertsWebhook({
      url: new URL(server.url), settings, from: o.from ?? { mode: 'paper', account: 'paper' }, logger: log.logger, clock,
      ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
    });
    open.push(async () => {
      hook.stop();
      await server.close();
    });
    const bus = o.bus ?? new Bus<EngineMsg>();
    hook.subscribe(bus);
    const posted = async (deadlineMs = 5_000): Promise<Posted[]> => {
      await hook.flush(deadlineMs);
      return server.received.map((r) => ({ code: r.body.event['code'], severity: r.body.event['severity'], text: r.body.text, symbol: r.body.event['symbol'] }));
    };
    return { server, clock, log, hook, bus, posted };
  };
}
