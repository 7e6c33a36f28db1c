// Configs for the end-to-end tests: the bundled real recording (Binance spot ETH/BTC, 2024-08-08 23:54 -> 00:05 UTC,
// data/recordings) and klines (data/klines), momentum rule only (no checkpoint directory), thresholds low enough
// that the strategy trades on this stretch (ETH fell: the default 0.6 thresholds only ever say SELL or HOLD).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configSchema, type Config, type ConfigInput } from '../../engine/config/schema.ts';

export const RECORDINGS = [
  'data/recordings/spot_ethusdt_20240808.jsonl.gz',
  'data/recordings/spot_ethusdt_20240809.jsonl.gz',
  'data/recordings/spot_btcusdt_20240808.jsonl.gz',
  'data/recordings/spot_btcusdt_20240809.jsonl.gz',
];

/** Returns a validated backtest config over the bundled recording with `over` merged into sections. */
export function testConfig(over: Partial<Record<keyof ConfigInput, unknown>> = {}): Config {
  const scratch = mkdtempSync(path.join(tmpdir(), 'cobalt-e2e-'));
  const base: Record<string, unknown> = {
    mode: 'backtest', seed: 42,
    data: { replayFiles: RECORDINGS, klinesDirs: ['data/klines'], speed: 0 },
    models: { cnn: { enabled: false }, dqn: { enabled: false }, checkpointDir: path.join(scratch, 'checkpoints') },
    orchestrator: { buyThreshold: 0.2, sellThreshold: 0.5, minConfidence: 0 },
    store: { path: path.join(scratch, 'store'), archiveDir: path.join(scratch, 'archive') },
    dashboard: { enabled: false },
    log: { level: 'silent' },
  };
  for (const [k, v] of Object.entries(over)) {
    base[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(base[k] as object | undefined), ...v } : v;
  }
  return configSchema.parse(base);
}

/**
 * Returns the YAML of a paper run over replayed recordings (RECORDINGS unless `files`), momentum rule only, with its
 * checkpoints, store and archive under `dir`: what `cobalt run --config` reads in the app tests that drive runCommand.
 */
export function replayConfigYaml(dir: string, o: { speed: number; loop?: boolean; files?: readonly string[] }): string {
  return [
    'mode: paper',
    'data:',
    `  replayFiles: [${(o.files ?? RECORDINGS).join(', ')}]`,
    '  klinesDirs: [data/klines]',
    `  speed: ${o.speed}`,
    ...(o.loop ? ['  loop: true'] : []),
    'models:',
    '  cnn: { enabled: false }',
    '  dqn: { enabled: false }',
    `  checkpointDir: ${path.join(dir, 'checkpoints')}`,
    'store:',
    `  path: ${path.join(dir, 'store')}`,
    `  archiveDir: ${path.join(dir, 'archive')}`,
    'dashboard:',
    '  enabled: false',
    '',
  ].join('\n');
}
