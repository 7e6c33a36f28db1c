// `cobalt alerts test --config FILE`: posts one test alert to the webhook a daemon with this config and environment
// would push to (COBALT_ALERTS_WEBHOOK_URL, config alerts.webhook), once, without retries, and says what came back.
import type { Command } from 'commander';
import { loadConfig, webhookUrlOf } from '../config/index.ts';
import { ConfigError } from '../types/errors.ts';
import { CONFIG_REFUSED } from './config.ts';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Returns the exit code of `alerts test`: 0 when the webhook answered 2xx, 1 on another status or no answer,
 * CONFIG_REFUSED (2) for a config that does not load or no usable COBALT_ALERTS_WEBHOOK_URL. Lines name the host only.
 */
export async function sendTestAlert(file: string, env: Env, out: (line: string) => void, err: (line: string) => void, nowMs: () => number = Date.now): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig(file, env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err(e.message);
    return CONFIG_REFUSED;
  }
  const url = webhookUrlOf(loaded.secrets.alertsWebhookUrl);
  if (!(url instanceof URL)) {
    err(`cannot send a test alert: ${url}`);
    return CONFIG_REFUSED;
  }
  const { config } = loaded;
  const { alertBody, postJson, testEvent } = await import('../../app/alerts-webhook.ts');
  const account = config.mode === 'live' ? config.execution.venue : 'paper';
  const res = await postJson(url, alertBody(testEvent(nowMs()), { mode: config.mode, account }), config.alerts.webhook.timeoutMs, { nowMs });
  if (res.kind === 'error') {
    err(`test alert not sent to ${url.host}: ${res.error}`);
    return 1;
  }
  if (res.kind === 'status') {
    err(`test alert refused by ${url.host}: HTTP ${res.status}${res.body ? `: ${res.body}` : ''}`);
    return 1;
  }
  out(`test alert sent to ${url.host}: HTTP ${res.status}`);
  if (!config.alerts.webhook.enabled) err('note: alerts.webhook.enabled is false in this config: a daemon will not push alerts');
  return 0;
}

/** Registers `cobalt alerts test`. */
export function register(program: Command): void {
  const alerts = program.command('alerts').description('Alerts pushed out of the process (webhook)');
  alerts
    .command('test')
    .requiredOption('--config <file>', 'config file (required)')
    .description('post one test alert to COBALT_ALERTS_WEBHOOK_URL; exit 0 on a 2xx answer, 1 otherwise (2: config refused)')
    .action(async (o: { config: string }) => {
      process.exitCode = await sendTestAlert(o.config, process.env, (l) => console.log(l), (l) => console.error(l));
    });
}
