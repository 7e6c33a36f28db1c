// Config alerts.webhook and COBALT_ALERTS_WEBHOOK_URL: the URL only from the environment, refused when unusable, and
// the webhook wired into paper and live systems (not backtests), flushed at shutdown.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { webhookTargetOf } from '../../app/alerts-webhook.ts';
import { buildSystem, refuseOnConfigError, type System } from '../../app/system.ts';
import { readSecrets } from '../../engine/config/env.ts';
import { loadConfig, preflightProblems, validateConfig } from '../../engine/config/load.ts';
import { configSchema } from '../../engine/config/schema.ts';
import { createLogger } from '../../engine/log.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import { testConfig } from '../e2e/helpers.ts';
import { until } from '../wait-until.ts';
import { hookServer } from './alerts-webhook-rig.ts';

const HOOK = 'https://hooks.example.test/services/T0SECRETX/B0SECRETX/xoxbTOKENabcdef123456';
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const enabled = configSchema.parse({ alerts: { webhook: { enabled: true } } });

describe('config alerts.webhook', () => {
  it('is off by default', () => {
    expect(configSchema.parse({}).alerts.webhook).toEqual({ enabled: false, minSeverity: 'info', timeoutMs: 5_000, retries: 3, maxPerMinute: 20, queueSize: 100 });
  });

  it.each([
    ['in the config file', { alerts: { webhook: { url: HOOK } } }, {}],
    ['from an override', {}, { COBALT_ALERTS__WEBHOOK__URL: HOOK }],
  ])('refuses a URL set %s without echoing it', (_name, file, env) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-alerts-'));
    dirs.push(dir);
    const f = path.join(dir, 'c.yaml');
    writeFileSync(f, JSON.stringify(file));
    let message = '';
    try {
      loadConfig(f, env);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/alerts\.webhook\.url.*COBALT_ALERTS_WEBHOOK_URL/);
    expect(message).not.toContain('SECRET');
  });

  it('refuses an unknown code in the allow-list', () => {
    const res = validateConfig({ alerts: { webhook: { codes: ['DRAWDOWN', 'DRAWDOWM'] } } });
    expect(res.ok ? [] : res.problems.join('\n')).toContain('alerts.webhook.codes[1]');
  });

  it('reads COBALT_ALERTS_WEBHOOK_URL as a secret, not as an override, and never serialises it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-alerts-'));
    dirs.push(dir);
    const f = path.join(dir, 'c.yaml');
    writeFileSync(f, 'alerts: { webhook: { enabled: true } }\n');
    const loaded = loadConfig(f, { COBALT_ALERTS_WEBHOOK_URL: HOOK });

    expect(loaded.overrides).toEqual([]);
    expect(loaded.secrets.alertsWebhookUrl).toBe(HOOK);
    expect(JSON.stringify(loaded.secrets)).not.toContain('SECRET');
  });

  // Review of 5b8d4e4, finding 3: the path with the query and the query alone were blanked, not the bare path.
  it('registers the bare path of the webhook URL with the log scrubber', () => {
    const lines: string[] = [];
    readSecrets({ COBALT_ALERTS_WEBHOOK_URL: 'https://api.example.test/bot123456:AAH-scrubTOKENxyz/sendMessage?chat_id=42' });
    const logger = createLogger({ level: 'info', destination: { write: (l: string) => void lines.push(l) } });
    logger.warn({ body: 'Cannot POST /bot123456:AAH-scrubTOKENxyz/sendMessage' }, 'refused');

    expect(lines.join('')).toContain('Cannot POST');
    expect(lines.join('')).not.toContain('scrubTOKEN');
  });

  it.each([
    ['unset', undefined, 'COBALT_ALERTS_WEBHOOK_URL is not set'],
    ['not a URL', 'hooks.example.test/T0SECRETX', 'COBALT_ALERTS_WEBHOOK_URL is not a URL'],
    ['not http(s)', 'ftp://hooks.example.test/T0SECRETX', 'must be an http:// or https:// URL, received a ftp: URL'],
    ['with user:password@', 'https://me:T0SECRETX@hooks.example.test/x', 'must not hold user:password@'],
  ])('refuses an enabled webhook with the URL %s, without quoting it', (_name, url, why) => {
    let err: unknown;
    try {
      webhookTargetOf(enabled, false, readSecrets(url === undefined ? {} : { COBALT_ALERTS_WEBHOOK_URL: url }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(why);
    expect((err as Error).message).not.toContain('SECRET');
  });

  it('pushes nothing, and needs no URL, when disabled or in a backtest', () => {
    expect(webhookTargetOf(configSchema.parse({}), false, {})).toBeUndefined();
    expect(webhookTargetOf(enabled, true, {})).toBeUndefined();
    expect(webhookTargetOf(enabled, false, { alertsWebhookUrl: HOOK })?.host).toBe('hooks.example.test');
  });
});

describe('the alerts webhook in the built system', () => {
  const clock = () => new SimulatedClock(1_723_161_253_937 as TsMs);

  it('is a preflight problem (config check, the start refusal) for paper and live without a URL, not for a backtest', () => {
    const paper = configSchema.parse({ mode: 'paper', alerts: { webhook: { enabled: true } } });
    expect(preflightProblems(paper, readSecrets({}))).toEqual([expect.stringContaining('alerts.webhook.enabled is true but')]);
    expect(preflightProblems(paper, readSecrets({ COBALT_ALERTS_WEBHOOK_URL: 'http://127.0.0.1:9/hook' }))).toEqual([]);
    expect(preflightProblems({ ...paper, mode: 'backtest' }, readSecrets({}))).toEqual([]);
  });

  it('refuses to build a paper system with the webhook enabled and no URL, before the store opens', async () => {
    const config = testConfig({ mode: 'paper', alerts: { webhook: { enabled: true } } });
    dirs.push(path.dirname(config.store.path));
    const res = await refuseOnConfigError(() => buildSystem(config, { clock: clock(), mode: 'paper', noSync: true, maintenanceMs: 0, dataOverride: () => undefined, secrets: {} }));

    expect(res).toBeInstanceOf(ConfigError);
    expect((res as ConfigError).message).toContain('COBALT_ALERTS_WEBHOOK_URL is not set');
    expect(existsSync(config.store.path)).toBe(false);
  });

  it('posts a paper system\'s alerts and its "stopping" line before the shutdown ends; a backtest has none', async () => {
    const server = await hookServer();
    const config = testConfig({ mode: 'paper', alerts: { webhook: { enabled: true } } });
    dirs.push(path.dirname(config.store.path));
    let sys: System | undefined;
    try {
      sys = await buildSystem(config, { clock: clock(), mode: 'paper', noSync: true, maintenanceMs: 0, dataOverride: () => undefined, secrets: { alertsWebhookUrl: server.url } });
      sys.bus.publish({ type: 'risk.alert', code: 'VAR_WARN_99', message: 'VaR 99 % 400 USDT above 300 USDT', ts: sys.clock.now() });
      await until(() => server.received.length === 1, 'the alert');
      await sys.stop('SIGTERM');
    } finally {
      await server.close();
    }
    const backtest = testConfig({ alerts: { webhook: { enabled: true } } });
    dirs.push(path.dirname(backtest.store.path));
    const bt = await buildSystem(backtest, { clock: clock(), mode: 'backtest', noSync: true, maintenanceMs: 0, dataOverride: () => undefined, secrets: {} });
    await bt.stop('test');

    expect(server.received.map((r) => [r.body.event.code, r.body.event.mode, r.body.event.account])).toEqual([
      ['VAR_WARN_99', 'paper', 'paper'], ['ENGINE_STOPPING', 'paper', 'paper'],
    ]);
    expect(sys.alerts?.counters()).toMatchObject({ sent: 2, queued: 0 });
    expect(bt.alerts).toBeUndefined();
  });
});
