// Task H8 finding 1: `cobalt run` on recordings with data.loop false (the default) went on after the last line with
// nothing left to do: it idled forever on a terminal, and elsewhere exited 13 (an unsettled top-level await) with no
// line and no graceful stop. The end of the replay now shuts down through the signal handler, as SIGTERM does: exit 0,
// or 1 when a recording fails part-way.
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../../app/run.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-run-end-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

// The first `n` lines of a bundled recording, as text: a few seconds of real ETH or BTC data.
function head(symbol: 'eth' | 'btc', n: number): string {
  const text = gunzipSync(readFileSync(`data/recordings/spot_${symbol}usdt_20240808.jsonl.gz`)).toString('utf8');
  return `${text.split('\n').slice(0, n).join('\n')}\n`;
}

function configFile(name: string, files: readonly string[]): string {
  const file = path.join(root, `${name}.yaml`);
  writeFileSync(file, [
    'mode: paper',
    'data:',
    `  replayFiles: [${files.join(', ')}]`,
    '  klinesDirs: [data/klines]',
    '  speed: 100',
    'models:',
    '  cnn: { enabled: false }',
    '  dqn: { enabled: false }',
    `  checkpointDir: ${path.join(root, name, 'checkpoints')}`,
    'store:',
    `  path: ${path.join(root, name, 'store')}`,
    `  archiveDir: ${path.join(root, name, 'archive')}`,
    'dashboard:',
    '  enabled: false',
    '',
  ].join('\n'));
  return file;
}

// Runs the daemon with no signal ever sent; resolves with the code its signal handler exits with.
function runUntilExit(config: string): Promise<number> {
  vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
  vi.stubEnv('COBALT_LOG_PRETTY', '0');
  return new Promise<number>((resolve, reject) => {
    runCommand({ config }, { source: new EventEmitter(), exit: resolve })
      .then((code) => reject(new Error(`runCommand returned ${code} before any exit`)), reject);
  });
}

describe('cobalt run at the end of a replay without data.loop', () => {
  it('shuts down gracefully and exits 0', async () => {
    const eth = path.join(root, 'eth.jsonl');
    const btc = path.join(root, 'btc.jsonl');
    writeFileSync(eth, head('eth', 1500));
    writeFileSync(btc, head('btc', 1500));

    const code = await runUntilExit(configFile('ended', [eth, btc]));

    expect(code).toBe(0);
  }, 45_000);

  it('shuts down and exits 1 when a recording fails part-way', async () => {
    const eth = path.join(root, 'eth-cut.jsonl.gz');
    const btc = path.join(root, 'btc-ok.jsonl');
    // A gzip cut short: its head reads (the start-up checks pass), its end does not.
    const gz = gzipSync(head('eth', 20_000));
    writeFileSync(eth, gz.subarray(0, gz.length - 64));
    writeFileSync(btc, head('btc', 1500));

    const code = await runUntilExit(configFile('failed', [eth, btc]));

    expect(code).toBe(1);
  }, 45_000);
});
